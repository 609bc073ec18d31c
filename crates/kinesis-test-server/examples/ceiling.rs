//! Throughput ceiling of the test server, driven by `aws-sdk-kinesis` clients.
//!
//! Starts a blackhole server in-process (or uses `--endpoint URL` of a running one) and
//! sends PutRecords of 500 x 200-byte records from several concurrent clients for a fixed
//! time, three runs, printing requests/s and records/s of each run and the median.
//! `--raw` sends a pre-serialized request over plain HTTP/1.1 instead of the SDK, which
//! measures the server alone.
//!
//! ```text
//! cargo run --release -p kinesis-test-server --example ceiling -- [--endpoint URL]
//!     [--stream NAME] [--shards N] [--clients N] [--inflight N] [--seconds S] [--runs N] [--raw]
//! ```

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use base64_simd::STANDARD;
use kinesis_test_server::{ServerConfig, TestServer};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RECORDS_PER_REQUEST: usize = 500;
const RECORD_BYTES: usize = 200;

struct Options {
    endpoint: Option<String>,
    stream: String,
    shards: u32,
    clients: usize,
    inflight: usize,
    seconds: u64,
    runs: usize,
    raw: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        endpoint: None,
        stream: "ceiling".into(),
        shards: 8,
        clients: 4,
        inflight: 2,
        seconds: 5,
        runs: 3,
        raw: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let bad = |_| format!("bad value for {flag}");
        match flag.as_str() {
            "--endpoint" => options.endpoint = Some(value()?),
            "--stream" => options.stream = value()?,
            "--shards" => options.shards = value()?.parse().map_err(bad)?,
            "--clients" => options.clients = value()?.parse().map_err(bad)?,
            "--inflight" => options.inflight = value()?.parse().map_err(bad)?,
            "--seconds" => options.seconds = value()?.parse().map_err(bad)?,
            "--runs" => options.runs = value()?.parse().map_err(bad)?,
            "--raw" => options.raw = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

fn sdk_client(endpoint: &str) -> Client {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http_client =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).build_https();
    let config = aws_sdk_kinesis::Config::builder()
        .http_client(http_client)
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDBENCH", "secret", None, None, "bench"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// 500 records of 200 bytes with distinct partition keys.
fn batch() -> Vec<(String, Vec<u8>)> {
    (0..RECORDS_PER_REQUEST)
        .map(|i| {
            let key = format!("partition-key-{i:05}-{:08x}", i.wrapping_mul(2_654_435_761));
            (key, vec![(i % 251) as u8; RECORD_BYTES])
        })
        .collect()
}

/// Counts of one run.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    records: AtomicU64,
    failed: AtomicU64,
    errors: AtomicU64,
}

async fn sdk_worker(client: Client, stream: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let entries: Vec<PutRecordsRequestEntry> = batch()
        .into_iter()
        .filter_map(|(key, data)| {
            PutRecordsRequestEntry::builder().partition_key(key).data(Blob::new(data)).build().ok()
        })
        .collect();
    while !stop.load(Ordering::Relaxed) {
        match client.put_records().stream_name(&stream).set_records(Some(entries.clone())).send().await {
            Ok(answer) => {
                let failed = answer.failed_record_count().unwrap_or(0).max(0) as u64;
                tally.requests.fetch_add(1, Ordering::Relaxed);
                tally.records.fetch_add(answer.records().len() as u64 - failed, Ordering::Relaxed);
                tally.failed.fetch_add(failed, Ordering::Relaxed);
            }
            Err(error) => {
                if tally.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("first request error: {error:?}");
                }
            }
        }
    }
}

/// The PutRecords request as the SDK would send it, serialized once.
fn raw_request(address: &str, stream: &str) -> Vec<u8> {
    let records: Vec<serde_json::Value> = batch()
        .into_iter()
        .map(|(key, data)| serde_json::json!({"Data": STANDARD.encode_to_string(data), "PartitionKey": key}))
        .collect();
    let body = serde_json::json!({"StreamName": stream, "Records": records}).to_string();
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

/// Sends the same request over one keep-alive connection until stopped.
async fn raw_worker(address: String, request: Arc<Vec<u8>>, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
        tally.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let _ = stream.set_nodelay(true);
    let mut buffer = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(&request).await.is_err() {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Read headers, then exactly Content-Length bytes of body.
        let mut filled = 0;
        let (header_end, length) = loop {
            match stream.read(&mut buffer[filled..]).await {
                Ok(0) | Err(_) => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(n) => filled += n,
            }
            let text = &buffer[..filled];
            if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                let headers = String::from_utf8_lossy(&text[..end]).to_ascii_lowercase();
                let length = headers
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, length);
            }
        };
        while filled < header_end + length {
            match stream.read(&mut buffer[filled..]).await {
                Ok(0) | Err(_) => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(n) => filled += n,
            }
        }
        let body = &buffer[header_end..header_end + length];
        let failed = if body.windows(20).any(|w| w == b"\"FailedRecordCount\":") {
            let text = String::from_utf8_lossy(body);
            text.rsplit("\"FailedRecordCount\":")
                .next()
                .and_then(|t| t.trim_end_matches('}').parse::<u64>().ok())
                .unwrap_or(0)
        } else {
            RECORDS_PER_REQUEST as u64
        };
        tally.requests.fetch_add(1, Ordering::Relaxed);
        tally.records.fetch_add(RECORDS_PER_REQUEST as u64 - failed, Ordering::Relaxed);
        tally.failed.fetch_add(failed, Ordering::Relaxed);
    }
}

async fn run_once(options: &Options, endpoint: &str) -> (f64, f64, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut tasks = Vec::new();
    let address = endpoint.trim_start_matches("http://").to_string();
    let request = Arc::new(raw_request(&address, &options.stream));
    for _ in 0..options.clients {
        let client = sdk_client(endpoint);
        for _ in 0..options.inflight {
            let (stop, tally) = (stop.clone(), tally.clone());
            tasks.push(if options.raw {
                tokio::spawn(raw_worker(address.clone(), request.clone(), stop, tally))
            } else {
                tokio::spawn(sdk_worker(client.clone(), options.stream.clone(), stop, tally))
            });
        }
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(options.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for task in tasks {
        let _ = task.await;
    }
    (
        tally.requests.load(Ordering::Relaxed) as f64 / elapsed,
        tally.records.load(Ordering::Relaxed) as f64 / elapsed,
        tally.failed.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let server = match &options.endpoint {
        Some(_) => None,
        None => Some(
            TestServer::start(ServerConfig {
                blackhole: true,
                streams: vec![(options.stream.clone(), options.shards)],
                ..ServerConfig::default()
            })
            .await
            .unwrap_or_else(|e| {
                eprintln!("cannot start server: {e}");
                std::process::exit(1);
            }),
        ),
    };
    let endpoint = options.endpoint.clone().or_else(|| server.as_ref().map(TestServer::endpoint)).unwrap_or_default();
    let driver = if options.raw { "raw HTTP" } else { "aws-sdk-kinesis" };
    println!(
        "{driver} -> {endpoint}: {} clients x {} in flight, PutRecords of {RECORDS_PER_REQUEST} x {RECORD_BYTES} B, {} s per run",
        options.clients, options.inflight, options.seconds
    );
    let (mut requests, mut records) = (Vec::new(), Vec::new());
    for run in 1..=options.runs {
        let (rps, recps, failed, errors) = run_once(&options, &endpoint).await;
        println!(
            "run {run}: {rps:>8.0} requests/s {recps:>10.0} records/s ({:.1} MB/s of data), {failed} failed entries, {errors} request errors",
            recps * RECORD_BYTES as f64 / 1e6
        );
        requests.push(rps);
        records.push(recps);
    }
    println!("median: {:.0} requests/s, {:.0} records/s", median(requests), median(records));
    if let Some(server) = server {
        let stats = server.stats();
        println!(
            "server: {} requests, {} records accepted, {} bytes",
            stats.requests, stats.records_accepted, stats.bytes_accepted
        );
        server.stop().await;
    }
}

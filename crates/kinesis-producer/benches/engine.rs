//! Engine benchmark: drives the producer into the fast test server (a separate process, so
//! the CPU figures are the producer's own) and prints throughput, CPU, request efficiency,
//! latency and memory, with the CPU of the unavoidable work for the same bytes as a floor.
//!
//! ```text
//! cargo build --release -p kinesis-test-server
//! cargo bench -p kinesis-producer --bench engine -- [--records N] [--shards N] [--size BYTES] [--runs N]
//!     [--case on|off:RTT_MS]... [--option NAME=VALUE]... [--no-floor] [--json]
//! cargo bench -p kinesis-producer --bench engine -- --metrics-compare [--upload-delay MS] [--runs N] ...
//! ```
//!
//! `--case` picks rows (aggregation on/off, added round-trip time), `--option` sets a producer
//! option (e.g. `record_max_buffered_time=500`; the value is JSON, else a string), `--no-floor` skips the floor
//! (for profiling the producer alone, see benches/profile-engine.sh), `--json` also prints each
//! row as a `RESULT {...}` line for the benchmark scripts.
//!
//! `--metrics-compare` measures what uploading metrics costs: runs with `metrics_level` none
//! and runs with detailed metrics at shard granularity, uploaded every `--upload-delay` ms
//! (default 1000) to a local CloudWatch sink, interleaved (none, detailed, detailed, none, ...)
//! so that the load of a shared machine hits both alike; it prints the medians and their ratio.

use bytes::Bytes;
use kinesis_producer::{Config, Metric, Producer, UserRecord};
use md5::{Digest, Md5};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Records per `submit` call.
const BATCH_RECORDS: usize = 500;
/// Batches of payloads written ahead and used in turn (25 MiB of 200-byte records).
const PAYLOAD_RING: usize = 256;

struct Options {
    records: usize,
    shards: u32,
    size: usize,
    runs: usize,
    cases: Vec<(bool, u64)>,
    extra_options: serde_json::Map<String, serde_json::Value>,
    floor: bool,
    json: bool,
    metrics_compare: bool,
    upload_delay_ms: usize,
}

fn parse_options() -> Options {
    let mut options = Options {
        records: 2_000_000,
        shards: 64,
        size: 200,
        runs: 1,
        cases: Vec::new(),
        extra_options: serde_json::Map::new(),
        floor: true,
        json: false,
        metrics_compare: false,
        upload_delay_ms: 1000,
    };
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--case" => {
                let case = it.next().and_then(|v| parse_case(v)).unwrap_or_else(|| usage(flag));
                options.cases.push(case);
                continue;
            }
            "--option" => {
                let (name, value) = it.next().and_then(|v| v.split_once('=')).unwrap_or_else(|| usage(flag));
                let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::from(value));
                options.extra_options.insert(name.to_owned(), value);
                continue;
            }
            "--no-floor" => {
                options.floor = false;
                continue;
            }
            "--json" => {
                options.json = true;
                continue;
            }
            "--metrics-compare" => {
                options.metrics_compare = true;
                continue;
            }
            _ => {}
        }
        let mut value = || it.next().and_then(|v| v.parse::<usize>().ok()).unwrap_or_else(|| usage(flag));
        match flag.as_str() {
            "--records" => options.records = value(),
            "--shards" => options.shards = value() as u32,
            "--size" => options.size = value(),
            "--runs" => options.runs = value().max(1),
            "--upload-delay" => options.upload_delay_ms = value().clamp(1, 60_000),
            other => usage(other),
        }
    }
    if options.cases.is_empty() {
        options.cases = vec![(true, 0), (false, 0), (true, 20), (false, 20)];
    }
    options
}

/// "on:0" -> aggregation on, no added round-trip time.
fn parse_case(text: &str) -> Option<(bool, u64)> {
    let (aggregation, rtt) = text.split_once(':')?;
    let aggregation = match aggregation {
        "on" => true,
        "off" => false,
        _ => return None,
    };
    Some((aggregation, rtt.parse().ok()?))
}

fn usage(flag: &str) -> ! {
    eprintln!(
        "bad argument {flag:?}; usage: engine [--records N] [--shards N] [--size BYTES] [--runs N] \
         [--case on|off:RTT_MS]... [--option NAME=VALUE]... [--no-floor] [--json] \
         [--metrics-compare [--upload-delay MS]]"
    );
    std::process::exit(2)
}

/// The test server as a child process, stopped when dropped.
struct ServerProcess {
    child: Child,
    endpoint: String,
}

impl ServerProcess {
    fn start(shards: u32, latency_ms: u64) -> ServerProcess {
        let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/kinesis-test-server");
        let mut child = Command::new(&binary)
            .args(["--port", "0", "--blackhole", "--stream", &format!("bench:{shards}")])
            .args(["--latency-ms", &latency_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                eprintln!("cannot start {}: {e} (cargo build --release -p kinesis-test-server)", binary.display());
                std::process::exit(1)
            });
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("server banner");
        let endpoint = line.trim().rsplit(' ').next().expect("endpoint in banner").to_owned();
        ServerProcess { child, endpoint }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CloudWatch stand-in that answers every request with an empty RPC v2 CBOR success and
/// counts requests and body bytes. It runs on threads of the benchmark process, so its CPU
/// counts against the runs that upload metrics.
struct CloudWatchSink {
    endpoint: String,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl CloudWatchSink {
    fn start() -> CloudWatchSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the CloudWatch sink");
        let endpoint = format!("http://{}", listener.local_addr().expect("sink address"));
        let requests = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (r, b) = (requests.clone(), bytes.clone());
        std::thread::spawn(move || {
            for connection in listener.incoming().flatten() {
                let (r, b) = (r.clone(), b.clone());
                std::thread::spawn(move || Self::serve(connection, &r, &b));
            }
        });
        CloudWatchSink { endpoint, requests, bytes }
    }

    /// Answers the requests of one keep-alive connection until it closes.
    fn serve(connection: TcpStream, requests: &AtomicU64, bytes: &AtomicU64) {
        let mut writer = connection.try_clone().expect("clone the connection");
        let mut reader = BufReader::new(connection);
        loop {
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            requests.fetch_add(1, Ordering::Relaxed);
            bytes.fetch_add(length as u64, Ordering::Relaxed);
            // An empty CBOR map (0xa0): PutMetricData's output.
            let answer: &[u8] =
                b"HTTP/1.1 200 OK\r\ncontent-type: application/cbor\r\nsmithy-protocol: rpc-v2-cbor\r\n\
                                  content-length: 1\r\n\r\n\xa0";
            if writer.write_all(answer).is_err() {
                return;
            }
        }
    }
}

/// CPU seconds (user + system) this process has used.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command name: utime and stime are the 12th and 13th (clock ticks of 1/100 s).
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct RunResult {
    records_per_sec: f64,
    cpu_per_million: f64,
    kinesis_records_per_million: f64,
    requests_per_million: f64,
    aggregate_fill: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak_rss_mib: f64,
    floor_per_million: f64,
    /// Average PutRecords request fill: the larger of entries / collection_max_count and
    /// bytes / collection_max_size.
    request_fill: f64,
}

fn run(options: &Options, aggregation: bool, latency_ms: u64, metrics: Option<&CloudWatchSink>) -> RunResult {
    let server = ServerProcess::start(options.shards, latency_ms);
    let mut settings = serde_json::json!({
        "region": "us-east-1",
        "access_key": "bench",
        "secret_key": "bench",
        "kinesis_endpoint": server.endpoint,
        "aggregation_enabled": aggregation,
        "metrics_level": "none",
    });
    if let Some(sink) = metrics {
        settings["metrics_level"] = "detailed".into();
        settings["metrics_granularity"] = "shard".into();
        settings["metrics_upload_delay"] = options.upload_delay_ms.into();
        settings["cloudwatch_endpoint"] = sink.endpoint.clone().into();
    }
    if let Some(map) = settings.as_object_mut() {
        map.extend(options.extra_options.clone());
    }
    let config = Config::from_json(&settings.to_string()).unwrap_or_else(|e| {
        eprintln!("invalid producer options: {e}");
        std::process::exit(2)
    });
    let aggregation_max_size = config.aggregation_max_size as f64;
    let collection_limits = (config.collection_max_count as f64, config.effective_collection_max_size() as f64);
    let producer = Producer::new(config).expect("producer");
    // Payloads in distinct memory, one buffer per batch as the bridge passes them, written before
    // the clock starts. The ring holds more records than the producer does at once (100,000 by
    // default), so it stands in for the data the producer holds, and the data are read from memory
    // rather than from one cached payload.
    let payload_buffers: Vec<Bytes> =
        (0..PAYLOAD_RING).map(|_| Bytes::from(vec![b'x'; options.size * BATCH_RECORDS])).collect();
    reset_peak_rss();
    let cpu_before = cpu_seconds();
    let started = Instant::now();

    let (to_waiter, batches) = mpsc::sync_channel::<(kinesis_producer::Batch, Instant)>(4096);
    let waiter = std::thread::spawn(move || {
        let mut latencies = Vec::new();
        let mut failed = 0usize;
        for (batch, submitted) in batches {
            let outcomes = batch.wait_outcomes(Duration::from_secs(600)).expect("batch completes");
            latencies.push(submitted.elapsed().as_secs_f64() * 1000.0);
            failed += outcomes.iter().filter(|o| !o.is_delivered()).count();
        }
        (latencies, failed)
    });
    let mut seed = KEY_SEED;
    let stream: Arc<str> = Arc::from("bench");
    let mut sent = 0;
    while sent < options.records {
        let n = (options.records - sent).min(BATCH_RECORDS);
        let payloads = &payload_buffers[(sent / BATCH_RECORDS) % PAYLOAD_RING];
        let batch: Vec<UserRecord> = (0..n)
            .map(|i| {
                seed = next_seed(seed);
                UserRecord::new(
                    stream.clone(),
                    std::str::from_utf8(&hex_key(seed)).expect("hex digits"),
                    payloads.slice(i * options.size..(i + 1) * options.size),
                )
            })
            .collect();
        let handle = producer.submit(batch, Duration::from_secs(600)).expect("submit");
        to_waiter.send((handle, Instant::now())).expect("waiter alive");
        sent += n;
    }
    drop(to_waiter);
    let (mut latencies, failed) = waiter.join().expect("waiter");
    let elapsed = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    let peak = peak_rss_mib();
    producer.close(Duration::from_secs(30));
    assert_eq!(failed, 0, "records failed during the benchmark");

    let metrics = producer.metrics_registry();
    let kinesis_records = metrics.total(Metric::KinesisRecordsPut);
    let kinesis_bytes = metrics.total(Metric::KinesisRecordsDataPut);
    let requests: u64 =
        metrics.snapshot().iter().filter(|(k, _)| k.metric == Metric::RequestTime).map(|(_, s)| s.count).sum();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let millions = options.records as f64 / 1e6;
    RunResult {
        records_per_sec: options.records as f64 / elapsed.as_secs_f64(),
        cpu_per_million: cpu / millions,
        kinesis_records_per_million: kinesis_records / millions,
        requests_per_million: requests as f64 / millions,
        aggregate_fill: if aggregation { kinesis_bytes / kinesis_records / aggregation_max_size } else { f64::NAN },
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
        peak_rss_mib: peak,
        request_fill: (kinesis_records / requests as f64 / collection_limits.0)
            .max(kinesis_bytes / requests as f64 / collection_limits.1),
        floor_per_million: if options.floor {
            floor_cpu(options, aggregation, kinesis_bytes as usize) / millions
        } else {
            f64::NAN
        },
    }
}

const KEY_SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// The next of a xorshift sequence: the partition keys are random, so records spread over shards.
fn next_seed(mut seed: u64) -> u64 {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    seed
}

/// A partition key of 16 hex digits, written without formatting (`format!` took about 55 ns a
/// key, 7% of the floor): making keys is the caller's work, so neither the producer's CPU nor
/// the floor should carry it.
fn hex_key(seed: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    std::array::from_fn(|i| DIGITS[((seed >> (60 - 4 * i)) & 0xf) as usize])
}

/// CPU seconds of the work no producer can avoid for the same bytes: MD5 of every partition
/// key and of every aggregate, base64 of the data, and SHA-256 of the request bodies (SigV4),
/// each done by the fastest implementation the engine has (base64 is the SIMD one it sends with).
fn floor_cpu(options: &Options, aggregation: bool, kinesis_bytes: usize) -> f64 {
    let chunk = vec![b'x'; 1 << 20];
    let started = cpu_seconds();
    let mut sink = 0u8;
    let mut seed = KEY_SEED;
    for _ in 0..options.records {
        seed = next_seed(seed);
        sink ^= Md5::digest(hex_key(seed))[0];
    }
    let mut remaining = kinesis_bytes;
    let mut encoded: Vec<u8> = Vec::with_capacity(chunk.len() * 4 / 3 + 4);
    while remaining > 0 {
        let part = &chunk[..remaining.min(chunk.len())];
        if aggregation {
            sink ^= Md5::digest(part)[0];
        }
        encoded.clear();
        base64_simd::STANDARD.encode_append(part, &mut encoded);
        sink ^= Sha256::digest(&encoded)[0];
        remaining -= part.len();
    }
    std::hint::black_box(sink);
    cpu_seconds() - started
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Interleaved runs without and with metrics upload; prints each run, the medians and ratios.
fn compare_metrics(options: &Options) {
    let sink = CloudWatchSink::start();
    println!(
        "metrics overhead: {} records of {} bytes, {} shards, aggregation on, rtt 0 ms; detailed metrics at shard \
         granularity uploaded every {} ms to a local sink; {} run(s) each, interleaved",
        options.records, options.size, options.shards, options.upload_delay_ms, options.runs
    );
    println!("{:<4} {:<16} {:>12} {:>10} {:>9}", "run", "metrics", "records/s", "cpu_s/M", "p50_ms");
    let (mut none, mut detailed) = (Vec::new(), Vec::new());
    for i in 0..options.runs {
        // none, detailed, detailed, none, ...: neither mode always goes first.
        let order = if i % 2 == 0 { [false, true] } else { [true, false] };
        for with_metrics in order {
            let result = run(options, true, 0, with_metrics.then_some(&sink));
            println!(
                "{:<4} {:<16} {:>12.0} {:>10.2} {:>9.1}",
                i + 1,
                if with_metrics { "detailed/shard" } else { "none" },
                result.records_per_sec,
                result.cpu_per_million,
                result.p50_ms
            );
            if with_metrics { &mut detailed } else { &mut none }.push(result);
        }
    }
    let pick = |results: &[RunResult], f: fn(&RunResult) -> f64| median(&mut results.iter().map(f).collect::<Vec<_>>());
    let (none_rate, detailed_rate) = (pick(&none, |r| r.records_per_sec), pick(&detailed, |r| r.records_per_sec));
    let (none_cpu, detailed_cpu) = (pick(&none, |r| r.cpu_per_million), pick(&detailed, |r| r.cpu_per_million));
    println!("median none:           {none_rate:>12.0} records/s {none_cpu:>8.2} cpu_s/M");
    println!("median detailed/shard: {detailed_rate:>12.0} records/s {detailed_cpu:>8.2} cpu_s/M");
    println!(
        "throughput ratio detailed/none: {:.3} ({:+.1} %); cpu ratio: {:.3}",
        detailed_rate / none_rate,
        (detailed_rate / none_rate - 1.0) * 100.0,
        detailed_cpu / none_cpu
    );
    println!(
        "sink: {} PutMetricData requests, {} body bytes",
        sink.requests.load(Ordering::Relaxed),
        sink.bytes.load(Ordering::Relaxed)
    );
}

fn main() {
    let options = parse_options();
    if options.metrics_compare {
        compare_metrics(&options);
        return;
    }
    println!(
        "engine benchmark: {} records of {} bytes, random partition keys, {} shards, {} run(s) per row (median)",
        options.records, options.size, options.shards, options.runs
    );
    if !options.extra_options.is_empty() {
        println!("producer options: {}", serde_json::Value::Object(options.extra_options.clone()));
    }
    println!(
        "{:<12} {:>6} {:>12} {:>10} {:>8} {:>11} {:>10} {:>6} {:>8} {:>8} {:>8} {:>9}",
        "aggregation",
        "rtt_ms",
        "records/s",
        "cpu_s/M",
        "floor/M",
        "cpu/floor",
        "kin_rec/M",
        "req/M",
        "fill",
        "req_fill",
        "p50_ms",
        "p99_ms"
    );
    let mut rss = Vec::new();
    for &(aggregation, latency) in &options.cases {
        let results: Vec<RunResult> = (0..options.runs).map(|_| run(&options, aggregation, latency, None)).collect();
        let pick = |f: fn(&RunResult) -> f64| median(&mut results.iter().map(f).collect::<Vec<_>>());
        let cpu = pick(|r| r.cpu_per_million);
        let floor = pick(|r| r.floor_per_million);
        println!(
            "{:<12} {:>6} {:>12.0} {:>10.2} {:>8.2} {:>11.2} {:>10.0} {:>6.0} {:>8.3} {:>8.3} {:>8.1} {:>9.1}",
            if aggregation { "on" } else { "off" },
            latency,
            pick(|r| r.records_per_sec),
            cpu,
            floor,
            cpu / floor,
            pick(|r| r.kinesis_records_per_million),
            pick(|r| r.requests_per_million),
            pick(|r| r.aggregate_fill),
            pick(|r| r.request_fill),
            pick(|r| r.p50_ms),
            pick(|r| r.p99_ms),
        );
        rss.push(pick(|r| r.peak_rss_mib));
        if options.json {
            print_json_row(&options, aggregation, latency, &results);
        }
    }
    println!("peak RSS per row (MiB, benchmark process): {:?}", rss.iter().map(|r| r.round()).collect::<Vec<_>>());
}

/// One row as a `RESULT {...}` line (medians), for the benchmark scripts.
fn print_json_row(options: &Options, aggregation: bool, latency_ms: u64, results: &[RunResult]) {
    let pick = |f: fn(&RunResult) -> f64| {
        let value = median(&mut results.iter().map(f).collect::<Vec<_>>());
        if value.is_finite() {
            serde_json::json!(value)
        } else {
            serde_json::Value::Null
        }
    };
    let row = serde_json::json!({
        "records": options.records,
        "size": options.size,
        "shards": options.shards,
        "runs": results.len(),
        "aggregation": aggregation,
        "rtt_ms": latency_ms,
        "options": options.extra_options,
        "records_per_sec": pick(|r| r.records_per_sec),
        "cpu_s_per_million": pick(|r| r.cpu_per_million),
        "floor_s_per_million": pick(|r| r.floor_per_million),
        "cpu_over_floor": pick(|r| r.cpu_per_million / r.floor_per_million),
        "kinesis_records_per_million": pick(|r| r.kinesis_records_per_million),
        "requests_per_million": pick(|r| r.requests_per_million),
        "aggregate_fill": pick(|r| r.aggregate_fill),
        "request_fill": pick(|r| r.request_fill),
        "p50_ms": pick(|r| r.p50_ms),
        "p99_ms": pick(|r| r.p99_ms),
        "peak_rss_mib": pick(|r| r.peak_rss_mib),
    });
    println!("RESULT {row}");
}

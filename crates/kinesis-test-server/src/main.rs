//! `kinesis-test-server`: runs the test server until SIGTERM or SIGINT.

use kinesis_test_server::{Faults, ServerConfig, ShardThroughput, TestServer};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "\
Usage: kinesis-test-server [OPTIONS]

Server:
  --port N                    port on 127.0.0.1 (default 0: a free one)
  --port-file PATH            write the bound port to PATH
  --tls                       serve HTTPS with a self-signed certificate made at start
  --cert-file PATH            write that certificate (PEM) to PATH
  --blackhole                 keep only counts, byte totals and digests per shard
  --stream NAME:SHARDS        create a stream at start (repeatable)
  --region NAME               region in stream ARNs (default us-east-1)
  --seed N                    seed of the fault dice (deterministic faults)
Limits:
  --max-records-per-request N (default 500)
  --max-request-bytes N       data + keys per PutRecords (default 5242880)
  --max-record-bytes N        data + key per record (default 1048576)
Faults (fractions 0..1):
  --fail-throughput F         PutRecords entries failing with ProvisionedThroughputExceededException
  --fail-internal F           PutRecords entries failing with InternalFailure
  --shard-limits              enforce per-shard limits (1000 records/s, 1 MiB/s)
  --shard-records-per-sec N   per-shard record limit (implies --shard-limits)
  --shard-bytes-per-sec N     per-shard byte limit (implies --shard-limits)
  --error-throttling F        requests answered 400 ProvisionedThroughputExceededException
  --error-500 F               requests answered 500 InternalFailure
  --error-503 F               requests answered 503 ServiceUnavailable
  --hang F                    requests never answered
  --reset F                   connections reset mid-request
  --commit-then-drop F        requests stored, then the connection closed unanswered
  --latency-ms N              delay added to every Kinesis request
  --fault-operations A,B      operations the request faults hit (default PutRecords,PutRecord; * = all)
  --faults-json JSON          all faults as the control API's JSON (applied before the flags above)
Scheduled events:
  --split-after-ms N          after N ms, split every open shard of every stream in half
  --outage-after-ms N         after N ms, refuse connections for --outage-ms (default 1000)
  --outage-ms N
";

/// Command-line options beyond the server configuration.
struct Options {
    config: ServerConfig,
    port_file: Option<PathBuf>,
    split_after: Option<Duration>,
    outage_after: Option<Duration>,
    outage_length: Duration,
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options {
        config: ServerConfig::default(),
        port_file: None,
        split_after: None,
        outage_after: None,
        outage_length: Duration::from_secs(1),
    };
    let mut faults = Faults::default();
    let mut throughput: Option<ShardThroughput> = None;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let config = &mut options.config;
        match flag.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--port" => config.port = number(&flag, &value()?)?,
            "--port-file" => options.port_file = Some(PathBuf::from(value()?)),
            "--tls" => config.tls = true,
            "--cert-file" => config.cert_pem_path = Some(PathBuf::from(value()?)),
            "--blackhole" => config.blackhole = true,
            "--stream" => {
                let spec = value()?;
                let (name, shards) =
                    spec.split_once(':').ok_or_else(|| format!("--stream wants NAME:SHARDS, got {spec}"))?;
                config.streams.push((name.to_string(), number(&flag, shards)?));
            }
            "--region" => config.region = Some(value()?),
            "--seed" => config.seed = Some(number(&flag, &value()?)?),
            "--max-records-per-request" => config.limits.max_records_per_request = number(&flag, &value()?)?,
            "--max-request-bytes" => config.limits.max_request_bytes = number(&flag, &value()?)?,
            "--max-record-bytes" => config.limits.max_record_bytes = number(&flag, &value()?)?,
            "--faults-json" => faults = serde_json::from_str(&value()?).map_err(|e| format!("--faults-json: {e}"))?,
            "--fail-throughput" => faults.entry_throughput_exceeded = fraction(&flag, &value()?)?,
            "--fail-internal" => faults.entry_internal_failure = fraction(&flag, &value()?)?,
            "--shard-limits" => {
                throughput.get_or_insert_with(ShardThroughput::default);
            }
            "--shard-records-per-sec" => {
                throughput.get_or_insert_with(ShardThroughput::default).records_per_sec = number(&flag, &value()?)?
            }
            "--shard-bytes-per-sec" => {
                throughput.get_or_insert_with(ShardThroughput::default).bytes_per_sec = number(&flag, &value()?)?
            }
            "--error-throttling" => faults.request_throttled = fraction(&flag, &value()?)?,
            "--error-500" => faults.http_500 = fraction(&flag, &value()?)?,
            "--error-503" => faults.http_503 = fraction(&flag, &value()?)?,
            "--hang" => faults.hang = fraction(&flag, &value()?)?,
            "--reset" => faults.reset = fraction(&flag, &value()?)?,
            "--commit-then-drop" => faults.commit_then_drop = fraction(&flag, &value()?)?,
            "--latency-ms" => faults.latency_ms = number(&flag, &value()?)?,
            "--fault-operations" => faults.operations = value()?.split(',').map(str::to_string).collect(),
            "--split-after-ms" => options.split_after = Some(Duration::from_millis(number(&flag, &value()?)?)),
            "--outage-after-ms" => options.outage_after = Some(Duration::from_millis(number(&flag, &value()?)?)),
            "--outage-ms" => options.outage_length = Duration::from_millis(number(&flag, &value()?)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if throughput.is_some() {
        faults.shard_throughput = throughput;
    }
    options.config.faults = faults;
    Ok(options)
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{flag}: '{text}' is not a valid number"))
}

fn fraction(flag: &str, text: &str) -> Result<f64, String> {
    let value: f64 = number(flag, text)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{flag}: {value} is not a fraction in 0..1"))
    }
}

/// Writes the port through a temporary file and a rename, so readers never see half of it.
fn write_port_file(path: &PathBuf, port: u16) -> std::io::Result<()> {
    let mut temporary = path.clone().into_os_string();
    temporary.push(".tmp");
    std::fs::write(&temporary, format!("{port}\n"))?;
    std::fs::rename(&temporary, path)
}

/// Splits every open shard of every stream at the middle of its range.
fn split_everything(server: &TestServer) {
    for stream in server.stream_names() {
        for shard in server.records(&stream).into_iter().filter(|s| s.open) {
            let middle = shard.starting_hash_key + (shard.ending_hash_key - shard.starting_hash_key) / 2 + 1;
            if let Err(error) = server.split_shard(&stream, &shard.shard_id, middle) {
                eprintln!("split of {stream}/{} failed: {error}", shard.shard_id);
            }
        }
    }
}

async fn wait_for_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            if message.is_empty() {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("{message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match TestServer::start(options.config).await {
        Ok(server) => Arc::new(server),
        Err(error) => {
            eprintln!("cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &options.port_file {
        if let Err(error) = write_port_file(path, server.port()) {
            eprintln!("cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    println!("listening on {}", server.endpoint());
    let _ = std::io::stdout().flush();

    let mut scheduled = Vec::new();
    if let Some(delay) = options.split_after {
        let server = server.clone();
        scheduled.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            split_everything(&server);
        }));
    }
    if let Some(delay) = options.outage_after {
        let server = server.clone();
        let length = options.outage_length;
        scheduled.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            server.outage(length).await;
        }));
    }

    wait_for_signal().await;
    for task in scheduled {
        task.abort();
        let _ = task.await;
    }
    if let Ok(server) = Arc::try_unwrap(server) {
        server.stop().await;
    }
    ExitCode::SUCCESS
}

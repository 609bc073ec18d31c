//! CloudWatch metrics read back from a real implementation (moto, behind the RPC v2 CBOR
//! translation proxy of tests/tools) after a known workload on the test server with injected
//! per-shard throttling: names, dimensions and their order, units and values.
//!
//! The ignored ones need the test tools (tests/tools/setup.sh); tests/run-all.sh runs them
//! with `--ignored`.

mod support;

use kinesis_producer::{Outcome, Producer, UserRecord};
use kinesis_test_server::{Faults, ShardThroughput};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::cloudwatch::{CloudWatchPeer, Series};
use support::test_server::Server;

const WAIT: Duration = Duration::from_secs(60);
const RECORDS: usize = 6000;
const SHARDS: u32 = 8;
const PTEE: &str = "ProvisionedThroughputExceededException";

/// What the workload did, as the test server saw it.
struct Workload {
    user_bytes: f64,
    throttled: f64,
    put_records_requests: f64,
    per_shard: BTreeMap<String, f64>,
}

/// Sends `RECORDS` records unaggregated (one Kinesis record each) to a server whose shards
/// take 300 records/s, so the producer's first bursts are throttled, and closes the producer
/// (which uploads the last metrics).
fn run_workload(server: &Server, peer: &CloudWatchPeer, stream: &str, metrics: Value) -> Workload {
    let mut options = json!({
        "aggregation_enabled": false,
        "record_max_buffered_time": 20,
        "metrics_upload_delay": 1000,
        "cloudwatch_endpoint": peer.proxy_endpoint,
    });
    for (k, v) in metrics.as_object().expect("object") {
        options[k] = v.clone();
    }
    let producer: Producer = server.producer(options);
    let records: Vec<UserRecord> =
        (0..RECORDS).map(|i| UserRecord::new(stream, format!("key-{i}"), vec![b'x'; 100 + i % 50])).collect();
    let user_bytes = records.iter().map(|r| (r.data.len() + r.partition_key.len()) as f64).sum();
    // Two halves with a periodic upload between them, so that both the periodic upload and the
    // one at close carry data however fast the machine is.
    let mut halves = records.chunks(RECORDS / 2).map(<[UserRecord]>::to_vec);
    submit_and_wait(&producer, halves.next().expect("first half"));
    let deadline = Instant::now() + WAIT;
    while peer.put_requests() == 0 {
        assert!(Instant::now() < deadline, "no periodic upload within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    submit_and_wait(&producer, halves.next().expect("second half"));
    let report = producer.close(WAIT);
    assert!(report.drained);
    let stats = server.get().stats();
    let per_shard = server.get().records(stream).iter().map(|s| (s.shard_id.clone(), s.record_count as f64)).collect();
    Workload {
        user_bytes,
        throttled: stats.faults.shard_throttled as f64,
        put_records_requests: stats.requests_by_operation.get("PutRecords").copied().unwrap_or(0) as f64,
        per_shard,
    }
}

fn submit_and_wait(producer: &Producer, records: Vec<UserRecord>) {
    let outcomes = producer.submit(records, WAIT).expect("submit").wait_outcomes(WAIT).expect("outcomes");
    assert!(outcomes.iter().all(Outcome::is_delivered), "{:?}", outcomes.iter().find(|o| !o.is_delivered()));
}

fn throttling_server(stream: &str) -> Server {
    let limits = ShardThroughput { records_per_sec: 300, bytes_per_sec: 1 << 30 };
    Server::start(&[(stream, SHARDS)], Faults { shard_throughput: Some(limits), ..Faults::default() })
}

/// The series of `name` whose dimensions are exactly `dims`.
fn find<'a>(series: &'a [Series], name: &str, dims: &[(&str, &str)]) -> &'a Series {
    series
        .iter()
        .find(|s| {
            s.name == name && s.dimensions.len() == dims.len() && dims.iter().all(|(n, v)| s.dimension(n) == Some(v))
        })
        .unwrap_or_else(|| panic!("no series {name} {dims:?}"))
}

fn names(series: &[Series]) -> BTreeSet<&str> {
    series.iter().map(|s| s.name.as_str()).collect()
}

/// The distinct dimension-name lists of a metric, in stored order.
fn shapes<'a>(series: &'a [Series], name: &str) -> BTreeSet<Vec<&'a str>> {
    series.iter().filter(|s| s.name == name).map(Series::dimension_names).collect()
}

fn unit_of(name: &str) -> &'static str {
    match name {
        "UserRecordsDataPut" | "KinesisRecordsDataPut" => "Bytes",
        "BufferingTime" | "RequestTime" => "Milliseconds",
        _ => "Count",
    }
}

#[test]
#[ignore = "needs moto and the CBOR proxy (tests/tools/setup.sh); run by tests/run-all.sh"]
fn detailed_shard_metrics_match_the_workload() {
    let stream = "metrics-detailed";
    let peer = CloudWatchPeer::start("detailed");
    let server = throttling_server(stream);
    let namespace = "KplDetailed";
    let work = run_workload(
        &server,
        &peer,
        stream,
        json!({ "metrics_level": "detailed", "metrics_granularity": "shard", "metrics_namespace": namespace }),
    );
    assert!(work.throttled > 0.0, "the workload was not throttled");
    let series = peer.read(namespace);
    eprintln!(
        "detailed/shard: {} series read back; {} throttled entries, {} PutRecords; proxy {}",
        series.len(),
        work.throttled,
        work.put_records_requests,
        peer.proxy_stats()
    );
    let n = RECORDS as f64;

    // Every metric the workload produces (nothing expired), with KPL's units.
    let expected: BTreeSet<&str> = [
        "UserRecordsReceived",
        "UserRecordsPending",
        "UserRecordsPut",
        "UserRecordsDataPut",
        "KinesisRecordsPut",
        "KinesisRecordsDataPut",
        "ErrorsByCode",
        "AllErrors",
        "RetriesPerRecord",
        "BufferingTime",
        "RequestTime",
        "UserRecordsPerKinesisRecord",
        "KinesisRecordsPerPutRecordsRequest",
        "UserRecordsPerPutRecordsRequest",
    ]
    .into();
    assert_eq!(names(&series), expected);
    for s in &series {
        assert_eq!(s.unit, unit_of(&s.name), "{s:?}");
    }

    // Dimensions: every prefix of (ErrorCode,) StreamName, ShardId, in that order.
    let stream_level: BTreeSet<Vec<&str>> = [vec![], vec!["StreamName"]].into();
    let shard_level: BTreeSet<Vec<&str>> = [vec![], vec!["StreamName"], vec!["StreamName", "ShardId"]].into();
    for name in ["UserRecordsReceived", "RequestTime", "KinesisRecordsPerPutRecordsRequest"] {
        assert_eq!(shapes(&series, name), stream_level, "{name}");
    }
    for name in ["UserRecordsPut", "KinesisRecordsDataPut", "AllErrors", "RetriesPerRecord", "BufferingTime"] {
        assert_eq!(shapes(&series, name), shard_level, "{name}");
    }
    let by_code: BTreeSet<Vec<&str>> =
        [vec![], vec!["ErrorCode"], vec!["ErrorCode", "StreamName"], vec!["ErrorCode", "StreamName", "ShardId"]].into();
    assert_eq!(shapes(&series, "ErrorsByCode"), by_code);
    assert_eq!(shapes(&series, "UserRecordsPending"), [vec![]].into());

    // Values: shard series match what each shard stored, and roll up into stream and global.
    let shard_puts: Vec<&Series> =
        series.iter().filter(|s| s.name == "UserRecordsPut" && s.dimension("ShardId").is_some()).collect();
    assert_eq!(shard_puts.len(), SHARDS as usize);
    for s in &shard_puts {
        assert_eq!(s.dimension("StreamName"), Some(stream));
        let shard = s.dimension("ShardId").expect("shard");
        assert_eq!(Some(&s.sum), work.per_shard.get(shard), "{s:?}");
    }
    assert_eq!(find(&series, "UserRecordsPut", &[("StreamName", stream)]).sum, n);
    assert_eq!(find(&series, "UserRecordsPut", &[]).sum, n);
    assert_eq!(find(&series, "UserRecordsReceived", &[("StreamName", stream)]).sum, n);
    assert_eq!(find(&series, "KinesisRecordsPut", &[("StreamName", stream)]).sum, n);
    assert_eq!(find(&series, "UserRecordsDataPut", &[("StreamName", stream)]).sum, work.user_bytes);

    // Errors: every throttled entry counted once, by code, stream and shard.
    let errors = find(&series, "ErrorsByCode", &[("ErrorCode", PTEE), ("StreamName", stream)]);
    assert_eq!(errors.sum, work.throttled);
    assert_eq!(find(&series, "ErrorsByCode", &[("ErrorCode", PTEE)]).sum, work.throttled);
    assert_eq!(find(&series, "AllErrors", &[("StreamName", stream)]).sum, work.throttled);
    let shard_errors: f64 = series
        .iter()
        .filter(|s| s.name == "ErrorsByCode" && s.dimension("ShardId").is_some())
        .inspect(|s| assert_eq!(s.dimension_names(), ["ErrorCode", "StreamName", "ShardId"]))
        .map(|s| s.sum)
        .sum();
    assert_eq!(shard_errors, work.throttled);

    // Per-record and per-request statistics.
    let retries = find(&series, "RetriesPerRecord", &[("StreamName", stream)]);
    assert_eq!((retries.sum, retries.sample_count), (work.throttled, n));
    assert!(retries.maximum.is_some_and(|m| m >= 1.0), "{retries:?}");
    let buffering = find(&series, "BufferingTime", &[("StreamName", stream)]);
    assert_eq!(buffering.sample_count, n);
    assert!(buffering.minimum.is_some_and(|m| m >= 0.0) && buffering.maximum >= buffering.minimum);
    let requests = find(&series, "RequestTime", &[("StreamName", stream)]);
    assert_eq!(requests.sample_count, work.put_records_requests);
    let per_request = find(&series, "KinesisRecordsPerPutRecordsRequest", &[("StreamName", stream)]);
    assert_eq!((per_request.sum, per_request.sample_count), (n + work.throttled, work.put_records_requests));
    assert!(per_request.maximum.is_some_and(|m| m <= 500.0));
    let pending = find(&series, "UserRecordsPending", &[]);
    assert!(pending.sample_count >= 1.0, "{pending:?}");

    // Periodic uploads and the last one at close; large ones arrive gzip-encoded.
    let stats = peer.proxy_stats();
    assert!(peer.put_requests() >= 2, "{stats}");
    assert!(stats["gzip_requests"].as_u64() > Some(0), "{stats}");

    // The proxy also answers reads in CBOR, as the Rust SDK expects.
    let config = server.config(json!({ "cloudwatch_endpoint": peer.proxy_endpoint }));
    let shard = shard_puts[0].dimension("ShardId").expect("shard").to_owned();
    let sdk_sum = server.runtime.block_on(async {
        let client = kinesis_producer::cloudwatch_client(&config).await.expect("client");
        let now = std::time::SystemTime::now();
        let hour = Duration::from_secs(3600);
        let answer = client
            .get_metric_statistics()
            .namespace(namespace)
            .metric_name("UserRecordsPut")
            .dimensions(dimension("StreamName", stream))
            .dimensions(dimension("ShardId", &shard))
            .start_time((now - hour).into())
            .end_time((now + hour).into())
            .period(7200)
            .statistics(aws_sdk_cloudwatch::types::Statistic::Sum)
            .send()
            .await
            .expect("GetMetricStatistics through the proxy");
        answer.datapoints().iter().filter_map(|p| p.sum()).sum::<f64>()
    });
    assert_eq!(Some(&sdk_sum), work.per_shard.get(&shard));
}

fn dimension(name: &str, value: &str) -> aws_sdk_cloudwatch::types::Dimension {
    aws_sdk_cloudwatch::types::Dimension::builder().name(name).value(value).build()
}

#[test]
#[ignore = "needs moto and the CBOR proxy (tests/tools/setup.sh); run by tests/run-all.sh"]
fn summary_level_at_global_granularity_and_nothing_at_level_none() {
    let stream = "metrics-summary";
    let peer = CloudWatchPeer::start("summary");
    let server = throttling_server(stream);
    let namespace = "KplSummary";
    let work = run_workload(
        &server,
        &peer,
        stream,
        json!({ "metrics_level": "summary", "metrics_granularity": "global", "metrics_namespace": namespace }),
    );
    assert!(work.throttled > 0.0, "the workload was not throttled");
    let series = peer.read(namespace);
    let expected: BTreeSet<&str> =
        ["UserRecordsPut", "KinesisRecordsPut", "ErrorsByCode", "AllErrors", "BufferingTime"].into();
    assert_eq!(names(&series), expected);
    for s in &series {
        let allowed = if s.name == "ErrorsByCode" { vec![vec![], vec!["ErrorCode"]] } else { vec![vec![]] };
        assert!(allowed.contains(&s.dimension_names()), "{s:?}");
        assert_eq!(s.unit, unit_of(&s.name), "{s:?}");
    }
    assert_eq!(find(&series, "UserRecordsPut", &[]).sum, RECORDS as f64);
    assert_eq!(find(&series, "KinesisRecordsPut", &[]).sum, RECORDS as f64);
    assert_eq!(find(&series, "ErrorsByCode", &[("ErrorCode", PTEE)]).sum, work.throttled);
    assert_eq!(find(&series, "AllErrors", &[]).sum, work.throttled);
    assert_eq!(find(&series, "BufferingTime", &[]).sample_count, RECORDS as f64);

    // Level none: no client, no request, nothing stored.
    let before = peer.put_requests();
    server.get().reset_stats();
    let none_namespace = "KplNone";
    run_workload(&server, &peer, stream, json!({ "metrics_level": "none", "metrics_namespace": none_namespace }));
    assert_eq!(peer.put_requests(), before);
    assert!(peer.read(none_namespace).is_empty());
}

#[test]
fn an_unreachable_cloudwatch_never_affects_delivery() {
    // A port nobody listens on: every upload is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let server = Server::start(&[("s", 2)], Faults::default());
    let producer = server.producer(json!({
        "aggregation_enabled": false,
        "metrics_level": "detailed",
        "metrics_upload_delay": 100,
        "cloudwatch_endpoint": format!("http://127.0.0.1:{port}"),
        "record_max_buffered_time": 20,
    }));
    for round in 0..5 {
        let records: Vec<UserRecord> =
            (0..200).map(|i| UserRecord::new("s", format!("k{round}-{i}"), vec![b'x'; 50])).collect();
        let outcomes = producer.submit(records, WAIT).expect("submit").wait_outcomes(WAIT).expect("outcomes");
        assert!(outcomes.iter().all(Outcome::is_delivered));
        std::thread::sleep(Duration::from_millis(150));
    }
    let started = Instant::now();
    assert!(producer.close(WAIT).drained);
    // The last upload is given up after a few seconds, not the whole close timeout.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(server.get().stats().records_accepted, 1000);
}

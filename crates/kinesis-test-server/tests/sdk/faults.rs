//! Every fault mode is observable by a client and counted by the server.

use crate::common::{client, client_with_timeout, code, entries, entry, http, start, start_with};
use aws_sdk_kinesis::error::SdkError;
use kinesis_test_server::{Faults, ServerConfig, ShardThroughput};
use std::time::{Duration, Instant};

#[tokio::test]
async fn per_entry_failures_are_reported_and_counted() {
    let server = start(&[("s", 4)]).await;
    server.set_faults(Faults { entry_throughput_exceeded: 0.3, entry_internal_failure: 0.2, ..Faults::default() });
    let kinesis = client(&server.endpoint());
    let answer = kinesis.put_records().stream_name("s").set_records(Some(entries(500))).send().await.expect("put");
    let count = |code: &str| answer.records().iter().filter(|r| r.error_code() == Some(code)).count();
    let throughput = count("ProvisionedThroughputExceededException");
    let internal = count("InternalFailure");
    let ok = answer.records().iter().filter(|r| r.sequence_number().is_some()).count();
    assert_eq!(answer.failed_record_count(), Some((throughput + internal) as i32));
    assert_eq!(ok + throughput + internal, 500);
    assert!((100..200).contains(&throughput), "{throughput}");
    assert!((60..140).contains(&internal), "{internal}");
    for failed in answer.records().iter().filter(|r| r.error_code().is_some()) {
        assert!(failed.error_message().is_some());
        assert!(failed.sequence_number().is_none());
    }
    let stats = server.stats();
    assert_eq!(stats.faults.entry_throughput_exceeded, throughput as u64);
    assert_eq!(stats.faults.entry_internal_failure, internal as u64);
    assert_eq!(stats.entries_failed, (throughput + internal) as u64);
    assert_eq!(stats.records_accepted, ok as u64);
    let stored: usize = server.records("s").iter().map(|s| s.records.len()).sum();
    assert_eq!(stored, ok);
    server.stop().await;
}

#[tokio::test]
async fn same_seed_same_faults() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let server = start_with(ServerConfig {
            streams: vec![("s".into(), 2)],
            seed: Some(7),
            faults: Faults { entry_internal_failure: 0.5, ..Faults::default() },
            ..ServerConfig::default()
        })
        .await;
        let kinesis = client(&server.endpoint());
        let mut failed = Vec::new();
        for _ in 0..3 {
            let answer =
                kinesis.put_records().stream_name("s").set_records(Some(entries(50))).send().await.expect("put");
            failed.push(answer.records().iter().map(|r| r.error_code().is_some()).collect::<Vec<_>>());
        }
        server.stop().await;
        runs.push(failed);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().flatten().any(|f| *f) && runs[0].iter().flatten().any(|f| !*f));
}

#[tokio::test]
async fn per_shard_limits_throttle_like_the_service() {
    let server = start(&[("s", 1)]).await;
    server.set_faults(Faults {
        shard_throughput: Some(ShardThroughput { records_per_sec: 100, bytes_per_sec: 1024 * 1024 }),
        ..Faults::default()
    });
    let kinesis = client(&server.endpoint());
    let answer = kinesis.put_records().stream_name("s").set_records(Some(entries(300))).send().await.expect("put");
    let ok = answer.records().iter().filter(|r| r.sequence_number().is_some()).count();
    assert!((100..=103).contains(&ok), "bucket starts with one second of records: {ok}");
    assert!(answer
        .records()
        .iter()
        .filter(|r| r.error_code().is_some())
        .all(|r| r.error_code() == Some("ProvisionedThroughputExceededException")));
    assert_eq!(server.stats().faults.shard_throttled, (300 - ok) as u64);

    // Bytes count too, partition key included: 10 000 bytes/s lets ~9 records of 1 100 bytes.
    server.set_faults(Faults {
        shard_throughput: Some(ShardThroughput { records_per_sec: 1000, bytes_per_sec: 10_000 }),
        ..Faults::default()
    });
    let big: Vec<_> = (0..20).map(|i| entry(&format!("key-{i:04}"), vec![0u8; 1092])).collect();
    let answer = kinesis.put_records().stream_name("s").set_records(Some(big)).send().await.expect("put");
    let ok = answer.records().iter().filter(|r| r.sequence_number().is_some()).count();
    assert!((9..=10).contains(&ok), "{ok}");

    // A single PutRecord over the limit is a request-level error.
    for _ in 0..20 {
        let _ = kinesis
            .put_record()
            .stream_name("s")
            .partition_key("k")
            .data(aws_sdk_kinesis::primitives::Blob::new(vec![0u8; 1092]))
            .send()
            .await;
    }
    let error = kinesis
        .put_record()
        .stream_name("s")
        .partition_key("k")
        .data(aws_sdk_kinesis::primitives::Blob::new(vec![0u8; 5000]))
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(code(&error).as_deref(), Some("ProvisionedThroughputExceededException"));
    server.stop().await;
}

#[tokio::test]
async fn request_level_errors() {
    let server = start(&[("s", 1)]).await;
    let kinesis = client(&server.endpoint());
    let cases = [
        (Faults { http_500: 1.0, ..Faults::default() }, 500, "InternalFailure"),
        (Faults { http_503: 1.0, ..Faults::default() }, 503, "ServiceUnavailable"),
        (Faults { request_throttled: 1.0, ..Faults::default() }, 400, "ProvisionedThroughputExceededException"),
    ];
    for (faults, status, expected) in cases {
        server.set_faults(faults);
        let error = kinesis.put_records().stream_name("s").records(entry("k", "d")).send().await.expect_err(expected);
        assert_eq!(code(&error).as_deref(), Some(expected));
        assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(status));
    }
    // Other operations are untouched unless named.
    kinesis.list_shards().stream_name("s").send().await.expect("list shards unaffected");
    server.set_faults(Faults { http_500: 1.0, operations: vec!["ListShards".into()], ..Faults::default() });
    assert!(kinesis.list_shards().stream_name("s").send().await.is_err());
    kinesis.put_records().stream_name("s").records(entry("k", "d")).send().await.expect("puts unaffected");
    let stats = server.stats();
    assert_eq!(stats.faults.http_500, 2);
    assert_eq!(stats.faults.http_503, 1);
    assert_eq!(stats.faults.request_throttled, 1);
    assert_eq!(stats.records_accepted, 1);
    server.stop().await;
}

#[tokio::test]
async fn latency_is_added() {
    let server = start(&[("s", 1)]).await;
    let kinesis = client(&server.endpoint());
    kinesis.list_shards().stream_name("s").send().await.expect("warm up");
    server.set_faults(Faults { latency_ms: 150, ..Faults::default() });
    let started = Instant::now();
    kinesis.put_records().stream_name("s").records(entry("k", "d")).send().await.expect("put");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(server.stats().faults.delayed, 1);
    server.stop().await;
}

#[tokio::test]
async fn hung_request_times_out_and_stores_nothing() {
    let server = start(&[("s", 1)]).await;
    server.set_faults(Faults { hang: 1.0, ..Faults::default() });
    let kinesis = client_with_timeout(&server.endpoint(), Duration::from_millis(300));
    let started = Instant::now();
    let error = kinesis.put_records().stream_name("s").records(entry("k", "d")).send().await.expect_err("hang");
    assert!(matches!(error, SdkError::TimeoutError(_)), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.stats().faults.hang, 1);
    assert_eq!(server.stats().records_accepted, 0);
    // stop() does not wait for the hung request.
    let stopping = Instant::now();
    server.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn reset_is_a_connection_reset() {
    let server = start(&[("s", 1)]).await;
    server.set_faults(Faults { reset: 1.0, ..Faults::default() });
    let kinesis = client(&server.endpoint());
    let error = kinesis.put_records().stream_name("s").records(entry("k", "d")).send().await.expect_err("reset");
    assert!(matches!(error, SdkError::DispatchFailure(_) | SdkError::ResponseError(_)), "{error:?}");
    // On the wire it is an RST, not an orderly close.
    let body = r#"{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"k"}]}"#;
    let raw = raw_put(server.port(), body).await;
    assert_eq!(raw.map_err(|e| e.kind()).err(), Some(std::io::ErrorKind::ConnectionReset));
    assert_eq!(server.stats().faults.reset, 2);
    assert_eq!(server.stats().records_accepted, 0);
    server.stop().await;
}

#[tokio::test]
async fn commit_then_drop_stores_but_does_not_answer() {
    let server = start(&[("s", 1)]).await;
    server.set_faults(Faults { commit_then_drop: 1.0, ..Faults::default() });
    let kinesis = client(&server.endpoint());
    let error =
        kinesis.put_records().stream_name("s").records(entry("k", "committed")).send().await.expect_err("dropped");
    assert!(matches!(error, SdkError::DispatchFailure(_) | SdkError::ResponseError(_)), "{error:?}");
    assert_eq!(server.stats().faults.commit_then_drop, 1);
    let stored = &server.records("s")[0].records;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data.as_ref(), b"committed");
    server.stop().await;
}

/// A PutRecords over raw HTTP; returns the whole answer or the I/O error.
async fn raw_put(port: u16, body: &str) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn unknown_operation_and_raw_error_shape() {
    let server = start(&[("s", 1)]).await;
    let (status, body) = http(server.port(), "POST", "/", "{}").await.expect("raw");
    assert_eq!(status, 400);
    assert!(body.contains("\"__type\":\"UnknownOperationException\""), "{body}");
    server.stop().await;
}

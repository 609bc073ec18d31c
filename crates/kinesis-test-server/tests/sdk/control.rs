//! The JSON control API on the server's own port.

use crate::common::{client, control, entries, entry};
use kinesis_test_server::{Faults, ServerConfig};

#[tokio::test]
async fn control_api_round_trip() {
    let server = crate::common::start_with(ServerConfig::default()).await;
    let port = server.port();
    let (status, created) = control(port, "POST", "/_control/streams", r#"{"name":"c","shards":2}"#).await;
    assert_eq!(status, 200);
    assert_eq!(created["arn"], "arn:aws:kinesis:us-east-1:000000000000:stream/c");

    let (status, faults) = control(
        port,
        "POST",
        "/_control/faults",
        r#"{"entry_internal_failure":1.0,"shard_throughput":{"records_per_sec":5,"bytes_per_sec":100000}}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(faults["entry_internal_failure"], 1.0);
    assert_eq!(server.faults().shard_throughput.map(|t| t.records_per_sec), Some(5));
    let (status, error) = control(port, "POST", "/_control/faults", r#"{"no_such_fault":1}"#).await;
    assert_eq!(status, 400, "{error}");

    let kinesis = client(&server.endpoint());
    let answer = kinesis.put_records().stream_name("c").set_records(Some(entries(10))).send().await.expect("put");
    assert_eq!(answer.failed_record_count(), Some(10));
    let (_, stats) = control(port, "GET", "/_control/stats", "").await;
    assert_eq!(stats["faults"]["entry_internal_failure"], 10);
    assert_eq!(stats["requests_by_operation"]["PutRecords"], 1);

    control(port, "POST", "/_control/faults", "{}").await;
    assert_eq!(server.faults(), Faults::default());
    kinesis.put_records().stream_name("c").records(entry("k", "hello")).send().await.expect("put");
    let (status, records) = control(port, "GET", "/_control/records?stream=c", "").await;
    assert_eq!(status, 200);
    let shards = records["shards"].as_array().expect("shards");
    assert_eq!(shards.len(), 2);
    let stored: Vec<&serde_json::Value> =
        shards.iter().flat_map(|s| s["records"].as_array().into_iter().flatten()).collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["data"], "aGVsbG8=");
    assert_eq!(stored[0]["partition_key"], "k");

    let (status, split) =
        control(port, "POST", "/_control/split", r#"{"stream":"c","shard":"shardId-000000000001"}"#).await;
    assert_eq!(status, 200, "{split}");
    assert_eq!(split["children"][1], "shardId-000000000003");
    let (status, merged) = control(
        port,
        "POST",
        "/_control/merge",
        r#"{"stream":"c","shard":"shardId-000000000002","adjacent_shard":"shardId-000000000003"}"#,
    )
    .await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["child"], "shardId-000000000004");
    let (status, _) = control(port, "GET", "/_control/records?stream=nope", "").await;
    assert_eq!(status, 404);
    let (status, _) = control(port, "GET", "/_control/nothing", "").await;
    assert_eq!(status, 404);

    let (status, _) = control(port, "POST", "/_control/outage", r#"{"duration_ms":300}"#).await;
    assert_eq!(status, 200);
    assert!(crate::common::http(port, "GET", "/_control/stats", "").await.is_err());
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    let (status, stats) = control(port, "GET", "/_control/stats", "").await;
    assert_eq!(status, 200);
    assert_eq!(stats["faults"]["outages"], 1);
    server.stop().await;
}

//! End-to-end against kinesis-mock: what is read back equals what was submitted, aggregates
//! deaggregate with an independent implementation, and no record sits outside its shard's
//! hash range, also across a shard split during the run.
//!
//! These need the peer installed (tests/tools/setup.sh); tests/run-all.sh runs them with
//! `--ignored`.

mod support;

use base64::Engine;
use kinesis_producer::{Outcome, Producer, UserRecord};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use support::kinesis_mock::{deaggregate_independently, read_stream, KinesisMock};

const WAIT: Duration = Duration::from_secs(120);

fn workload(stream: &str, n: usize, tag: &str) -> Vec<UserRecord> {
    (0..n)
        .map(|i| {
            // Unique data per record, so that read-back records can be matched to submitted ones.
            let data = format!("{tag} record {i} {}", "x".repeat(i % 300));
            // Some partition keys need escaping in the request's JSON body.
            let key = match i % 5 {
                0 => format!("{tag} \"quoted\" \\ tab\t é 漢 {}", i % 700),
                _ => format!("{tag}-key-{}", i % 700),
            };
            let record = UserRecord::new(stream, key, data);
            // Some records carry an explicit hash key, spread over the whole key space.
            if i % 10 == 0 {
                record.with_explicit_hash_key((u128::MAX / 97 * (i as u128 % 97)).to_string())
            } else {
                record
            }
        })
        .collect()
}

/// What a consumer such as KCL delivers from the stream: user records of raw records and of
/// aggregates whose every record lies in the shard's range (KCL drops the other aggregates
/// whole), counted by data; plus the number of dropped aggregates.
struct ConsumerView {
    delivered: HashMap<Vec<u8>, usize>,
    dropped_aggregates: usize,
    kinesis_records: u64,
    aggregated: u64,
}

fn consumer_view(report: &Value, input: &[UserRecord]) -> ConsumerView {
    let by_data: HashMap<&[u8], &UserRecord> = input.iter().map(|r| (&r.data[..], r)).collect();
    let records = report["records"].as_array().expect("records");
    let dropped: Vec<bool> =
        records.iter().map(|r| r["aggregated"] == true && r["all_in_shard_range"] == false).collect();
    let mut delivered = HashMap::new();
    for u in report["user_records"].as_array().expect("user records") {
        if dropped[u["record_index"].as_u64().expect("index") as usize] {
            continue;
        }
        let data =
            base64::engine::general_purpose::STANDARD.decode(u["data_b64"].as_str().expect("data")).expect("base64");
        let submitted = by_data.get(&data[..]).unwrap_or_else(|| panic!("unknown record read back: {u}"));
        assert_eq!(u["partition_key"].as_str(), Some(submitted.partition_key.as_str()));
        if u["aggregated"] == true {
            // GetRecords does not return a raw record's explicit hash key; an aggregate keeps it.
            assert_eq!(u["explicit_hash_key"].as_str(), submitted.explicit_hash_key.as_deref());
        }
        *delivered.entry(data).or_insert(0) += 1;
    }
    ConsumerView {
        delivered,
        dropped_aggregates: dropped.iter().filter(|d| **d).count(),
        kinesis_records: report["kinesis_records"].as_u64().expect("count"),
        aggregated: report["aggregated"].as_u64().expect("count"),
    }
}

fn read_back(peer: &KinesisMock, stream: &str) -> Value {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = peer.config(json!({}));
    let records = runtime.block_on(async {
        let client = kinesis_producer::kinesis_client(&config).await.expect("client");
        read_stream(&client, stream).await
    });
    deaggregate_independently(records)
}

fn round_trip(aggregation: bool) {
    let stream = if aggregation { "agg-on" } else { "agg-off" };
    let peer = KinesisMock::start(&format!("{stream}:4"));
    let producer = Producer::new(peer.config(json!({ "aggregation_enabled": aggregation }))).expect("producer");
    let n = if aggregation { 3000 } else { 600 };
    // The aggregated run addresses the stream by ARN, the other by name.
    let target =
        if aggregation { format!("arn:aws:kinesis:us-east-1:000000000000:stream/{stream}") } else { stream.to_owned() };
    let input = workload(&target, n, "rt");
    let outcomes = producer.submit(input.clone(), WAIT).unwrap().wait_outcomes(WAIT).expect("outcomes");
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.is_delivered()).collect();
    assert!(failed.is_empty(), "{} failed, first: {:?}", failed.len(), failed.first());
    assert!(producer.close(WAIT).drained);

    let report = read_back(&peer, stream);
    let view = consumer_view(&report, &input);
    assert_eq!(view.dropped_aggregates, 0, "an aggregate holds records outside its shard's hash range");
    assert_eq!(view.delivered.values().sum::<usize>(), n, "read back exactly as many as submitted");
    for r in &input {
        assert_eq!(view.delivered.get(&r.data[..]), Some(&1), "missing or duplicated: {:?}", r.partition_key);
    }
    let kinesis_records = view.kinesis_records;
    if aggregation {
        assert!(view.aggregated > 0);
        assert!(kinesis_records < n as u64 / 10, "{kinesis_records} Kinesis records for {n}");
    } else {
        assert_eq!(view.aggregated, 0);
        assert_eq!(kinesis_records, n as u64);
    }
    eprintln!("{stream}: {n} user records in {kinesis_records} Kinesis records");
}

#[test]
#[ignore = "needs kinesis-mock: run tests/run-all.sh"]
fn round_trip_with_aggregation() {
    round_trip(true);
}

#[test]
#[ignore = "needs kinesis-mock: run tests/run-all.sh"]
fn round_trip_without_aggregation() {
    round_trip(false);
}

#[test]
#[ignore = "needs kinesis-mock: run tests/run-all.sh"]
fn a_shard_split_during_a_run_loses_and_misroutes_nothing() {
    let stream = "split";
    let peer = KinesisMock::start(&format!("{stream}:2"));
    let config = peer.config(json!({ "record_max_buffered_time": 50 }));
    let producer = Producer::new(config.clone()).expect("producer");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = runtime.block_on(kinesis_producer::kinesis_client(&config)).expect("client");

    let mut input: Vec<UserRecord> = Vec::new();
    let mut batches = Vec::new();
    for round in 0..12 {
        if round == 4 {
            // Split shard 0 in the middle of its range while records keep flowing.
            let shards = runtime
                .block_on(client.list_shards().stream_name(stream).send())
                .expect("ListShards")
                .shards
                .unwrap_or_default();
            let first = &shards[0];
            let range = first.hash_key_range.as_ref().expect("range");
            let start: u128 = range.starting_hash_key.parse().unwrap();
            let end: u128 = range.ending_hash_key.parse().unwrap();
            runtime
                .block_on(
                    client
                        .split_shard()
                        .stream_name(stream)
                        .shard_to_split(&first.shard_id)
                        .new_starting_hash_key((start + (end - start) / 2).to_string())
                        .send(),
                )
                .expect("SplitShard");
        }
        let batch = workload(stream, 300, &format!("r{round}"));
        input.extend(batch.iter().cloned());
        batches.push(producer.submit(batch, WAIT).unwrap());
        std::thread::sleep(Duration::from_millis(250));
    }
    for batch in batches {
        let outcomes = batch.wait_outcomes(WAIT).expect("outcomes");
        assert!(outcomes.iter().all(Outcome::is_delivered), "{:?}", outcomes.iter().find(|o| !o.is_delivered()));
    }
    assert!(producer.close(WAIT).drained);

    // Every record must reach a consumer: aggregates that landed in a child shard whose
    // range does not hold all of their records are dropped by consumers, so their records must
    // have been sent again.
    let report = read_back(&peer, stream);
    let view = consumer_view(&report, &input);
    for r in &input {
        assert!(view.delivered.contains_key(&r.data[..]), "lost: {:?}", r.partition_key);
    }
    let duplicates: usize = view.delivered.values().map(|n| n - 1).sum();
    eprintln!(
        "split: {} user records in {} Kinesis records; {} mis-routed aggregates resent; {duplicates} duplicates",
        input.len(),
        view.kinesis_records,
        view.dropped_aggregates
    );
}

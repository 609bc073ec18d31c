//! The producer against the fault-injecting test server: every record ends with exactly one
//! outcome, and every delivered one is in the server's store where consumers can read it.

mod support;

use kinesis_producer::{Outcome, Producer, UserRecord};
use kinesis_test_server::{Faults, ServerConfig, ShardThroughput};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::test_server::Server;

const WAIT: Duration = Duration::from_secs(120);

fn records(stream: &str, tag: &str, n: usize, size: usize) -> Vec<UserRecord> {
    (0..n)
        .map(|i| {
            let data = format!("{tag}-{i:08}-{}", "x".repeat(size.saturating_sub(tag.len() + 10)));
            UserRecord::new(stream, format!("{tag}-{i}"), data)
        })
        .collect()
}

fn send_all(producer: &Producer, input: Vec<UserRecord>) -> Vec<Outcome> {
    producer.submit(input, WAIT).expect("submit").wait_outcomes(WAIT).expect("every record gets an outcome")
}

/// Asserts every input record was delivered and a consumer sees it exactly `once` (or at
/// least once when duplicates are allowed).
fn assert_all_delivered(server: &Server, stream: &str, input: &[UserRecord], outcomes: &[Outcome], exactly_once: bool) {
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.is_delivered()).collect();
    assert!(failed.is_empty(), "{} failed, first: {:?}", failed.len(), failed.first());
    let (seen, _) = server.consumer_view(stream);
    for r in input {
        let n = seen.get(&r.data[..]).copied().unwrap_or(0);
        assert!(n >= 1, "delivered but not in the store: {}", r.partition_key);
        if exactly_once {
            assert_eq!(n, 1, "stored more than once: {}", r.partition_key);
        }
    }
}

#[test]
fn partial_failures_are_retried_alone() {
    let faults = Faults { entry_internal_failure: 0.3, entry_throughput_exceeded: 0.1, ..Faults::default() };
    let server = Server::start(&[("s", 4)], faults);
    let producer = server.producer(json!({ "aggregation_enabled": false }));
    let input = records("s", "pf", 2000, 100);
    let outcomes = send_all(&producer, input.clone());
    assert_all_delivered(&server, "s", &input, &outcomes, true);
    let stats = server.get().stats();
    assert!(stats.faults.entry_internal_failure > 300, "{stats:?}");
    let retried = outcomes.iter().filter(|o| o.attempts() > 1).count();
    assert!((500..2000).contains(&retried), "only failed entries are retried: {retried}");
    producer.close(WAIT);
}

#[test]
fn throttling_slows_the_producer_down_instead_of_hammering() {
    // The service's own limits (1000 records/s per shard); the producer's default rate_limit
    // (150 %) lets it try more, so the server's throttling answers must slow it down.
    let server =
        Server::start(&[("s", 2)], Faults { shard_throughput: Some(ShardThroughput::default()), ..Faults::default() });
    let producer = server.producer(json!({ "aggregation_enabled": false, "record_ttl": 60000 }));
    let n = 12_000;
    let input = records("s", "th", n, 50);
    let started = Instant::now();
    let outcomes = send_all(&producer, input.clone());
    let elapsed = started.elapsed();
    assert_all_delivered(&server, "s", &input, &outcomes, true);
    let throttled = server.get().stats().faults.shard_throttled;
    // 12,000 records over 2 shards need ~5 s after the first second's burst.
    assert!(elapsed >= Duration::from_secs(4), "{elapsed:?}");
    assert!(throttled > 0, "the server throttled");
    assert!(throttled < n as u64 / 4, "{throttled} throttled entries for {n} records: hammering");
    eprintln!("throttling: {n} records in {elapsed:?}, {throttled} throttled entries");
    producer.close(WAIT);
}

#[test]
fn a_permanent_error_fails_fast_with_the_service_message() {
    let server = Server::start(&[("exists", 1)], Faults::default());
    let producer = server.producer(json!({}));
    let started = Instant::now();
    let outcomes = send_all(&producer, records("missing", "pe", 20, 10));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    for o in outcomes {
        let Outcome::Failed { code, message, attempts } = o else { panic!("delivered to a missing stream") };
        assert_eq!(&*code, "ResourceNotFoundException");
        assert!(message.contains("missing"), "{message}");
        assert_eq!(attempts, 1);
    }
    producer.close(WAIT);
}

#[test]
fn an_endpoint_that_disappears_for_20_seconds_loses_nothing() {
    let server = Server::start(&[("s", 2)], Faults::default());
    let producer = server.producer(json!({ "record_ttl": 60000, "connect_timeout": 1000, "request_timeout": 2000 }));
    server.runtime.block_on(server.get().outage(Duration::from_secs(20)));
    let started = Instant::now();
    let input = records("s", "out", 500, 100);
    let outcomes = send_all(&producer, input.clone());
    assert!(started.elapsed() >= Duration::from_secs(15), "records waited for the endpoint");
    assert_all_delivered(&server, "s", &input, &outcomes, false);
    assert!(outcomes.iter().any(|o| o.attempts() > 1));
    producer.close(WAIT);
}

#[test]
fn a_hung_request_is_retried_after_request_timeout() {
    let faults = Faults { hang: 0.5, ..Faults::default() };
    let server = Server::start(&[("s", 2)], faults);
    let producer = server.producer(json!({ "request_timeout": 500, "record_max_buffered_time": 10 }));
    let mut outcomes = Vec::new();
    let mut input = Vec::new();
    for round in 0..6 {
        let batch = records("s", &format!("hang{round}"), 50, 50);
        input.extend(batch.clone());
        outcomes.extend(send_all(&producer, batch));
    }
    assert_all_delivered(&server, "s", &input, &outcomes, true);
    assert!(server.get().stats().faults.hang > 0);
    assert!(outcomes.iter().any(|o| o.attempts() > 1), "some records were sent again after a timeout");
    producer.close(WAIT);
}

#[test]
fn an_answer_lost_after_commit_causes_duplicates_but_no_loss() {
    let faults = Faults { commit_then_drop: 0.3, ..Faults::default() };
    let server = Server::start(&[("s", 2)], faults);
    let producer = server.producer(json!({ "record_max_buffered_time": 10 }));
    let mut outcomes = Vec::new();
    let mut input = Vec::new();
    for round in 0..10 {
        let batch = records("s", &format!("ctd{round}"), 30, 50);
        input.extend(batch.clone());
        outcomes.extend(send_all(&producer, batch));
    }
    assert_all_delivered(&server, "s", &input, &outcomes, false);
    assert!(server.get().stats().faults.commit_then_drop > 0);
    producer.close(WAIT);
}

#[test]
fn server_errors_and_resets_are_retried() {
    let faults = Faults { http_500: 0.15, http_503: 0.15, reset: 0.15, request_throttled: 0.1, ..Faults::default() };
    let server = Server::start(&[("s", 3)], faults);
    let producer = server.producer(json!({ "record_max_buffered_time": 10 }));
    let mut outcomes = Vec::new();
    let mut input = Vec::new();
    for round in 0..10 {
        let batch = records("s", &format!("err{round}"), 40, 50);
        input.extend(batch.clone());
        outcomes.extend(send_all(&producer, batch));
    }
    // Resets may happen after the server read a request, so duplicates are allowed.
    assert_all_delivered(&server, "s", &input, &outcomes, false);
    let f = server.get().stats().faults;
    assert!(f.http_500 > 0 && f.http_503 > 0 && f.reset > 0, "{f:?}");
    producer.close(WAIT);
}

#[test]
fn a_shard_split_mid_run_leaves_no_delivered_record_in_a_wrong_shard() {
    let server = Server::start(&[("s", 2)], Faults::default());
    let producer = server.producer(json!({ "record_max_buffered_time": 20 }));
    let mut batches = Vec::new();
    let mut input = Vec::new();
    for round in 0..20 {
        if round == 5 {
            server.get().split_shard("s", "shardId-000000000000", u128::MAX / 4).expect("split");
        }
        if round == 12 {
            server.get().split_shard("s", "shardId-000000000001", u128::MAX / 4 * 3).expect("split");
        }
        let batch = records("s", &format!("split{round}"), 200, 60);
        input.extend(batch.clone());
        batches.push(producer.submit(batch, WAIT).expect("submit"));
        std::thread::sleep(Duration::from_millis(30));
    }
    let outcomes: Vec<Outcome> = batches.iter().flat_map(|b| b.wait_outcomes(WAIT).expect("outcomes")).collect();
    // Every delivered outcome names a stored Kinesis record whose records all lie in its shard.
    let shards = server.get().records("s");
    let mut by_sequence = HashMap::new();
    for shard in &shards {
        for record in &shard.records {
            by_sequence.insert(record.sequence_number.clone(), (shard, record));
        }
    }
    for o in &outcomes {
        let Outcome::Delivered { shard_id, sequence_number, .. } = o else { panic!("failed: {o:?}") };
        let (shard, record) = by_sequence[&sequence_number.to_string()];
        assert_eq!(&shard.shard_id, &shard_id.to_string());
        let ehk = record.explicit_hash_key.map(|k| k.to_string());
        for user in support::deaggregate::deaggregate(&record.partition_key, ehk.as_deref(), &record.data) {
            assert!(
                (shard.starting_hash_key..=shard.ending_hash_key).contains(&user.hash_key()),
                "mis-routed record reported delivered"
            );
        }
    }
    assert_all_delivered(&server, "s", &input, &outcomes, false);
    let (_, dropped) = server.consumer_view("s");
    eprintln!("split: {dropped} mis-routed aggregates were sent again");
    producer.close(WAIT);
}

#[test]
fn certificates_are_verified_unless_turned_off() {
    let server =
        Server::start_with(ServerConfig { tls: true, streams: vec![("s".into(), 1)], ..ServerConfig::default() });
    let strict = server.producer(json!({ "record_ttl": 20000 }));
    let started = std::time::Instant::now();
    for o in send_all(&strict, records("s", "tls", 5, 10)) {
        let Outcome::Failed { code, message, attempts } = o else { panic!("a self-signed certificate was trusted") };
        // Refused at once with a clear reason, not retried until record_ttl.
        assert_eq!(&*code, "CertificateNotTrusted");
        assert!(message.contains("invalid peer certificate") && message.contains("verify_certificate"), "{message}");
        assert_eq!(attempts, 1);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    strict.close(WAIT);
    let lax = server.producer(json!({ "verify_certificate": false }));
    assert!(send_all(&lax, records("s", "tls", 5, 10)).iter().all(Outcome::is_delivered));
    lax.close(WAIT);
}

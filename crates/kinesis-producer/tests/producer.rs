//! Producer behaviour against an in-memory Kinesis with scripted failures.

mod support;

use kinesis_producer::shard_map::Shard;
use kinesis_producer::transport::{RequestError, RequestErrorKind};
use kinesis_producer::{Config, Metric, Outcome, Producer, SubmitError, UserRecord};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::deaggregate::deaggregate;
use support::fake_kinesis::{even_shards, Answer, FakeKinesis, FakeTransport};

const WAIT: Duration = Duration::from_secs(20);

fn producer(fake: &Arc<FakeKinesis>, json: &str) -> Producer {
    let config = Config::from_json(json).expect("valid config");
    Producer::builder(config).transport(Arc::new(FakeTransport(fake.clone()))).build().expect("producer")
}

fn records(stream: &str, n: usize, size: usize) -> Vec<UserRecord> {
    (0..n).map(|i| UserRecord::new(stream, format!("key-{i}"), format!("{i:0size$}").into_bytes())).collect()
}

fn service_error(status: u16, code: &str, message: &str) -> RequestError {
    RequestError { kind: RequestErrorKind::Service { status }, code: code.into(), message: message.into() }
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

#[test]
fn every_record_is_delivered_once_and_aggregates_stay_in_their_shard() {
    let fake = FakeKinesis::new(even_shards(4));
    let p = producer(&fake, r#"{"record_max_buffered_time": 50}"#);
    let input = records("s", 3000, 100);
    let batch = p.submit(input.clone(), WAIT).unwrap();
    let outcomes = batch.wait_outcomes(WAIT).expect("all outcomes");
    assert!(outcomes.iter().all(Outcome::is_delivered), "{:?}", outcomes.iter().find(|o| !o.is_delivered()));

    let stored = fake.stored();
    assert!(stored.len() < 3000 / 10, "records were aggregated: {} Kinesis records", stored.len());
    let mut seen = HashMap::new();
    for kinesis_record in &stored {
        let shard = fake.shard(&kinesis_record.shard_id);
        let users = deaggregate(
            &kinesis_record.partition_key,
            kinesis_record.explicit_hash_key.as_deref(),
            &kinesis_record.data,
        );
        for user in users {
            assert!(shard.contains(user.hash_key()), "{} outside {}", user.partition_key, shard.id);
            *seen.entry((user.partition_key, user.data)).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), 3000);
    assert!(seen.values().all(|&n| n == 1));
    for r in &input {
        assert!(seen.contains_key(&(r.partition_key.to_string(), r.data.to_vec())));
    }
    assert_eq!(p.outstanding(), (0, 0));
    let report = p.close(WAIT);
    assert!(report.drained);
}

#[test]
fn partial_failures_are_retried_alone() {
    let fake = FakeKinesis::new(even_shards(1));
    fake.then(Answer::FailEntries(vec![0, 2], "InternalFailure"));
    let p = producer(&fake, r#"{"aggregation_enabled": false}"#);
    let batch = p.submit(records("s", 5, 10), WAIT).unwrap();
    let outcomes = batch.wait_outcomes(WAIT).unwrap();
    assert!(outcomes.iter().all(Outcome::is_delivered));
    let retried: usize = outcomes.iter().filter(|o| o.attempts() == 2).count();
    assert_eq!(retried, 2, "{outcomes:?}");
    assert_eq!(fake.stored().len(), 5, "no record stored twice");
    assert_eq!(fake.put_calls.load(Ordering::SeqCst), 2);
    p.close(WAIT);
}

#[test]
fn permanent_errors_fail_at_once_with_the_service_message() {
    let fake = FakeKinesis::new(even_shards(2));
    *fake.default_answer.lock().unwrap() =
        Some(Answer::Fail(service_error(400, "ResourceNotFoundException", "Stream s under account 1 not found.")));
    let p = producer(&fake, r#"{}"#);
    let started = Instant::now();
    let outcomes = p.submit(records("s", 10, 10), WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    for o in &outcomes {
        match o {
            Outcome::Failed { code, message, attempts } => {
                assert_eq!(&**code, "ResourceNotFoundException");
                assert!(message.contains("not found"));
                assert_eq!(*attempts, 1);
            }
            other => panic!("delivered: {other:?}"),
        }
    }
    p.close(WAIT);
    assert!(p.metrics().iter().any(|(k, s)| k.metric == Metric::ErrorsByCode
        && k.error_code.as_deref() == Some("ResourceNotFoundException")
        && s.sum >= 1.0));
}

#[test]
fn records_expire_after_record_ttl_with_the_last_error() {
    let fake = FakeKinesis::new(even_shards(1));
    *fake.default_answer.lock().unwrap() = Some(Answer::FailEntries((0..500).collect(), "InternalFailure"));
    let p = producer(&fake, r#"{"record_ttl": 400}"#);
    let started = Instant::now();
    let outcomes = p.submit(records("s", 3, 10), WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5), "{elapsed:?}");
    for o in &outcomes {
        let Outcome::Failed { code, message, attempts } = o else { panic!("delivered") };
        assert_eq!(&**code, "Expired");
        assert!(message.contains("InternalFailure"), "{message}");
        assert!(*attempts >= 2, "retried before expiring: {attempts}");
    }
    p.close(WAIT);
    assert!(p.metrics().iter().any(|(k, s)| k.metric == Metric::UserRecordExpired && s.sum == 3.0));
}

#[test]
fn a_huge_ttl_and_buffer_time_do_not_overflow() {
    let fake = FakeKinesis::new(even_shards(2));
    let p = producer(&fake, r#"{"record_ttl": 9223372036854775807, "record_max_buffered_time": 9223372036854775807}"#);
    let batch = p.submit(records("s", 10, 10), WAIT).unwrap();
    assert!(!batch.wait(Duration::from_millis(300)), "held for batching");
    p.flush(Some("s"));
    assert!(batch.wait_outcomes(WAIT).unwrap().iter().all(Outcome::is_delivered));
    p.close(WAIT);
}

#[test]
fn an_aggregate_in_the_wrong_shard_is_sent_again_whole() {
    // ListShards first reports one shard; the service really has two.
    let fake = FakeKinesis::new(even_shards(2));
    *fake.listed.lock().unwrap() = Some(even_shards(1));
    let p = producer(&fake, r#"{}"#);
    let outcomes = p.submit(records("s", 400, 20), WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    assert!(outcomes.iter().all(Outcome::is_delivered));
    assert!(fake.list_calls.load(Ordering::SeqCst) >= 2, "the map was listed again");
    // Every delivered outcome points at a stored record that holds it inside its shard's range.
    let stored = fake.stored();
    let by_sequence: HashMap<_, _> = stored.iter().map(|s| (s.sequence_number.clone(), s)).collect();
    for o in &outcomes {
        let Outcome::Delivered { shard_id, sequence_number, .. } = o else { unreachable!() };
        let kinesis_record = by_sequence[&sequence_number.to_string()];
        assert_eq!(&kinesis_record.shard_id, &shard_id.to_string());
        let shard = fake.shard(shard_id);
        let users = deaggregate(
            &kinesis_record.partition_key,
            kinesis_record.explicit_hash_key.as_deref(),
            &kinesis_record.data,
        );
        assert!(users.iter().all(|u| shard.contains(u.hash_key())), "delivered inside a mis-routed aggregate");
    }
    p.close(WAIT);
}

#[test]
fn an_aggregate_in_a_merged_shard_holding_all_its_records_is_not_sent_twice() {
    // ListShards first reports the two parents; the service has merged them into one shard.
    let merged = Shard { id: "shardId-000000000002".into(), starting_hash_key: 0, ending_hash_key: u128::MAX };
    let fake = FakeKinesis::new(vec![merged]);
    *fake.listed.lock().unwrap() = Some(even_shards(2));
    let p = producer(&fake, r#"{}"#);
    let outcomes = p.submit(records("s", 400, 20), WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    for o in &outcomes {
        let Outcome::Delivered { shard_id, .. } = o else { panic!("{o:?}") };
        assert_eq!(&**shard_id, "shardId-000000000002");
    }
    let mut seen = HashMap::new();
    for kinesis_record in fake.stored() {
        let users = deaggregate(
            &kinesis_record.partition_key,
            kinesis_record.explicit_hash_key.as_deref(),
            &kinesis_record.data,
        );
        for user in users {
            *seen.entry(user.partition_key).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), 400);
    assert!(seen.values().all(|&n| n == 1), "records sent twice: {:?}", seen.iter().find(|(_, &n)| n > 1));
    p.close(WAIT);
}

#[test]
fn counts_are_complete_as_soon_as_every_record_has_its_outcome() {
    let fake = FakeKinesis::new(even_shards(2));
    let p = producer(&fake, r#"{}"#);
    let outcomes = p.submit(records("s", 300, 20), WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    assert!(outcomes.iter().all(Outcome::is_delivered));
    // No wait for the once-a-second merge: the stream merged its counts when it ran dry.
    let deadline = Instant::now() + Duration::from_millis(200);
    let put = || -> u64 {
        p.metrics().iter().filter(|(k, _)| k.metric == Metric::UserRecordsPut).map(|(_, s)| s.sum as u64).sum()
    };
    while put() < 300 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(put(), 300);
    p.close(WAIT);
}

#[test]
fn one_throttling_answer_slows_a_shard_down_once_not_once_per_entry() {
    let fake = FakeKinesis::new(even_shards(1));
    // Every entry of the first request is throttled.
    fake.then(Answer::FailEntries((0..500).collect(), "ProvisionedThroughputExceededException"));
    let p = producer(&fake, r#"{"aggregation_enabled": false, "rate_limit": 100}"#);
    let started = Instant::now();
    let outcomes = p.submit(records("s", 3000, 10), WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    assert!(outcomes.iter().all(Outcome::is_delivered));
    // Slowed once (to 70 %, recovering), the 2500 records left take about 3 s; slowed 500
    // times (down to 10 %) they took over 6 s.
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(4500), "{elapsed:?}");
    p.close(WAIT);
}

#[test]
fn a_shard_over_its_rate_sends_in_batches_not_record_by_record() {
    let fake = FakeKinesis::new(even_shards(1));
    // 100 % of the shard's limit: 1000 records at once, then 1000 per second.
    let p = producer(&fake, r#"{"aggregation_enabled": false, "rate_limit": 100}"#);
    let started = Instant::now();
    let outcomes = p.submit(records("s", 2500, 10), WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    assert!(outcomes.iter().all(Outcome::is_delivered));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1300), "the limit held records back: {elapsed:?}");
    // The 1500 records held back leave every 50 ms or so: about 30 requests, not one each.
    let puts = fake.put_calls.load(Ordering::SeqCst);
    assert!(puts <= 60, "{puts} PutRecords requests for 2500 records");
    p.close(WAIT);
}

#[test]
fn without_a_shard_map_records_are_still_aggregated_by_partition_key() {
    let fake = FakeKinesis::new(even_shards(4));
    *fake.list_error.lock().unwrap() = Some(service_error(400, "AccessDeniedException", "no kinesis:ListShards"));
    let p = producer(&fake, r#"{}"#);
    let input: Vec<UserRecord> =
        (0..1000).map(|i| UserRecord::new("s", format!("host-{}", i % 5), format!("event {i}"))).collect();
    let outcomes = p.submit(input, WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    assert!(outcomes.iter().all(Outcome::is_delivered));
    let stored = fake.stored();
    assert!(stored.len() <= 20, "1000 records with 5 keys in {} Kinesis records", stored.len());
    for kinesis_record in &stored {
        let shard = fake.shard(&kinesis_record.shard_id);
        let users = deaggregate(
            &kinesis_record.partition_key,
            kinesis_record.explicit_hash_key.as_deref(),
            &kinesis_record.data,
        );
        assert!(users.iter().all(|u| shard.contains(u.hash_key())));
        assert!(users.iter().all(|u| u.partition_key == users[0].partition_key), "one key per aggregate");
    }
    p.close(WAIT);
}

#[test]
fn a_slow_shard_listing_delays_records_only_briefly() {
    let fake = FakeKinesis::new(even_shards(4));
    *fake.list_delay.lock().unwrap() = Duration::from_secs(8);
    let p = producer(&fake, r#"{"request_timeout": 20000}"#);
    let started = Instant::now();
    let outcomes = p.submit(records("s", 50, 10), WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    assert!(outcomes.iter().all(Outcome::is_delivered));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4), "{elapsed:?}");
    p.close(WAIT);
}

#[test]
fn invalid_records_fail_alone() {
    let fake = FakeKinesis::new(even_shards(2));
    let p = producer(&fake, r#"{"max_user_record_size": 1024}"#);
    let batch = vec![
        UserRecord::new("s", "ok-1", "a"),
        UserRecord::new("s", "", "empty key"),
        UserRecord::new("s", "k".repeat(257), "long key"),
        UserRecord::new("s", "ok-2", "b").with_explicit_hash_key("340282366920938463463374607431768211456"),
        UserRecord::new("s", "ok-3", vec![0u8; 2000]),
        UserRecord::new("s", "ok-4", "c"),
    ];
    let outcomes = p.submit(batch, WAIT).unwrap().wait_outcomes(WAIT).unwrap();
    let codes: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Delivered { .. } => "delivered".to_owned(),
            Outcome::Failed { code, attempts, .. } => {
                assert_eq!(*attempts, 0);
                code.to_string()
            }
        })
        .collect();
    assert_eq!(
        codes,
        [
            "delivered",
            "InvalidPartitionKey",
            "InvalidPartitionKey",
            "InvalidExplicitHashKey",
            "RecordTooLarge",
            "delivered"
        ]
    );
    p.close(WAIT);
}

#[test]
fn submit_waits_while_full_and_reports_it() {
    let fake = FakeKinesis::new(even_shards(1));
    *fake.default_answer.lock().unwrap() = Some(Answer::Hang);
    let p = producer(&fake, r#"{"max_pending_records": 10, "request_timeout": 60000}"#);
    let first = p.submit(records("s", 10, 10), WAIT).unwrap();
    let started = Instant::now();
    assert_eq!(p.submit(records("s", 1, 10), Duration::from_millis(100)).unwrap_err(), SubmitError::Full);
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(p.outstanding().0, 10);
    std::thread::sleep(Duration::from_millis(20));
    assert!(p.oldest_pending_age().unwrap() >= Duration::from_millis(100));
    let report = p.close(Duration::from_millis(200));
    assert!(!report.drained);
    assert_eq!(report.abandoned, 10);
    for o in first.wait_outcomes(WAIT).unwrap() {
        let Outcome::Failed { code, message, .. } = o else { panic!("delivered") };
        assert_eq!(&*code, "ProducerClosed");
        assert!(message.contains("may have been delivered"), "{message}");
    }
    assert_eq!(p.submit(records("s", 1, 10), WAIT).unwrap_err(), SubmitError::Closed);
}

#[test]
fn close_stops_every_thread_and_is_idempotent() {
    let before = thread_count();
    let fake = FakeKinesis::new(even_shards(3));
    let p = producer(&fake, r#"{}"#);
    let batch = p.submit(records("s", 100, 10), WAIT).unwrap();
    let report = p.close(WAIT);
    assert!(report.drained);
    assert!(batch.outcomes().unwrap().iter().all(Outcome::is_delivered), "close delivers what is buffered");
    assert_eq!(p.close(WAIT), kinesis_producer::CloseReport { drained: true, abandoned: 0 });
    drop(p);
    // Test threads of other tests come and go; allow for them but not for producer threads.
    let after = thread_count();
    assert!(after <= before + 1, "threads before {before}, after {after}");
}

#[test]
fn many_threads_submit_concurrently() {
    let fake = FakeKinesis::new(even_shards(8));
    let p = Arc::new(producer(&fake, r#"{"record_max_buffered_time": 20}"#));
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut delivered = 0;
                for round in 0..20 {
                    let batch: Vec<_> = (0..125)
                        .map(|i| UserRecord::new(format!("stream-{}", t % 2), format!("{t}-{round}-{i}"), "payload"))
                        .collect();
                    let outcomes = p.submit(batch, WAIT).unwrap().wait_outcomes(WAIT).unwrap();
                    delivered += outcomes.iter().filter(|o| o.is_delivered()).count();
                }
                delivered
            })
        })
        .collect();
    let delivered: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(delivered, 8 * 20 * 125);
    let stored_users: usize = fake
        .stored()
        .iter()
        .map(|s| deaggregate(&s.partition_key, s.explicit_hash_key.as_deref(), &s.data).len())
        .sum();
    assert_eq!(stored_users, delivered);
    p.close(WAIT);
}

#[test]
fn open_shard_count_asks_the_service_and_reports_its_errors() {
    let fake = FakeKinesis::new(even_shards(6));
    let p = producer(&fake, "{}");
    assert_eq!(p.open_shard_count("s", WAIT), Ok(6));

    *fake.list_error.lock().unwrap() = Some(service_error(400, "ResourceNotFoundException", "no stream s"));
    let error = p.open_shard_count("s", WAIT).unwrap_err();
    assert_eq!(error.code, "ResourceNotFoundException");

    *fake.list_error.lock().unwrap() = None;
    *fake.list_delay.lock().unwrap() = Duration::from_secs(5);
    let error = p.open_shard_count("s", Duration::from_millis(100)).unwrap_err();
    assert_eq!(error.kind, RequestErrorKind::Timeout);

    p.close(WAIT);
    assert_eq!(p.open_shard_count("s", WAIT).unwrap_err().code, "ProducerClosed");
}

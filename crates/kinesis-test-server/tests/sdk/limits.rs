//! Request limits answer with the service's exception names.

use crate::common::{client, code, entries, entry, entry_with_hash, start};
use kinesis_test_server::{Limits, MIB};

#[tokio::test]
async fn more_than_500_entries_is_a_validation_error() {
    let server = start(&[("s", 1)]).await;
    let kinesis = client(&server.endpoint());
    let error =
        kinesis.put_records().stream_name("s").set_records(Some(entries(501))).send().await.expect_err("501 entries");
    assert_eq!(code(&error).as_deref(), Some("ValidationException"));
    let ok = kinesis.put_records().stream_name("s").set_records(Some(entries(500))).send().await.expect("500 entries");
    assert_eq!(ok.failed_record_count(), Some(0));
    assert_eq!(server.stats().records_accepted, 500);
    server.stop().await;
}

#[tokio::test]
async fn record_size_counts_data_and_key() {
    let server = start(&[("s", 1)]).await;
    let kinesis = client(&server.endpoint());
    let key = "key";
    let fits = entry(key, vec![7u8; MIB - key.len()]);
    let too_big = entry(key, vec![7u8; MIB - key.len() + 1]);
    kinesis.put_records().stream_name("s").records(fits).send().await.expect("record of exactly 1 MiB");
    let error =
        kinesis.put_records().stream_name("s").records(too_big.clone()).send().await.expect_err("record over 1 MiB");
    assert_eq!(code(&error).as_deref(), Some("ValidationException"));
    // A larger per-record limit (streams can be raised to 10 MiB) lets it through.
    server.set_limits(Limits { max_record_bytes: 2 * MIB, ..Limits::default() });
    kinesis.put_records().stream_name("s").records(too_big).send().await.expect("raised record limit");
    server.stop().await;
}

#[tokio::test]
async fn request_size_limit_is_5_mib_by_default_and_settable() {
    let server = start(&[("s", 1)]).await;
    let kinesis = client(&server.endpoint());
    let six_mib: Vec<_> = (0..6).map(|i| entry(&format!("k{i}"), vec![1u8; MIB - 2])).collect();
    let error = kinesis
        .put_records()
        .stream_name("s")
        .set_records(Some(six_mib.clone()))
        .send()
        .await
        .expect_err("6 MiB request");
    assert_eq!(code(&error).as_deref(), Some("InvalidArgumentException"));
    assert_eq!(server.stats().records_accepted, 0);
    server.set_limits(Limits { max_request_bytes: 10 * MIB, ..Limits::default() });
    let ok = kinesis
        .put_records()
        .stream_name("s")
        .set_records(Some(six_mib))
        .send()
        .await
        .expect("6 MiB under a 10 MiB limit");
    assert_eq!(ok.records().len(), 6);
    server.stop().await;
}

#[tokio::test]
async fn partition_key_length_is_checked_in_characters() {
    let server = start(&[("s", 1)]).await;
    let kinesis = client(&server.endpoint());
    let long = "x".repeat(257);
    let error =
        kinesis.put_records().stream_name("s").records(entry(&long, "d")).send().await.expect_err("257-character key");
    assert_eq!(code(&error).as_deref(), Some("ValidationException"));
    // 256 two-byte characters are 512 bytes but within the limit.
    let wide = "é".repeat(256);
    kinesis.put_records().stream_name("s").records(entry(&wide, "d")).send().await.expect("256 characters");
    let error = kinesis
        .put_record()
        .stream_name("s")
        .partition_key("")
        .data(aws_sdk_kinesis::primitives::Blob::new("d"))
        .send()
        .await
        .expect_err("empty key");
    assert_eq!(code(&error).as_deref(), Some("ValidationException"));
    server.stop().await;
}

#[tokio::test]
async fn explicit_hash_key_must_be_in_range() {
    let server = start(&[("s", 2)]).await;
    let kinesis = client(&server.endpoint());
    for bad in ["340282366920938463463374607431768211456", "-1", "12a", ""] {
        let error = kinesis
            .put_records()
            .stream_name("s")
            .records(
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .partition_key("k")
                    .explicit_hash_key(bad)
                    .data(aws_sdk_kinesis::primitives::Blob::new("d"))
                    .build()
                    .expect("entry"),
            )
            .send()
            .await
            .expect_err(bad);
        assert_eq!(code(&error).as_deref(), Some("InvalidArgumentException"), "{bad}");
    }
    kinesis
        .put_records()
        .stream_name("s")
        .records(entry_with_hash("k", u128::MAX, b"d"))
        .send()
        .await
        .expect("2^128-1 is valid");
    server.stop().await;
}

#[tokio::test]
async fn missing_and_duplicate_streams() {
    let server = start(&[("s", 1)]).await;
    let kinesis = client(&server.endpoint());
    let error =
        kinesis.put_records().stream_name("missing").records(entry("k", "d")).send().await.expect_err("missing stream");
    assert_eq!(code(&error).as_deref(), Some("ResourceNotFoundException"));
    let error = kinesis.create_stream().stream_name("s").shard_count(1).send().await.expect_err("duplicate");
    assert_eq!(code(&error).as_deref(), Some("ResourceInUseException"));
    let stats = server.stats();
    assert_eq!(stats.errors_by_type.get("ResourceNotFoundException"), Some(&1));
    server.stop().await;
}

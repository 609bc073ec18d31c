//! Records land in the shard the MD5 rule (or the explicit hash key) names, in order,
//! and can be read back.

use crate::common::{client, entry, entry_with_hash, md5_hash_key, start};
use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType, ShardIteratorType};
use aws_sdk_kinesis::Client;

/// (shard id, start, end) of the open shards, from ListShards.
async fn open_ranges(kinesis: &Client, stream: &str) -> Vec<(String, u128, u128)> {
    let listed = kinesis
        .list_shards()
        .stream_name(stream)
        .shard_filter(ShardFilter::builder().r#type(ShardFilterType::AtLatest).build().expect("filter"))
        .send()
        .await
        .expect("list shards");
    listed
        .shards()
        .iter()
        .map(|shard| {
            let range = shard.hash_key_range().expect("range");
            (
                shard.shard_id().to_string(),
                range.starting_hash_key().parse().expect("start"),
                range.ending_hash_key().parse().expect("end"),
            )
        })
        .collect()
}

fn owner(ranges: &[(String, u128, u128)], hash: u128) -> &str {
    ranges
        .iter()
        .find(|(_, start, end)| *start <= hash && hash <= *end)
        .map(|(id, _, _)| id.as_str())
        .expect("some shard owns every hash key")
}

#[tokio::test]
async fn md5_rule_routes_partition_keys() {
    // The documented vector: MD5("pk1") = f7cfd01c... = 329398341438914906102347661116985167824.
    assert_eq!(md5_hash_key("pk1"), 329398341438914906102347661116985167824);
    let server = start(&[("s", 5)]).await;
    let kinesis = client(&server.endpoint());
    let ranges = open_ranges(&kinesis, "s").await;
    assert_eq!(ranges.len(), 5);
    let keys: Vec<String> = (0..400).map(|i| format!("user-{i}-{}", i * 7919)).collect();
    let answer = kinesis
        .put_records()
        .stream_name("s")
        .set_records(Some(keys.iter().map(|k| entry(k, k.as_bytes())).collect()))
        .send()
        .await
        .expect("put");
    let mut per_shard = std::collections::HashMap::new();
    for (key, result) in keys.iter().zip(answer.records()) {
        let expected = owner(&ranges, md5_hash_key(key));
        assert_eq!(result.shard_id(), Some(expected), "key {key}");
        *per_shard.entry(expected.to_string()).or_insert(0) += 1;
    }
    assert_eq!(per_shard.len(), 5, "400 keys spread over all shards");
    // The store holds each record in the shard it reported, with the sent data, in order.
    for shard in server.records("s") {
        let mut previous = String::new();
        for record in &shard.records {
            let hash = md5_hash_key(&record.partition_key);
            assert!(shard.starting_hash_key <= hash && hash <= shard.ending_hash_key);
            assert_eq!(record.data.as_ref(), record.partition_key.as_bytes());
            assert!(record.sequence_number > previous);
            previous = record.sequence_number.clone();
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn explicit_hash_keys_at_range_edges() {
    let server = start(&[("s", 3)]).await;
    let kinesis = client(&server.endpoint());
    let ranges = open_ranges(&kinesis, "s").await;
    assert_eq!(ranges[0].1, 0);
    assert_eq!(ranges[2].2, u128::MAX);
    let mut sent = Vec::new();
    for (id, start, end) in &ranges {
        sent.push((id.clone(), *start));
        sent.push((id.clone(), *end));
    }
    let answer = kinesis
        .put_records()
        .stream_name("s")
        // The partition key hashes elsewhere; the explicit hash key must win.
        .set_records(Some(sent.iter().map(|(_, hash)| entry_with_hash("pk1", *hash, b"edge")).collect()))
        .send()
        .await
        .expect("put");
    for ((expected, hash), result) in sent.iter().zip(answer.records()) {
        assert_eq!(result.shard_id(), Some(expected.as_str()), "hash key {hash}");
    }
    let stored: Vec<Option<u128>> = server.records("s")[1].records.iter().map(|r| r.explicit_hash_key).collect();
    assert_eq!(stored, vec![Some(ranges[1].1), Some(ranges[1].2)]);
    server.stop().await;
}

#[tokio::test]
async fn stream_arn_put_record_and_read_back() {
    let server = start(&[("orders", 2)]).await;
    let kinesis = client(&server.endpoint());
    let arn = kinesis
        .describe_stream_summary()
        .stream_name("orders")
        .send()
        .await
        .expect("describe")
        .stream_description_summary()
        .expect("summary")
        .stream_arn()
        .to_string();
    assert_eq!(arn, "arn:aws:kinesis:us-east-1:000000000000:stream/orders");
    // Any account or region in the ARN is accepted.
    let foreign = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders";
    kinesis
        .put_records()
        .stream_arn(foreign)
        .records(entry("a", "first"))
        .records(entry("a", "second"))
        .send()
        .await
        .expect("put by ARN");
    let single = kinesis
        .put_record()
        .stream_arn(&arn)
        .partition_key("a")
        .data(aws_sdk_kinesis::primitives::Blob::new("third"))
        .send()
        .await
        .expect("put record");
    let shard_id = single.shard_id().to_string();
    assert_eq!(server.stats().records_accepted, 3);

    let iterator = kinesis
        .get_shard_iterator()
        .stream_name("orders")
        .shard_id(&shard_id)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("iterator")
        .shard_iterator
        .expect("iterator value");
    let read = kinesis.get_records().shard_iterator(iterator).send().await.expect("read");
    let data: Vec<&[u8]> = read.records().iter().map(|r| r.data().as_ref()).collect();
    assert_eq!(data, vec![b"first".as_slice(), b"second", b"third"]);

    let after_first = kinesis
        .get_shard_iterator()
        .stream_name("orders")
        .shard_id(&shard_id)
        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
        .starting_sequence_number(read.records()[0].sequence_number())
        .send()
        .await
        .expect("iterator")
        .shard_iterator
        .expect("iterator value");
    let rest = kinesis.get_records().shard_iterator(after_first).limit(1).send().await.expect("read");
    assert_eq!(rest.records().len(), 1);
    assert_eq!(rest.records()[0].data().as_ref(), b"second");
    assert!(rest.next_shard_iterator().is_some());
    server.stop().await;
}

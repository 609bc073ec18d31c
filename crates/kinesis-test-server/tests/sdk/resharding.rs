//! Split, merge and uniform scaling: parents close, children take the new records.

use crate::common::{client, entry, entry_with_hash, start};
use aws_sdk_kinesis::types::{ScalingType, ShardFilter, ShardFilterType, ShardIteratorType};
use kinesis_test_server::{even_ranges, ShardRecords};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn shard<'a>(shards: &'a [ShardRecords], id: &str) -> &'a ShardRecords {
    shards.iter().find(|s| s.shard_id == id).expect("shard exists")
}

#[tokio::test]
async fn split_and_merge_route_to_children() {
    let server = start(&[("s", 1)]).await;
    let kinesis = client(&server.endpoint());
    kinesis
        .put_records()
        .stream_name("s")
        .records(entry_with_hash("k", 5, b"before"))
        .send()
        .await
        .expect("put before split");
    let boundary: u128 = 1 << 127;
    kinesis
        .split_shard()
        .stream_name("s")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key(boundary.to_string())
        .send()
        .await
        .expect("split");

    let listed = kinesis.list_shards().stream_name("s").send().await.expect("list");
    let shards = listed.shards();
    assert_eq!(shards.len(), 3);
    let parent = &shards[0];
    assert!(parent.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_some());
    for child in &shards[1..] {
        assert_eq!(child.parent_shard_id(), Some("shardId-000000000000"));
        assert!(child.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_none());
    }
    assert_eq!(shards[1].hash_key_range().map(|r| r.ending_hash_key().to_string()), Some((boundary - 1).to_string()));

    let answer = kinesis
        .put_records()
        .stream_name("s")
        .records(entry_with_hash("k", boundary - 1, b"low"))
        .records(entry_with_hash("k", boundary, b"high"))
        .send()
        .await
        .expect("put after split");
    let ids: Vec<_> = answer.records().iter().filter_map(|r| r.shard_id()).collect();
    assert_eq!(ids, vec!["shardId-000000000001", "shardId-000000000002"]);

    // Reading the closed parent to its end names its children.
    let iterator = kinesis
        .get_shard_iterator()
        .stream_name("s")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("iterator")
        .shard_iterator
        .expect("iterator");
    let read = kinesis.get_records().shard_iterator(iterator).send().await.expect("read");
    assert_eq!(read.records().len(), 1);
    assert!(read.next_shard_iterator().is_none());
    assert_eq!(read.child_shards().len(), 2);

    kinesis
        .merge_shards()
        .stream_name("s")
        .shard_to_merge("shardId-000000000002")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await
        .expect("merge");
    let answer = kinesis
        .put_records()
        .stream_name("s")
        .records(entry("anything", "merged"))
        .send()
        .await
        .expect("put after merge");
    assert_eq!(answer.records()[0].shard_id(), Some("shardId-000000000003"));

    let shards = server.records("s");
    let merged = shard(&shards, "shardId-000000000003");
    assert_eq!(merged.parent_shard_id.as_deref(), Some("shardId-000000000002"));
    assert_eq!(merged.adjacent_parent_shard_id.as_deref(), Some("shardId-000000000001"));
    assert_eq!((merged.starting_hash_key, merged.ending_hash_key), (0, u128::MAX));
    assert_eq!(merged.records.len(), 1);
    assert!(!shard(&shards, "shardId-000000000001").open);
    server.stop().await;
}

#[tokio::test]
async fn update_shard_count_is_uniform() {
    let server = start(&[("s", 2)]).await;
    let kinesis = client(&server.endpoint());
    let answer = kinesis
        .update_shard_count()
        .stream_name("s")
        .target_shard_count(3)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .expect("scale");
    assert_eq!(answer.current_shard_count(), Some(2));
    let open = kinesis
        .list_shards()
        .stream_name("s")
        .shard_filter(ShardFilter::builder().r#type(ShardFilterType::AtLatest).build().expect("filter"))
        .send()
        .await
        .expect("list");
    let mut ranges: Vec<(u128, u128)> = open
        .shards()
        .iter()
        .filter_map(|s| s.hash_key_range())
        .map(|r| (r.starting_hash_key().parse().expect("start"), r.ending_hash_key().parse().expect("end")))
        .collect();
    ranges.sort();
    assert_eq!(ranges, even_ranges(3));
    for shard in open.shards() {
        assert!(shard.parent_shard_id().is_some());
    }
    server.stop().await;
}

#[tokio::test]
async fn split_during_load_loses_nothing() {
    let server = Arc::new(start(&[("s", 2)]).await);
    let kinesis = client(&server.endpoint());
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..3 {
        let kinesis = kinesis.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            let mut batch = 0;
            while !stop.load(Ordering::Relaxed) {
                let records = (0..100).map(|i| entry(&format!("w{writer}-{batch}-{i}"), vec![b'x'; 50])).collect();
                let answer = kinesis
                    .put_records()
                    .stream_name("s")
                    .set_records(Some(records))
                    .send()
                    .await
                    .expect("put during load");
                accepted += answer.records().iter().filter(|r| r.sequence_number().is_some()).count() as u64;
                batch += 1;
            }
            accepted
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    server.split_shard("s", "shardId-000000000000", 1 << 126).expect("split");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    server.merge_shards("s", "shardId-000000000003", "shardId-000000000001").expect("merge");
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    stop.store(true, Ordering::Relaxed);
    let mut accepted = 0;
    for writer in writers {
        accepted += writer.await.expect("writer");
    }
    let shards = server.records("s");
    let stored: u64 = shards.iter().map(|s| s.record_count).sum();
    assert_eq!(stored, accepted);
    assert_eq!(server.stats().records_accepted, accepted);
    // Every shard created by the resharding got records, and every record lies in range.
    for shard in &shards {
        assert!(shard.record_count > 0, "{} got no records", shard.shard_id);
        for record in &shard.records {
            let hash = crate::common::md5_hash_key(&record.partition_key);
            assert!(shard.starting_hash_key <= hash && hash <= shard.ending_hash_key);
        }
    }
    Arc::try_unwrap(server).ok().expect("sole owner").stop().await;
}

//! Copies of what a stream holds, for tests and the control API.

use super::shard::shard_id;
use super::stream::Stream;
use crate::sequence::sequence_number;
use bytes::Bytes;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One stored record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Sequence number as returned to the client.
    pub sequence_number: String,
    /// Partition key as sent.
    pub partition_key: String,
    /// ExplicitHashKey, if one was sent.
    pub explicit_hash_key: Option<u128>,
    /// Data bytes (decoded).
    pub data: Bytes,
    /// When the server stored it.
    pub arrival: SystemTime,
}

/// One shard: its description, totals and records (empty in blackhole mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardRecords {
    /// ShardId, e.g. `shardId-000000000000`.
    pub shard_id: String,
    /// First hash key of the shard's range.
    pub starting_hash_key: u128,
    /// Last hash key of the shard's range.
    pub ending_hash_key: u128,
    /// Parent shard (split or merge), if any.
    pub parent_shard_id: Option<String>,
    /// Second parent of a merge, if any.
    pub adjacent_parent_shard_id: Option<String>,
    /// Whether the shard still takes records (not closed by a split or merge).
    pub open: bool,
    /// Number of records stored.
    pub record_count: u64,
    /// Data plus partition key bytes stored.
    pub byte_count: u64,
    /// Wrapping u64 sum of the CRC-32 (IEEE) of each record's data (independent of order).
    pub digest: u64,
    /// The records, in sequence order.
    pub records: Vec<Record>,
}

impl Stream {
    /// Copies every shard's description, totals and records (cheap: data is shared).
    pub fn snapshot(&self) -> Vec<ShardRecords> {
        let topology = self.read();
        topology
            .shards
            .iter()
            .map(|shard| {
                let state = shard.lock();
                let records = state
                    .records
                    .iter()
                    .map(|record| Record {
                        sequence_number: sequence_number(&self.sequence_prefix, record.counter),
                        partition_key: String::from_utf8_lossy(&record.partition_key).into_owned(),
                        explicit_hash_key: record.explicit_hash_key,
                        data: record.data.clone(),
                        arrival: UNIX_EPOCH + Duration::from_millis(record.arrival_ms),
                    })
                    .collect();
                ShardRecords {
                    shard_id: shard.id.clone(),
                    starting_hash_key: shard.start,
                    ending_hash_key: shard.end,
                    parent_shard_id: shard.parent.map(shard_id),
                    adjacent_parent_shard_id: shard.adjacent_parent.map(shard_id),
                    open: state.ending_counter.is_none(),
                    record_count: state.count,
                    byte_count: state.bytes,
                    digest: state.digest,
                    records,
                }
            })
            .collect()
    }
}

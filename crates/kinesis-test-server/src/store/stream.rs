//! A stream: its shard topology and the write path into its shards.

use super::shard::{Shard, ShardInfo, StoredRecord};
use crate::error::ACCOUNT_ID;
use crate::faults::{EntryFault, ShardThroughput};
use crate::hash;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A stream. Writers hold the topology read lock while they append, so a split or merge
/// (write lock) never closes a shard under a writer.
pub(crate) struct Stream {
    pub name: String,
    pub arn: String,
    pub created_ms: u64,
    /// First 36 digits of every sequence number of this stream.
    pub sequence_prefix: String,
    next_counter: AtomicU64,
    topology: RwLock<Topology>,
    blackhole: bool,
}

/// All shards of a stream (index = shard number) and the open ones sorted by hash range.
pub(crate) struct Topology {
    pub shards: Vec<Arc<Shard>>,
    pub open: Vec<Arc<Shard>>,
}

impl Topology {
    /// Position in `open` of the shard whose range holds `hash`.
    pub fn route(&self, hash: u128) -> usize {
        let position = self.open.partition_point(|shard| shard.end < hash);
        position.min(self.open.len().saturating_sub(1))
    }

    pub fn find(&self, shard_id: &str) -> Option<&Arc<Shard>> {
        let index = super::parse_shard_id(shard_id)?;
        self.shards.get(index as usize)
    }
}

/// One record of a write request, validated and hashed, not yet stored.
pub(crate) struct PendingRecord {
    pub hash: u128,
    pub explicit_hash_key: Option<u128>,
    /// Partition key bytes (empty in blackhole mode).
    pub partition_key: Bytes,
    /// Data bytes (empty in blackhole mode).
    pub data: Bytes,
    /// Data plus partition key bytes.
    pub size: u32,
    pub digest: u64,
    pub fault: EntryFault,
}

/// What became of one PendingRecord.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Stored {
        shard: u32,
        counter: u64,
    },
    /// Failed at random with the given fault.
    Faulted {
        shard: u32,
        fault: EntryFault,
    },
    /// Refused by the per-shard throughput limits.
    Throttled {
        shard: u32,
    },
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Stream {
    pub fn new(name: &str, region: &str, shards: u32, blackhole: bool) -> Self {
        let created_ms = now_ms();
        let ranges = hash::even_ranges(shards);
        let first_counter = crate::sequence::first_counter(created_ms);
        let all: Vec<Arc<Shard>> = ranges
            .into_iter()
            .enumerate()
            .map(|(index, range)| Arc::new(Shard::new(index as u32, range, (None, None), first_counter, created_ms)))
            .collect();
        Stream {
            name: name.to_string(),
            arn: format!("arn:aws:kinesis:{region}:{ACCOUNT_ID}:stream/{name}"),
            created_ms,
            sequence_prefix: crate::sequence::sequence_prefix(created_ms, name),
            next_counter: AtomicU64::new(first_counter),
            topology: RwLock::new(Topology { open: all.clone(), shards: all }),
            blackhole,
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Topology> {
        self.topology.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Topology> {
        self.topology.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `count` consecutive counters and returns the first.
    pub(super) fn take_counters(&self, count: u64) -> u64 {
        self.next_counter.fetch_add(count, Ordering::Relaxed)
    }

    /// Descriptions of all shards, by shard number.
    pub fn shard_infos(&self) -> Vec<ShardInfo> {
        self.read().shards.iter().map(|shard| shard.info()).collect()
    }

    pub fn open_shard_count(&self) -> usize {
        self.read().open.len()
    }

    /// Routes and stores `records`. Each touched shard is locked once; within a shard the
    /// records keep their request order. Returns one outcome per record, in request order.
    pub fn append(&self, records: &[PendingRecord], throughput: Option<&ShardThroughput>) -> Vec<Outcome> {
        let arrival_ms = now_ms();
        let topology = self.read();
        let mut order: Vec<(u32, u32)> =
            records.iter().enumerate().map(|(i, record)| (topology.route(record.hash) as u32, i as u32)).collect();
        order.sort_unstable();
        let mut outcomes = vec![Outcome::Throttled { shard: 0 }; records.len()];
        let now = Instant::now();
        for group in order.chunk_by(|a, b| a.0 == b.0) {
            let Some(shard) = topology.open.get(group[0].0 as usize) else {
                continue;
            };
            let mut state = shard.lock();
            match throughput {
                Some(limits) => state
                    .bucket
                    .get_or_insert_with(|| crate::throttle::TokenBucket::full(limits, now))
                    .refill(limits, now),
                None => state.bucket = None,
            }
            let mut counter = self.take_counters(group.len() as u64);
            let (mut stored, mut bytes, mut digest) = (0u64, 0u64, state.digest);
            for &(_, i) in group {
                let record = &records[i as usize];
                let index = shard.index;
                outcomes[i as usize] = if record.fault != EntryFault::None {
                    Outcome::Faulted { shard: index, fault: record.fault }
                } else if !state.bucket.as_mut().is_none_or(|bucket| bucket.try_take(record.size as usize)) {
                    Outcome::Throttled { shard: index }
                } else {
                    if !self.blackhole {
                        state.records.push(StoredRecord {
                            counter,
                            partition_key: record.partition_key.clone(),
                            data: record.data.clone(),
                            explicit_hash_key: record.explicit_hash_key,
                            arrival_ms,
                        });
                    }
                    stored += 1;
                    bytes += u64::from(record.size);
                    digest = digest.wrapping_add(record.digest);
                    counter += 1;
                    Outcome::Stored { shard: index, counter: counter - 1 }
                };
            }
            state.count += stored;
            state.bytes += bytes;
            state.digest = digest;
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(hash: u128) -> PendingRecord {
        PendingRecord {
            hash,
            explicit_hash_key: Some(hash),
            partition_key: Bytes::from_static(b"k"),
            data: Bytes::from_static(b"data"),
            size: 5,
            digest: hash::data_digest(b"data"),
            fault: EntryFault::None,
        }
    }

    #[test]
    fn routes_by_range_and_keeps_order() {
        let stream = Stream::new("s", "us-east-1", 2, false);
        let half = 1u128 << 127;
        let records = [pending(half), pending(0), pending(half - 1), pending(u128::MAX)];
        let outcomes = stream.append(&records, None);
        let shards: Vec<u32> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Stored { shard, .. } => *shard,
                _ => u32::MAX,
            })
            .collect();
        assert_eq!(shards, vec![1, 0, 0, 1]);
        let topology = stream.read();
        let counters: Vec<u64> = topology.shards[0].lock().records.iter().map(|r| r.counter).collect();
        assert_eq!(counters.len(), 2);
        assert!(counters[0] < counters[1]);
        assert_eq!(topology.shards[1].lock().count, 2);
    }

    #[test]
    fn blackhole_counts_without_keeping() {
        let stream = Stream::new("s", "us-east-1", 1, true);
        stream.append(&[pending(1), pending(2)], None);
        let topology = stream.read();
        let state = topology.shards[0].lock();
        assert!(state.records.is_empty());
        assert_eq!(state.count, 2);
        assert_eq!(state.bytes, 10);
        assert_eq!(state.digest, hash::data_digest(b"data").wrapping_mul(2));
    }

    #[test]
    fn throughput_limit_refuses_excess() {
        let stream = Stream::new("s", "us-east-1", 1, false);
        let limits = ShardThroughput { records_per_sec: 3, bytes_per_sec: 1_000_000 };
        let records: Vec<PendingRecord> = (0..5).map(pending).collect();
        let outcomes = stream.append(&records, Some(&limits));
        let throttled = outcomes.iter().filter(|o| matches!(o, Outcome::Throttled { .. })).count();
        assert_eq!(throttled, 2);
    }
}

//! One shard: its fixed description and its mutable state.

use crate::throttle::TokenBucket;
use bytes::Bytes;
use std::sync::Mutex;

/// The ShardId of shard number `index`: `shardId-000000000000`.
pub(crate) fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Shard number of a ShardId; `None` if it is not of the form `shardId-<digits>`.
pub(crate) fn parse_shard_id(id: &str) -> Option<u32> {
    let digits = id.strip_prefix("shardId-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A shard. The description never changes; `state` holds what does.
pub(crate) struct Shard {
    pub index: u32,
    pub id: String,
    pub start: u128,
    pub end: u128,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    pub starting_counter: u64,
    pub created_ms: u64,
    pub state: Mutex<ShardState>,
}

/// What changes in a shard: its records, totals, throttle buckets and closing point.
#[derive(Default)]
pub(crate) struct ShardState {
    pub records: Vec<StoredRecord>,
    pub count: u64,
    pub bytes: u64,
    pub digest: u64,
    pub ending_counter: Option<u64>,
    pub closed_ms: Option<u64>,
    pub bucket: Option<TokenBucket>,
}

/// A record as kept in memory; data and key share the buffer of the request they came in.
pub(crate) struct StoredRecord {
    pub counter: u64,
    pub partition_key: Bytes,
    pub data: Bytes,
    pub explicit_hash_key: Option<u128>,
    pub arrival_ms: u64,
}

/// A copy of a shard's description and closing point, for listing.
#[derive(Clone, Debug)]
pub(crate) struct ShardInfo {
    pub index: u32,
    pub start: u128,
    pub end: u128,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    pub starting_counter: u64,
    pub ending_counter: Option<u64>,
    pub created_ms: u64,
    pub closed_ms: Option<u64>,
}

impl Shard {
    pub fn new(
        index: u32,
        range: (u128, u128),
        parents: (Option<u32>, Option<u32>),
        starting_counter: u64,
        created_ms: u64,
    ) -> Self {
        Shard {
            index,
            id: shard_id(index),
            start: range.0,
            end: range.1,
            parent: parents.0,
            adjacent_parent: parents.1,
            starting_counter,
            created_ms,
            state: Mutex::new(ShardState::default()),
        }
    }

    /// Locks the state; a poisoned lock still holds consistent data (no panics mid-update).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, ShardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn info(&self) -> ShardInfo {
        let state = self.lock();
        ShardInfo {
            index: self.index,
            start: self.start,
            end: self.end,
            parent: self.parent,
            adjacent_parent: self.adjacent_parent,
            starting_counter: self.starting_counter,
            ending_counter: state.ending_counter,
            created_ms: self.created_ms,
            closed_ms: state.closed_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ids() {
        assert_eq!(shard_id(0), "shardId-000000000000");
        assert_eq!(shard_id(12), "shardId-000000000012");
        assert_eq!(parse_shard_id("shardId-000000000012"), Some(12));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("shard-1"), None);
    }
}

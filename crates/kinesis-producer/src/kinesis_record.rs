//! A record as Kinesis sees it: one user record sent raw, or an aggregate of several.

use crate::aggregation::{AggregateTables, AGGREGATE_PARTITION_KEY};
use crate::record::PendingRecord;
use crate::transport::{Encode, EntryData, PutEntry};
use std::sync::Arc;
use std::time::Instant;

/// One PutRecords entry and the user records it carries.
pub(crate) struct KinesisRecord {
    /// The user records inside, in order.
    pub members: Vec<PendingRecord>,
    /// The aggregate's key tables (unused for a single record, which is sent raw).
    tables: AggregateTables,
    /// Shard it was predicted to land in; `None` when routed without a shard map.
    pub predicted_shard: Option<Arc<str>>,
    /// Send no later than this.
    pub deadline: Instant,
    /// Requests that carried it so far.
    pub sends: u32,
}

impl KinesisRecord {
    /// One user record, sent as it is.
    pub fn raw(record: PendingRecord, predicted_shard: Option<Arc<str>>, deadline: Instant) -> Self {
        Self::aggregate(vec![record], AggregateTables::default(), predicted_shard, deadline)
    }

    /// The records of a closed aggregate (sent raw if there is only one).
    pub fn aggregate(
        members: Vec<PendingRecord>,
        tables: AggregateTables,
        predicted_shard: Option<Arc<str>>,
        deadline: Instant,
    ) -> Self {
        KinesisRecord { members, tables, predicted_shard, deadline, sends: 0 }
    }

    fn is_aggregate(&self) -> bool {
        self.members.len() > 1
    }

    /// Bytes Kinesis counts: data (the raw payload, or the encoded aggregate) plus partition key.
    pub fn size(&self) -> usize {
        let entry = self.entry();
        entry.data.len() + entry.partition_key.len()
    }

    /// Hash key Kinesis routes by: the first user record's.
    pub fn hash_key(&self) -> u128 {
        self.members[0].hash_key
    }

    /// The request entry: an aggregate, encoded as the request is written, with its first
    /// record's hash key explicit so that it lands where all of its records were predicted; a
    /// raw record with the user's keys.
    pub fn entry(&self) -> PutEntry<'_> {
        if self.is_aggregate() {
            PutEntry {
                data: EntryData::Encoded(self),
                partition_key: AGGREGATE_PARTITION_KEY,
                explicit_hash_key: Some(self.hash_key()),
            }
        } else {
            let record = &self.members[0];
            PutEntry {
                data: EntryData::Raw(&record.data),
                partition_key: record.partition_key.as_str(),
                explicit_hash_key: record.explicit_hash_key(),
            }
        }
    }

    /// Total bytes of the user records inside.
    pub fn user_bytes(&self) -> usize {
        self.members.iter().map(PendingRecord::size).sum()
    }
}

impl Encode for KinesisRecord {
    fn encoded_len(&self) -> usize {
        self.tables.encoded_len()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.tables.encode(&self.members, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregation::Aggregator;
    use crate::spare_buffers::SpareBuffers;
    use crate::test_support::pending;

    #[test]
    fn raw_record_keeps_the_users_keys() {
        let now = Instant::now();
        let r = KinesisRecord::raw(pending("pk1", None, b"d"), None, now);
        let e = r.entry();
        assert!(matches!(e.data, EntryData::Raw(b"d")), "a raw record is sent as it is");
        assert_eq!(e.partition_key, "pk1");
        assert_eq!(e.explicit_hash_key, None);
        assert_eq!(r.size(), 4);
        let r = KinesisRecord::raw(pending("pk1", Some(7), b"d"), None, now);
        assert_eq!(r.entry().explicit_hash_key, Some(7));
    }

    #[test]
    fn aggregate_uses_a_and_the_first_hash_key() {
        let mut aggregator = Aggregator::default();
        for (pk, ehk, data) in [("pk1", None, b"x"), ("pk2", Some(5), b"y")] {
            aggregator.try_add(pending(pk, ehk, data), 1 << 20, u64::MAX).unwrap();
        }
        let encoded_len = aggregator.size();
        let (members, tables) = aggregator.finish(&mut SpareBuffers::default()).unwrap();
        let r = KinesisRecord::aggregate(members, tables, None, Instant::now());
        let e = r.entry();
        let mut scratch = Vec::new();
        let encoded = e.data.bytes(&mut scratch);
        assert_eq!(encoded.len(), encoded_len);
        assert_eq!(e.data.len(), encoded_len);
        assert_eq!(encoded[..4], crate::aggregation::MAGIC);
        assert_eq!(e.partition_key, "a");
        assert_eq!(e.explicit_hash_key, Some(329398341438914906102347661116985167824));
        assert_eq!(r.size(), encoded_len + 1);
        assert_eq!(r.user_bytes(), 8);
    }
}

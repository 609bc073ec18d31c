//! A record as Kinesis sees it: one user record sent raw, or an aggregate of several.

use crate::aggregation::AGGREGATE_PARTITION_KEY;
use crate::record::PendingRecord;
use crate::transport::PutEntry;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// One PutRecords entry and the user records it carries.
pub(crate) struct KinesisRecord {
    /// Data as sent (the raw payload, or the encoded aggregate).
    pub data: Bytes,
    /// The user records inside, in order.
    pub members: Vec<PendingRecord>,
    /// Shard it was predicted to land in; `None` when routed without a shard map.
    pub predicted_shard: Option<Arc<str>>,
    /// Send no later than this.
    pub deadline: Instant,
    /// Requests that carried it so far.
    pub sends: u32,
}

impl KinesisRecord {
    pub fn new(data: Bytes, members: Vec<PendingRecord>, predicted_shard: Option<Arc<str>>, deadline: Instant) -> Self {
        KinesisRecord { data, members, predicted_shard, deadline, sends: 0 }
    }

    fn is_aggregate(&self) -> bool {
        self.members.len() > 1
    }

    /// Partition key sent: the user's for a raw record, `"a"` for an aggregate.
    pub fn partition_key(&self) -> &str {
        if self.is_aggregate() {
            AGGREGATE_PARTITION_KEY
        } else {
            self.members[0].partition_key.as_str()
        }
    }

    /// Bytes Kinesis counts: data plus partition key.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key().len()
    }

    /// Hash key Kinesis routes by: the first user record's.
    pub fn hash_key(&self) -> u128 {
        self.members[0].hash_key
    }

    /// The request entry. An aggregate carries its first record's hash key explicitly so that
    /// it lands where all of its records were predicted; a raw record keeps the user's.
    pub fn entry(&self) -> PutEntry {
        let explicit_hash_key = if self.is_aggregate() {
            Some(self.hash_key().to_string())
        } else {
            self.members[0].explicit_hash_key().map(|k| k.to_string())
        };
        PutEntry { data: self.data.clone(), partition_key: self.partition_key().to_owned(), explicit_hash_key }
    }

    /// Total bytes of the user records inside.
    pub fn user_bytes(&self) -> usize {
        self.members.iter().map(PendingRecord::size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::pending;

    #[test]
    fn raw_record_keeps_the_users_keys() {
        let now = Instant::now();
        let r = KinesisRecord::new("d".into(), vec![pending("pk1", None, b"d")], None, now);
        let e = r.entry();
        assert_eq!(e.partition_key, "pk1");
        assert_eq!(e.explicit_hash_key, None);
        assert_eq!(r.size(), 4);
        let r = KinesisRecord::new("d".into(), vec![pending("pk1", Some(7), b"d")], None, now);
        assert_eq!(r.entry().explicit_hash_key.as_deref(), Some("7"));
    }

    #[test]
    fn aggregate_uses_a_and_the_first_hash_key() {
        let now = Instant::now();
        let members = vec![pending("pk1", None, b"x"), pending("pk2", Some(5), b"y")];
        let r = KinesisRecord::new(Bytes::from_static(b"aggregate"), members, None, now);
        let e = r.entry();
        assert_eq!(e.partition_key, "a");
        assert_eq!(e.explicit_hash_key.as_deref(), Some("329398341438914906102347661116985167824"));
        assert_eq!(r.size(), 10);
        assert_eq!(r.user_bytes(), 8);
    }
}

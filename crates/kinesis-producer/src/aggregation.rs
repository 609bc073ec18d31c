//! The KPL aggregation format: many user records in one Kinesis record, with exact sizes.
//!
//! Data = magic `F3 89 9A C2` ++ protobuf `AggregatedRecord` ++ MD5 of the protobuf bytes.
//! Fields are written in the order KPL writes them (partition key table, explicit hash key
//! table, records), so the output is byte-identical to KPL's.
//!
//! A closed aggregate keeps its records and key tables, not its encoding: it is encoded when
//! its request is built (again for a retry), so the producer holds each record's data once.

use crate::prefetch::prefetch;
use crate::record::PendingRecord;
use crate::spare_buffers::SpareBuffers;
use md5::{Digest, Md5};
use prost::encoding::{encode_varint, encoded_len_varint};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// First bytes of every aggregated record.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
const DIGEST_LEN: usize = 16;
/// Partition key of every record that carries 2 or more user records.
pub const AGGREGATE_PARTITION_KEY: &str = "a";

// Protobuf tags: (field number << 3) | wire type.
const TAG_PARTITION_KEY_TABLE: u8 = 0x0A;
const TAG_EXPLICIT_HASH_KEY_TABLE: u8 = 0x12;
const TAG_RECORDS: u8 = 0x1A;
const TAG_PARTITION_KEY_INDEX: u8 = 0x08;
const TAG_EXPLICIT_HASH_KEY_INDEX: u8 = 0x10;
const TAG_DATA: u8 = 0x1A;

/// Table lookup keys are hashes already, so they are used as they are.
#[derive(Default)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(*b) ^ (self.0 >> 56);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
}

type KeyIndex = HashMap<u128, u32, BuildHasherDefault<PassThroughHasher>>;

fn length_delimited_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn decimal_len(mut n: u128) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Key for de-duplicating partition keys: a multiplicative hash of the key, eight bytes at a
/// time (a collision only costs a duplicate table entry, never a wrong one, since hits are
/// compared in full).
fn partition_key_lookup(bytes: &[u8]) -> u128 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    u128::from(h)
}

/// Members whose data is prefetched ahead of the one being copied: enough to cover the memory
/// latency of records read from DRAM while copying 200-byte records.
const PREFETCH_AHEAD: usize = 8;
/// Bytes prefetched per record; the hardware prefetcher follows longer records by itself.
const PREFETCH_BYTES: usize = 256;

/// Encoded size of one `Record` message body.
fn record_body_len(pk_index: u32, ehk_index: Option<u32>, data_len: usize) -> usize {
    1 + encoded_len_varint(u64::from(pk_index))
        + ehk_index.map_or(0, |i| 1 + encoded_len_varint(u64::from(i)))
        + length_delimited_len(data_len)
}

/// What an aggregate's encoding needs besides its records: the key tables and each record's
/// entries in them.
#[derive(Default)]
pub(crate) struct AggregateTables {
    /// Per record: index into the partition key table and, if any, the explicit hash key table.
    indices: Vec<(u32, Option<u32>)>,
    /// Record whose partition key is each table entry.
    pk_table: Vec<u32>,
    ehk_table: Vec<u128>,
    protobuf_len: usize,
}

impl AggregateTables {
    /// Exact size of the encoded aggregate.
    pub fn encoded_len(&self) -> usize {
        MAGIC.len() + self.protobuf_len + DIGEST_LEN
    }

    /// Appends the aggregate of `members` (the records these tables were built for) to `out`.
    pub fn encode(&self, members: &[PendingRecord], out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        for &member in &self.pk_table {
            let key = members[member as usize].partition_key.as_bytes();
            out.push(TAG_PARTITION_KEY_TABLE);
            encode_varint(key.len() as u64, out);
            out.extend_from_slice(key);
        }
        for &ehk in &self.ehk_table {
            let digits = ehk.to_string();
            out.push(TAG_EXPLICIT_HASH_KEY_TABLE);
            encode_varint(digits.len() as u64, out);
            out.extend_from_slice(digits.as_bytes());
        }
        for (i, (member, &(pk_index, ehk_index))) in members.iter().zip(&self.indices).enumerate() {
            if let Some(ahead) = members.get(i + PREFETCH_AHEAD) {
                prefetch(&ahead.data[..ahead.data.len().min(PREFETCH_BYTES)]);
            }
            out.push(TAG_RECORDS);
            encode_varint(record_body_len(pk_index, ehk_index, member.data.len()) as u64, out);
            out.push(TAG_PARTITION_KEY_INDEX);
            encode_varint(u64::from(pk_index), out);
            if let Some(i) = ehk_index {
                out.push(TAG_EXPLICIT_HASH_KEY_INDEX);
                encode_varint(u64::from(i), out);
            }
            out.push(TAG_DATA);
            encode_varint(member.data.len() as u64, out);
            out.extend_from_slice(&member.data);
        }
        let digest = Md5::digest(&out[start + MAGIC.len()..]);
        out.extend_from_slice(&digest);
        debug_assert_eq!(out.len() - start, self.encoded_len());
    }

    /// Empty tables with room for as many records as these.
    fn with_room_like(&self) -> Self {
        AggregateTables {
            indices: Vec::with_capacity(self.indices.len()),
            pk_table: Vec::with_capacity(self.pk_table.len()),
            ehk_table: Vec::new(),
            protobuf_len: 0,
        }
    }
}

/// Builds one aggregated record incrementally, always knowing its exact encoded size.
#[derive(Default)]
pub(crate) struct Aggregator {
    members: Vec<PendingRecord>,
    tables: AggregateTables,
    pk_lookup: KeyIndex,
    ehk_lookup: KeyIndex,
}

impl Aggregator {
    /// Number of user records held.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Exact size of the Kinesis record data if it were finished now.
    #[cfg(test)]
    pub fn size(&self) -> usize {
        match self.members.len() {
            0 => 0,
            1 => self.members[0].data.len(),
            _ => self.tables.encoded_len(),
        }
    }

    /// Adds the record if the aggregate stays within `max_size` bytes and `max_count` records;
    /// otherwise hands it back. An empty aggregate always takes the record.
    // Handing the record back by value (rather than boxing it) keeps the hot path allocation-free.
    #[allow(clippy::result_large_err)]
    pub fn try_add(&mut self, record: PendingRecord, max_size: usize, max_count: u64) -> Result<(), PendingRecord> {
        let pk_key = partition_key_lookup(record.partition_key.as_bytes());
        let pk_existing =
            self.pk_lookup.get(&pk_key).copied().filter(|&i| {
                self.members[self.tables.pk_table[i as usize] as usize].partition_key == record.partition_key
            });
        let ehk_existing = record.explicit_hash_key().map(|ehk| (ehk, self.ehk_lookup.get(&ehk).copied()));

        let tables = &mut self.tables;
        let pk_index = pk_existing.unwrap_or(tables.pk_table.len() as u32);
        let ehk_index = ehk_existing.map(|(_, existing)| existing.unwrap_or(tables.ehk_table.len() as u32));
        let mut added = length_delimited_len(record_body_len(pk_index, ehk_index, record.data.len()));
        if pk_existing.is_none() {
            added += length_delimited_len(record.partition_key.len());
        }
        if let Some((ehk, None)) = ehk_existing {
            added += length_delimited_len(decimal_len(ehk));
        }

        if !self.members.is_empty() {
            let new_size = tables.encoded_len() + added;
            if new_size > max_size || self.members.len() as u64 >= max_count {
                return Err(record);
            }
        }

        let member = self.members.len() as u32;
        if pk_existing.is_none() {
            tables.pk_table.push(member);
            self.pk_lookup.entry(pk_key).or_insert(pk_index);
        }
        if let Some((ehk, None)) = ehk_existing {
            tables.ehk_table.push(ehk);
            self.ehk_lookup.insert(ehk, ehk_index.unwrap_or_default());
        }
        tables.indices.push((pk_index, ehk_index));
        tables.protobuf_len += added;
        self.members.push(record);
        Ok(())
    }

    /// Closes the aggregate and empties the aggregator: its records and key tables. The next
    /// member list comes from `spares` when it has one.
    pub fn finish(&mut self, spares: &mut SpareBuffers) -> Option<(Vec<PendingRecord>, AggregateTables)> {
        if self.members.is_empty() {
            return None;
        }
        // The next aggregate likely holds as many records: start it with room for them rather
        // than growing (and copying) the lists again.
        let next_members = spares.take_members(self.members.len());
        let members = std::mem::replace(&mut self.members, next_members);
        let next_tables = self.tables.with_room_like();
        let tables = std::mem::replace(&mut self.tables, next_tables);
        self.pk_lookup.clear();
        self.ehk_lookup.clear();
        Some((members, tables))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_support::pending;

    /// The aggregation schema, for decoding in tests.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AggregatedRecord {
        #[prost(string, repeated, tag = "1")]
        pub partition_key_table: Vec<String>,
        #[prost(string, repeated, tag = "2")]
        pub explicit_hash_key_table: Vec<String>,
        #[prost(message, repeated, tag = "3")]
        pub records: Vec<Record>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Record {
        #[prost(uint64, required, tag = "1")]
        pub partition_key_index: u64,
        #[prost(uint64, optional, tag = "2")]
        pub explicit_hash_key_index: Option<u64>,
        #[prost(bytes = "vec", required, tag = "3")]
        pub data: Vec<u8>,
    }

    /// Checks magic and digest, then decodes.
    pub fn decode(data: &[u8]) -> AggregatedRecord {
        assert_eq!(&data[..4], &MAGIC);
        let body = &data[4..data.len() - DIGEST_LEN];
        assert_eq!(Md5::digest(body).as_slice(), &data[data.len() - DIGEST_LEN..]);
        prost::Message::decode(body).expect("valid protobuf")
    }

    /// Closes the aggregate and encodes it as it is sent (a single record raw).
    fn finish_encoded(agg: &mut Aggregator) -> (Vec<u8>, Vec<PendingRecord>) {
        let (members, tables) = agg.finish(&mut SpareBuffers::default()).expect("records held");
        let mut out = Vec::new();
        if members.len() == 1 {
            out.extend_from_slice(&members[0].data);
        } else {
            tables.encode(&members, &mut out);
        }
        (out, members)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn matches_kpl_test_vector_byte_for_byte() {
        let mut agg = Aggregator::default();
        for (pk, ehk, data) in [("pk1", None, "hello"), ("pk2", Some(123u128), "world"), ("pk1", None, "!")] {
            assert!(agg.try_add(pending(pk, ehk, data.as_bytes()), 1 << 20, u64::MAX).is_ok());
        }
        let expected = "f3899ac20a03706b310a03706b3212033132331a0908001a0568656c6c6f1a0b080110001a05776f726c641a0508001a0121adb0e9722c84524d925abfbb4aee29c8";
        assert_eq!(agg.size(), 66);
        let (data, members) = finish_encoded(&mut agg);
        assert_eq!(hex(&data), expected);
        assert_eq!(members.len(), 3);
        assert!(agg.is_empty());
    }

    #[test]
    fn single_record_stays_raw() {
        let mut agg = Aggregator::default();
        agg.try_add(pending("k", None, b"payload"), 1000, 10).unwrap();
        assert_eq!(agg.size(), 7);
        let (data, _) = finish_encoded(&mut agg);
        assert_eq!(&data[..], b"payload");
    }

    #[test]
    fn exact_size_equals_encoded_length_for_random_aggregates() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let mut agg = Aggregator::default();
            let count = 2 + next() % 200;
            let mut expected = Vec::new();
            for _ in 0..count {
                let pk = format!("key-{}", next() % (1 + round % 40));
                let ehk = (next() % 3 == 0).then(|| u128::from(next()) << (next() % 64));
                let len = (next() % if next() % 10 == 0 { 40_000 } else { 300 }) as usize;
                let data = vec![(next() & 0xff) as u8; len];
                if agg.try_add(pending(&pk, ehk, &data), 1 << 20, u64::MAX).is_ok() {
                    expected.push((pk, ehk, data));
                }
            }
            let size = agg.size();
            let (bytes, members) = finish_encoded(&mut agg);
            assert_eq!(bytes.len(), size, "round {round}");
            if members.len() < 2 {
                continue;
            }
            let decoded = decode(&bytes);
            assert_eq!(decoded.records.len(), expected.len());
            for (rec, (pk, ehk, data)) in decoded.records.iter().zip(&expected) {
                assert_eq!(&decoded.partition_key_table[rec.partition_key_index as usize], pk);
                let got_ehk = rec.explicit_hash_key_index.map(|i| decoded.explicit_hash_key_table[i as usize].clone());
                assert_eq!(got_ehk, ehk.map(|e| e.to_string()));
                assert_eq!(&rec.data, data);
            }
            let unique: std::collections::HashSet<_> = expected.iter().map(|e| &e.0).collect();
            assert_eq!(decoded.partition_key_table.len(), unique.len(), "keys are de-duplicated");
        }
    }

    #[test]
    fn respects_max_size_and_count() {
        let mut agg = Aggregator::default();
        let mut accepted = 0;
        while agg.try_add(pending(&format!("k{accepted}"), None, &[0u8; 100]), 1000, u64::MAX).is_ok() {
            accepted += 1;
        }
        assert!(agg.size() <= 1000);
        assert!(agg.size() > 1000 - 120, "filled close to the limit: {}", agg.size());
        let size = agg.size();
        assert_eq!(finish_encoded(&mut agg).0.len(), size);

        let mut agg = Aggregator::default();
        for i in 0..3 {
            agg.try_add(pending(&format!("k{i}"), None, b"x"), 1000, 3).unwrap();
        }
        assert!(agg.try_add(pending("k", None, b"x"), 1000, 3).is_err());
    }

    #[test]
    fn next_aggregate_starts_with_room_for_as_many_records() {
        let mut agg = Aggregator::default();
        for i in 0..150 {
            agg.try_add(pending(&format!("k{i}"), None, b"x"), 1 << 20, u64::MAX).unwrap();
        }
        let (members, _) = agg.finish(&mut SpareBuffers::default()).unwrap();
        assert_eq!(members.len(), 150);
        assert!(agg.is_empty());
        assert!(agg.members.capacity() >= 150, "member list regrows: {}", agg.members.capacity());
    }

    #[test]
    fn aggregates_encoded_one_after_another_each_carry_their_own_digest() {
        let mut agg = Aggregator::default();
        let mut out = b"earlier bytes".to_vec();
        let mut expected = Vec::new();
        for round in 0..3 {
            for i in 0..50 {
                agg.try_add(pending(&format!("k{round}-{i}"), None, &[round as u8; 100]), 1 << 20, u64::MAX).unwrap();
            }
            let (members, tables) = agg.finish(&mut SpareBuffers::default()).unwrap();
            let start = out.len();
            tables.encode(&members, &mut out);
            expected.push((start..out.len(), round as u8));
        }
        for (range, fill) in expected {
            let decoded = decode(&out[range]);
            assert_eq!(decoded.records.len(), 50);
            assert!(decoded.records.iter().all(|r| r.data == vec![fill; 100]));
        }
    }

    #[test]
    fn encoding_again_gives_the_same_bytes() {
        let mut agg = Aggregator::default();
        for (pk, ehk) in [("a", None), ("b", Some(9u128)), ("a", Some(9u128))] {
            agg.try_add(pending(pk, ehk, pk.as_bytes()), 1 << 20, u64::MAX).unwrap();
        }
        let (members, tables) = agg.finish(&mut SpareBuffers::default()).unwrap();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        tables.encode(&members, &mut first);
        tables.encode(&members, &mut second);
        assert_eq!(first, second);
        assert_eq!(first.len(), tables.encoded_len());
    }

    #[test]
    fn oversized_record_is_taken_alone() {
        let mut agg = Aggregator::default();
        agg.try_add(pending("big", None, &[1u8; 5000]), 1000, 10).unwrap();
        assert!(agg.try_add(pending("small", None, b"x"), 1000, 10).is_err());
        assert_eq!(finish_encoded(&mut agg).0.len(), 5000);
    }
}

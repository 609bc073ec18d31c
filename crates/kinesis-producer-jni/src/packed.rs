//! The packed batch: how one JNI call carries many records, and its decoder.
//!
//! A batch of `n` records travels as parallel arrays that JRuby fills cheaply:
//! - `streams`: the distinct stream names; `stream_index[i]` picks record `i`'s stream
//!   (without `stream_index`, every record goes to the only stream given);
//! - `keys` with `key_lengths[i]`: the partition keys' UTF-8 bytes, one after the other;
//! - `explicit_hash_keys`: absent, or one optional decimal string per record;
//! - `payloads` with `payload_lengths[i]`: the data, one after the other.
//!
//! The byte arrays may be longer than their lengths add up to (reused buffers); the rest is
//! ignored. A batch whose arrays do not fit together is malformed as a whole; a record whose
//! content is invalid (its key is not UTF-8, or the engine refuses it) fails alone.

use bytes::Bytes;
use kinesis_producer::{PartitionKey, UserRecord};
use std::fmt;
use std::sync::Arc;

/// Error code of a record whose partition key bytes are not UTF-8 (the engine's code for
/// invalid partition keys).
pub const INVALID_PARTITION_KEY: &str = "InvalidPartitionKey";

/// One packed batch, borrowed from the arrays the caller passed.
#[derive(Clone, Debug)]
pub struct PackedBatch<'a> {
    /// Distinct stream names.
    pub streams: &'a [String],
    /// Per record, an index into `streams`; `None` when there is exactly one stream.
    pub stream_index: Option<&'a [i32]>,
    /// Partition keys' UTF-8 bytes, concatenated.
    pub keys: &'a [u8],
    /// Byte length of each partition key.
    pub key_lengths: &'a [i32],
    /// Per record, an optional explicit hash key; `None` when no record has one.
    pub explicit_hash_keys: Option<&'a [Option<String>]>,
    /// Payloads, concatenated; records get slices of it, not copies.
    pub payloads: Bytes,
    /// Byte length of each payload.
    pub payload_lengths: &'a [i32],
}

/// Why a packed batch cannot be read at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed batch: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

/// A record refused by the bridge before it reached the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Position of the record in the batch.
    pub index: usize,
    /// Error code reported in its outcome.
    pub code: &'static str,
    /// Human-readable reason.
    pub message: String,
}

/// A decoded batch: the records for the engine, in batch order, and the refused ones.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Records to submit, in batch order, without the refused ones.
    pub records: Vec<UserRecord>,
    /// Refused records, by increasing index.
    pub rejected: Vec<Rejection>,
}

/// Bytes that `lengths` cover. Each length must be non-negative and the total must fit in
/// `available` bytes.
pub fn total_length(name: &str, lengths: &[i32], available: usize) -> Result<usize, Malformed> {
    let mut total: usize = 0;
    for (index, &length) in lengths.iter().enumerate() {
        let length =
            usize::try_from(length).map_err(|_| Malformed(format!("{name}[{index}] is negative ({length})")))?;
        total = total
            .checked_add(length)
            .filter(|&t| t <= available)
            .ok_or_else(|| Malformed(format!("{name} add up to more than the {available} bytes given")))?;
    }
    Ok(total)
}

/// Checks that the arrays fit together, then splits the batch into records.
pub fn decode(batch: &PackedBatch<'_>) -> Result<Decoded, Malformed> {
    let count = batch.payload_lengths.len();
    check_count("keyLengths", batch.key_lengths.len(), count)?;
    if let Some(hash_keys) = batch.explicit_hash_keys {
        check_count("explicitHashKeys", hash_keys.len(), count)?;
    }
    match batch.stream_index {
        Some(indexes) => {
            check_count("streamIndex", indexes.len(), count)?;
            if let Some((i, bad)) =
                indexes.iter().enumerate().find(|(_, &s)| usize::try_from(s).map_or(true, |s| s >= batch.streams.len()))
            {
                return Err(Malformed(format!(
                    "streamIndex[{i}] is {bad}, but there are {} streams",
                    batch.streams.len()
                )));
            }
        }
        None if batch.streams.len() == 1 || (count == 0 && batch.streams.is_empty()) => {}
        None => {
            return Err(Malformed(format!(
                "streamIndex is required unless exactly one stream is given ({} given)",
                batch.streams.len()
            )))
        }
    }
    total_length("keyLengths", batch.key_lengths, batch.keys.len())?;
    total_length("payloadLengths", batch.payload_lengths, batch.payloads.len())?;

    // Each stream name is shared by its records rather than copied into each.
    let streams: Vec<Arc<str>> = batch.streams.iter().map(|s| Arc::from(s.as_str())).collect();
    let mut decoded = Decoded { records: Vec::with_capacity(count), rejected: Vec::new() };
    let (mut key_at, mut payload_at) = (0usize, 0usize);
    for index in 0..count {
        // Lengths were checked above: non-negative, and their sums fit the arrays.
        let key_end = key_at + batch.key_lengths[index] as usize;
        let payload_end = payload_at + batch.payload_lengths[index] as usize;
        let key = &batch.keys[key_at..key_end];
        let payload = batch.payloads.slice(payload_at..payload_end);
        (key_at, payload_at) = (key_end, payload_end);

        let partition_key = match std::str::from_utf8(key) {
            Ok(text) => PartitionKey::from(text),
            Err(e) => {
                decoded.rejected.push(Rejection {
                    index,
                    code: INVALID_PARTITION_KEY,
                    message: format!("partition key is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()),
                });
                continue;
            }
        };
        let stream = match batch.stream_index {
            Some(indexes) => &streams[indexes[index] as usize],
            None => &streams[0],
        };
        decoded.records.push(UserRecord {
            stream: stream.clone(),
            partition_key,
            explicit_hash_key: batch.explicit_hash_keys.and_then(|keys| keys[index].clone()),
            data: payload,
        });
    }
    Ok(decoded)
}

fn check_count(name: &str, found: usize, expected: usize) -> Result<(), Malformed> {
    if found == expected {
        Ok(())
    } else {
        Err(Malformed(format!("{name} has {found} entries but payloadLengths has {expected}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch<'a>(
        streams: &'a [String],
        keys: &'a [u8],
        key_lengths: &'a [i32],
        payload_lengths: &'a [i32],
    ) -> PackedBatch<'a> {
        PackedBatch {
            streams,
            stream_index: None,
            keys,
            key_lengths,
            explicit_hash_keys: None,
            payloads: Bytes::from_static(b"helloworld!"),
            payload_lengths,
        }
    }

    #[test]
    fn splits_keys_and_payloads_without_copying() {
        let streams = vec!["s".to_string()];
        let packed = batch(&streams, b"k1key2", &[2, 4], &[5, 5]);
        let decoded = decode(&packed).unwrap();
        assert!(decoded.rejected.is_empty());
        let keys: Vec<_> = decoded.records.iter().map(|r| r.partition_key.as_str()).collect();
        assert_eq!(keys, ["k1", "key2"]);
        assert_eq!(&decoded.records[0].data[..], b"hello");
        assert_eq!(&decoded.records[1].data[..], b"world");
        // A slice of the one buffer, not a copy.
        assert_eq!(decoded.records[1].data.as_ptr(), packed.payloads[5..].as_ptr());
    }

    #[test]
    fn invalid_utf8_key_fails_that_record_only() {
        let streams = vec!["s".to_string()];
        let decoded = decode(&batch(&streams, b"a\xffb", &[1, 1, 1], &[1, 1, 1])).unwrap();
        assert_eq!(decoded.records.len(), 2);
        assert_eq!(decoded.rejected.len(), 1);
        assert_eq!(decoded.rejected[0].index, 1);
        assert_eq!(decoded.rejected[0].code, "InvalidPartitionKey");
        assert!(decoded.rejected[0].message.contains("not valid UTF-8"), "{}", decoded.rejected[0].message);
    }

    #[test]
    fn routes_by_stream_index_and_keeps_hash_keys() {
        let streams = vec!["a".to_string(), "b".to_string()];
        let hash_keys = vec![None, Some("42".to_string())];
        let mut packed = batch(&streams, b"xy", &[1, 1], &[1, 1]);
        packed.stream_index = Some(&[1, 0]);
        packed.explicit_hash_keys = Some(&hash_keys);
        let decoded = decode(&packed).unwrap();
        assert_eq!(&*decoded.records[0].stream, "b");
        assert_eq!(&*decoded.records[1].stream, "a");
        assert_eq!(decoded.records[1].explicit_hash_key.as_deref(), Some("42"));
        assert_eq!(decoded.records[0].explicit_hash_key, None);
    }

    #[test]
    fn malformed_layouts_are_refused_with_a_reason() {
        let one = vec!["s".to_string()];
        let two = vec!["a".to_string(), "b".to_string()];
        let cases: Vec<(PackedBatch<'_>, &str)> = vec![
            (batch(&one, b"k", &[1], &[1, 1]), "keyLengths has 1 entries"),
            (batch(&one, b"k", &[-1], &[1]), "keyLengths[0] is negative"),
            (batch(&one, b"k", &[2], &[1]), "keyLengths add up to more than the 1 bytes"),
            (batch(&one, b"k", &[1], &[12]), "payloadLengths add up to more than the 11 bytes"),
            (batch(&one, b"k", &[1], &[i32::MIN]), "payloadLengths[0] is negative"),
            (batch(&two, b"k", &[1], &[1]), "streamIndex is required"),
            (batch(&[], b"k", &[1], &[1]), "streamIndex is required"),
            (PackedBatch { stream_index: Some(&[2]), ..batch(&two, b"k", &[1], &[1]) }, "streamIndex[0] is 2"),
            (PackedBatch { stream_index: Some(&[-1]), ..batch(&two, b"k", &[1], &[1]) }, "streamIndex[0] is -1"),
            (PackedBatch { stream_index: Some(&[]), ..batch(&two, b"k", &[1], &[1]) }, "streamIndex has 0 entries"),
            (PackedBatch { explicit_hash_keys: Some(&[]), ..batch(&one, b"k", &[1], &[1]) }, "explicitHashKeys has 0"),
        ];
        for (packed, expected) in cases {
            let error = decode(&packed).unwrap_err();
            assert!(error.to_string().contains(expected), "{error} does not mention {expected:?}");
        }
    }

    #[test]
    fn lengths_may_leave_the_end_of_a_buffer_unused() {
        let streams = vec!["s".to_string()];
        let decoded = decode(&batch(&streams, b"kkkk", &[1], &[3])).unwrap();
        assert_eq!(&decoded.records[0].data[..], b"hel");
    }

    #[test]
    fn empty_batch_is_fine() {
        let decoded = decode(&batch(&[], b"", &[], &[])).unwrap();
        assert!(decoded.records.is_empty() && decoded.rejected.is_empty());
    }
}

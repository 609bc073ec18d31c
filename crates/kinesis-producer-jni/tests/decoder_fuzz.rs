//! Property-based fuzzing of the packed batch decoder: arbitrary arrays, lengths and bytes never
//! panic; a batch is either refused as malformed or split into exactly its records.

use bytes::Bytes;
use kinesis_producer_jni::packed::{decode, PackedBatch};
use proptest::prelude::*;

/// Arbitrary (often inconsistent) packed arrays.
#[derive(Debug, Clone)]
struct RawBatch {
    streams: Vec<String>,
    stream_index: Option<Vec<i32>>,
    keys: Vec<u8>,
    key_lengths: Vec<i32>,
    explicit_hash_keys: Option<Vec<Option<String>>>,
    payloads: Vec<u8>,
    payload_lengths: Vec<i32>,
}

fn small_length() -> impl Strategy<Value = i32> {
    prop_oneof![8 => 0..12i32, 1 => any::<i32>(), 1 => Just(i32::MAX), 1 => Just(i32::MIN), 1 => Just(-1)]
}

fn raw_batch() -> impl Strategy<Value = RawBatch> {
    (0..6usize, 0..3usize).prop_flat_map(|(count, streams)| {
        let count_or_other = prop_oneof![8 => Just(count), 1 => 0..8usize];
        (
            proptest::collection::vec("[a-z]{0,3}", streams),
            proptest::option::of(count_or_other.clone().prop_flat_map(|n| proptest::collection::vec(-1..4i32, n))),
            proptest::collection::vec(any::<u8>(), 0..40),
            count_or_other.clone().prop_flat_map(|n| proptest::collection::vec(small_length(), n)),
            proptest::option::of(
                count_or_other.prop_flat_map(|n| proptest::collection::vec(proptest::option::of("[0-9x]{0,4}"), n)),
            ),
            proptest::collection::vec(any::<u8>(), 0..60),
            proptest::collection::vec(small_length(), count),
        )
            .prop_map(
                |(streams, stream_index, keys, key_lengths, explicit_hash_keys, payloads, payload_lengths)| RawBatch {
                    streams,
                    stream_index,
                    keys,
                    key_lengths,
                    explicit_hash_keys,
                    payloads,
                    payload_lengths,
                },
            )
    })
}

/// A consistent batch: every length fits, keys are random bytes (often not UTF-8).
fn valid_batch() -> impl Strategy<Value = RawBatch> {
    (1..4usize, proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..6), 0..20usize), 0..30))
        .prop_flat_map(|(streams, records)| {
            let count = records.len();
            (Just(streams), Just(records), proptest::collection::vec(0..streams as i32, count))
        })
        .prop_map(|(streams, records, stream_index)| {
            let mut batch = RawBatch {
                streams: (0..streams).map(|s| format!("stream-{s}")).collect(),
                stream_index: Some(stream_index),
                keys: Vec::new(),
                key_lengths: Vec::new(),
                explicit_hash_keys: None,
                payloads: Vec::new(),
                payload_lengths: Vec::new(),
            };
            for (i, (key, payload_length)) in records.into_iter().enumerate() {
                batch.key_lengths.push(key.len() as i32);
                batch.keys.extend(key);
                batch.payload_lengths.push(payload_length as i32);
                batch.payloads.extend((0..payload_length).map(|b| (i + b) as u8));
            }
            batch
        })
}

fn packed(raw: &RawBatch) -> PackedBatch<'_> {
    PackedBatch {
        streams: &raw.streams,
        stream_index: raw.stream_index.as_deref(),
        keys: &raw.keys,
        key_lengths: &raw.key_lengths,
        explicit_hash_keys: raw.explicit_hash_keys.as_deref(),
        payloads: Bytes::copy_from_slice(&raw.payloads),
        payload_lengths: &raw.payload_lengths,
    }
}

/// Checks a decoded batch against an independent reading of the arrays.
fn check_split(raw: &RawBatch, batch: &PackedBatch<'_>) -> Result<(), TestCaseError> {
    let decoded = match decode(batch) {
        Ok(decoded) => decoded,
        Err(malformed) => {
            prop_assert!(!malformed.0.is_empty());
            return Ok(());
        }
    };
    let count = raw.payload_lengths.len();
    prop_assert_eq!(decoded.records.len() + decoded.rejected.len(), count);
    let mut records = decoded.records.iter();
    let mut rejected = decoded.rejected.iter().peekable();
    let (mut key_at, mut payload_at) = (0usize, 0usize);
    for i in 0..count {
        let key = &raw.keys[key_at..key_at + raw.key_lengths[i] as usize];
        let payload = &raw.payloads[payload_at..payload_at + raw.payload_lengths[i] as usize];
        key_at += key.len();
        payload_at += payload.len();
        if let Some(rejection) = rejected.next_if(|r| r.index == i) {
            prop_assert!(std::str::from_utf8(key).is_err());
            prop_assert_eq!(rejection.code, "InvalidPartitionKey");
            continue;
        }
        let record = records.next().expect("one record per index");
        prop_assert_eq!(record.partition_key.as_bytes(), key);
        prop_assert_eq!(&record.data[..], payload);
        let stream = match &raw.stream_index {
            Some(indexes) => &raw.streams[indexes[i] as usize],
            None => &raw.streams[0],
        };
        prop_assert_eq!(&*record.stream, stream.as_str());
    }
    prop_assert!(rejected.next().is_none());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_arrays_never_panic(raw in raw_batch()) {
        let batch = packed(&raw);
        check_split(&raw, &batch)?;
    }

    #[test]
    fn consistent_batches_split_exactly(raw in valid_batch()) {
        let batch = packed(&raw);
        prop_assert!(decode(&batch).is_ok());
        check_split(&raw, &batch)?;
    }

    #[test]
    fn any_bytes_read_as_a_batch_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Read the arrays out of one byte string, the way a fuzzer drives a decoder.
        let mut at = 0;
        let mut next = |limit: usize| -> usize {
            let value = bytes.get(at).copied().unwrap_or(0) as usize;
            at += 1;
            value % limit.max(1)
        };
        let count = next(8);
        let streams: Vec<String> = (0..next(3)).map(|s| format!("s{s}")).collect();
        let signed = |v: usize| v as i32 - 2;
        let stream_index: Vec<i32> = (0..count).map(|_| signed(next(6))).collect();
        let key_lengths: Vec<i32> = (0..count + next(2)).map(|_| signed(next(8))).collect();
        let payload_lengths: Vec<i32> = (0..count).map(|_| signed(next(10))).collect();
        let split = at.min(bytes.len());
        let rest = &bytes[split..];
        let middle = rest.len() / 2;
        let raw = RawBatch {
            stream_index: if streams.len() == 1 { None } else { Some(stream_index) },
            streams,
            keys: rest[..middle].to_vec(),
            key_lengths,
            explicit_hash_keys: None,
            payloads: rest[middle..].to_vec(),
            payload_lengths,
        };
        let batch = packed(&raw);
        check_split(&raw, &batch)?;
    }
}

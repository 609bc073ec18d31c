//! The PutRecords request body, written in one pass straight from the entries.
//!
//! The SDK's serializer copies every entry's data into its own input, base64-encodes it into a
//! separate string and appends that to a body that grows by doubling. For aggregated records
//! those copies cost about as much as the hashing the request needs anyway, so the body is
//! written here once, into a buffer sized up front. An aggregate is encoded into a scratch
//! buffer the size of one aggregate, still in cache when it is base64-encoded into the body.

use crate::transport::{PutEntry, StreamTarget};
use std::io::Write;

/// Writes the awsJson 1.1 body of a PutRecords request for `entries` into `stream` into an
/// empty buffer from `take`, which is given the size the body will have.
pub(crate) fn put_records_body(
    stream: &StreamTarget,
    entries: &[PutEntry<'_>],
    take: impl FnOnce(usize) -> Vec<u8>,
) -> Vec<u8> {
    let size = body_size_hint(stream, entries);
    let mut body = take(size);
    // Exact: a reused buffer a little too small must not double.
    body.reserve_exact(size);
    let mut scratch = Vec::new();
    body.extend_from_slice(b"{\"Records\":[");
    for (index, entry) in entries.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"Data\":\"");
        base64_simd::STANDARD.encode_append(entry.data.bytes(&mut scratch), &mut body);
        body.extend_from_slice(b"\",\"PartitionKey\":");
        push_json_string(&mut body, entry.partition_key);
        if let Some(explicit_hash_key) = entry.explicit_hash_key {
            // Writing into a Vec cannot fail.
            let _ = write!(body, ",\"ExplicitHashKey\":\"{explicit_hash_key}\"");
        }
        body.push(b'}');
    }
    let (field, value) = match stream {
        StreamTarget::Name(name) => ("StreamName", name),
        StreamTarget::Arn(arn) => ("StreamARN", arn),
    };
    body.extend_from_slice(b"],\"");
    body.extend_from_slice(field.as_bytes());
    body.extend_from_slice(b"\":");
    push_json_string(&mut body, value);
    body.push(b'}');
    body
}

/// Digits of the largest explicit hash key (2^128 - 1).
const MAX_HASH_KEY_DIGITS: usize = 39;

/// The body's length when no string needs escaping (the usual case), so one allocation suffices.
fn body_size_hint(stream: &StreamTarget, entries: &[PutEntry<'_>]) -> usize {
    // Field names, quotes and separators of one entry.
    const ENTRY_OVERHEAD: usize = 64;
    let entries_size: usize = entries
        .iter()
        .map(|e| {
            base64_simd::STANDARD.encoded_length(e.data.len())
                + e.partition_key.len()
                + e.explicit_hash_key.map_or(0, |_| MAX_HASH_KEY_DIGITS)
                + ENTRY_OVERHEAD
        })
        .sum();
    let (StreamTarget::Name(stream) | StreamTarget::Arn(stream)) = stream;
    entries_size + stream.len() + ENTRY_OVERHEAD
}

/// Appends `value` as a JSON string: quotes, backslashes and control characters escaped.
fn push_json_string(body: &mut Vec<u8>, value: &str) {
    body.push(b'"');
    let bytes = value.as_bytes();
    let mut plain_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if !matches!(byte, b'"' | b'\\' | 0..=0x1f) {
            continue;
        }
        body.extend_from_slice(&bytes[plain_from..at]);
        match byte {
            b'"' => body.extend_from_slice(b"\\\""),
            b'\\' => body.extend_from_slice(b"\\\\"),
            b'\n' => body.extend_from_slice(b"\\n"),
            b'\r' => body.extend_from_slice(b"\\r"),
            b'\t' => body.extend_from_slice(b"\\t"),
            _ => body.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
        }
        plain_from = at + 1;
    }
    body.extend_from_slice(&bytes[plain_from..]);
    body.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Encode, EntryData};
    use base64::Engine;
    use serde_json::{json, Value};

    fn entry<'a>(data: &'a [u8], partition_key: &'a str, explicit_hash_key: Option<u128>) -> PutEntry<'a> {
        PutEntry { data: EntryData::Raw(data), partition_key, explicit_hash_key }
    }

    fn parsed(stream: &StreamTarget, entries: &[PutEntry<'_>]) -> Value {
        let body = put_records_body(stream, entries, |_| Vec::new());
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)))
    }

    fn decoded(record: &Value) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(record["Data"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn entries_and_stream_name_as_the_service_expects() {
        let entries = [entry(b"hello", "pk-1", None), entry(&[0, 255, 7, 8], "pk-2", Some(42))];
        let body = parsed(&StreamTarget::Name("logs".into()), &entries);
        assert_eq!(
            body,
            json!({
                "Records": [
                    {"Data": "aGVsbG8=", "PartitionKey": "pk-1"},
                    {"Data": "AP8HCA==", "PartitionKey": "pk-2", "ExplicitHashKey": "42"},
                ],
                "StreamName": "logs",
            })
        );
    }

    #[test]
    fn stream_arn_goes_in_its_own_field() {
        let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/logs";
        let body = parsed(&StreamTarget::Arn(arn.into()), &[entry(b"x", "k", None)]);
        assert_eq!(body["StreamARN"], arn);
        assert!(body.get("StreamName").is_none());
    }

    #[test]
    fn partition_keys_that_need_escaping_survive_the_round_trip() {
        let keys =
            ["quote \" backslash \\ slash /", "tab\tnewline\ncr\r", "bell \u{7} nul \u{0} us \u{1f}", "é 漢字 🙂"];
        let entries: Vec<PutEntry> = keys.iter().map(|k| entry(b"d", k, None)).collect();
        let body = parsed(&StreamTarget::Name("na\"me".into()), &entries);
        let sent: Vec<&str> =
            body["Records"].as_array().unwrap().iter().map(|r| r["PartitionKey"].as_str().unwrap()).collect();
        assert_eq!(sent, keys);
        assert_eq!(body["StreamName"], "na\"me");
    }

    #[test]
    fn data_of_every_length_decodes_to_itself() {
        let data: Vec<Vec<u8>> = (0..70).map(|n| (0..n).map(|i| (i * 37 + n) as u8).collect()).collect();
        let entries: Vec<PutEntry> = data.iter().map(|d| entry(d, "k", None)).collect();
        let body = parsed(&StreamTarget::Name("s".into()), &entries);
        for (record, data) in body["Records"].as_array().unwrap().iter().zip(&data) {
            assert_eq!(&decoded(record), data);
        }
    }

    /// Writes `n` bytes counting up from `n`.
    struct Counting(u8);

    impl Encode for Counting {
        fn encoded_len(&self) -> usize {
            usize::from(self.0)
        }
        fn encode(&self, out: &mut Vec<u8>) {
            out.extend((0..self.0).map(|i| self.0.wrapping_add(i)));
        }
    }

    #[test]
    fn encoded_entries_are_written_between_raw_ones() {
        let (long, short) = (Counting(200), Counting(3));
        let entries = [
            PutEntry { data: EntryData::Encoded(&long), partition_key: "a", explicit_hash_key: Some(u128::MAX) },
            entry(b"raw", "k", None),
            PutEntry { data: EntryData::Encoded(&short), partition_key: "a", explicit_hash_key: Some(0) },
        ];
        let body = parsed(&StreamTarget::Name("s".into()), &entries);
        let records = body["Records"].as_array().unwrap();
        assert_eq!(decoded(&records[0]), (200..=255).chain(0..144).collect::<Vec<u8>>());
        assert_eq!(records[0]["ExplicitHashKey"], u128::MAX.to_string());
        assert_eq!(decoded(&records[1]), b"raw");
        assert_eq!(decoded(&records[2]), [3, 4, 5], "the scratch buffer is emptied between aggregates");
        assert_eq!(records[2]["ExplicitHashKey"], "0");
    }

    #[test]
    fn one_allocation_when_nothing_needs_escaping() {
        let keys: Vec<String> = (0..500).map(|i| format!("key-{i}")).collect();
        let aggregate = Counting(255);
        let entries: Vec<PutEntry> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| match i % 2 {
                0 => entry(&[b'x'; 1000], key, Some(u128::MAX)),
                _ => PutEntry { data: EntryData::Encoded(&aggregate), partition_key: "a", explicit_hash_key: None },
            })
            .collect();
        let stream = StreamTarget::Name("logs".into());
        let body = put_records_body(&stream, &entries, |_| Vec::new());
        assert!(body.len() <= body_size_hint(&stream, &entries));
        assert_eq!(body.capacity(), body_size_hint(&stream, &entries));
    }
}

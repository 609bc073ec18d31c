//! The PutRecords request body, written in one pass straight from the entries.
//!
//! The SDK's serializer copies every entry's data into its own input, base64-encodes it into a
//! separate string and appends that to a body that grows by doubling. For aggregated records
//! those copies cost about as much as the hashing the request needs anyway, so the body is
//! written here once, into a buffer sized up front.

use crate::transport::{PutEntry, StreamTarget};

/// Writes the awsJson 1.1 body of a PutRecords request for `entries` into `stream` into an
/// empty buffer from `take`, which is given the size the body will have.
pub(crate) fn put_records_body(
    stream: &StreamTarget,
    entries: &[PutEntry],
    take: impl FnOnce(usize) -> Vec<u8>,
) -> Vec<u8> {
    let size = body_size_hint(stream, entries);
    let mut body = take(size);
    // Exact: a reused buffer a little too small must not double.
    body.reserve_exact(size);
    body.extend_from_slice(b"{\"Records\":[");
    for (index, entry) in entries.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"Data\":\"");
        base64_simd::STANDARD.encode_append(&entry.data, &mut body);
        body.extend_from_slice(b"\",\"PartitionKey\":");
        push_json_string(&mut body, &entry.partition_key);
        if let Some(explicit_hash_key) = &entry.explicit_hash_key {
            body.extend_from_slice(b",\"ExplicitHashKey\":");
            push_json_string(&mut body, explicit_hash_key);
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

/// The body's length when no string needs escaping (the usual case), so one allocation suffices.
fn body_size_hint(stream: &StreamTarget, entries: &[PutEntry]) -> usize {
    // Field names, quotes and separators of one entry.
    const ENTRY_OVERHEAD: usize = 64;
    let entries_size: usize = entries
        .iter()
        .map(|e| {
            base64_simd::STANDARD.encoded_length(e.data.len())
                + e.partition_key.len()
                + e.explicit_hash_key.as_ref().map_or(0, String::len)
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
    use base64::Engine;
    use bytes::Bytes;
    use serde_json::{json, Value};

    fn entry(data: &[u8], partition_key: &str, explicit_hash_key: Option<&str>) -> PutEntry {
        PutEntry {
            data: Bytes::copy_from_slice(data),
            partition_key: partition_key.to_owned(),
            explicit_hash_key: explicit_hash_key.map(str::to_owned),
        }
    }

    fn parsed(stream: &StreamTarget, entries: &[PutEntry]) -> Value {
        let body = put_records_body(stream, entries, |_| Vec::new());
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)))
    }

    #[test]
    fn entries_and_stream_name_as_the_service_expects() {
        let entries = [entry(b"hello", "pk-1", None), entry(&[0, 255, 7, 8], "pk-2", Some("42"))];
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
        let entries: Vec<PutEntry> =
            (0..70).map(|n| entry(&(0..n).map(|i| (i * 37 + n) as u8).collect::<Vec<u8>>(), "k", None)).collect();
        let body = parsed(&StreamTarget::Name("s".into()), &entries);
        for (record, entry) in body["Records"].as_array().unwrap().iter().zip(&entries) {
            let decoded = base64::engine::general_purpose::STANDARD.decode(record["Data"].as_str().unwrap()).unwrap();
            assert_eq!(decoded, entry.data);
        }
    }

    #[test]
    fn one_allocation_when_nothing_needs_escaping() {
        let entries: Vec<PutEntry> = (0..500).map(|i| entry(&[b'x'; 1000], &format!("key-{i}"), None)).collect();
        let stream = StreamTarget::Name("logs".into());
        let body = put_records_body(&stream, &entries, |_| Vec::new());
        assert!(body.len() <= body_size_hint(&stream, &entries));
        assert_eq!(body.capacity(), body_size_hint(&stream, &entries));
    }
}

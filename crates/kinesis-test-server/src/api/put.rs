//! PutRecords and PutRecord: validation, decoding, routing and the answer.
//!
//! The request body is parsed in place (strings borrowed from it); the decoded data and
//! keys of one request share a single buffer, so storing a record allocates nothing.

use super::parse;
use crate::config::Limits;
use crate::error::{ServiceError, ACCOUNT_ID};
use crate::faults::{Dice, EntryFault};
use crate::hash;
use crate::sequence::{push_zero_padded, write_sequence_number};
use crate::state::State;
use crate::stats::FaultKind;
use crate::store::{Outcome, PendingRecord, Stream};
use bytes::Bytes;
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt::Write;
use std::ops::Range;

#[derive(Deserialize)]
struct PutRecordsInput<'a> {
    #[serde(rename = "StreamName", borrow, default)]
    stream_name: Option<Cow<'a, str>>,
    #[serde(rename = "StreamARN", borrow, default)]
    stream_arn: Option<Cow<'a, str>>,
    #[serde(rename = "Records", borrow)]
    records: Vec<EntryInput<'a>>,
}

#[derive(Deserialize)]
struct EntryInput<'a> {
    #[serde(rename = "Data", borrow)]
    data: Cow<'a, str>,
    #[serde(rename = "PartitionKey", borrow)]
    partition_key: Cow<'a, str>,
    #[serde(rename = "ExplicitHashKey", borrow, default)]
    explicit_hash_key: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct PutRecordInput<'a> {
    #[serde(rename = "StreamName", borrow, default)]
    stream_name: Option<Cow<'a, str>>,
    #[serde(rename = "StreamARN", borrow, default)]
    stream_arn: Option<Cow<'a, str>>,
    #[serde(rename = "Data", borrow)]
    data: Cow<'a, str>,
    #[serde(rename = "PartitionKey", borrow)]
    partition_key: Cow<'a, str>,
    #[serde(rename = "ExplicitHashKey", borrow, default)]
    explicit_hash_key: Option<Cow<'a, str>>,
}

/// PutRecords: up to 500 entries, each with its own outcome.
pub(super) fn put_records(state: &State, body: &[u8], dice: &mut Dice) -> Result<Vec<u8>, ServiceError> {
    let input: PutRecordsInput = parse(body)?;
    let limits = state.limits();
    let count = input.records.len();
    if count == 0 || count > limits.max_records_per_request {
        let bound = if count == 0 {
            "greater than or equal to 1".to_string()
        } else {
            format!("less than or equal to {}", limits.max_records_per_request)
        };
        return Err(ServiceError::validation(format!(
            "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length {bound}"
        )));
    }
    let stream_name = crate::store::resolve_stream_name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let stream = state.registry.get(stream_name)?;
    let mut pending = decode_entries(&input.records, &limits, state.registry.blackhole())?;

    let faults = state.faults();
    if faults.has_entry_faults() {
        for record in &mut pending {
            record.fault = dice.entry_fault(&faults);
        }
    }
    let outcomes = stream.append(&pending, faults.shard_throughput.as_ref());
    Ok(tally_and_answer(state, &stream, &pending, &outcomes))
}

/// PutRecord: one record; over the shard limit it is a request-level throughput error.
pub(super) fn put_record(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: PutRecordInput = parse(body)?;
    let stream_name = crate::store::resolve_stream_name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let stream = state.registry.get(stream_name)?;
    let limits = state.limits();
    let entry =
        EntryInput { data: input.data, partition_key: input.partition_key, explicit_hash_key: input.explicit_hash_key };
    let pending = decode_entries(&[entry], &limits, state.registry.blackhole())?;
    let faults = state.faults();
    let outcomes = stream.append(&pending, faults.shard_throughput.as_ref());
    match outcomes.first() {
        Some(&Outcome::Stored { shard, counter }) => {
            state.counters.accepted(1, pending.first().map_or(0, |r| u64::from(r.size)));
            let mut out = String::with_capacity(128);
            out.push_str("{\"SequenceNumber\":\"");
            write_sequence_number(&mut out, &stream.sequence_prefix, counter);
            out.push_str("\",\"ShardId\":\"shardId-");
            push_zero_padded(&mut out, u64::from(shard), 12);
            out.push_str("\"}");
            Ok(out.into_bytes())
        }
        Some(&Outcome::Throttled { shard }) => {
            state.counters.fault(FaultKind::ShardThrottled, 1);
            Err(ServiceError::throughput_exceeded(throttle_message(&stream.name, shard)))
        }
        _ => Err(ServiceError::internal_failure()),
    }
}

/// Validates entries, hashes them and decodes their data. In blackhole mode the data is
/// decoded into a scratch buffer only to measure and digest it.
fn decode_entries(
    entries: &[EntryInput],
    limits: &Limits,
    blackhole: bool,
) -> Result<Vec<PendingRecord>, ServiceError> {
    let capacity: usize =
        if blackhole { 0 } else { entries.iter().map(|e| e.data.len() / 4 * 3 + 3 + e.partition_key.len()).sum() };
    let mut buffer = Vec::with_capacity(capacity);
    let mut parts: Vec<(Range<usize>, Range<usize>)> = Vec::with_capacity(entries.len());
    let mut pending = Vec::with_capacity(entries.len());
    let mut total = 0usize;
    for (i, entry) in entries.iter().enumerate() {
        let key = entry.partition_key.as_ref();
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > limits.max_partition_key_chars {
            let bound = if key_chars == 0 {
                "greater than or equal to 1".to_string()
            } else {
                format!("less than or equal to {}", limits.max_partition_key_chars)
            };
            return Err(ServiceError::validation(format!(
                "1 validation error detected: Value at 'records.{}.member.partitionKey' failed to satisfy constraint: Member must have length {bound}",
                i + 1
            )));
        }
        let explicit_hash_key = match entry.explicit_hash_key.as_deref() {
            None => None,
            Some(text) => Some(hash::parse_explicit_hash_key(text).ok_or_else(|| {
                ServiceError::invalid_argument(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
                ))
            })?),
        };
        if blackhole {
            buffer.clear();
        }
        let key_start = buffer.len();
        if !blackhole {
            buffer.extend_from_slice(key.as_bytes());
        }
        let data_start = buffer.len();
        base64_simd::STANDARD
            .decode_append(entry.data.as_bytes(), &mut buffer)
            .map_err(|e| ServiceError::serialization(format!("Data of record {} is not valid base64: {e}", i + 1)))?;
        let data = &buffer[data_start..];
        let size = data.len() + key.len();
        if size > limits.max_record_bytes {
            return Err(ServiceError::validation(format!(
                "1 validation error detected: Value at 'records.{}.member.data' failed to satisfy constraint: Member must have length less than or equal to {} (data plus partition key)",
                i + 1,
                limits.max_record_bytes
            )));
        }
        total += size;
        pending.push(PendingRecord {
            hash: explicit_hash_key.unwrap_or_else(|| hash::partition_key_hash(key)),
            explicit_hash_key,
            partition_key: Bytes::new(),
            data: Bytes::new(),
            size: size as u32,
            digest: hash::data_digest(data),
            fault: EntryFault::None,
        });
        parts.push((key_start..data_start, data_start..buffer.len()));
    }
    if total > limits.max_request_bytes {
        return Err(ServiceError::invalid_argument(format!(
            "Records size exceeds {} MB limit",
            limits.max_request_bytes / crate::config::MIB
        )));
    }
    if !blackhole {
        let shared = Bytes::from(buffer);
        for (record, (key, data)) in pending.iter_mut().zip(parts) {
            record.partition_key = shared.slice(key);
            record.data = shared.slice(data);
        }
    }
    Ok(pending)
}

/// Counts outcomes and writes the PutRecords answer.
fn tally_and_answer(state: &State, stream: &Stream, pending: &[PendingRecord], outcomes: &[Outcome]) -> Vec<u8> {
    let (mut accepted, mut bytes) = (0u64, 0u64);
    let (mut random_throughput, mut random_internal, mut throttled) = (0u64, 0u64, 0u64);
    // Records first, so the answer is written in one pass; JSON members have no order.
    let mut entries = String::with_capacity(outcomes.len() * 100 + 64);
    entries.push_str("{\"Records\":[");
    for (i, (outcome, record)) in outcomes.iter().zip(pending).enumerate() {
        if i > 0 {
            entries.push(',');
        }
        match *outcome {
            Outcome::Stored { shard, counter } => {
                accepted += 1;
                bytes += u64::from(record.size);
                entries.push_str("{\"SequenceNumber\":\"");
                write_sequence_number(&mut entries, &stream.sequence_prefix, counter);
                entries.push_str("\",\"ShardId\":\"shardId-");
                push_zero_padded(&mut entries, u64::from(shard), 12);
                entries.push_str("\"}");
            }
            Outcome::Throttled { shard } | Outcome::Faulted { shard, fault: EntryFault::ThroughputExceeded } => {
                if matches!(outcome, Outcome::Throttled { .. }) {
                    throttled += 1;
                } else {
                    random_throughput += 1;
                }
                let _ = write!(
                    entries,
                    "{{\"ErrorCode\":\"ProvisionedThroughputExceededException\",\"ErrorMessage\":\"{}\"}}",
                    throttle_message(&stream.name, shard)
                );
            }
            Outcome::Faulted { .. } => {
                random_internal += 1;
                entries.push_str("{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":\"Internal service failure.\"}");
            }
        }
    }
    let failed = outcomes.len() as u64 - accepted;
    let counters = &state.counters;
    counters.accepted(accepted, bytes);
    counters.entries_failed(failed);
    counters.fault(FaultKind::EntryThroughputExceeded, random_throughput);
    counters.fault(FaultKind::EntryInternalFailure, random_internal);
    counters.fault(FaultKind::ShardThrottled, throttled);
    let _ = write!(entries, "],\"FailedRecordCount\":{failed}}}");
    entries.into_bytes()
}

fn throttle_message(stream: &str, shard: u32) -> String {
    format!("Rate exceeded for shard shardId-{shard:012} in stream {stream} under account {ACCOUNT_ID}.")
}

//! GetShardIterator and GetRecords, for tests that read back what producers wrote.

use super::{answer, epoch_seconds, parse, StreamRef};
use crate::error::{ServiceError, ACCOUNT_ID};
use crate::sequence::{parse_sequence_number, sequence_number};
use crate::state::State;
use crate::store::shard_id;
use base64_simd::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct GetShardIteratorInput {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(rename = "ShardId")]
    shard_id: String,
    #[serde(rename = "ShardIteratorType")]
    kind: String,
    #[serde(rename = "StartingSequenceNumber", default)]
    starting_sequence_number: Option<String>,
    #[serde(rename = "Timestamp", default)]
    timestamp: Option<f64>,
}

/// A position in a shard: the index of the next record in its record list.
struct Position {
    stream: String,
    shard: u32,
    index: usize,
}

impl Position {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode_to_string(format!("{}|{}|{}", self.stream, self.shard, self.index))
    }

    fn decode(token: &str) -> Option<Position> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode_to_vec(token).ok()?).ok()?;
        let mut parts = text.splitn(3, '|');
        Some(Position {
            stream: parts.next()?.to_string(),
            shard: parts.next()?.parse().ok()?,
            index: parts.next()?.parse().ok()?,
        })
    }
}

pub(super) fn get_shard_iterator(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: GetShardIteratorInput = parse(body)?;
    let stream = state.registry.get(input.stream.resolve()?)?;
    let topology = stream.read();
    let shard = topology.find(&input.shard_id).ok_or_else(|| {
        ServiceError::not_found(format!(
            "Shard {} in stream {} under account {ACCOUNT_ID} does not exist",
            input.shard_id, stream.name
        ))
    })?;
    let sequence = || {
        input
            .starting_sequence_number
            .as_deref()
            .and_then(parse_sequence_number)
            .ok_or_else(|| {
                ServiceError::invalid_argument(format!(
                    "StartingSequenceNumber {} used in GetShardIterator on shard {} in stream {} under account {ACCOUNT_ID} is invalid.",
                    input.starting_sequence_number.as_deref().unwrap_or(""),
                    input.shard_id,
                    stream.name
                ))
            })
    };
    let state_guard = shard.lock();
    let records = &state_guard.records;
    let index = match input.kind.as_str() {
        "TRIM_HORIZON" => 0,
        "LATEST" => records.len(),
        "AT_SEQUENCE_NUMBER" => {
            let counter = sequence()?;
            records.partition_point(|r| r.counter < counter)
        }
        "AFTER_SEQUENCE_NUMBER" => {
            let counter = sequence()?;
            records.partition_point(|r| r.counter <= counter)
        }
        "AT_TIMESTAMP" => {
            let ms = input
                .timestamp
                .map(|s| (s.max(0.0) * 1000.0) as u64)
                .ok_or_else(|| {
                    ServiceError::invalid_argument("AT_TIMESTAMP requires a Timestamp.")
                })?;
            records.partition_point(|r| r.arrival_ms < ms)
        }
        other => {
            return Err(ServiceError::validation(format!(
                "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
            )))
        }
    };
    let position = Position { stream: stream.name.clone(), shard: shard.index, index };
    answer(&json!({ "ShardIterator": position.encode() }))
}

#[derive(Deserialize)]
struct GetRecordsInput {
    #[serde(rename = "ShardIterator")]
    shard_iterator: String,
    #[serde(rename = "Limit", default)]
    limit: Option<i64>,
}

pub(super) fn get_records(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: GetRecordsInput = parse(body)?;
    let limit = match input.limit {
        None => 10_000,
        Some(n) if (1..=10_000).contains(&n) => n as usize,
        Some(n) => {
            return Err(ServiceError::validation(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000"
            )))
        }
    };
    let position = Position::decode(&input.shard_iterator)
        .ok_or_else(|| ServiceError::invalid_argument(format!("Invalid ShardIterator: {}", input.shard_iterator)))?;
    let stream = state.registry.get(&position.stream)?;
    let topology = stream.read();
    let shard = topology
        .shards
        .get(position.shard as usize)
        .ok_or_else(|| ServiceError::invalid_argument("Invalid ShardIterator."))?;
    let shard_state = shard.lock();
    let start = position.index.min(shard_state.records.len());
    let end = start.saturating_add(limit).min(shard_state.records.len());
    let records: Vec<Value> = shard_state.records[start..end]
        .iter()
        .map(|r| {
            json!({
                "SequenceNumber": sequence_number(&stream.sequence_prefix, r.counter),
                "ApproximateArrivalTimestamp": epoch_seconds(r.arrival_ms),
                "Data": STANDARD.encode_to_string(&r.data),
                "PartitionKey": String::from_utf8_lossy(&r.partition_key),
            })
        })
        .collect();
    let mut output = json!({ "Records": records, "MillisBehindLatest": 0 });
    let closed = shard_state.ending_counter.is_some();
    if closed && end == shard_state.records.len() {
        let children: Vec<Value> = topology
            .shards
            .iter()
            .filter(|child| child.parent == Some(shard.index) || child.adjacent_parent == Some(shard.index))
            .map(|child| {
                let parents: Vec<String> =
                    child.parent.into_iter().chain(child.adjacent_parent).map(shard_id).collect();
                json!({
                    "ShardId": child.id,
                    "ParentShards": parents,
                    "HashKeyRange": {
                        "StartingHashKey": child.start.to_string(),
                        "EndingHashKey": child.end.to_string(),
                    },
                })
            })
            .collect();
        output["ChildShards"] = Value::Array(children);
    } else {
        let next = Position { stream: stream.name.clone(), shard: shard.index, index: end };
        output["NextShardIterator"] = Value::String(next.encode());
    }
    answer(&output)
}

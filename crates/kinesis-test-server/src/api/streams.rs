//! Stream operations: create, delete, list, describe, and ListShards with paging.

use super::{answer, epoch_seconds, parse, StreamRef};
use crate::error::ServiceError;
use crate::sequence::sequence_number;
use crate::state::State;
use crate::store::{parse_shard_id, shard_id, ShardInfo, Stream};
use base64_simd::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{json, Value};

/// Shards of a stream created in ON_DEMAND mode.
const ON_DEMAND_SHARDS: u32 = 4;
/// Most shards one ListShards answer holds.
const MAX_LIST_SHARDS: usize = 1000;

#[derive(Deserialize)]
struct CreateStreamInput {
    #[serde(rename = "StreamName")]
    name: String,
    #[serde(rename = "ShardCount", default)]
    shard_count: Option<u32>,
}

pub(super) fn create_stream(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: CreateStreamInput = parse(body)?;
    let shards = input.shard_count.unwrap_or(ON_DEMAND_SHARDS);
    state.registry.create(&input.name, shards)?;
    Ok(b"{}".to_vec())
}

pub(super) fn delete_stream(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: StreamRef = parse(body)?;
    let name = input.resolve()?;
    if !state.registry.delete(name) {
        return Err(ServiceError::stream_not_found(name));
    }
    Ok(b"{}".to_vec())
}

pub(super) fn list_streams(state: &State) -> Result<Vec<u8>, ServiceError> {
    let streams: Vec<_> =
        state.registry.names().into_iter().filter_map(|name| state.registry.get(&name).ok()).collect();
    let summaries: Vec<Value> = streams
        .iter()
        .map(|s| {
            json!({
                "StreamName": s.name,
                "StreamARN": s.arn,
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                "StreamCreationTimestamp": epoch_seconds(s.created_ms),
            })
        })
        .collect();
    let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    answer(&json!({
        "StreamNames": names,
        "HasMoreStreams": false,
        "StreamSummaries": summaries,
    }))
}

pub(super) fn describe_stream_summary(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: StreamRef = parse(body)?;
    let stream = state.registry.get(input.resolve()?)?;
    answer(&json!({
        "StreamDescriptionSummary": {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "RetentionPeriodHours": 24,
            "StreamCreationTimestamp": epoch_seconds(stream.created_ms),
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
            "OpenShardCount": stream.open_shard_count(),
            "ConsumerCount": 0,
        }
    }))
}

#[derive(Deserialize)]
struct DescribeStreamInput {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(rename = "Limit", default)]
    limit: Option<usize>,
    #[serde(rename = "ExclusiveStartShardId", default)]
    exclusive_start_shard_id: Option<String>,
}

pub(super) fn describe_stream(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: DescribeStreamInput = parse(body)?;
    let stream = state.registry.get(input.stream.resolve()?)?;
    let limit = input.limit.unwrap_or(100).clamp(1, 10_000);
    let after = input.exclusive_start_shard_id.as_deref().and_then(parse_shard_id);
    let shards: Vec<ShardInfo> =
        stream.shard_infos().into_iter().filter(|info| after.is_none_or(|after| info.index > after)).collect();
    let page: Vec<Value> = shards.iter().take(limit).map(|info| shard_json(&stream, info)).collect();
    answer(&json!({
        "StreamDescription": {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "Shards": page,
            "HasMoreShards": shards.len() > limit,
            "RetentionPeriodHours": 24,
            "StreamCreationTimestamp": epoch_seconds(stream.created_ms),
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
        }
    }))
}

#[derive(Deserialize)]
struct ListShardsInput {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(rename = "NextToken", default)]
    next_token: Option<String>,
    #[serde(rename = "ExclusiveStartShardId", default)]
    exclusive_start_shard_id: Option<String>,
    #[serde(rename = "MaxResults", default)]
    max_results: Option<i64>,
    #[serde(rename = "ShardFilter", default)]
    shard_filter: Option<ShardFilterInput>,
}

#[derive(Deserialize)]
struct ShardFilterInput {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "ShardId", default)]
    shard_id: Option<String>,
    #[serde(rename = "Timestamp", default)]
    timestamp: Option<f64>,
}

/// Which shards a ListShards call returns.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Filter {
    All,
    Open,
    OpenAt(u64),
    OpenFrom(u64),
}

impl Filter {
    fn keeps(self, info: &ShardInfo) -> bool {
        // Shards of the stream's creation count as open since the beginning of time.
        let created = if info.parent.is_some() { info.created_ms } else { 0 };
        match self {
            Filter::All => true,
            Filter::Open => info.ending_counter.is_none(),
            Filter::OpenAt(ms) => created <= ms && info.closed_ms.is_none_or(|closed| closed > ms),
            Filter::OpenFrom(ms) => info.closed_ms.is_none_or(|closed| closed >= ms),
        }
    }

    fn encode(self) -> String {
        match self {
            Filter::All => "all".into(),
            Filter::Open => "open".into(),
            Filter::OpenAt(ms) => format!("at{ms}"),
            Filter::OpenFrom(ms) => format!("from{ms}"),
        }
    }

    fn decode(text: &str) -> Option<Filter> {
        match text {
            "all" => Some(Filter::All),
            "open" => Some(Filter::Open),
            _ => {
                if let Some(ms) = text.strip_prefix("at") {
                    ms.parse().ok().map(Filter::OpenAt)
                } else {
                    text.strip_prefix("from")?.parse().ok().map(Filter::OpenFrom)
                }
            }
        }
    }
}

/// Where a listing resumes: stream, last shard number returned, filter.
struct PageToken {
    stream: String,
    after: u32,
    filter: Filter,
}

impl PageToken {
    fn encode(&self) -> String {
        let text = format!("{}|{}|{}", self.stream, self.after, self.filter.encode());
        URL_SAFE_NO_PAD.encode_to_string(text)
    }

    fn decode(token: &str) -> Option<PageToken> {
        let bytes = URL_SAFE_NO_PAD.decode_to_vec(token).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '|');
        Some(PageToken {
            stream: parts.next()?.to_string(),
            after: parts.next()?.parse().ok()?,
            filter: Filter::decode(parts.next()?)?,
        })
    }
}

pub(super) fn list_shards(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: ListShardsInput = parse(body)?;
    let max_results = match input.max_results {
        None => MAX_LIST_SHARDS,
        Some(n) if (1..=10_000).contains(&n) => (n as usize).min(MAX_LIST_SHARDS),
        Some(n) => {
            return Err(ServiceError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000"
            )))
        }
    };
    let (stream_name, after, filter) = match &input.next_token {
        Some(token) => {
            if input.stream.name.is_some() || input.stream.arn.is_some() {
                return Err(ServiceError::invalid_argument("NextToken and StreamName cannot be provided together."));
            }
            if input.exclusive_start_shard_id.is_some() || input.shard_filter.is_some() {
                return Err(ServiceError::invalid_argument(
                    "NextToken cannot be combined with ExclusiveStartShardId or ShardFilter.",
                ));
            }
            let page = PageToken::decode(token)
                .ok_or_else(|| ServiceError::invalid_argument(format!("Invalid NextToken: {token}")))?;
            (page.stream, Some(page.after), page.filter)
        }
        None => {
            let name = input.stream.resolve()?.to_string();
            let mut after = match &input.exclusive_start_shard_id {
                None => None,
                Some(id) => Some(
                    parse_shard_id(id)
                        .ok_or_else(|| ServiceError::invalid_argument(format!("Invalid ExclusiveStartShardId {id}")))?,
                ),
            };
            let filter = match &input.shard_filter {
                None => Filter::All,
                Some(filter) => parse_filter(filter, &mut after)?,
            };
            (name, after, filter)
        }
    };
    let stream = state.registry.get(&stream_name)?;
    let matching: Vec<ShardInfo> = stream
        .shard_infos()
        .into_iter()
        .filter(|info| after.is_none_or(|after| info.index > after))
        .filter(|info| filter.keeps(info))
        .collect();
    let page: Vec<Value> = matching.iter().take(max_results).map(|info| shard_json(&stream, info)).collect();
    let mut output = json!({ "Shards": page });
    if matching.len() > max_results {
        let token = PageToken { stream: stream.name.clone(), after: matching[max_results - 1].index, filter };
        output["NextToken"] = Value::String(token.encode());
    }
    answer(&output)
}

fn parse_filter(filter: &ShardFilterInput, after: &mut Option<u32>) -> Result<Filter, ServiceError> {
    let timestamp_ms = || {
        filter.timestamp.map(|seconds| (seconds.max(0.0) * 1000.0) as u64).ok_or_else(|| {
            ServiceError::invalid_argument(format!("ShardFilter type {} requires a Timestamp.", filter.kind))
        })
    };
    match filter.kind.as_str() {
        "AT_LATEST" => Ok(Filter::Open),
        "AT_TRIM_HORIZON" | "FROM_TRIM_HORIZON" => Ok(Filter::All),
        "AT_TIMESTAMP" => Ok(Filter::OpenAt(timestamp_ms()?)),
        "FROM_TIMESTAMP" => Ok(Filter::OpenFrom(timestamp_ms()?)),
        "AFTER_SHARD_ID" => {
            let id = filter.shard_id.as_deref().unwrap_or_default();
            let index = parse_shard_id(id).ok_or_else(|| {
                ServiceError::invalid_argument("ShardFilter type AFTER_SHARD_ID requires a ShardId.")
            })?;
            *after = Some(after.map_or(index, |a| a.max(index)));
            Ok(Filter::All)
        }
        other => Err(ServiceError::validation(format!(
            "1 validation error detected: Value '{other}' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]"
        ))),
    }
}

/// A shard as ListShards and DescribeStream show it.
pub(super) fn shard_json(stream: &Stream, info: &ShardInfo) -> Value {
    let mut range = json!({
        "StartingSequenceNumber": sequence_number(&stream.sequence_prefix, info.starting_counter),
    });
    if let Some(ending) = info.ending_counter {
        range["EndingSequenceNumber"] = Value::String(sequence_number(&stream.sequence_prefix, ending));
    }
    let mut shard = json!({
        "ShardId": shard_id(info.index),
        "HashKeyRange": {
            "StartingHashKey": info.start.to_string(),
            "EndingHashKey": info.end.to_string(),
        },
        "SequenceNumberRange": range,
    });
    if let Some(parent) = info.parent {
        shard["ParentShardId"] = Value::String(shard_id(parent));
    }
    if let Some(adjacent) = info.adjacent_parent {
        shard["AdjacentParentShardId"] = Value::String(shard_id(adjacent));
    }
    shard
}

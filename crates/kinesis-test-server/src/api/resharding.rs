//! SplitShard, MergeShards and UpdateShardCount.

use super::{answer, parse, StreamRef};
use crate::error::ServiceError;
use crate::hash::parse_explicit_hash_key;
use crate::state::State;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct SplitShardInput {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(rename = "ShardToSplit")]
    shard_to_split: String,
    #[serde(rename = "NewStartingHashKey")]
    new_starting_hash_key: String,
}

pub(super) fn split_shard(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: SplitShardInput = parse(body)?;
    let stream = state.registry.get(input.stream.resolve()?)?;
    let new_start = parse_explicit_hash_key(&input.new_starting_hash_key).ok_or_else(|| {
        ServiceError::invalid_argument(format!(
            "NewStartingHashKey {} is not a decimal number in [0, 2^128-1].",
            input.new_starting_hash_key
        ))
    })?;
    stream.split(&input.shard_to_split, new_start)?;
    Ok(b"{}".to_vec())
}

#[derive(Deserialize)]
struct MergeShardsInput {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(rename = "ShardToMerge")]
    shard_to_merge: String,
    #[serde(rename = "AdjacentShardToMerge")]
    adjacent_shard_to_merge: String,
}

pub(super) fn merge_shards(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: MergeShardsInput = parse(body)?;
    let stream = state.registry.get(input.stream.resolve()?)?;
    stream.merge(&input.shard_to_merge, &input.adjacent_shard_to_merge)?;
    Ok(b"{}".to_vec())
}

#[derive(Deserialize)]
struct UpdateShardCountInput {
    #[serde(flatten)]
    stream: StreamRef,
    #[serde(rename = "TargetShardCount")]
    target_shard_count: u32,
    #[serde(rename = "ScalingType")]
    scaling_type: String,
}

pub(super) fn update_shard_count(state: &State, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let input: UpdateShardCountInput = parse(body)?;
    if input.scaling_type != "UNIFORM_SCALING" {
        return Err(ServiceError::validation(format!(
            "1 validation error detected: Value '{}' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set: [UNIFORM_SCALING]",
            input.scaling_type
        )));
    }
    let stream = state.registry.get(input.stream.resolve()?)?;
    let current = stream.update_shard_count(input.target_shard_count)?;
    answer(&json!({
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "CurrentShardCount": current,
        "TargetShardCount": input.target_shard_count,
    }))
}

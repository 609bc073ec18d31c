//! The Kinesis API (awsJson1.1): operation names, dispatch and JSON helpers.

mod put;
mod read;
mod resharding;
mod streams;

use crate::error::ServiceError;
use crate::faults::Dice;
use crate::state::State;
use serde::Deserialize;

/// Prefix of the `X-Amz-Target` header of every Kinesis operation.
pub const TARGET_PREFIX: &str = "Kinesis_20131202.";

/// The operations this server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    CreateStream,
    DeleteStream,
    ListStreams,
    DescribeStream,
    DescribeStreamSummary,
    ListShards,
    PutRecord,
    PutRecords,
    GetShardIterator,
    GetRecords,
    SplitShard,
    MergeShards,
    UpdateShardCount,
}

impl Operation {
    pub const ALL: [Operation; 13] = [
        Operation::CreateStream,
        Operation::DeleteStream,
        Operation::ListStreams,
        Operation::DescribeStream,
        Operation::DescribeStreamSummary,
        Operation::ListShards,
        Operation::PutRecord,
        Operation::PutRecords,
        Operation::GetShardIterator,
        Operation::GetRecords,
        Operation::SplitShard,
        Operation::MergeShards,
        Operation::UpdateShardCount,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateStream => "CreateStream",
            Operation::DeleteStream => "DeleteStream",
            Operation::ListStreams => "ListStreams",
            Operation::DescribeStream => "DescribeStream",
            Operation::DescribeStreamSummary => "DescribeStreamSummary",
            Operation::ListShards => "ListShards",
            Operation::PutRecord => "PutRecord",
            Operation::PutRecords => "PutRecords",
            Operation::GetShardIterator => "GetShardIterator",
            Operation::GetRecords => "GetRecords",
            Operation::SplitShard => "SplitShard",
            Operation::MergeShards => "MergeShards",
            Operation::UpdateShardCount => "UpdateShardCount",
        }
    }

    /// The operation named by an `X-Amz-Target` header value.
    pub fn from_target(target: &str) -> Option<Operation> {
        let name = target.strip_prefix(TARGET_PREFIX)?;
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// Runs one operation on a request body and returns the JSON answer.
pub(crate) fn dispatch(
    state: &State,
    operation: Operation,
    body: &[u8],
    dice: &mut Dice,
) -> Result<Vec<u8>, ServiceError> {
    match operation {
        Operation::CreateStream => streams::create_stream(state, body),
        Operation::DeleteStream => streams::delete_stream(state, body),
        Operation::ListStreams => streams::list_streams(state),
        Operation::DescribeStream => streams::describe_stream(state, body),
        Operation::DescribeStreamSummary => streams::describe_stream_summary(state, body),
        Operation::ListShards => streams::list_shards(state, body),
        Operation::PutRecord => put::put_record(state, body),
        Operation::PutRecords => put::put_records(state, body, dice),
        Operation::GetShardIterator => read::get_shard_iterator(state, body),
        Operation::GetRecords => read::get_records(state, body),
        Operation::SplitShard => resharding::split_shard(state, body),
        Operation::MergeShards => resharding::merge_shards(state, body),
        Operation::UpdateShardCount => resharding::update_shard_count(state, body),
    }
}

/// AccessDeniedException when the request names one of the `denied` streams.
pub(crate) fn access_denied(denied: &[String], operation: Operation, body: &[u8]) -> Option<ServiceError> {
    if denied.is_empty() {
        return None;
    }
    let stream: StreamRef = serde_json::from_slice(body).ok()?;
    let name = stream.resolve().ok()?;
    denied.iter().any(|d| d == name).then(|| ServiceError::access_denied(operation.name(), name))
}

/// Parses a JSON request body; malformed JSON is a SerializationException.
fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ServiceError> {
    serde_json::from_slice(body).map_err(|e| ServiceError::serialization(e.to_string()))
}

/// Serializes an answer.
fn answer(value: &serde_json::Value) -> Result<Vec<u8>, ServiceError> {
    serde_json::to_vec(value).map_err(|_| ServiceError::internal_failure())
}

/// Epoch seconds as the JSON number awsJson uses for timestamps.
fn epoch_seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// StreamName / StreamARN fields shared by most requests.
#[derive(Deserialize, Default)]
#[serde(default)]
struct StreamRef {
    #[serde(rename = "StreamName")]
    name: Option<String>,
    #[serde(rename = "StreamARN")]
    arn: Option<String>,
}

impl StreamRef {
    fn resolve(&self) -> Result<&str, ServiceError> {
        crate::store::resolve_stream_name(self.name.as_deref(), self.arn.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_streams_are_refused_by_name_or_arn() {
        let denied = vec!["secret".to_string()];
        let by_name = br#"{"StreamName":"secret","Records":[]}"#;
        let error = access_denied(&denied, Operation::PutRecords, by_name).expect("denied");
        assert_eq!(error.error_type, "AccessDeniedException");
        assert!(error.message.contains("kinesis:PutRecords"), "{}", error.message);
        let by_arn = br#"{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/secret"}"#;
        assert!(access_denied(&denied, Operation::ListShards, by_arn).is_some());
        assert!(access_denied(&denied, Operation::PutRecords, br#"{"StreamName":"open"}"#).is_none());
        assert!(access_denied(&[], Operation::PutRecords, by_name).is_none());
    }

    #[test]
    fn targets() {
        assert_eq!(Operation::from_target("Kinesis_20131202.PutRecords"), Some(Operation::PutRecords));
        assert_eq!(Operation::from_target("Kinesis_20131202.Nope"), None);
        assert_eq!(Operation::from_target("PutRecords"), None);
    }
}

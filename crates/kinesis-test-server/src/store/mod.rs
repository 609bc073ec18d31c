//! Streams, their shards and the records they hold.

mod resharding;
mod shard;
mod snapshot;
mod stream;

pub(crate) use shard::{parse_shard_id, shard_id, ShardInfo};
pub use snapshot::{Record, ShardRecords};
pub(crate) use stream::{Outcome, PendingRecord, Stream};

use crate::error::ServiceError;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// All streams of a server, by name.
pub(crate) struct Registry {
    streams: RwLock<HashMap<String, Arc<Stream>>>,
    region: String,
    blackhole: bool,
}

/// Longest stream name the service accepts.
const MAX_STREAM_NAME: usize = 128;

impl Registry {
    pub fn new(region: String, blackhole: bool) -> Self {
        Registry { streams: RwLock::new(HashMap::new()), region, blackhole }
    }

    /// Whether records are dropped after counting.
    pub fn blackhole(&self) -> bool {
        self.blackhole
    }

    /// Creates a stream with `shards` shards over evenly split hash key ranges.
    pub fn create(&self, name: &str, shards: u32) -> Result<Arc<Stream>, ServiceError> {
        if name.is_empty()
            || name.len() > MAX_STREAM_NAME
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(ServiceError::validation(format!(
                "1 validation error detected: Value '{name}' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
            )));
        }
        if shards == 0 || shards > 10_000 {
            return Err(ServiceError::validation(format!(
                "1 validation error detected: Value '{shards}' at 'shardCount' failed to satisfy constraint: Member must have value between 1 and 10000"
            )));
        }
        let mut streams = self.streams.write().unwrap_or_else(|e| e.into_inner());
        if streams.contains_key(name) {
            return Err(ServiceError::in_use(format!(
                "Stream {name} under account {} already exists.",
                crate::error::ACCOUNT_ID
            )));
        }
        let stream = Arc::new(Stream::new(name, &self.region, shards, self.blackhole));
        streams.insert(name.to_string(), stream.clone());
        Ok(stream)
    }

    /// The stream named `name`, or ResourceNotFoundException.
    pub fn get(&self, name: &str) -> Result<Arc<Stream>, ServiceError> {
        self.streams
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| ServiceError::stream_not_found(name))
    }

    /// Removes a stream; false if there was none.
    pub fn delete(&self, name: &str) -> bool {
        self.streams.write().unwrap_or_else(|e| e.into_inner()).remove(name).is_some()
    }

    /// Names of all streams, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.streams.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        names.sort();
        names
    }

    /// All streams.
    pub fn all(&self) -> Vec<Arc<Stream>> {
        self.streams.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }
}

/// Stream name of a StreamName or StreamARN (`arn:aws:kinesis:<region>:<account>:stream/<name>`).
pub(crate) fn resolve_stream_name<'a>(name: Option<&'a str>, arn: Option<&'a str>) -> Result<&'a str, ServiceError> {
    match (name, arn) {
        (Some(name), _) => Ok(name),
        (None, Some(arn)) => stream_name_from_arn(arn).ok_or_else(|| {
            ServiceError::validation(format!(
                "1 validation error detected: Value '{arn}' at 'streamARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{{12}}:stream/\\S+"
            ))
        }),
        (None, None) => Err(ServiceError::invalid_argument(
            "Neither StreamName nor StreamARN was provided.",
        )),
    }
}

fn stream_name_from_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (scheme, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (_region, _account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    if scheme != "arn" || !partition.starts_with("aws") || service != "kinesis" {
        return None;
    }
    resource.strip_prefix("stream/").filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_resolution() {
        let arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders";
        assert_eq!(resolve_stream_name(None, Some(arn)), Ok("orders"));
        assert_eq!(resolve_stream_name(Some("a"), Some(arn)), Ok("a"));
        assert!(resolve_stream_name(None, Some("arn:aws:s3:::bucket")).is_err());
        assert!(resolve_stream_name(None, None).is_err());
    }

    #[test]
    fn create_validates_and_refuses_duplicates() {
        let registry = Registry::new("us-east-1".into(), false);
        assert!(registry.create("s", 2).is_ok());
        assert_eq!(registry.create("s", 2).err().map(|e| e.error_type), Some("ResourceInUseException"));
        assert!(registry.create("bad name", 1).is_err());
        assert!(registry.create("zero", 0).is_err());
        assert!(registry.get("missing").is_err());
    }
}

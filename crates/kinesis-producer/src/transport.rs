//! The two Kinesis calls the producer makes, behind a trait so tests and benchmarks can swap
//! the service for something else.

use crate::shard_map::Shard;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed future that can move between threads.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How a stream is addressed: by name, or by ARN (cross-account).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamTarget {
    /// `StreamName`.
    Name(String),
    /// `StreamARN`.
    Arn(String),
}

impl StreamTarget {
    /// An `arn:` string is an ARN; anything else a stream name.
    pub fn parse(stream: &str) -> Self {
        if stream.starts_with("arn:") {
            StreamTarget::Arn(stream.to_owned())
        } else {
            StreamTarget::Name(stream.to_owned())
        }
    }

    /// The stream name (the last part of an ARN), for logs and metrics.
    pub fn name(&self) -> &str {
        match self {
            StreamTarget::Name(name) => name,
            StreamTarget::Arn(arn) => arn.rsplit_once("stream/").map_or(arn.as_str(), |(_, name)| name),
        }
    }
}

impl fmt::Display for StreamTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamTarget::Name(name) => f.write_str(name),
            StreamTarget::Arn(arn) => f.write_str(arn),
        }
    }
}

/// One entry of a PutRecords request, borrowed from the records it carries.
#[derive(Clone, Copy, Debug)]
pub struct PutEntry<'a> {
    /// Record data (raw, or an aggregate).
    pub data: EntryData<'a>,
    /// Partition key sent with it.
    pub partition_key: &'a str,
    /// Explicit hash key, if any.
    pub explicit_hash_key: Option<u128>,
}

/// The data of an entry: bytes as they are, or an aggregate encoded straight into the request
/// (rather than into a buffer of its own first, to be copied again).
#[derive(Clone, Copy)]
pub enum EntryData<'a> {
    /// A user record's bytes, sent unchanged.
    Raw(&'a [u8]),
    /// Written on demand.
    Encoded(&'a dyn Encode),
}

/// Data that writes itself.
pub trait Encode {
    /// Exact number of bytes `encode` appends.
    fn encoded_len(&self) -> usize;
    /// Appends the data to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

impl EntryData<'_> {
    /// Bytes of data.
    pub fn len(&self) -> usize {
        match self {
            EntryData::Raw(bytes) => bytes.len(),
            EntryData::Encoded(data) => data.encoded_len(),
        }
    }

    /// True for no data at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data as bytes: borrowed when raw, written into `scratch` (emptied first) otherwise.
    pub fn bytes<'s>(&'s self, scratch: &'s mut Vec<u8>) -> &'s [u8] {
        match self {
            EntryData::Raw(bytes) => bytes,
            EntryData::Encoded(data) => {
                scratch.clear();
                data.encode(scratch);
                scratch
            }
        }
    }
}

impl fmt::Debug for EntryData<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryData::Raw(bytes) => write!(f, "Raw({} bytes)", bytes.len()),
            EntryData::Encoded(data) => write!(f, "Encoded({} bytes)", data.encoded_len()),
        }
    }
}

/// The service's answer for one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryResult {
    /// Stored.
    Accepted {
        /// Shard that stored it.
        shard_id: String,
        /// Its sequence number.
        sequence_number: String,
    },
    /// Refused; the rest of the request may have succeeded.
    Failed {
        /// Per-entry ErrorCode.
        code: String,
        /// Per-entry ErrorMessage.
        message: String,
    },
}

/// What kind of failure a whole request met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestErrorKind {
    /// The service answered with an error (HTTP status given).
    Service {
        /// HTTP status of the answer.
        status: u16,
    },
    /// No answer in time (connect or request timeout).
    Timeout,
    /// The connection could not be made or broke.
    Connection,
    /// Anything else (unreadable answer, credentials not available, ...).
    Other,
}

/// A failure of a whole request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestError {
    /// Its kind.
    pub kind: RequestErrorKind,
    /// Service error code, or a short name of the kind.
    pub code: String,
    /// Human-readable detail (never holds credentials).
    pub message: String,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for RequestError {}

/// The Kinesis operations the producer needs.
pub trait Transport: Send + Sync + 'static {
    /// Sends one PutRecords request; on success, one result per entry, in order. The entries
    /// are read before this returns (the request is written then), not when the future runs.
    fn put_records(
        &self,
        stream: &StreamTarget,
        entries: &[PutEntry<'_>],
    ) -> BoxFuture<Result<Vec<EntryResult>, RequestError>>;

    /// Lists the open shards of a stream (every page).
    fn list_shards(&self, stream: &StreamTarget) -> BoxFuture<Result<Vec<Shard>, RequestError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_target_from_name_or_arn() {
        assert_eq!(StreamTarget::parse("logs"), StreamTarget::Name("logs".into()));
        let arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/logs";
        assert_eq!(StreamTarget::parse(arn), StreamTarget::Arn(arn.into()));
        assert_eq!(StreamTarget::parse(arn).name(), "logs");
        assert_eq!(StreamTarget::parse(arn).to_string(), arn);
    }
}

//! User records: what callers submit, how they are validated, and their hash keys.

use crate::outcome::{Outcome, OutcomeSlot};
use crate::partition_key::PartitionKey;
use bytes::Bytes;
use md5::{Digest, Md5};
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// Longest partition key Kinesis accepts, in Unicode characters.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;

/// One record as a caller hands it to the producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Stream name, or a stream ARN (`arn:...:stream/NAME`); shared, as most records of a batch
    /// go to the same stream.
    pub stream: Arc<str>,
    /// Partition key (1..256 characters); its MD5 picks the shard unless an explicit hash key is set.
    pub partition_key: PartitionKey,
    /// Decimal 128-bit hash key that overrides the partition key's MD5 for routing.
    pub explicit_hash_key: Option<String>,
    /// The payload, sent unchanged.
    pub data: Bytes,
}

impl UserRecord {
    /// A record routed by the MD5 of its partition key.
    pub fn new(stream: impl Into<Arc<str>>, partition_key: impl Into<PartitionKey>, data: impl Into<Bytes>) -> Self {
        UserRecord {
            stream: stream.into(),
            partition_key: partition_key.into(),
            explicit_hash_key: None,
            data: data.into(),
        }
    }

    /// Sets an explicit hash key (decimal, 0..2^128-1).
    pub fn with_explicit_hash_key(mut self, key: impl Into<String>) -> Self {
        self.explicit_hash_key = Some(key.into());
        self
    }
}

/// Why a record was refused at submit time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The partition key is empty or longer than 256 characters.
    PartitionKey { chars: usize },
    /// The explicit hash key is not a decimal number in 0..2^128-1.
    ExplicitHashKey { value: String },
    /// Data plus partition key exceed `max_user_record_size`.
    TooLarge { size: usize, max: usize },
    /// The stream name or ARN is empty.
    Stream,
}

impl RecordError {
    /// Stable error code reported in the record's outcome.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::PartitionKey { .. } => "InvalidPartitionKey",
            RecordError::ExplicitHashKey { .. } => "InvalidExplicitHashKey",
            RecordError::TooLarge { .. } => "RecordTooLarge",
            RecordError::Stream => "InvalidStreamName",
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::PartitionKey { chars } => {
                write!(f, "partition key has {chars} characters; it must have 1 to {MAX_PARTITION_KEY_CHARS}")
            }
            RecordError::ExplicitHashKey { value } => {
                let shown: String = value.chars().take(64).collect();
                write!(f, "explicit hash key {shown:?} is not a decimal number between 0 and 2^128-1")
            }
            RecordError::TooLarge { size, max } => {
                write!(f, "record is {size} bytes (data + partition key); the limit (max_user_record_size) is {max}")
            }
            RecordError::Stream => write!(f, "stream name is empty"),
        }
    }
}

impl std::error::Error for RecordError {}

/// A validated record inside the producer, carrying where its outcome goes.
pub(crate) struct PendingRecord {
    pub partition_key: PartitionKey,
    /// Routed by an explicit hash key (`hash_key`) rather than the partition key's MD5.
    pub has_explicit_hash_key: bool,
    pub hash_key: u128,
    pub data: Bytes,
    /// When it was submitted; it expires `record_ttl` later.
    pub arrival: Arrival,
    pub attempts: u32,
    /// The last error met while sending it ("code: message"), for the outcome if it expires.
    /// A thin pointer: the producer holds many records, and most never meet an error.
    pub last_error: Option<Arc<String>>,
    pub slot: OutcomeSlot,
}

/// An instant in 8 bytes rather than an `Instant`'s 16: nanoseconds since the first one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Arrival(u64);

static ARRIVAL_EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

impl Arrival {
    /// `at`, or the first arrival's epoch if it is earlier.
    pub fn at(at: Instant) -> Self {
        Arrival(at.saturating_duration_since(*ARRIVAL_EPOCH).as_nanos() as u64)
    }

    /// The instant it stands for.
    pub fn instant(self) -> Instant {
        *ARRIVAL_EPOCH + Duration::from_nanos(self.0)
    }
}

impl fmt::Debug for PendingRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRecord")
            .field("partition_key", &self.partition_key)
            .field("hash_key", &self.hash_key)
            .field("data_len", &self.data.len())
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl PendingRecord {
    /// The explicit hash key, if it has one.
    pub fn explicit_hash_key(&self) -> Option<u128> {
        self.has_explicit_hash_key.then_some(self.hash_key)
    }

    /// Bytes Kinesis counts for this record: data plus partition key.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }

    /// Gives the record its final outcome.
    pub fn complete(self, outcome: Outcome) {
        self.slot.complete(outcome);
    }

    /// Fails the record for good (the code and message are shared by the records failing together).
    pub fn fail(self, code: &Arc<str>, message: &Arc<str>) {
        let attempts = self.attempts;
        self.complete(Outcome::Failed { code: code.clone(), message: message.clone(), attempts });
    }
}

/// Kinesis routing rule: MD5 of the partition key's UTF-8 bytes, read as a big-endian u128.
pub fn partition_key_hash(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// Parses an explicit hash key: decimal digits only, value within 0..2^128-1.
pub fn parse_explicit_hash_key(value: &str) -> Result<u128, RecordError> {
    let invalid = || RecordError::ExplicitHashKey { value: value.to_owned() };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    value.parse::<u128>().map_err(|_| invalid())
}

/// Checks a record against the service rules and returns its hash key.
pub fn validate(record: &UserRecord, max_user_record_size: usize) -> Result<u128, RecordError> {
    if record.stream.is_empty() {
        return Err(RecordError::Stream);
    }
    let key = &record.partition_key;
    // Byte length bounds the character count, so only count characters when it matters.
    if key.is_empty() || (key.len() > MAX_PARTITION_KEY_CHARS && key.chars().count() > MAX_PARTITION_KEY_CHARS) {
        return Err(RecordError::PartitionKey { chars: key.chars().count() });
    }
    let size = record.data.len() + key.len();
    if size > max_user_record_size {
        return Err(RecordError::TooLarge { size, max: max_user_record_size });
    }
    match &record.explicit_hash_key {
        Some(ehk) => parse_explicit_hash_key(ehk),
        None => Ok(partition_key_hash(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_known_partition_key() {
        // MD5("pk1") = f7cfd01ce490fdd421bbdc8d3a35cfd0
        assert_eq!(partition_key_hash("pk1"), 329398341438914906102347661116985167824);
        assert_eq!(partition_key_hash("pk1"), 0xf7cfd01ce490fdd421bbdc8d3a35cfd0);
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(partition_key_hash(""), 0xd41d8cd98f00b204e9800998ecf8427e);
    }

    #[test]
    fn explicit_hash_key_bounds() {
        assert_eq!(parse_explicit_hash_key("0"), Ok(0));
        assert_eq!(parse_explicit_hash_key("340282366920938463463374607431768211455"), Ok(u128::MAX));
        for bad in ["340282366920938463463374607431768211456", "-1", "", "1.5", "+3", " 1", "0x10"] {
            assert!(parse_explicit_hash_key(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn partition_key_length_counts_characters() {
        let ok = UserRecord::new("s", "é".repeat(256), "x");
        assert!(validate(&ok, 1 << 20).is_ok());
        let long = UserRecord::new("s", "é".repeat(257), "x");
        assert_eq!(validate(&long, 1 << 20), Err(RecordError::PartitionKey { chars: 257 }));
        let empty = UserRecord::new("s", "", "x");
        assert_eq!(validate(&empty, 1 << 20), Err(RecordError::PartitionKey { chars: 0 }));
    }

    #[test]
    fn size_counts_data_and_key() {
        let r = UserRecord::new("s", "ab", vec![0u8; 98]);
        assert!(validate(&r, 100).is_ok());
        let r = UserRecord::new("s", "abc", vec![0u8; 98]);
        assert_eq!(validate(&r, 100), Err(RecordError::TooLarge { size: 101, max: 100 }));
    }

    #[test]
    fn explicit_hash_key_overrides_md5() {
        let r = UserRecord::new("s", "pk1", "x").with_explicit_hash_key("42");
        assert_eq!(validate(&r, 100), Ok(42));
        let bad = UserRecord::new("s", "pk1", "x").with_explicit_hash_key("4x2");
        let err = validate(&bad, 100).unwrap_err();
        assert_eq!(err.code(), "InvalidExplicitHashKey");
        assert!(err.to_string().contains("\"4x2\""));
    }

    #[test]
    fn pending_records_stay_small() {
        // The producer holds up to max_pending_records of them (100,000 by default).
        assert!(std::mem::size_of::<PendingRecord>() <= 128, "{} bytes", std::mem::size_of::<PendingRecord>());
    }

    #[test]
    fn arrival_keeps_the_instant() {
        let first = Arrival::at(Instant::now());
        let later = Instant::now() + Duration::from_secs(3600);
        assert_eq!(Arrival::at(later).instant(), later);
        assert!(Arrival::at(later) > first);
    }

    #[test]
    fn empty_stream_is_refused() {
        assert_eq!(validate(&UserRecord::new("", "k", "x"), 100), Err(RecordError::Stream));
    }
}

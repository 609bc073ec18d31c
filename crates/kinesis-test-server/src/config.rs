//! Start-up configuration of a [`TestServer`](crate::TestServer).

use crate::faults::Faults;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How to start a server. `ServerConfig::default()` is a plain-HTTP server on an ephemeral
/// port that stores every record, without streams, faults or a seed.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost.
    pub tls: bool,
    /// Where to write the generated certificate (PEM) so clients can trust it.
    pub cert_pem_path: Option<PathBuf>,
    /// Keep only counts, byte totals and digests per shard, not the records.
    pub blackhole: bool,
    /// Streams to create at start: (name, shard count).
    pub streams: Vec<(String, u32)>,
    /// Faults injected from the start.
    pub faults: Faults,
    /// Request and record size limits.
    pub limits: Limits,
    /// Seed of the fault dice; `None` draws one from the OS.
    pub seed: Option<u64>,
    /// Region used in stream ARNs; `us-east-1` when `None`.
    pub region: Option<String>,
}

/// Size and count limits of the data plane, with the service's defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Entries per PutRecords request (service: 500).
    pub max_records_per_request: usize,
    /// Sum of data and partition key bytes of one PutRecords request (service: 5 MiB,
    /// 10 MiB on newer accounts).
    pub max_request_bytes: usize,
    /// Data plus partition key bytes of one record (service: 1 MiB, up to 10 MiB per stream).
    pub max_record_bytes: usize,
    /// Characters of a partition key (service: 256).
    pub max_partition_key_chars: usize,
}

/// One mebibyte.
pub const MIB: usize = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_records_per_request: 500,
            max_request_bytes: 5 * MIB,
            max_record_bytes: MIB,
            max_partition_key_chars: 256,
        }
    }
}

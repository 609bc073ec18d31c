//! A fast, fault-injecting, Kinesis-compatible HTTP server for tests and benchmarks.
//!
//! It speaks the awsJson1.1 protocol of `aws-sdk-kinesis` (SigV4 signatures are not
//! checked), routes records to shards by the service's MD5 rule, keeps what it accepted
//! (or only counts and digests in blackhole mode), and injects faults on demand: per-entry
//! failures, per-shard throttling, 500/503, latency, hung requests, connection resets,
//! "commit then drop" and outages. Faults are set at start, through [`TestServer`], or
//! through the JSON control API under `/_control/` on the same port.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use kinesis_test_server::{Faults, ServerConfig, TestServer};
//! let server = TestServer::start(ServerConfig {
//!     streams: vec![("orders".into(), 4)],
//!     ..ServerConfig::default()
//! })
//! .await?;
//! server.set_faults(Faults { entry_internal_failure: 0.1, ..Faults::default() });
//! println!("{}", server.endpoint());
//! server.stop().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod config;
mod conn_io;
mod control;
mod error;
mod faults;
mod hash;
mod http;
mod sequence;
mod server;
mod state;
mod stats;
mod store;
mod throttle;
mod tls;

pub use config::{Limits, ServerConfig, MIB};
pub use error::{ServiceError, ACCOUNT_ID};
pub use faults::{Faults, ShardThroughput};
pub use hash::{data_digest, even_ranges, partition_key_hash, MAX_HASH_KEY};
pub use server::TestServer;
pub use stats::{FaultCounts, Stats};
pub use store::{Record, ShardRecords};

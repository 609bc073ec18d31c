//! An in-process Kinesis Data Streams producer: what the Kinesis Producer Library does
//! (KPL-format aggregation, shard-aware batching, per-shard rate limits, retries, metrics),
//! without a daemon and with bounded memory.
//!
//! ```no_run
//! use kinesis_producer::{Config, Producer, UserRecord};
//! use std::time::Duration;
//!
//! let config = Config::from_json(r#"{"region": "eu-west-1"}"#).unwrap();
//! let producer = Producer::new(config).unwrap();
//! let batch = producer.submit(vec![UserRecord::new("logs", "host-1", &b"hello"[..])], Duration::from_secs(5)).unwrap();
//! let outcomes = batch.wait_outcomes(Duration::from_secs(60));
//! producer.close(Duration::from_secs(30));
//! # let _ = outcomes;
//! ```

mod aggregation;
mod backpressure;
mod client;
mod cloudwatch_client;
mod cloudwatch_metrics;
mod cloudwatch_upload;
mod collector;
pub mod config;
mod credentials;
mod credentials_cache;
mod http_client;
mod kinesis_record;
mod limiter;
pub mod metrics;
mod outcome;
mod partition_key;
mod pooled_buffers;
mod prefetch;
mod producer;
mod put_records_body;
mod record;
mod redaction;
pub mod retry;
mod sdk_transport;
mod send_gate;
pub mod shard_map;
mod spare_buffers;
mod stream;
#[cfg(test)]
mod test_support;
mod tls_config;
pub mod transport;

pub use aggregation::{AGGREGATE_PARTITION_KEY, MAGIC};
pub use client::{kinesis_client, kinesis_sdk_config, metrics_sdk_config};
pub use cloudwatch_client::cloudwatch_client;
pub use config::{Config, ConfigError};
pub use metrics::{Metric, MetricKey, Stat};
pub use outcome::{Batch, Outcome};
pub use partition_key::PartitionKey;
pub use producer::{CloseReport, Producer, ProducerBuilder, ProducerError, SubmitError, ThreadHook};
pub use record::{parse_explicit_hash_key, partition_key_hash, RecordError, UserRecord};
pub use redaction::redact;
pub use sdk_transport::SdkTransport;

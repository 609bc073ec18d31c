//! JNI bridge: exposes `kinesis-producer` to the JVM through the Java class
//! `kinesis.producer.bridge.NativeProducer` (see this crate's README.md).
//!
//! Producers and batches are numbered entries in registries, never raw pointers, so a closed,
//! double-closed or unknown handle is a Java exception, not a use-after-free. Every native entry
//! catches panics and turns errors into Java exceptions. The engine's `tracing` events go to the
//! log4j2 loggers `kinesis.producer` (the engine and this bridge) and `kinesis.producer.sdk`
//! (the AWS SDK, HTTP and TLS crates).

mod error;
mod java_arrays;
mod java_outcomes;
mod logging;
mod metrics_json;
mod natives;
mod outcomes;
pub mod packed;
mod registry;
mod threads;

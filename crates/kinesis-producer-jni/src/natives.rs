//! The native methods of `kinesis.producer.bridge.NativeProducer`. Each one catches panics and
//! turns every error into a Java exception (see [`crate::error`]); none holds a JVM monitor
//! while it waits.

use crate::error::{BridgeError, ThrowJavaException};
use crate::outcomes::merge;
use crate::packed::{decode, total_length, PackedBatch, Rejection};
use crate::registry::Registry;
use crate::{java_arrays, java_outcomes, logging, metrics_json, threads};
use bytes::Bytes;
use jni::objects::{JByteArray, JClass, JIntArray, JObject, JObjectArray, JString};
use jni::sys::{jboolean, jlong};
use jni::{Env, EnvUnowned};
use kinesis_producer::{Batch, Config, Producer, ProducerError, SubmitError};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Open producers by handle.
static PRODUCERS: LazyLock<Registry<Producer>> = LazyLock::new(Registry::default);
/// Submitted batches by id, until released (they outlive their producer's close).
static BATCHES: LazyLock<Registry<SubmittedBatch>> = LazyLock::new(Registry::default);

/// A batch as the engine took it, plus the records the bridge refused.
struct SubmittedBatch {
    batch: Batch,
    rejected: Vec<Rejection>,
}

/// Runs a native method body: refreshes the log levels when due, then maps errors and panics
/// to Java exceptions.
fn run<'local, T: Default>(
    mut env: EnvUnowned<'local>,
    body: impl FnOnce(&mut Env<'local>) -> Result<T, BridgeError>,
) -> T {
    env.with_env(|env| {
        logging::refresh_if_stale(env);
        body(env)
    })
    .resolve::<ThrowJavaException>()
}

fn producer(handle: jlong) -> Result<Arc<Producer>, BridgeError> {
    PRODUCERS.get(handle).ok_or_else(BridgeError::closed)
}

fn submitted(batch: jlong) -> Result<Arc<SubmittedBatch>, BridgeError> {
    BATCHES.get(batch).ok_or_else(|| BridgeError::InvalidState(format!("batch {batch} is unknown or already released")))
}

fn duration(name: &str, millis: jlong) -> Result<Duration, BridgeError> {
    u64::try_from(millis)
        .map(Duration::from_millis)
        .map_err(|_| BridgeError::InvalidArgument(format!("{name} must not be negative (got {millis})")))
}

fn saturating(value: u64) -> jlong {
    jlong::try_from(value).unwrap_or(jlong::MAX)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeCreate<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    config_json: JString<'local>,
) -> jlong {
    run(env, |env| {
        let text = java_arrays::optional_string(env, &config_json)?
            .ok_or_else(|| BridgeError::InvalidArgument("configJson must not be null".to_owned()))?;
        let config = Config::from_json(&text).map_err(|e| BridgeError::InvalidArgument(e.to_string()))?;
        logging::install(env);
        let handle = PRODUCERS.reserve();
        let (on_start, on_stop) = threads::hooks(handle);
        let producer = Producer::builder(config).on_thread_start(on_start).on_thread_stop(on_stop).build().map_err(
            |e| match e {
                ProducerError::Config(e) => BridgeError::InvalidArgument(e.to_string()),
                other => BridgeError::Failed(other.to_string()),
            },
        )?;
        PRODUCERS.insert_as(handle, producer);
        tracing::info!(producer = handle, "producer created");
        Ok(saturating(handle))
    })
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeSubmit<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    streams: JObjectArray<'local, JString<'local>>,
    stream_index: JIntArray<'local>,
    keys: JByteArray<'local>,
    key_lengths: JIntArray<'local>,
    explicit_hash_keys: JObjectArray<'local, JString<'local>>,
    payloads: JByteArray<'local>,
    payload_lengths: JIntArray<'local>,
    timeout_millis: jlong,
) -> jlong {
    run(env, |env| {
        let producer = producer(handle)?;
        let timeout = duration("timeoutMillis", timeout_millis)?;
        let streams = java_arrays::strings(env, &streams, "streams")?;
        let stream_index = java_arrays::optional_ints(env, &stream_index, "streamIndex")?;
        let key_lengths = java_arrays::ints(env, &key_lengths, "keyLengths")?;
        let payload_lengths = java_arrays::ints(env, &payload_lengths, "payloadLengths")?;
        let explicit_hash_keys = java_arrays::optional_strings(env, &explicit_hash_keys)?;
        let malformed = |e: crate::packed::Malformed| BridgeError::InvalidArgument(e.to_string());
        // Copy only the bytes the lengths cover, once each.
        let keys_used = total_length("keyLengths", &key_lengths, java_arrays::byte_length(env, &keys, "keys")?)
            .map_err(malformed)?;
        let payloads_used =
            total_length("payloadLengths", &payload_lengths, java_arrays::byte_length(env, &payloads, "payloads")?)
                .map_err(malformed)?;
        let keys = java_arrays::byte_prefix(env, &keys, "keys", keys_used)?;
        let payloads = Bytes::from(java_arrays::byte_prefix(env, &payloads, "payloads", payloads_used)?);
        let decoded = decode(&PackedBatch {
            streams: &streams,
            stream_index: stream_index.as_deref(),
            keys: &keys,
            key_lengths: &key_lengths,
            explicit_hash_keys: explicit_hash_keys.as_deref(),
            payloads,
            payload_lengths: &payload_lengths,
        })
        .map_err(malformed)?;
        match producer.submit(decoded.records, timeout) {
            Ok(batch) => Ok(saturating(BATCHES.insert(SubmittedBatch { batch, rejected: decoded.rejected }))),
            Err(SubmitError::Full) => Ok(-1),
            Err(SubmitError::Closed) => Err(BridgeError::closed()),
        }
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeAwait<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    batch: jlong,
    timeout_millis: jlong,
) -> jboolean {
    run(env, |_| {
        let submitted = submitted(batch)?;
        let timeout = duration("timeoutMillis", timeout_millis)?;
        Ok(submitted.batch.wait(timeout))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeOutcomes<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    batch: jlong,
) -> JObject<'local> {
    run(env, |env| {
        let submitted = submitted(batch)?;
        match submitted.batch.outcomes() {
            Some(engine) => java_outcomes::batch_outcomes(env, &merge(engine, &submitted.rejected)),
            None => Ok(JObject::null()),
        }
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeRelease<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    batch: jlong,
) {
    run(env, |_| {
        BATCHES
            .remove(batch)
            .map(drop)
            .ok_or_else(|| BridgeError::InvalidState(format!("batch {batch} is unknown or already released")))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeFlush<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    stream: JString<'local>,
) {
    run(env, |env| {
        let producer = producer(handle)?;
        let stream = java_arrays::optional_string(env, &stream)?;
        producer.flush(stream.as_deref());
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeOpenShardCount<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    stream: JString<'local>,
    timeout_millis: jlong,
) -> jlong {
    run(env, |env| {
        let producer = producer(handle)?;
        let stream = java_arrays::optional_string(env, &stream)?
            .ok_or_else(|| BridgeError::InvalidArgument("stream must not be null".to_owned()))?;
        let timeout = duration("timeoutMillis", timeout_millis)?;
        let shards = producer
            .open_shard_count(&stream, timeout)
            .map_err(|e| BridgeError::Failed(format!("could not list the shards of {stream}: {e}")))?;
        Ok(saturating(shards as u64))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeOutstandingRecords<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    run(env, |_| Ok(saturating(producer(handle)?.outstanding().0)))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeOutstandingBytes<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    run(env, |_| Ok(saturating(producer(handle)?.outstanding().1)))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeOldestPendingAgeMillis<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    run(env, |_| {
        let age = producer(handle)?.oldest_pending_age();
        Ok(age.map_or(-1, |age| saturating(age.as_millis().try_into().unwrap_or(u64::MAX))))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeMetricsJson<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JString<'local> {
    run(env, |env| {
        let text = metrics_json::metrics_json(&producer(handle)?.metrics());
        Ok(JString::from_str(env, text)?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeClose<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    timeout_millis: jlong,
) -> jlong {
    run(env, |_| {
        let timeout = duration("timeoutMillis", timeout_millis)?;
        // Out of the registry first: later calls fail at once, calls in flight keep their Arc.
        let producer = PRODUCERS.remove(handle).ok_or_else(BridgeError::closed)?;
        let report = producer.close(timeout);
        tracing::info!(producer = handle, drained = report.drained, abandoned = report.abandoned, "producer closed");
        Ok(saturating(report.abandoned))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativeRefreshLogLevels<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
) {
    run(env, |env| {
        logging::refresh(env);
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_kinesis_producer_bridge_NativeProducer_nativePanic<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    message: JString<'local>,
) {
    run(env, |env| -> Result<(), BridgeError> {
        let message = java_arrays::optional_string(env, &message)?.unwrap_or_default();
        panic!("{message}");
    })
}

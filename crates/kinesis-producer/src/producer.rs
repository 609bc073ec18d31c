//! The public producer: submit batches of records, wait for their outcomes, flush, close.

use crate::backpressure::{AdmitError, Pending};
use crate::cloudwatch_metrics::Selection;
use crate::cloudwatch_upload::{UploadSettings, Uploader};
use crate::config::{Config, ConfigError, MetricsLevel};
use crate::metrics::{MetricKey, Metrics, Stat};
use crate::outcome::{Batch, BatchState, Outcome, OutcomeSlot};
use crate::record::{validate, Arrival, PendingRecord, UserRecord};
use crate::sdk_transport::SdkTransport;
use crate::send_gate::SendGate;
use crate::stream::{after, spawn, Command, Settings, Shared, StreamTable};
use crate::transport::{RequestError, RequestErrorKind, StreamTarget, Transport};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::{Handle, Runtime};

/// Longest wait at `close` for the last metrics upload.
const LAST_UPLOAD_WAIT: Duration = Duration::from_secs(5);

/// Called on each producer thread as it starts or stops (e.g. to attach it to a JVM).
pub type ThreadHook = Arc<dyn Fn() + Send + Sync>;

/// Why a producer could not be built.
#[derive(Debug)]
pub enum ProducerError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The producer's threads could not be started.
    Runtime(std::io::Error),
    /// The Kinesis client could not be set up (no region, unreadable TLS settings, ...).
    Client(String),
    /// The CloudWatch client for the metrics could not be set up.
    MetricsClient(String),
}

impl fmt::Display for ProducerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProducerError::Config(e) => write!(f, "invalid configuration: {e}"),
            ProducerError::Runtime(e) => write!(f, "cannot start the producer's threads: {e}"),
            ProducerError::Client(e) => write!(f, "cannot set up the Kinesis client: {e}"),
            ProducerError::MetricsClient(e) => write!(f, "cannot set up the CloudWatch client for the metrics: {e}"),
        }
    }
}

impl std::error::Error for ProducerError {}

/// Why a batch was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The buffering bounds stayed exceeded for the whole timeout.
    Full,
    /// The producer is closed.
    Closed,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full => f.write_str("the producer is full (max_pending_records / max_pending_bytes reached)"),
            SubmitError::Closed => f.write_str("the producer is closed"),
        }
    }
}

impl std::error::Error for SubmitError {}

/// What `close` left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseReport {
    /// True when every record got its outcome before the deadline through normal delivery.
    pub drained: bool,
    /// Records that were failed because the deadline came first.
    pub abandoned: u64,
}

/// Builds a [`Producer`] with optional overrides.
pub struct ProducerBuilder {
    config: Config,
    transport: Option<Arc<dyn Transport>>,
    metrics_client: Option<aws_sdk_cloudwatch::Client>,
    worker_threads: usize,
    on_thread_start: Option<ThreadHook>,
    on_thread_stop: Option<ThreadHook>,
}

impl ProducerBuilder {
    /// Sends through this transport instead of aws-sdk-kinesis.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Uploads the metrics through this CloudWatch client instead of one built from the
    /// configuration. With a custom transport, metrics are uploaded only through this client.
    pub fn metrics_client(mut self, client: aws_sdk_cloudwatch::Client) -> Self {
        self.metrics_client = Some(client);
        self
    }

    /// Number of threads the producer runs (default 2).
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = threads.max(1);
        self
    }

    /// Runs `hook` on each producer thread when it starts.
    pub fn on_thread_start(mut self, hook: ThreadHook) -> Self {
        self.on_thread_start = Some(hook);
        self
    }

    /// Runs `hook` on each producer thread before it stops.
    pub fn on_thread_stop(mut self, hook: ThreadHook) -> Self {
        self.on_thread_stop = Some(hook);
        self
    }

    /// Validates the configuration, starts the threads and builds the client.
    pub fn build(self) -> Result<Producer, ProducerError> {
        let config = self.config;
        config.validate().map_err(ProducerError::Config)?;
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        runtime
            .worker_threads(self.worker_threads)
            .max_blocking_threads(4)
            .thread_name("kinesis-producer")
            .enable_all();
        if let Some(hook) = self.on_thread_start {
            runtime.on_thread_start(move || hook());
        }
        if let Some(hook) = self.on_thread_stop {
            runtime.on_thread_stop(move || hook());
        }
        let runtime = runtime.build().map_err(ProducerError::Runtime)?;
        let custom_transport = self.transport.is_some();
        let transport = match self.transport {
            Some(t) => t,
            None => {
                let client = runtime.block_on(crate::client::kinesis_client(&config)).map_err(ProducerError::Client)?;
                Arc::new(SdkTransport::new(client))
            }
        };
        let metrics_client = match (config.metrics_level, self.metrics_client) {
            (MetricsLevel::None, _) => None,
            (_, Some(client)) => Some(client),
            (_, None) if custom_transport => None,
            (_, None) => Some(
                runtime
                    .block_on(crate::cloudwatch_client::cloudwatch_client(&config))
                    .map_err(ProducerError::MetricsClient)?,
            ),
        };
        let max_user_record_size = config.max_user_record_size as usize;
        let settings = Settings {
            aggregation_enabled: config.aggregation_enabled,
            aggregation_max_count: config.aggregation_max_count,
            // An aggregate is one Kinesis record: it must fit the stream's record size limit.
            aggregation_max_size: (config.aggregation_max_size as usize).min(max_user_record_size - 1),
            collection_max_count: config.collection_max_count as usize,
            collection_max_size: config.effective_collection_max_size() as usize,
            max_buffered_time: config.record_max_buffered_time(),
            record_ttl: config.record_ttl(),
            request_deadline: config.request_timeout() + config.connect_timeout() + Duration::from_secs(1),
            rate_limit: config.rate_limit,
            fail_if_throttled: config.fail_if_throttled,
        };
        let streams = Arc::new(StreamTable::default());
        let metrics = Arc::new(Metrics::default());
        let shared = Arc::new(Shared {
            settings,
            transport,
            send_gate: SendGate::new(config.max_connections as usize, send_budget(&config)),
            metrics: metrics.clone(),
            streams: streams.clone(),
            live_workers: AtomicUsize::new(0),
        });
        let pending = Arc::new(Pending::new(config.max_pending_records, config.max_pending_bytes));
        let uploader = metrics_client.map(|client| {
            let settings = UploadSettings {
                namespace: config.metrics_namespace.clone(),
                selection: Selection { level: config.metrics_level, granularity: config.metrics_granularity },
                interval: config.metrics_upload_delay(),
            };
            Uploader::start(runtime.handle(), client, metrics.clone(), pending.clone(), settings)
        });
        Ok(Producer {
            handle: runtime.handle().clone(),
            runtime: Mutex::new(Some(runtime)),
            pending,
            uploader,
            shared,
            streams,
            metrics,
            max_user_record_size,
            closed: AtomicBool::new(false),
        })
    }
}

/// A Kinesis producer: aggregates, batches, rate-limits, sends and retries records in-process.
pub struct Producer {
    handle: Handle,
    runtime: Mutex<Option<Runtime>>,
    pending: Arc<Pending>,
    uploader: Option<Uploader>,
    shared: Arc<Shared>,
    streams: Arc<StreamTable>,
    metrics: Arc<Metrics>,
    max_user_record_size: usize,
    closed: AtomicBool,
}

impl Producer {
    /// A producer sending through aws-sdk-kinesis.
    pub fn new(config: Config) -> Result<Producer, ProducerError> {
        Self::builder(config).build()
    }

    /// A builder, for a custom transport or thread hooks.
    pub fn builder(config: Config) -> ProducerBuilder {
        ProducerBuilder {
            config,
            transport: None,
            metrics_client: None,
            worker_threads: 2,
            on_thread_start: None,
            on_thread_stop: None,
        }
    }

    /// Submits a batch. Invalid records fail alone (their outcome says why); the call waits up
    /// to `timeout` while the buffering bounds are exceeded.
    pub fn submit(&self, records: Vec<UserRecord>, timeout: Duration) -> Result<Batch, SubmitError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SubmitError::Closed);
        }
        // Hash keys and errors apart: errors are rare, and zipping a `Result` per record with
        // the records moved both through the stack for every record.
        let mut hash_keys = Vec::with_capacity(records.len());
        let mut invalid = Vec::new();
        let (mut count, mut bytes) = (0u64, 0u64);
        for (index, record) in records.iter().enumerate() {
            match validate(record, self.max_user_record_size) {
                Ok(hash_key) => {
                    count += 1;
                    bytes += (record.data.len() + record.partition_key.len()) as u64;
                    hash_keys.push(hash_key);
                }
                Err(e) => {
                    hash_keys.push(0);
                    invalid.push((index, e));
                }
            }
        }
        let id = self.pending.admit(count, bytes, timeout).map_err(|e| match e {
            AdmitError::Full => SubmitError::Full,
            AdmitError::Closed => SubmitError::Closed,
        })?;
        let batch = BatchState::new(records.len(), self.pending.clone(), id);
        if count == 0 {
            self.pending.batch_done(id);
        }
        let arrival = Arrival::at(Instant::now());
        let total = records.len();
        let mut by_stream: Vec<(Arc<str>, Vec<PendingRecord>)> = Vec::new();
        let mut invalid = invalid.into_iter().peekable();
        for (index, record) in records.into_iter().enumerate() {
            if let Some((_, e)) = invalid.next_if(|(i, _)| *i == index) {
                batch.reject(index, Outcome::failed(e.code(), e.to_string(), 0));
                continue;
            }
            let hash_key = hash_keys[index];
            let size = record.data.len() + record.partition_key.len();
            let pending = PendingRecord {
                has_explicit_hash_key: record.explicit_hash_key.is_some(),
                hash_key,
                partition_key: record.partition_key,
                data: record.data,
                arrival,
                attempts: 0,
                last_error: None,
                slot: OutcomeSlot::new(batch.clone(), index, size),
            };
            match by_stream.iter_mut().find(|(s, _)| *s == record.stream) {
                Some((_, group)) => group.push(pending),
                None => {
                    // Usually one stream takes the whole batch: room for it up front, for the
                    // first stream only (a batch spread over many streams must not reserve a
                    // batch's worth for each).
                    let room = if by_stream.is_empty() { total - index } else { 1 };
                    let mut group = Vec::with_capacity(room);
                    group.push(pending);
                    by_stream.push((record.stream, group));
                }
            }
        }
        self.dispatch(by_stream);
        Ok(Batch::new(batch))
    }

    fn dispatch(&self, by_stream: Vec<(Arc<str>, Vec<PendingRecord>)>) {
        if by_stream.is_empty() {
            return;
        }
        let _runtime = self.handle.enter();
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        for (stream, records) in by_stream {
            let mut command = Command::Records(records);
            // A worker that stopped on its own (it never does while it has records) is replaced.
            for _ in 0..2 {
                let sender =
                    streams.entry(stream.clone()).or_insert_with(|| spawn(self.shared.clone(), stream.clone()));
                match sender.send(command) {
                    Ok(()) => break,
                    Err(returned) => {
                        streams.remove(&stream);
                        command = returned.0;
                    }
                }
            }
        }
    }

    fn broadcast(&self, stream: Option<&str>, command: impl Fn() -> Command) {
        let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        for (name, sender) in streams.iter() {
            if stream.is_none_or(|s| s == &**name) {
                let _ = sender.send(command());
            }
        }
    }

    /// Sends what is buffered for one stream (or all) now, without waiting for batching.
    pub fn flush(&self, stream: Option<&str>) {
        self.broadcast(stream, || Command::Flush);
    }

    /// User records and bytes submitted and still without an outcome.
    pub fn outstanding(&self) -> (u64, u64) {
        self.pending.held()
    }

    /// Age of the oldest record still without an outcome.
    pub fn oldest_pending_age(&self) -> Option<Duration> {
        self.pending.oldest_age()
    }

    /// Totals of every metric series since the start (each stream merges its counts every
    /// second, and when it stops).
    pub fn metrics(&self) -> Vec<(MetricKey, Stat)> {
        self.metrics.snapshot()
    }

    /// The metric registry itself.
    pub fn metrics_registry(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Counts the open shards of `stream` with one ListShards walk, waiting up to `timeout`.
    pub fn open_shard_count(&self, stream: &str, timeout: Duration) -> Result<usize, RequestError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(RequestError {
                kind: RequestErrorKind::Other,
                code: "ProducerClosed".into(),
                message: "the producer is closed".into(),
            });
        }
        let listing = self.shared.transport.list_shards(&StreamTarget::parse(stream));
        let answer = self.handle.block_on(async { tokio::time::timeout(timeout, listing).await });
        match answer {
            Ok(shards) => shards.map(|shards| shards.len()),
            Err(_) => Err(RequestError {
                kind: RequestErrorKind::Timeout,
                code: "Timeout".into(),
                message: format!("no ListShards answer within {} ms", timeout.as_millis()),
            }),
        }
    }

    /// Stops taking records, sends everything held, and waits up to `timeout` for the outcomes;
    /// records still without one then fail with `ProducerClosed`. The last metrics are uploaded
    /// if time is left before `timeout`. Every thread is stopped when this returns. Calling it
    /// again does nothing.
    pub fn close(&self, timeout: Duration) -> CloseReport {
        let Some(runtime) = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return CloseReport { drained: true, abandoned: 0 };
        };
        self.closed.store(true, Ordering::Release);
        self.pending.close();
        self.broadcast(None, || Command::Drain);
        let deadline = after(Instant::now(), timeout);
        let drained = wait_for(deadline, || self.outstanding().0 == 0);
        let abandoned = self.outstanding().0;
        if !drained {
            self.broadcast(None, || Command::Abort);
        }
        // Workers stop once their channel closes and they hold nothing; they merge their
        // last metrics on the way out.
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).clear();
        wait_for(after(Instant::now(), Duration::from_secs(2)), || {
            self.shared.live_workers.load(Ordering::Acquire) == 0
        });
        if let Some(uploader) = &self.uploader {
            // The last metrics go out if the close deadline leaves time for them; an unreachable
            // CloudWatch does not hold the close up for long.
            uploader.finish(deadline.saturating_duration_since(Instant::now()).min(LAST_UPLOAD_WAIT));
        }
        runtime.shutdown_timeout(Duration::from_secs(5));
        CloseReport { drained, abandoned }
    }
}

/// Bytes the requests being sent may carry together: an eighth of `max_pending_bytes` (32 MiB
/// by default, which keeps about 160 MiB/s of request bodies moving at 200 ms per request), and
/// at least one full request.
fn send_budget(config: &Config) -> usize {
    (config.max_pending_bytes / 8).max(config.effective_collection_max_size()) as usize
}

/// Polls `done` until it holds or the deadline passes; true when it held.
fn wait_for(deadline: Instant, done: impl Fn() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take() {
            self.pending.close();
            self.broadcast(None, || Command::Abort);
            self.streams.lock().unwrap_or_else(|p| p.into_inner()).clear();
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (records, bytes) = self.outstanding();
        f.debug_struct("Producer").field("outstanding_records", &records).field("outstanding_bytes", &bytes).finish()
    }
}

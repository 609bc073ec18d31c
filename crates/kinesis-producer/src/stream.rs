//! The worker of one stream: aggregates, rate-limits, collects, sends and retries its records.
//!
//! Each stream has one task that owns all of its state, so nothing on the send path takes a
//! lock; callers reach it through a channel, and requests report back through another.

use crate::aggregation::Aggregator;
use crate::collector::Collector;
use crate::kinesis_record::KinesisRecord;
use crate::limiter::ShardLimiter;
use crate::metrics::{LocalMetrics, Metric, Metrics, StatBuilder};
use crate::outcome::{complete_all, Outcome};
use crate::record::{Arrival, PendingRecord};
use crate::retry::{backoff, certificate_problem, classify_entry, classify_request, Disposition};
use crate::send_gate::{SendGate, SendPermit};
use crate::shard_map::{refresh_backoff, Shard, ShardMap};
use crate::spare_buffers::SpareBuffers;
use crate::transport::{EntryResult, PutEntry, RequestError, RequestErrorKind, StreamTarget, Transport};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender, WeakUnboundedSender};
use tokio::time::sleep_until;

/// Longest wait for the first shard map before records are aggregated by hash key instead.
const SHARD_MAP_WAIT: Duration = Duration::from_secs(1);
/// A shard map older than this is listed again while the stream is in use.
const SHARD_MAP_MAX_AGE: Duration = Duration::from_secs(300);
/// A stream worker with nothing to do for this long releases its state.
#[cfg(not(test))]
const IDLE_RETIRE: Duration = Duration::from_secs(60);
/// Shorter in unit tests, which wait for it (the workers run on the real clock).
#[cfg(test)]
const IDLE_RETIRE: Duration = Duration::from_secs(2);
/// How often counted metrics reach the shared registry.
const METRICS_MERGE_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest pause between releases of a shard's queue while its rate limit holds records back,
/// so that they leave in batches rather than one request per record.
const LIMITER_BATCH_WAIT: Duration = Duration::from_millis(50);
/// Stand-in for "never", far enough to outlast any process and small enough not to overflow.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `now + d`, saturating instead of overflowing.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d.min(FAR_FUTURE)).unwrap_or(now)
}

/// Producer settings the stream workers use, resolved from the configuration.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub aggregation_enabled: bool,
    pub aggregation_max_count: u64,
    pub aggregation_max_size: usize,
    pub collection_max_count: usize,
    pub collection_max_size: usize,
    pub max_buffered_time: Duration,
    pub record_ttl: Duration,
    /// Upper bound on one request, on top of the client's own timeouts.
    pub request_deadline: Duration,
    pub rate_limit: u64,
    pub fail_if_throttled: bool,
}

/// What callers send to a stream worker.
pub(crate) enum Command {
    /// New records, each with the time by which it should be sent.
    Records(Vec<PendingRecord>),
    /// Send everything buffered now.
    Flush,
    /// Send everything without waiting for batching, from now on.
    Drain,
    /// Fail everything still held and stop.
    Abort,
}

/// The live stream workers, by stream; submitters send only while holding this lock, so a
/// worker that removes itself under it knows no more commands can come.
pub(crate) type StreamTable = Mutex<HashMap<Arc<str>, UnboundedSender<Command>>>;

/// What all stream workers share.
pub(crate) struct Shared {
    pub settings: Settings,
    pub transport: Arc<dyn Transport>,
    pub send_gate: SendGate,
    pub metrics: Arc<Metrics>,
    pub streams: Arc<StreamTable>,
    /// Stream workers still running.
    pub live_workers: AtomicUsize,
}

enum Event {
    Sent { id: u64, elapsed: Duration, result: Result<Vec<EntryResult>, RequestError> },
    Shards(Result<Vec<Shard>, RequestError>),
}

#[derive(Default)]
struct OpenAggregate {
    aggregator: Aggregator,
    deadline: Option<Instant>,
}

struct ShardQueue {
    limiter: ShardLimiter,
    waiting: VecDeque<KinesisRecord>,
}

/// An aggregate Kinesis stored in another shard than predicted: whether that shard holds all
/// of its records (or a consumer would drop it) is known once the shard map is listed again.
struct Landed {
    record: KinesisRecord,
    shard_id: Arc<str>,
    sequence_number: Arc<str>,
}

/// Records waiting out a retry backoff.
enum Retry {
    /// Sent again as it is.
    Whole(KinesisRecord),
    /// Aggregated again (some of its records expired, or it landed in the wrong shard).
    Members(Vec<PendingRecord>),
}

struct Delayed {
    due: Instant,
    seq: u64,
    retry: Retry,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// Starts the worker of `key` on the current runtime and returns its command channel.
pub(crate) fn spawn(shared: Arc<Shared>, key: Arc<str>) -> UnboundedSender<Command> {
    let (commands_tx, commands) = unbounded_channel();
    let (events_tx, events) = unbounded_channel();
    let target = StreamTarget::parse(&key);
    let name: Arc<str> = target.name().into();
    let settings = &shared.settings;
    let worker = StreamWorker {
        collector: Collector::new(settings.collection_max_count, settings.collection_max_size),
        metrics: LocalMetrics::new(name.clone()),
        shared: shared.clone(),
        key,
        target,
        name,
        commands,
        myself: commands_tx.downgrade(),
        events_tx,
        events,
        map: None,
        map_loading: false,
        map_failures: 0,
        map_retry_at: None,
        held: Vec::new(),
        hold_until: None,
        map_wait_over: false,
        shard_aggregates: Vec::new(),
        hash_aggregates: HashMap::new(),
        aggregated_records: 0,
        next_aggregate_deadline: None,
        queues: HashMap::new(),
        backlog: HashSet::new(),
        limiter_wake: None,
        retries: BinaryHeap::new(),
        retry_seq: 0,
        ready: VecDeque::new(),
        in_flight: HashMap::new(),
        landed: Vec::new(),
        spares: SpareBuffers::default(),
        next_request: 0,
        metrics_due: None,
        flush_requested: false,
        collector_flush_due: false,
        draining: false,
        closed: false,
        aborted: false,
        last_activity: Instant::now(),
    };
    shared.live_workers.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(worker.run());
    commands_tx
}

struct StreamWorker {
    shared: Arc<Shared>,
    key: Arc<str>,
    target: StreamTarget,
    name: Arc<str>,
    commands: UnboundedReceiver<Command>,
    myself: WeakUnboundedSender<Command>,
    events_tx: UnboundedSender<Event>,
    events: UnboundedReceiver<Event>,

    map: Option<Arc<ShardMap>>,
    map_loading: bool,
    map_failures: u32,
    map_retry_at: Option<Instant>,
    /// Records waiting for a shard map, with their send deadlines.
    held: Vec<(PendingRecord, Instant)>,
    hold_until: Option<Instant>,
    /// The first listing took longer than `SHARD_MAP_WAIT`: route by hash key until it lands.
    map_wait_over: bool,

    /// One open aggregate per shard of the current map, by index.
    shard_aggregates: Vec<OpenAggregate>,
    /// Open aggregates by hash key, used while there is no shard map.
    hash_aggregates: HashMap<u128, OpenAggregate>,
    aggregated_records: usize,
    next_aggregate_deadline: Option<Instant>,

    queues: HashMap<Arc<str>, ShardQueue>,
    /// Shards whose queue holds records the limiter has not let through yet.
    backlog: HashSet<Arc<str>>,
    limiter_wake: Option<Instant>,
    retries: BinaryHeap<Reverse<Delayed>>,
    retry_seq: u64,

    collector: Collector,
    ready: VecDeque<Vec<KinesisRecord>>,
    in_flight: HashMap<u64, Vec<KinesisRecord>>,
    /// Aggregates stored in an unexpected shard, waiting for the next shard map.
    landed: Vec<Landed>,
    /// Buffers of delivered aggregates, for the next ones.
    spares: SpareBuffers,
    next_request: u64,

    metrics: LocalMetrics,
    metrics_due: Option<Instant>,
    flush_requested: bool,
    /// A flush reached the request being filled while no connection was free.
    collector_flush_due: bool,
    draining: bool,
    closed: bool,
    aborted: bool,
    last_activity: Instant,
}

fn request_bytes(request: &[KinesisRecord]) -> usize {
    request.iter().map(KinesisRecord::size).sum()
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl StreamWorker {
    async fn run(mut self) {
        self.request_shard_map();
        loop {
            let wake = self.next_wake();
            let want_connection = !self.ready.is_empty() || self.collector_due(Instant::now());
            let send_permit =
                self.shared.send_gate.acquire(if want_connection { self.next_request_bytes() } else { 0 });
            tokio::select! {
                biased;
                event = self.events.recv() => {
                    if let Some(event) = event {
                        self.on_event(event);
                    }
                }
                command = self.commands.recv(), if !self.closed => match command {
                    Some(command) => {
                        self.on_command(command);
                        while let Ok(command) = self.commands.try_recv() {
                            self.on_command(command);
                        }
                    }
                    None => {
                        self.closed = true;
                        self.draining = true;
                    }
                },
                permit = send_permit, if want_connection => {
                    if self.ready.is_empty() {
                        self.take_collector();
                    }
                    if let (Some(permit), Some(request)) = (permit, self.ready.pop_front()) {
                        self.send(request, permit);
                    }
                }
                _ = sleep_until(wake.into()) => {}
            }
            if self.aborted {
                self.abort();
                break;
            }
            let now = Instant::now();
            self.advance(now);
            if self.is_empty() {
                // Every record has its outcome: make the counts visible now, not a second later.
                if self.metrics_due.take().is_some() {
                    self.metrics.merge_into(&self.shared.metrics);
                }
                if self.closed || (now.duration_since(self.last_activity) >= IDLE_RETIRE && self.retire()) {
                    break;
                }
            } else {
                self.last_activity = now;
            }
        }
        self.metrics.merge_into(&self.shared.metrics);
        self.shared.live_workers.fetch_sub(1, Ordering::AcqRel);
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Records(records) => {
                let now = Instant::now();
                self.metrics.record(Metric::UserRecordsReceived, None, 1.0, records.len() as u64);
                self.mark_metrics_dirty(now);
                let buffered = self.shared.settings.max_buffered_time;
                // The records of one submit share their arrival: work the deadline out once.
                let mut last: Option<(Arrival, Instant)> = None;
                for record in records {
                    let deadline = match last {
                        Some((arrival, deadline)) if arrival == record.arrival => deadline,
                        _ => {
                            let deadline = after(record.arrival.instant(), buffered);
                            last = Some((record.arrival, deadline));
                            deadline
                        }
                    };
                    self.accept(record, deadline, false, now);
                }
            }
            Command::Flush => self.flush_requested = true,
            Command::Drain => self.draining = true,
            Command::Abort => self.aborted = true,
        }
    }

    /// Nothing held anywhere.
    fn is_empty(&self) -> bool {
        self.held.is_empty()
            && self.aggregated_records == 0
            && self.backlog.is_empty()
            && self.retries.is_empty()
            && self.collector.len() == 0
            && self.ready.is_empty()
            && self.in_flight.is_empty()
            && self.landed.is_empty()
    }

    /// Leaves the stream table if no command is waiting; true when the worker may stop.
    fn retire(&mut self) -> bool {
        let mut streams = self.shared.streams.lock().unwrap_or_else(|p| p.into_inner());
        let Some(me) = self.myself.upgrade() else { return true };
        if !self.commands.is_empty() {
            return false;
        }
        if streams.get(&self.key).is_some_and(|s| s.same_channel(&me)) {
            streams.remove(&self.key);
        }
        tracing::debug!(stream = %self.name, "stream idle; its state is released");
        true
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let mut wake = None;
        if !self.held.is_empty() {
            wake = earliest(wake, self.hold_until);
        }
        wake = earliest(wake, self.next_aggregate_deadline);
        // Once due, the request being filled waits for a connection (a permit wakes the worker).
        if !self.collector_due(now) {
            wake = earliest(wake, self.collector_send_at());
        }
        wake = earliest(wake, self.retries.peek().map(|d| d.0.due));
        wake = earliest(wake, self.limiter_wake);
        wake = earliest(wake, self.map_retry_at);
        wake = earliest(wake, self.metrics_due);
        if self.is_empty() {
            wake = earliest(wake, Some(after(self.last_activity, IDLE_RETIRE)));
        }
        wake.unwrap_or_else(|| after(now, Duration::from_secs(3600)))
    }

    /// Moves records along every stage that is due.
    fn advance(&mut self, now: Instant) {
        if !self.held.is_empty() && (!self.map_loading || self.hold_until.is_some_and(|t| t <= now)) {
            self.map_wait_over = self.map_loading;
            self.release_held(now);
        }
        let map_due = self.map_retry_at.is_some_and(|t| t <= now);
        let map_stale = self.map.as_ref().is_some_and(|m| m.age() >= SHARD_MAP_MAX_AGE) && !self.is_empty();
        if !self.map_loading && (map_due || map_stale) {
            self.request_shard_map();
        }
        let flush = std::mem::take(&mut self.flush_requested) || self.draining;
        if flush || self.next_aggregate_deadline.is_some_and(|t| t <= now) {
            self.finish_aggregates(now, flush);
        }
        while self.retries.peek().is_some_and(|d| d.0.due <= now) {
            if let Some(Reverse(delayed)) = self.retries.pop() {
                self.resume(delayed.retry, now);
            }
        }
        if !self.backlog.is_empty() && self.limiter_wake.is_some_and(|t| t <= now) {
            self.pump_limiters(now);
        }
        self.collector_flush_due = (self.collector_flush_due || flush) && self.collector.len() > 0;
        // A due request is closed only when a connection and room in the byte budget can take
        // it: until then it could not leave any sooner, so it keeps filling.
        if self.collector_due(now) && self.ready.is_empty() && self.shared.send_gate.can_take(self.collector.bytes()) {
            self.take_collector();
        }
        while let Some(request) = self.ready.front() {
            let Some(permit) = self.shared.send_gate.try_acquire(request_bytes(request)) else { break };
            if let Some(request) = self.ready.pop_front() {
                self.send(request, permit);
            }
        }
        if self.metrics_due.is_some_and(|t| t <= now) {
            self.metrics.merge_into(&self.shared.metrics);
            self.metrics_due = None;
        }
    }

    fn mark_metrics_dirty(&mut self, now: Instant) {
        if self.metrics_due.is_none() {
            self.metrics_due = Some(after(now, METRICS_MERGE_INTERVAL));
        }
    }

    // ---- shard map ----

    fn request_shard_map(&mut self) {
        if self.map_loading {
            return;
        }
        self.map_loading = true;
        self.map_retry_at = None;
        if self.map.is_none() {
            self.hold_until = Some(after(Instant::now(), SHARD_MAP_WAIT));
        }
        let transport = self.shared.transport.clone();
        let target = self.target.clone();
        let events = self.events_tx.clone();
        let deadline = self.shared.settings.request_deadline;
        tokio::spawn(async move {
            let result = match tokio::time::timeout(deadline, transport.list_shards(&target)).await {
                Ok(result) => result,
                Err(_) => Err(timeout_error(deadline)),
            };
            let _ = events.send(Event::Shards(result));
        });
    }

    fn on_shards(&mut self, result: Result<Vec<Shard>, RequestError>) {
        let now = Instant::now();
        self.map_loading = false;
        match result {
            Ok(shards) if !shards.is_empty() => {
                let map = ShardMap::new(shards);
                tracing::debug!(stream = %self.name, shards = map.len(), "shard map listed");
                // Open aggregates are keyed by the old map's indices: send them before they change.
                self.finish_aggregates(now, true);
                self.shard_aggregates = (0..map.len()).map(|_| OpenAggregate::default()).collect();
                self.map = Some(Arc::new(map));
                self.map_failures = 0;
                self.settle_landed(now);
            }
            failed => {
                let reason = match failed {
                    Err(e) => e.to_string(),
                    Ok(_) => "the stream has no open shard".to_owned(),
                };
                self.map_failures += 1;
                // Without a map nobody can tell: send the records of stray aggregates again.
                self.settle_landed(now);
                let pause = refresh_backoff(self.map_failures);
                self.map_retry_at = Some(after(now, pause));
                if self.map_failures == 1 || self.map_failures % 10 == 0 {
                    tracing::warn!(
                        stream = %self.name,
                        failures = self.map_failures,
                        "cannot list shards ({reason}); records are aggregated by partition key until it works"
                    );
                }
            }
        }
        self.release_held(now);
    }

    /// Delivers each landed aggregate whose shard (in the new map) holds all of its records;
    /// sends the records of the others again.
    fn settle_landed(&mut self, now: Instant) {
        let deadline = after(now, self.shared.settings.max_buffered_time / 2);
        for landed in std::mem::take(&mut self.landed) {
            let shard = self.map.as_ref().and_then(|m| m.find(&landed.shard_id));
            let holds_all = shard.is_some_and(|s| landed.record.members.iter().all(|m| s.contains(m.hash_key)));
            if holds_all {
                self.deliver(landed.record, landed.shard_id, landed.sequence_number);
                continue;
            }
            tracing::debug!(
                stream = %self.name,
                shard = %landed.shard_id,
                records = landed.record.members.len(),
                "aggregate landed in a shard that does not hold all its records; its records are sent again"
            );
            // Kinesis stored it all the same: count it as put, its records once they arrive.
            let shard = Some(&landed.shard_id);
            self.metrics.record(Metric::KinesisRecordsPut, shard, 1.0, 1);
            self.metrics.record(Metric::KinesisRecordsDataPut, shard, landed.record.size() as f64, 1);
            for member in landed.record.members {
                self.accept(member, deadline, false, now);
            }
        }
    }

    fn release_held(&mut self, now: Instant) {
        self.hold_until = None;
        for (record, deadline) in std::mem::take(&mut self.held) {
            self.accept(record, deadline, false, now);
        }
    }

    // ---- aggregation ----

    /// Routes a record to its open aggregate. `wait_for_map` holds it until a shard map
    /// listing under way has arrived (records that landed in the wrong shard).
    fn accept(&mut self, record: PendingRecord, deadline: Instant, wait_for_map: bool, now: Instant) {
        if self.map_loading && (wait_for_map || (self.map.is_none() && !self.map_wait_over)) {
            if self.held.is_empty() && self.hold_until.is_none() {
                self.hold_until = Some(after(now, SHARD_MAP_WAIT));
            }
            self.held.push((record, deadline));
            return;
        }
        let shard_index = self.map.as_ref().and_then(|m| m.predict(record.hash_key));
        // Looked up only when a Kinesis record is made: cloning the id for every user record
        // cost two atomic operations each.
        let map = &self.map;
        let predicted = || Some(map.as_ref()?.shard(shard_index?).id.clone());
        let settings = &self.shared.settings;
        if !settings.aggregation_enabled {
            let record = KinesisRecord::raw(record, predicted(), deadline);
            self.enqueue(record, false, now);
            return;
        }
        let (max_size, max_count) = (settings.aggregation_max_size, settings.aggregation_max_count);
        let hash_key = record.hash_key;
        let slot = match shard_index {
            Some(i) => &mut self.shard_aggregates[i],
            None => self.hash_aggregates.entry(hash_key).or_default(),
        };
        let mut finished = None;
        if let Err(record) = slot.aggregator.try_add(record, max_size, max_count) {
            finished = Self::close_aggregate(slot, predicted(), &mut self.spares);
            if slot.aggregator.try_add(record, max_size, max_count).is_err() {
                unreachable!("an empty aggregate takes any record");
            }
        }
        slot.deadline = Some(slot.deadline.map_or(deadline, |d| d.min(deadline)));
        let full = slot.aggregator.len() as u64 >= max_count;
        let full_aggregate = if full { Self::close_aggregate(slot, predicted(), &mut self.spares) } else { None };
        self.next_aggregate_deadline = Some(self.next_aggregate_deadline.map_or(deadline, |d| d.min(deadline)));
        self.aggregated_records += 1;
        // One at a time: gathering the two options into an array copied both on every record.
        if let Some(kinesis_record) = finished {
            self.aggregated_records -= kinesis_record.members.len();
            self.enqueue(kinesis_record, false, now);
        }
        if let Some(kinesis_record) = full_aggregate {
            self.aggregated_records -= kinesis_record.members.len();
            self.enqueue(kinesis_record, false, now);
        }
        if shard_index.is_none() && self.hash_aggregates.get(&hash_key).is_some_and(|a| a.aggregator.is_empty()) {
            self.hash_aggregates.remove(&hash_key);
        }
    }

    fn close_aggregate(
        slot: &mut OpenAggregate,
        predicted: Option<Arc<str>>,
        spares: &mut SpareBuffers,
    ) -> Option<KinesisRecord> {
        let (members, tables) = slot.aggregator.finish(spares)?;
        let deadline = slot.deadline.take().unwrap_or_else(Instant::now);
        Some(KinesisRecord::aggregate(members, tables, predicted, deadline))
    }

    /// Closes the aggregates whose deadline passed (all of them with `all`).
    fn finish_aggregates(&mut self, now: Instant, all: bool) {
        let mut closed = Vec::new();
        let mut next = None;
        for (i, slot) in self.shard_aggregates.iter_mut().enumerate() {
            match slot.deadline {
                Some(d) if all || d <= now => {
                    let predicted = self.map.as_ref().map(|m| m.shard(i).id.clone());
                    closed.extend(Self::close_aggregate(slot, predicted, &mut self.spares));
                }
                d => next = earliest(next, d),
            }
        }
        self.hash_aggregates.retain(|_, slot| match slot.deadline {
            Some(d) if all || d <= now => {
                closed.extend(Self::close_aggregate(slot, None, &mut self.spares));
                false
            }
            d => {
                next = earliest(next, d);
                true
            }
        });
        self.next_aggregate_deadline = next;
        for kinesis_record in closed {
            self.aggregated_records -= kinesis_record.members.len();
            self.enqueue(kinesis_record, false, now);
        }
    }

    // ---- rate limiting and collection ----

    fn enqueue(&mut self, record: KinesisRecord, front: bool, now: Instant) {
        let Some(shard) = record.predicted_shard.clone() else {
            return self.collect(record);
        };
        let rate_limit = self.shared.settings.rate_limit;
        let queue = self
            .queues
            .entry(shard.clone())
            .or_insert_with(|| ShardQueue { limiter: ShardLimiter::new(rate_limit, now), waiting: VecDeque::new() });
        // A shard already held back keeps its release time; a newly held one gets one.
        let mut wake = None;
        if queue.waiting.is_empty() {
            match queue.limiter.try_acquire(record.size(), now) {
                Ok(()) => return self.collect(record),
                Err(wait) => wake = Some(after(now, wait.max(LIMITER_BATCH_WAIT))),
            }
        }
        if front {
            queue.waiting.push_front(record);
        } else {
            queue.waiting.push_back(record);
        }
        self.backlog.insert(shard);
        self.limiter_wake = earliest(self.limiter_wake, wake);
    }

    fn pump_limiters(&mut self, now: Instant) {
        let mut passed = Vec::new();
        let mut wake = None;
        let queues = &mut self.queues;
        self.backlog.retain(|shard| {
            let Some(queue) = queues.get_mut(shard) else { return false };
            while let Some(front) = queue.waiting.front() {
                match queue.limiter.try_acquire(front.size(), now) {
                    Ok(()) => passed.extend(queue.waiting.pop_front()),
                    Err(wait) => {
                        wake = earliest(wake, Some(after(now, wait.max(LIMITER_BATCH_WAIT))));
                        break;
                    }
                }
            }
            !queue.waiting.is_empty()
        });
        self.limiter_wake = wake;
        for record in passed {
            self.collect(record);
        }
    }

    /// The request being filled has records that should leave now.
    fn collector_due(&self, now: Instant) -> bool {
        self.collector.len() > 0 && (self.collector_flush_due || self.collector_send_at().is_some_and(|t| t <= now))
    }

    /// When the request being filled should leave: at its earliest record's deadline. While
    /// shards are held back by their rate limit, their records come out in bursts, already
    /// late; then a request waits one more release to fill up, unless it is full first.
    fn collector_send_at(&self) -> Option<Instant> {
        let deadline = self.collector.deadline()?;
        match self.collector.opened() {
            Some(opened) if !self.backlog.is_empty() => Some(deadline.max(after(opened, LIMITER_BATCH_WAIT))),
            _ => Some(deadline),
        }
    }

    fn take_collector(&mut self) {
        self.collector_flush_due = false;
        if let Some(request) = self.collector.take() {
            self.ready.push_back(request);
        }
    }

    fn collect(&mut self, record: KinesisRecord) {
        if let Some(request) = self.collector.add(record) {
            self.ready.push_back(request);
        }
        if self.collector.is_full() {
            if let Some(request) = self.collector.take() {
                self.ready.push_back(request);
            }
        }
    }

    // ---- sending ----

    /// Kinesis bytes of the next request to go: the first ready one, else the one being filled.
    fn next_request_bytes(&self) -> usize {
        self.ready.front().map_or(self.collector.bytes(), |request| request_bytes(request))
    }

    fn send(&mut self, request: Vec<KinesisRecord>, permit: SendPermit) {
        let now = Instant::now();
        let mut records = Vec::with_capacity(request.len());
        for record in request {
            if record.members.iter().all(|m| self.expired(m, now)) {
                self.expire(record.members, record.predicted_shard.as_ref());
            } else {
                records.push(record);
            }
        }
        if records.is_empty() {
            return;
        }
        let mut user_records = 0u64;
        for record in &mut records {
            if record.sends == 0 {
                let mut buffering = StatBuilder::default();
                for m in &record.members {
                    buffering.add(now.saturating_duration_since(m.arrival.instant()).as_secs_f64() * 1000.0);
                }
                self.metrics.record_stat(Metric::BufferingTime, record.predicted_shard.as_ref(), buffering.build());
            }
            record.sends += 1;
            for m in &mut record.members {
                m.attempts += 1;
            }
            user_records += record.members.len() as u64;
        }
        self.metrics.record(Metric::KinesisRecordsPerPutRecordsRequest, None, records.len() as f64, 1);
        self.metrics.record(Metric::UserRecordsPerPutRecordsRequest, None, user_records as f64, 1);
        self.mark_metrics_dirty(now);

        let entries: Vec<PutEntry> = records.iter().map(KinesisRecord::entry).collect();
        let request = self.shared.transport.put_records(&self.target, &entries);
        drop(entries);
        let id = self.next_request;
        self.next_request += 1;
        self.in_flight.insert(id, records);
        let events = self.events_tx.clone();
        let deadline = self.shared.settings.request_deadline;
        tokio::spawn(async move {
            let started = Instant::now();
            let result = match tokio::time::timeout(deadline, request).await {
                Ok(result) => result,
                Err(_) => Err(timeout_error(deadline)),
            };
            drop(permit);
            let _ = events.send(Event::Sent { id, elapsed: started.elapsed(), result });
        });
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Shards(result) => self.on_shards(result),
            Event::Sent { id, elapsed, result } => {
                let Some(records) = self.in_flight.remove(&id) else { return };
                let now = Instant::now();
                self.metrics.record(Metric::RequestTime, None, elapsed.as_secs_f64() * 1000.0, 1);
                self.mark_metrics_dirty(now);
                // One throttling answer slows each shard down once, however many of its entries failed.
                let mut slowed = Vec::new();
                match result {
                    Ok(results) => {
                        for (record, result) in records.into_iter().zip(results) {
                            match result {
                                EntryResult::Accepted { shard_id, sequence_number } => {
                                    self.on_accepted(record, shard_id, sequence_number)
                                }
                                EntryResult::Failed { code, message } => {
                                    let disposition = classify_entry(&code);
                                    let (code, message) = (code.into(), message.into());
                                    self.on_failed(record, disposition, code, message, now, &mut slowed);
                                }
                            }
                        }
                    }
                    Err(error) => {
                        let disposition = classify_request(&error);
                        tracing::debug!(stream = %self.name, ?disposition, "PutRecords failed: {error}");
                        let (code, message): (Arc<str>, Arc<str>) = match certificate_problem(&error) {
                            Some(problem) => (
                                "CertificateNotTrusted".into(),
                                format!(
                                    "the Kinesis endpoint's TLS certificate is not trusted ({problem}); \
                                     verify_certificate => false turns the check off, for test endpoints only"
                                )
                                .into(),
                            ),
                            None => (error.code.into(), error.message.into()),
                        };
                        for record in records {
                            self.on_failed(record, disposition, code.clone(), message.clone(), now, &mut slowed);
                        }
                    }
                }
            }
        }
    }

    fn on_accepted(&mut self, record: KinesisRecord, shard_id: String, sequence_number: String) {
        let wrong_shard = record.predicted_shard.as_deref().is_some_and(|p| p != shard_id);
        let shard: Arc<str> = shard_id.into();
        let sequence_number: Arc<str> = sequence_number.into();
        if wrong_shard {
            // The map is out of date (a reshard): list the shards again.
            self.request_shard_map();
            if record.members.len() > 1 {
                // Consumers drop an aggregate holding hash keys outside its shard. Whether this
                // one does is known with the new map: until then it waits (see settle_landed).
                self.landed.push(Landed { record, shard_id: shard, sequence_number });
                return;
            }
        }
        self.deliver(record, shard, sequence_number);
    }

    /// Gives every record of a stored Kinesis record its Delivered outcome.
    fn deliver(&mut self, record: KinesisRecord, shard: Arc<str>, sequence_number: Arc<str>) {
        let users = record.members.len() as u64;
        self.metrics.record(Metric::KinesisRecordsPut, Some(&shard), 1.0, 1);
        self.metrics.record(Metric::KinesisRecordsDataPut, Some(&shard), record.size() as f64, 1);
        self.metrics.record(Metric::UserRecordsPut, Some(&shard), 1.0, users);
        self.metrics.record(Metric::UserRecordsDataPut, Some(&shard), record.user_bytes() as f64, 1);
        self.metrics.record(Metric::UserRecordsPerKinesisRecord, Some(&shard), users as f64, 1);
        let mut members = record.members;
        let mut retries = StatBuilder::default();
        complete_all(members.drain(..).map(|member| {
            let attempts = member.attempts;
            retries.add(f64::from(attempts.saturating_sub(1)));
            let outcome =
                Outcome::Delivered { shard_id: shard.clone(), sequence_number: sequence_number.clone(), attempts };
            (member.slot, outcome)
        }));
        self.metrics.record_stat(Metric::RetriesPerRecord, Some(&shard), retries.build());
        self.spares.give_members(members);
    }

    fn on_failed(
        &mut self,
        record: KinesisRecord,
        disposition: Disposition,
        code: Arc<str>,
        message: Arc<str>,
        now: Instant,
        slowed: &mut Vec<Arc<str>>,
    ) {
        let shard = record.predicted_shard.clone();
        self.metrics.record_code(Metric::ErrorsByCode, Some(&code), shard.as_ref(), 1.0, 1);
        self.metrics.record(Metric::AllErrors, shard.as_ref(), 1.0, 1);
        let give_up = match disposition {
            Disposition::Permanent => true,
            Disposition::Throttled => {
                if let Some(shard) = shard.as_ref().filter(|s| !slowed.contains(s)) {
                    if let Some(queue) = self.queues.get_mut(shard) {
                        queue.limiter.throttled(now);
                    }
                    slowed.push(shard.clone());
                }
                self.shared.settings.fail_if_throttled
            }
            Disposition::Retry => false,
        };
        if give_up {
            self.fail_members(record.members, shard.as_ref(), &code, &message);
        } else {
            self.schedule_retry(record, &code, &message, now);
        }
    }

    fn fail_members(
        &mut self,
        members: Vec<PendingRecord>,
        shard: Option<&Arc<str>>,
        code: &Arc<str>,
        message: &Arc<str>,
    ) {
        let mut retries = StatBuilder::default();
        for member in members {
            retries.add(f64::from(member.attempts.saturating_sub(1)));
            member.fail(code, message);
        }
        self.metrics.record_stat(Metric::RetriesPerRecord, shard, retries.build());
    }

    fn expire(&mut self, members: Vec<PendingRecord>, shard: Option<&Arc<str>>) {
        let code: Arc<str> = "Expired".into();
        let ttl = self.shared.settings.record_ttl.as_millis();
        self.metrics.record(Metric::UserRecordExpired, shard, 1.0, members.len() as u64);
        let mut retries = StatBuilder::default();
        for member in members {
            let message = match &member.last_error {
                Some(error) => {
                    format!("record_ttl ({ttl} ms) passed after {} attempts; last error: {error}", member.attempts)
                }
                None => format!("record_ttl ({ttl} ms) passed before the record could be sent"),
            };
            retries.add(f64::from(member.attempts.saturating_sub(1)));
            member.fail(&code, &message.into());
        }
        self.metrics.record_stat(Metric::RetriesPerRecord, shard, retries.build());
    }

    /// When `record_ttl` runs out for the record.
    fn expiration(&self, record: &PendingRecord) -> Instant {
        after(record.arrival.instant(), self.shared.settings.record_ttl)
    }

    fn expired(&self, record: &PendingRecord, now: Instant) -> bool {
        now >= self.expiration(record)
    }

    fn schedule_retry(&mut self, mut record: KinesisRecord, code: &str, message: &str, now: Instant) {
        let last_error = Arc::new(format!("{code}: {message}"));
        for member in &mut record.members {
            member.last_error = Some(last_error.clone());
        }
        let retry_at = after(now, backoff(record.sends, rand::random::<f64>()));
        let retry = if record.members.iter().any(|m| self.expired(m, now)) {
            let (expired, alive): (Vec<_>, Vec<_>) = record.members.drain(..).partition(|m| self.expired(m, now));
            self.expire(expired, record.predicted_shard.as_ref());
            if alive.is_empty() {
                return;
            }
            Retry::Members(alive)
        } else {
            Retry::Whole(record)
        };
        // Come back no later than the first expiry, so records fail when their TTL passes,
        // not a backoff later.
        let first_expiry = match &retry {
            Retry::Whole(r) => r.members.iter().map(|m| self.expiration(m)).min(),
            Retry::Members(m) => m.iter().map(|m| self.expiration(m)).min(),
        };
        let due = first_expiry.map_or(retry_at, |e| e.min(retry_at));
        self.retry_seq += 1;
        self.retries.push(Reverse(Delayed { due, seq: self.retry_seq, retry }));
    }

    fn resume(&mut self, retry: Retry, now: Instant) {
        match retry {
            Retry::Whole(record) if record.members.iter().all(|m| self.expired(m, now)) => {
                self.expire(record.members, record.predicted_shard.as_ref());
            }
            Retry::Whole(mut record) => {
                record.deadline = after(now, self.shared.settings.max_buffered_time / 2);
                self.enqueue(record, true, now);
            }
            Retry::Members(members) => {
                let deadline = after(now, self.shared.settings.max_buffered_time / 2);
                for member in members {
                    self.accept(member, deadline, false, now);
                }
            }
        }
    }

    /// Fails every record still held: the producer is closing.
    fn abort(&mut self) {
        let code: Arc<str> = "ProducerClosed".into();
        let unsent: Arc<str> = "the producer was closed before the record could be delivered".into();
        let unanswered: Arc<str> =
            "the producer was closed before Kinesis answered; the record may have been delivered".into();
        let mut members: Vec<PendingRecord> = self.held.drain(..).map(|(r, _)| r).collect();
        for slot in self.shard_aggregates.iter_mut().chain(self.hash_aggregates.values_mut()) {
            members.extend(slot.aggregator.finish(&mut self.spares).into_iter().flat_map(|(m, _)| m));
        }
        self.hash_aggregates.clear();
        self.aggregated_records = 0;
        for queue in self.queues.values_mut() {
            members.extend(queue.waiting.drain(..).flat_map(|r| r.members));
        }
        self.backlog.clear();
        for Reverse(delayed) in self.retries.drain() {
            match delayed.retry {
                Retry::Whole(r) => members.extend(r.members),
                Retry::Members(m) => members.extend(m),
            }
        }
        members.extend(self.collector.take().into_iter().flatten().flat_map(|r| r.members));
        members.extend(self.ready.drain(..).flatten().flat_map(|r| r.members));
        self.fail_members(members, None, &code, &unsent);
        let mut in_flight: Vec<PendingRecord> =
            self.in_flight.drain().flat_map(|(_, r)| r).flat_map(|r| r.members).collect();
        in_flight.extend(self.landed.drain(..).flat_map(|l| l.record.members));
        self.fail_members(in_flight, None, &code, &unanswered);
    }
}

fn timeout_error(deadline: Duration) -> RequestError {
    RequestError {
        kind: RequestErrorKind::Timeout,
        code: "Timeout".into(),
        message: format!("no answer within {} ms", deadline.as_millis()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard_map::Shard;
    use crate::test_support::pending;
    use crate::transport::{BoxFuture, PutEntry};
    use tokio::sync::Semaphore;

    /// Accepts every entry into one shard.
    struct OneShard;

    impl Transport for OneShard {
        fn put_records(
            &self,
            _stream: &StreamTarget,
            entries: &[PutEntry<'_>],
        ) -> BoxFuture<Result<Vec<EntryResult>, RequestError>> {
            let accepted = entries
                .iter()
                .map(|_| EntryResult::Accepted { shard_id: "shardId-0".into(), sequence_number: "1".into() })
                .collect();
            Box::pin(async move { Ok(accepted) })
        }

        fn list_shards(&self, _stream: &StreamTarget) -> BoxFuture<Result<Vec<Shard>, RequestError>> {
            let shard = Shard { id: "shardId-0".into(), starting_hash_key: 0, ending_hash_key: u128::MAX };
            Box::pin(async move { Ok(vec![shard]) })
        }
    }

    /// Holds every PutRecords until the test lets it go (one permit each), noting its size.
    struct Gated {
        gate: Arc<Semaphore>,
        sizes: Arc<std::sync::Mutex<Vec<usize>>>,
    }

    impl Transport for Gated {
        fn put_records(
            &self,
            stream: &StreamTarget,
            entries: &[PutEntry<'_>],
        ) -> BoxFuture<Result<Vec<EntryResult>, RequestError>> {
            self.sizes.lock().unwrap().push(entries.len());
            let (gate, answer) = (self.gate.clone(), OneShard.put_records(stream, entries));
            Box::pin(async move {
                gate.acquire().await.expect("gate").forget();
                answer.await
            })
        }

        fn list_shards(&self, stream: &StreamTarget) -> BoxFuture<Result<Vec<Shard>, RequestError>> {
            OneShard.list_shards(stream)
        }
    }

    fn shared() -> Arc<Shared> {
        shared_with(Arc::new(OneShard), 4, true)
    }

    fn shared_with(transport: Arc<dyn Transport>, connections: usize, aggregation_enabled: bool) -> Arc<Shared> {
        shared_limited(transport, connections, aggregation_enabled, 150)
    }

    fn shared_limited(
        transport: Arc<dyn Transport>,
        connections: usize,
        aggregation_enabled: bool,
        rate_limit: u64,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            settings: Settings {
                aggregation_enabled,
                aggregation_max_count: u64::MAX,
                aggregation_max_size: 51_200,
                collection_max_count: 500,
                collection_max_size: 5 << 20,
                max_buffered_time: Duration::from_millis(100),
                record_ttl: Duration::from_secs(30),
                request_deadline: Duration::from_secs(10),
                rate_limit,
                fail_if_throttled: false,
            },
            transport,
            send_gate: SendGate::new(connections, 32 << 20),
            metrics: Arc::new(Metrics::default()),
            streams: Arc::new(StreamTable::default()),
            live_workers: AtomicUsize::new(0),
        })
    }

    #[tokio::test]
    async fn an_idle_stream_releases_its_state() {
        let shared = shared();
        for name in ["a", "b"] {
            let sender = spawn(shared.clone(), name.into());
            shared.streams.lock().unwrap().insert(name.into(), sender);
        }
        let record = pending("k", None, b"data");
        shared.streams.lock().unwrap()["a"].send(Command::Records(vec![record])).unwrap();
        tokio::time::sleep(IDLE_RETIRE / 2).await;
        assert_eq!(shared.live_workers.load(Ordering::Acquire), 2);
        tokio::time::sleep(IDLE_RETIRE).await;
        assert_eq!(shared.live_workers.load(Ordering::Acquire), 0, "idle workers stopped");
        assert!(shared.streams.lock().unwrap().is_empty(), "and left the stream table");
        assert!(shared.metrics.total(Metric::UserRecordsPut) == 1.0, "after delivering what they had");
    }

    #[tokio::test]
    async fn a_due_request_keeps_filling_while_no_connection_is_free() {
        let gate = Arc::new(Semaphore::new(0));
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let shared = shared_with(Arc::new(Gated { gate: gate.clone(), sizes: sizes.clone() }), 1, false);
        let requests = || sizes.lock().unwrap().clone();
        let worker = spawn(shared.clone(), "s".into());
        // The first request takes the only connection and hangs.
        worker.send(Command::Records(vec![pending("k0", None, b"first")])).unwrap();
        wait_until(|| requests().len() == 1).await;
        // Five more records, each due (100 ms buffered time) before the next arrives.
        for i in 1..=5 {
            worker.send(Command::Records(vec![pending(&format!("k{i}"), None, b"later")])).unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        gate.add_permits(10);
        wait_until(|| shared.metrics.total(Metric::UserRecordsPut) == 6.0).await;
        assert_eq!(requests(), [1, 5], "one request for the five, not one each");
    }

    #[tokio::test]
    async fn requests_being_sent_stay_within_the_byte_budget() {
        // 9 MB of records leave the shard's limiter 2 MiB at a time, into requests of 2 MB each.
        for (budget, sent_at_once) in [(3 << 20, 1), (32 << 20, 4)] {
            let gate = Arc::new(Semaphore::new(0));
            let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
            let transport = Arc::new(Gated { gate: gate.clone(), sizes: sizes.clone() });
            let mut shared = Arc::into_inner(shared_limited(transport, 4, false, 10_000)).expect("sole owner");
            shared.send_gate = SendGate::new(4, budget);
            let shared = Arc::new(shared);
            let worker = spawn(shared.clone(), "s".into());
            let records = (0..900).map(|i| pending(&format!("k{i:03}"), None, &[b'x'; 10_000])).collect();
            worker.send(Command::Records(records)).unwrap();
            wait_until(|| !sizes.lock().unwrap().is_empty()).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let sent = sizes.lock().unwrap().clone();
            assert_eq!(sent.len(), sent_at_once, "budget {budget}: {sent:?}");
            gate.add_permits(10);
            wait_until(|| shared.metrics.total(Metric::UserRecordsPut) == 900.0).await;
            assert_eq!(sizes.lock().unwrap().iter().sum::<usize>(), 900);
        }
    }

    async fn wait_until(condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "not within 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn requests_of_rate_limited_records_wait_one_more_release_to_fill_up() {
        let gate = Arc::new(Semaphore::new(1 << 20));
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        // 50 % of a shard's 1000 records/s: 25 records per 50 ms release once the bucket is empty.
        let shared = shared_limited(Arc::new(Gated { gate, sizes: sizes.clone() }), 4, false, 50);
        let worker = spawn(shared.clone(), "s".into());
        let records = (0..1300).map(|i| pending(&format!("k{i}"), None, b"x")).collect();
        worker.send(Command::Records(records)).unwrap();
        wait_until(|| shared.metrics.total(Metric::UserRecordsPut) == 1300.0).await;
        let sizes = sizes.lock().unwrap().clone();
        // The full bucket lets 1000 through at once (two requests of 500); the other 300 come out
        // of the limiter late, 25 per release: one request per release would make 12.
        assert_eq!(sizes[..2], [500, 500], "{sizes:?}");
        let tail = &sizes[2..];
        assert_eq!(tail.iter().sum::<usize>(), 300);
        assert!(tail.len() <= 7, "{} requests for the last 300 records: {tail:?}", tail.len());
    }
}

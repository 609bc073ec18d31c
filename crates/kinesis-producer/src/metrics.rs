//! Counters for everything KPL reports as metrics, kept per stream, shard and error code.
//!
//! Each stream's worker counts into arrays of its own, one slot per metric and shard (no lock,
//! no atomic and no allocation on the send path), and merges them into the shared registry
//! about once a second; readers take snapshots of the registry, and the CloudWatch uploader
//! drains what was merged since its last upload.

use crate::config::MetricsLevel;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The KPL metric set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// User records submitted.
    UserRecordsReceived,
    /// User records held, sampled.
    UserRecordsPending,
    /// User records delivered.
    UserRecordsPut,
    /// Bytes of delivered user records.
    UserRecordsDataPut,
    /// User records that reached record_ttl.
    UserRecordExpired,
    /// Kinesis records (aggregates or raw) stored.
    KinesisRecordsPut,
    /// Bytes of stored Kinesis records.
    KinesisRecordsDataPut,
    /// Errors, by error code.
    ErrorsByCode,
    /// All errors.
    AllErrors,
    /// Retries per user record, at its outcome.
    RetriesPerRecord,
    /// Time from submit to first send.
    BufferingTime,
    /// Duration of PutRecords requests.
    RequestTime,
    /// User records per Kinesis record.
    UserRecordsPerKinesisRecord,
    /// Kinesis records per PutRecords request.
    KinesisRecordsPerPutRecordsRequest,
    /// User records per PutRecords request.
    UserRecordsPerPutRecordsRequest,
}

/// Number of metrics in the set.
const METRIC_COUNT: usize = 15;

impl Metric {
    /// Every metric, in declaration order.
    pub const ALL: [Metric; METRIC_COUNT] = [
        Metric::UserRecordsReceived,
        Metric::UserRecordsPending,
        Metric::UserRecordsPut,
        Metric::UserRecordsDataPut,
        Metric::UserRecordExpired,
        Metric::KinesisRecordsPut,
        Metric::KinesisRecordsDataPut,
        Metric::ErrorsByCode,
        Metric::AllErrors,
        Metric::RetriesPerRecord,
        Metric::BufferingTime,
        Metric::RequestTime,
        Metric::UserRecordsPerKinesisRecord,
        Metric::KinesisRecordsPerPutRecordsRequest,
        Metric::UserRecordsPerPutRecordsRequest,
    ];

    /// The lowest `metrics_level` that uploads this metric (KPL's levels).
    pub fn level(self) -> MetricsLevel {
        match self {
            Metric::UserRecordsPut
            | Metric::UserRecordExpired
            | Metric::KinesisRecordsPut
            | Metric::ErrorsByCode
            | Metric::AllErrors
            | Metric::BufferingTime => MetricsLevel::Summary,
            _ => MetricsLevel::Detailed,
        }
    }

    /// CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::UserRecordsReceived => "UserRecordsReceived",
            Metric::UserRecordsPending => "UserRecordsPending",
            Metric::UserRecordsPut => "UserRecordsPut",
            Metric::UserRecordsDataPut => "UserRecordsDataPut",
            Metric::UserRecordExpired => "UserRecordExpired",
            Metric::KinesisRecordsPut => "KinesisRecordsPut",
            Metric::KinesisRecordsDataPut => "KinesisRecordsDataPut",
            Metric::ErrorsByCode => "ErrorsByCode",
            Metric::AllErrors => "AllErrors",
            Metric::RetriesPerRecord => "RetriesPerRecord",
            Metric::BufferingTime => "BufferingTime",
            Metric::RequestTime => "RequestTime",
            Metric::UserRecordsPerKinesisRecord => "UserRecordsPerKinesisRecord",
            Metric::KinesisRecordsPerPutRecordsRequest => "KinesisRecordsPerPutRecordsRequest",
            Metric::UserRecordsPerPutRecordsRequest => "UserRecordsPerPutRecordsRequest",
        }
    }

    /// CloudWatch unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::UserRecordsDataPut | Metric::KinesisRecordsDataPut => "Bytes",
            Metric::BufferingTime | Metric::RequestTime => "Milliseconds",
            _ => "Count",
        }
    }
}

/// Sum, minimum, maximum and count of the values seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Number of values.
    pub count: u64,
}

impl Stat {
    /// No values yet; merging into it gives the other statistic.
    pub(crate) const EMPTY: Stat = Stat { sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, count: 0 };

    fn of(value: f64, count: u64) -> Self {
        Stat { sum: value * count as f64, min: value, max: value, count }
    }

    /// Adds `count` observations of `value`.
    fn add(&mut self, value: f64, count: u64) {
        self.merge(&Stat::of(value, count));
    }

    /// Adds every observation of `other`.
    pub(crate) fn merge(&mut self, other: &Stat) {
        if other.count == 0 {
            return;
        }
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.count += other.count;
    }
}

/// Which series a value belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    /// The metric.
    pub metric: Metric,
    /// Error code, for ErrorsByCode.
    pub error_code: Option<Arc<str>>,
    /// Stream name.
    pub stream: Arc<str>,
    /// Shard id, for shard-level metrics.
    pub shard: Option<Arc<str>>,
}

/// One statistic per metric.
type MetricSlots = [Stat; METRIC_COUNT];

const EMPTY_SLOTS: MetricSlots = [Stat::EMPTY; METRIC_COUNT];

/// Values counted by one stream worker since its last merge.
///
/// Recording indexes an array by metric; the shard's slots are found by a one-entry cache
/// (a worker records several metrics for the same shard in a row) and then a map lookup.
/// Series with an error code are kept in a small map of their own.
pub(crate) struct LocalMetrics {
    stream: Arc<str>,
    stream_slots: MetricSlots,
    shard_slots: Vec<(Arc<str>, MetricSlots)>,
    shard_index: HashMap<Arc<str>, usize>,
    last_shard: usize,
    errors: HashMap<CodedSeries, Stat>,
}

/// Metric, error code and shard of a series with an error code.
type CodedSeries = (Metric, Arc<str>, Option<Arc<str>>);

impl LocalMetrics {
    pub fn new(stream: Arc<str>) -> Self {
        LocalMetrics {
            stream,
            stream_slots: EMPTY_SLOTS,
            shard_slots: Vec::new(),
            shard_index: HashMap::new(),
            last_shard: 0,
            errors: HashMap::new(),
        }
    }

    /// The slots of a shard, or of the stream itself for `None`.
    fn slots(&mut self, shard: Option<&Arc<str>>) -> &mut MetricSlots {
        let Some(shard) = shard else { return &mut self.stream_slots };
        let cached = self.shard_slots.get(self.last_shard).is_some_and(|(id, _)| id == shard);
        if !cached {
            self.last_shard = match self.shard_index.get(&**shard) {
                Some(&index) => index,
                None => {
                    self.shard_slots.push((shard.clone(), EMPTY_SLOTS));
                    self.shard_index.insert(shard.clone(), self.shard_slots.len() - 1);
                    self.shard_slots.len() - 1
                }
            };
        }
        &mut self.shard_slots[self.last_shard].1
    }

    /// Adds `count` observations of `value`.
    pub fn record(&mut self, metric: Metric, shard: Option<&Arc<str>>, value: f64, count: u64) {
        if count > 0 {
            self.slots(shard)[metric as usize].add(value, count);
        }
    }

    /// Adds observations to a series with an error code.
    pub fn record_code(
        &mut self,
        metric: Metric,
        code: Option<&Arc<str>>,
        shard: Option<&Arc<str>>,
        value: f64,
        count: u64,
    ) {
        match code {
            Some(code) if count > 0 => {
                // Errors are rare next to records: a map keyed by strings is cheap enough here.
                let key = (metric, code.clone(), shard.cloned());
                self.errors.entry(key).or_insert(Stat::EMPTY).add(value, count);
            }
            Some(_) => {}
            None => self.record(metric, shard, value, count),
        }
    }

    /// Adds a pre-computed statistic.
    pub fn record_stat(&mut self, metric: Metric, shard: Option<&Arc<str>>, stat: Stat) {
        if stat.count > 0 {
            self.slots(shard)[metric as usize].merge(&stat);
        }
    }

    /// Every non-empty series, leaving the counters empty.
    fn drain(&mut self) -> Vec<(MetricKey, Stat)> {
        let mut out = Vec::new();
        take_slots(&self.stream, None, &mut self.stream_slots, &mut out);
        for (shard, slots) in &mut self.shard_slots {
            take_slots(&self.stream, Some(shard), slots, &mut out);
        }
        for ((metric, code, shard), stat) in self.errors.drain() {
            out.push((MetricKey { metric, error_code: Some(code), stream: self.stream.clone(), shard }, stat));
        }
        // Shards are forgotten at each merge, so memory follows the shards in use.
        self.shard_slots.clear();
        self.shard_index.clear();
        out
    }

    /// Moves the values into the shared registry.
    pub fn merge_into(&mut self, registry: &Metrics) {
        let values = self.drain();
        if !values.is_empty() {
            registry.merge(values);
        }
    }
}

/// Moves the non-empty statistics of `slots` to `out`, leaving them empty.
fn take_slots(stream: &Arc<str>, shard: Option<&Arc<str>>, slots: &mut MetricSlots, out: &mut Vec<(MetricKey, Stat)>) {
    for (metric, stat) in Metric::ALL.iter().zip(slots.iter_mut()) {
        if stat.count > 0 {
            let key = MetricKey { metric: *metric, error_code: None, stream: stream.clone(), shard: shard.cloned() };
            out.push((key, std::mem::replace(stat, Stat::EMPTY)));
        }
    }
}

/// Builds a statistic from individual values.
#[derive(Default)]
pub(crate) struct StatBuilder(Option<Stat>);

impl StatBuilder {
    pub fn add(&mut self, value: f64) {
        let stat = Stat::of(value, 1);
        match &mut self.0 {
            Some(s) => s.merge(&stat),
            None => self.0 = Some(stat),
        }
    }

    pub fn build(self) -> Stat {
        self.0.unwrap_or(Stat { sum: 0.0, min: 0.0, max: 0.0, count: 0 })
    }
}

#[derive(Default)]
struct Registry {
    /// Every series since the start.
    totals: HashMap<MetricKey, Stat>,
    /// Series merged since the uploader last took them, while an uploader runs.
    window: Option<HashMap<MetricKey, Stat>>,
}

/// Totals of every series since the producer started, and the values of the current upload
/// window when metrics are uploaded.
#[derive(Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts keeping the values merged between two calls of `take_window`.
    pub(crate) fn keep_window(&self) {
        self.lock().window.get_or_insert_with(HashMap::new);
    }

    /// The values merged since the last call (empty unless `keep_window` was called).
    pub(crate) fn take_window(&self) -> Vec<(MetricKey, Stat)> {
        let mut registry = self.lock();
        match registry.window.as_mut() {
            Some(window) => window.drain().collect(),
            None => Vec::new(),
        }
    }

    fn merge(&self, values: Vec<(MetricKey, Stat)>) {
        let mut registry = self.lock();
        let Registry { totals, window } = &mut *registry;
        for (key, stat) in values {
            if let Some(window) = window.as_mut() {
                window.entry(key.clone()).or_insert(Stat::EMPTY).merge(&stat);
            }
            totals.entry(key).or_insert(Stat::EMPTY).merge(&stat);
        }
    }

    /// A copy of every series, sorted by metric, code, stream and shard.
    pub fn snapshot(&self) -> Vec<(MetricKey, Stat)> {
        let mut all: Vec<_> = self.lock().totals.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Sum of a metric over every stream and shard.
    pub fn total(&self, metric: Metric) -> f64 {
        self.lock().totals.iter().filter(|(k, _)| k.metric == metric).map(|(_, s)| s.sum).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_values_merge_into_totals() {
        let registry = Metrics::default();
        let shard: Arc<str> = "shardId-000000000001".into();
        let mut local = LocalMetrics::new("s".into());
        local.record(Metric::UserRecordsPut, Some(&shard), 1.0, 10);
        local.record(Metric::UserRecordsPut, Some(&shard), 1.0, 5);
        local.record_code(Metric::ErrorsByCode, Some(&"InternalFailure".into()), Some(&shard), 1.0, 2);
        local.merge_into(&registry);
        local.record(Metric::UserRecordsPut, Some(&shard), 1.0, 1);
        local.merge_into(&registry);
        assert_eq!(registry.total(Metric::UserRecordsPut), 16.0);
        let snap = registry.snapshot();
        assert_eq!(snap.len(), 2);
        let errors = snap.iter().find(|(k, _)| k.metric == Metric::ErrorsByCode).unwrap();
        assert_eq!(errors.0.error_code.as_deref(), Some("InternalFailure"));
        assert_eq!(errors.1.count, 2);
    }

    #[test]
    fn interleaved_shards_keep_their_own_counts() {
        let registry = Metrics::default();
        let shards: Vec<Arc<str>> = (0..5).map(|i| format!("shardId-{i:012}").into()).collect();
        let mut local = LocalMetrics::new("s".into());
        for round in 0..3u64 {
            for (i, shard) in shards.iter().enumerate() {
                // A fresh Arc each time, as a PutRecords answer gives: equal text, other pointer.
                let same: Arc<str> = (**shard).into();
                local.record(Metric::UserRecordsPut, Some(&same), 1.0, i as u64 + 1);
                local.record(Metric::KinesisRecordsDataPut, Some(shard), 10.0 * (round + 1) as f64, 1);
            }
        }
        local.record(Metric::RequestTime, None, 7.0, 1);
        local.merge_into(&registry);
        let snap = registry.snapshot();
        for (i, shard) in shards.iter().enumerate() {
            let put = snap.iter().find(|(k, _)| k.metric == Metric::UserRecordsPut && k.shard.as_ref() == Some(shard));
            assert_eq!(put.unwrap().1.sum, 3.0 * (i + 1) as f64);
            let bytes =
                snap.iter().find(|(k, _)| k.metric == Metric::KinesisRecordsDataPut && k.shard.as_ref() == Some(shard));
            assert_eq!(bytes.unwrap().1, Stat { sum: 60.0, min: 10.0, max: 30.0, count: 3 });
        }
        let request = snap.iter().find(|(k, _)| k.metric == Metric::RequestTime).unwrap();
        assert_eq!((request.0.shard.clone(), request.1.count), (None, 1));
        assert_eq!(snap.len(), 11);
    }

    #[test]
    fn the_window_holds_what_was_merged_since_it_was_taken() {
        let registry = Metrics::default();
        let mut local = LocalMetrics::new("s".into());
        local.record(Metric::UserRecordsPut, None, 1.0, 2);
        local.merge_into(&registry);
        assert!(registry.take_window().is_empty(), "no window before keep_window");
        registry.keep_window();
        local.record(Metric::UserRecordsPut, None, 1.0, 3);
        local.record_code(Metric::ErrorsByCode, Some(&"Throttled".into()), None, 1.0, 1);
        local.merge_into(&registry);
        let mut window = registry.take_window();
        window.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(window.len(), 2);
        assert_eq!(window[0].1.sum, 3.0);
        assert_eq!(window[1].0.error_code.as_deref(), Some("Throttled"));
        assert!(registry.take_window().is_empty());
        assert_eq!(registry.total(Metric::UserRecordsPut), 5.0);
    }

    #[test]
    fn levels_follow_kpl() {
        assert_eq!(Metric::ALL.len(), 15);
        assert!(Metric::ALL.iter().enumerate().all(|(i, m)| *m as usize == i));
        assert_eq!(Metric::UserRecordsPut.level(), MetricsLevel::Summary);
        assert_eq!(Metric::UserRecordsDataPut.level(), MetricsLevel::Detailed);
    }

    #[test]
    fn stat_builder_tracks_min_max() {
        let mut b = StatBuilder::default();
        for v in [5.0, 1.0, 9.0] {
            b.add(v);
        }
        let s = b.build();
        assert_eq!((s.sum, s.min, s.max, s.count), (15.0, 1.0, 9.0, 3));
        assert_eq!(Metric::BufferingTime.unit(), "Milliseconds");
        assert_eq!(Metric::UserRecordsDataPut.unit(), "Bytes");
    }
}

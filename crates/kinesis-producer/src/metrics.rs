//! Counters for everything KPL reports as metrics, kept per stream, shard and error code.
//!
//! Each stream's worker counts into a map of its own (no lock on the send path) and merges it
//! into the shared registry now and then; readers take snapshots of the registry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

impl Metric {
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
    fn of(value: f64, count: u64) -> Self {
        Stat { sum: value * count as f64, min: value, max: value, count }
    }

    fn merge(&mut self, other: &Stat) {
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

/// Values counted by one stream worker since its last merge.
pub(crate) struct LocalMetrics {
    stream: Arc<str>,
    values: HashMap<MetricKey, Stat>,
}

impl LocalMetrics {
    pub fn new(stream: Arc<str>) -> Self {
        LocalMetrics { stream, values: HashMap::new() }
    }

    /// Adds `count` observations of `value`.
    pub fn record(&mut self, metric: Metric, shard: Option<&Arc<str>>, value: f64, count: u64) {
        self.record_code(metric, None, shard, value, count);
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
        if count == 0 {
            return;
        }
        let key = MetricKey { metric, error_code: code.cloned(), stream: self.stream.clone(), shard: shard.cloned() };
        let stat = Stat::of(value, count);
        self.values.entry(key).and_modify(|s| s.merge(&stat)).or_insert(stat);
    }

    /// Adds a pre-computed statistic.
    pub fn record_stat(&mut self, metric: Metric, shard: Option<&Arc<str>>, stat: Stat) {
        if stat.count == 0 {
            return;
        }
        let key = MetricKey { metric, error_code: None, stream: self.stream.clone(), shard: shard.cloned() };
        self.values.entry(key).and_modify(|s| s.merge(&stat)).or_insert(stat);
    }

    /// Moves the values into the shared registry.
    pub fn merge_into(&mut self, registry: &Metrics) {
        if self.values.is_empty() {
            return;
        }
        let mut totals = registry.totals.lock().unwrap_or_else(|p| p.into_inner());
        for (key, stat) in self.values.drain() {
            totals.entry(key).and_modify(|s| s.merge(&stat)).or_insert(stat);
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

/// Totals of every series since the producer started.
#[derive(Default)]
pub struct Metrics {
    totals: Mutex<HashMap<MetricKey, Stat>>,
}

impl Metrics {
    /// A copy of every series, sorted by metric, code, stream and shard.
    pub fn snapshot(&self) -> Vec<(MetricKey, Stat)> {
        let totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = totals.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Sum of a metric over every stream and shard.
    pub fn total(&self, metric: Metric) -> f64 {
        let totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        totals.iter().filter(|(k, _)| k.metric == metric).map(|(_, s)| s.sum).sum()
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

//! The series KPL uploads to CloudWatch, built from one upload window of counted values:
//! shard values rolled up into stream and global series, KPL's dimension order, the
//! `metrics_level` and `metrics_granularity` filters, and the cut into PutMetricData requests
//! within the API's limits.

use crate::config::{MetricsGranularity, MetricsLevel};
use crate::metrics::{Metric, MetricKey, Stat};
use std::collections::BTreeMap;
use std::sync::Arc;

/// PutMetricData takes at most 1000 metric data per request.
pub(crate) const MAX_DATA_PER_REQUEST: usize = 1000;
/// PutMetricData takes at most 1 MB per HTTP POST request; this bounds the uncompressed body.
pub(crate) const MAX_REQUEST_BYTES: usize = 1_000_000;
/// Upper bound on the encoded size of one datum besides its strings: field names, the four
/// statistics, timestamp, unit and framing.
const DATUM_OVERHEAD_BYTES: usize = 200;
/// Upper bound on the encoded size of one dimension besides its name and value.
const DIMENSION_OVERHEAD_BYTES: usize = 16;
/// Upper bound on the encoded size of a request besides its data and namespace.
const REQUEST_OVERHEAD_BYTES: usize = 64;
/// Longest dimension value sent; CloudWatch takes 1024 today, 255 is safe everywhere.
const MAX_DIMENSION_VALUE_CHARS: usize = 255;

/// Dimension names, in KPL's order.
pub(crate) const ERROR_CODE: &str = "ErrorCode";
pub(crate) const STREAM_NAME: &str = "StreamName";
pub(crate) const SHARD_ID: &str = "ShardId";

/// One metric datum: a series and its statistic over the upload window.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Datum {
    pub metric: Metric,
    /// (name, value) pairs in KPL's order: ErrorCode, StreamName, ShardId.
    pub dimensions: Vec<(&'static str, Arc<str>)>,
    pub stat: Stat,
}

impl Datum {
    /// Upper bound on its encoded size.
    fn size_bound(&self) -> usize {
        DATUM_OVERHEAD_BYTES
            + self.metric.name().len()
            + self.dimensions.iter().map(|(n, v)| DIMENSION_OVERHEAD_BYTES + n.len() + v.len()).sum::<usize>()
    }
}

/// Which series are uploaded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Selection {
    pub level: MetricsLevel,
    pub granularity: MetricsGranularity,
}

impl Selection {
    fn wants(&self, metric: Metric) -> bool {
        self.level != MetricsLevel::None && metric.level() <= self.level
    }
}

/// A series: metric, then the optional dimensions in KPL's order.
type SeriesKey = (Metric, Option<Arc<str>>, Option<Arc<str>>, Option<Arc<str>>);

/// The data to upload for one window: every value counted for a stream and shard also counts
/// for each coarser series (every prefix of ErrorCode, StreamName, ShardId, down to the metric
/// alone), as far as the granularity goes. `global` values belong to no stream.
pub(crate) fn window_data(
    window: Vec<(MetricKey, Stat)>,
    global: &[(Metric, Stat)],
    selection: Selection,
) -> Vec<Datum> {
    let mut series: BTreeMap<SeriesKey, Stat> = BTreeMap::new();
    let mut add = |key: SeriesKey, stat: &Stat| series.entry(key).or_insert(Stat::EMPTY).merge(stat);
    for (key, stat) in &window {
        if !selection.wants(key.metric) || stat.count == 0 {
            continue;
        }
        let code = key.error_code.clone();
        add((key.metric, None, None, None), stat);
        if code.is_some() {
            add((key.metric, code.clone(), None, None), stat);
        }
        if selection.granularity >= MetricsGranularity::Stream {
            add((key.metric, code.clone(), Some(key.stream.clone()), None), stat);
        }
        if selection.granularity >= MetricsGranularity::Shard && key.shard.is_some() {
            add((key.metric, code, Some(key.stream.clone()), key.shard.clone()), stat);
        }
    }
    for (metric, stat) in global {
        if selection.wants(*metric) && stat.count > 0 {
            add((*metric, None, None, None), stat);
        }
    }
    series
        .into_iter()
        .filter(|(_, stat)| is_uploadable(stat))
        .map(|((metric, code, stream, shard), stat)| {
            let dimensions = [(ERROR_CODE, code), (STREAM_NAME, stream), (SHARD_ID, shard)]
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| (name, dimension_value(v))))
                .collect();
            Datum { metric, dimensions, stat }
        })
        .collect()
}

/// CloudWatch refuses NaN, infinities and magnitudes beyond 2^360; counters never get there,
/// but one bad value would fail a whole request.
fn is_uploadable(stat: &Stat) -> bool {
    const LIMIT: f64 = 2.348_542_582_773_833_3e108; // 2^360
    stat.count > 0 && [stat.sum, stat.min, stat.max].iter().all(|v| v.is_finite() && v.abs() <= LIMIT)
}

/// A dimension value CloudWatch accepts: 1 to 255 characters.
fn dimension_value(value: Arc<str>) -> Arc<str> {
    if value.is_empty() {
        return "Unknown".into();
    }
    match value.char_indices().nth(MAX_DIMENSION_VALUE_CHARS) {
        Some((cut, _)) => value[..cut].into(),
        None => value,
    }
}

/// Cuts the data into PutMetricData requests of at most `MAX_DATA_PER_REQUEST` data and
/// `MAX_REQUEST_BYTES` bytes.
pub(crate) fn requests(data: Vec<Datum>, namespace: &str) -> Vec<Vec<Datum>> {
    let base = REQUEST_OVERHEAD_BYTES + namespace.len();
    let mut out: Vec<Vec<Datum>> = Vec::new();
    let mut current: Vec<Datum> = Vec::new();
    let mut size = base;
    for datum in data {
        let datum_size = datum.size_bound();
        if !current.is_empty() && (current.len() == MAX_DATA_PER_REQUEST || size + datum_size > MAX_REQUEST_BYTES) {
            out.push(std::mem::take(&mut current));
            size = base;
        }
        size += datum_size;
        current.push(datum);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(metric: Metric, code: Option<&str>, stream: &str, shard: Option<&str>) -> MetricKey {
        MetricKey { metric, error_code: code.map(Into::into), stream: stream.into(), shard: shard.map(Into::into) }
    }

    fn count(n: u64) -> Stat {
        Stat { sum: n as f64, min: 1.0, max: 1.0, count: n }
    }

    fn select(level: MetricsLevel, granularity: MetricsGranularity) -> Selection {
        Selection { level, granularity }
    }

    /// (metric name, "Name=value,..." dimensions, sum) of each datum.
    fn summary(data: &[Datum]) -> Vec<(&'static str, String, f64)> {
        data.iter()
            .map(|d| {
                let dims: Vec<String> = d.dimensions.iter().map(|(n, v)| format!("{n}={v}")).collect();
                (d.metric.name(), dims.join(","), d.stat.sum)
            })
            .collect()
    }

    fn sample_window() -> Vec<(MetricKey, Stat)> {
        vec![
            (key(Metric::UserRecordsPut, None, "s", Some("shard-1")), count(3)),
            (key(Metric::UserRecordsPut, None, "s", Some("shard-2")), count(4)),
            (key(Metric::UserRecordsPut, None, "t", Some("shard-1")), count(5)),
            (key(Metric::ErrorsByCode, Some("Throttled"), "s", Some("shard-1")), count(2)),
            (key(Metric::RequestTime, None, "s", None), Stat { sum: 30.0, min: 10.0, max: 20.0, count: 2 }),
        ]
    }

    #[test]
    fn shard_values_roll_up_into_stream_and_global_series_in_kpl_dimension_order() {
        let data = window_data(sample_window(), &[], select(MetricsLevel::Detailed, MetricsGranularity::Shard));
        assert_eq!(
            summary(&data),
            vec![
                ("UserRecordsPut", "".into(), 12.0),
                ("UserRecordsPut", "StreamName=s".into(), 7.0),
                ("UserRecordsPut", "StreamName=s,ShardId=shard-1".into(), 3.0),
                ("UserRecordsPut", "StreamName=s,ShardId=shard-2".into(), 4.0),
                ("UserRecordsPut", "StreamName=t".into(), 5.0),
                ("UserRecordsPut", "StreamName=t,ShardId=shard-1".into(), 5.0),
                ("ErrorsByCode", "".into(), 2.0),
                ("ErrorsByCode", "ErrorCode=Throttled".into(), 2.0),
                ("ErrorsByCode", "ErrorCode=Throttled,StreamName=s".into(), 2.0),
                ("ErrorsByCode", "ErrorCode=Throttled,StreamName=s,ShardId=shard-1".into(), 2.0),
                ("RequestTime", "".into(), 30.0),
                ("RequestTime", "StreamName=s".into(), 30.0),
            ]
        );
        let request_time = data.iter().find(|d| d.metric == Metric::RequestTime).unwrap().stat;
        assert_eq!((request_time.min, request_time.max, request_time.count), (10.0, 20.0, 2));
    }

    #[test]
    fn granularity_drops_finer_series() {
        let stream = window_data(sample_window(), &[], select(MetricsLevel::Detailed, MetricsGranularity::Stream));
        assert!(stream.iter().all(|d| d.dimensions.iter().all(|(n, _)| *n != SHARD_ID)));
        assert!(stream.iter().any(|d| d.dimensions.iter().any(|(n, _)| *n == STREAM_NAME)));
        let global = window_data(sample_window(), &[], select(MetricsLevel::Detailed, MetricsGranularity::Global));
        assert_eq!(
            summary(&global),
            vec![
                ("UserRecordsPut", "".into(), 12.0),
                ("ErrorsByCode", "".into(), 2.0),
                ("ErrorsByCode", "ErrorCode=Throttled".into(), 2.0),
                ("RequestTime", "".into(), 30.0),
            ]
        );
    }

    #[test]
    fn level_filters_metrics() {
        let summary_level = window_data(sample_window(), &[], select(MetricsLevel::Summary, MetricsGranularity::Shard));
        assert!(summary_level.iter().all(|d| d.metric != Metric::RequestTime));
        assert!(summary_level.iter().any(|d| d.metric == Metric::UserRecordsPut));
        let none = window_data(sample_window(), &[], select(MetricsLevel::None, MetricsGranularity::Shard));
        assert!(none.is_empty());
        let summary_metrics: Vec<&str> =
            Metric::ALL.iter().filter(|m| m.level() == MetricsLevel::Summary).map(|m| m.name()).collect();
        assert_eq!(
            summary_metrics,
            ["UserRecordsPut", "UserRecordExpired", "KinesisRecordsPut", "ErrorsByCode", "AllErrors", "BufferingTime"]
        );
    }

    #[test]
    fn global_samples_have_no_dimensions() {
        let pending = Stat { sum: 30.0, min: 5.0, max: 25.0, count: 2 };
        let detailed = select(MetricsLevel::Detailed, MetricsGranularity::Shard);
        let data = window_data(Vec::new(), &[(Metric::UserRecordsPending, pending)], detailed);
        assert_eq!(data, vec![Datum { metric: Metric::UserRecordsPending, dimensions: vec![], stat: pending }]);
        let summary_level = select(MetricsLevel::Summary, MetricsGranularity::Shard);
        assert!(window_data(Vec::new(), &[(Metric::UserRecordsPending, pending)], summary_level).is_empty());
    }

    #[test]
    fn bad_values_and_dimension_values_are_made_acceptable() {
        let long = "x".repeat(300);
        let window = vec![
            (key(Metric::ErrorsByCode, Some(""), &long, None), count(1)),
            (key(Metric::RequestTime, None, "s", None), Stat { sum: f64::NAN, min: 1.0, max: 1.0, count: 1 }),
        ];
        let data = window_data(window, &[], select(MetricsLevel::Detailed, MetricsGranularity::Shard));
        assert!(data.iter().all(|d| d.metric == Metric::ErrorsByCode));
        let finest = data.last().unwrap();
        assert_eq!(finest.dimensions[0], (ERROR_CODE, "Unknown".into()));
        assert_eq!(finest.dimensions[1].1.len(), 255);
    }

    fn datum(stream: &str) -> Datum {
        Datum { metric: Metric::UserRecordsPut, dimensions: vec![(STREAM_NAME, stream.into())], stat: count(1) }
    }

    #[test]
    fn requests_hold_at_most_1000_data() {
        let data: Vec<Datum> = (0..2500).map(|i| datum(&format!("s{i}"))).collect();
        let sizes: Vec<usize> = requests(data, "KinesisProducerLibrary").iter().map(Vec::len).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        assert!(requests(Vec::new(), "ns").is_empty());
    }

    #[test]
    fn requests_stay_under_the_size_limit() {
        let stream = "s".repeat(3000);
        let data: Vec<Datum> = (0..900).map(|_| datum(&stream)).collect();
        let batches = requests(data, "ns");
        assert!(batches.len() > 1);
        for batch in &batches {
            let bound: usize = REQUEST_OVERHEAD_BYTES + 2 + batch.iter().map(Datum::size_bound).sum::<usize>();
            assert!(bound <= MAX_REQUEST_BYTES, "{bound}");
        }
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 900);
    }
}

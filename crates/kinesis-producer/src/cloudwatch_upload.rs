//! Uploads the metrics to CloudWatch on a task of its own, every `metrics_upload_delay`, and
//! once more when the producer closes. Failures are logged (at most one warning every few
//! minutes) and never touch the records: the stream workers only ever merge counters into
//! the registry, which the uploader drains.

use crate::backpressure::Pending;
use crate::cloudwatch_metrics::{requests, window_data, Datum, Selection};
use crate::metrics::{Metric, Metrics, Stat, StatBuilder};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::DateTime;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::runtime::Handle;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::MissedTickBehavior;

/// How often the number of outstanding records is sampled for UserRecordsPending.
const PENDING_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// Least time between two warnings about failed uploads.
const WARNING_INTERVAL: Duration = Duration::from_secs(300);

/// What the uploader sends, where, and how often.
pub(crate) struct UploadSettings {
    pub namespace: String,
    pub selection: Selection,
    pub interval: Duration,
}

/// The running uploader.
pub(crate) struct Uploader {
    finish: UnboundedSender<std_mpsc::SyncSender<()>>,
}

impl Uploader {
    /// Starts the upload task on `runtime`; the registry keeps upload windows from now on.
    pub fn start(
        runtime: &Handle,
        client: aws_sdk_cloudwatch::Client,
        registry: Arc<Metrics>,
        pending: Arc<Pending>,
        settings: UploadSettings,
    ) -> Uploader {
        registry.keep_window();
        let (finish, requests) = unbounded_channel();
        let task = UploadTask {
            client,
            registry,
            pending,
            settings,
            pending_samples: StatBuilder::default(),
            failures: FailureLog::default(),
        };
        runtime.spawn(task.run(requests));
        Uploader { finish }
    }

    /// Uploads what is left and stops, waiting at most `timeout`; false when it did not finish.
    pub fn finish(&self, timeout: Duration) -> bool {
        let (done, finished) = std_mpsc::sync_channel(1);
        if timeout.is_zero() || self.finish.send(done).is_err() {
            return false;
        }
        finished.recv_timeout(timeout).is_ok()
    }
}

struct UploadTask {
    client: aws_sdk_cloudwatch::Client,
    registry: Arc<Metrics>,
    pending: Arc<Pending>,
    settings: UploadSettings,
    pending_samples: StatBuilder,
    failures: FailureLog,
}

impl UploadTask {
    async fn run(mut self, mut finish: UnboundedReceiver<std_mpsc::SyncSender<()>>) {
        let mut sampler = tokio::time::interval(PENDING_SAMPLE_INTERVAL);
        sampler.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // tokio's intervals refuse zero; the configuration allows 1 ms and up.
        let every = self.settings.interval.max(Duration::from_millis(1));
        let mut uploads = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        uploads.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                done = finish.recv() => {
                    self.upload().await;
                    if let Some(done) = done {
                        let _ = done.try_send(());
                    }
                    return;
                }
                _ = uploads.tick() => self.upload().await,
                _ = sampler.tick() => self.pending_samples.add(self.pending.held().0 as f64),
            }
        }
    }

    async fn upload(&mut self) {
        let pending = std::mem::take(&mut self.pending_samples).build();
        let window = self.registry.take_window();
        // An idle producer uploads nothing (not even "0 pending").
        if window.is_empty() && pending.max <= 0.0 {
            return;
        }
        let data = window_data(window, &[(Metric::UserRecordsPending, pending)], self.settings.selection);
        let timestamp = DateTime::from(SystemTime::now());
        for request in requests(data, &self.settings.namespace) {
            let metric_data = request.iter().map(|d| sdk_datum(d, timestamp)).collect();
            let sent = self
                .client
                .put_metric_data()
                .namespace(&self.settings.namespace)
                .set_metric_data(Some(metric_data))
                .send()
                .await;
            match sent {
                Ok(_) => self.failures.succeeded(),
                Err(error) => {
                    self.failures.failed(&DisplayErrorContext(&error).to_string(), Instant::now());
                }
            }
        }
    }
}

fn sdk_datum(datum: &Datum, timestamp: DateTime) -> MetricDatum {
    let Stat { sum, min, max, count } = datum.stat;
    let dimensions =
        datum.dimensions.iter().map(|(name, value)| Dimension::builder().name(*name).value(&**value).build());
    MetricDatum::builder()
        .metric_name(datum.metric.name())
        .set_dimensions(Some(dimensions.collect()))
        .timestamp(timestamp)
        .unit(StandardUnit::from(datum.metric.unit()))
        .statistic_values(StatisticSet::builder().sample_count(count as f64).sum(sum).minimum(min).maximum(max).build())
        .build()
}

/// Logs upload failures without flooding the log: the first failure, then at most one
/// warning per `WARNING_INTERVAL` with the number of failures in between, and one line when
/// uploads work again.
#[derive(Default)]
struct FailureLog {
    last_warning: Option<Instant>,
    unreported: u64,
    failing: bool,
}

impl FailureLog {
    /// Records a failure; returns the number of earlier unreported failures when it warns.
    fn failed(&mut self, error: &str, now: Instant) -> Option<u64> {
        self.failing = true;
        let due = self.last_warning.is_none_or(|last| now.duration_since(last) >= WARNING_INTERVAL);
        if !due {
            self.unreported += 1;
            tracing::debug!("cannot upload metrics to CloudWatch: {error}");
            return None;
        }
        let unreported = std::mem::take(&mut self.unreported);
        self.last_warning = Some(now);
        tracing::warn!(
            "cannot upload metrics to CloudWatch (records are not affected; {unreported} more failures since the \
             last warning): {error}"
        );
        Some(unreported)
    }

    fn succeeded(&mut self) {
        if std::mem::take(&mut self.failing) {
            tracing::info!("metrics upload to CloudWatch works again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch_metrics::STREAM_NAME;

    #[test]
    fn failures_warn_at_most_once_per_interval() {
        let mut log = FailureLog::default();
        let start = Instant::now();
        assert_eq!(log.failed("e", start), Some(0));
        assert_eq!(log.failed("e", start + Duration::from_secs(60)), None);
        assert_eq!(log.failed("e", start + Duration::from_secs(120)), None);
        assert_eq!(log.failed("e", start + WARNING_INTERVAL), Some(2));
        log.succeeded();
        assert!(!log.failing);
        assert_eq!(log.failed("e", start + WARNING_INTERVAL + Duration::from_secs(1)), None);
    }

    #[test]
    fn data_become_statistic_sets_with_units() {
        let datum = Datum {
            metric: Metric::BufferingTime,
            dimensions: vec![(STREAM_NAME, "s".into())],
            stat: Stat { sum: 30.0, min: 5.0, max: 25.0, count: 2 },
        };
        let sdk = sdk_datum(&datum, DateTime::from_secs(1_700_000_000));
        assert_eq!(sdk.metric_name(), Some("BufferingTime"));
        assert_eq!(sdk.unit(), Some(&StandardUnit::Milliseconds));
        assert_eq!(sdk.dimensions()[0].name(), Some("StreamName"));
        assert_eq!(sdk.dimensions()[0].value(), Some("s"));
        let stats = sdk.statistic_values().unwrap();
        assert_eq!(
            (stats.sample_count(), stats.sum(), stats.minimum(), stats.maximum()),
            (Some(2.0), Some(30.0), Some(5.0), Some(25.0))
        );
        assert_eq!(sdk.value(), None);
    }
}

//! Fault settings and the seeded dice that decide which requests and entries fail.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Faults to inject. Fractions are probabilities in 0.0..=1.0. The default injects nothing.
///
/// Request-level faults (`request_throttled`, `http_500`, `http_503`, `hang`, `reset`,
/// `commit_then_drop`) exclude each other: one draw per request picks at most one of them.
/// They apply to the operations named in `operations` (default: PutRecords and PutRecord).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction of PutRecords entries failing with ProvisionedThroughputExceededException.
    pub entry_throughput_exceeded: f64,
    /// Fraction of PutRecords entries failing with InternalFailure.
    pub entry_internal_failure: f64,
    /// Per-shard write limits; entries (or PutRecord calls) over them fail with
    /// ProvisionedThroughputExceededException. `None` = unlimited.
    pub shard_throughput: Option<ShardThroughput>,
    /// Fraction of requests answered with HTTP 400 ProvisionedThroughputExceededException.
    pub request_throttled: f64,
    /// Fraction of requests answered with HTTP 500 InternalFailure.
    pub http_500: f64,
    /// Fraction of requests answered with HTTP 503 ServiceUnavailable.
    pub http_503: f64,
    /// Fraction of requests never answered (the client times out); nothing is stored.
    pub hang: f64,
    /// Fraction of requests whose connection is reset (RST) before the body is processed.
    pub reset: f64,
    /// Fraction of requests that are processed (records stored) and then dropped: the
    /// connection closes without an answer.
    pub commit_then_drop: f64,
    /// Delay added to every Kinesis request before it is processed, in milliseconds.
    pub latency_ms: u64,
    /// Operations the request-level faults apply to, e.g. `["PutRecords", "ListShards"]`;
    /// `["*"]` means all. Empty means PutRecords and PutRecord.
    pub operations: Vec<String>,
    /// Streams the caller may not use: every request naming one is answered with HTTP 400
    /// AccessDeniedException (whatever `operations` says).
    pub denied_streams: Vec<String>,
}

/// Per-shard write limits, as token buckets that start full and hold one second of rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShardThroughput {
    /// Records per second per shard (service: 1000).
    pub records_per_sec: u32,
    /// Bytes (data plus partition key) per second per shard (service: 1 MiB).
    pub bytes_per_sec: u64,
}

impl Default for ShardThroughput {
    fn default() -> Self {
        ShardThroughput { records_per_sec: 1000, bytes_per_sec: 1024 * 1024 }
    }
}

impl Faults {
    /// Whether request-level faults apply to `operation`.
    pub fn applies_to(&self, operation: &str) -> bool {
        if self.operations.is_empty() {
            return operation == "PutRecords" || operation == "PutRecord";
        }
        self.operations.iter().any(|name| name == "*" || name == operation)
    }

    /// Whether any per-entry failure fraction is set.
    pub(crate) fn has_entry_faults(&self) -> bool {
        self.entry_throughput_exceeded > 0.0 || self.entry_internal_failure > 0.0
    }
}

/// What happens to a whole request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestFault {
    None,
    Throttled,
    Http500,
    Http503,
    Hang,
    Reset,
    CommitThenDrop,
}

/// What happens to one PutRecords entry before throughput limits are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryFault {
    None,
    ThroughputExceeded,
    InternalFailure,
}

/// Random draws for one request. Seeded from the server seed and the request's number, so
/// a run with a seed and the same request order injects the same faults.
pub(crate) struct Dice {
    rng: SmallRng,
}

impl Dice {
    /// Dice for request number `request` of a server seeded with `seed`.
    pub fn new(seed: u64, request: u64) -> Self {
        let mixed = seed ^ request.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Dice { rng: SmallRng::seed_from_u64(mixed) }
    }

    /// Picks the request-level fault.
    pub fn request_fault(&mut self, faults: &Faults) -> RequestFault {
        let table = [
            (faults.hang, RequestFault::Hang),
            (faults.reset, RequestFault::Reset),
            (faults.request_throttled, RequestFault::Throttled),
            (faults.http_500, RequestFault::Http500),
            (faults.http_503, RequestFault::Http503),
            (faults.commit_then_drop, RequestFault::CommitThenDrop),
        ];
        if table.iter().all(|(fraction, _)| *fraction <= 0.0) {
            return RequestFault::None;
        }
        self.pick(&table).unwrap_or(RequestFault::None)
    }

    /// Picks the fault of one PutRecords entry.
    pub fn entry_fault(&mut self, faults: &Faults) -> EntryFault {
        let table = [
            (faults.entry_throughput_exceeded, EntryFault::ThroughputExceeded),
            (faults.entry_internal_failure, EntryFault::InternalFailure),
        ];
        self.pick(&table).unwrap_or(EntryFault::None)
    }

    fn pick<T: Copy>(&mut self, table: &[(f64, T)]) -> Option<T> {
        let draw: f64 = self.rng.random();
        let mut cumulative = 0.0;
        for &(fraction, outcome) in table {
            cumulative += fraction.max(0.0);
            if draw < cumulative {
                return Some(outcome);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let faults = Faults { entry_internal_failure: 0.5, ..Faults::default() };
        let draws = |seed| {
            let mut dice = Dice::new(seed, 7);
            (0..64).map(|_| dice.entry_fault(&faults)).collect::<Vec<_>>()
        };
        assert_eq!(draws(1), draws(1));
        assert_ne!(draws(1), draws(2));
    }

    #[test]
    fn fractions_are_respected() {
        let faults = Faults { entry_throughput_exceeded: 0.25, ..Faults::default() };
        let mut dice = Dice::new(3, 0);
        let failed = (0..10_000).filter(|_| dice.entry_fault(&faults) == EntryFault::ThroughputExceeded).count();
        assert!((2200..2800).contains(&failed), "{failed}");
        let mut dice = Dice::new(3, 0);
        assert!((0..1000).all(|_| dice.entry_fault(&Faults::default()) == EntryFault::None));
    }

    #[test]
    fn operation_scope() {
        let mut faults = Faults::default();
        assert!(faults.applies_to("PutRecords"));
        assert!(!faults.applies_to("ListShards"));
        faults.operations = vec!["ListShards".into()];
        assert!(faults.applies_to("ListShards"));
        assert!(!faults.applies_to("PutRecords"));
        faults.operations = vec!["*".into()];
        assert!(faults.applies_to("GetRecords"));
    }
}

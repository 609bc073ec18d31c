//! Per-shard token buckets for records and bytes, refilled continuously.

use crate::faults::ShardThroughput;
use std::time::Instant;

/// Two buckets (records, bytes) that start full and hold one second of rate.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    records: f64,
    bytes: f64,
    last_refill: Instant,
    /// The limits the buckets were filled for; new limits start new, full buckets.
    limits: ShardThroughput,
}

impl TokenBucket {
    /// A full bucket pair for `limits`.
    pub fn full(limits: &ShardThroughput, now: Instant) -> Self {
        TokenBucket {
            records: f64::from(limits.records_per_sec),
            bytes: limits.bytes_per_sec as f64,
            last_refill: now,
            limits: *limits,
        }
    }

    /// Refills for the time elapsed since the last call.
    pub fn refill(&mut self, limits: &ShardThroughput, now: Instant) {
        if *limits != self.limits {
            *self = TokenBucket::full(limits, now);
            return;
        }
        let elapsed = now.saturating_duration_since(self.last_refill).as_secs_f64();
        self.last_refill = now;
        let records_cap = f64::from(limits.records_per_sec);
        let bytes_cap = limits.bytes_per_sec as f64;
        self.records = (self.records + elapsed * records_cap).min(records_cap);
        self.bytes = (self.bytes + elapsed * bytes_cap).min(bytes_cap);
    }

    /// Takes one record of `size` bytes if both buckets hold enough; otherwise takes nothing.
    pub fn try_take(&mut self, size: usize) -> bool {
        let size = size as f64;
        if self.records >= 1.0 && self.bytes >= size {
            self.records -= 1.0;
            self.bytes -= size;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn starts_full_then_refills_at_rate() {
        let limits = ShardThroughput { records_per_sec: 10, bytes_per_sec: 1000 };
        let start = Instant::now();
        let mut bucket = TokenBucket::full(&limits, start);
        assert_eq!((0..20).filter(|_| bucket.try_take(1)).count(), 10);
        bucket.refill(&limits, start + Duration::from_millis(500));
        assert_eq!((0..20).filter(|_| bucket.try_take(1)).count(), 5);
        bucket.refill(&limits, start + Duration::from_secs(10));
        assert!(!bucket.try_take(1001));
        assert!(bucket.try_take(1000));
        assert!(!bucket.try_take(1));
    }

    #[test]
    fn new_limits_start_full_buckets() {
        let start = Instant::now();
        let first = ShardThroughput { records_per_sec: 10, bytes_per_sec: 1000 };
        let mut bucket = TokenBucket::full(&first, start);
        assert_eq!((0..20).filter(|_| bucket.try_take(1)).count(), 10);
        let second = ShardThroughput { records_per_sec: 1000, bytes_per_sec: 100 };
        bucket.refill(&second, start);
        assert_eq!((0..200).filter(|_| bucket.try_take(10)).count(), 10);
    }
}

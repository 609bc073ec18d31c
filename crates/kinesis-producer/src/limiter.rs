//! Per-shard rate limits: token buckets for records and bytes, like the service's own limits.

use std::time::{Duration, Instant};

/// Kinesis records per second one shard accepts.
pub const SHARD_RECORDS_PER_SEC: f64 = 1000.0;
/// Bytes (data + partition key) per second one shard accepts.
pub const SHARD_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;

#[derive(Clone, Debug)]
struct TokenBucket {
    tokens: f64,
    capacity: f64,
    per_sec: f64,
}

impl TokenBucket {
    fn full(capacity: f64, per_sec: f64) -> Self {
        TokenBucket { tokens: capacity, capacity, per_sec }
    }

    fn refill(&mut self, elapsed: Duration, speed: f64) {
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_sec * speed).min(self.capacity);
    }

    /// Time until `n` tokens are there; a request larger than the bucket only needs a full one.
    fn wait_for(&self, n: f64, speed: f64) -> Duration {
        let needed = n.min(self.capacity) - self.tokens;
        if needed <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(needed / (self.per_sec * speed))
        }
    }
}

/// Slowest refill after repeated throttling, as a fraction of the configured rate.
const MIN_SPEED: f64 = 0.1;
/// Each throttling answer cuts the refill rate by this factor...
const THROTTLED_SPEED_FACTOR: f64 = 0.7;
/// ...and it grows back by this fraction per second without one.
const SPEED_RECOVERY_PER_SEC: f64 = 0.1;

/// The two buckets of one predicted shard.
#[derive(Clone, Debug)]
pub(crate) struct ShardLimiter {
    records: TokenBucket,
    bytes: TokenBucket,
    /// Fraction of the configured rate in force: lowered by throttling, recovering over time.
    speed: f64,
    last: Instant,
}

impl ShardLimiter {
    /// Buckets that start full and refill at `rate_limit` percent of the shard limits.
    pub fn new(rate_limit_percent: u64, now: Instant) -> Self {
        let factor = rate_limit_percent as f64 / 100.0;
        ShardLimiter {
            records: TokenBucket::full(SHARD_RECORDS_PER_SEC, SHARD_RECORDS_PER_SEC * factor),
            bytes: TokenBucket::full(SHARD_BYTES_PER_SEC, SHARD_BYTES_PER_SEC * factor),
            speed: 1.0,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.records.refill(elapsed, self.speed);
        self.bytes.refill(elapsed, self.speed);
        self.speed = (self.speed + elapsed.as_secs_f64() * SPEED_RECOVERY_PER_SEC).min(1.0);
    }

    /// Takes one record of `bytes` if the shard has room now, else says how long to wait.
    pub fn try_acquire(&mut self, bytes: usize, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        let bytes = bytes as f64;
        let wait = self.records.wait_for(1.0, self.speed).max(self.bytes.wait_for(bytes, self.speed));
        if wait > Duration::ZERO {
            return Err(wait);
        }
        self.records.tokens -= 1.0;
        self.bytes.tokens -= bytes;
        Ok(())
    }

    /// Kinesis said the shard is over its limit: spend what is left, so sending pauses, and
    /// refill more slowly for a while.
    pub fn throttled(&mut self, now: Instant) {
        self.refill(now);
        self.speed = (self.speed * THROTTLED_SPEED_FACTOR).max(MIN_SPEED);
        self.records.tokens = self.records.tokens.min(0.0);
        self.bytes.tokens = self.bytes.tokens.min(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_full_then_refills_at_rate() {
        let t0 = Instant::now();
        let mut l = ShardLimiter::new(100, t0);
        for _ in 0..1000 {
            assert!(l.try_acquire(10, t0).is_ok());
        }
        let wait = l.try_acquire(10, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.001).abs() < 1e-6, "{wait:?}");
        // 100 ms refills 100 records at 100 %.
        let t1 = t0 + Duration::from_millis(100);
        let mut taken = 0;
        while l.try_acquire(10, t1).is_ok() {
            taken += 1;
        }
        assert_eq!(taken, 100);
    }

    #[test]
    fn rate_limit_percent_scales_refill() {
        let t0 = Instant::now();
        let mut l = ShardLimiter::new(150, t0);
        while l.try_acquire(1, t0).is_ok() {}
        let t1 = t0 + Duration::from_secs(1);
        let mut taken = 0;
        while l.try_acquire(1, t1).is_ok() {
            taken += 1;
        }
        // Refill is capped by the bucket's capacity.
        assert_eq!(taken, 1000);
        let mut l = ShardLimiter::new(50, t0);
        while l.try_acquire(1, t0).is_ok() {}
        let mut taken = 0;
        while l.try_acquire(1, t1).is_ok() {
            taken += 1;
        }
        assert_eq!(taken, 500);
    }

    #[test]
    fn bytes_bucket_limits_large_records() {
        let t0 = Instant::now();
        let mut l = ShardLimiter::new(100, t0);
        assert!(l.try_acquire(600 * 1024, t0).is_ok());
        let wait = l.try_acquire(600 * 1024, t0).unwrap_err();
        // 176 KiB short at 1 MiB/s.
        assert!((wait.as_secs_f64() - 176.0 / 1024.0).abs() < 1e-3, "{wait:?}");
        // A record bigger than the bucket passes once the bucket is full.
        let t1 = t0 + Duration::from_secs(2);
        assert!(l.try_acquire(3 << 20, t1).is_ok());
    }

    #[test]
    fn throttling_feedback_pauses_the_shard() {
        let t0 = Instant::now();
        let mut l = ShardLimiter::new(100, t0);
        assert!(l.try_acquire(100, t0).is_ok());
        l.throttled(t0);
        assert!(l.try_acquire(100, t0).is_err());
        // Refill now runs at 70 %: one record needs ~1.43 ms instead of 1 ms.
        assert!(l.try_acquire(100, t0 + Duration::from_millis(1)).is_err());
        assert!(l.try_acquire(100, t0 + Duration::from_millis(2)).is_ok());
        // Ten seconds later the full rate is back: a drained bucket refills 1000 records in 1 s.
        let later = t0 + Duration::from_secs(10);
        while l.try_acquire(1, later).is_ok() {}
        let wait = l.try_acquire(1, later).unwrap_err();
        assert!((wait.as_secs_f64() - 0.001).abs() < 1e-6, "{wait:?}");
    }

    #[test]
    fn repeated_throttling_slows_down_to_a_floor() {
        let t0 = Instant::now();
        let mut l = ShardLimiter::new(100, t0);
        for _ in 0..50 {
            l.throttled(t0);
        }
        // At the 10 % floor one record takes 10 ms.
        let wait = l.try_acquire(1, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.01).abs() < 1e-6, "{wait:?}");
    }
}

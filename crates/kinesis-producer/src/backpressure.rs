//! Bounds on buffered records and bytes, and the registry of batches still pending.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Counts what the producer holds and makes submitters wait while it is over its bounds.
pub(crate) struct Pending {
    records: AtomicU64,
    bytes: AtomicU64,
    max_records: u64,
    max_bytes: u64,
    waiters: AtomicUsize,
    state: Mutex<Registry>,
    space: Condvar,
}

struct Registry {
    next_id: u64,
    /// Arrival time of every batch that still has records without an outcome.
    batches: BTreeMap<u64, Instant>,
    closed: bool,
}

/// Why a submit could not take place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdmitError {
    Full,
    Closed,
}

impl Pending {
    pub(crate) fn new(max_records: u64, max_bytes: u64) -> Self {
        Pending {
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            max_records,
            max_bytes,
            waiters: AtomicUsize::new(0),
            state: Mutex::new(Registry { next_id: 0, batches: BTreeMap::new(), closed: false }),
            space: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves room for a batch, waiting up to `timeout` for it; returns the batch id.
    /// A batch larger than the bounds is admitted when nothing else is pending, so it cannot
    /// wait forever.
    pub(crate) fn admit(&self, records: u64, bytes: u64, timeout: Duration) -> Result<u64, AdmitError> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.lock();
        loop {
            if state.closed {
                return Err(AdmitError::Closed);
            }
            let held_records = self.records.load(Ordering::Acquire);
            let held_bytes = self.bytes.load(Ordering::Acquire);
            let fits = held_records + records <= self.max_records && held_bytes + bytes <= self.max_bytes;
            if fits || held_records == 0 {
                self.records.fetch_add(records, Ordering::AcqRel);
                self.bytes.fetch_add(bytes, Ordering::AcqRel);
                let id = state.next_id;
                state.next_id += 1;
                if records > 0 {
                    state.batches.insert(id, Instant::now());
                }
                return Ok(id);
            }
            let left = deadline.map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                return Err(AdmitError::Full);
            }
            self.waiters.fetch_add(1, Ordering::AcqRel);
            state = self.space.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
            self.waiters.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Gives back the room of records that got their outcome.
    pub(crate) fn release(&self, records: u64, bytes: u64) {
        self.records.fetch_sub(records, Ordering::AcqRel);
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        if self.waiters.load(Ordering::Acquire) > 0 {
            let _guard = self.lock();
            self.space.notify_all();
        }
    }

    /// Forgets a batch whose records all have outcomes.
    pub(crate) fn batch_done(&self, id: u64) {
        self.lock().batches.remove(&id);
    }

    /// Refuses every later submit and wakes those waiting.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.space.notify_all();
    }

    /// Records and bytes held.
    pub(crate) fn held(&self) -> (u64, u64) {
        (self.records.load(Ordering::Acquire), self.bytes.load(Ordering::Acquire))
    }

    /// Age of the oldest batch that still has a record without an outcome.
    pub(crate) fn oldest_age(&self) -> Option<Duration> {
        self.lock().batches.values().next().map(|t| t.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn admits_within_bounds_and_waits_beyond() {
        let p = Arc::new(Pending::new(10, 1000));
        p.admit(8, 100, Duration::ZERO).unwrap();
        assert_eq!(p.admit(3, 10, Duration::from_millis(20)), Err(AdmitError::Full));
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || p2.admit(3, 10, Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(50));
        p.release(5, 50);
        assert!(waiter.join().unwrap().is_ok());
        assert_eq!(p.held(), (6, 60));
    }

    #[test]
    fn oversized_batch_is_admitted_when_empty() {
        let p = Pending::new(10, 1000);
        assert!(p.admit(50, 10, Duration::ZERO).is_ok());
        assert_eq!(p.admit(1, 1, Duration::ZERO), Err(AdmitError::Full));
    }

    #[test]
    fn byte_bound_is_enforced() {
        let p = Pending::new(1000, 100);
        p.admit(1, 90, Duration::ZERO).unwrap();
        assert_eq!(p.admit(1, 20, Duration::ZERO), Err(AdmitError::Full));
    }

    #[test]
    fn close_wakes_waiters() {
        let p = Arc::new(Pending::new(1, 1));
        p.admit(1, 1, Duration::ZERO).unwrap();
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || p2.admit(1, 1, Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(30));
        p.close();
        assert_eq!(waiter.join().unwrap(), Err(AdmitError::Closed));
    }

    #[test]
    fn oldest_age_tracks_open_batches() {
        let p = Pending::new(100, 100);
        assert!(p.oldest_age().is_none());
        let a = p.admit(1, 1, Duration::ZERO).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let b = p.admit(1, 1, Duration::ZERO).unwrap();
        assert!(p.oldest_age().unwrap() >= Duration::from_millis(20));
        p.batch_done(a);
        assert!(p.oldest_age().unwrap() < Duration::from_millis(20));
        p.batch_done(b);
        assert!(p.oldest_age().is_none());
    }
}

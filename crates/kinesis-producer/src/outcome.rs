//! Outcomes: every submitted record gets exactly one, and callers wait for a batch of them.

use crate::backpressure::Pending;
use crate::prefetch::prefetch;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The final result of one user record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Kinesis accepted the record (inside an aggregate, when aggregation put it in one).
    Delivered {
        /// Shard that stored the record.
        shard_id: Arc<str>,
        /// Sequence number of the Kinesis record that carried it.
        sequence_number: Arc<str>,
        /// Number of times it was sent.
        attempts: u32,
    },
    /// The record failed for good.
    Failed {
        /// Service error code, or one of the producer's own (`Expired`, `InvalidPartitionKey`, ...).
        code: Arc<str>,
        /// Human-readable reason.
        message: Arc<str>,
        /// Number of times it was sent (0 when refused at submit).
        attempts: u32,
    },
}

impl Outcome {
    /// A failure outcome.
    pub fn failed(code: impl Into<Arc<str>>, message: impl Into<Arc<str>>, attempts: u32) -> Self {
        Outcome::Failed { code: code.into(), message: message.into(), attempts }
    }

    /// True when the record was delivered.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Outcome::Delivered { .. })
    }

    /// Number of send attempts.
    pub fn attempts(&self) -> u32 {
        match self {
            Outcome::Delivered { attempts, .. } | Outcome::Failed { attempts, .. } => *attempts,
        }
    }
}

struct Slots {
    outcomes: Vec<Option<Outcome>>,
    remaining: usize,
}

/// Shared state of one submitted batch.
pub(crate) struct BatchState {
    slots: Mutex<Slots>,
    done: Condvar,
    pending: Arc<Pending>,
    id: u64,
}

impl BatchState {
    pub(crate) fn new(len: usize, pending: Arc<Pending>, id: u64) -> Arc<Self> {
        let slots = Slots { outcomes: vec![None; len], remaining: len };
        Arc::new(BatchState { slots: Mutex::new(slots), done: Condvar::new(), pending, id })
    }

    /// Gives a record refused at submit (never counted as pending) its outcome.
    pub(crate) fn reject(&self, index: usize, outcome: Outcome) {
        self.set_all(std::iter::once((index, outcome)));
    }

    /// Releases the records' share of the buffering bounds, then sets their outcomes, taking
    /// them out of `outcomes`.
    fn complete(&self, bytes: u64, outcomes: &mut Vec<(usize, Outcome)>) {
        self.pending.release(outcomes.len() as u64, bytes);
        let slots = lock(&self.slots);
        // Written at submit by another thread, long ago: all start loading before any is set.
        for &(index, _) in outcomes.iter() {
            if let Some(slot) = slots.outcomes.get(index) {
                prefetch(slot);
            }
        }
        self.set_locked(slots, outcomes.drain(..));
    }

    /// Sets outcomes under one lock; a record that already has one keeps it.
    fn set_all(&self, outcomes: impl Iterator<Item = (usize, Outcome)>) {
        self.set_locked(lock(&self.slots), outcomes);
    }

    fn set_locked(&self, mut slots: MutexGuard<'_, Slots>, outcomes: impl Iterator<Item = (usize, Outcome)>) {
        let mut changed = false;
        for (index, outcome) in outcomes {
            let slot = &mut slots.outcomes[index];
            if slot.is_none() {
                *slot = Some(outcome);
                slots.remaining -= 1;
                changed = true;
            }
        }
        if changed && slots.remaining == 0 {
            drop(slots);
            self.pending.batch_done(self.id);
            self.done.notify_all();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a record's outcome goes. Dropping it without an outcome records an internal failure,
/// so no record can ever vanish without one.
pub(crate) struct OutcomeSlot {
    /// `None` once the outcome is given.
    batch: Option<Arc<BatchState>>,
    index: u32,
    size: u32,
}

impl OutcomeSlot {
    pub(crate) fn new(batch: Arc<BatchState>, index: usize, size: usize) -> Self {
        OutcomeSlot { batch: Some(batch), index: index as u32, size: size as u32 }
    }

    /// Records the outcome and releases the record's share of the buffering bounds.
    pub(crate) fn complete(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(batch) = self.batch.take() {
            batch.pending.release(1, u64::from(self.size));
            batch.set_all(std::iter::once((self.index as usize, outcome)));
        }
    }
}

/// Gives many records their outcomes: one lock and one release of the buffering bounds per run
/// of records from the same batch, rather than one of each per record.
pub(crate) fn complete_all(completions: impl IntoIterator<Item = (OutcomeSlot, Outcome)>) {
    let mut run: Vec<(usize, Outcome)> = Vec::new();
    let mut run_batch: Option<Arc<BatchState>> = None;
    let mut run_bytes = 0u64;
    for (mut slot, outcome) in completions {
        let Some(batch) = slot.batch.take() else { continue };
        if !run_batch.as_ref().is_some_and(|run_batch| Arc::ptr_eq(run_batch, &batch)) {
            if let Some(batch) = run_batch.take() {
                batch.complete(std::mem::take(&mut run_bytes), &mut run);
            }
            run_batch = Some(batch);
        }
        run.push((slot.index as usize, outcome));
        run_bytes += u64::from(slot.size);
    }
    if let Some(batch) = run_batch {
        batch.complete(run_bytes, &mut run);
    }
}

impl Drop for OutcomeSlot {
    fn drop(&mut self) {
        if self.batch.is_some() {
            self.finish(Outcome::failed("Internal", "record was dropped by the producer without an outcome", 0));
        }
    }
}

/// A caller's handle on a submitted batch: wait for, or poll, its outcomes.
#[derive(Clone)]
pub struct Batch {
    state: Arc<BatchState>,
}

impl Batch {
    pub(crate) fn new(state: Arc<BatchState>) -> Self {
        Batch { state }
    }

    /// Number of records in the batch.
    pub fn len(&self) -> usize {
        lock(&self.state.slots).outcomes.len()
    }

    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records of the batch still without an outcome.
    pub fn remaining(&self) -> usize {
        lock(&self.state.slots).remaining
    }

    /// True once every record has an outcome.
    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    /// Blocks until every record has an outcome or the timeout passes; true when done.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut slots = lock(&self.state.slots);
        while slots.remaining > 0 {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            slots = self.state.done.wait_timeout(slots, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    /// The outcomes in submit order, once every record has one.
    pub fn outcomes(&self) -> Option<Vec<Outcome>> {
        let slots = lock(&self.state.slots);
        if slots.remaining > 0 {
            return None;
        }
        Some(slots.outcomes.iter().map(|o| o.clone().expect("complete batch has every outcome")).collect())
    }

    /// Waits up to `timeout`, then returns the outcomes if the batch is complete.
    pub fn wait_outcomes(&self, timeout: Duration) -> Option<Vec<Outcome>> {
        if self.wait(timeout) {
            self.outcomes()
        } else {
            None
        }
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("len", &self.len()).field("remaining", &self.remaining()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(n: u32) -> Outcome {
        Outcome::Delivered { shard_id: "shardId-0".into(), sequence_number: n.to_string().into(), attempts: 1 }
    }

    #[test]
    fn completing_interleaved_batches_at_once_gives_each_record_its_own_outcome() {
        let pending = Arc::new(Pending::new(100, 1 << 20));
        let (first_id, second_id) = (pending.admit(3, 30, Duration::ZERO), pending.admit(2, 20, Duration::ZERO));
        let first = BatchState::new(3, pending.clone(), first_id.expect("room"));
        let second = BatchState::new(2, pending.clone(), second_id.expect("room"));
        let slot = |batch: &Arc<BatchState>, index| OutcomeSlot::new(batch.clone(), index, 10);
        // Runs of the same batch alternate, as members of one aggregate do.
        let completions = [
            (slot(&first, 2), delivered(12)),
            (slot(&first, 0), delivered(10)),
            (slot(&second, 1), delivered(21)),
            (slot(&first, 1), delivered(11)),
        ];
        complete_all(completions);
        assert_eq!(
            Batch::new(first).wait_outcomes(Duration::ZERO),
            Some(vec![delivered(10), delivered(11), delivered(12)])
        );
        let second = Batch::new(second);
        assert_eq!(second.remaining(), 1);
        assert_eq!(pending.held(), (1, 10), "completed records release their share of the bounds");
        complete_all([(slot(&second.state, 0), delivered(20))]);
        assert_eq!(second.wait_outcomes(Duration::ZERO), Some(vec![delivered(20), delivered(21)]));
        assert_eq!(pending.held(), (0, 0));
    }
}

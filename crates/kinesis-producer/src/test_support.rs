//! Helpers shared by unit tests.

use crate::backpressure::Pending;
use crate::outcome::{Batch, BatchState, OutcomeSlot};
use crate::partition_key::PartitionKey;
use crate::record::{partition_key_hash, Arrival, PendingRecord};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// A pending record whose outcome goes to a batch of its own.
pub(crate) fn pending(partition_key: &str, explicit_hash_key: Option<u128>, data: &[u8]) -> PendingRecord {
    pending_in(&new_batch(1).0, 0, partition_key, explicit_hash_key, data)
}

/// A batch of `len` slots and a handle to read its outcomes.
pub(crate) fn new_batch(len: usize) -> (Arc<BatchState>, Batch) {
    let pending = Arc::new(Pending::new(u64::MAX, u64::MAX));
    let state = BatchState::new(len, pending, 0);
    (state.clone(), Batch::new(state))
}

/// A pending record filling slot `index` of `batch`.
pub(crate) fn pending_in(
    batch: &Arc<BatchState>,
    index: usize,
    partition_key: &str,
    explicit_hash_key: Option<u128>,
    data: &[u8],
) -> PendingRecord {
    let now = Instant::now();
    PendingRecord {
        partition_key: PartitionKey::from(partition_key),
        has_explicit_hash_key: explicit_hash_key.is_some(),
        hash_key: explicit_hash_key.unwrap_or_else(|| partition_key_hash(partition_key)),
        data: Bytes::copy_from_slice(data),
        arrival: Arrival::at(now),
        attempts: 0,
        last_error: None,
        slot: OutcomeSlot::new(batch.clone(), index, data.len() + partition_key.len()),
    }
}

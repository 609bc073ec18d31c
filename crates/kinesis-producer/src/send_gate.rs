//! What a PutRecords request needs before it is sent: a connection, and room in the budget of
//! bytes that requests being sent may carry together.
//!
//! A request's body is held from when it is written until its answer. Bounded by connections
//! alone, 24 full requests would hold about 160 MiB of bodies on top of the records they carry;
//! the byte budget keeps that to a share of `max_pending_bytes`.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB so that it fits the semaphore's permit type.
const UNIT: usize = 1024;

pub(crate) struct SendGate {
    connections: Arc<Semaphore>,
    budget: Arc<Semaphore>,
    budget_units: u32,
}

/// Held by a request until its answer: a connection and its share of the byte budget.
pub(crate) struct SendPermit {
    _connection: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

impl SendGate {
    /// `connections` requests at once, carrying up to `budget_bytes` together. A request larger
    /// than the whole budget takes all of it, so it still goes out, alone.
    pub fn new(connections: usize, budget_bytes: usize) -> Self {
        let budget_units = u32::try_from(budget_bytes.div_ceil(UNIT)).unwrap_or(u32::MAX).max(1);
        SendGate {
            connections: Arc::new(Semaphore::new(connections)),
            budget: Arc::new(Semaphore::new(budget_units as usize)),
            budget_units,
        }
    }

    fn units(&self, bytes: usize) -> u32 {
        u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX).min(self.budget_units)
    }

    /// True when a connection and room for a request of `bytes` are free.
    pub fn can_take(&self, bytes: usize) -> bool {
        self.connections.available_permits() > 0 && self.budget.available_permits() >= self.units(bytes) as usize
    }

    /// A permit for a request of `bytes`, if one is free now.
    pub fn try_acquire(&self, bytes: usize) -> Option<SendPermit> {
        let connection = self.connections.clone().try_acquire_owned().ok()?;
        let bytes = self.budget.clone().try_acquire_many_owned(self.units(bytes)).ok()?;
        Some(SendPermit { _connection: connection, _bytes: bytes })
    }

    /// Waits for a permit for a request of `bytes` (`None` only if the gate is closed).
    pub fn acquire(&self, bytes: usize) -> impl std::future::Future<Output = Option<SendPermit>> + Send + 'static {
        let (connections, budget, units) = (self.connections.clone(), self.budget.clone(), self.units(bytes));
        async move {
            let connection = connections.acquire_owned().await.ok()?;
            let bytes = budget.acquire_many_owned(units).await.ok()?;
            Some(SendPermit { _connection: connection, _bytes: bytes })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_wait_for_a_connection_and_for_room_in_the_budget() {
        let gate = SendGate::new(3, 10 * UNIT);
        let first = gate.try_acquire(6 * UNIT).expect("fits");
        assert!(gate.try_acquire(5 * UNIT).is_none(), "over the byte budget");
        assert!(!gate.can_take(5 * UNIT) && gate.can_take(4 * UNIT));
        let second = gate.try_acquire(4 * UNIT).expect("fits the rest");
        assert!(!gate.can_take(1));
        drop(first);
        let _third = gate.try_acquire(UNIT).expect("room again");
        let _fourth = gate.try_acquire(1).expect("a connection left");
        assert!(gate.try_acquire(1).is_none(), "three connections only");
        drop(second);
    }

    #[test]
    fn a_request_larger_than_the_budget_goes_alone() {
        let gate = SendGate::new(4, 4 * UNIT);
        let big = gate.try_acquire(100 * UNIT).expect("takes the whole budget");
        assert!(gate.try_acquire(1).is_none());
        drop(big);
        assert!(gate.try_acquire(1).is_some());
    }

    #[tokio::test]
    async fn a_waiting_request_goes_once_room_is_given_back() {
        let gate = SendGate::new(2, 8 * UNIT);
        let held = gate.try_acquire(8 * UNIT).expect("fits");
        let waiting = tokio::spawn(gate.acquire(2 * UNIT));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(held);
        assert!(waiting.await.expect("task").is_some());
    }
}

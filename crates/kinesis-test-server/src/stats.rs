//! Counters of what the server did, readable while it runs.

use crate::api::Operation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// A snapshot of the server's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Kinesis API requests received (control API requests not included).
    pub requests: u64,
    /// Kinesis API requests per operation name.
    pub requests_by_operation: BTreeMap<String, u64>,
    /// Error answers per exception name (injected faults included).
    pub errors_by_type: BTreeMap<String, u64>,
    /// Records stored (PutRecords entries and PutRecord calls that got a sequence number).
    pub records_accepted: u64,
    /// Data plus partition key bytes of the accepted records.
    pub bytes_accepted: u64,
    /// PutRecords entries that failed (ErrorCode set), whatever the cause.
    pub entries_failed: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Faults injected, by kind.
    pub faults: FaultCounts,
}

/// How many times each kind of fault was injected.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// Entries failed at random with ProvisionedThroughputExceededException.
    pub entry_throughput_exceeded: u64,
    /// Entries failed at random with InternalFailure.
    pub entry_internal_failure: u64,
    /// Entries or PutRecord calls refused by the per-shard throughput limits.
    pub shard_throttled: u64,
    /// Requests answered with a request-level ProvisionedThroughputExceededException.
    pub request_throttled: u64,
    /// Requests answered with HTTP 500.
    pub http_500: u64,
    /// Requests answered with HTTP 503.
    pub http_503: u64,
    /// Requests never answered.
    pub hang: u64,
    /// Connections reset mid-request.
    pub reset: u64,
    /// Requests processed and then dropped without an answer.
    pub commit_then_drop: u64,
    /// Requests delayed by the configured latency.
    pub delayed: u64,
    /// Outages started.
    pub outages: u64,
}

/// Kinds of injected faults, as indexes into the counter array.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FaultKind {
    EntryThroughputExceeded,
    EntryInternalFailure,
    ShardThrottled,
    RequestThrottled,
    Http500,
    Http503,
    Hang,
    Reset,
    CommitThenDrop,
    Delayed,
    Outage,
}

const FAULT_KINDS: usize = 11;

/// Live counters; updated once per request, not per record.
#[derive(Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    by_operation: [AtomicU64; Operation::ALL.len()],
    records_accepted: AtomicU64,
    bytes_accepted: AtomicU64,
    entries_failed: AtomicU64,
    connections: AtomicU64,
    faults: [AtomicU64; FAULT_KINDS],
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    /// Counts a Kinesis request and returns its number (0-based).
    pub fn request(&self, operation: Operation) -> u64 {
        self.by_operation[operation as usize].fetch_add(1, Relaxed);
        self.requests.fetch_add(1, Relaxed)
    }

    pub fn connection(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    pub fn accepted(&self, records: u64, bytes: u64) {
        if records > 0 {
            self.records_accepted.fetch_add(records, Relaxed);
            self.bytes_accepted.fetch_add(bytes, Relaxed);
        }
    }

    pub fn entries_failed(&self, count: u64) {
        if count > 0 {
            self.entries_failed.fetch_add(count, Relaxed);
        }
    }

    pub fn fault(&self, kind: FaultKind, count: u64) {
        if count > 0 {
            self.faults[kind as usize].fetch_add(count, Relaxed);
        }
    }

    pub fn error(&self, exception: &str) {
        if let Ok(mut errors) = self.errors.lock() {
            *errors.entry(exception.to_string()).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> Stats {
        let fault = |kind: FaultKind| self.faults[kind as usize].load(Relaxed);
        let requests_by_operation = Operation::ALL
            .iter()
            .map(|op| (op.name().to_string(), self.by_operation[*op as usize].load(Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect();
        Stats {
            requests: self.requests.load(Relaxed),
            requests_by_operation,
            errors_by_type: self.errors.lock().map(|e| e.clone()).unwrap_or_default(),
            records_accepted: self.records_accepted.load(Relaxed),
            bytes_accepted: self.bytes_accepted.load(Relaxed),
            entries_failed: self.entries_failed.load(Relaxed),
            connections: self.connections.load(Relaxed),
            faults: FaultCounts {
                entry_throughput_exceeded: fault(FaultKind::EntryThroughputExceeded),
                entry_internal_failure: fault(FaultKind::EntryInternalFailure),
                shard_throttled: fault(FaultKind::ShardThrottled),
                request_throttled: fault(FaultKind::RequestThrottled),
                http_500: fault(FaultKind::Http500),
                http_503: fault(FaultKind::Http503),
                hang: fault(FaultKind::Hang),
                reset: fault(FaultKind::Reset),
                commit_then_drop: fault(FaultKind::CommitThenDrop),
                delayed: fault(FaultKind::Delayed),
                outages: fault(FaultKind::Outage),
            },
        }
    }

    /// Sets every counter back to zero.
    pub fn clear(&self) {
        self.requests.store(0, Relaxed);
        for counter in self.by_operation.iter().chain(self.faults.iter()).chain([
            &self.records_accepted,
            &self.bytes_accepted,
            &self.entries_failed,
            &self.connections,
        ]) {
            counter.store(0, Relaxed);
        }
        if let Ok(mut errors) = self.errors.lock() {
            errors.clear();
        }
    }
}

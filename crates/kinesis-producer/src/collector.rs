//! Packs Kinesis records into PutRecords requests: up to 500 entries and a byte budget.

use crate::kinesis_record::KinesisRecord;
use std::time::Instant;

/// The request being filled for one stream.
pub(crate) struct Collector {
    max_count: usize,
    max_bytes: usize,
    records: Vec<KinesisRecord>,
    bytes: usize,
    deadline: Option<Instant>,
    opened: Option<Instant>,
}

impl Collector {
    pub fn new(max_count: usize, max_bytes: usize) -> Self {
        Collector { max_count, max_bytes, records: Vec::new(), bytes: 0, deadline: None, opened: None }
    }

    /// Adds a record; returns the request that had to be closed to make room, if any.
    pub fn add(&mut self, record: KinesisRecord) -> Option<Vec<KinesisRecord>> {
        let size = record.size();
        let closed = if !self.records.is_empty() && self.bytes + size > self.max_bytes { self.take() } else { None };
        self.deadline = Some(self.deadline.map_or(record.deadline, |d| d.min(record.deadline)));
        self.opened.get_or_insert_with(Instant::now);
        self.bytes += size;
        self.records.push(record);
        closed
    }

    /// True when no more entries fit.
    pub fn is_full(&self) -> bool {
        self.records.len() >= self.max_count
    }

    /// Earliest deadline of the records held.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// When the request being filled got its first record.
    pub fn opened(&self) -> Option<Instant> {
        self.opened
    }

    /// Number of records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Kinesis bytes of the records held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Closes the request being filled.
    pub fn take(&mut self) -> Option<Vec<KinesisRecord>> {
        if self.records.is_empty() {
            return None;
        }
        self.bytes = 0;
        self.deadline = None;
        self.opened = None;
        // No room is reserved for the next request: an idle stream (there may be thousands)
        // then holds no buffer at all.
        Some(std::mem::take(&mut self.records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::pending;
    use std::time::Duration;

    fn record(size: usize, deadline: Instant) -> KinesisRecord {
        KinesisRecord::raw(pending("k", None, &vec![0u8; size - 1]), None, deadline)
    }

    #[test]
    fn closes_on_byte_budget() {
        let now = Instant::now();
        let mut c = Collector::new(500, 100);
        assert!(c.add(record(60, now)).is_none());
        assert!(c.add(record(40, now)).is_none());
        let closed = c.add(record(10, now)).expect("over 100 bytes");
        assert_eq!(closed.len(), 2);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn full_at_max_count_and_tracks_earliest_deadline() {
        let now = Instant::now();
        let mut c = Collector::new(3, 1 << 20);
        c.add(record(5, now + Duration::from_millis(50)));
        c.add(record(5, now + Duration::from_millis(10)));
        assert!(!c.is_full());
        c.add(record(5, now + Duration::from_millis(90)));
        assert!(c.is_full());
        assert_eq!(c.deadline(), Some(now + Duration::from_millis(10)));
        assert_eq!(c.take().unwrap().len(), 3);
        assert_eq!(c.deadline(), None);
        assert!(c.take().is_none());
    }

    #[test]
    fn an_emptied_collector_holds_no_buffer() {
        let mut c = Collector::new(500, 1 << 20);
        c.add(record(5, Instant::now()));
        assert_eq!(c.take().unwrap().len(), 1);
        assert_eq!(c.records.capacity(), 0);
    }

    #[test]
    fn a_record_larger_than_the_budget_goes_alone() {
        let now = Instant::now();
        let mut c = Collector::new(500, 100);
        assert!(c.add(record(500, now)).is_none());
        assert_eq!(c.add(record(5, now)).unwrap().len(), 1);
    }
}

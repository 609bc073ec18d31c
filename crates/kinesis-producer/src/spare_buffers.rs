//! Member lists of delivered aggregates, kept for the next aggregates of the stream.
//!
//! Every aggregate needs a list of its user records, of up to a few hundred entries. Taking
//! them from a stock of delivered ones, rather than from the allocator each time, spares the
//! page faults of fresh memory and the copies of lists growing record by record.

use crate::record::PendingRecord;

/// Most lists kept: about as many aggregates as are out at 100,000 pending 200-byte records
/// (about 420). Fewer let the allocator hand memory back to the kernel, only to fault it in
/// again for the next aggregates; a stream idle for a minute drops them all.
const MAX_SPARES: usize = 512;
/// New lists of 64 records or more are sized in steps of 64.
const GRANULE: usize = 64;

#[derive(Default)]
pub(crate) struct SpareBuffers {
    members: Vec<Vec<PendingRecord>>,
}

impl SpareBuffers {
    /// An empty member list with room for `capacity` records: a spare if it has the room, else
    /// a new one. Aggregates differ by a few records, and growing a list a little too small
    /// would copy it whole: rounded up, one long list fits the next ones. Short lists stay
    /// exact, so that thousands of streams of a few records each hold little.
    pub fn take_members(&mut self, capacity: usize) -> Vec<PendingRecord> {
        match self.members.pop() {
            Some(spare) if spare.capacity() >= capacity => spare,
            _ => Vec::with_capacity(round_up(capacity, GRANULE)),
        }
    }

    /// Keeps an emptied member list.
    pub fn give_members(&mut self, mut members: Vec<PendingRecord>) {
        if self.members.len() < MAX_SPARES && members.capacity() > 0 {
            members.clear();
            self.members.push(members);
        }
    }
}

/// `n` rounded up to a multiple of `granule` when it is at least that large.
pub(crate) fn round_up(n: usize, granule: usize) -> usize {
    if n < granule {
        n
    } else {
        n.next_multiple_of(granule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::pending;

    #[test]
    fn member_lists_come_back_empty_and_the_stock_is_bounded() {
        let mut spares = SpareBuffers::default();
        for _ in 0..MAX_SPARES + 10 {
            let mut members = Vec::with_capacity(4);
            members.push(pending("k", None, b"x"));
            spares.give_members(members);
        }
        assert_eq!(spares.members.len(), MAX_SPARES);
        let members = spares.take_members(3);
        assert!(members.is_empty() && members.capacity() >= 4);
        assert_eq!(spares.take_members(100).capacity(), 128, "a spare too small is not grown");
        spares.members.clear();
        assert_eq!(spares.take_members(3).capacity(), 3, "short lists stay exact");
    }

    #[test]
    fn a_spare_fits_a_list_a_little_longer_than_its_own() {
        let mut spares = SpareBuffers::default();
        let mut members = spares.take_members(240);
        assert_eq!(members.capacity(), 256, "rounded up");
        members.push(pending("k", None, b"x"));
        let address = members.as_ptr();
        spares.give_members(members);
        let again = spares.take_members(250);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
    }
}

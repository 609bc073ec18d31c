//! Outcomes of a batch in the compact form handed to Java: one status byte, one attempt count
//! and (for failures) one code and one message per record.

use crate::packed::Rejection;
use kinesis_producer::Outcome;
use std::sync::Arc;

/// Status byte of a delivered record.
pub const DELIVERED: i8 = 0;
/// Status byte of a failed record.
pub const FAILED: i8 = 1;

/// Outcomes of every record of a batch, in batch order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactOutcomes {
    /// `DELIVERED` or `FAILED`.
    pub status: Vec<i8>,
    /// Number of times each record was sent.
    pub attempts: Vec<i32>,
    /// Error code of each failed record; `None` when delivered.
    pub codes: Vec<Option<Arc<str>>>,
    /// Error message of each failed record; `None` when delivered.
    pub messages: Vec<Option<Arc<str>>>,
}

impl CompactOutcomes {
    fn with_capacity(count: usize) -> Self {
        CompactOutcomes {
            status: Vec::with_capacity(count),
            attempts: Vec::with_capacity(count),
            codes: Vec::with_capacity(count),
            messages: Vec::with_capacity(count),
        }
    }

    fn push_failed(&mut self, code: Arc<str>, message: Arc<str>, attempts: u32) {
        self.status.push(FAILED);
        self.attempts.push(clamp(attempts));
        self.codes.push(Some(code));
        self.messages.push(Some(message));
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.status.len()
    }
}

/// Puts the engine's outcomes (for the records it was given, in order) and the bridge's
/// rejections (by increasing index) back into batch order.
pub fn merge(engine: Vec<Outcome>, rejected: &[Rejection]) -> CompactOutcomes {
    let count = engine.len() + rejected.len();
    let mut merged = CompactOutcomes::with_capacity(count);
    let mut engine = engine.into_iter();
    let mut rejected = rejected.iter().peekable();
    for index in 0..count {
        if let Some(rejection) = rejected.next_if(|r| r.index == index) {
            merged.push_failed(rejection.code.into(), rejection.message.as_str().into(), 0);
            continue;
        }
        match engine.next() {
            Some(Outcome::Delivered { attempts, .. }) => {
                merged.status.push(DELIVERED);
                merged.attempts.push(clamp(attempts));
                merged.codes.push(None);
                merged.messages.push(None);
            }
            Some(Outcome::Failed { code, message, attempts }) => merged.push_failed(code, message, attempts),
            // Cannot happen while rejections are sorted and inside the batch; never lose a record.
            None => merged.push_failed("Internal".into(), "record has no outcome".into(), 0),
        }
    }
    merged
}

fn clamp(attempts: u32) -> i32 {
    i32::try_from(attempts).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(attempts: u32) -> Outcome {
        Outcome::Delivered { shard_id: "shardId-0".into(), sequence_number: "1".into(), attempts }
    }

    #[test]
    fn rejections_go_back_to_their_positions() {
        let engine = vec![delivered(1), Outcome::failed("Expired", "record_ttl reached", 3), delivered(2)];
        let rejected = [
            Rejection { index: 0, code: "InvalidPartitionKey", message: "not UTF-8".into() },
            Rejection { index: 3, code: "InvalidPartitionKey", message: "not UTF-8 either".into() },
        ];
        let merged = merge(engine, &rejected);
        assert_eq!(merged.status, [FAILED, DELIVERED, FAILED, FAILED, DELIVERED]);
        assert_eq!(merged.attempts, [0, 1, 3, 0, 2]);
        assert_eq!(merged.codes[2].as_deref(), Some("Expired"));
        assert_eq!(merged.messages[3].as_deref(), Some("not UTF-8 either"));
        assert_eq!(merged.codes[1], None);
        assert_eq!(merged.messages[4], None);
    }

    #[test]
    fn only_engine_outcomes() {
        let merged = merge(vec![delivered(1), delivered(1)], &[]);
        assert_eq!(merged.status, [DELIVERED, DELIVERED]);
        assert_eq!(merged.len(), 2);
    }
}

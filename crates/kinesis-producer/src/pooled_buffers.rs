//! Buffers of request bodies, taken back for the next request once the last `Bytes` over one
//! is dropped.
//!
//! A PutRecords body of full aggregates is several MiB. Allocated fresh for every request, such
//! a block goes back to the kernel when it is freed, and the next one is faulted in and zeroed
//! page by page again: that was about half of the engine's page faults.

use crate::spare_buffers::round_up;
use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// Most buffers kept (a full request's body is about 7 MiB): enough for the requests in flight
/// at 100,000 pending 200-byte records, little held by an idle producer.
const MAX_SPARES: usize = 4;
const GRANULE: usize = 1 << 20;

#[derive(Default)]
pub(crate) struct PooledBuffers {
    spare: Mutex<Vec<Vec<u8>>>,
}

impl PooledBuffers {
    /// An empty buffer with room for `size` bytes: a spare if it has the room, else a new one.
    /// One of a MiB or more is sized in whole MiB so that it fits the next requests too (growing
    /// one a little too small would move it to fresh pages); smaller ones stay exact.
    pub fn take(&self, size: usize) -> Vec<u8> {
        match self.spare.lock().map(|mut spare| spare.pop()).ok().flatten() {
            Some(spare) if spare.capacity() >= size => spare,
            _ => Vec::with_capacity(round_up(size, GRANULE)),
        }
    }

    /// The written buffer as `Bytes` that hand it back here when the last copy is dropped.
    pub fn into_bytes(self: &Arc<Self>, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(PooledBuffer { buffer, home: self.clone() })
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        if let Ok(mut spare) = self.spare.lock() {
            if spare.len() < MAX_SPARES {
                buffer.clear();
                spare.push(buffer);
            }
        }
    }
}

struct PooledBuffer {
    buffer: Vec<u8>,
    home: Arc<PooledBuffers>,
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        self.home.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_buffer_comes_back_when_its_last_copy_is_dropped() {
        let buffers = Arc::new(PooledBuffers::default());
        let mut buffer = buffers.take(GRANULE + 14);
        assert_eq!(buffer.capacity(), 2 * GRANULE, "rounded up to whole MiB");
        buffer.extend_from_slice(b"{\"Records\":[]}");
        let address = buffer.as_ptr();
        let body = buffers.into_bytes(buffer);
        let retry_copy = body.clone();
        assert_eq!(&body[..], b"{\"Records\":[]}");
        drop(body);
        let other = buffers.take(14);
        assert_ne!(other.as_ptr(), address, "not back while a copy is alive");
        assert_eq!(other.capacity(), 14, "a small one stays exact");
        drop(retry_copy);
        let again = buffers.take(2 * GRANULE);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
    }

    #[test]
    fn only_a_few_buffers_are_kept() {
        let buffers = Arc::new(PooledBuffers::default());
        let bodies: Vec<Bytes> = (0..MAX_SPARES + 3).map(|_| buffers.into_bytes(vec![1; 10])).collect();
        drop(bodies);
        assert_eq!(buffers.spare.lock().unwrap().len(), MAX_SPARES);
    }
}

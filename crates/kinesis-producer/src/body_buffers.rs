//! Request body buffers, taken back for the next request once the HTTP layer drops a body.
//!
//! A PutRecords body of full aggregates is several MiB. Allocated fresh for every request, such
//! a block goes back to the kernel when it is freed, and the next one is faulted in and zeroed
//! page by page again: that was about half of the engine's page faults.

use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// Most buffers kept between requests (a full request's body is about 7 MiB): enough for the
/// requests in flight at 100,000 pending 200-byte records, little held by an idle producer.
const MAX_SPARE_BODIES: usize = 4;
const BODY_GRANULE: usize = 1 << 20;

#[derive(Default)]
pub(crate) struct BodyBuffers {
    spare: Mutex<Vec<Vec<u8>>>,
}

impl BodyBuffers {
    /// An empty buffer with room for `size` bytes: a spare if it has the room, else a new one
    /// sized in whole MiB so that it fits the next bodies too (growing one a little too small
    /// would move it to fresh pages).
    pub fn take(&self, size: usize) -> Vec<u8> {
        match self.spare.lock().map(|mut spare| spare.pop()).ok().flatten() {
            Some(spare) if spare.capacity() >= size => spare,
            _ => Vec::with_capacity(size.next_multiple_of(BODY_GRANULE)),
        }
    }

    /// The written body as `Bytes` that hand the buffer back here when the last copy is dropped.
    pub fn into_body(self: &Arc<Self>, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(PooledBody { buffer, home: self.clone() })
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        if let Ok(mut spare) = self.spare.lock() {
            if spare.len() < MAX_SPARE_BODIES {
                buffer.clear();
                spare.push(buffer);
            }
        }
    }
}

struct PooledBody {
    buffer: Vec<u8>,
    home: Arc<BodyBuffers>,
}

impl AsRef<[u8]> for PooledBody {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        self.home.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_buffer_comes_back_when_its_last_copy_is_dropped() {
        let buffers = Arc::new(BodyBuffers::default());
        let mut buffer = buffers.take(14);
        assert_eq!(buffer.capacity(), BODY_GRANULE);
        buffer.extend_from_slice(b"{\"Records\":[]}");
        let address = buffer.as_ptr();
        let body = buffers.into_body(buffer);
        let retry_copy = body.clone();
        assert_eq!(&body[..], b"{\"Records\":[]}");
        drop(body);
        let other = buffers.take(14);
        assert_ne!(other.as_ptr(), address, "not back while a copy is alive");
        drop(retry_copy);
        let again = buffers.take(BODY_GRANULE);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty());
    }

    #[test]
    fn only_a_few_buffers_are_kept() {
        let buffers = Arc::new(BodyBuffers::default());
        let bodies: Vec<Bytes> = (0..MAX_SPARE_BODIES + 3).map(|_| buffers.into_body(vec![1; 10])).collect();
        drop(bodies);
        assert_eq!(buffers.spare.lock().unwrap().len(), MAX_SPARE_BODIES);
    }
}

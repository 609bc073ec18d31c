//! A record's partition key as the producer keeps it.
//!
//! Keys up to 38 bytes (hex digests, UUIDs, host names: most keys) are kept inline in the
//! record. Their `String` is then freed on the thread that submitted it rather than on the
//! stream worker: freeing, on one thread, memory another thread allocated is the C library
//! malloc's slow path, and with a key per record it was several percent of the engine's CPU.

use std::fmt;

const INLINE_CAPACITY: usize = 38;

pub(crate) enum PartitionKey {
    Inline { len: u8, bytes: [u8; INLINE_CAPACITY] },
    Heap(Box<str>),
}

impl PartitionKey {
    pub fn new(key: String) -> Self {
        if key.len() > INLINE_CAPACITY {
            return PartitionKey::Heap(key.into_boxed_str());
        }
        let mut bytes = [0u8; INLINE_CAPACITY];
        bytes[..key.len()].copy_from_slice(key.as_bytes());
        PartitionKey::Inline { len: key.len() as u8, bytes }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            PartitionKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            PartitionKey::Heap(key) => key.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            PartitionKey::Inline { .. } => std::str::from_utf8(self.as_bytes()).expect("copied from a str"),
            PartitionKey::Heap(key) => key,
        }
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }
}

impl PartialEq for PartitionKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_inline_and_long_ones_on_the_heap() {
        let uuid = "123e4567-e89b-12d3-a456-426614174000";
        assert!(matches!(PartitionKey::new(uuid.into()), PartitionKey::Inline { .. }));
        let longest_inline = "é".repeat(19);
        assert!(matches!(PartitionKey::new(longest_inline.clone()), PartitionKey::Inline { .. }));
        let long = "k".repeat(INLINE_CAPACITY + 1);
        assert!(matches!(PartitionKey::new(long.clone()), PartitionKey::Heap(_)));
        for key in [uuid, &longest_inline, &long, "a", "", &"é".repeat(256)] {
            let kept = PartitionKey::new(key.to_owned());
            assert_eq!(kept.as_str(), key);
            assert_eq!(kept.as_bytes(), key.as_bytes());
            assert_eq!(kept.len(), key.len());
        }
    }

    #[test]
    fn keys_compare_by_content() {
        assert_eq!(PartitionKey::new("abc".into()), PartitionKey::new("abc".into()));
        assert_ne!(PartitionKey::new("abc".into()), PartitionKey::new("abcd".into()));
        assert_ne!(PartitionKey::new("abc".into()), PartitionKey::new("ab".into()));
    }
}

//! A record's partition key, as callers give it and as the producer keeps it.
//!
//! Keys up to 38 bytes (hex digests, UUIDs, host names: most keys) are kept inline, so a record
//! made from a borrowed key allocates nothing for it. Allocating a key per record on the caller's
//! thread and freeing it on the stream worker's was the C library malloc's slow path and several
//! percent of the engine's CPU; copying it into a `String` first still cost an allocation and a
//! free per record.

use std::fmt;
use std::ops::Deref;

const INLINE_CAPACITY: usize = 38;

/// A partition key: dereferences to `str`, converts from `&str` and `String`.
#[derive(Clone)]
pub struct PartitionKey(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE_CAPACITY] },
    Heap(Box<str>),
}

impl PartitionKey {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // SAFETY: the bytes were copied whole from a `str` (`inline`), so they are UTF-8.
            // Checking again would scan the key on every use.
            Repr::Inline { .. } => unsafe { std::str::from_utf8_unchecked(self.as_bytes()) },
            Repr::Heap(key) => key,
        }
    }

    /// The key's UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(key) => key.as_bytes(),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True for the empty key (which Kinesis refuses).
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    fn inline(key: &str) -> Option<Self> {
        (key.len() <= INLINE_CAPACITY).then(|| {
            let mut bytes = [0u8; INLINE_CAPACITY];
            bytes[..key.len()].copy_from_slice(key.as_bytes());
            PartitionKey(Repr::Inline { len: key.len() as u8, bytes })
        })
    }
}

impl From<&str> for PartitionKey {
    fn from(key: &str) -> Self {
        PartitionKey::inline(key).unwrap_or_else(|| PartitionKey(Repr::Heap(key.into())))
    }
}

impl From<String> for PartitionKey {
    fn from(key: String) -> Self {
        PartitionKey::inline(&key).unwrap_or_else(|| PartitionKey(Repr::Heap(key.into_boxed_str())))
    }
}

impl Deref for PartitionKey {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for PartitionKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for PartitionKey {}

impl fmt::Debug for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_inline(key: &PartitionKey) -> bool {
        matches!(key.0, Repr::Inline { .. })
    }

    #[test]
    fn short_keys_are_inline_and_long_ones_on_the_heap() {
        let uuid = "123e4567-e89b-12d3-a456-426614174000";
        assert!(is_inline(&PartitionKey::from(uuid)));
        let longest_inline = "é".repeat(19);
        assert!(is_inline(&PartitionKey::from(longest_inline.clone())));
        let long = "k".repeat(INLINE_CAPACITY + 1);
        assert!(!is_inline(&PartitionKey::from(long.as_str())));
        assert!(!is_inline(&PartitionKey::from(long.clone())));
        for key in [uuid, &longest_inline, &long, "a", "", &"é".repeat(256)] {
            for kept in [PartitionKey::from(key), PartitionKey::from(key.to_owned())] {
                assert_eq!(kept.as_str(), key);
                assert_eq!(kept.as_bytes(), key.as_bytes());
                assert_eq!(kept.len(), key.len());
                assert_eq!(kept.to_string(), key);
            }
        }
    }

    #[test]
    fn keys_compare_by_content() {
        assert_eq!(PartitionKey::from("abc"), PartitionKey::from(String::from("abc")));
        assert_ne!(PartitionKey::from("abc"), PartitionKey::from("abcd"));
        assert_ne!(PartitionKey::from("abc"), PartitionKey::from("ab"));
        assert_eq!(PartitionKey::from("k".repeat(40)), PartitionKey::from("k".repeat(40).as_str()));
    }
}

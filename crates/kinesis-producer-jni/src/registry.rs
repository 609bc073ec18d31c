//! Numbered entries shared with Java as `long` handles: a handle is a key, never a pointer,
//! so a stale or forged handle finds nothing instead of freed memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Entries by handle. Handles start at 1 and are never reused.
pub struct Registry<T> {
    next: AtomicU64,
    entries: Mutex<HashMap<u64, Arc<T>>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry { next: AtomicU64::new(1), entries: Mutex::new(HashMap::new()) }
    }
}

impl<T> Registry<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<T>>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A fresh handle, for an entry inserted later with `insert_as`.
    pub fn reserve(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Stores `value` under a fresh handle.
    pub fn insert(&self, value: T) -> u64 {
        let handle = self.reserve();
        self.insert_as(handle, value);
        handle
    }

    /// Stores `value` under a handle from `reserve`.
    pub fn insert_as(&self, handle: u64, value: T) {
        self.lock().insert(handle, Arc::new(value));
    }

    /// The entry, if the handle is live. Callers keep it alive while they use it.
    pub fn get(&self, handle: i64) -> Option<Arc<T>> {
        let key = u64::try_from(handle).ok()?;
        self.lock().get(&key).cloned()
    }

    /// Takes the entry out; later lookups of the handle find nothing.
    pub fn remove(&self, handle: i64) -> Option<Arc<T>> {
        let key = u64::try_from(handle).ok()?;
        self.lock().remove(&key)
    }

    /// Number of live entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_and_forged_handles_find_nothing() {
        let registry = Registry::default();
        let a = registry.insert("a");
        let b = registry.insert("b");
        assert_ne!(a, b);
        assert!(a > 0);
        assert_eq!(registry.get(a as i64).as_deref(), Some(&"a"));
        assert!(registry.remove(a as i64).is_some());
        assert!(registry.remove(a as i64).is_none());
        assert!(registry.get(a as i64).is_none());
        assert!(registry.get(-1).is_none());
        assert!(registry.get(0).is_none());
        assert!(registry.get(i64::MAX).is_none());
        assert_eq!(registry.len(), 1);
    }
}

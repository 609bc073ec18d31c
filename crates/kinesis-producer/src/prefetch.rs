//! Cache prefetch hints for memory the producer is about to read and that is likely not in
//! this core's cache: record data copied long before, records handed over by another thread.

const CACHE_LINE: usize = 64;

/// Asks the CPU to start loading the `len` bytes at `start` into cache. Only a hint: it never
/// faults, even for an address that is not mapped, and it changes no data.
pub(crate) fn prefetch_bytes(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for offset in (0..len).step_by(CACHE_LINE) {
        let line = start.wrapping_add(offset).cast::<i8>();
        // SAFETY: PREFETCHT0 reads no memory into the program and cannot fault.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}

/// Prefetches the memory of `items`.
pub(crate) fn prefetch_slice<T>(items: &[T]) {
    prefetch_bytes(items.as_ptr().cast(), std::mem::size_of_val(items));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_never_faults_and_changes_nothing() {
        let data: Vec<u8> = (0..=255).collect();
        prefetch_slice(&data);
        prefetch_slice::<u8>(&[]);
        // Addresses nothing owns, including an unmapped page: still only a hint.
        prefetch_bytes(std::ptr::null(), 4096);
        prefetch_bytes(usize::MAX as *const u8, 1);
        assert_eq!(data, (0..=255).collect::<Vec<u8>>());
    }
}

//! Cache prefetch hints for memory about to be used long after it was written, when it is
//! likely no longer in this core's cache: record data, outcome slots.

const CACHE_LINE: usize = 64;

/// Asks the CPU to start loading `value` into cache. Only a hint: it never faults and changes
/// nothing.
pub(crate) fn prefetch<T: ?Sized>(value: &T) {
    let start = (value as *const T).cast::<u8>();
    #[cfg(target_arch = "x86_64")]
    for offset in (0..std::mem::size_of_val(value)).step_by(CACHE_LINE) {
        let line = start.wrapping_add(offset).cast::<i8>();
        // SAFETY: PREFETCHT0 reads no memory into the program and cannot fault.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = start;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_changes_nothing() {
        let data: Vec<u8> = (0..=255).collect();
        prefetch(&data);
        prefetch(&data[1..130]);
        prefetch::<[u8]>(&[]);
        prefetch(&Some(7u64));
        assert_eq!(data, (0..=255).collect::<Vec<u8>>());
    }
}

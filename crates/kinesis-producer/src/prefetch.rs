//! Cache prefetch hints for record data about to be read long after it was written, when it
//! is likely no longer in this core's cache.

const CACHE_LINE: usize = 64;

/// Asks the CPU to start loading `data` into cache. Only a hint: it never faults and changes
/// nothing.
pub(crate) fn prefetch(data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in data.chunks(CACHE_LINE) {
        // SAFETY: PREFETCHT0 reads no memory into the program and cannot fault.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_changes_nothing() {
        let data: Vec<u8> = (0..=255).collect();
        prefetch(&data);
        prefetch(&data[1..130]);
        prefetch(&[]);
        assert_eq!(data, (0..=255).collect::<Vec<u8>>());
    }
}

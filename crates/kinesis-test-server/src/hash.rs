//! Hash keys and hash key ranges, following the service's routing rule.

use md5::{Digest, Md5};

/// Largest hash key: 2^128 - 1.
pub const MAX_HASH_KEY: u128 = u128::MAX;

/// Hash key of a partition key: MD5 of its UTF-8 bytes, read as a big-endian u128.
pub fn partition_key_hash(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// Parses an ExplicitHashKey: a decimal number in 0..=2^128-1 without sign or spaces.
pub fn parse_explicit_hash_key(text: &str) -> Option<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u128>().ok()
}

/// Splits the whole hash key space into `count` contiguous ranges of (almost) equal size,
/// the way the service lays out the shards of a new stream.
pub fn even_ranges(count: u32) -> Vec<(u128, u128)> {
    split_range(0, MAX_HASH_KEY, count)
}

/// Splits `start..=end` into `count` contiguous ranges of (almost) equal size.
pub fn split_range(start: u128, end: u128, count: u32) -> Vec<(u128, u128)> {
    if count <= 1 {
        return vec![(start, end)];
    }
    let count = u128::from(count);
    // The width is computed as (span + 1) / count without overflowing when span is 2^128-1.
    let span = end - start;
    let width = span / count + u128::from(span % count == count - 1);
    let mut ranges = Vec::with_capacity(count as usize);
    let mut lo = start;
    for i in 0..count {
        let hi = if i + 1 == count { end } else { lo + width - 1 };
        ranges.push((lo, hi));
        lo = hi.wrapping_add(1);
    }
    ranges
}

/// CRC-32 (IEEE, as zlib and java.util.zip compute it) of a record's data. A shard's digest
/// is the wrapping u64 sum of these, so it does not depend on the order of arrival.
pub fn data_digest(data: &[u8]) -> u64 {
    u64::from(crc32fast::hash(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_rule_matches_known_vector() {
        // MD5("pk1") = f7cfd01ce490fdd421bbdc8d3a35cfd0
        assert_eq!(partition_key_hash("pk1"), 329398341438914906102347661116985167824);
    }

    #[test]
    fn explicit_hash_key_parsing() {
        assert_eq!(parse_explicit_hash_key("0"), Some(0));
        assert_eq!(parse_explicit_hash_key("340282366920938463463374607431768211455"), Some(u128::MAX));
        assert_eq!(parse_explicit_hash_key("340282366920938463463374607431768211456"), None);
        assert_eq!(parse_explicit_hash_key("+1"), None);
        assert_eq!(parse_explicit_hash_key("-1"), None);
        assert_eq!(parse_explicit_hash_key(""), None);
    }

    #[test]
    fn even_ranges_cover_the_space_like_the_service() {
        let ranges = even_ranges(4);
        assert_eq!(ranges[0], (0, (1u128 << 126) - 1));
        assert_eq!(ranges[1].0, 1u128 << 126);
        assert_eq!(ranges[3].1, u128::MAX);
        // Two shards: the service's boundary is 170141183460469231731687303715884105728.
        assert_eq!(even_ranges(2)[1].0, 170141183460469231731687303715884105728);
        for count in [1, 3, 5, 7, 100] {
            let ranges = even_ranges(count);
            assert_eq!(ranges.len(), count as usize);
            assert_eq!(ranges[0].0, 0);
            assert_eq!(ranges[ranges.len() - 1].1, u128::MAX);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].1 + 1, pair[1].0);
            }
        }
    }

    #[test]
    fn digest_is_zlib_crc32() {
        // zlib.crc32(b"hello") == 907060870
        assert_eq!(data_digest(b"hello"), 907060870);
    }

    #[test]
    fn split_small_range() {
        assert_eq!(split_range(10, 19, 2), vec![(10, 14), (15, 19)]);
        assert_eq!(split_range(0, 9, 3), vec![(0, 2), (3, 5), (6, 9)]);
    }
}

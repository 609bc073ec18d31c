//! Sequence numbers: 56-digit decimal strings like the service's, increasing within a stream.
//!
//! Layout: a 36-digit prefix per stream (`49`, the creation time, a digest of the name)
//! followed by a 20-digit counter. All have the same length, so comparing them as strings
//! or as numbers gives the same order.

/// Number of digits of every sequence number.
pub const SEQUENCE_DIGITS: usize = 56;
const COUNTER_DIGITS: usize = 20;

/// The 36-digit prefix of a stream's sequence numbers.
pub fn sequence_prefix(created_ms: u64, name: &str) -> String {
    let salt = crate::hash::partition_key_hash(name) % 10u128.pow(19);
    format!("49{:015}{salt:019}", created_ms % 10u64.pow(15))
}

/// First counter of a stream: derived from the creation time, so numbers look lived-in.
pub fn first_counter(created_ms: u64) -> u64 {
    created_ms.saturating_mul(1000)
}

/// Appends the sequence number for `counter` of a stream with `prefix` to `out`.
pub fn write_sequence_number(out: &mut String, prefix: &str, counter: u64) {
    out.push_str(prefix);
    push_zero_padded(out, counter, COUNTER_DIGITS);
}

/// Appends `value` in decimal, left-padded with zeros to `width` digits (at most 20).
/// Hand-written because `format!("{:020}")` pads one character at a time, which shows
/// up when answering PutRecords of 500 entries.
pub fn push_zero_padded(out: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let width = width.clamp(1, digits.len());
    let mut position = digits.len();
    while value > 0 && position > 0 {
        position -= 1;
        digits[position] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    let start = position.min(digits.len() - width);
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

/// The sequence number for `counter` of a stream with `prefix`.
pub fn sequence_number(prefix: &str, counter: u64) -> String {
    let mut text = String::with_capacity(SEQUENCE_DIGITS);
    write_sequence_number(&mut text, prefix, counter);
    text
}

/// Extracts the counter from a sequence number of this server; `None` if it is not one.
pub fn parse_sequence_number(text: &str) -> Option<u64> {
    if text.len() != SEQUENCE_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text[SEQUENCE_DIGITS - COUNTER_DIGITS..].parse::<u64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        let prefix = sequence_prefix(1_795_648_554_678, "orders");
        assert_eq!(prefix.len(), SEQUENCE_DIGITS - COUNTER_DIGITS);
        let start = first_counter(1_795_648_554_678);
        let a = sequence_number(&prefix, start + 9);
        let b = sequence_number(&prefix, start + 10);
        assert_eq!(a.len(), SEQUENCE_DIGITS);
        assert!(a.starts_with("49"));
        assert!(a < b);
        assert_eq!(parse_sequence_number(&b), Some(start + 10));
        assert_eq!(parse_sequence_number("123"), None);
        assert_eq!(parse_sequence_number(&a.replace('9', "x")), None);
    }

    #[test]
    fn zero_padding() {
        for (value, width) in [(0u64, 12), (7, 12), (123_456, 3), (u64::MAX, 20), (42, 20)] {
            let mut out = String::new();
            push_zero_padded(&mut out, value, width);
            assert_eq!(out, format!("{value:0width$}"));
        }
    }
}

//! Number formatting as SOS prints it.

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Parses hex as SOS does: optional lowercase `0x` prefix when `allow_prefix`, any case
/// of digits, leading zeros; an empty or over-long value fails.
pub fn parse_hex(text: &str, allow_prefix: bool) -> Option<u64> {
    let digits = match text.strip_prefix("0x") {
        Some(d) if allow_prefix => d,
        _ => text,
    };
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(17856224), "17,856,224");
    }
}

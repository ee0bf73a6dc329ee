//! How SOS's native commands read an address or a number argument (the options
//! themselves are parsed by [`crate::args::SosArgs`]): an address is the debugger's
//! expression evaluation of the word.

/// The debugger's expression evaluation of an address: hex, optional `0x`; 0 if invalid.
pub fn expression(text: &str) -> u64 {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    u64::from_str_radix(digits, 16).unwrap_or(0)
}

/// A size option: decimal, else an expression.
pub fn size_value(text: &str) -> u64 {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().unwrap_or(u64::MAX)
    } else {
        expression(text)
    }
}

/// SOS's hex argument: leading `0x` ignored, digits up to the first non-hex character.
pub fn hex_arg(text: &str) -> u64 {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let end = digits.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(digits.len());
    if end == digits.len() {
        u64::from_str_radix(&digits[..end], 16).unwrap_or(0)
    } else {
        expression(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_like_sos() {
        assert_eq!(expression("0x7f00"), 0x7f00);
        assert_eq!(expression("zz"), 0);
        assert_eq!(hex_arg("00007f00"), 0x7f00);
        assert_eq!(hex_arg("7f00zz"), 0);
        assert_eq!(size_value("12"), 12);
        assert_eq!(size_value("0x10"), 16);
    }
}

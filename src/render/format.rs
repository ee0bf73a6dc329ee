//! Numbers and cells as dotnet-dump prints them: thousands separators (`n0`), pointers
//! (`x12`), eeheap's `0x{n:x} ({n})` sizes and left-aligned, cut-to-width table cells.

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

/// A pointer as SOS tables print it: lowercase hex, at least 12 digits, no `0x`.
pub fn pointer(value: u64) -> String {
    format!("{value:012x}")
}

/// A memory size as eeheap prints it: `0x{n:x} ({n})`, and the empty string for 0.
pub fn memory_size(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("{n:#x} ({n})")
    }
}

/// A left-aligned table cell: `text` padded with spaces to `width`; a longer text is cut
/// to `...` and its last `width - 3` characters, as dotnet-dump's table writer does.
pub fn left_cell(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len <= width {
        format!("{text:<width$}")
    } else if width <= 3 {
        ".".repeat(width)
    } else {
        let tail: String = text.chars().skip(len - (width - 3)).collect();
        format!("...{tail}")
    }
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

    #[test]
    fn formats_pointers_and_sizes() {
        assert_eq!(pointer(0x7f9abf47fd30), "7f9abf47fd30");
        assert_eq!(pointer(0x1000), "000000001000");
        assert_eq!(pointer(u64::MAX), "ffffffffffffffff");
        assert_eq!(memory_size(0), "");
        assert_eq!(memory_size(4194304), "0x400000 (4194304)");
        assert_eq!(memory_size(24), "0x18 (24)");
    }

    #[test]
    fn pads_and_cuts_left_cells() {
        assert_eq!(left_cell("", 4), "    ");
        assert_eq!(left_cell("0x18 (24)", 14), "0x18 (24)     ");
        assert_eq!(left_cell("committed size", 14), "committed size");
        assert_eq!(left_cell("0123456789", 8), "...56789");
        assert_eq!(left_cell("0123456789", 2), "..");
    }
}

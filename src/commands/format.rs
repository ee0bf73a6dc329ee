//! Number formatting and argument parsing shared by the commands, as dotnet-dump does them.
//!
//! Formatting: thousands separators (`n0`), pointers (`x12`), eeheap's `0x{n:x} ({n})` sizes
//! and left-aligned, cut-to-width table cells. Parsing: hex addresses with or without `0x`,
//! `start [end|Llength]` address ranges, and a small option splitter that mimics the
//! System.CommandLine rules SOS commands are parsed with (case-sensitive option names,
//! `-opt value`, `-opt:value`, `-opt=value`, unknown `-words` left as positional words).
//! Error texts are dotnet-dump's (`docs/research/sos-formats.md` §1.1, §4).
use anyhow::{bail, Result};

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

/// Parses hex digits (any case, leading zeros allowed, at most 16 significant digits),
/// nothing else: no prefix, no sign.
fn parse_hex_digits(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    if significant.len() > 16 {
        return None;
    }
    u64::from_str_radix(significant, 16).ok()
}

/// An address option value (`-mt`, `-segment`): hex with an optional lowercase `0x`, one
/// WinDbg-style backtick allowed (`00007f9a`bf47fd30`). Zero is not an address: `None`.
pub fn parse_address(text: &str) -> Option<u64> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    let text = match text.find('`') {
        Some(i) => format!("{}{}", &text[..i], &text[i + 1..]),
        None => text.to_string(),
    };
    // SOS strips the leading zeros first and then refuses an empty string.
    let significant = text.trim_start_matches('0');
    if significant.is_empty() {
        return None;
    }
    parse_hex_digits(significant)
}

/// A `start`/`end` address of a range: plain hex, **no** `0x` (dotnet-dump refuses it).
pub fn parse_plain_hex(text: &str) -> Option<u64> {
    parse_hex_digits(text)
}

/// The half-open address range `[start, end)` given as `start [end]` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    pub start: u64,
    pub end: u64,
}

impl AddressRange {
    /// Whether `[lo, hi)` overlaps this range.
    pub fn overlaps(&self, lo: u64, hi: u64) -> bool {
        lo < self.end && self.start < hi
    }
}

/// Parses the positional words of `dumpheap`/`eeheap` as `start [end]`, where `end` may be
/// `L{hex length}`. `command` names the command in the "Too many arguments" error.
/// Returns `None` when no word is given; with only `start`, the range ends at 2^64-1.
pub fn parse_range(words: &[String], command: &str) -> Result<Option<AddressRange>> {
    if words.len() > 2 {
        if let Some(w) = words.iter().find(|w| w.starts_with('-') || w.starts_with('/')) {
            bail!("Unknown argument: {w}");
        }
        bail!("Too many arguments to !{command}");
    }
    let Some(start_text) = words.first() else {
        return Ok(None);
    };
    let Some(start) = parse_plain_hex(start_text) else {
        bail!("Invalid start address: {start_text}");
    };
    let Some(end_word) = words.get(1) else {
        return Ok(Some(AddressRange { start, end: u64::MAX }));
    };
    let (end_text, is_length) = match end_word.strip_prefix('L') {
        Some(rest) => (rest, true),
        None => (end_word.as_str(), false),
    };
    let Some(value) = parse_plain_hex(end_text) else {
        bail!("Invalid end address: {end_text}");
    };
    let end = if is_length {
        match start.checked_add(value) {
            Some(end) => end,
            None => bail!("Arithmetic operation resulted in an overflow."),
        }
    } else {
        value
    };
    if end <= start {
        bail!("Start address must be before end address: '{start_text}' < '{end_text}'");
    }
    Ok(Some(AddressRange { start, end }))
}

/// A command's arguments split into options and positional words.
#[derive(Debug, Default)]
pub struct CommandArgs {
    flags: Vec<&'static str>,
    values: Vec<(&'static str, String)>,
    /// The words that are not options, in order (including unknown `-words`).
    pub positional: Vec<String>,
}

impl CommandArgs {
    /// Splits `args` given the command's boolean options (`flags`) and options taking one
    /// value (`valued`), both named without their dash. Only the single-dash spelling is an
    /// option (`--gc` is a positional word, as in dotnet-dump). Errors are
    /// System.CommandLine's texts.
    pub fn parse(args: &[String], flags: &[&'static str], valued: &[&'static str]) -> Result<CommandArgs> {
        let lookup = |word: &str, names: &[&'static str]| -> Option<&'static str> {
            let bare = word.strip_prefix('-')?;
            names.iter().copied().find(|n| *n == bare)
        };
        let mut parsed = CommandArgs::default();
        let mut i = 0;
        while i < args.len() {
            let word = &args[i];
            i += 1;
            // `-opt:value` / `-opt=value`.
            if let Some(pos) = word.find([':', '=']).filter(|_| word.starts_with('-')) {
                let (name, value) = (&word[..pos], &word[pos + 1..]);
                if let Some(flag) = lookup(name, flags) {
                    match value.to_ascii_lowercase().as_str() {
                        "true" => parsed.flags.push(flag),
                        "false" => parsed.flags.retain(|f| *f != flag),
                        _ => bail!("Cannot parse argument '{value}' for option '{name}' as expected type 'System.Boolean'."),
                    }
                    continue;
                }
                if let Some(option) = lookup(name, valued) {
                    parsed.set_value(option, name, value.to_string())?;
                    continue;
                }
            }
            if let Some(flag) = lookup(word, flags) {
                if !parsed.flags.contains(&flag) {
                    parsed.flags.push(flag);
                }
            } else if let Some(option) = lookup(word, valued) {
                // The next word is the value, even when it looks like an option.
                let Some(value) = args.get(i) else {
                    bail!("Required argument missing for option: '{word}'.");
                };
                i += 1;
                parsed.set_value(option, word, value.clone())?;
            } else {
                parsed.positional.push(word.clone());
            }
        }
        Ok(parsed)
    }

    fn set_value(&mut self, option: &'static str, spelled: &str, value: String) -> Result<()> {
        if self.value(option).is_some() {
            bail!("Option '{spelled}' expects a single argument but 2 were provided.");
        }
        self.values.push((option, value));
        Ok(())
    }

    /// Whether the boolean option `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    /// The value of the option `name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// An option word split as dotnet-dump's parser reads it: `-name=value` and `-name:value`
/// carry their value inline; anything else is a name (or a positional word).
pub fn split_option(arg: &str) -> (&str, Option<&str>) {
    match arg.find(['=', ':']) {
        Some(p) if arg.starts_with('-') => (&arg[..p], Some(&arg[p + 1..])),
        _ => (arg, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

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

    #[test]
    fn parses_addresses() {
        assert_eq!(parse_address("7f9abf47fd30"), Some(0x7f9abf47fd30));
        assert_eq!(parse_address("0x7F9ABF47FD30"), Some(0x7f9abf47fd30));
        assert_eq!(parse_address("00007f9abf47fd30"), Some(0x7f9abf47fd30));
        assert_eq!(parse_address("00007f9a`bf47fd30"), Some(0x7f9abf47fd30));
        assert_eq!(parse_address("0X7f9abf47fd30"), None);
        assert_eq!(parse_address("0"), None);
        assert_eq!(parse_address("0x0"), None);
        assert_eq!(parse_address("0x"), None);
        assert_eq!(parse_address("zz"), None);
        assert_eq!(parse_address("+10"), None);
        assert_eq!(parse_address("10000000000000000"), None);
    }

    #[test]
    fn parses_plain_hex() {
        assert_eq!(parse_plain_hex("0"), Some(0));
        assert_eq!(parse_plain_hex("ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_plain_hex("000ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_plain_hex("fffffffffffffffff"), None);
        assert_eq!(parse_plain_hex("0x10"), None);
        assert_eq!(parse_plain_hex(""), None);
        assert_eq!(parse_plain_hex("-1"), None);
    }

    #[test]
    fn parses_ranges() {
        let r = |s: &str| parse_range(&words(s), "eeheap").map_err(|e| e.to_string());
        assert_eq!(r(""), Ok(None));
        assert_eq!(r("1000"), Ok(Some(AddressRange { start: 0x1000, end: u64::MAX })));
        assert_eq!(r("1000 2000"), Ok(Some(AddressRange { start: 0x1000, end: 0x2000 })));
        assert_eq!(r("1000 L100"), Ok(Some(AddressRange { start: 0x1000, end: 0x1100 })));
        assert_eq!(r("a b c").unwrap_err(), "Too many arguments to !eeheap");
        assert_eq!(r("1 2 -x").unwrap_err(), "Unknown argument: -x");
        assert_eq!(r("0x10").unwrap_err(), "Invalid start address: 0x10");
        assert_eq!(r("10 LZZ").unwrap_err(), "Invalid end address: ZZ");
        assert_eq!(r("2000 1000").unwrap_err(), "Start address must be before end address: '2000' < '1000'");
        assert_eq!(r("10 L0").unwrap_err(), "Start address must be before end address: '10' < '0'");
        assert_eq!(r("10 Lfffffffffffffff0").unwrap_err(), "Arithmetic operation resulted in an overflow.");
        let range = AddressRange { start: 0x1000, end: 0x2000 };
        assert!(range.overlaps(0x1fff, 0x3000));
        assert!(!range.overlaps(0x2000, 0x3000));
        assert!(!range.overlaps(0x0, 0x1000));
    }

    #[test]
    fn splits_options() {
        let p = |s: &str| CommandArgs::parse(&words(s), &["gc"], &["heap", "segment"]).map_err(|e| e.to_string());
        let a = p("-gc -heap 1 1000 -foo").unwrap();
        assert!(a.flag("gc"));
        assert_eq!(a.value("heap"), Some("1"));
        assert_eq!(a.value("segment"), None);
        assert_eq!(a.positional, ["1000", "-foo"]);
        let a = p("-heap:1 -segment=0x10 -gc:false --gc").unwrap();
        assert!(!a.flag("gc"));
        assert_eq!(a.value("heap"), Some("1"));
        assert_eq!(a.value("segment"), Some("0x10"));
        assert_eq!(a.positional, ["--gc"]);
        assert_eq!(p("-heap -1").unwrap().value("heap"), Some("-1"));
        assert_eq!(p("-GC").unwrap().positional, ["-GC"]);
        assert_eq!(p("-gc -heap").unwrap_err(), "Required argument missing for option: '-heap'.");
        assert_eq!(p("-heap -gc").unwrap().value("heap"), Some("-gc"));
        assert_eq!(
            p("-heap 1 -heap 0").unwrap_err(),
            "Option '-heap' expects a single argument but 2 were provided."
        );
    }
}

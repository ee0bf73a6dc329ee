//! A command's words: the one option parser every command uses, and address arguments.
//!
//! A command declares its options once, as a list of [`OptionSpec`]s (name, other
//! spellings, whether it takes a value, its help line). The registry shows that list in
//! `help`, completes from it and checks it against the parser; the command parses its
//! words with the same list, in one of the two styles dotnet-dump's commands have:
//!
//! - [`CommandArgs`]: System.CommandLine's rules, which dotnet-dump's managed commands
//!   (`dumpheap`, `eeheap`, `gcroot`, ...) follow: case-sensitive names, `-opt value`,
//!   `-opt:value`, `-opt=value`, a flag may say `:true`/`:false`, a value may look like an
//!   option. Unlike dotnet-dump, a `-word` that is no option of the command is an error
//!   naming it and the valid options (dotnet-dump takes it for an address:
//!   `Invalid start address: -typ`).
//! - [`SosArgs`]: SOS's native `GetCMDOption` (`dumpobj`, `dumparray`, `dumpvc`,
//!   `syncblk`, `gchandles`): case-insensitive names, options before arguments, at most a
//!   given number of arguments; errors are SOS's console texts.
//!
//! An option the command knows from dotnet-dump but clrheap does not answer yet is
//! declared [`OptionSpec::unsupported`]: both parsers refuse it before the command
//! prints anything.
//!
//! Addresses: [`parse_address`] (`-mt`, `-segment`, targets), [`parse_range`] (`start
//! [end|Llength]`). Error texts are dotnet-dump's (`docs/research/sos-formats.md` §1.1, §4).
use anyhow::{bail, Result};

/// One option of a command.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The name as typed, dash included: `-stat`.
    pub name: &'static str,
    /// Other spellings of the same option: `-summary` for `-stat`.
    pub aliases: &'static [&'static str],
    /// What the value is called in help (`<mt>`), or `None` for a flag.
    pub value: Option<&'static str>,
    /// One line for `help <command>`.
    pub help: &'static str,
    /// Whether clrheap answers it; an unsupported option is refused with a clear message.
    pub supported: bool,
}

impl OptionSpec {
    /// A flag (no value).
    pub const fn flag(name: &'static str, help: &'static str) -> OptionSpec {
        OptionSpec { name, aliases: &[], value: None, help, supported: true }
    }

    /// An option taking one value, shown as `value` in help.
    pub const fn valued(name: &'static str, value: &'static str, help: &'static str) -> OptionSpec {
        OptionSpec { name, aliases: &[], value: Some(value), help, supported: true }
    }

    /// The same option, also accepted under these names.
    pub const fn or(self, aliases: &'static [&'static str]) -> OptionSpec {
        OptionSpec { aliases, ..self }
    }

    /// The same option, declared (dotnet-dump has it) but refused.
    pub const fn unsupported(self) -> OptionSpec {
        OptionSpec { supported: false, ..self }
    }

    /// Whether the option takes a value.
    pub fn takes_value(&self) -> bool {
        self.value.is_some()
    }

    /// Its name and aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// Whether `word` names this option: exactly, or ignoring case.
    fn is_named(&self, word: &str, ignore_case: bool) -> bool {
        self.names().any(|n| if ignore_case { n.eq_ignore_ascii_case(word) } else { n == word })
    }
}

/// The options of a list, for messages: `-stat, -type, -mt`.
pub fn option_list(specs: &[OptionSpec]) -> String {
    let names: Vec<&str> = specs.iter().filter(|s| s.supported).flat_map(|s| s.names()).collect();
    if names.is_empty() { "no options".to_string() } else { names.join(", ") }
}

/// The refusal of an option clrheap does not answer yet.
fn unsupported(word: &str) -> String {
    format!("option {word} is not supported by clrheap yet")
}

/// The error for a `-word` that is not an option of the command.
fn unknown(word: &str, specs: &[OptionSpec]) -> anyhow::Error {
    anyhow::anyhow!("Unknown option: {word} (valid options: {})", option_list(specs))
}

/// A command's words parsed by System.CommandLine's rules (see the module comment).
#[derive(Debug)]
pub struct CommandArgs {
    specs: &'static [OptionSpec],
    flags: Vec<&'static str>,
    values: Vec<(&'static str, String)>,
    /// The words that are not options, in order.
    pub positional: Vec<String>,
}

impl CommandArgs {
    /// Splits `args` by the declared options. Errors are System.CommandLine's texts, and
    /// an unknown `-word` names the valid options.
    pub fn parse(args: &[String], specs: &'static [OptionSpec]) -> Result<CommandArgs> {
        let find = |word: &str| specs.iter().find(|s| s.is_named(word, false));
        let mut parsed = CommandArgs { specs, flags: Vec::new(), values: Vec::new(), positional: Vec::new() };
        let mut i = 0;
        while i < args.len() {
            let word = &args[i];
            i += 1;
            if !word.starts_with('-') {
                parsed.positional.push(word.clone());
                continue;
            }
            // `-opt:value` / `-opt=value`.
            if let Some(pos) = word.find([':', '='])
                && let Some(spec) = find(&word[..pos])
            {
                let (name, value) = (&word[..pos], &word[pos + 1..]);
                if !spec.supported {
                    bail!("{}", unsupported(name));
                }
                if spec.takes_value() {
                    parsed.set_value(spec.name, name, value.to_string())?;
                } else {
                    match value.to_ascii_lowercase().as_str() {
                        "true" => parsed.set_flag(spec.name),
                        "false" => parsed.flags.retain(|f| *f != spec.name),
                        _ => bail!("Cannot parse argument '{value}' for option '{name}' as expected type 'System.Boolean'."),
                    }
                }
                continue;
            }
            let Some(spec) = find(word) else {
                return Err(unknown(word, specs));
            };
            if !spec.supported {
                bail!("{}", unsupported(word));
            }
            if spec.takes_value() {
                // The next word is the value, even when it looks like an option.
                let Some(value) = args.get(i) else {
                    bail!("Required argument missing for option: '{word}'.");
                };
                i += 1;
                parsed.set_value(spec.name, word, value.clone())?;
            } else {
                parsed.set_flag(spec.name);
            }
        }
        Ok(parsed)
    }

    fn set_flag(&mut self, name: &'static str) {
        if !self.flags.contains(&name) {
            self.flags.push(name);
        }
    }

    fn set_value(&mut self, option: &'static str, spelled: &str, value: String) -> Result<()> {
        if self.values.iter().any(|(n, _)| *n == option) {
            bail!("Option '{spelled}' expects a single argument but 2 were provided.");
        }
        self.values.push((option, value));
        Ok(())
    }

    /// Whether the flag `name` (its declared name, dash included) was given.
    pub fn flag(&self, name: &str) -> bool {
        debug_assert!(self.declares(name, false), "{name} is not a declared flag");
        self.flags.contains(&name)
    }

    /// The value of the option `name` (its declared name, dash included), if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        debug_assert!(self.declares(name, true), "{name} is not a declared option with a value");
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    fn declares(&self, name: &str, valued: bool) -> bool {
        self.specs.iter().any(|s| s.name == name && s.takes_value() == valued)
    }
}

/// A command's words parsed by SOS's native rules (see the module comment).
#[derive(Debug)]
pub struct SosArgs {
    specs: &'static [OptionSpec],
    flags: Vec<(&'static str, Option<String>)>,
    /// The arguments after the options.
    pub args: Vec<String>,
}

impl SosArgs {
    /// Parses options (case-insensitive, before the arguments), then at most `max_args`
    /// arguments. An error is the text SOS prints on its console, with its newline.
    pub fn parse(args: &[String], specs: &'static [OptionSpec], max_args: usize) -> std::result::Result<SosArgs, String> {
        let mut parsed = SosArgs { specs, flags: Vec::new(), args: Vec::new() };
        let mut i = 0;
        while i < args.len() {
            let word = &args[i];
            if !word.starts_with('-') {
                if parsed.args.len() >= max_args {
                    return Err(format!("Incorrect argument: {}\n", args[i..].join(" ")));
                }
                parsed.args.push(word.clone());
            } else if !parsed.args.is_empty() {
                return Err(format!("Wrong option: {}\n", args[i..].join(" ")));
            } else {
                let Some(spec) = specs.iter().find(|s| s.is_named(word, true)) else {
                    return Err(format!("Unknown option: {word}\n"));
                };
                if !spec.supported {
                    return Err(format!("{}\n", unsupported(word)));
                }
                if parsed.flags.iter().any(|(n, _)| *n == spec.name) {
                    return Err(format!("Invalid option: option specified multiple times: {word}\n"));
                }
                let value = if spec.takes_value() {
                    i += 1;
                    match args.get(i) {
                        Some(v) => Some(v.clone()),
                        None => return Err(format!("Missing value for option {word}\n")),
                    }
                } else {
                    None
                };
                parsed.flags.push((spec.name, value));
            }
            i += 1;
        }
        Ok(parsed)
    }

    /// Whether the option `name` (its declared name) was given.
    pub fn has(&self, name: &str) -> bool {
        debug_assert!(self.specs.iter().any(|s| s.name == name), "{name} is not a declared option");
        self.flags.iter().any(|(n, _)| *n == name)
    }

    /// The value of the option `name` (its declared name), if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        debug_assert!(self.specs.iter().any(|s| s.name == name && s.takes_value()), "{name} takes no value");
        self.flags.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_deref())
    }
}

/// An unsupported option among `args`, refused before the command runs: the registry
/// calls this for every command, so that nothing is printed first.
pub fn refuse_unsupported(args: &[String], specs: &[OptionSpec]) -> Result<()> {
    for word in args {
        let name = word.split([':', '=']).next().unwrap_or(word);
        if specs.iter().any(|s| !s.supported && s.is_named(name, true)) {
            bail!("{}", unsupported(name));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
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

    const OPTIONS: &[OptionSpec] = &[
        OptionSpec::flag("-gc", "gc"),
        OptionSpec::valued("-heap", "<n>", "heap"),
        OptionSpec::valued("-segment", "<addr>", "segment"),
        OptionSpec::flag("-stat", "stat").or(&["-summary"]),
        OptionSpec::flag("-strings", "strings").unsupported(),
    ];

    #[test]
    fn splits_options() {
        let p = |s: &str| CommandArgs::parse(&words(s), OPTIONS).map_err(|e| e.to_string());
        let a = p("-gc -heap 1 1000").unwrap();
        assert!(a.flag("-gc"));
        assert_eq!(a.value("-heap"), Some("1"));
        assert_eq!(a.value("-segment"), None);
        assert_eq!(a.positional, ["1000"]);
        let a = p("-heap:1 -segment=0x10 -gc:false").unwrap();
        assert!(!a.flag("-gc"));
        assert_eq!(a.value("-heap"), Some("1"));
        assert_eq!(a.value("-segment"), Some("0x10"));
        assert!(p("-summary").unwrap().flag("-stat"));
        assert_eq!(p("-heap -1").unwrap().value("-heap"), Some("-1"));
        assert_eq!(p("-gc -heap").unwrap_err(), "Required argument missing for option: '-heap'.");
        assert_eq!(p("-heap -gc").unwrap().value("-heap"), Some("-gc"));
        assert_eq!(p("-heap 1 -heap 0").unwrap_err(), "Option '-heap' expects a single argument but 2 were provided.");
        assert_eq!(p("-gc:maybe").unwrap_err(), "Cannot parse argument 'maybe' for option '-gc' as expected type 'System.Boolean'.");
        let valid = "(valid options: -gc, -heap, -segment, -stat, -summary)";
        assert_eq!(p("-GC").unwrap_err(), format!("Unknown option: -GC {valid}"));
        assert_eq!(p("--gc").unwrap_err(), format!("Unknown option: --gc {valid}"));
        assert_eq!(p("-hea 1").unwrap_err(), format!("Unknown option: -hea {valid}"));
        assert_eq!(p("-strings").unwrap_err(), "option -strings is not supported by clrheap yet");
    }

    #[test]
    fn sos_options() {
        let p = |s: &str| SosArgs::parse(&words(s), OPTIONS, 1);
        let a = p("-GC -Heap 2 1234").unwrap();
        assert!(a.has("-gc"));
        assert_eq!(a.value("-heap"), Some("2"));
        assert_eq!(a.args, vec!["1234"]);
        assert_eq!(p("-foo 1").unwrap_err(), "Unknown option: -foo\n");
        assert_eq!(p("1 -gc").unwrap_err(), "Wrong option: -gc\n");
        assert_eq!(p("1 2").unwrap_err(), "Incorrect argument: 2\n");
        assert_eq!(p("-gc -GC 1").unwrap_err(), "Invalid option: option specified multiple times: -GC\n");
        assert_eq!(p("-heap").unwrap_err(), "Missing value for option -heap\n");
        assert_eq!(p("-STRINGS").unwrap_err(), "option -STRINGS is not supported by clrheap yet\n");
        assert!(refuse_unsupported(&words("1234 -Strings"), OPTIONS).is_err());
        assert!(refuse_unsupported(&words("-gc 1234"), OPTIONS).is_ok());
    }
}

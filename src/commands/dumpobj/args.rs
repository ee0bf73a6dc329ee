//! SOS's native argument parsing, as `dumpobj`, `dumparray` and `dumpvc` see it.
//!
//! `GetCMDOption`: options (case-insensitive, before the arguments) then at most
//! `max_args` arguments; an address is the debugger's expression evaluation of the word.

/// A parsed command line.
pub struct Parsed {
    flags: Vec<(&'static str, Option<String>)>,
    pub args: Vec<String>,
}

/// Parses `args` against `options` (name, takes a value). The error is SOS's message,
/// with its line end.
pub fn parse_options(args: &[String], options: &[(&'static str, bool)], max_args: usize) -> Result<Parsed, String> {
    let mut parsed = Parsed { flags: Vec::new(), args: Vec::new() };
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
            let Some(&(name, has_value)) = options.iter().find(|(n, _)| n.eq_ignore_ascii_case(word)) else {
                return Err(format!("Unknown option: {word}\n"));
            };
            if parsed.flags.iter().any(|(n, _)| *n == name) {
                return Err(format!("Invalid option: option specified multiple times: {word}\n"));
            }
            let value = if has_value {
                i += 1;
                match args.get(i) {
                    Some(v) => Some(v.clone()),
                    None => return Err(format!("Missing value for option {word}\n")),
                }
            } else {
                None
            };
            parsed.flags.push((name, value));
        }
        i += 1;
    }
    Ok(parsed)
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| *n == name)
    }
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_deref())
    }
}

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
    fn options_parse_like_sos() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let p = parse_options(&args("-NoFields 1234"), &[("-nofields", false)], 1).unwrap();
        assert!(p.has("-nofields"));
        assert_eq!(p.args, vec!["1234"]);
        assert_eq!(
            parse_options(&args("-foo 1"), &[("-nofields", false)], 1).err().unwrap(),
            "Unknown option: -foo\n"
        );
        assert_eq!(
            parse_options(&args("1 -nofields"), &[("-nofields", false)], 1).err().unwrap(),
            "Wrong option: -nofields\n"
        );
        assert_eq!(
            parse_options(&args("1 2"), &[("-nofields", false)], 1).err().unwrap(),
            "Incorrect argument: 2\n"
        );
        let p = parse_options(&args("-start 5 -length 0x10 7f00"), &[("-start", true), ("-length", true)], 1).unwrap();
        assert_eq!(p.value("-start").map(size_value), Some(5));
        assert_eq!(p.value("-length").map(size_value), Some(16));
    }

    #[test]
    fn addresses_parse_like_sos() {
        assert_eq!(expression("0x7f00"), 0x7f00);
        assert_eq!(expression("zz"), 0);
        assert_eq!(hex_arg("00007f00"), 0x7f00);
        assert_eq!(hex_arg("7f00zz"), 0);
    }
}

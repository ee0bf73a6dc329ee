//! The memory commands: `d` (`readmemory`), `db`, `dw`, `dd`, `dq`, `dp`, `dc`, `du`,
//! `da`. Rows of 1-, 2-, 4- or 8-byte values with their address, optionally followed by
//! the bytes or UTF-16 units as text; `da`/`du` print a zero-terminated string. Memory the
//! dump lacks prints as `?`. Each variant is `d` with other defaults, as in dotnet-dump,
//! and as there the format and the address where the last dump stopped are kept for the
//! session ([`Session::with_command_state`]): `d` reuses the last format (count, length,
//! width, text columns; a variant's own options stay), and a line without an address, or
//! with `0`, goes on where the last stopped.
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::memory::Memory;
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::fmt::Write as _;
use std::io::Write;

/// The options every memory command takes.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("--end", "<address>", "Ending address to dump.").or(&["-e"]),
    OptionSpec::valued("--count", "<n>", "Number of elements to dump.").or(&["-c"]),
    OptionSpec::valued("--length", "<n>", "Size of elements to dump (1, 2, 4 or 8; -1: a pointer).").or(&["-l"]),
    OptionSpec::valued("--width", "<n>", "Number of elements to dump per row.").or(&["-w"]),
    OptionSpec::flag("--ascii", "Print ascii dump as well.").or(&["-a"]),
    OptionSpec::flag("--unicode", "Print unicode dump as well.").or(&["-u"]),
    OptionSpec::flag("--ascii-string", "Print as ascii string as well."),
    OptionSpec::flag("--unicode-string", "Print as unicode string as well."),
    OptionSpec::flag("--hex-prefix", "Add a hex prefix (0x) to the data displayed.").or(&["-h"]),
    OptionSpec::flag("--show-address", "Display the addresses of data found (default true)."),
];

/// One variant's defaults: (ascii, unicode, ascii string, unicode string, count, length, width).
#[derive(Clone, Copy)]
struct Defaults {
    ascii: bool,
    unicode: bool,
    ascii_string: bool,
    unicode_string: bool,
    count: i64,
    length: i64,
    width: i64,
}

const fn defaults(flags: u8, count: i64, length: i64, width: i64) -> Defaults {
    Defaults {
        ascii: flags & 1 != 0,
        unicode: flags & 2 != 0,
        ascii_string: flags & 4 != 0,
        unicode_string: flags & 8 != 0,
        count,
        length,
        width,
    }
}

/// Longest string `da`/`du` read (dotnet-dump reads until a zero, however far).
const MAX_STRING: u64 = 1 << 20;

fn number(parsed: &CommandArgs, name: &str, default: i64) -> Result<i64> {
    match parsed.value(name) {
        None => Ok(default),
        Some(t) => match t.trim().parse::<i64>() {
            Ok(v) => Ok(v),
            Err(_) => bail!("Cannot parse argument '{t}' for option '{name}' as expected type 'System.Int32'."),
        },
    }
}

/// A flag that may default to true: its default unless typed (`--ascii:false` turns a
/// variant's default off).
fn flag(parsed: &CommandArgs, args: &[String], spec: &str, default: bool) -> bool {
    let names: Vec<&str> = OPTIONS.iter().filter(|o| o.name == spec).flat_map(|o| o.names()).collect();
    let typed = args.iter().any(|a| names.iter().any(|n| a == n || a.strip_prefix(n).is_some_and(|r| r.starts_with([':', '=']))));
    if typed { parsed.flag(spec) } else { default }
}

/// A character as dotnet-dump shows it: printable ASCII as is, anything else `.`,
/// unreadable memory `?`.
fn shown(c: Option<u16>) -> char {
    match c {
        None => '?',
        Some(v) if (0x20..=0x7e).contains(&v) => v as u8 as char,
        Some(_) => '.',
    }
}

fn read_char(memory: Memory, addr: u64, unicode: bool) -> Option<u16> {
    if unicode { memory.u16(addr) } else { memory.byte(addr).map(u16::from) }
}

/// What dotnet-dump's memory commands keep from one line to the next (static properties
/// there): the format, which each named variant resets to its defaults and `d` reuses,
/// and where the last dump stopped, where a line without an address (or with `0`) goes on.
#[derive(Clone, Copy)]
struct State {
    count: i64,
    length: i64,
    width: i64,
    ascii: bool,
    unicode: bool,
    ascii_string: bool,
    unicode_string: bool,
    last: u64,
}

impl Default for State {
    fn default() -> State {
        State { count: 32, length: 0, width: 0, ascii: false, unicode: false, ascii_string: false, unicode_string: false, last: 0 }
    }
}

fn dump(session: &Session, args: &[String], d: Option<Defaults>, out: &mut dyn Write) -> Result<()> {
    session.with_command_state("memory", |state: &mut State| dump_with(session, args, d, state, out))
}

fn dump_with(session: &Session, args: &[String], d: Option<Defaults>, state: &mut State, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let memory = session.heap.memory();
    if let Some(d) = d {
        state.count = d.count;
        state.length = d.length;
        state.width = d.width;
        state.ascii = d.ascii;
        state.unicode = d.unicode;
        state.ascii_string = d.ascii_string;
        state.unicode_string = d.unicode_string;
    }
    state.count = number(&parsed, "--count", state.count)?;
    state.length = number(&parsed, "--length", state.length)?;
    state.width = number(&parsed, "--width", state.width)?;
    state.ascii = flag(&parsed, args, "--ascii", state.ascii);
    state.unicode = flag(&parsed, args, "--unicode", state.unicode);
    state.ascii_string = flag(&parsed, args, "--ascii-string", state.ascii_string);
    state.unicode_string = flag(&parsed, args, "--unicode-string", state.unicode_string);
    let prefix = parsed.flag("--hex-prefix");
    let show_address = flag(&parsed, args, "--show-address", true);
    // No address, or 0 (which dotnet-dump does not take for one): where the last stopped.
    if let Some(text) = parsed.positional.first() {
        match parse_address(text) {
            Some(a) => state.last = a,
            None if text.strip_prefix("0x").unwrap_or(text).trim_start_matches('0').is_empty() => {}
            None => bail!("Invalid address: {text}"),
        }
    }
    let mut address = state.last;
    let mut length = state.length;
    if length < 0 {
        length = memory.pointer_size() as i64;
    }
    if !matches!(length, 1 | 2 | 4 | 8) {
        length = 4;
    }
    state.length = length;
    if let Some(t) = parsed.value("--end") {
        let Some(end) = parse_address(t) else {
            bail!("Invalid address: {t}");
        };
        if end <= address {
            bail!("Cannot dump a negative range");
        }
        state.count = i64::try_from((end - address) as i32).unwrap_or(0) / length;
    }
    let (ascii, unicode) = (state.ascii, state.unicode);

    if state.ascii_string || state.unicode_string {
        let unicode_string = state.unicode_string;
        let mut s = String::new();
        let step = if unicode_string { 2 } else { 1 };
        for _ in 0..MAX_STRING {
            let c = read_char(memory, address, unicode_string);
            address = address.wrapping_add(step);
            if c == Some(0) {
                break;
            }
            s.push(shown(c));
            if c.is_none() {
                break;
            }
        }
        state.last = address;
        writeln!(out, "Text: '{s}'")?;
        return Ok(());
    }
    let count = if state.count > 0 { state.count } else { 32 };
    state.count = count;
    let width = if state.width > 0 { state.width } else { 32 / length };
    state.width = width;
    let mut remaining = count.saturating_mul(length);
    let mut row = String::new();
    let mut buf = [0u8; 8];
    while remaining > 0 {
        crate::interrupt::check()?;
        row.clear();
        if show_address {
            let _ = write!(row, "{address:016x}:");
        }
        for column in 0..width {
            let offset = column * length;
            row.push(' ');
            if offset < remaining {
                let data = &mut buf[..length as usize];
                if memory.read(address.wrapping_add(offset as u64), data) {
                    if prefix {
                        row.push_str("0x");
                    }
                    let _ = match length {
                        1 => write!(row, "{:02x}", data[0]),
                        2 => write!(row, "{:04x}", u16::from_le_bytes([data[0], data[1]])),
                        4 => write!(row, "{:08x}", u32::from_le_bytes(data[..4].try_into().expect("4"))),
                        _ => write!(row, "{:016x}", u64::from_le_bytes(data[..8].try_into().expect("8"))),
                    };
                } else {
                    if prefix {
                        row.push_str("  ");
                    }
                    row.extend(std::iter::repeat_n('?', length as usize * 2));
                }
            } else {
                if prefix {
                    row.push_str("  ");
                }
                row.extend(std::iter::repeat_n(' ', length as usize * 2));
            }
        }
        if ascii || unicode {
            row.push_str("  ");
            for column in 0..width {
                let offset = column * length;
                if offset < remaining {
                    row.push(shown(read_char(memory, address.wrapping_add(offset as u64), unicode)));
                }
            }
        }
        address = address.wrapping_add((width * length) as u64);
        remaining -= width * length;
        state.last = address;
        writeln!(out, "{row}")?;
    }
    Ok(())
}

pub fn run_d(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, None, out)
}
pub fn run_db(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, Some(defaults(1, 128, 1, 16)), out)
}
pub fn run_dc(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, Some(defaults(2, 64, 2, 8)), out)
}
pub fn run_da(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, Some(defaults(4, 128, 1, 0)), out)
}
pub fn run_du(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, Some(defaults(8, 128, 2, 0)), out)
}
pub fn run_dw(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, Some(defaults(0, 128, 2, 0)), out)
}
pub fn run_dd(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, Some(defaults(0, 64, 4, 0)), out)
}
pub fn run_dp(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, Some(defaults(0, 32, -1, 0)), out)
}
pub fn run_dq(session: &Session, args: &[String], _f: Format, out: &mut dyn Write) -> Result<()> {
    dump(session, args, Some(defaults(0, 32, 8, 0)), out)
}

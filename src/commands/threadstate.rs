//! `threadstate <value>`: the names of the bits of a `Thread.m_State` value, one a line,
//! as SOS prints them (`    Background`). The value is hexadecimal, as `clrthreads`
//! prints it (`0x` optional); a value with no known bit prints `    No thread states for
//! '<value>'`.
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::json;
use std::io::Write;
use crate::args::OptionSpec;

/// threadstate's options.
pub const OPTIONS: &[OptionSpec] = &[];

/// SOS's names of the thread state bits, lowest bit first.
const STATES: [(u32, &str); 32] = [
    (0x1, "Thread Abort Requested"),
    (0x2, "GC Suspend Pending"),
    (0x4, "User Suspend Pending"),
    (0x8, "Debug Suspend Pending"),
    (0x10, "GC On Transitions"),
    (0x20, "Legal to Join"),
    (0x40, "Yield Requested"),
    (0x80, "Hijacked by the GC"),
    (0x100, "Blocking GC for Stack Overflow"),
    (0x200, "Background"),
    (0x400, "Unstarted"),
    (0x800, "Dead"),
    (0x1000, "CLR Owns"),
    (0x2000, "CoInitialized"),
    (0x4000, "In Single Threaded Apartment"),
    (0x8000, "In Multi Threaded Apartment"),
    (0x10000, "Reported Dead"),
    (0x20000, "Fully initialized"),
    (0x40000, "Task Reset"),
    (0x80000, "Sync Suspended"),
    (0x100000, "Debug Will Sync"),
    (0x200000, "Stack Crawl Needed"),
    (0x400000, "Suspend Unstarted"),
    (0x800000, "Aborted"),
    (0x1000000, "Thread Pool Worker Thread"),
    (0x2000000, "Interruptible"),
    (0x4000000, "Interrupted"),
    (0x8000000, "Completion Port Thread"),
    (0x10000000, "Abort Initiated"),
    (0x20000000, "Finalized"),
    (0x40000000, "Failed to Start"),
    (0x80000000, "Detached"),
];

/// The names of the bits set in `state`, lowest first.
pub fn state_names(state: u64) -> Vec<&'static str> {
    STATES.iter().filter(|(bit, _)| state & *bit as u64 != 0).map(|(_, n)| *n).collect()
}

pub fn run(_session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    if let Some(word) = args.iter().find(|a| a.starts_with('-')) {
        bail!("Unknown option: {word}");
    }
    let text = args.join(" ");
    let word = text.trim();
    let digits = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")).unwrap_or(word);
    let state = if word.is_empty() {
        0
    } else {
        match u64::from_str_radix(digits, 16) {
            Ok(v) => v,
            Err(_) => bail!("Invalid thread state '{word}': a hexadecimal number is expected"),
        }
    };
    let names = state_names(state);
    if format != Format::Text {
        return write_json(out, &json!({ "state": state, "names": names }));
    }
    if names.is_empty() {
        writeln!(out, "    No thread states for '{text}'")?;
    }
    for n in names {
        writeln!(out, "    {n}")?;
    }
    Ok(())
}

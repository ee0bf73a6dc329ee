//! `threads` (`setthread`): the dump's OS threads, or the choice of the current thread.
//!
//! ```text
//! *0 0x6CFF (27903)
//!  1 0x6D03 (27907)
//! ```
//!
//! One line per thread of the dump (its `NT_PRSTATUS` notes, in order): the current one
//! starred, its index, its OS id in hex (at least 4 digits) and decimal. With an index
//! (`setthread 17`), or an OS id with `-tid` (`setthread -tid 0x6d7f`), that thread
//! becomes the current thread of the commands that follow (`clrstack`, `registers`, `dso`,
//! `pe`). `-v` adds each thread's IP, SP, FP and TEB (always 0 on Linux).
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;
use crate::args::{CommandArgs, OptionSpec};

/// threads's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-tid", "<thread> is an OS thread id.").or(&["--tid", "-t"]),
    OptionSpec::flag("-v", "IP, SP, FP and TEB of each thread.").or(&["--verbose"]),
];

/// A thread number as dotnet-dump's parser reads it: decimal, or hex with `0x`.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => text.parse().ok(),
    }
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    let (by_tid, verbose) = (p.flag("-tid"), p.flag("-v"));
    let value = match p.positional.as_slice() {
        [] => None,
        [w] => Some(parse_number(w).ok_or_else(|| anyhow::anyhow!("Cannot parse argument '{w}' for command 'threads'"))?),
        [_, w, ..] => bail!("Unrecognized command or argument '{w}'"),
    };
    let threads = session.heap.runtime.os_threads();
    if let Some(v) = value {
        let index = if by_tid {
            match threads.iter().position(|t| t.tid as u64 == v) {
                Some(i) => i,
                None => bail!("Invalid thread id: 0x{v:x}"),
            }
        } else {
            match usize::try_from(v).ok().filter(|&i| i < threads.len()) {
                Some(i) => i,
                None => bail!("Invalid thread index: {v}"),
            }
        };
        session.set_current_thread(index);
        return Ok(());
    }
    let current = session.current_thread();
    if format != Format::Text {
        let records: Vec<Value> = threads
            .iter()
            .enumerate()
            .map(|(i, t)| {
                json!({
                    "index": i,
                    "os_thread_id": t.tid,
                    "current": i == current,
                    "ip": hex(t.ip()),
                    "sp": hex(t.sp()),
                    "fp": hex(t.fp()),
                })
            })
            .collect();
        return match format {
            Format::Csv => write_csv_records(out, &["index", "os_thread_id", "current", "ip", "sp", "fp"], &records),
            _ => write_json(out, &json!({ "threads": records })),
        };
    }
    for (i, t) in threads.iter().enumerate() {
        let star = if i == current { "*" } else { " " };
        writeln!(out, "{star}{i} 0x{:04X} ({})", t.tid, t.tid)?;
        if verbose {
            writeln!(out, "    IP  0x{:016X}", t.ip())?;
            writeln!(out, "    SP  0x{:016X}", t.sp())?;
            writeln!(out, "    FP  0x{:016X}", t.fp())?;
            writeln!(out, "    TEB 0x{:016X}", 0)?;
        }
    }
    Ok(())
}

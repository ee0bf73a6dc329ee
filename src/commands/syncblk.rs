//! `syncblk [-all | <index>]`: the sync block table, as dotnet-dump (SOS's native
//! `SyncBlk`) prints it on Linux.
//!
//! ```text
//! Index         SyncBlock MonitorHeld Recursion Owning Thread Info          SyncBlock Owner
//!     1 00007F5FBC001CD8            1         1 000055C4A1AE5970 660   8   00007f6060c020f8 DocProc.Zoo.LockTarget
//! -----------------------------
//! Total           4
//! Free            0
//! ```
//!
//! By default only sync blocks whose monitor is held (MonitorHeld > 0: 1 when held, plus 2
//! per thread waiting to enter); `-all` lists every entry; an index lists that entry only.
//! The owner is the `Thread*`, its OS id in hex and the debugger's number for that thread
//! (its position among the dump's threads). "Total" counts the table's entries in use,
//! "Free" the recycled ones among those listed (all of them unless an index is given).
//! No CCW/RCW/ComClassFactory lines: Linux runtimes have no COM interop.
//!
//! Arguments as SOS parses them ([`SosArgs`]): options are case-insensitive (`Unknown
//! option: -x` otherwise); the index is read as a decimal prefix (`0x2` is 0, that is no
//! index); a second value is refused (`Incorrect argument: 4`).
use crate::args::{option_list, OptionSpec, SosArgs};
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use serde_json::json;
use crate::heap::ObjectAddr;
use crate::runtime::syncblocks::{sync_block, sync_block_count};
use anyhow::{bail, Result};
use std::io::Write;

/// This many unreadable entries in a row means the table's size is damaged: stop there
/// rather than report (up to 2^26) invalid entries one by one.
const MAX_INVALID_RUN: u32 = 4096;

/// Counts unreadable sync block entries in a row; a run of [`MAX_INVALID_RUN`] means the
/// table itself is damaged, and the command stops instead of printing millions of lines.
#[derive(Default)]
struct InvalidRun(u32);

impl Options {
    /// The table entries to look at: the one asked for, or all `count` of them.
    fn entries(&self, count: u32) -> std::ops::RangeInclusive<u32> {
        let (first, last) = match u32::try_from(self.index) {
            Ok(0) => (1, count),
            Ok(i) if i <= count => (i, i),
            _ => (1, 0), // an index past the table: nothing
        };
        first..=last
    }
}

impl InvalidRun {
    fn valid(&mut self) {
        self.0 = 0;
    }

    fn invalid(&mut self, nb: u32) -> Result<()> {
        self.0 += 1;
        if self.0 >= MAX_INVALID_RUN {
            bail!("the sync block table is unreadable from entry {} on", nb + 1 - self.0);
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Options {
    all: bool,
    index: u64,
}

/// The decimal number at the start of `s` (0 when there is none), as `strtoul` reads it.
fn decimal_prefix(s: &str) -> u64 {
    s.bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |n, d| n.saturating_mul(10).saturating_add((d - b'0') as u64))
}

/// syncblk's options (SOS's native parser: case-insensitive).
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-all", "Every SyncBlock, not only those holding a lock.")];

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let parsed = SosArgs::parse(args, OPTIONS, 1)
            .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
        Ok(Options { all: parsed.has("-all"), index: parsed.args.first().map_or(0, |a| decimal_prefix(a)) })
    }
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let o = Options::parse(args)?;
    if format != Format::Text {
        return run_records(session, &o, format, out);
    }
    let heap = &session.heap;
    let rt = &heap.runtime;
    let count = sync_block_count(rt)?;
    writeln!(out, "Index         SyncBlock MonitorHeld Recursion Owning Thread Info          SyncBlock Owner")?;
    let mut free = 0u32;
    let mut invalid_run = InvalidRun::default();
    for nb in o.entries(count) {
        crate::interrupt::check()?;
        let asked = nb as u64 == o.index;
        let e = match sync_block(rt, &heap.threads, nb) {
            Ok(e) => {
                invalid_run.valid();
                e
            }
            Err(_) => {
                writeln!(out, "SyncBlock {nb} is invalid{}", if asked { "" } else { ", continuing..." })?;
                invalid_run.invalid(nb)?;
                continue;
            }
        };
        let print = o.all || asked || (e.monitor_held > 0 && !e.free);
        let mut line = String::new();
        if print {
            line.push_str(&format!("{nb:5} "));
            if !e.free || !asked {
                line.push_str(&format!(
                    "{:016X}  {:11} {:9} {:016X} ",
                    e.sync_block, e.monitor_held as i32, e.recursion as i32, e.holding_thread
                ));
                if e.holding_thread == u64::MAX {
                    line.push_str(" orphaned ");
                } else if e.holding_thread != 0 {
                    let Some(os_id) = thread_os_id(session, e.holding_thread) else {
                        writeln!(out, "{line}Failed to request Thread at {:016X}", e.holding_thread)?;
                        return Ok(());
                    };
                    line.push_str(&format!("{os_id:x}"));
                    match heap.runtime.debugger_thread_index(os_id) {
                        Some(id) => line.push_str(&format!("{id:4} ")),
                        None => line.push_str(" XXX "),
                    }
                } else {
                    line.push_str("    none  ");
                }
                if e.free {
                    line.push_str(&format!("  {:8}", 0));
                } else {
                    line.push_str(&format!("  {:016x} {}", e.object, object_type_name(session, e.object)));
                }
            }
        }
        if e.free {
            free += 1;
            if print {
                line.push_str(" Free");
            }
        }
        if print {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out, "-----------------------------")?;
    writeln!(out, "Total           {count}")?;
    writeln!(out, "Free            {free}")?;
    Ok(())
}

/// JSON `{"sync_blocks": [{"index", "sync_block", "monitor_held", "recursion",
/// "owning_thread", "owning_os_thread_id", "object", "type", "free"}], "total", "free"}`
/// (the blocks the text would list), or those rows as CSV.
fn run_records(session: &Session, o: &Options, format: Format, out: &mut dyn Write) -> Result<()> {
    let heap = &session.heap;
    let count = sync_block_count(&heap.runtime)?;
    let mut records = Vec::new();
    let mut free = 0u32;
    let mut invalid_run = InvalidRun::default();
    for nb in o.entries(count) {
        crate::interrupt::check()?;
        let Ok(e) = sync_block(&heap.runtime, &heap.threads, nb) else {
            invalid_run.invalid(nb)?;
            continue;
        };
        invalid_run.valid();
        free += e.free as u32;
        if !(o.all || nb as u64 == o.index || (e.monitor_held > 0 && !e.free)) {
            continue;
        }
        let owner = (e.holding_thread != 0 && e.holding_thread != u64::MAX).then_some(e.holding_thread);
        records.push(json!({
            "index": nb,
            "sync_block": hex(e.sync_block),
            "monitor_held": e.monitor_held,
            "recursion": e.recursion,
            "owning_thread": owner.map(hex),
            "owning_os_thread_id": owner.and_then(|t| thread_os_id(session, t)),
            "object": (!e.free).then(|| hex(e.object)),
            "type": (!e.free).then(|| object_type_name(session, e.object)),
            "free": e.free,
        }));
    }
    if format == Format::Csv {
        let columns = [
            "index", "sync_block", "monitor_held", "recursion", "owning_thread", "owning_os_thread_id", "object", "type", "free",
        ];
        return write_csv_records(out, &columns, &records);
    }
    write_json(out, &json!({ "sync_blocks": records, "total": count, "free": free }))
}

/// The OS id of a `Thread*`: from the thread store, else from the Thread itself.
fn thread_os_id(session: &Session, thread: u64) -> Option<u32> {
    let heap = &session.heap;
    heap.runtime.thread_os_id(&heap.threads, thread)
}

/// The type name SOS prints for an object (from its MethodTable).
fn object_type_name(session: &Session, object: u64) -> String {
    let heap = &session.heap;
    match heap.method_table_of(ObjectAddr(object)) {
        Ok(mt) if mt != 0 => heap.type_name(mt).to_string(),
        _ => "<unknown type>".to_string(),
    }
}

//! `dumpstackobjects` (`dso`) `[<top> <bottom>]`: the objects the current thread's stack
//! (and registers) point at, as dotnet-dump lists them.
//!
//! ```text
//! OS Thread Id: 0x6d7f (17)
//!           SP/REG           Object Name
//!              rax     7efc7d074e30 DocProc.Ops.Order[]
//!     7efc2f7f9ce8     7efc7d072118 System.Object
//! ```
//!
//! Every 8-byte word of the thread's stack (from the stack pointer to 8 KiB above its
//! outermost managed frame, see [`stack_range`], or the range given), and every register,
//! whose value is the address of an object on the
//! GC heap (free blocks included: dotnet-dump walks the segment and matches object
//! starts). Registers first, by their index in `registers`, then stack slots by address;
//! stale slots count as much as live ones (for the precise roots see `gcroot`).
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::runtime::threads::sos_registers;
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;
use crate::args::{CommandArgs, OptionSpec};

/// dumpstackobjects's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-verify", "Only objects whose fields check out.").unsupported()];

/// How far above the stack pointer dotnet-dump looks when it has no stack base (Linux).
const STACK_SCAN: u64 = 0xffff;

/// Frames this far apart are on different stacks (an alternate signal stack).
const GAP: u64 = 0x40_0000;
/// How far above the outermost frame dotnet-dump looks.
const ABOVE_FRAMES: u64 = 0x2000;

fn align_down(a: u64) -> u64 {
    a & !7
}

fn align_up(a: u64) -> u64 {
    if a > u64::MAX - 8 { align_down(a) } else { (a + 7) & !7 }
}

/// The range dotnet-dump scans on Linux (where there is no TEB to give the stack base):
/// from the stack pointer (or the lowest frame, if lower) to 8 KiB above the highest frame
/// of the thread's managed stack walk; with frames in two regions more than 4 MiB apart (a
/// signal handler on an alternate stack), the region holding the stack pointer and, as the
/// second range, the other. Without frames: 64 KiB above the stack pointer.
fn stack_range(session: &Session, thread: &crate::dump::ThreadRegisters) -> ((u64, u64), Option<(u64, u64)>) {
    let sp = thread.sp();
    let fallback = ((align_down(sp), align_up(sp.saturating_add(STACK_SCAN))), None);
    let heap = &session.heap;
    let Some(managed) = heap.threads.iter().find(|t| t.os_id == thread.tid) else { return fallback };
    let Ok(walk) = crate::runtime::stack::StackWalk::new(&heap.runtime) else { return fallback };
    let Ok(stack) = walk.thread(managed) else { return fallback };
    let mut sps: Vec<u64> = stack.frames.iter().map(|f| f.sp).filter(|&s| s != 0).collect();
    if sps.is_empty() {
        return fallback;
    }
    sps.sort_unstable();
    let (mut largest, mut at) = (0, 0);
    for i in 1..sps.len() {
        let gap = sps[i] - sps[i - 1];
        if gap > largest {
            largest = gap;
            at = i;
        }
    }
    if largest > GAP && at > 0 {
        let (lower_min, lower_max, upper_min, upper_max) = (sps[0], sps[at - 1], sps[at], sps[sps.len() - 1]);
        let lower = (align_down(lower_min), align_up(lower_max.saturating_add(ABOVE_FRAMES)));
        let upper = (align_down(upper_min), align_up(upper_max.saturating_add(ABOVE_FRAMES)));
        if sp >= lower_min.max(GAP) - GAP && sp <= lower_max.saturating_add(ABOVE_FRAMES) {
            return ((align_down(sp.min(lower_min)), lower.1), Some(upper));
        }
        if sp >= upper_min.max(GAP) - GAP && sp <= upper_max.saturating_add(ABOVE_FRAMES) {
            return ((align_down(sp.min(upper_min)), upper.1), Some(lower));
        }
        let other = if upper_max - upper_min >= lower_max - lower_min { upper } else { lower };
        return ((align_down(sp), align_up(sp.saturating_add(STACK_SCAN))), Some(other));
    }
    let (min, max) = (sps[0], sps[sps.len() - 1]);
    let frames_end = max.saturating_add(ABOVE_FRAMES);
    if sp > frames_end || (sp < min && min - sp > GAP) {
        return ((align_down(sp), align_up(sp.saturating_add(STACK_SCAN))), Some((align_down(min), align_up(frames_end))));
    }
    ((align_down(sp.min(min)), align_up(frames_end)), None)
}

fn parse_address(text: &str) -> Option<u64> {
    let t = text.trim_start_matches("0x").trim_start_matches("0X");
    u64::from_str_radix(t, 16).ok().filter(|&v| v != 0)
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    let bounds: Vec<&String> = p.positional.iter().collect();
    let Some(thread) = session.current_os_thread() else { bail!("No current thread") };
    let heap = &session.heap;
    let mut also: Option<(u64, u64)> = None;
    let (start, end) = match bounds.as_slice() {
        [] => {
            let (range, additional) = stack_range(session, thread);
            also = additional;
            range
        }
        [a, b] => {
            let a = parse_address(a).ok_or_else(|| anyhow::anyhow!("Failed to parse start address '{a}'."))?;
            let b = parse_address(b).ok_or_else(|| anyhow::anyhow!("Failed to parse end address '{b}'."))?;
            let (a, b) = if a > b { (b, a) } else { (a, b) };
            (a & !7, (b.saturating_add(7)) & !7)
        }
        _ => bail!("Invalid arguments."),
    };
    if heap.segments.is_empty() {
        bail!("Cannot walk heap.");
    }
    let graph = session.graph()?;
    let is_object = |v: u64| heap.in_object_range(v) && graph.id_of(v).is_some();
    // (sort key, register name or slot address, object)
    let mut rows: Vec<(u64, Option<&'static str>, u64)> = Vec::new();
    if let Some((lo, hi)) = heap.object_bounds()
        && thread.arch == crate::dump::Architecture::X86_64
    {
        for (i, (name, _, v)) in sos_registers(thread).into_iter().enumerate() {
            if lo <= v && v < hi && is_object(v) {
                rows.push((i as u64, Some(name), v));
            }
        }
    }
    let mut words = heap.stack_words_in_heap(start, end);
    if let Some((a, b)) = also {
        words.extend(heap.stack_words_in_heap(a, b));
    }
    for (slot, v) in words {
        if is_object(v) && !rows.iter().any(|r| r.1.is_none() && r.0 == slot) {
            rows.push((slot, None, v));
        }
    }
    rows.sort_by_key(|r| r.0);
    let name_of = |v: u64| -> String {
        match graph.id_of(v) {
            Some(id) if graph.is_free(id) => "Free".to_string(),
            Some(id) => heap.type_name(graph.type_of(id).mt).to_string(),
            None => String::new(),
        }
    };
    if format != Format::Text {
        let records: Vec<Value> = rows
            .iter()
            .map(|(slot, reg, obj)| {
                json!({
                    "register": reg,
                    "slot": if reg.is_some() { Value::Null } else { hex(*slot) },
                    "object": hex(*obj),
                    "type": name_of(*obj),
                })
            })
            .collect();
        return match format {
            Format::Csv => write_csv_records(out, &["register", "slot", "object", "type"], &records),
            _ => write_json(out, &json!({ "os_thread_id": thread.tid, "objects": records })),
        };
    }
    writeln!(out, "OS Thread Id: 0x{:x} ({})", thread.tid, session.current_thread())?;
    if let Some((a, b)) = also {
        writeln!(out, "Note: Thread appears to be on alternate signal stack. Also scanning normal thread stack {a:x}-{b:x}.")?;
    }
    writeln!(out, "          SP/REG           Object Name")?;
    for (slot, reg, obj) in &rows {
        let first = match reg {
            Some(r) => r.to_string(),
            None => format!("{slot:x}"),
        };
        writeln!(out, "{first:>16} {:>16} {}", format!("{obj:x}"), name_of(*obj))?;
    }
    Ok(())
}

//! `finalizequeue` (`fq`): the objects registered for finalization, as dotnet-dump
//! prints them: the sync block and RCW cleanup summary, each heap's queue ranges, then
//! every finalizable object (the whole queue, `[fp0, fp6)`, heap by heap) as a listing
//! and statistics.
//!
//! Per heap, the `CFinalize` fill pointers split the queue (gc-layouts.md §8,
//! [`crate::heap::FinalizeQueue`]): dotnet-dump prints "generation 0" as `[fp2, fp3)`,
//! "generation 1" as `[fp1, fp2)`, "generation 2" as `[fp0, fp1)` and "Ready for
//! finalization" as `[fp4, fp6)`.
//!
//! The cleanup summary: dotnet-dump lists the runtime's sync blocks awaiting cleanup
//! through the DAC, which on every dump seen reports a single all-zero entry (an empty
//! list: the DAC answers the first request with zeros), and Linux has no RCWs. clrheap
//! prints that summary as such.
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::render::format::thousands;
use crate::render::objects::{print_objects, write_object_records, ListStyle};
use crate::render::output::{hex, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::{json, Map, Value};
use std::io::Write;

/// finalizequeue's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-detail", "Details about SyncBlocks and RuntimeCallableWrappers to clean up."),
    OptionSpec::flag("-allReady", "Only objects ready for finalization.").or(&["-allready"]),
    OptionSpec::flag("-short", "Only the addresses."),
    OptionSpec::valued("-mt", "<mt>", "Only objects with this MethodTable."),
    OptionSpec::flag("-stat", "Only the statistics.").or(&["-summary"]),
];

/// `finalizequeue`. JSON: the object records of [`write_object_records`], whose summary
/// line adds `"heaps": [{"heap", "generations": [{"generation", "count", "begin", "end"}],
/// "ready_for_finalization": {"count", "begin", "end"}}]` and `"all_ready"`.
pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let style = ListStyle { short: a.flag("-short"), stat: a.flag("-stat") };
    let all_ready = a.flag("-allReady");
    let mt_filter = match a.value("-mt") {
        Some(text) => Some(parse_address(text).ok_or_else(|| anyhow::anyhow!("Could not parse MethodTable: '{text}'"))?),
        None => None,
    };
    if style.short && style.stat {
        bail!("Cannot specify both -short and -stat.");
    }
    let heap = &session.heap;
    let graph = session.graph()?;
    let liveness = if all_ready { Some(session.liveness()?) } else { None };
    let liveness = liveness.as_deref();
    let queues = heap.finalize_queues()?;

    if !style.short && format == Format::Text {
        writeln!(out, "{:>16} {:>16} {:>16} {:>16}", "SyncBlock", "RCW", "CCW", "ComClassFactory")?;
        writeln!(out, "{:>16} {:>16} {:>16} {:>16}", "000000000000", "000000000000", "000000000000", "000000000000")?;
        writeln!(out, "SyncBlocks to be cleaned up: 1")?;
        writeln!(out, "Free-Threaded Interfaces to be released: 0")?;
        writeln!(out, "MTA Interfaces to be released: 0")?;
        writeln!(out, "STA Interfaces to be released: 0")?;
        writeln!(out, "----------------------------------")?;
        writeln!(out)?;
        for q in &queues {
            writeln!(out, "Heap {}", q.heap)?;
            for g in 0..3 {
                let (a, b) = q.generation(g);
                writeln!(out, "generation {g} has {} objects ({a:x}->{b:x})", thousands((b - a) / 8))?;
            }
            let (a, b) = q.ready();
            writeln!(
                out,
                "Ready for finalization {} objects ({a:x}->{b:x})",
                thousands(b.saturating_sub(a) / 8)
            )?;
            writeln!(out, "------------------------------")?;
        }
        if all_ready {
            writeln!(out, "Statistics for all finalizable objects that are no longer rooted:")?;
        } else {
            writeln!(out, "Statistics for all finalizable objects (including all objects ready for finalization):")?;
        }
    }

    let mut objects = Vec::new();
    for q in &queues {
        for (slot, obj) in heap.finalize_queue_entries(q)? {
            let Some(id) = graph.id_of(obj).filter(|&id| !graph.is_free(id)) else {
                continue;
            };
            if mt_filter.is_some_and(|m| m != graph.mt(id)) {
                continue;
            }
            if let Some(live) = liveness
                && !q.is_ready_slot(slot)
                && live.is_live(obj)
            {
                continue;
            }
            objects.push((obj, graph.mt(id), graph.size(id)));
        }
    }
    if format == Format::Text {
        return print_objects(heap, &objects, style, out);
    }
    let range = |(begin, end): (u64, u64)| json!({ "count": end.saturating_sub(begin) / 8, "begin": hex(begin), "end": hex(end) });
    let heaps: Vec<Value> = queues
        .iter()
        .map(|q| {
            let generations: Vec<Value> = (0..3)
                .map(|g| {
                    let mut v = range(q.generation(g));
                    v["generation"] = json!(g);
                    v
                })
                .collect();
            json!({ "heap": q.heap, "generations": generations, "ready_for_finalization": range(q.ready()) })
        })
        .collect();
    let mut summary = Map::new();
    summary.insert("heaps".into(), Value::Array(heaps));
    summary.insert("all_ready".into(), json!(all_ready));
    write_object_records(heap, &objects, style, format, summary, out)
}

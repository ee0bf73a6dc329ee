//! `notreachableinrange [-short] [-nofinalizer] <start> <end>`: the pointers stored in
//! `[start, end)` (a finalizer queue's range, typically) whose objects no root keeps
//! alive, listed as `dumpheap` lists objects, as dotnet-dump prints them.
//!
//! What dotnet-dump does, kept here: `start` is rounded down to a pointer; each pointer
//! read that is not a valid object gets a `Warning: X is not a valid object` line (null
//! included) and, being unreachable, a row with the address only, counted in the
//! statistics under the word at that address (`<unknown_type_MT>`, 0 bytes) (a null
//! pointer counts as reachable where dotnet-dump's live set happens to hold 0: see
//! `is_null_live`); a pointer
//! that cannot be read ends the command with an error after the rows printed so far.
//! `-nofinalizer` judges reachability without the finalizer queue's roots.
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::graph::live::Liveness;
use crate::heap::ObjectAddr;
use crate::render::format::thousands;
use crate::render::stats::{render_stats, StatRow};
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::io::Write;

/// notreachableinrange's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-short", "Only the addresses of the unreachable objects."),
    OptionSpec::flag("-nofinalizer", "Reachability without the finalizer queue's roots."),
];

/// How often the walk over the range looks for Ctrl-C.
const POLL_EVERY: u64 = 4096;

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.get(2) {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let word = |i: usize| a.positional.get(i).map(String::as_str).unwrap_or("");
    let Some(start) = parse_address(word(0)) else {
        bail!("Could not parse start address: {}", word(0));
    };
    let Some(end) = parse_address(word(1)) else {
        bail!("Could not parse end address: {}", word(1));
    };
    let short = a.flag("-short");
    let heap = &session.heap;
    let memory = heap.memory();
    let step = memory.pointer_size() as u64;
    let mut liveness: Option<std::sync::Arc<Liveness>> = None;
    let live = |addr: u64, liveness: &mut Option<std::sync::Arc<Liveness>>| -> Result<bool> {
        if liveness.is_none() {
            *liveness = Some(if a.flag("-nofinalizer") {
                let graph = session.graph()?;
                let roots = session.roots()?;
                std::sync::Arc::new(Liveness::compute_without_finalizer(heap, graph, &roots)?)
            } else {
                session.liveness()?
            });
        }
        Ok(liveness.as_ref().is_some_and(|l| l.is_live(addr)))
    };

    // Null: dotnet-dump's live set holds 0 when a dependent handle with no secondary has a
    // primary its own roots reach (handles, the finalizer queue unless -nofinalizer,
    // stacks; not the thread-static arrays it does not know): it then counts null
    // pointers as reachable. Decided once, when the first null is met.
    let mut null_live: Option<bool> = None;
    let mut is_null_live = || -> Result<bool> {
        if let Some(v) = null_live {
            return Ok(v);
        }
        let roots = session.roots()?;
        let primaries: Vec<u64> = roots.dependent_pairs.iter().filter(|d| d.1 == 0).map(|d| d.0).collect();
        let v = !primaries.is_empty() && {
            let finalizer: &[crate::heap::Root] = if a.flag("-nofinalizer") { &[] } else { &roots.finalizer };
            let sos_roots: Vec<crate::heap::Root> = roots
                .handles
                .iter()
                .chain(finalizer)
                .copied()
                .chain(roots.stack.iter().map(|e| e.root))
                .collect();
            let sos = Liveness::compute_from(heap, session.graph()?, &sos_roots, &roots.dependent_pairs)?;
            primaries.iter().any(|&p| sos.is_live(p))
        };
        null_live = Some(v);
        Ok(v)
    };

    let mut header = false;
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut rows: Vec<StatRow> = Vec::new();
    let mut curr = start & !(step - 1);
    let mut steps = 0u64;
    while curr < end {
        steps += 1;
        if steps % POLL_EVERY == 0 {
            crate::interrupt::check()?;
        }
        let Some(value) = memory.pointer(curr) else {
            bail!("Could not read pointer {curr:x}");
        };
        let object = heap.object(ObjectAddr(value));
        if object.is_none() {
            writeln!(out, "Warning: {value:x} is not a valid object")?;
        }
        let reachable = if value == 0 { is_null_live()? } else { live(value, &mut liveness)? };
        if !reachable {
            // (MethodTable for the statistics, size, type name; None for an invalid object)
            let (mt, size, name) = match &object {
                Some(o) => (o.mt(), Some(o.size().unwrap_or(0)), None),
                None => {
                    let mt = memory.pointer(value).unwrap_or(0);
                    (mt, None, Some(format!("<unknown_type_{mt:x}>")))
                }
            };
            if short {
                writeln!(out, "{value:012x}")?;
            } else {
                if !header {
                    writeln!(out, "{:>16} {:>16} {:>14}", "Address", "MT", "Size")?;
                    header = true;
                }
                let free = object.as_ref().is_some_and(|o| o.is_free());
                let (mt_cell, size_cell) = match size {
                    Some(size) => (format!("{mt:012x}"), thousands(size)),
                    None => (String::new(), String::new()),
                };
                writeln!(
                    out,
                    "{:>16} {:>16} {:>14} {}",
                    format!("{value:012x}"),
                    mt_cell,
                    size_cell,
                    if free { "Free" } else { "" }
                )?;
                let i = *index.entry(mt).or_insert_with(|| {
                    rows.push(StatRow {
                        mt,
                        count: 0,
                        size: 0,
                        name: name.unwrap_or_else(|| heap.type_name(mt).to_string()),
                    });
                    rows.len() - 1
                });
                rows[i].count += 1;
                rows[i].size += size.unwrap_or(0);
            }
        }
        let Some(next) = curr.checked_add(step) else { break };
        curr = next;
    }
    if !rows.is_empty() {
        writeln!(out)?;
        render_stats(rows, false, out)?;
    }
    Ok(())
}

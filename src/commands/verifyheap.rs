//! `verifyheap` and `verifyobj`: the heap's consistency checks (`heap::verify`), printed
//! as dotnet-dump prints them.
use crate::args::{parse_address, parse_range, CommandArgs, OptionSpec};
use crate::render::format::thousands;
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// verifyheap's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("-heap", "<n>", "Only this GC heap (server GC)."),
    OptionSpec::valued("-segment", "<addr>", "Only the segment at this address."),
];

/// verifyobj has no options.
pub const VERIFYOBJ_OPTIONS: &[OptionSpec] = &[];

/// A left-aligned cell of `width` (longer text is cut to `width - 3` characters and `...`).
fn left(text: &str, width: usize) -> String {
    if text.len() > width {
        format!("{}...", &text[..width.saturating_sub(3)])
    } else {
        format!("{text:<width$}")
    }
}

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    let heap_index = match parsed.value("-heap") {
        None => None,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(-1) => None,
            Ok(i) if i >= 0 && (i as usize) < heap.heaps.len() => Some(i as usize),
            Ok(i) => bail!("No GC heap with index of {i}"),
            Err(_) => bail!("Cannot parse argument '{text}' for option '-heap' as expected type 'System.Int32'."),
        },
    };
    let segment = match parsed.value("-segment") {
        None => None,
        Some(text) => match parse_address(text) {
            Some(a) => Some(a),
            None => bail!("Failed to parse segment '{text}'."),
        },
    };
    let range = parse_range(&parsed.positional, "verifyheap")?.map(|r| (r.start, r.end));
    let keep = |s: &crate::heap::Segment| {
        heap_index.is_none_or(|h| h == s.heap)
            && segment.is_none_or(|a| a == s.address || (a >= s.start && a < s.end))
            && range.is_none_or(|(lo, hi)| s.start < hi && lo < s.end)
    };
    let result = heap.verify(keep, range);
    let memory = heap.memory();
    let server = heap.runtime.gc.is_server();
    if !result.corruptions.is_empty() {
        // The server layout's Heap column is dotnet-dump's source's; no damaged server
        // dump has checked it yet.
        if server {
            writeln!(out, "{:<4} {:<16} {:<16} {} Reason", "Heap", "Segment", "Object", left("Failure", 32))?;
        } else {
            writeln!(out, "{:<16} {:<16} {} Reason", "Segment", "Object", left("Failure", 32))?;
        }
        for c in &result.corruptions {
            let segment = c.segment.map_or_else(String::new, |s| format!("{:x}", s.1));
            let object = format!("{:x}", c.object);
            if server {
                let h = c.segment.map_or_else(String::new, |s| s.0.to_string());
                writeln!(out, "{h:<4} {segment:<16} {object:<16} {} {}", left(c.kind.name(), 32), c.message(memory))?;
            } else {
                writeln!(out, "{segment:<16} {object:<16} {} {}", left(c.kind.name(), 32), c.message(memory))?;
            }
        }
        writeln!(out)?;
    }
    let errors = result.corruptions.len() as u64;
    writeln!(
        out,
        "{} objects verified, {} error{}.",
        thousands(result.objects),
        thousands(errors),
        if errors == 1 { "" } else { "s" }
    )?;
    if errors == 0 {
        writeln!(out, "No heap corruption detected.")?;
    }
    Ok(())
}

pub fn run_verifyobj(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, VERIFYOBJ_OPTIONS)?;
    let Some(text) = parsed.positional.first() else {
        bail!("Missing object address");
    };
    let Some(addr) = parse_address(text) else {
        bail!("Invalid object address: {text}");
    };
    let heap = &session.heap;
    let found = heap.verify_object(addr);
    if found.is_empty() {
        writeln!(out, "object {addr:#x} is a valid object")?;
        return Ok(());
    }
    writeln!(out, "Offset Issue                            Description")?;
    for c in &found {
        writeln!(out, "{} {} {}", left(&format!("{:#04x}", c.offset), 6), left(c.kind.name(), 32), c.message(heap.memory()))?;
    }
    writeln!(out)?;
    writeln!(out, "{} error{}  detected.", found.len(), if found.len() == 1 { "" } else { "s" })?;
    Ok(())
}

//! `gcwhere <address>`: which heap, segment and generation hold an address, with the
//! segment's allocated, committed and reserved ranges (dotnet-dump's table).
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::{ObjectGeneration, Segment, SegmentKind};
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// gcwhere has no options.
pub const OPTIONS: &[OptionSpec] = &[];

fn range(lo: u64, hi: u64) -> String {
    format!("{lo:x}-{hi:x}")
}

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let Some(text) = parsed.positional.first() else {
        bail!("Could not parse address: ");
    };
    let Some(address) = parse_address(text) else {
        bail!("Could not parse address: {text}");
    };
    let heap = &session.heap;
    let within = |lo: u64, hi: u64| address >= lo && address < hi;
    let mut segments: Vec<&Segment> = heap
        .segments
        .iter()
        .filter(|s| within(s.start, s.end) || within(s.committed_start(), s.committed) || within(s.committed, s.reserved))
        .collect();
    if segments.is_empty() {
        writeln!(out, "Address {address:x} not found in the managed heap.")?;
        return Ok(());
    }
    segments.sort_by_key(|s| (s.heap, s.address));
    let width = segments
        .iter()
        .map(|s| {
            if s.committed - s.committed_start().min(s.committed) > s.reserved.saturating_sub(s.committed) {
                range(s.committed_start(), s.committed).len()
            } else {
                range(s.committed, s.reserved).len()
            }
        })
        .max()
        .unwrap_or(0);
    writeln!(
        out,
        "{:<16} {:<6} {:<16} {:<10} {:<width$} {:<width$} {:<width$}",
        "Address", "Heap", "Segment", "Generation", "Allocated", "Committed", "Reserved"
    )?;
    for s in segments {
        let generation = if within(s.committed, s.reserved) {
            "reserve".to_string()
        } else {
            match s.kind {
                SegmentKind::Frozen => "frozen".into(),
                SegmentKind::Pinned => "pinned".into(),
                SegmentKind::Large => "large".into(),
                _ => match s.generation_of(address, heap.heap_of(s)) {
                    ObjectGeneration::Gen0 => "0".into(),
                    ObjectGeneration::Gen1 => "1".into(),
                    ObjectGeneration::Gen2 => "2".into(),
                    _ => "???".into(),
                },
            }
        };
        writeln!(
            out,
            "{:<16} {:<6} {:<16} {:<10} {:<width$} {:<width$} {:<width$}",
            format!("{address:x}"),
            s.heap,
            format!("{:x}", s.address),
            generation,
            range(s.start, s.end),
            range(s.committed_start(), s.committed),
            range(s.committed, s.reserved)
        )?;
    }
    Ok(())
}

//! `dumpgcdata`: the GC's own statistics as SOS prints them (`heap::gc_data`).
//!
//! Workstation GC: how many GCs used each global mechanism (`%-30s: %d`), then `[info per
//! heap]` and the heap's interesting data points, compacting reasons (`[M]` mandatory,
//! `[W]` wanted), expansion mechanisms and other mechanisms. Server GC: `[info per heap]`
//! after a blank line, then each heap under `--------info for heap N--------`, followed by
//! a blank line (SOS prints no global mechanisms for it). SOS prints each count with
//! `%d`: its low 32 bits, signed.
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::gc_data::HeapStatistics;
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

/// dumpgcdata has no options.
pub const OPTIONS: &[OptionSpec] = &[];

const GLOBAL_MECHANISMS: [&str; 6] = [
    "concurrent GCs",
    "compacting GCs",
    "promoting GCs",
    "GCs that did demotion",
    "card bundles",
    "elevation logic",
];
const DATA_POINTS: [&str; 9] = [
    "pre short",
    "post short",
    "merged pins",
    "converted pins",
    "pre pin",
    "post pin",
    "pre and post pin",
    "pre short padded",
    "post short padded",
];
/// Each reason with whether the GC must compact for it (`M`) or chose to (`W`). The
/// misspelling is SOS's.
const COMPACT_REASONS: [(&str, bool); 11] = [
    ("low on ephemeral space", true),
    ("high fragmentation", false),
    ("couldn't allocate gaps", true),
    ("user specfied compact LOH", true),
    ("last GC before OOM", true),
    ("induced compacting GC", true),
    ("fragmented gen0 (ephemeral GC)", false),
    ("high memory load (ephemeral GC)", false),
    ("high memory load and frag", true),
    ("very high memory load and frag", true),
    ("no gc mode", true),
];
const EXPAND_MECHANISMS: [&str; 6] = [
    "reused seg with normal fit",
    "reused seg with best fit",
    "expand promoting eph",
    "expand with a new seg",
    "no memory for a new seg",
    "expand in next full GC",
];
const MECHANISM_BITS: [&str; 2] = ["using mark list", "demotion"];

/// A count as SOS's `%d` prints a size_t: the low 32 bits, signed.
fn count(v: u64) -> i32 {
    v as u32 as i32
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    let server = heap.runtime.gc.is_server();
    let globals = if server { None } else { heap.gc_global_mechanisms() };
    let stats: Vec<Option<HeapStatistics>> = heap.heaps.iter().map(|h| heap.gc_statistics(h.index)).collect();
    if format != Format::Text {
        let named = |names: &[&str], values: &[u64]| -> serde_json::Value {
            names.iter().zip(values).map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>().into()
        };
        let reasons: Vec<&str> = COMPACT_REASONS.iter().map(|r| r.0).collect();
        return write_json(
            out,
            &json!({
                "global_mechanisms": globals.map(|g| named(&GLOBAL_MECHANISMS, &g)),
                "heaps": stats.iter().enumerate().map(|(i, s)| json!({
                    "heap": i,
                    "statistics": s.map(|s| json!({
                        "data_points": named(&DATA_POINTS, &s.data_points),
                        "compact_reasons": named(&reasons, &s.compact_reasons),
                        "expand_mechanisms": named(&EXPAND_MECHANISMS, &s.expand_mechanisms),
                        "mechanism_bits": named(&MECHANISM_BITS, &s.mechanism_bits),
                    })),
                })).collect::<Vec<_>>(),
            }),
        );
    }
    if stats.iter().all(Option::is_none) && globals.is_none() {
        // dotnet-dump crashes here (the segments GC publishes no statistics).
        writeln!(out, "This GC records no statistics (it publishes none of its GC_CONFIG_DRIVEN data).")?;
        return Ok(());
    }
    if !server {
        for (name, v) in GLOBAL_MECHANISMS.iter().zip(globals.unwrap_or_default()) {
            writeln!(out, "{name:<30}: {}", count(v))?;
        }
        writeln!(out)?;
        writeln!(out, "[info per heap]")?;
        match stats.first().copied().flatten() {
            Some(s) => print_heap(&s, out)?,
            None => writeln!(out, "Error requesting interesting GC info")?,
        }
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "[info per heap]")?;
    for (n, s) in stats.iter().enumerate() {
        let Some(s) = s else {
            writeln!(out, "Heap {n}: Error requesting interesting GC info")?;
            return Ok(());
        };
        writeln!(out, "--------info for heap {n}--------")?;
        print_heap(s, out)?;
        writeln!(out)?;
    }
    Ok(())
}

fn print_heap(s: &HeapStatistics, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "Interesting data points")?;
    for (name, v) in DATA_POINTS.iter().zip(s.data_points) {
        writeln!(out, "{name:>20}: {}", count(v))?;
    }
    writeln!(out)?;
    writeln!(out, "Compacting reasons")?;
    for ((name, mandatory), v) in COMPACT_REASONS.iter().zip(s.compact_reasons) {
        writeln!(out, "[{}]{name:>35}: {}", if *mandatory { "M" } else { "W" }, count(v))?;
    }
    writeln!(out)?;
    writeln!(out, "Expansion mechanisms")?;
    for (name, v) in EXPAND_MECHANISMS.iter().zip(s.expand_mechanisms) {
        writeln!(out, "{name:>30}: {}", count(v))?;
    }
    writeln!(out)?;
    writeln!(out, "Other mechanisms enabled")?;
    for (name, v) in MECHANISM_BITS.iter().zip(s.mechanism_bits) {
        writeln!(out, "{name:>20}: {}", count(v))?;
    }
    Ok(())
}

//! `dumpgen <gen> [-type S] [-mt MT]`: the objects of one generation.
//!
//! `gen` is one of `gen0`, `gen1`, `gen2`, `loh`, `poh`, `foh` (any case). Without `-mt`
//! it prints per-type statistics (grouped by MethodTable, ascending total size, ties in the
//! order first seen); with `-mt` it lists that type's objects. `-type` keeps the types
//! whose name contains S, ignoring case. Numbers are plain decimal and MethodTables and
//! addresses 16 hex digits: dotnet-dump's own format for this command
//! (`docs/research/sos-formats.md` §3).
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::{Heap, HeapObject, ObjectGeneration, SegmentKind, SizeCache};
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::render::stats::{render_native_rows, stat_records, StatRow, STAT_COLUMNS};
use crate::session::Session;
use crate::warnings::Warnings;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;

/// dumpgen's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("-type", "<substring>", "Only objects whose type name contains this text (case-insensitive)."),
    OptionSpec::valued("-mt", "<mt>", "Only objects with this MethodTable; lists their addresses."),
];

/// Parses dumpgen's generation argument: `gen0`, `gen1`, `gen2`, `loh`, `poh` or `foh`, in
/// any case (unlike `dumpheap -gen`, no `large`/`pinned`/`frozen`, no numbers).
pub fn parse_generation(text: &str) -> Option<ObjectGeneration> {
    Some(match text.to_ascii_lowercase().as_str() {
        "gen0" => ObjectGeneration::Gen0,
        "gen1" => ObjectGeneration::Gen1,
        "gen2" => ObjectGeneration::Gen2,
        "loh" => ObjectGeneration::Large,
        "poh" => ObjectGeneration::Pinned,
        "foh" => ObjectGeneration::Frozen,
        _ => return None,
    })
}

/// Whether a segment of this kind can hold objects of `generation`.
fn may_hold(kind: SegmentKind, generation: ObjectGeneration) -> bool {
    use ObjectGeneration as G;
    match kind {
        SegmentKind::Gen0 => generation == G::Gen0,
        SegmentKind::Gen1 => generation == G::Gen1,
        SegmentKind::Gen2 => generation == G::Gen2,
        SegmentKind::Ephemeral => matches!(generation, G::Gen0 | G::Gen1 | G::Gen2),
        SegmentKind::Large => generation == G::Large,
        SegmentKind::Pinned => generation == G::Pinned,
        SegmentKind::Frozen => generation == G::Frozen,
    }
}

/// The parsed command line.
struct Request {
    generation: ObjectGeneration,
    type_filter: Option<String>,
    mt: Option<u64>,
}

fn parse_args(args: &[String]) -> Result<Request> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let mut words = parsed.positional.iter();
    let Some(gen_text) = words.next() else {
        bail!("Generation argument is missing");
    };
    if let Some(extra) = words.next() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let Some(generation) = parse_generation(gen_text) else {
        bail!("{gen_text} is not a supported generation (gen0, gen1, gen2, loh, poh, foh)");
    };
    let mt = match parsed.value("-mt") {
        None => None,
        Some(text) => match parse_address(text) {
            Some(mt) => Some(mt),
            None => bail!("Hexadecimal address expected for -mt option"),
        },
    };
    Ok(Request {
        generation,
        // dotnet-dump ignores -type when -mt is given.
        type_filter: parsed.value("-type").filter(|_| mt.is_none()).map(str::to_lowercase),
        mt,
    })
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let request = parse_args(args)?;
    let heap = &session.heap;
    let objects = generation_objects(heap, &request, &session.warnings);
    match (request.mt, format) {
        (Some(_), Format::Text) => write_listing(&objects, out),
        (None, Format::Text) => write_statistics(heap, &objects, out),
        (Some(_), _) => write_listing_records(heap, &objects, format, out),
        (None, _) => write_statistics_records(heap, &objects, format, out),
    }
}

/// Per-type rows, first-seen order, stably sorted by size; `name` names each type.
fn statistics(objects: &[HeapObject], name: impl Fn(u64) -> String) -> Vec<StatRow> {
    let mut order: Vec<u64> = Vec::new();
    let mut stats: HashMap<u64, (u64, u64)> = HashMap::new();
    for o in objects {
        let entry = stats.entry(o.mt).or_insert_with(|| {
            order.push(o.mt);
            (0, 0)
        });
        entry.0 += 1;
        entry.1 += o.size;
    }
    let mut rows: Vec<StatRow> = order
        .iter()
        .filter_map(|&mt| stats.get(&mt).map(|&(count, size)| StatRow { mt, count, size, name: name(mt) }))
        .collect();
    // Stable: equal sizes keep the order their types were first seen in.
    rows.sort_by_key(|r| r.size);
    rows
}

/// JSON `{"statistics": [{"mt", "count", "total_size", "type"}], "total_objects",
/// "total_bytes"}`, or those rows as CSV.
fn write_statistics_records(heap: &Heap, objects: &[HeapObject], format: Format, out: &mut dyn Write) -> Result<()> {
    let records = stat_records(&statistics(objects, |mt| heap.type_name(mt).to_string()));
    if format == Format::Csv {
        return write_csv_records(out, &STAT_COLUMNS, &records);
    }
    let bytes: u64 = objects.iter().map(|o| o.size).sum();
    write_json(
        out,
        &json!({ "statistics": records, "total_objects": objects.len(), "total_bytes": bytes }),
    )
}

/// JSON Lines `{"address", "mt", "size", "type"}` then `{"total_objects"}`, or CSV rows.
fn write_listing_records(heap: &Heap, objects: &[HeapObject], format: Format, out: &mut dyn Write) -> Result<()> {
    let record = |o: &HeapObject| {
        json!({ "address": hex(o.address), "mt": hex(o.mt), "size": o.size, "type": &*heap.type_name(o.mt) })
    };
    if format == Format::Csv {
        let records: Vec<Value> = objects.iter().map(record).collect();
        return write_csv_records(out, &["address", "mt", "size", "type"], &records);
    }
    for o in objects {
        write_json(out, &record(o))?;
    }
    write_json(out, &json!({ "total_objects": objects.len() }))
}

/// The objects of the requested generation that pass the filters, in walk order
/// (segments by start address, objects by address).
fn generation_objects(heap: &Heap, request: &Request, warnings: &Warnings) -> Vec<HeapObject> {
    let mut sizes = SizeCache::default();
    // Per MethodTable: does its name pass `-type`?
    let mut type_ok: HashMap<u64, bool> = HashMap::new();
    let mut objects = Vec::new();
    for seg in &heap.segments {
        if !may_hold(seg.kind, request.generation) {
            continue;
        }
        let gc_heap = heap.heap_of(seg);
        let warning = heap.walk_segment(seg, &mut sizes, |o| {
            // Only the segments GC's ephemeral segment holds more than one generation.
            if seg.generation_of(o.address, gc_heap) != request.generation {
                return;
            }
            if request.mt.is_some_and(|mt| mt != o.mt) {
                return;
            }
            if let Some(wanted) = &request.type_filter {
                let ok = *type_ok.entry(o.mt).or_insert_with(|| {
                    heap.try_type_name(o.mt)
                        .is_some_and(|name| name.to_lowercase().contains(wanted.as_str()))
                });
                if !ok {
                    return;
                }
            }
            objects.push(o);
        });
        if let Some(w) = warning {
            warnings.warn(w.to_string());
        }
    }
    objects
}

fn write_statistics(heap: &Heap, objects: &[HeapObject], out: &mut dyn Write) -> Result<()> {
    let rows = statistics(objects, |mt| heap.try_type_name(mt).map(|n| n.to_string()).unwrap_or_default());
    writeln!(out, "Statistics:")?;
    writeln!(out, "              MT    Count    TotalSize Class Name")?;
    render_native_rows(&rows, out)?;
    writeln!(out, "Total {} objects", objects.len())?;
    writeln!(out)?;
    Ok(())
}

fn write_listing(objects: &[HeapObject], out: &mut dyn Write) -> Result<()> {
    writeln!(out, "         Address               MT     Size")?;
    for o in objects {
        writeln!(out, "{:016x} {:016x} {:>8}", o.address, o.mt, o.size)?;
    }
    writeln!(out, "Total {} objects", objects.len())?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn error(s: &str) -> String {
        match parse_args(&args(s)) {
            Ok(_) => panic!("'{s}' parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_generations() {
        assert_eq!(parse_generation("GEN0"), Some(ObjectGeneration::Gen0));
        assert_eq!(parse_generation("foh"), Some(ObjectGeneration::Frozen));
        assert_eq!(parse_generation("large"), None);
        assert_eq!(parse_generation("0"), None);
        let r = parse_args(&args("-type Foo LOH -mt 0x10")).unwrap();
        assert_eq!(r.generation, ObjectGeneration::Large);
        assert_eq!(r.type_filter, None, "-mt overrides -type");
        assert_eq!(r.mt, Some(0x10));
        let r = parse_args(&args("gen0 -type Foo")).unwrap();
        assert_eq!(r.type_filter.as_deref(), Some("foo"));
    }

    #[test]
    fn reports_bad_arguments() {
        assert_eq!(error(""), "Generation argument is missing");
        assert_eq!(error("gen9"), "gen9 is not a supported generation (gen0, gen1, gen2, loh, poh, foh)");
        assert_eq!(error("gen0 gen1"), "Unrecognized command or argument 'gen1'.");
        assert_eq!(error("gen0 -foo"), "Unknown option: -foo (valid options: -type, -mt)");
        assert_eq!(error("gen0 -mt zz"), "Hexadecimal address expected for -mt option");
        assert_eq!(error("gen0 --type Foo"), "Unknown option: --type (valid options: -type, -mt)");
    }

    #[test]
    fn picks_segments() {
        assert!(!may_hold(SegmentKind::Frozen, ObjectGeneration::Gen2));
        assert!(may_hold(SegmentKind::Ephemeral, ObjectGeneration::Gen2));
        assert!(may_hold(SegmentKind::Frozen, ObjectGeneration::Frozen));
        assert!(!may_hold(SegmentKind::Gen1, ObjectGeneration::Gen0));
        assert!(!may_hold(SegmentKind::Ephemeral, ObjectGeneration::Large));
    }
}

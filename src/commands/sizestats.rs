//! `sizestats`: per generation (0, 1, 2, large, then pinned and frozen when the heap has
//! such segments), how many objects have each size (rounded up to 8), with the running
//! totals of the smaller sizes; then the same for free blocks (frozen excepted), as
//! dotnet-dump prints it.
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::{Heap, ObjectGeneration, SegmentKind, SizeCache};
use crate::render::output::{write_json, Format};
use crate::render::table::{Column, Table};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;

/// sizestats has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// Whether a segment of this kind holds objects of `generation`.
fn holds(kind: SegmentKind, generation: ObjectGeneration) -> bool {
    use ObjectGeneration as G;
    match kind {
        SegmentKind::Ephemeral => matches!(generation, G::Gen0 | G::Gen1 | G::Gen2),
        SegmentKind::Gen0 => generation == G::Gen0,
        SegmentKind::Gen1 => generation == G::Gen1,
        SegmentKind::Gen2 => generation == G::Gen2,
        SegmentKind::Large => generation == G::Large,
        SegmentKind::Pinned => generation == G::Pinned,
        SegmentKind::Frozen => generation == G::Frozen,
    }
}

/// The generation as dotnet-dump names it (ClrMD's `Generation`, lower case).
fn name(generation: ObjectGeneration) -> &'static str {
    match generation {
        ObjectGeneration::Gen0 => "generation0",
        ObjectGeneration::Gen1 => "generation1",
        ObjectGeneration::Gen2 => "generation2",
        ObjectGeneration::Large => "large",
        ObjectGeneration::Pinned => "pinned",
        ObjectGeneration::Frozen => "frozen",
    }
}

/// Count per rounded size of the objects (or free blocks) of `generation`.
fn histogram(heap: &Heap, generation: ObjectGeneration, free: bool) -> BTreeMap<u64, u64> {
    let mut counts = BTreeMap::new();
    let mut sizes = SizeCache::default();
    for seg in heap.segments.iter().filter(|s| holds(s.kind, generation)) {
        let gc_heap = heap.heap_of(seg);
        heap.walk_segment(seg, &mut sizes, |o| {
            if heap.is_free_mt(o.mt) != free {
                return;
            }
            if seg.kind == SegmentKind::Ephemeral && seg.generation_of(o.address, gc_heap) != generation {
                return;
            }
            let size = o.size.saturating_add(7) & !7;
            *counts.entry(size).or_insert(0u64) += 1;
        });
    }
    counts
}

/// The tables dotnet-dump prints, in its order.
fn sections(heap: &Heap) -> Vec<(ObjectGeneration, bool)> {
    use ObjectGeneration as G;
    let pinned = heap.segments.iter().any(|s| s.kind == SegmentKind::Pinned);
    let frozen = heap.segments.iter().any(|s| s.kind == SegmentKind::Frozen);
    let mut list = vec![(G::Gen0, false), (G::Gen1, false), (G::Gen2, false), (G::Large, false)];
    if pinned {
        list.push((G::Pinned, false));
    }
    if frozen {
        list.push((G::Frozen, false));
    }
    list.extend([(G::Gen0, true), (G::Gen1, true), (G::Gen2, true), (G::Large, true)]);
    if pinned {
        list.push((G::Pinned, true));
    }
    list
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    if format != Format::Text {
        let tables: Vec<_> = sections(heap)
            .into_iter()
            .map(|(generation, free)| {
                let rows: Vec<_> = histogram(heap, generation, free)
                    .into_iter()
                    .map(|(size, count)| json!({ "size": size, "count": count }))
                    .collect();
                json!({ "generation": name(generation), "free": free, "sizes": rows })
            })
            .collect();
        return write_json(out, &json!({ "tables": tables }));
    }
    for (generation, free) in sections(heap) {
        let counts = histogram(heap, generation, free);
        writeln!(out, "Size Statistics for {} {}objects", name(generation), if free { "free " } else { "" })?;
        writeln!(out)?;
        if counts.is_empty() {
            writeln!(out, "(none)")?;
        } else {
            let mut table = Table::new(&[Column::INTEGER; 4]);
            table.write_header(out, &["Size", "Count", "Cumulative Size", "Cumulative Count"])?;
            let (mut cumulative_size, mut cumulative_count) = (0u64, 0u64);
            for (size, count) in counts {
                table.write_row(out, &[size.into(), count.into(), cumulative_size.into(), cumulative_count.into()])?;
                cumulative_size = cumulative_size.saturating_add(size.saturating_mul(count));
                cumulative_count = cumulative_count.saturating_add(count);
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

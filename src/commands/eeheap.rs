//! `eeheap -gc [-heap N] [-segment ADDR] [start [end]]`: the GC heaps and their segments.
//!
//! Prints, as dotnet-dump does (`docs/research/sos-formats.md` §2): the `DATAS = ` line, the
//! heap count, then per heap (server GC: `Heap i (gc_heap address)`; segments GC: where
//! generations 0-2 start) the small object heap by generation, the NonGC (frozen), large
//! and pinned object heaps, each as a segment table, and the allocated/committed totals.
//! The filters keep the segments of heap N, the segment at (or whose committed memory
//! holds) ADDR, and the segments whose committed memory overlaps `[start, end)`; the
//! totals are then labelled `Partial`. The loader heaps (`eeheap` without `-gc`, or
//! `-loader`) are not supported.
use crate::args::{parse_address, parse_range, AddressRange, CommandArgs, OptionSpec};
use crate::render::format::{left_cell, memory_size, pointer};
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use serde_json::{json, Value};
use crate::heap::{GcHeap, Segment, SegmentKind};
use anyhow::{bail, Result};
use std::io::Write;

/// Narrowest size column: the header labels are 14 characters.
const MIN_SIZE_WIDTH: usize = 14;
/// Widest size column; longer sizes are cut.
const MAX_SIZE_WIDTH: usize = 32;

/// Which segments to print.
#[derive(Debug, Default, Clone, Copy)]
pub struct SegmentFilter {
    pub heap: Option<usize>,
    pub segment: Option<u64>,
    pub range: Option<AddressRange>,
}

impl SegmentFilter {
    /// Whether any filter is given (the totals are then "Partial").
    pub fn is_active(&self) -> bool {
        self.heap.is_some() || self.segment.is_some() || self.range.is_some()
    }

    pub fn matches(&self, seg: &Segment) -> bool {
        let (lo, hi) = (seg.committed_start(), seg.committed);
        self.heap.is_none_or(|h| h == seg.heap)
            && self.segment.is_none_or(|a| a == seg.address || seg.committed_contains(a))
            && self.range.is_none_or(|r| r.overlaps(lo, hi))
    }
}

/// What eeheap needs to know about the GC.
pub struct GcView<'a> {
    pub heaps: &'a [GcHeap],
    /// Every segment, sorted by start address.
    pub segments: &'a [Segment],
    pub server: bool,
    pub regions: bool,
    /// The DAC's `dynamic_adaptation_mode`, when the GC publishes it.
    pub datas: Option<i32>,
}

/// eeheap's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-gc", "Only the GC heap."),
    OptionSpec::flag("-loader", "Only the loader heaps (not read by clrheap yet: refused)."),
    OptionSpec::valued("-heap", "<n>", "Only this GC heap (server GC)."),
    OptionSpec::valued("-segment", "<addr>", "Only the segment at this address."),
];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    let filter = parse_filter(&parsed, heap.heaps.len())?;
    if !parsed.flag("-gc") || parsed.flag("-loader") {
        bail!("eeheap: only the GC heaps are supported (eeheap -gc); the loader heaps are not");
    }
    let view = GcView {
        heaps: &heap.heaps,
        segments: &heap.segments,
        server: heap.runtime.gc.is_server(),
        regions: heap.runtime.gc.is_regions(),
        datas: heap.runtime.gc.dynamic_adaptation_mode,
    };
    match format {
        Format::Text => render(&view, &filter, out),
        _ => render_records(&view, &filter, format, out),
    }
}

/// The segment kind as machine-readable output names it.
fn kind_name(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Gen0 => "gen0",
        SegmentKind::Gen1 => "gen1",
        SegmentKind::Gen2 => "gen2",
        SegmentKind::Ephemeral => "ephemeral",
        SegmentKind::Large => "loh",
        SegmentKind::Pinned => "poh",
        SegmentKind::Frozen => "frozen",
    }
}

/// JSON: `{"datas", "heap_count", "heaps": [{"index", "address", "segments": [...]}],
/// "total_allocated_size", "total_committed_size", "partial"}`; CSV: one row per segment.
fn render_records(view: &GcView, filter: &SegmentFilter, format: Format, out: &mut dyn Write) -> Result<()> {
    let record = |seg: &Segment| {
        let (allocated, committed) = sizes(seg);
        json!({
            "heap": seg.heap,
            "segment": hex(seg.address),
            "kind": kind_name(seg.kind),
            "begin": hex(seg.start),
            "allocated": hex(seg.end),
            "committed": hex(seg.committed),
            "reserved": hex(seg.reserved),
            "allocated_size": allocated,
            "committed_size": committed,
        })
    };
    let segments: Vec<&Segment> = view.segments.iter().filter(|s| filter.matches(s)).collect();
    if format == Format::Csv {
        let records: Vec<Value> = segments.iter().map(|s| record(s)).collect();
        let columns = [
            "heap", "segment", "kind", "begin", "allocated", "committed", "reserved", "allocated_size", "committed_size",
        ];
        return write_csv_records(out, &columns, &records);
    }
    let heaps: Vec<Value> = view
        .heaps
        .iter()
        .filter(|h| segments.iter().any(|s| s.heap == h.index))
        .map(|h| {
            json!({
                "index": h.index,
                "address": if view.server { hex(h.address) } else { Value::Null },
                "segments": segments.iter().filter(|s| s.heap == h.index).map(|s| record(s)).collect::<Vec<_>>(),
            })
        })
        .collect();
    write_json(
        out,
        &json!({
            "datas": view.datas,
            "heap_count": view.heaps.len(),
            "server": view.server,
            "regions": view.regions,
            "heaps": heaps,
            "total_allocated_size": segments.iter().map(|s| sizes(s).0).sum::<u64>(),
            "total_committed_size": segments.iter().map(|s| sizes(s).1).sum::<u64>(),
            "partial": filter.is_active(),
        }),
    )
}

/// Reads `-heap`, `-segment` and `start [end]`, checked in that order.
fn parse_filter(args: &CommandArgs, heap_count: usize) -> Result<SegmentFilter> {
    let heap = match args.value("-heap") {
        None => None,
        Some(text) => {
            let Ok(index) = text.trim().parse::<i32>() else {
                bail!("Cannot parse argument '{text}' for option '-heap' as expected type 'System.Int32'.");
            };
            match usize::try_from(index) {
                _ if index == -1 => None,
                Ok(i) if i < heap_count => Some(i),
                _ => bail!("No GC heap with index of {index}"),
            }
        }
    };
    let segment = match args.value("-segment") {
        None => None,
        Some(text) => match parse_address(text) {
            Some(a) => Some(a),
            None => bail!("Failed to parse segment '{text}'."),
        },
    };
    let range = parse_range(&args.positional, "eeheap")?;
    Ok(SegmentFilter { heap, segment, range })
}

/// A segment's `[begin, allocated)` and committed lengths.
fn sizes(seg: &Segment) -> (u64, u64) {
    (
        seg.end.saturating_sub(seg.start),
        seg.committed.saturating_sub(seg.committed_start()),
    )
}

/// Writes eeheap -gc's text for `view`, keeping the segments `filter` lets through.
pub fn render(view: &GcView, filter: &SegmentFilter, out: &mut dyn Write) -> Result<()> {
    // Both size columns are as wide as the longest committed size of the whole GC.
    let width = view
        .segments
        .iter()
        .map(|s| memory_size(sizes(s).1).len())
        .max()
        .unwrap_or(0)
        .clamp(MIN_SIZE_WIDTH, MAX_SIZE_WIDTH);
    let partial = filter.is_active();

    writeln!(out)?;
    writeln!(out, "DATAS = {}", view.datas.map(|m| m.to_string()).unwrap_or_default())?;
    writeln!(out, "{}", "=".repeat(40))?;
    writeln!(out, "Number of GC Heaps: {}", view.heaps.len())?;
    writeln!(out, "{}", "-".repeat(40))?;

    let (mut total_allocated, mut total_committed) = (0u64, 0u64);
    for heap in view.heaps {
        let segs: Vec<&Segment> = view
            .segments
            .iter()
            .filter(|s| s.heap == heap.index && filter.matches(s))
            .collect();
        if segs.is_empty() {
            continue;
        }
        let of_kind = |kind: SegmentKind| segs.iter().copied().filter(move |s| s.kind == kind);
        let table_header = |out: &mut dyn Write| -> std::io::Result<()> {
            writeln!(
                out,
                "{:>16} {:>16} {:>16} {:>16} {} {}",
                "segment",
                "begin",
                "allocated",
                "committed",
                left_cell("allocated size", width),
                left_cell("committed size", width)
            )
        };
        let row = |out: &mut dyn Write, s: &Segment| -> std::io::Result<()> {
            let (allocated, committed) = sizes(s);
            writeln!(
                out,
                "{:>16} {:>16} {:>16} {:>16} {} {}",
                pointer(s.address),
                pointer(s.start),
                pointer(s.end),
                pointer(s.committed),
                left_cell(&memory_size(allocated), width),
                left_cell(&memory_size(committed), width)
            )
        };

        if view.server {
            writeln!(out, "Heap {} ({:016x})", heap.index, heap.address)?;
        }
        if !view.regions {
            for (i, generation) in heap.generations.iter().take(3).enumerate() {
                writeln!(out, "generation {i} starts at {:x}", generation.allocation_start)?;
            }
            let g0 = &heap.generations[0];
            if g0.alloc_limit > g0.alloc_ptr {
                // dotnet-dump prints the end in decimal after "0x"; so do we.
                writeln!(
                    out,
                    "ephemeral segment allocation context: ({:#x}, 0x{})",
                    g0.alloc_ptr, g0.alloc_limit
                )?;
            } else {
                writeln!(out, "ephemeral segment allocation context: none")?;
            }
        }

        writeln!(out, "Small object heap")?;
        table_header(out)?;
        let soh = [
            (SegmentKind::Gen0, Some(0)),
            (SegmentKind::Gen1, Some(1)),
            (SegmentKind::Gen2, Some(2)),
            (SegmentKind::Ephemeral, None),
        ];
        for (kind, generation) in soh {
            let mut group = of_kind(kind).peekable();
            if let (true, Some(g), Some(_)) = (view.regions, generation, group.peek()) {
                writeln!(out, "generation {g}:")?;
            }
            for s in group {
                row(out, s)?;
            }
        }

        if of_kind(SegmentKind::Frozen).next().is_some() {
            writeln!(out, "NonGC heap")?;
            table_header(out)?;
            for s in of_kind(SegmentKind::Frozen) {
                row(out, s)?;
            }
        }

        if view.regions {
            writeln!(out, "Large object heap")?;
        } else {
            writeln!(out, "Large object heap starts at {:x}", heap.generations[3].allocation_start)?;
        }
        table_header(out)?;
        for s in of_kind(SegmentKind::Large) {
            row(out, s)?;
        }

        if of_kind(SegmentKind::Pinned).next().is_some() {
            if view.regions {
                writeln!(out, "Pinned object heap")?;
            } else {
                writeln!(out, "Pinned object heap starts at {:x}", heap.generations[4].allocation_start)?;
            }
            table_header(out)?;
            for s in of_kind(SegmentKind::Pinned) {
                row(out, s)?;
            }
        }

        let (allocated, committed) = segs
            .iter()
            .map(|s| sizes(s))
            .fold((0u64, 0u64), |(a, c), (sa, sc)| (a.saturating_add(sa), c.saturating_add(sc)));
        if partial {
            writeln!(out, "Partial Allocated Size:              Size: {} bytes.", memory_size(allocated))?;
            writeln!(out, "Partial Committed Size:              Size: {} bytes.", memory_size(committed))?;
        }
        writeln!(out, "{}", "-".repeat(30))?;
        total_allocated = total_allocated.saturating_add(allocated);
        total_committed = total_committed.saturating_add(committed);
    }

    let prefix = if partial { "Partial " } else { "" };
    writeln!(out, "{prefix}GC Allocated Heap Size:    Size: {} bytes.", memory_size(total_allocated))?;
    writeln!(out, "{prefix}GC Committed Heap Size:    Size: {} bytes.", memory_size(total_committed))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::Generation;

    fn segment(heap: usize, address: u64, kind: SegmentKind, start: u64, end: u64, committed: u64) -> Segment {
        Segment {
            heap,
            address,
            kind,
            start,
            end,
            committed,
            reserved: committed,
            flags: 0,
        }
    }

    fn heap(index: usize, address: u64) -> GcHeap {
        GcHeap {
            index,
            address,
            alloc_allocated: 0,
            ephemeral_segment: 0,
            finalize_queue: 0,
            generations: [Generation::default(); 5],
        }
    }

    fn text(view: &GcView, filter: &SegmentFilter) -> String {
        let mut out = Vec::new();
        render(view, filter, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn renders_a_server_regions_heap() {
        let heaps = [heap(0, 0x562c631fb700), heap(1, 0x562c63201d70)];
        let segments = [
            segment(0, 0x562c63215040, SegmentKind::Frozen, 0x7f9aa9800008, 0x7f9aa9802e40, 0x7f9aa9810000),
            segment(1, 0x7f9abf47fd30, SegmentKind::Gen1, 0x7f9b44800028, 0x7f9b44800028, 0x7f9b44c00000),
            segment(0, 0x7f9abf480010, SegmentKind::Large, 0x7f9b45800028, 0x7f9b45800028, 0x7f9b45801000),
        ];
        let view = GcView {
            heaps: &heaps,
            segments: &segments,
            server: true,
            regions: true,
            datas: Some(0),
        };
        let expected = "
DATAS = 0
========================================
Number of GC Heaps: 2
----------------------------------------
Heap 0 (0000562c631fb700)
Small object heap
         segment            begin        allocated        committed allocated size     committed size    
NonGC heap
         segment            begin        allocated        committed allocated size     committed size    
    562c63215040     7f9aa9800008     7f9aa9802e40     7f9aa9810000 0x2e38 (11832)     0x10000 (65536)   
Large object heap
         segment            begin        allocated        committed allocated size     committed size    
    7f9abf480010     7f9b45800028     7f9b45800028     7f9b45801000                    0x1000 (4096)     
------------------------------
Heap 1 (0000562c63201d70)
Small object heap
         segment            begin        allocated        committed allocated size     committed size    
generation 1:
    7f9abf47fd30     7f9b44800028     7f9b44800028     7f9b44c00000                    0x400000 (4194304)
Large object heap
         segment            begin        allocated        committed allocated size     committed size    
------------------------------
GC Allocated Heap Size:    Size: 0x2e38 (11832) bytes.
GC Committed Heap Size:    Size: 0x411000 (4263936) bytes.
";
        assert_eq!(text(&view, &SegmentFilter::default()), expected);

        let filter = SegmentFilter {
            segment: Some(0x7f9b44800100),
            ..Default::default()
        };
        let partial = text(&view, &filter);
        assert!(!partial.contains("Heap 0"));
        assert!(partial.contains("Partial Allocated Size:              Size:  bytes.\n"));
        assert!(partial.ends_with("Partial GC Committed Heap Size:    Size: 0x400000 (4194304) bytes.\n"));
    }

    #[test]
    fn filters_by_committed_range() {
        let seg = segment(0, 0x7f00, SegmentKind::Gen2, 0x10028, 0x10100, 0x11000);
        let range = |start, end| SegmentFilter {
            range: Some(AddressRange { start, end }),
            ..Default::default()
        };
        assert!(range(0x10000, 0x10001).matches(&seg));
        assert!(!range(0xf000, 0x10000).matches(&seg));
        assert!(!range(0x11000, 0x12000).matches(&seg));
        let at = |a| SegmentFilter {
            segment: Some(a),
            ..Default::default()
        };
        assert!(at(0x7f00).matches(&seg));
        assert!(at(0x10fff).matches(&seg));
        assert!(!at(0x11000).matches(&seg));
    }
}

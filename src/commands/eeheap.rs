//! `eeheap [-gc] [-loader] [-heap N] [-segment ADDR] [start [end]]`: the native memory
//! the runtime holds, as dotnet-dump prints it.
//!
//! The loader part (`-loader`, or no `-gc`): each domain (the System Domain, then `Domain
//! N`) with its address printed again as its `LoaderAllocator` (ClrMD's value), then its
//! loader heaps grouped by kind (`runtime::native_heaps`), each block as
//! `start(reserved:captured)`; a block's uncaptured part counts as wasted unless it is
//! its heap's current block. A block seen under an earlier domain is not repeated, so the
//! `AppDomain`, which shares the System Domain's loader allocator, shows `No unique
//! loader heaps found.` Then the JIT manager's code heaps, sorted by kind and address.
//! dotnet-dump's module sections (thunk heaps and collectible modules' loader
//! allocators) never print on Linux: thunk heaps exist only for images with VTable fixups
//! (C++/CLI, Windows), and its test for a module's loader allocator compares it with the
//! domains' addresses, which no loader allocator equals.
//!
//! The GC part (`-gc`, or no `-loader`; `docs/research/sos-formats.md` §2): the `DATAS = `
//! line, the heap count, then per heap (server GC: `Heap i (gc_heap address)`; segments
//! GC: where generations 0-2 start) the small object heap by generation, the NonGC
//! (frozen), large and pinned object heaps, each as a segment table, and the
//! allocated/committed totals. The filters keep the segments of heap N, the segment at (or
//! whose committed memory holds) ADDR, and the segments whose committed memory overlaps
//! `[start, end)`; loader blocks are kept by the range only (their first or last byte in
//! it). Any filter makes the totals `Partial`. Without `-gc` and `-loader`, the sum of the
//! loader, JIT and committed GC sizes closes the text.
use crate::args::{parse_address, parse_range, AddressRange, CommandArgs, OptionSpec};
use crate::render::format::{left_cell, memory_size, pointer};
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use serde_json::{json, Value};
use crate::heap::{GcHeap, Segment, SegmentKind};
use crate::runtime::native_heaps::{NativeHeapBlock, NativeHeapKind, NativeHeaps};
use std::collections::HashSet;
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
    OptionSpec::flag("-loader", "Only the loader heaps and the JIT's code heaps."),
    OptionSpec::valued("-heap", "<n>", "Only this GC heap (server GC)."),
    OptionSpec::valued("-segment", "<addr>", "Only the segment at this address."),
];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    let filter = parse_filter(&parsed, heap.heaps.len())?;
    let (only_gc, only_loader) = (parsed.flag("-gc"), parsed.flag("-loader"));
    let (show_loader, show_gc) = (only_loader || !only_gc, only_gc || !only_loader);
    let view = GcView {
        heaps: &heap.heaps,
        segments: &heap.segments,
        server: heap.runtime.gc.is_server(),
        regions: heap.runtime.gc.is_regions(),
        datas: heap.runtime.gc.dynamic_adaptation_mode,
    };
    let native = if show_loader { heap.runtime.native_heaps() } else { NativeHeaps::default() };
    for w in &native.warnings {
        session.warnings.warn(w.clone());
    }
    match format {
        Format::Text => {
            let mut total = 0u64;
            if show_loader {
                total = total.saturating_add(render_loader(&native, &filter, out)?);
            }
            if show_gc {
                total = total.saturating_add(render(&view, &filter, out)?);
            }
            if show_loader && show_gc {
                let prefix = if filter.is_active() { "Partial" } else { "Total" };
                let size = if total == 0 { "0".to_string() } else { memory_size(total) };
                writeln!(out)?;
                writeln!(out, "{prefix} bytes consumed by CLR: {size}")?;
                writeln!(out)?;
            }
            Ok(())
        }
        _ if show_gc && !show_loader => render_records(&view, &filter, format, out),
        Format::Csv if !show_gc => {
            let rows: Vec<Value> = loader_records(&native, &filter);
            write_csv_records(out, &["owner", "owner_address", "kind", "start", "size", "captured", "wasted"], &rows)
        }
        Format::Csv => bail!("eeheap has no CSV form for the loader and GC heaps together: use -gc or -loader"),
        _ => {
            let mut gc = Vec::new();
            if show_gc {
                render_records(&view, &filter, Format::Json, &mut gc)?;
            }
            let gc: Value = if show_gc { serde_json::from_slice(&gc)? } else { Value::Null };
            write_json(out, &json!({ "loader": loader_records(&native, &filter), "gc": gc }))
        }
    }
}

/// The loader blocks a filter keeps: those with their first or last byte in the range.
fn block_included(filter: &SegmentFilter, b: &NativeHeapBlock) -> bool {
    let Some(r) = filter.range else { return true };
    let contains = |a: u64| r.start <= a && a < r.end;
    contains(b.start) || (b.size > 0 && contains(b.start.saturating_add(b.size - 1)))
}

/// One JSON/CSV record per loader or code heap block.
fn loader_records(native: &NativeHeaps, filter: &SegmentFilter) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut add = |owner: &str, address: u64, blocks: &[NativeHeapBlock]| {
        for b in blocks.iter().filter(|b| block_included(filter, b)) {
            let (captured, wasted) = block_sizes(b);
            rows.push(json!({
                "owner": owner,
                "owner_address": hex(address),
                "kind": b.kind.name(),
                "start": hex(b.start),
                "size": b.size,
                "captured": captured,
                "wasted": wasted,
            }));
        }
    };
    if let Some(d) = &native.system_domain {
        add("System Domain", d.address, &d.blocks);
    }
    for (i, d) in native.app_domains.iter().enumerate() {
        add(&format!("Domain {}", i + 1), d.address, &d.blocks);
    }
    for m in &native.jit_managers {
        add("JIT Manager", m.address, &m.blocks);
    }
    rows
}

/// A block's captured and wasted bytes, as dotnet-dump counts them (nothing for a block
/// of no size).
fn block_sizes(b: &NativeHeapBlock) -> (u64, u64) {
    if b.size == 0 {
        return (0, 0);
    }
    let wasted = if b.captured < b.size && !b.current { b.size - b.captured } else { 0 };
    (b.captured, wasted)
}

/// Appends `start(size:captured)` (just `start` for a block of no size).
fn block_text(text: &mut String, b: &NativeHeapBlock) {
    text.push_str(&pointer(b.start));
    if b.size > 0 {
        text.push_str(&format!("({:x}:{:x})", b.size, b.captured));
    }
}

fn size_text(size: u64, wasted: u64) -> String {
    let mut t = format!("Size: {} bytes total", memory_size(size));
    if wasted > 0 {
        t.push_str(&format!(", {} bytes wasted", memory_size(wasted)));
    }
    t
}

/// The place ClrMD's `eeheap` gives a loader heap kind (the order of the old SOS).
fn sort_order(kind: NativeHeapKind) -> usize {
    use NativeHeapKind::*;
    match kind {
        LowFrequencyHeap => 0,
        HighFrequencyHeap => 1,
        StubHeap => 2,
        ExecutableHeap => 3,
        FixupPrecodeHeap => 4,
        NewStubPrecodeHeap => 5,
        IndirectionCellHeap => 6,
        LookupHeap => 7,
        ResolveHeap => 8,
        DispatchHeap => 9,
        CacheEntryHeap => 10,
        VtableHeap => 11,
        other => 100 + other as usize,
    }
}

/// A row of the loader part: the label left-aligned in 21 columns, then the text.
fn loader_row(out: &mut dyn Write, label: &str, text: &str) -> std::io::Result<()> {
    writeln!(out, "{} {text}", left_cell(label, 21))
}

fn divider(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{}", "-".repeat(40))
}

/// Writes the loader and JIT parts; returns their total captured size.
pub fn render_loader(native: &NativeHeaps, filter: &SegmentFilter, out: &mut dyn Write) -> Result<u64> {
    let total_label = if filter.is_active() { "Partial size:" } else { "Total size:" };
    let mut seen: HashSet<u64> = HashSet::new();
    let mut total = 0u64;
    writeln!(out, "Loader Heap:")?;
    divider(out)?;
    let domains = native
        .system_domain
        .iter()
        .map(|d| ("System Domain:".to_string(), d))
        .chain(native.app_domains.iter().enumerate().map(|(i, d)| (format!("Domain {}:", i + 1), d)));
    for (name, domain) in domains {
        loader_row(out, &name, &pointer(domain.address))?;
        // ClrMD gives a domain's own address as its LoaderAllocator.
        loader_row(out, "LoaderAllocator:", &pointer(domain.address))?;
        if !seen.insert(domain.address) {
            continue;
        }
        let mut groups: Vec<(NativeHeapKind, Vec<&NativeHeapBlock>)> = Vec::new();
        for b in domain.blocks.iter().filter(|b| block_included(filter, b)) {
            if !seen.insert(b.start) {
                continue;
            }
            match groups.iter_mut().find(|(k, _)| *k == b.kind) {
                Some((_, g)) => g.push(b),
                None => groups.push((b.kind, vec![b])),
            }
        }
        groups.sort_by_key(|(k, _)| sort_order(*k));
        let (mut size, mut wasted) = (0u64, 0u64);
        for (kind, blocks) in &groups {
            let mut text = String::new();
            let (mut heap_size, mut heap_wasted) = (0u64, 0u64);
            for b in blocks {
                if !text.is_empty() {
                    text.push(' ');
                }
                block_text(&mut text, b);
                let (s, w) = block_sizes(b);
                heap_size = heap_size.saturating_add(s);
                heap_wasted = heap_wasted.saturating_add(w);
            }
            text.push(' ');
            text.push_str(&size_text(heap_size, heap_wasted));
            text.push('.');
            loader_row(out, &format!("{}:", kind.name()), &text)?;
            size = size.saturating_add(heap_size);
            wasted = wasted.saturating_add(heap_wasted);
        }
        if size > 0 {
            loader_row(out, total_label, &format!("{}.", size_text(size, wasted)))?;
        } else {
            writeln!(out, "No unique loader heaps found.")?;
        }
        divider(out)?;
        total = total.saturating_add(size);
    }
    for manager in &native.jit_managers {
        loader_row(out, "JIT Manager:", &pointer(manager.address))?;
        let mut blocks: Vec<&NativeHeapBlock> = manager.blocks.iter().filter(|b| block_included(filter, b)).collect();
        blocks.sort_by_key(|b| (b.kind, b.start));
        let (mut size, mut wasted) = (0u64, 0u64);
        for b in blocks {
            let mut text = String::new();
            block_text(&mut text, b);
            let (s, w) = block_sizes(b);
            text.push(' ');
            text.push_str(&size_text(s, w));
            text.push('.');
            loader_row(out, &format!("{}:", b.kind.name()), &text)?;
            size = size.saturating_add(s);
            wasted = wasted.saturating_add(w);
        }
        loader_row(out, total_label, &format!("{}.", size_text(size, wasted)))?;
        divider(out)?;
        total = total.saturating_add(size);
    }
    Ok(total)
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

/// Writes eeheap -gc's text for `view`, keeping the segments `filter` lets through;
/// returns the committed size it totals.
pub fn render(view: &GcView, filter: &SegmentFilter, out: &mut dyn Write) -> Result<u64> {
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
    Ok(total_committed)
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

//! The lines the interactive shell prints when it opens a dump: runtime, GC, dump type,
//! heap size and object count.
use crate::render::format::thousands;
use crate::session::Session;
use crate::dump::AddressSpace;
use crate::heap::SizeCache;
use crate::interrupt;
use crate::progress::Progress;
use crate::runtime::gc_vars::GcLayout;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;

/// What kind of dump a file is, judged from what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// Every page of the process, module images included.
    Full,
    /// The heaps and the runtime's data, not the module images.
    Heap,
}

impl fmt::Display for DumpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DumpKind::Full => "full dump",
            DumpKind::Heap => "heap dump",
        })
    }
}

/// A full dump captures every page of the files mapped into the process; a heap dump
/// leaves images out. CoreLib's image is mapped by every .NET process: the dump is full
/// when all of its pages are present.
pub fn dump_kind(space: &AddressSpace) -> DumpKind {
    let core = space.core();
    let ranges: Vec<(u64, u64)> = core
        .files
        .iter()
        .filter(|m| m.path.ends_with("/System.Private.CoreLib.dll"))
        .map(|m| (m.start, m.end))
        .collect();
    if ranges.is_empty() {
        return DumpKind::Heap;
    }
    let all_captured = ranges.iter().all(|&(start, end)| captured(space, start, end) == end - start);
    if all_captured { DumpKind::Full } else { DumpKind::Heap }
}

/// Bytes of `[start, end)` that the dump itself holds.
fn captured(space: &AddressSpace, start: u64, end: u64) -> u64 {
    space
        .core()
        .segments
        .iter()
        .map(|s| {
            let lo = s.vaddr.max(start);
            let hi = (s.vaddr + s.filesz.min(s.memsz)).min(end);
            hi.saturating_sub(lo)
        })
        .sum()
}

/// What the heap holds, counted by one walk.
#[derive(Debug, Clone, Default)]
pub struct HeapCensus {
    /// Objects other than free blocks.
    pub objects: u64,
    /// Bytes of those objects.
    pub object_bytes: u64,
    /// Bytes of the segments in use (objects and free blocks).
    pub heap_bytes: u64,
    /// Every MethodTable seen, with its object count.
    pub types: HashMap<u64, u64>,
    /// Whether Ctrl-C cut the walk short.
    pub partial: bool,
}

/// Walks the whole heap once (segments in parallel), with a progress bar.
pub fn census(session: &Session) -> HeapCensus {
    let heap = &session.heap;
    let free_mt = heap.runtime.globals.free_mt;
    let total: u64 = heap.segments.iter().map(|s| s.end.saturating_sub(s.start)).sum();
    let progress = Progress::new("walking the heap", total);
    let parts: Vec<HeapCensus> = heap
        .segments
        .par_iter()
        .map(|seg| {
            let mut part = HeapCensus::default();
            let mut sizes = SizeCache::default();
            heap.walk_segment(seg, &mut sizes, |o| {
                if o.mt != free_mt {
                    part.objects += 1;
                    part.object_bytes += o.size;
                    *part.types.entry(o.mt).or_default() += 1;
                }
            });
            progress.inc(seg.end.saturating_sub(seg.start));
            part
        })
        .collect();
    let mut census = HeapCensus {
        heap_bytes: total,
        partial: interrupt::cancelled(),
        ..HeapCensus::default()
    };
    for part in parts {
        census.objects += part.objects;
        census.object_bytes += part.object_bytes;
        for (mt, n) in part.types {
            *census.types.entry(mt).or_default() += n;
        }
    }
    census
}

/// The shell's opening lines: `.NET 8.0.33 (8.0.3326.52219), x64, workstation GC (regions, 1
/// heap), heap dump` and `GC heap 3.1 MB, 41,870 objects in 189 types`.
pub fn describe(session: &Session, census: &HeapCensus) -> String {
    let runtime = &session.heap.runtime;
    let heaps = session.heap.heaps.len();
    let mode = match &runtime.gc.layout {
        GcLayout::Workstation { .. } => "workstation",
        GcLayout::Server { .. } if runtime.gc.dynamic_adaptation_mode == Some(1) => "server (DATAS)",
        GcLayout::Server { .. } => "server",
    };
    let layout = if runtime.gc.is_regions() { "regions" } else { "segments" };
    let plural = if heaps == 1 { "" } else { "s" };
    let kind = dump_kind(runtime.space.as_ref());
    format!(
        ".NET {} ({}), {}, {mode} GC ({layout}, {heaps} heap{plural}), {kind}\n\
         GC heap {}, {} objects in {} types{}",
        runtime.version,
        runtime.version.file_version,
        runtime.space.core().arch.name(),
        human_bytes(census.heap_bytes),
        thousands(census.objects),
        thousands(census.types.len() as u64),
        if census.partial { " (walk cancelled: partial counts)" } else { "" },
    )
}

/// `3.1 MB`, `812 KB`, `1.2 GB` (powers of 1024).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} bytes"),
        _ if value >= 100.0 => format!("{value:.0} {}", UNITS[unit]),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 100 * 1024), "3.1 MB");
        assert_eq!(human_bytes(250 * 1024 * 1024), "250 MB");
    }
}

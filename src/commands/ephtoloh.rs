//! `ephtoloh`: references between gen0 objects and the large object heap, both ways, and
//! the first chain gen0 -> large -> gen0, as dotnet-dump prints them.
//!
//! dotnet-dump's own quirks are kept: its generation test keeps gen0 objects only (gen1
//! objects are not looked at, whatever the command's name says); the second table has
//! the first table's headers although its rows go from a large object to a gen0 or gen1
//! object; and the last part prints one chain at most.
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::{Heap, ObjectAddr, ObjectGeneration, SegmentKind, SizeCache};
use crate::render::format::thousands;
use crate::render::table::{Column, Table};
use crate::render::Format;
use crate::session::Session;
use anyhow::Result;
use std::io::Write;

/// ephtoloh has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// Segments past which dotnet-dump warns that the walk takes a moment.
const MANY_SEGMENTS: usize = 50;

/// ClrMD's type cell: the name, or "Unknown".
fn type_of(heap: &Heap, addr: u64) -> String {
    heap.object(ObjectAddr(addr)).map_or_else(|| "Unknown".to_string(), |o| o.type_name().to_string())
}

/// The references of the objects of `segments` (gen0 ones only when `gen0_only`) to
/// valid, non-free objects whose generation passes `wanted`, sorted.
fn links(
    heap: &Heap,
    keep: impl Fn(SegmentKind) -> bool,
    gen0_only: bool,
    wanted: impl Fn(ObjectGeneration) -> bool,
) -> Result<Vec<(u64, u64)>> {
    let mut found = Vec::new();
    let mut sizes = SizeCache::default();
    for seg in heap.segments.iter().filter(|s| keep(s.kind)) {
        let gc_heap = heap.heap_of(seg);
        let mut objects = Vec::new();
        heap.walk_segment(seg, &mut sizes, |o| objects.push(o));
        for o in objects {
            crate::interrupt::check()?;
            if heap.is_free_mt(o.mt) || (gen0_only && seg.generation_of(o.address, gc_heap) != ObjectGeneration::Gen0) {
                continue;
            }
            let Ok(refs) = heap.references(o.address, o.mt, o.size) else { continue };
            for r in refs {
                let valid = heap.object(ObjectAddr(r)).is_some_and(|t| !t.is_free());
                if valid && heap.generation_at(r).is_some_and(&wanted) {
                    found.push((o.address, r));
                }
            }
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// .NET's `List.BinarySearch` by the first object: the index its bisection meets first
/// among equal keys (which entry of a large object dotnet-dump shows depends on it).
fn dotnet_binary_search(list: &[(u64, u64)], key: u64) -> Option<usize> {
    let (mut lo, mut hi) = (0i64, list.len() as i64 - 1);
    while lo <= hi {
        let i = lo + ((hi - lo) >> 1);
        let at = list[i as usize].0;
        if at == key {
            return Some(i as usize);
        }
        if at < key {
            lo = i + 1;
        } else {
            hi = i - 1;
        }
    }
    None
}

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    let walked = heap.segments.iter().filter(|s| s.kind != SegmentKind::Frozen).count();
    if walked > MANY_SEGMENTS {
        let kind = if heap.runtime.gc.is_regions() { "regions" } else { "segments" };
        writeln!(out, "Walking {} {kind}, this may take a moment...", thousands(walked as u64))?;
    }
    let wide_type = Column::TEXT.width(64);
    let mut table = Table::new(&[Column::POINTER, wide_type, Column::POINTER, Column::TEXT]);
    let headers = ["Ephemeral", "Ephemeral Type", "Large Object", "Large Object Type"];

    let eph_to_loh = links(
        heap,
        |k| !matches!(k, SegmentKind::Frozen | SegmentKind::Large | SegmentKind::Gen2 | SegmentKind::Pinned),
        true,
        |g| g == ObjectGeneration::Large,
    )?;
    if eph_to_loh.is_empty() {
        writeln!(out, "No Ephemeral objects pointing to the Large objects.")?;
    } else {
        writeln!(out, "Ephemeral objects pointing to the Large objects:")?;
        writeln!(out)?;
        table.write_header(out, &headers)?;
        for &(from, to) in &eph_to_loh {
            table.write_row(out, &[from.into(), type_of(heap, from).into(), to.into(), type_of(heap, to).into()])?;
        }
        writeln!(out)?;
    }

    let loh_to_eph = links(
        heap,
        |k| k == SegmentKind::Large,
        false,
        |g| matches!(g, ObjectGeneration::Gen0 | ObjectGeneration::Gen1),
    )?;
    if loh_to_eph.is_empty() {
        writeln!(out, "No Large objects pointing to Ephemeral objects.")?;
    } else {
        writeln!(out, "Large objects pointing to Ephemeral objects:")?;
        writeln!(out)?;
        table.write_header(out, &headers)?;
        for &(from, to) in &loh_to_eph {
            table.write_row(out, &[from.into(), type_of(heap, from).into(), to.into(), type_of(heap, to).into()])?;
        }
        writeln!(out)?;
    }

    if !eph_to_loh.is_empty() && !loh_to_eph.is_empty() {
        // dotnet-dump binary-searches the large -> ephemeral list by its first object
        // (any of that object's entries) and prints the first chain it finds only.
        let chain = eph_to_loh
            .iter()
            .find_map(|&(from, to)| dotnet_binary_search(&loh_to_eph, to).map(|i| (from, to, loh_to_eph[i].1)));
        match chain {
            None => writeln!(out, "No Ephemeral objects which point to Large objects which point to Ephemeral objects.")?,
            Some((from, to, end)) => {
                writeln!(out, "Ephemeral objects which point to Large objects which point to Ephemeral objects:")?;
                writeln!(out)?;
                let chain_table = Table::new(&[Column::POINTER, wide_type, Column::POINTER, wide_type, Column::POINTER, Column::TEXT]);
                chain_table.write_row(
                    out,
                    &[
                        from.into(),
                        type_of(heap, from).into(),
                        to.into(),
                        type_of(heap, to).into(),
                        end.into(),
                        type_of(heap, end).into(),
                    ],
                )?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

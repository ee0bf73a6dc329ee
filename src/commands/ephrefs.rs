//! `ephrefs`: the objects of older generations (gen1, gen2, large, pinned) that hold
//! references to younger ones (gen0, and gen1 from gen2 and up), grouped by the pair of
//! generations in the order first met, each with how many references and bytes it holds
//! into the younger generation; then the totals. As dotnet-dump prints it.
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::{Heap, ObjectAddr, ObjectGeneration, SegmentKind, SizeCache};
use crate::render::format::thousands;
use crate::render::table::{Align, Cell, Column, Kind, Table};
use crate::render::Format;
use crate::session::Session;
use anyhow::Result;
use std::collections::HashSet;
use std::io::Write;

/// ephrefs has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// The smallest object (ClrMD counts no object as smaller).
const MIN_OBJECT_SIZE: u64 = 24;

/// ClrMD's name of a generation (`Generation` enum).
fn generation_name(g: ObjectGeneration) -> &'static str {
    match g {
        ObjectGeneration::Gen0 => "Generation0",
        ObjectGeneration::Gen1 => "Generation1",
        ObjectGeneration::Gen2 => "Generation2",
        ObjectGeneration::Large => "Large",
        ObjectGeneration::Pinned => "Pinned",
        ObjectGeneration::Frozen => "Frozen",
    }
}

/// One older object's references into one younger generation.
struct Row {
    object: u64,
    mt: u64,
    size: u64,
    generation: ObjectGeneration,
    referenced: ObjectGeneration,
    count: u64,
    bytes: u64,
}

/// A referenced object's size as ClrMD reports it, when it is a valid, non-free object.
fn referenced_size(heap: &Heap, addr: u64) -> Option<u64> {
    let o = heap.object(ObjectAddr(addr))?;
    if o.is_free() {
        return None;
    }
    Some(o.size().ok()?.max(MIN_OBJECT_SIZE))
}

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    let mut rows: Vec<Row> = Vec::new();
    let mut referenced: HashSet<u64> = HashSet::new();
    let mut referenced_bytes = 0u64;
    let mut sizes = SizeCache::default();
    for seg in heap.segments.iter().filter(|s| !matches!(s.kind, SegmentKind::Gen0 | SegmentKind::Frozen)) {
        let gc_heap = heap.heap_of(seg);
        let mut objects = Vec::new();
        heap.walk_segment(seg, &mut sizes, |o| objects.push(o));
        for o in objects {
            crate::interrupt::check()?;
            if heap.is_free_mt(o.mt) {
                continue;
            }
            let generation = seg.generation_of(o.address, gc_heap);
            if generation == ObjectGeneration::Gen0 {
                continue;
            }
            let Ok(refs) = heap.references(o.address, o.mt, o.size) else { continue };
            let mut young: [Option<Row>; 2] = [None, None];
            for r in refs {
                let Some(size) = referenced_size(heap, r) else { continue };
                let slot = match heap.generation_at(r) {
                    Some(ObjectGeneration::Gen0) => 0,
                    Some(ObjectGeneration::Gen1) if !matches!(generation, ObjectGeneration::Gen0 | ObjectGeneration::Gen1) => 1,
                    _ => continue,
                };
                let row = young[slot].get_or_insert_with(|| Row {
                    object: o.address,
                    mt: o.mt,
                    size: o.size.max(MIN_OBJECT_SIZE),
                    generation,
                    referenced: if slot == 0 { ObjectGeneration::Gen0 } else { ObjectGeneration::Gen1 },
                    count: 0,
                    bytes: 0,
                });
                row.count += 1;
                row.bytes = row.bytes.saturating_add(size);
                if referenced.insert(r) {
                    referenced_bytes = referenced_bytes.saturating_add(size);
                }
            }
            rows.extend(young.into_iter().flatten());
        }
    }

    // Groups in the order first met, each group's objects by address.
    let mut groups: Vec<(ObjectGeneration, ObjectGeneration)> = Vec::new();
    for r in &rows {
        if !groups.contains(&(r.generation, r.referenced)) {
            groups.push((r.generation, r.referenced));
        }
    }
    let enum_width = "Generation0".len();
    let mut table = Table::new(&[
        Column::POINTER,
        Column::POINTER,
        Column::INTEGER,
        Column::new(Align::Left, Some(enum_width), Kind::Text),
        Column::new(Align::Left, Some(enum_width), Kind::Text),
        Column::INTEGER,
        Column::INTEGER,
        Column::TEXT,
    ]);
    let mut printed = 0u64;
    for (i, &(generation, young)) in groups.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "References from {} to {}:",
            generation_name(generation).to_ascii_lowercase(),
            generation_name(young).to_ascii_lowercase()
        )?;
        writeln!(out)?;
        table.write_header(out, &["Object", "MethodTable", "Size", "Obj Gen", "Ref Gen", "Obj Count", "Obj Size", "Type"])?;
        let mut members: Vec<&Row> = rows.iter().filter(|r| (r.generation, r.referenced) == (generation, young)).collect();
        members.sort_by_key(|r| r.object);
        for r in members {
            printed += 1;
            table.write_row(
                out,
                &[
                    r.object.into(),
                    r.mt.into(),
                    r.size.into(),
                    generation_name(r.generation).into(),
                    generation_name(r.referenced).into(),
                    r.count.into(),
                    r.bytes.into(),
                    Cell::from(heap.type_name(r.mt).to_string()),
                ],
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} older generation objects referenced {} younger objects ({} bytes)",
        thousands(printed),
        thousands(referenced.len() as u64),
        thousands(referenced_bytes)
    )?;
    Ok(())
}

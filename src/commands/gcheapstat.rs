//! `gcheapstat [-unreachable|-inclUnrooted|-iu]`: per heap and generation, the bytes
//! allocated, free (with each heap's free share of the small, large and pinned object
//! heaps), unreachable (with `-iu`) and committed, as dotnet-dump prints them.
//!
//! What is counted, as dotnet-dump counts it: a segment of one generation (regions, the
//! segments GC's gen2, LOH and POH segments) adds its `[begin, allocated)` length to
//! "allocated" and its committed memory to "committed"; the segments GC's ephemeral
//! segment adds those to its own `EPH` column and each of its objects' sizes to the
//! object's generation's "allocated" (free blocks to "free" only). Free blocks are counted
//! from the walk everywhere; `-iu` adds the objects no root reaches. dotnet-dump heads a
//! `FRZ` column when a heap has a NonGC segment but never fills it; so does clrheap.
use crate::args::{CommandArgs, OptionSpec};
use crate::graph::live::Liveness;
use crate::heap::{Heap, ObjectGeneration, SegmentKind, SizeCache};
use crate::render::output::{write_csv_records, write_json, Format};
use crate::render::table::{Cell, Column, Table};
use crate::session::Session;
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;

/// gcheapstat's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag(
    "-unreachable",
    "Also count the objects no root reaches (unrooted), per generation.",
)
.or(&["-inclUnrooted", "-iu"])];

/// One generation's (or column's) figures.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    allocated: u64,
    free: u64,
    unrooted: u64,
    committed: u64,
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        self.allocated = self.allocated.saturating_add(other.allocated);
        self.free = self.free.saturating_add(other.free);
        self.unrooted = self.unrooted.saturating_add(other.unrooted);
        self.committed = self.committed.saturating_add(other.committed);
    }
}

/// Columns of one heap: EPH, gen0, gen1, gen2, LOH, POH, FRZ.
const EPH: usize = 0;
const GEN0: usize = 1;
const LOH: usize = 4;
const POH: usize = 5;
const FRZ: usize = 6;

#[derive(Debug, Default, Clone)]
struct HeapFigures {
    /// `None` for the total.
    index: Option<usize>,
    columns: [Figures; 7],
}

fn column_of(generation: ObjectGeneration) -> usize {
    match generation {
        ObjectGeneration::Gen0 => GEN0,
        ObjectGeneration::Gen1 => GEN0 + 1,
        ObjectGeneration::Gen2 => GEN0 + 2,
        ObjectGeneration::Large => LOH,
        ObjectGeneration::Pinned => POH,
        ObjectGeneration::Frozen => FRZ,
    }
}

fn column_of_kind(kind: SegmentKind) -> usize {
    match kind {
        SegmentKind::Gen0 => GEN0,
        SegmentKind::Gen1 => GEN0 + 1,
        SegmentKind::Gen2 => GEN0 + 2,
        SegmentKind::Ephemeral => EPH,
        SegmentKind::Large => LOH,
        SegmentKind::Pinned => POH,
        SegmentKind::Frozen => FRZ,
    }
}

fn measure(heap: &Heap, live: Option<&Liveness>) -> Vec<HeapFigures> {
    let mut heaps: Vec<HeapFigures> = heap
        .heaps
        .iter()
        .map(|h| HeapFigures { index: Some(h.index), ..Default::default() })
        .collect();
    let mut sizes = SizeCache::default();
    for seg in &heap.segments {
        let Some(figures) = heaps.get_mut(seg.heap) else { continue };
        let gc_heap = heap.heap_of(seg);
        let own = column_of_kind(seg.kind);
        let columns = &mut figures.columns;
        columns[own].allocated = columns[own].allocated.saturating_add(seg.end.saturating_sub(seg.start));
        columns[own].committed =
            columns[own].committed.saturating_add(seg.committed.saturating_sub(seg.committed_start()));
        let ephemeral = seg.kind == SegmentKind::Ephemeral;
        heap.walk_segment(seg, &mut sizes, |o| {
            let free = heap.is_free_mt(o.mt);
            let at = if ephemeral { column_of(seg.generation_of(o.address, gc_heap)) } else { own };
            if free {
                columns[at].free = columns[at].free.saturating_add(o.size);
                if ephemeral {
                    columns[EPH].free = columns[EPH].free.saturating_add(o.size);
                }
                return;
            }
            if ephemeral {
                columns[at].allocated = columns[at].allocated.saturating_add(o.size);
            }
            if live.is_some_and(|l| !l.is_live(o.address)) {
                columns[at].unrooted = columns[at].unrooted.saturating_add(o.size);
            }
        });
    }
    heaps
}

fn total(heaps: &[HeapFigures]) -> HeapFigures {
    let mut total = HeapFigures::default();
    for h in heaps {
        for (t, c) in total.columns.iter_mut().zip(&h.columns) {
            t.add(c);
        }
    }
    total
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let unreachable = parsed.flag("-unreachable");
    let liveness = if unreachable { Some(session.liveness()?) } else { None };
    let heaps = measure(&session.heap, liveness.as_deref());
    match format {
        Format::Text => render(&heaps, unreachable, out),
        _ => render_records(&heaps, unreachable, format, out),
    }
}

/// JSON `{"heaps": [{"heap", "generation", "allocated", "free", "unrooted", "committed"}]}`
/// (per heap and column, `heap` null for the total); CSV: those rows.
fn render_records(heaps: &[HeapFigures], unreachable: bool, format: Format, out: &mut dyn Write) -> Result<()> {
    const NAMES: [&str; 7] = ["ephemeral", "gen0", "gen1", "gen2", "loh", "poh", "frozen"];
    let mut records: Vec<Value> = Vec::new();
    let total = total(heaps);
    for h in heaps.iter().chain(std::iter::once(&total)) {
        for (i, c) in h.columns.iter().enumerate() {
            records.push(json!({
                "heap": h.index,
                "generation": NAMES[i],
                "allocated": c.allocated,
                "free": c.free,
                "unrooted": if unreachable { Some(c.unrooted) } else { None },
                "committed": c.committed,
            }));
        }
    }
    if format == Format::Csv {
        return write_csv_records(out, &["heap", "generation", "allocated", "free", "unrooted", "committed"], &records);
    }
    write_json(out, &json!({ "heaps": records }))
}

fn render(heaps: &[HeapFigures], unreachable: bool, out: &mut dyn Write) -> Result<()> {
    let frozen = heaps.iter().any(|h| h.columns[FRZ].committed != 0);
    let ephemeral = heaps.iter().any(|h| h.columns[EPH].committed > 0);
    let mut columns = vec![Column::TEXT.width(8)];
    columns.extend([Column::PLAIN; 5]);
    columns.extend([Column::TEXT.width(8); 3]);
    if frozen {
        columns.insert(1, Column::PLAIN);
    }
    let mut table = Table::new(&columns).all_left();
    let total = total(heaps);

    let header = |table: &mut Table, out: &mut dyn Write| -> std::io::Result<()> {
        let mut labels = vec!["Heap", "Gen0", "Gen1", "Gen2", "LOH", "POH"];
        if frozen {
            labels.push("FRZ");
        }
        if ephemeral {
            labels.insert(1, "EPH");
        }
        table.write_header(out, &labels)
    };
    // The FRZ column is headed, never filled (as dotnet-dump does).
    let row = |table: &Table, out: &mut dyn Write, h: &HeapFigures, pick: fn(&Figures) -> u64, percentages: bool| {
        let mut cells: Vec<Cell> = vec![
            match h.index {
                Some(i) => Cell::from(format!("Heap{i}")),
                None => Cell::from("Total"),
            },
            pick(&h.columns[GEN0]).into(),
            pick(&h.columns[GEN0 + 1]).into(),
            pick(&h.columns[GEN0 + 2]).into(),
            pick(&h.columns[LOH]).into(),
            pick(&h.columns[POH]).into(),
        ];
        if h.columns[EPH].committed > 0 {
            cells.insert(1, pick(&h.columns[EPH]).into());
        }
        if percentages {
            let c = &h.columns;
            let soh = c[GEN0].allocated.saturating_add(c[GEN0 + 1].allocated).saturating_add(c[GEN0 + 2].allocated);
            let soh_value = pick(&c[GEN0]).saturating_add(pick(&c[GEN0 + 1])).saturating_add(pick(&c[GEN0 + 2]));
            for (label, value, of) in [
                ("SOH", soh_value, soh),
                ("LOH", pick(&c[LOH]), c[LOH].allocated),
                ("POH", pick(&c[POH]), c[POH].allocated),
            ] {
                cells.push(match value.checked_mul(100).and_then(|v| v.checked_div(of)) {
                    Some(percent) => Cell::from(format!("{label}:{percent}%")),
                    None => Cell::Empty,
                });
            }
        }
        table.write_row(out, &cells)
    };

    header(&mut table, out)?;
    for h in heaps {
        row(&table, out, h, |f| f.allocated, false)?;
    }
    row(&table, out, &total, |f| f.allocated, false)?;
    writeln!(out)?;

    writeln!(out, "Free space:")?;
    header(&mut table, out)?;
    for h in heaps {
        row(&table, out, h, |f| f.free, true)?;
    }
    row(&table, out, &total, |f| f.free, false)?;
    writeln!(out)?;

    if unreachable {
        writeln!(out, "Unrooted objects:")?;
        header(&mut table, out)?;
        for h in heaps {
            row(&table, out, h, |f| f.unrooted, true)?;
        }
        // dotnet-dump prints an empty line before this total, too.
        writeln!(out)?;
        row(&table, out, &total, |f| f.unrooted, false)?;
        writeln!(out)?;
    }

    writeln!(out, "Committed space:")?;
    header(&mut table, out)?;
    for h in heaps {
        row(&table, out, h, |f| f.committed, false)?;
    }
    row(&table, out, &total, |f| f.committed, false)?;
    writeln!(out)?;
    Ok(())
}

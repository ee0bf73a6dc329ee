//! Object listings as `dumpheap` prints them (dotnet-dump's `DumpHeapService.PrintHeap`):
//! `Address MT Size` rows, then the per-type statistics; or only the addresses. Shared by
//! the commands that list objects (`objsize`, `finalizequeue`), in text and as records.
use super::format::thousands;
use super::output::{hex, write_csv_records, write_json, Format};
use super::stats::{render_stats, sort_rows, stat_records, StatRow, STAT_COLUMNS};
use crate::heap::Heap;
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::Write;

/// How a list of objects is printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListStyle {
    pub short: bool,
    pub stat: bool,
}

/// Prints objects `(address, MethodTable, size)` as dumpheap's listing (header, rows),
/// then the statistics; with `short` only the addresses. Nothing when there are none.
pub fn print_objects(
    heap: &Heap,
    objects: &[(u64, u64, u64)],
    style: ListStyle,
    out: &mut dyn Write,
) -> Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    if style.short {
        for (addr, _, _) in objects {
            writeln!(out, "{addr:012x}")?;
        }
        return Ok(());
    }
    let free = heap.runtime.globals.free_mt;
    if !style.stat {
        writeln!(out, "{:>16} {:>16} {:>14}", "Address", "MT", "Size")?;
        for &(addr, mt, size) in objects {
            writeln!(
                out,
                "{:>16} {:>16} {:>14} {}",
                format!("{addr:012x}"),
                format!("{mt:012x}"),
                thousands(size),
                if mt == free { "Free" } else { "" }
            )?;
        }
        writeln!(out)?;
    }
    render_stats(type_rows(heap, objects), false, out)
}

/// The columns of an object record.
const OBJECT_COLUMNS: [&str; 5] = ["address", "mt", "size", "type", "free"];

/// [`print_objects`] as records, the way `dumpheap` writes them. JSON: with `short`, lines
/// `{"address"}`; else lines `{"address", "mt", "size", "type", "free"}` (not with
/// `stat`), then one summary line: `summary`'s fields, `"statistics": [{"mt", "count",
/// "total_size", "type"}]` (dotnet-dump's order), `"total_objects"`, `"total_bytes"`.
/// CSV: the objects, or with `stat` the statistics.
pub fn write_object_records(
    heap: &Heap,
    objects: &[(u64, u64, u64)],
    style: ListStyle,
    format: Format,
    mut summary: Map<String, Value>,
    out: &mut dyn Write,
) -> Result<()> {
    if style.short {
        let records: Vec<Value> = objects.iter().map(|&(addr, _, _)| json!({ "address": hex(addr) })).collect();
        if format == Format::Csv {
            return write_csv_records(out, &["address"], &records);
        }
        for r in &records {
            write_json(out, r)?;
        }
        return Ok(());
    }
    let free = heap.runtime.globals.free_mt;
    if !style.stat {
        let records: Vec<Value> = objects
            .iter()
            .map(|&(addr, mt, size)| {
                json!({
                    "address": hex(addr),
                    "mt": hex(mt),
                    "size": size,
                    "type": &*heap.type_name(mt),
                    "free": mt == free,
                })
            })
            .collect();
        if format == Format::Csv {
            return write_csv_records(out, &OBJECT_COLUMNS, &records);
        }
        for r in &records {
            write_json(out, r)?;
        }
    }
    let mut rows = type_rows(heap, objects);
    sort_rows(&mut rows, false);
    let records = stat_records(&rows);
    if format == Format::Csv {
        return write_csv_records(out, &STAT_COLUMNS, &records);
    }
    summary.insert("statistics".into(), Value::Array(records));
    summary.insert("total_objects".into(), json!(objects.len()));
    summary.insert("total_bytes".into(), json!(objects.iter().map(|o| o.2).sum::<u64>()));
    write_json(out, &Value::Object(summary))
}

/// Per-type rows of `(address, MethodTable, size)` objects, in first-seen order.
pub fn type_rows(heap: &Heap, objects: &[(u64, u64, u64)]) -> Vec<StatRow> {
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut rows: Vec<StatRow> = Vec::new();
    for &(_, mt, size) in objects {
        let i = *index.entry(mt).or_insert_with(|| {
            rows.push(StatRow {
                mt,
                count: 0,
                size: 0,
                name: heap.type_name(mt).to_string(),
            });
            rows.len() - 1
        });
        rows[i].count += 1;
        rows[i].size += size;
    }
    rows
}

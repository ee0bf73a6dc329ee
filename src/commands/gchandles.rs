//! `gchandles [-stat] [-type <kind>] [-perdomain]`: every GC handle, as dotnet-dump's
//! native SOS command prints them (not the managed table style of the other commands):
//!
//! ```text
//!           Handle Type                  Object     Size             Data Type
//! 00007FA55CFF1170 WeakShort   00007F998841FB18       40                  System.Buffers.SharedArrayPool`1[[System.Char, System.Private.CoreLib]]
//! ```
//!
//! Pointers are 16 uppercase hex digits; columns are `Handle` (right, 16), `Type` (left,
//! 11, cut: `WeakInterio`), `Object` (right, 16), `Size` (right, 8), `Data` (right, 16:
//! a dependent handle's secondary, a weak interior pointer's pointer) and the type name
//! in the DAC's format. Then a blank line and the native statistics table (MT as 16
//! lowercase digits, counts and sizes without separators, sorted by total size, ties by
//! MethodTable *descending*, the order SOS's tree sort leaves them in), `Total N
//! objects`, and the per-kind counts.
//!
//! Handles are listed in handle-table order (table by table, kind by kind). clrheap reads
//! every handle-table slot: under DATAS it lists handles dotnet-dump does not see.
use crate::args::{option_list, OptionSpec, SosArgs};
use crate::render::output::{csv_cell, hex, write_csv_row, write_json, Format};
use crate::render::stats::{render_native_rows, stat_records, write_stat_csv, StatRow};
use crate::session::Session;
use crate::heap::{HandleKind, ObjectAddr};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;

/// The kind names `-type` accepts (case-insensitive) and rows print.
fn kind_name(kind: HandleKind) -> &'static str {
    use HandleKind::*;
    match kind {
        WeakShort => "WeakShort",
        WeakLong => "WeakLong",
        Strong => "Strong",
        Pinned => "Pinned",
        Variable => "Variable",
        RefCounted => "RefCounted",
        Dependent => "Dependent",
        AsyncPinned => "AsyncPinned",
        SizedRef => "SizedRef",
        WeakNativeCom => "WeakWinRT",
        WeakInteriorPointer => "WeakInteriorPointer",
        CrossReference => "Unknown",
    }
}

/// The per-kind count labels, in the order SOS prints them.
const KIND_LABELS: [(&str, HandleKind); 12] = {
    use HandleKind::*;
    [
        ("Strong Handles:", Strong),
        ("Pinned Handles:", Pinned),
        ("Async Pinned Handles:", AsyncPinned),
        ("Ref Count Handles:", RefCounted),
        ("Weak Long Handles:", WeakLong),
        ("Weak Short Handles:", WeakShort),
        ("Weak WinRT Handles:", WeakNativeCom),
        ("Weak Interior Pointer Handles:", WeakInteriorPointer),
        ("Variable Handles:", Variable),
        ("SizedRef Handles:", SizedRef),
        ("Dependent Handles:", Dependent),
        ("Other Handles:", CrossReference),
    ]
};

/// gchandles's options (SOS's native parser: case-insensitive).
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("-type", "<handletype>", "Only handles of this kind (Strong, Weak, Pinned, Dependent, ...)."),
    OptionSpec::flag("-stat", "Only the statistics."),
    OptionSpec::flag("-perdomain", "Accepted for compatibility: .NET Core has one domain."),
];

/// The columns of a handle record.
const HANDLE_COLUMNS: [&str; 7] = ["handle", "kind", "object", "mt", "size", "data", "type"];

/// `gchandles`. JSON: one document `{"handles": [{"handle", "kind", "object", "mt",
/// "size", "data", "type"}] (not with -stat), "statistics": [{"mt", "count",
/// "total_size", "type"}], "total_objects", "handle_counts": [{"kind", "count"}]}`.
/// CSV: the handles, or with `-stat` the statistics.
pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let text = format == Format::Text;
    let parsed = match SosArgs::parse(args, OPTIONS, 0) {
        Ok(p) => p,
        Err(message) => {
            if !text {
                bail!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS));
            }
            write!(out, "{message}Failed to parse command line arguments.")?;
            return Ok(());
        }
    };
    let stat = parsed.has("-stat");
    let mut filter: Option<HandleKind> = None;
    if let Some(t) = parsed.value("-type") {
        let found = (0..=10u8)
            .filter_map(HandleKind::from_raw)
            .find(|k| kind_name(*k).eq_ignore_ascii_case(t));
        match found {
            Some(k) => filter = Some(k),
            None => {
                if !text {
                    bail!("Unknown handle type '{t}'.");
                }
                write!(out, "Unknown handle type '{t}'.")?;
                return Ok(());
            }
        }
    }
    let heap = &session.heap;
    let handles = heap.handles()?;
    let free_mt = heap.runtime.globals.free_mt;
    if !stat && text {
        writeln!(out, "{:>16} {:<11} {:>16} {:>8} {:>16} Type", "Handle", "Type", "Object", "Size", "Data")?;
    }
    if !stat && format == Format::Csv {
        write_csv_row(out, &HANDLE_COLUMNS)?;
    }
    let mut records: Vec<Value> = Vec::new();
    let mut per_mt: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut per_kind: HashMap<HandleKind, u64> = HashMap::new();
    let mut names: HashMap<u64, String> = HashMap::new();
    for h in &handles {
        if filter.is_some_and(|k| k != h.kind) {
            continue;
        }
        *per_kind.entry(h.kind).or_default() += 1;
        let mt = heap.method_table_of(ObjectAddr(h.object)).unwrap_or(0);
        let (name, size) = if mt == free_mt {
            ("<free>".to_string(), 0)
        } else {
            match heap.object_heap_size(ObjectAddr(h.object), mt).ok().zip(heap.dac_type_name(mt).ok()) {
                Some((size, name)) => {
                    let e = per_mt.entry(mt).or_default();
                    e.0 += 1;
                    e.1 += size;
                    names.entry(mt).or_insert_with(|| name.clone());
                    (name, size)
                }
                None => ("<error>".to_string(), 0),
            }
        };
        if !stat && !text {
            let data = match h.kind {
                HandleKind::Dependent | HandleKind::WeakInteriorPointer | HandleKind::WeakNativeCom => hex(h.extra),
                _ => Value::Null,
            };
            let record = json!({
                "handle": hex(h.address),
                "kind": kind_name(h.kind),
                "object": hex(h.object),
                "mt": hex(mt),
                "size": size,
                "data": data,
                "type": name,
            });
            if format == Format::Csv {
                let cells: Vec<String> = HANDLE_COLUMNS.iter().map(|c| csv_cell(&record[*c])).collect();
                write_csv_row(out, &cells)?;
            } else {
                records.push(record);
            }
        } else if !stat {
            let data = match h.kind {
                HandleKind::Dependent | HandleKind::WeakInteriorPointer | HandleKind::WeakNativeCom => {
                    format!("{:016X}", h.extra)
                }
                // The reference count lives with the COM wrapper, which clrheap does not read.
                HandleKind::RefCounted => "0".to_string(),
                _ => String::new(),
            };
            let kind: String = kind_name(h.kind).chars().take(11).collect();
            writeln!(
                out,
                "{:016X} {kind:<11} {:016X} {size:>8} {data:>16} {name}",
                h.address, h.object
            )?;
        }
    }
    let mut rows: Vec<StatRow> = per_mt
        .iter()
        .map(|(&mt, &(count, size))| StatRow { mt, count, size, name: names[&mt].clone() })
        .collect();
    rows.sort_by(|a, b| a.size.cmp(&b.size).then(b.mt.cmp(&a.mt)));
    if !text {
        if format == Format::Csv {
            if stat {
                write_stat_csv(&rows, out)?;
            }
            return Ok(());
        }
        let counts: Vec<Value> = KIND_LABELS
            .iter()
            .filter_map(|&(_, kind)| {
                let n = per_kind.get(&kind).copied().unwrap_or(0);
                (n != 0).then(|| json!({ "kind": kind_name(kind), "count": n }))
            })
            .collect();
        let mut doc = json!({
            "statistics": stat_records(&rows),
            "total_objects": rows.iter().map(|r| r.count).sum::<u64>(),
            "handle_counts": counts,
        });
        if !stat {
            doc["handles"] = Value::Array(records);
        }
        return write_json(out, &doc);
    }
    if !stat {
        writeln!(out)?;
    }
    writeln!(out, "Statistics:")?;
    writeln!(out, "{:>16} {:>8} {:>12} Class Name", "MT", "Count", "TotalSize")?;
    render_native_rows(&rows, out)?;
    let total: u64 = rows.iter().map(|r| r.count).sum();
    writeln!(out, "Total {total} objects")?;
    if filter.is_none() {
        writeln!(out)?;
        writeln!(out, "Handles:")?;
        for (label, kind) in KIND_LABELS {
            let n = per_kind.get(&kind).copied().unwrap_or(0);
            if n != 0 {
                let label: String = label.chars().take(21).collect();
                writeln!(out, "    {label:<21} {n}")?;
            }
        }
    }
    Ok(())
}

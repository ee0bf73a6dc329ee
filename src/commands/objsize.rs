//! `objsize <address>` (and `-mt <MT>`): the objects an object transitively keeps alive,
//! listed and summed as dotnet-dump prints them; and the object listing both `objsize`
//! and `finalizequeue` share (dotnet-dump's `DumpHeapService.PrintHeap`).
//!
//! The closure is a breadth-first walk from the object: each object's references in
//! ClrMD's order (the secondaries of its dependent handles, the LoaderAllocator object of
//! a collectible type, then its GCDesc references),
//! each object listed once, when it is dequeued. With `-mt`, every object of that type
//! starts a walk in heap order, sharing one visited set.
use super::format::{parse_address, thousands};
use super::output::{hex, stat_record, write_csv_records, write_json, Format};
use super::{render_stats, Session, StatRow};
use crate::graph::ObjectId;
use anyhow::{bail, Result};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
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
    session: &Session,
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
    let heap = &session.heap;
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
    render_stats(rows, false, out)
}

/// The columns of an object record.
const OBJECT_COLUMNS: [&str; 5] = ["address", "mt", "size", "type", "free"];

/// [`print_objects`] as records, the way `dumpheap` writes them. JSON: with `short`, lines
/// `{"address"}`; else lines `{"address", "mt", "size", "type", "free"}` (not with
/// `stat`), then one summary line: `summary`'s fields, `"statistics": [{"mt", "count",
/// "total_size", "type"}]` (dotnet-dump's order), `"total_objects"`, `"total_bytes"`.
/// CSV: the objects, or with `stat` the statistics.
pub fn write_object_records(
    session: &Session,
    objects: &[(u64, u64, u64)],
    style: ListStyle,
    format: Format,
    mut summary: Map<String, Value>,
    out: &mut dyn Write,
) -> Result<()> {
    let heap = &session.heap;
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
    // Per MethodTable in first-seen order, stably sorted by total size (as render_stats).
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut rows: Vec<(u64, u64, u64)> = Vec::new();
    for &(_, mt, size) in objects {
        let i = *index.entry(mt).or_insert_with(|| {
            rows.push((mt, 0, 0));
            rows.len() - 1
        });
        rows[i].1 += 1;
        rows[i].2 += size;
    }
    rows.sort_by_key(|r| r.2 as i64);
    let records: Vec<Value> = rows
        .iter()
        .map(|&(mt, count, size)| stat_record(mt, count, size, &heap.type_name(mt)))
        .collect();
    if format == Format::Csv {
        return write_csv_records(out, &["mt", "count", "total_size", "type"], &records);
    }
    summary.insert("statistics".into(), Value::Array(records));
    summary.insert("total_objects".into(), json!(objects.len()));
    summary.insert("total_bytes".into(), json!(objects.iter().map(|o| o.2).sum::<u64>()));
    write_json(out, &Value::Object(summary))
}

/// `objsize`. JSON: the object records, then the summary with `"object"` (the address
/// asked for, or null with `-mt`), `"mt"` (the `-mt` asked for, or null) and `"type"`.
pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let text = format == Format::Text;
    let mut style = ListStyle::default();
    let mut target: Option<String> = None;
    let mut mt_text: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-short" => style.short = true,
            "-stat" | "-summary" => style.stat = true,
            "-strings" => bail!("objsize -strings is not supported by clrheap yet"),
            "-mt" => {
                i += 1;
                match args.get(i) {
                    Some(v) => mt_text = Some(v.clone()),
                    None => bail!("Required argument missing for option: '-mt'."),
                }
            }
            other if target.is_none() => target = Some(other.to_string()),
            other => bail!("Unrecognized command or argument '{other}'."),
        }
        i += 1;
    }
    let graph = session.graph()?;
    let heap = &session.heap;
    let mut summary = Map::new();
    let starts: Vec<ObjectId> = match mt_text {
        Some(mt_text) => {
            let Some(mt) = parse_address(&mt_text) else {
                bail!("Could not parse method table: {mt_text}");
            };
            let name = heap.try_type_name(mt);
            if text {
                writeln!(out, "Objects which ({}) transitively keep alive:", name.as_deref().unwrap_or("<unknown type>"))?;
                writeln!(out)?;
            }
            summary.insert("object".into(), Value::Null);
            summary.insert("mt".into(), hex(mt));
            summary.insert("type".into(), name.as_deref().map_or(Value::Null, |n| json!(n)));
            (0..graph.len() as ObjectId).filter(|&id| graph.mt(id) == mt).collect()
        }
        None => {
            let target_text = target.unwrap_or_default();
            let Some(addr) = parse_address(&target_text) else {
                bail!("Could not parse target object address: {target_text}");
            };
            let Some(id) = graph.id_of(addr).filter(|&id| !graph.is_free(id)) else {
                if !text {
                    bail!("{addr:x} is not a valid object");
                }
                writeln!(out, "{addr:x} is not a valid object")?;
                return Ok(());
            };
            let name = heap.type_name(graph.mt(id));
            if text {
                writeln!(out, "Objects which {addr:x} ({name}) transitively keep alive:")?;
                writeln!(out)?;
            }
            summary.insert("object".into(), hex(addr));
            summary.insert("mt".into(), Value::Null);
            summary.insert("type".into(), json!(&*name));
            vec![id]
        }
    };
    let roots = session.roots()?;
    let mut seen = vec![false; graph.len()];
    let mut queue = VecDeque::new();
    let mut objects = Vec::new();
    for start in starts {
        if std::mem::replace(&mut seen[start as usize], true) {
            continue;
        }
        queue.push_back(start);
        while let Some(id) = queue.pop_front() {
            objects.push((graph.address(id), graph.mt(id), graph.size(id)));
            let ty = graph.type_of(id);
            let la = ty.loader_allocator.and_then(|a| graph.id_of(a));
            let mut own = graph.references(id);
            if la.is_some() && own.last().copied() == la {
                own = &own[..own.len() - 1];
            }
            // ClrMD's order: dependent secondaries, the LoaderAllocator of a collectible
            // type, then the GCDesc references.
            for child in roots.dependents.secondaries(id).chain(la).chain(own.iter().copied()) {
                if !std::mem::replace(&mut seen[child as usize], true) {
                    queue.push_back(child);
                }
            }
        }
    }
    if text {
        print_objects(session, &objects, style, out)
    } else {
        write_object_records(session, &objects, style, format, summary, out)
    }
}

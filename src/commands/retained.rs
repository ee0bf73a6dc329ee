//! `retained`: clrheap's own command (SOS has none like it): what each object keeps alive
//! by itself — its retained size, from the dominator tree of the heap (see
//! [`crate::graph::dominators`]).
//!
//! - `retained <addr>`: the object's size, retained size and number of objects it alone
//!   keeps alive, and the chain of its dominators up to the roots;
//! - `retained [-top N] [-type S]`: the N objects (default 20) with the largest retained
//!   sizes, optionally only those whose type name contains S.
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::render::format::thousands;
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use crate::graph::dominators::Dominators;
use crate::graph::ObjectId;
use anyhow::{bail, Result};
use crate::render::columns::write_columns;
use serde_json::{json, Value};
use std::io::Write;

/// Most dominator links printed for one object (chains are short in practice).
const MAX_CHAIN: usize = 1000;

/// retained's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("-top", "<n>", "How many objects to list, biggest retained size first (default 20)."),
    OptionSpec::valued("-type", "<substring>", "Only objects whose type name contains this."),
];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    let top: usize = match a.value("-top") {
        Some(v) => v.parse().map_err(|_| anyhow::anyhow!("-top takes a number"))?,
        None => 20,
    };
    let type_filter = a.value("-type").map(String::from);
    let mut target = None;
    for word in &a.positional {
        match parse_address(word) {
            Some(addr) if target.is_none() => target = Some(addr),
            Some(_) => bail!("retained takes one address"),
            None => bail!("not an object address: {word}"),
        }
    }
    let graph = session.graph()?;
    let dom = session.dominators()?;
    let heap = &session.heap;
    let describe = |id: ObjectId| {
        json!({
            "address": hex(graph.address(id)),
            "type": &*heap.type_name(graph.mt(id)),
            "size": graph.size(id),
            "retained_size": dom.retained_size(id),
        })
    };
    if let Some(addr) = target {
        let Some(id) = graph.id_of(addr) else {
            bail!("{addr:x} is not the address of an object on the heap");
        };
        let Some(_) = dom.immediate_dominator(id) else {
            bail!("{addr:x} is not reachable from any root: it retains nothing");
        };
        let mut chain = Vec::new();
        let mut cur = dom.immediate_dominator(id);
        while let Some(d) = cur {
            if d == Dominators::ROOT || chain.len() >= MAX_CHAIN {
                break;
            }
            chain.push(d);
            cur = dom.immediate_dominator(d);
        }
        if format != Format::Text {
            let mut record = describe(id);
            record["dominators"] = Value::Array(chain.iter().map(|&d| describe(d)).collect());
            return match format {
                Format::Csv => write_csv_records(out, &["address", "type", "size", "retained_size"], &[record]),
                _ => write_json(out, &record),
            };
        }
        writeln!(out, "Object:        {addr:x} {}", heap.type_name(graph.mt(id)))?;
        writeln!(out, "Size:          {} bytes", thousands(graph.size(id)))?;
        writeln!(out, "Retained size: {} bytes", thousands(dom.retained_size(id)))?;
        if chain.is_empty() {
            writeln!(out, "Dominated by:  the roots only (no single object keeps it alive)")?;
        } else {
            writeln!(out, "Dominated by (nearest first; each one alone keeps it alive):")?;
            let rows = chain.iter().map(|&d| describe(d)).collect::<Vec<_>>();
            write_table(&rows, out)?;
        }
        return Ok(());
    }
    let mut wanted = std::collections::HashMap::new();
    let mut ids: Vec<ObjectId> = Vec::new();
    for id in 0..graph.len() as ObjectId {
        if id % (1 << 16) == 0 {
            crate::interrupt::check()?;
        }
        if dom.retained_size(id) == 0 || graph.is_free(id) {
            continue;
        }
        if let Some(t) = &type_filter
            && !*wanted.entry(graph.mt(id)).or_insert_with(|| heap.type_name(graph.mt(id)).contains(t.as_str()))
        {
            continue;
        }
        ids.push(id);
    }
    // The `top` largest, ties in address order: selected in linear time, then sorted
    // (sorting tens of millions of objects took seconds, with no Ctrl-C).
    let key = |&id: &ObjectId| (std::cmp::Reverse(dom.retained_size(id)), id);
    if top < ids.len() {
        ids.select_nth_unstable_by_key(top, key);
        ids.truncate(top);
    }
    crate::interrupt::check()?;
    ids.sort_unstable_by_key(key);
    let rows: Vec<Value> = ids.iter().map(|&id| describe(id)).collect();
    match format {
        Format::Text => write_table(&rows, out),
        Format::Json => write_json(out, &json!({ "objects": rows, "reachable_objects": dom.reachable() })),
        Format::Csv => write_csv_records(out, &["address", "type", "size", "retained_size"], &rows),
    }
}

/// Objects as a table: address, size, retained size, type (last, unpadded).
fn write_table(rows: &[Value], out: &mut dyn Write) -> Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r["address"].as_str().unwrap_or_default().trim_start_matches("0x").to_string(),
                thousands(r["size"].as_u64().unwrap_or(0)),
                thousands(r["retained_size"].as_u64().unwrap_or(0)),
                r["type"].as_str().unwrap_or_default().to_string(),
            ]
        })
        .collect();
    write_columns(out, &["Address", "Size", "Retained", "Type"], &cells)
}

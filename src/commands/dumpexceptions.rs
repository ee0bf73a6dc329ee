//! `dumpexceptions [-type <text>] [-live] [-dead] [-gen <g>]`: every exception object on
//! the heap, as dotnet-dump lists them.
//!
//! ```text
//!          Address      MethodTable Message Name
//!     7efc7d048d50     7f08585c97d0 System.InvalidOperationException
//!         Message: inventory is negative
//!         StackFrame: DocProc.Ops.Ops.Fail(Int32)
//!
//!     Total: 12 objects
//! ```
//!
//! Objects in heap order whose type derives from `System.Exception`, each with its message
//! (`<null>` when none) and the first frame of the stack trace the runtime recorded in it.
//! `-type` keeps types whose name contains the text (any case); `-live` and `-dead`
//! (together: neither) filter by reachability; `-gen` by generation.
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use crate::heap::segments::ObjectGeneration;
use crate::runtime::exceptions::{is_exception_type, read_exception};
use crate::runtime::stack::clrstack::SourceLines;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use crate::args::{CommandArgs, OptionSpec};

/// dumpexceptions's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("-type", "<text>", "Only exceptions whose type name contains this (any case)."),
    OptionSpec::flag("-live", "Only exceptions reachable from roots."),
    OptionSpec::flag("-dead", "Only exceptions not reachable from roots."),
    OptionSpec::valued("-gen", "<generation>", "Only this generation: gen0, gen1, gen2, loh, poh, foh."),
];

/// A `-gen` value as dotnet-dump's dumpexceptions reads it.
fn parse_generation(text: &str) -> Option<ObjectGeneration> {
    Some(match text.to_ascii_lowercase().as_str() {
        "gen0" => ObjectGeneration::Gen0,
        "gen1" => ObjectGeneration::Gen1,
        "gen2" => ObjectGeneration::Gen2,
        "loh" | "large" => ObjectGeneration::Large,
        "poh" | "pinned" => ObjectGeneration::Pinned,
        "foh" | "frozen" => ObjectGeneration::Frozen,
        _ => return None,
    })
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    let (mut live, mut dead) = (p.flag("-live"), p.flag("-dead"));
    let type_filter = p.value("-type").filter(|t| !t.trim().is_empty()).map(str::to_lowercase);
    let generation = match p.value("-gen").filter(|g| !g.trim().is_empty()) {
        Some(v) => Some(parse_generation(v).ok_or_else(|| {
            anyhow::anyhow!("Unknown generation: {v}. Only gen0, gen1, gen2, loh (large), poh (pinned) and foh (frozen) are supported")
        })?),
        None => None,
    };
    if live && dead {
        live = false;
        dead = false;
    }
    let heap = &session.heap;
    let rt = &heap.runtime;
    let graph = session.graph()?;
    let liveness = if live || dead { Some(session.liveness()?) } else { None };
    let lines = SourceLines::new(rt);
    let mut is_exception: HashMap<u64, bool> = HashMap::new();
    let mut rows: Vec<(u64, u64, String, Option<String>, Option<String>)> = Vec::new();
    for (id, &addr) in graph.addresses().iter().enumerate() {
        let id = id as crate::graph::ObjectId;
        if graph.is_free(id) {
            continue;
        }
        let mt = graph.type_of(id).mt;
        if !*is_exception.entry(mt).or_insert_with(|| is_exception_type(rt, mt)) {
            continue;
        }
        if let Some(l) = &liveness
            && l.is_live(addr) != live
        {
            continue;
        }
        if let Some(g) = generation
            && heap.segment_of(addr).is_none_or(|seg| seg.generation_of(addr, heap.heap_of(seg)) != g)
        {
            continue;
        }
        let name = heap.type_name(mt).to_string();
        if let Some(t) = &type_filter
            && !name.to_lowercase().contains(t.as_str())
        {
            continue;
        }
        let e = read_exception(rt, addr).ok();
        let message = e.as_ref().filter(|e| e.message != 0).map(|e| session.heap.string_value(e.message, 1 << 20).unwrap_or_default());
        let frame = e
            .as_ref()
            .and_then(|e| e.stack_trace.as_ref())
            .and_then(|t| t.first())
            .and_then(|f| lines.method_name(f.method_desc));
        rows.push((addr, mt, name, message, frame));
    }
    if format != Format::Text {
        let records: Vec<Value> = rows
            .iter()
            .map(|(a, mt, name, msg, frame)| json!({ "address": hex(*a), "mt": hex(*mt), "type": name, "message": msg, "stack_frame": frame }))
            .collect();
        return match format {
            Format::Csv => write_csv_records(out, &["address", "mt", "type", "message", "stack_frame"], &records),
            _ => write_json(out, &json!({ "exceptions": records, "total": rows.len() })),
        };
    }
    writeln!(out, "         Address      MethodTable Message Name")?;
    for (addr, mt, name, message, frame) in &rows {
        writeln!(out, "{:>16} {:>16} {name}", format!("{addr:012x}"), format!("{mt:012x}"))?;
        writeln!(out, "        Message: {}", message.as_deref().unwrap_or("<null>"))?;
        if let Some(f) = frame {
            writeln!(out, "        StackFrame: {f}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "    Total: {} objects", rows.len())?;
    Ok(())
}

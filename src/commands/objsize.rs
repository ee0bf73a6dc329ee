//! `objsize <address>` (and `-mt <MT>`): the objects an object transitively keeps alive,
//! listed and summed as dotnet-dump prints them (the listing is
//! [`crate::render::objects`], which `finalizequeue` shares).
//!
//! The closure is a breadth-first walk from the object: each object's references in
//! ClrMD's order (the secondaries of its dependent handles, the LoaderAllocator object of
//! a collectible type, then its GCDesc references),
//! each object listed once, when it is dequeued. With `-mt`, every object of that type
//! starts a walk in heap order, sharing one visited set.
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::graph::ObjectId;
use crate::render::objects::{print_objects, write_object_records, ListStyle};
use crate::render::output::{hex, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::io::Write;

/// objsize's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-short", "Only the addresses."),
    OptionSpec::flag("-strings", "Statistics of string values.").unsupported(),
    OptionSpec::flag("-stat", "Only the statistics.").or(&["-summary"]),
    OptionSpec::valued("-mt", "<mt>", "Every object of this MethodTable, and what they keep alive."),
];

/// `objsize`. JSON: the object records, then the summary with `"object"` (the address
/// asked for, or null with `-mt`), `"mt"` (the `-mt` asked for, or null) and `"type"`.
pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let text = format == Format::Text;
    let a = CommandArgs::parse(args, OPTIONS)?;
    let style = ListStyle { short: a.flag("-short"), stat: a.flag("-stat") };
    let mut words = a.positional.iter();
    let target = words.next().cloned();
    if let Some(extra) = words.next() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let mt_text = a.value("-mt").map(String::from);
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
    let source = graph.ref_source(heap);
    let (mut own, mut scratch) = (Vec::new(), Vec::new());
    for start in starts {
        if std::mem::replace(&mut seen[start as usize], true) {
            continue;
        }
        queue.push_back(start);
        while let Some(id) = queue.pop_front() {
            objects.push((graph.address(id), graph.mt(id), graph.size(id)));
            let ty = graph.type_of(id);
            let la = ty.loader_allocator.and_then(|a| graph.id_of(a));
            own.clear();
            graph.references_into(source, id, &mut own, &mut scratch);
            if la.is_some() && own.last().copied() == la {
                own.pop();
            }
            // ClrMD's order: dependent secondaries, the LoaderAllocator of a collectible
            // type, then the GCDesc references.
            for child in roots.dependents(&graph).secondaries(id).chain(la).chain(own.iter().copied()) {
                if !std::mem::replace(&mut seen[child as usize], true) {
                    queue.push_back(child);
                }
            }
        }
    }
    if text {
        print_objects(heap, &objects, style, out)
    } else {
        write_object_records(heap, &objects, style, format, summary, out)
    }
}

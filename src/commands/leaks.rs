//! `leaks`: clrheap's own leak report for one dump.
//!
//! A leak is memory something keeps alive that nobody will use again; in a heap it shows
//! as an *accumulation point*: one object (usually a collection's storage) that alone keeps
//! alive many objects and a large share of the heap. From the dominator tree:
//!
//! 1. candidates are objects that immediately dominate at least [`MIN_CHILDREN`] objects
//!    and retain at least [`MIN_SHARE`] of the live heap;
//! 2. each is reported with its retained size, what it retains (object counts by type,
//!    biggest first), and how it is rooted — gcroot's first chain, naming the static field
//!    it hangs from — since "who holds it" is the question that ends the hunt;
//! 3. a candidate inside another's subtree is kept only if it is the larger share
//!    (the outer one is then just a wrapper around it); the runtime's statics storage,
//!    which holds every static field of a module, is not a suspect itself.
use crate::args::{CommandArgs, OptionSpec};
use crate::graph::roots::{PathDescriber, PathItem};
use crate::render::format::thousands;
use crate::render::output::{hex, write_json, Format};
use crate::session::Session;
use crate::graph::dominators::Dominators;
use crate::graph::ObjectId;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;

/// An accumulation point holds at least this many objects directly.
const MIN_CHILDREN: usize = 100;
/// ... and retains at least this share of the live heap (parts per thousand).
const MIN_SHARE: u64 = 10;
/// Types listed per suspect.
const TYPES_SHOWN: usize = 8;

struct Suspect {
    id: ObjectId,
    retained: u64,
    children: usize,
    /// (type name, count, bytes) of the retained objects, most numerous first.
    contents: Vec<(String, u64, u64)>,
    root: Option<(String, Vec<PathItem>)>,
}

/// leaks's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::valued("-top", "<n>", "How many suspects to report (default 5).")];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("leaks takes no argument: {extra}");
    }
    let top: usize = match a.value("-top") {
        Some(v) => v.parse().map_err(|_| anyhow::anyhow!("-top takes a number"))?,
        None => 5,
    };
    let graph = session.graph()?;
    let dom = session.dominators()?;
    let heap = &session.heap;
    let children = dom.children();
    let live_bytes: u64 = children.of(Dominators::ROOT).iter().map(|&id| dom.retained_size(id)).sum();
    let threshold = (live_bytes * MIN_SHARE / 1000).max(1);

    // 1. Candidates, biggest first. The runtime's statics storage (arrays holding every
    //    static field of a module) holds everything static: not itself a suspect.
    let statics = session.statics();
    let is_statics_storage = |id: ObjectId| {
        let a = graph.address(id);
        statics.any_slot_in(a, a + graph.size(id))
    };
    let mut candidates: Vec<ObjectId> = (0..graph.len() as ObjectId)
        .filter(|&id| dom.retained_size(id) >= threshold && children.of(id).len() >= MIN_CHILDREN)
        .filter(|&id| !is_statics_storage(id))
        .collect();
    candidates.sort_by_key(|&id| std::cmp::Reverse(dom.retained_size(id)));

    // 2. Drop a candidate whose dominator chain holds a kept one that retains nearly as
    //    much: that one is the same accumulation seen from further up or down.
    let mut kept: Vec<ObjectId> = Vec::new();
    for &c in &candidates {
        let covered = kept.iter().any(|&k| {
            let (outer, inner) = if dominates(&dom, k, c) { (k, c) } else if dominates(&dom, c, k) { (c, k) } else { return false };
            dom.retained_size(inner) * 10 >= dom.retained_size(outer) * 9
        });
        if !covered {
            kept.push(c);
        }
        if kept.len() >= top {
            break;
        }
    }

    // 3. Describe each.
    let roots = session.roots()?;
    let statics_index = || session.statics();
    let describe = PathDescriber { heap, graph: &graph, roots: &roots, statics: &statics_index };
    let mut suspects = Vec::new();
    for id in kept {
        let mut by_type: HashMap<u64, (u64, u64)> = HashMap::new();
        children.subtree(id, |x| {
            if x != id {
                let e = by_type.entry(graph.mt(x)).or_default();
                e.0 += 1;
                e.1 += graph.size(x);
            }
        });
        let mut contents: Vec<(String, u64, u64)> = by_type
            .into_iter()
            .map(|(mt, (n, b))| (heap.type_name(mt).to_string(), n, b))
            .collect();
        contents.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
        suspects.push(Suspect {
            id,
            retained: dom.retained_size(id),
            children: children.of(id).len(),
            contents,
            root: describe.first_root_chain(graph.address(id)),
        });
    }

    let name = |id: ObjectId| heap.type_name(graph.mt(id)).to_string();
    if format != Format::Text {
        let records: Vec<Value> = suspects
            .iter()
            .map(|s| {
                json!({
                    "address": hex(graph.address(s.id)),
                    "type": name(s.id),
                    "retained_size": s.retained,
                    "share_per_mille": s.retained * 1000 / live_bytes.max(1),
                    "objects_held_directly": s.children,
                    "contents": s.contents.iter().map(|(t, n, b)| json!({"type": t, "count": n, "size": b})).collect::<Vec<_>>(),
                    "root": s.root.as_ref().map(|(kind, path)| json!({
                        "kind": kind,
                        "path": path.iter().map(|p| json!({
                            "address": hex(p.address), "type": p.type_name, "static_field": p.static_field, "thread_static": p.thread_static,
                        })).collect::<Vec<_>>(),
                    })),
                })
            })
            .collect();
        return write_json(out, &json!({ "live_bytes": live_bytes, "suspects": records }));
    }
    writeln!(out, "Live heap: {} bytes in {} objects.", thousands(live_bytes), thousands(dom.reachable() as u64))?;
    if suspects.is_empty() {
        writeln!(out, "No single object keeps a large share of the heap alive: no leak suspect.")?;
        return Ok(());
    }
    for (n, s) in suspects.iter().enumerate() {
        writeln!(out)?;
        writeln!(
            out,
            "#{} {:x} {}",
            n + 1,
            graph.address(s.id),
            name(s.id)
        )?;
        writeln!(
            out,
            "   keeps alive {} bytes ({:.1}% of the live heap), {} objects directly:",
            thousands(s.retained),
            s.retained as f64 * 100.0 / live_bytes.max(1) as f64,
            thousands(s.children as u64)
        )?;
        for (t, count, bytes) in s.contents.iter().take(TYPES_SHOWN) {
            writeln!(out, "   {:>12} x {t} ({} bytes)", thousands(*count), thousands(*bytes))?;
        }
        match &s.root {
            Some((kind, path)) => {
                let field = path.iter().find(|p| p.static_field.is_some());
                match field {
                    Some(p) if p.thread_static => writeln!(
                        out,
                        "   held by the thread-static field {}, from a {kind}:",
                        p.static_field.as_deref().unwrap_or_default()
                    )?,
                    Some(p) => writeln!(out, "   held by the static field {}, from a {kind}:", p.static_field.as_deref().unwrap_or_default())?,
                    None => writeln!(out, "   held from a {kind}:")?,
                }
                for p in path {
                    writeln!(out, "      -> {:x} {}", p.address, p.type_name)?;
                }
            }
            None => writeln!(out, "   (no root chain found)")?,
        }
    }
    Ok(())
}

/// Whether `a` dominates `b` (walks `b`'s dominator chain).
fn dominates(dom: &Dominators, a: ObjectId, b: ObjectId) -> bool {
    let mut cur = dom.immediate_dominator(b);
    let mut steps = 0;
    while let Some(d) = cur {
        if d == a {
            return true;
        }
        if d == Dominators::ROOT || steps > 100_000 {
            return false;
        }
        cur = dom.immediate_dominator(d);
        steps += 1;
    }
    false
}

//! The data of `clrheap report`: one dump's summary, its dominator tree grouped by type
//! (for the treemap), its findings with owners and chains, its top types; with several
//! dumps, their growth. Rendered into one HTML page by [`crate::commands::report`].
use super::growth;
use super::{find_all, Context};
use crate::graph::dominators::Dominators;
use crate::graph::roots::PathDescriber;
use crate::graph::ObjectId;
use crate::render::output::hex;
use crate::session::Session;
use anyhow::Result;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Levels of the treemap below the roots.
const TREE_DEPTH: usize = 6;
/// Levels beyond [`TREE_DEPTH`] given to chains: a level whose objects all dominate
/// objects of one type (a dictionary's tables, their bucket array, its nodes) does not
/// count, so the treemap reaches where the chain splits.
const TREE_CHAIN: usize = 12;
/// Groups per treemap node (the rest are summed as one).
const TREE_WIDTH: usize = 24;
/// Groups smaller than this share of the live heap (parts per ten thousand) are not split.
const TREE_MIN: u64 = 20;
/// Types in the top-types table.
const TOP_TYPES: usize = 40;

/// The dominator tree below `ids` (objects of one type, or the roots' children), grouped
/// by type at every level: `{name, value (retained bytes), count, children}`.
fn tree(ctx: &Context, children: &crate::graph::dominators::DominatorChildren, ids: &[ObjectId], depth: usize, chain: usize, min: u64) -> Vec<Value> {
    let mut groups: HashMap<std::sync::Arc<str>, (u64, u64, Vec<ObjectId>)> = HashMap::new();
    for &id in ids {
        let e = groups.entry(ctx.type_name(id)).or_default();
        e.0 = e.0.saturating_add(ctx.dom.retained_size(id));
        e.1 += 1;
        e.2.push(id);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    let mut out = Vec::new();
    let mut rest = (0u64, 0u64);
    for (i, (name, (value, count, members))) in groups.into_iter().enumerate() {
        if i >= TREE_WIDTH || value < min {
            rest.0 = rest.0.saturating_add(value);
            rest.1 += count;
            continue;
        }
        let mut node = json!({ "name": &*name, "value": value, "count": count });
        if depth > 0 {
            let below: Vec<ObjectId> = members.iter().flat_map(|&m| children.of(m).iter().copied()).collect();
            let one_type = below.split_first().is_some_and(|(first, rest)| {
                let t = ctx.type_name(*first);
                rest.iter().all(|&o| ctx.type_name(o) == t)
            });
            let kids = if one_type && chain > 0 {
                tree(ctx, children, &below, depth, chain - 1, min)
            } else {
                tree(ctx, children, &below, depth - 1, chain, min)
            };
            if !kids.is_empty() {
                // What the objects themselves take, beside what they hold.
                let own: u64 = members.iter().fold(0u64, |a, &m| a.saturating_add(ctx.graph.size(m)));
                let mut kids = kids;
                kids.push(json!({ "name": format!("({} itself)", name), "value": own, "count": count }));
                node["children"] = Value::Array(kids);
            }
        }
        out.push(node);
    }
    if rest.0 > 0 {
        out.push(json!({ "name": "(smaller groups)", "value": rest.0, "count": rest.1 }));
    }
    out
}

/// Everything the page shows of one dump.
pub fn dump_data(session: &Session, name: &str) -> Result<Value> {
    let ctx = Context::new(session)?;
    let children = ctx.dom.children();
    let min = ctx.live_bytes.saturating_mul(TREE_MIN) / 10_000;
    let treemap = tree(&ctx, &children, children.of(Dominators::ROOT), TREE_DEPTH, TREE_CHAIN, min);
    let statics_index = || session.statics();
    let describer = PathDescriber { heap: &session.heap, graph: &ctx.graph, roots: &ctx.roots, statics: &statics_index, reverse: Some(&ctx.reverse) };
    let findings: Vec<Value> = find_all(&ctx)?
        .into_iter()
        .map(|f| {
            let chain = f.object.and_then(|id| describer.first_root_chain(ctx.graph.address(id)));
            let mut v = serde_json::to_value(&f).unwrap_or(Value::Null);
            v["waste"] = Value::Bool(f.is_waste());
            v["address"] = f.object.map(|id| hex(ctx.graph.address(id))).unwrap_or(Value::Null);
            v["chain"] = match chain {
                Some((kind, path)) => json!({
                    "kind": kind,
                    "path": path.iter().map(|p| json!({"address": hex(p.address), "type": p.type_name, "static_field": p.static_field})).collect::<Vec<_>>(),
                }),
                None => Value::Null,
            };
            v
        })
        .collect();
    let mut by_type: HashMap<std::sync::Arc<str>, (u64, u64)> = HashMap::new();
    let mut objects = 0u64;
    for id in 0..ctx.graph.len() as ObjectId {
        if super::stop(id) {
            break;
        }
        if ctx.graph.is_free(id) {
            continue;
        }
        objects += 1;
        if ctx.live(id) {
            let e = by_type.entry(ctx.type_name(id)).or_default();
            e.0 += 1;
            e.1 = e.1.saturating_add(ctx.graph.size(id));
        }
    }
    let mut types: Vec<_> = by_type.into_iter().collect();
    types.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
    crate::interrupt::check()?;
    let types: Vec<Value> = types.iter().take(TOP_TYPES).map(|(t, (c, s))| json!({"type": &**t, "count": c, "size": s})).collect();
    let rt = &session.heap.runtime;
    Ok(json!({
        "name": name,
        "runtime": rt.version.to_string(),
        "live_bytes": ctx.live_bytes,
        "live_objects": ctx.dom.reachable(),
        "objects": objects,
        "roots": ctx.roots.all_roots().len(),
        "treemap": { "name": "live heap", "value": ctx.live_bytes, "children": treemap },
        "findings": findings,
        "types": types,
    }))
}

/// The page's data for `dumps` (path, session), the last one shown in full; with several,
/// their growth (see [`growth`]).
pub fn report_data(dumps: &[(String, &Session)]) -> Result<Value> {
    let Some((last_name, last)) = dumps.last() else { anyhow::bail!("no dump") };
    let main = dump_data(last, last_name)?;
    let growth = if dumps.len() >= 2 {
        let snaps: Vec<growth::Snapshot> = dumps.iter().map(|(_, s)| growth::snapshot(s)).collect::<Result<_>>()?;
        let (types, owners) = growth::compare(&snaps);
        json!({
            "dumps": dumps.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "live_bytes": snaps.iter().map(|s| s.live_bytes).collect::<Vec<_>>(),
            "types": types.into_iter().take(12).collect::<Vec<_>>(),
            "owners": owners,
        })
    } else {
        Value::Null
    };
    Ok(json!({ "dump": main, "growth": growth, "generator": format!("clrheap {}", env!("CARGO_PKG_VERSION")) }))
}

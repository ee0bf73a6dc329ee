//! Growth over time: what grows at every step over several dumps of one process.
//!
//! Each dump gives a [`Snapshot`]: its live objects' count and bytes per type name (names,
//! not MethodTables, match across processes), and for the application's own types (not
//! the framework's) what their instances keep alive together and which other application
//! type most of them live inside (in the dominator tree); plus `leaks`' findings by owner.
//! [`compare`] keeps what grows at every step and ranks it: the application's types that
//! are not inside another growing application type first (where a fix goes: a
//! `DocumentCacheEntry` held by a cache, a `RequestTracingMiddleware` held by an event),
//! by what they keep alive; then those inside another (a `DocumentMetadata` inside its
//! `DocumentCacheEntry`), then the framework's types, by bytes.
use super::names::is_framework;
use super::{find_all, Context};
use crate::graph::dominators::Dominators;
use crate::graph::ObjectId;
use crate::session::Session;
use anyhow::Result;
use serde::Serialize;
use std::collections::HashMap;

/// Levels of the dominator tree walked to find the application object an object is in.
const MAX_UP: usize = 64;

/// One type in one dump.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TypeSnap {
    pub count: u64,
    pub size: u64,
    /// What its instances keep alive together (application types only).
    pub retained: u64,
    /// The application type most of its instances are inside (dominator tree).
    pub inside: Option<String>,
}

/// One owner (as `leaks` names it) in one dump.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerSnap {
    pub owner: String,
    pub summary: String,
    pub bytes: u64,
}

/// What one dump holds.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub types: HashMap<String, TypeSnap>,
    /// Per owner key.
    pub owners: HashMap<String, OwnerSnap>,
    pub live_bytes: u64,
    pub live_objects: u64,
}

/// The snapshot of `session`'s dump.
pub fn snapshot(session: &Session) -> Result<Snapshot> {
    let ctx = Context::new(session)?;
    let (graph, dom) = (&ctx.graph, &ctx.dom);
    let mut types: HashMap<String, TypeSnap> = HashMap::new();
    let mut app: HashMap<String, Vec<ObjectId>> = HashMap::new();
    for id in 0..graph.len() as ObjectId {
        if super::stop(id) {
            break;
        }
        if !ctx.live(id) || graph.is_free(id) {
            continue;
        }
        let facts = ctx.facts(id);
        let e = types.entry(facts.name.to_string()).or_default();
        e.count += 1;
        e.size = e.size.saturating_add(graph.size(id));
        if !facts.framework && !facts.array {
            app.entry(facts.name.to_string()).or_default().push(id);
        }
    }
    for (name, ids) in app {
        let t = types.entry(name.clone()).or_default();
        t.retained = ctx.retained_of_set(&ids);
        let mut inside: HashMap<String, u64> = HashMap::new();
        for &id in &ids {
            let mut cur = dom.immediate_dominator(id);
            for _ in 0..MAX_UP {
                let Some(d) = cur.filter(|&d| d != Dominators::ROOT) else { break };
                let f = ctx.facts(d);
                if !f.framework && !f.array && *f.name != *name {
                    *inside.entry(f.name.to_string()).or_default() += 1;
                    break;
                }
                cur = dom.immediate_dominator(d);
            }
        }
        t.inside = inside.into_iter().filter(|&(_, n)| n.saturating_mul(2) > ids.len() as u64).map(|(t, _)| t).next();
    }
    let mut owners = HashMap::new();
    for f in find_all(&ctx)? {
        if let (Some(key), Some(owner)) = (f.owner_key.clone(), f.owner.clone()) {
            owners.entry(key).or_insert(OwnerSnap { owner, summary: f.summary, bytes: f.bytes });
        }
    }
    Ok(Snapshot { types, owners, live_bytes: ctx.live_bytes, live_objects: ctx.dom.reachable() as u64 })
}

/// One type's growth over the dumps.
#[derive(Debug, Clone, Serialize)]
pub struct TypeGrowth {
    #[serde(rename = "type")]
    pub name: String,
    /// Per dump: count, bytes, retained (application types).
    pub counts: Vec<u64>,
    pub sizes: Vec<u64>,
    pub retained: Vec<u64>,
    pub application: bool,
    /// The growing application type it lives inside, if any.
    pub inside: Option<String>,
    /// First to last: objects, bytes, and (application types) what they keep alive.
    pub count_growth: u64,
    pub size_growth: u64,
    pub retained_growth: u64,
}

/// One owner's growth.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerGrowth {
    pub owner_key: String,
    pub owner: String,
    pub summary: String,
    pub bytes: Vec<u64>,
    pub growth: u64,
}

fn grows(v: &[u64]) -> bool {
    v.len() >= 2 && v.windows(2).all(|w| w[1] > w[0])
}

/// Types and owners growing at every step, ranked (see the module's doc).
pub fn compare(snaps: &[Snapshot]) -> (Vec<TypeGrowth>, Vec<OwnerGrowth>) {
    let mut names: Vec<&String> = snaps.iter().flat_map(|s| s.types.keys()).collect();
    names.sort();
    names.dedup();
    let get = |s: &Snapshot, n: &str| s.types.get(n).cloned().unwrap_or_default();
    let mut rows: Vec<TypeGrowth> = names
        .into_iter()
        .filter_map(|n| {
            let per: Vec<TypeSnap> = snaps.iter().map(|s| get(s, n)).collect();
            let counts: Vec<u64> = per.iter().map(|t| t.count).collect();
            if !grows(&counts) {
                return None;
            }
            let sizes: Vec<u64> = per.iter().map(|t| t.size).collect();
            let retained: Vec<u64> = per.iter().map(|t| t.retained).collect();
            let diff = |v: &[u64]| v.last().unwrap_or(&0).saturating_sub(*v.first().unwrap_or(&0));
            Some(TypeGrowth {
                application: !is_framework(n) && !n.ends_with(']'),
                inside: per.last().and_then(|t| t.inside.clone()),
                count_growth: diff(&counts),
                size_growth: diff(&sizes),
                retained_growth: diff(&retained),
                name: n.clone(),
                counts,
                sizes,
                retained,
            })
        })
        .collect();
    let growing: std::collections::HashSet<String> = rows.iter().filter(|r| r.application).map(|r| r.name.clone()).collect();
    for r in &mut rows {
        if r.inside.as_ref().is_some_and(|i| !growing.contains(i)) {
            r.inside = None;
        }
    }
    // Application types outside any other growing one first, then those inside one,
    // then the framework's.
    let rank = |r: &TypeGrowth| match (r.application, r.inside.is_some()) {
        (true, false) => 0,
        (true, true) => 1,
        _ => 2,
    };
    rows.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then(b.retained_growth.max(b.size_growth).cmp(&a.retained_growth.max(a.size_growth)))
            .then(a.name.cmp(&b.name))
    });
    let mut keys: Vec<&String> = snaps.iter().flat_map(|s| s.owners.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut owners: Vec<OwnerGrowth> = keys
        .into_iter()
        .filter_map(|k| {
            let bytes: Vec<u64> = snaps.iter().map(|s| s.owners.get(k).map_or(0, |o| o.bytes)).collect();
            if !grows(&bytes) {
                return None;
            }
            let last = snaps.iter().rev().find_map(|s| s.owners.get(k))?;
            Some(OwnerGrowth {
                owner_key: k.clone(),
                owner: last.owner.clone(),
                summary: last.summary.clone(),
                growth: bytes.last().unwrap_or(&0).saturating_sub(*bytes.first().unwrap_or(&0)),
                bytes,
            })
        })
        .collect();
    owners.sort_by(|a, b| b.growth.cmp(&a.growth).then(a.owner_key.cmp(&b.owner_key)));
    (rows, owners)
}

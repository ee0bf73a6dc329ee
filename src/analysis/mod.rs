//! Leak analyses over one dump's object graph: who owns a suspect (in the user's terms),
//! and the patterns leaks and waste take, found without relying on dominators alone.
//!
//! Layers: above [`crate::graph`] and the [`crate::session`] (which caches the graph,
//! roots, dominators and statics), below [`crate::commands`]: `leaks` and `report` only
//! render what [`find_all`] returns. The graph's internals are not touched: everything
//! here uses its public API (ids, edges, reverse edges, dominators, roots).
//!
//! - [`names`]: type names as users write them (`ConcurrentDictionary<String, Entry>`).
//! - [`collections`]: what a collection object holds (count, capacity, key/value types).
//! - [`owner`]: the nearest object or static field that holds a suspect through a named
//!   field, found walking incoming references upwards (not the far end of a root chain).
//! - [`patterns`]: one finder per pattern (dominator accumulation points, event
//!   subscriptions, unbounded collections, timers, the f-reachable queue, empty
//!   collections) and [`strings`] for duplicate strings; [`find_all`] runs them and
//!   merges the findings that name the same owner, so a cause is reported once.
pub mod collections;
pub mod growth;
pub mod names;
pub mod owner;
pub mod patterns;
pub mod report;
pub mod strings;

use crate::graph::dominators::Dominators;
use crate::graph::roots::RootCache;
use crate::graph::{ObjectGraph, ObjectId, ReverseEdges};
use crate::heap::fields::Field;
use crate::heap::statics::StaticsIndex;
use crate::heap::{Heap, ObjectAddr, Value};
use crate::session::Session;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// What every analysis reads: the session's graph, roots, dominators, plus incoming
/// edges and per-type facts computed here once.
pub struct Context<'s> {
    pub heap: &'s Heap,
    pub graph: Arc<ObjectGraph>,
    pub dom: Arc<Dominators>,
    pub roots: Arc<RootCache>,
    pub reverse: ReverseEdges,
    pub statics: Arc<StaticsIndex>,
    pub session: &'s Session,
    /// Per type index: its facts.
    types: Vec<TypeFacts>,
    /// Per type index: its instance fields, read on first use (shared by the threads of
    /// the analyses that run in parallel).
    fields: Vec<OnceLock<Arc<Vec<Field>>>>,
    collections: OnceLock<Vec<(ObjectId, collections::Collection)>>,
    /// Bytes of the live heap.
    pub live_bytes: u64,
}

/// What the analyses need to know of a type.
#[derive(Debug, Clone)]
pub struct TypeFacts {
    pub name: Arc<str>,
    pub framework: bool,
    pub delegate: bool,
    pub string: bool,
    pub collection: Option<collections::Kind>,
    pub array: bool,
    /// Live instances.
    pub live_count: u64,
}

impl<'s> Context<'s> {
    /// The graph's references (built by [`Context::new`]).
    pub fn edges(&self) -> &crate::graph::Edges {
        self.graph.built_edges().expect("Context::new builds the edges")
    }

    pub fn new(session: &'s Session) -> Result<Context<'s>> {
        let graph = session.graph()?;
        let roots = session.roots()?;
        let statics = session.statics();
        let heap = &session.heap;
        // The analyses follow references both ways: the edge list, built once per session.
        // With an index, the dominator tree is computed from those edges too, on one core
        // (its main pass is sequential), while the incoming edges are built on the other,
        // straight into the index's file (no private memory added to the tree's peak).
        // Without one, the tree builds and frees its own edges first, then the rest.
        let (dom, reverse) = if session.index_dir().is_some() {
            session.edges()?;
            let (dom, reverse) = rayon::join(|| session.dominators(), || session.reverse_edges());
            (dom?, reverse?)
        } else {
            let dom = session.dominators()?;
            session.edges()?;
            (dom, session.reverse_edges()?)
        };
        crate::interrupt::check()?;
        let mut types: Vec<TypeFacts> = graph
            .types()
            .iter()
            .map(|t| {
                let name = heap.type_name(t.mt);
                let fields = if t.is_free {
                    Vec::new()
                } else {
                    heap.type_fields(t.mt).fields
                };
                let delegate = fields
                    .iter()
                    .any(|f| !f.is_static() && f.name == "_invocationCount");
                TypeFacts {
                    framework: names::is_framework(&name),
                    delegate,
                    string: &*name == "System.String",
                    collection: collections::Kind::of(&name),
                    array: name.ends_with(']'),
                    name,
                    live_count: 0,
                }
            })
            .collect();
        // Live bytes and live instances per type, counted on every core.
        const BLOCK: usize = 1 << 16;
        let n = graph.len();
        let (live_bytes, live_counts) = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .fold(
                || (0u64, vec![0u64; types.len()]),
                |(mut bytes, mut counts), b| {
                    if crate::interrupt::cancelled() {
                        return (bytes, counts);
                    }
                    for id in b * BLOCK..((b + 1) * BLOCK).min(n) {
                        let id = id as ObjectId;
                        if dom.immediate_dominator(id).is_some() {
                            bytes = bytes.saturating_add(graph.size(id));
                            if let Some(c) = counts.get_mut(graph.type_index(id)) {
                                *c += 1;
                            }
                        }
                    }
                    (bytes, counts)
                },
            )
            .reduce(
                || (0u64, vec![0u64; types.len()]),
                |(a, mut x), (b, y)| {
                    x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
                    (a.saturating_add(b), x)
                },
            );
        for (t, c) in types.iter_mut().zip(live_counts) {
            t.live_count = c;
        }
        crate::interrupt::check()?;
        Ok(Context {
            heap,
            graph,
            dom,
            roots,
            reverse,
            statics,
            session,
            fields: (0..types.len()).map(|_| OnceLock::new()).collect(),
            types,
            collections: Default::default(),
            live_bytes,
        })
    }

    /// The facts of `id`'s type.
    pub fn facts(&self, id: ObjectId) -> &TypeFacts {
        // `types` is in the graph's type order.
        self.types.get(self.graph.type_index(id)).unwrap_or(&self.types[0])
    }

    pub fn live(&self, id: ObjectId) -> bool {
        self.dom.immediate_dominator(id).is_some()
    }

    pub fn type_name(&self, id: ObjectId) -> Arc<str> {
        self.facts(id).name.clone()
    }

    /// The instance field `name` of object `id` (cached per type).
    pub fn field(&self, id: ObjectId, name: &str) -> Option<Value> {
        let mt = self.graph.mt(id);
        let read = || -> Arc<Vec<Field>> {
            Arc::new(
                self.heap
                    .type_fields(mt)
                    .fields
                    .into_iter()
                    .filter(|f| !f.is_static())
                    .collect(),
            )
        };
        let uncached;
        let fields: &[Field] = match self.fields.get(self.graph.type_index(id)) {
            Some(cell) => cell.get_or_init(read),
            None => {
                uncached = read();
                &uncached
            }
        };
        let f = fields.iter().find(|f| f.name == name)?;
        // The object was walked: its fields are at their offsets from its address.
        self.heap.read_field_at(&f.desc, self.graph.address(id).wrapping_add(f.object_offset())).ok()
    }

    /// Every live collection the analyses recognise, read once.
    pub fn live_collections(&self) -> &[(ObjectId, collections::Collection)] {
        // Read on both cores, in id order.
        // Each block's collections first (the object table), then read, each asked for
        // some collections ahead (see `strings::duplicates`).
        const AHEAD: usize = 8;
        self.collections.get_or_init(|| {
            par_blocks(self.graph.len(), |ids, out| {
                let found: Vec<ObjectId> = ids.filter(|&id| self.facts(id).collection.is_some() && self.live(id)).collect();
                for &id in found.iter().take(AHEAD) {
                    self.heap.space().prefetch(self.graph.address(id));
                }
                for (k, &id) in found.iter().enumerate() {
                    if let Some(&next) = found.get(k + AHEAD) {
                        self.heap.space().prefetch(self.graph.address(next));
                    }
                    if let Some(c) = collections::read(self, id) {
                        out.push((id, c));
                    }
                }
            })
        })
    }

    /// Integer field `inner` of the struct stored inline in field `name` of object `id`
    /// (a ConcurrentQueue segment's `_headAndTail.Head`).
    pub fn struct_int_field(&self, id: ObjectId, name: &str, inner: &str) -> Option<i64> {
        let Value::Struct(data) = self.field(id, name)? else {
            return None;
        };
        let f = self
            .heap
            .type_fields(self.graph.mt(id))
            .fields
            .into_iter()
            .find(|f| !f.is_static() && f.name == name)?;
        let mt = self.heap.field_type_mt(&f.desc)?;
        Some(match crate::heap::ValueObject::new(self.heap, mt, data).field_value(inner)? {
            Value::I4(v) => v as i64,
            Value::U4(v) => v as i64,
            Value::I8(v) => v,
            Value::U8(v) | Value::NativeInt(v) => v as i64,
            _ => return None,
        })
    }

    /// A reference field's object.
    pub fn ref_field(&self, id: ObjectId, name: &str) -> Option<ObjectId> {
        self.graph.id_of(self.field(id, name)?.reference()?)
    }

    /// An integer field (I4, U4, I8, native int).
    pub fn int_field(&self, id: ObjectId, name: &str) -> Option<i64> {
        Some(match self.field(id, name)? {
            Value::I4(v) => v as i64,
            Value::U4(v) => v as i64,
            Value::I8(v) => v,
            Value::U8(v) | Value::NativeInt(v) => v as i64,
            _ => return None,
        })
    }

    /// An array's element count.
    pub fn array_length(&self, id: ObjectId) -> Option<u64> {
        if !self.facts(id).array {
            return None;
        }
        self.heap.component_count(ObjectAddr(self.graph.address(id))).ok().map(u64::from)
    }

    /// Live objects referencing `id`.
    pub fn referrers(&self, id: ObjectId) -> impl Iterator<Item = ObjectId> + '_ {
        self.reverse
            .referrers(id)
            .iter()
            .copied()
            .filter(|&r| self.live(r))
    }

    /// What a set of objects keeps alive together, from the dominator tree: the retained
    /// sizes of its members that no other member dominates. Objects held from two places
    /// are in the retained size of their common dominator, not of either holder: this
    /// counts what freeing the whole set would free, as far as the tree tells.
    pub fn retained_of_set(&self, ids: &[ObjectId]) -> u64 {
        let set: std::collections::HashSet<ObjectId> = ids.iter().copied().collect();
        let mut total = 0u64;
        for &id in &set {
            let mut cur = self.dom.immediate_dominator(id);
            let mut covered = false;
            let mut steps = 0;
            while let Some(d) = cur {
                if d == Dominators::ROOT || steps > 256 {
                    break;
                }
                if set.contains(&d) {
                    covered = true;
                    break;
                }
                cur = self.dom.immediate_dominator(d);
                steps += 1;
            }
            if !covered {
                total = total.saturating_add(self.dom.retained_size(id));
            }
        }
        total
    }

    /// Counts and bytes per type of `ids`, most bytes first.
    pub fn contents(&self, ids: impl IntoIterator<Item = ObjectId>) -> Vec<Contents> {
        let mut by: rustc_hash::FxHashMap<u64, (u64, u64)> = Default::default();
        for id in ids {
            let e = by.entry(self.graph.mt(id)).or_default();
            e.0 += 1;
            e.1 = e.1.saturating_add(self.graph.size(id));
        }
        let mut v: Vec<Contents> = by
            .into_iter()
            .map(|(mt, (count, size))| Contents { type_name: self.heap.type_name(mt).to_string(), count, size })
            .collect();
        v.sort_by(|a, b| b.size.cmp(&a.size).then(b.count.cmp(&a.count)).then(a.type_name.cmp(&b.type_name)));
        v
    }

}

/// Objects of one type in a finding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contents {
    #[serde(rename = "type")]
    pub type_name: String,
    pub count: u64,
    pub size: u64,
}

/// The kinds of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// One object alone keeps many objects and a large share of the heap alive.
    Accumulation,
    /// A multicast delegate with a long invocation list.
    EventSubscriptions,
    /// A collection with many entries, held by a static field or a singleton.
    UnboundedCollection,
    /// Many timers with the same callback still queued.
    UndisposedTimers,
    /// Objects waiting for their finalizer in the f-reachable queue.
    FinalizerQueue,
    /// The same text in many strings (waste).
    DuplicateStrings,
    /// Collections whose storage is empty or mostly empty (waste).
    EmptyCollections,
}

impl Pattern {
    pub fn label(self) -> &'static str {
        match self {
            Pattern::Accumulation => "accumulation point",
            Pattern::EventSubscriptions => "event subscriptions",
            Pattern::UnboundedCollection => "unbounded collection",
            Pattern::UndisposedTimers => "timers never disposed",
            Pattern::FinalizerQueue => "blocked finalizer queue",
            Pattern::DuplicateStrings => "duplicate strings",
            Pattern::EmptyCollections => "empty collections",
        }
    }

    /// Memory spent for nothing, rather than kept by a leak.
    pub fn is_waste(self) -> bool {
        matches!(self, Pattern::DuplicateStrings | Pattern::EmptyCollections)
    }
}

/// One reported cause: a leak or a waste, with its owner, cost and evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// The patterns that found it (several when merged), the first the main one.
    pub patterns: Vec<Pattern>,
    /// The owner in one phrase (see [`owner::Owner::describe`]).
    pub owner: Option<String>,
    /// The owner's holder type and field, for matching across dumps.
    pub owner_key: Option<String>,
    /// Other places holding the same objects (a leak held from two places).
    pub also_held_by: Vec<String>,
    /// What happens, in one phrase ("5,000 RequestTracingMiddleware subscribed ...").
    pub summary: String,
    /// What it costs: retained bytes for a leak, wasted bytes for a waste.
    pub bytes: u64,
    /// The object the finding centres on (its root chain is the finding's chain).
    #[serde(skip)]
    pub object: Option<ObjectId>,
    /// Objects the object holds directly (in the dominator tree), for accumulation points.
    pub objects_held_directly: Option<usize>,
    /// What it keeps (types, counts, sizes), biggest first.
    pub contents: Vec<Contents>,
    /// Further lines (texts of duplicate strings, collection types, timer callbacks).
    pub details: Vec<String>,
    /// Owner keys of the other holders: a finding owned by one of them is this cause
    /// seen from its other holder, and merges into it.
    #[serde(skip)]
    pub related_keys: Vec<String>,
}

impl Finding {
    pub fn is_waste(&self) -> bool {
        self.patterns.first().is_some_and(|p| p.is_waste())
    }
}

/// Every pattern's findings, merged by owner (a cause found by two patterns is reported
/// once, under the first found), leaks first then waste, each biggest first.
///
/// Ctrl-C ([`crate::interrupt`]): the patterns' loops over the objects stop at [`stop`]
/// (their answer then incomplete), and this fails with `Cancelled` after each pattern.
pub fn find_all(ctx: &Context) -> Result<Vec<Finding>> {
    let check = || crate::interrupt::check().map_err(anyhow::Error::from);
    // Duplicate strings (a pass over every string) on one side, the other patterns on
    // the other; the findings in the same order as one after the other.
    let (strings, (mut all, check_rest)) = rayon::join(
        || strings::duplicate_strings_finding(ctx),
        || {
            let mut all = Vec::new();
            let r = (|| -> Result<()> {
                all.extend(patterns::accumulation_points(ctx));
                check()?;
                all.extend(patterns::event_subscriptions(ctx));
                check()?;
                // Timers before collections: a list of timers is better said as timers never disposed.
                all.extend(patterns::undisposed_timers(ctx));
                check()?;
                all.extend(patterns::unbounded_collections(ctx));
                check()?;
                all.extend(patterns::finalizer_queue(ctx));
                check()
            })();
            (all, r)
        },
    );
    check_rest?;
    check()?;
    all.extend(strings);
    all.extend(patterns::empty_collections(ctx));
    check()?;
    Ok(merge(all))
}

/// Whether a loop over the objects, at object `id`, should stop: Ctrl-C was pressed
/// (asked every 4,096 objects). The caller's answer is then incomplete; [`find_all`] and
/// the commands check [`crate::interrupt`] after, and fail.
#[inline]
pub fn stop(id: ObjectId) -> bool {
    id & 0xfff == 0 && crate::interrupt::cancelled()
}

/// `f` of every object id below `n` that gives something, in id order, computed on every
/// core in blocks of 4,096 ids; after Ctrl-C ([`crate::interrupt`]) the blocks not started
/// give nothing (the answer is then incomplete, as with [`stop`]).
pub fn par_ids<T: Send>(n: usize, f: impl Fn(ObjectId) -> Option<T> + Sync) -> Vec<T> {
    const BLOCK: usize = 4096;
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .flat_map_iter(|b| {
            let ids = if crate::interrupt::cancelled() {
                0..0
            } else {
                b * BLOCK..((b + 1) * BLOCK).min(n)
            };
            ids.filter_map(|id| f(id as ObjectId))
        })
        .collect()
}

/// What `f` gives for each block of 4,096 object ids below `n` (it pushes its answers
/// onto the vector it is given), in id order, computed on every core; after Ctrl-C the
/// blocks not started give nothing (as with [`par_ids`]). For scans that look at a
/// block's objects together (to prefetch them).
pub fn par_blocks<T: Send>(n: usize, f: impl Fn(std::ops::Range<ObjectId>, &mut Vec<T>) + Sync) -> Vec<T> {
    const BLOCK: usize = 4096;
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .flat_map_iter(|b| {
            let mut out = Vec::new();
            if !crate::interrupt::cancelled() {
                f((b * BLOCK) as ObjectId..((b + 1) * BLOCK).min(n) as ObjectId, &mut out);
            }
            out
        })
        .collect()
}

/// Merges findings with the same owner: patterns united, the biggest cost kept, the
/// first finding's evidence kept (accumulation points come first: they have contents).
pub fn merge(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        let related = |a: &Finding, b: &Finding| {
            a.owner_key
                .as_ref()
                .is_some_and(|k| b.owner_key.as_ref() == Some(k) || b.related_keys.contains(k))
                || b.owner_key
                    .as_ref()
                    .is_some_and(|k| a.related_keys.contains(k))
        };
        let same = out
            .iter()
            .position(|o| !o.is_waste() && !f.is_waste() && related(o, &f));
        match same {
            Some(i) => {
                let o = &mut out[i];
                for p in f.patterns {
                    if !o.patterns.contains(&p) {
                        o.patterns.push(p);
                    }
                }
                // The event or collection pattern says what happens better than "an
                // accumulation point"; its sentence wins.
                if o.patterns.first() == Some(&Pattern::Accumulation) {
                    o.summary = f.summary;
                    o.patterns.retain(|&p| p != Pattern::Accumulation);
                    o.patterns.push(Pattern::Accumulation);
                }
                o.bytes = o.bytes.max(f.bytes);
                if f.owner_key != o.owner_key
                    && let Some(other) = f.owner
                    && !o.also_held_by.iter().any(|a| a.starts_with(&other))
                {
                    o.also_held_by.push(other);
                }
                for a in f.also_held_by {
                    if !o.also_held_by.contains(&a) {
                        o.also_held_by.push(a);
                    }
                }
                if o.contents.is_empty() {
                    o.contents = f.contents;
                }
                if o.object.is_none() {
                    o.object = f.object;
                }
                o.details.extend(f.details);
                o.related_keys.extend(f.related_keys);
            }
            None => out.push(f),
        }
    }
    out.sort_by(|a, b| a.is_waste().cmp(&b.is_waste()).then(b.bytes.cmp(&a.bytes)));
    out
}

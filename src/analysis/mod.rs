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
pub mod scan;
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

/// What every analysis reads of the objects themselves: the heap, the object table, and
/// per-type facts and fields computed here once. Needs no liveness and no dominators:
/// [`scan`] reads through it while the dominator tree is being computed.
pub struct Objects<'s> {
    pub heap: &'s Heap,
    pub graph: Arc<ObjectGraph>,
    /// Per type index: its facts.
    types: Vec<TypeFacts>,
    /// Per type index: its instance fields, read on first use (shared by the threads of
    /// the analyses that run in parallel).
    fields: Vec<OnceLock<Arc<Vec<Field>>>>,
}

/// What every analysis reads: the objects ([`Objects`], reached through `Deref`), the
/// session's roots and dominators, incoming edges, and what [`scan`] found.
pub struct Context<'s> {
    objects: Objects<'s>,
    pub dom: Arc<Dominators>,
    pub roots: Arc<RootCache>,
    pub reverse: ReverseEdges,
    pub statics: Arc<StaticsIndex>,
    pub session: &'s Session,
    /// Strings, collections and delegates found by [`scan`], dead ones included.
    scanned: scan::Scanned,
    /// Per object id, a bit: live (reachable from the roots).
    live: Vec<u64>,
    /// Bytes of the live heap.
    pub live_bytes: u64,
}

impl<'s> std::ops::Deref for Context<'s> {
    type Target = Objects<'s>;
    fn deref(&self) -> &Objects<'s> {
        &self.objects
    }
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

impl<'s> Objects<'s> {
    /// The objects of `heap`'s `graph`, each type's facts read (live counts 0).
    pub fn new(heap: &'s Heap, graph: Arc<ObjectGraph>) -> Objects<'s> {
        let types: Vec<TypeFacts> = graph
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
        Objects { heap, graph, fields: (0..types.len()).map(|_| OnceLock::new()).collect(), types }
    }

    /// The facts of `id`'s type.
    pub fn facts(&self, id: ObjectId) -> &TypeFacts {
        self.type_facts(self.graph.type_index(id))
    }

    /// The facts of the type at `index` in the graph's type order.
    pub fn type_facts(&self, index: usize) -> &TypeFacts {
        self.types.get(index).unwrap_or(&self.types[0])
    }

    pub fn type_name(&self, id: ObjectId) -> Arc<str> {
        self.facts(id).name.clone()
    }

    /// The instance fields of the type at `index` in the graph's type order (read once
    /// per type).
    pub fn instance_fields(&self, index: usize) -> Arc<Vec<Field>> {
        let read = || -> Arc<Vec<Field>> {
            let Some(t) = self.graph.types().get(index) else { return Arc::default() };
            Arc::new(self.heap.type_fields(t.mt).fields.into_iter().filter(|f| !f.is_static()).collect())
        };
        match self.fields.get(index) {
            Some(cell) => cell.get_or_init(read).clone(),
            None => read(),
        }
    }

    /// The instance field `name` of the type at `index`.
    pub fn instance_field(&self, index: usize, name: &str) -> Option<Field> {
        self.instance_fields(index).iter().find(|f| f.name == name).cloned()
    }

    /// The instance field `name` of object `id` (cached per type).
    pub fn field(&self, id: ObjectId, name: &str) -> Option<Value> {
        let fields = self.instance_fields(self.graph.type_index(id));
        let f = fields.iter().find(|f| f.name == name)?;
        self.field_value(id, f)
    }

    /// Instance field `f` (one of its type's) of object `id`.
    pub fn field_value(&self, id: ObjectId, f: &Field) -> Option<Value> {
        // The object was walked: its fields are at their offsets from its address.
        self.heap.read_field_at(&f.desc, self.graph.address(id).wrapping_add(f.object_offset())).ok()
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
        int_value(self.field(id, name)?)
    }

    /// An array's element count.
    pub fn array_length(&self, id: ObjectId) -> Option<u64> {
        if !self.facts(id).array {
            return None;
        }
        self.heap.component_count(ObjectAddr(self.graph.address(id))).ok().map(u64::from)
    }

    /// Counts and bytes per type of `ids`, most bytes first.
    pub fn contents(&self, ids: impl IntoIterator<Item = ObjectId>) -> Vec<Contents> {
        let mut by: rustc_hash::FxHashMap<u64, (u64, u64)> = Default::default();
        for id in ids {
            let e = by.entry(self.graph.mt(id)).or_default();
            e.0 += 1;
            e.1 = e.1.saturating_add(self.graph.size(id));
        }
        Contents::sorted(self.heap, by)
    }
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
        let mut objects = Objects::new(&session.heap, graph.clone());
        // Strings, collections and delegates need the object table only: they are read
        // while the dominator tree is computed, on whichever core is free ([`scan`]):
        // the incoming edges' side scans once they are built, the tree's side once it
        // is done; what is left after both is scanned on every core.
        let scan = scan::Scan::new(&objects);
        let help_all = || {
            (0..rayon::current_num_threads()).into_par_iter().for_each(|_| scan.help());
        };
        // The analyses follow references both ways: the edge list, built once per session.
        // With an index, the dominator tree is computed from those edges too, on one core
        // (its main pass is sequential), while the incoming edges are built on the other,
        // straight into the index's file (no private memory added to the tree's peak).
        // Without one, the tree builds and frees its own edges first, then the rest.
        let (dom, reverse) = if session.index_dir().is_some() {
            session.edges()?;
            let (dom, reverse) = rayon::join(
                || {
                    let dom = session.dominators();
                    timed("analysis: scan after the tree", help_all);
                    dom
                },
                || {
                    // One task: the other core is computing the tree.
                    let reverse = timed("analysis: incoming edges", || session.reverse_edges_in(1));
                    timed("analysis: scan beside the tree", || scan.help());
                    reverse
                },
            );
            (dom?, reverse?)
        } else {
            let (dom, ()) = rayon::join(
                || {
                    let dom = session.dominators();
                    help_all();
                    dom
                },
                || scan.help(),
            );
            let dom = dom?;
            session.edges()?;
            (dom, session.reverse_edges()?)
        };
        timed("analysis: scan's rest", help_all);
        let scanned = scan.finish();
        crate::interrupt::check()?;
        // Live bytes and live instances per type, counted on every core, and the live
        // objects' bits (what [`Context::live`] asks: a small bitmap, not the tree).
        const BLOCK: usize = 1 << 16;
        let n = graph.len();
        let types = objects.types.len();
        let mut live = vec![0u64; n.div_ceil(64)];
        let (live_bytes, live_counts) = timed("analysis: live counts", || {
            live
                .par_chunks_mut(BLOCK / 64)
                .enumerate()
                .fold(
                    || (0u64, vec![0u64; types]),
                    |(mut bytes, mut counts), (b, words)| {
                        if crate::interrupt::cancelled() {
                            return (bytes, counts);
                        }
                        let ids = (b * BLOCK) as ObjectId..((b + 1) * BLOCK).min(n) as ObjectId;
                        let (idoms, sizes, types) = (dom.immediate_dominators(ids.clone()), graph.sizes_of(ids.clone()), graph.type_indices(ids.clone()));
                        for (((id, d), size), &t) in ids.zip(idoms).zip(sizes).zip(types) {
                            if d.is_some() {
                                let id = id as usize;
                                words[(id % BLOCK) / 64] |= 1 << (id % 64);
                                bytes = bytes.saturating_add(size);
                                if let Some(c) = counts.get_mut(t as usize) {
                                    *c += 1;
                                }
                            }
                        }
                        (bytes, counts)
                    },
                )
                .reduce(
                    || (0u64, vec![0u64; types]),
                    |(a, mut x), (b, y)| {
                        x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
                        (a.saturating_add(b), x)
                    },
                )
        });
        for (t, c) in objects.types.iter_mut().zip(live_counts) {
            t.live_count = c;
        }
        crate::interrupt::check()?;
        Ok(Context { objects, dom, roots, reverse, statics, session, scanned, live, live_bytes })
    }

    /// Whether `id` is reachable from the roots (has an immediate dominator).
    #[inline]
    pub fn live(&self, id: ObjectId) -> bool {
        self.live.get(id as usize / 64).is_some_and(|w| w >> (id % 64) & 1 != 0)
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
}

/// An integer value (I4, U4, I8, native int) as an i64.
pub fn int_value(v: Value) -> Option<i64> {
    Some(match v {
        Value::I4(v) => v as i64,
        Value::U4(v) => v as i64,
        Value::I8(v) => v,
        Value::U8(v) | Value::NativeInt(v) => v as i64,
        _ => return None,
    })
}

/// Objects of one type in a finding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contents {
    #[serde(rename = "type")]
    pub type_name: String,
    pub count: u64,
    pub size: u64,
}

impl Contents {
    /// Counts and bytes per MethodTable, named, most bytes first.
    pub(crate) fn sorted(heap: &crate::heap::Heap, by: rustc_hash::FxHashMap<u64, (u64, u64)>) -> Vec<Contents> {
        let mut v: Vec<Contents> = by
            .into_iter()
            .map(|(mt, (count, size))| Contents { type_name: heap.type_name(mt).to_string(), count, size })
            .collect();
        v.sort_by(|a, b| b.size.cmp(&a.size).then(b.count.cmp(&a.count)).then(a.type_name.cmp(&b.type_name)));
        v
    }
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
        || timed("analysis: duplicate strings", || strings::duplicate_strings_finding(ctx)),
        || {
            let mut all = Vec::new();
            let r = (|| -> Result<()> {
                all.extend(timed("analysis: accumulation_points", || patterns::accumulation_points(ctx)));
                check()?;
                all.extend(timed("analysis: event_subscriptions", || patterns::event_subscriptions(ctx)));
                check()?;
                // Timers before collections: a list of timers is better said as timers never disposed.
                all.extend(timed("analysis: undisposed_timers", || patterns::undisposed_timers(ctx)));
                check()?;
                all.extend(timed("analysis: unbounded_collections", || patterns::unbounded_collections(ctx)));
                check()?;
                all.extend(timed("analysis: finalizer_queue", || patterns::finalizer_queue(ctx)));
                check()
            })();
            (all, r)
        },
    );
    check_rest?;
    check()?;
    all.extend(strings);
    all.extend(timed("analysis: empty_collections", || patterns::empty_collections(ctx)));
    check()?;
    Ok(merge(all))
}

/// Runs `work`; with `CLRHEAP_PHASES` set ([`crate::progress::phases`]), prints its wall
/// time on standard error as the steps with progress do, and the CPU time the whole
/// process spent meanwhile (every thread's: for profiling the analyses).
pub fn timed<T>(label: &str, work: impl FnOnce() -> T) -> T {
    if !crate::progress::phases() {
        return work();
    }
    let cpu = || {
        // SAFETY: getrusage fills the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
        let ms = |t: libc::timeval| t.tv_sec as i64 * 1000 + t.tv_usec as i64 / 1000;
        ms(u.ru_utime) + ms(u.ru_stime)
    };
    let (start, cpu_start) = (std::time::Instant::now(), cpu());
    let t = work();
    eprintln!("phase: {label}: {} ms (cpu {} ms)", start.elapsed().as_millis(), cpu() - cpu_start);
    t
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

//! One finder per pattern. Each returns [`Finding`]s with an owner (see [`super::owner`])
//! and a cost in bytes; [`super::find_all`] merges those naming the same owner.
use super::collections::{self, describe_types};
use super::names::short_type_name;
use super::owner::{self, Owner};
use super::{Context, Finding, Objects, Pattern};
use crate::graph::{ObjectGraph, ObjectId};
use crate::graph::dominators::Dominators;
use crate::render::format::thousands;
use std::collections::HashMap;
use rayon::prelude::*;

/// An accumulation point holds at least this many objects directly (dominator tree) ...
const MIN_CHILDREN: usize = 100;
/// ... and retains at least this share of the live heap (parts per thousand).
const MIN_SHARE: u64 = 10;
/// Most accumulation points reported.
const MAX_ACCUMULATIONS: usize = 10;
/// An invocation list this long is a leak suspect.
const MIN_SUBSCRIBERS: u64 = 64;
/// A collection with this many entries, held by a static or a singleton, is a suspect.
const MIN_ENTRIES: u64 = 1_000;
/// This many timers with one callback still queued are a suspect.
const MIN_TIMERS: usize = 10;
/// Empty collections are reported when they waste at least this many bytes together.
const MIN_WASTE: u64 = 10_000;

/// Whether collection `c` has entries enough to be an unbounded collection.
pub fn many_entries(c: &collections::Collection) -> bool {
    c.count >= MIN_ENTRIES
}

/// Whether collection `c`'s storage is allocated but empty (true), or less than a
/// quarter used (false), with the bytes of it not used; `None` when it is neither, or
/// its entries are not in one array.
pub fn unused_storage(graph: &ObjectGraph, c: &collections::Collection) -> Option<(bool, u64)> {
    let storage = c.storage?;
    if c.capacity == 0 || !c.kind.single_array() {
        return None;
    }
    let size = graph.size(storage);
    if c.count == 0 {
        Some((true, size))
    } else if c.capacity >= 16 && c.count.saturating_mul(4) < c.capacity {
        let unused = size as u128 * (c.capacity - c.count) as u128 / c.capacity as u128;
        Some((false, u64::try_from(unused).unwrap_or(u64::MAX)))
    } else {
        None
    }
}

/// Whether a collection of `kind` with `count` entries in use and room for `capacity`
/// can be kept by [`many_entries`] or [`unused_storage`] (what the scan asks before it
/// finds the storage array: [`collections::Layout::read_kept`]).
pub fn may_be_kept(kind: collections::Kind, count: u64, capacity: u64) -> bool {
    count >= MIN_ENTRIES || (capacity > 0 && kind.single_array() && (count == 0 || capacity >= 16 && count.saturating_mul(4) < capacity))
}

/// Whether delegate `id`'s invocation list is long enough to be looked at.
pub fn long_invocation_list(objects: &Objects, id: ObjectId) -> bool {
    objects.int_field(id, "_invocationCount").unwrap_or(0) >= MIN_SUBSCRIBERS as i64
}

fn share_threshold(ctx: &Context) -> u64 {
    (ctx.live_bytes.saturating_mul(MIN_SHARE) / 1000).max(1)
}

fn with_owner(ctx: &Context, mut f: Finding, owners: &[Owner]) -> Finding {
    if let Some(o) = owners.first() {
        f.owner = Some(o.describe(ctx));
        f.owner_key = Some(o.key(ctx));
    }
    for o in owners.iter().skip(1) {
        let d = o.describe(ctx);
        if f.owner.as_ref() != Some(&d) && !f.also_held_by.contains(&d) {
            f.also_held_by.push(d);
        }
    }
    f
}

fn finding(pattern: Pattern, summary: String, bytes: u64, object: Option<ObjectId>) -> Finding {
    Finding {
        patterns: vec![pattern],
        owner: None,
        owner_key: None,
        also_held_by: Vec::new(),
        summary,
        bytes,
        object,
        objects_held_directly: None,
        contents: Vec::new(),
        details: Vec::new(),
        related_keys: Vec::new(),
    }
}

/// Objects that alone keep many objects and a large share of the heap alive (dominator
/// tree): candidates hold [`MIN_CHILDREN`] objects directly and retain [`MIN_SHARE`]; one
/// inside another's subtree is kept only if it is the larger share. The runtime's statics
/// storage, which holds every static field of a module, is not a suspect itself.
pub fn accumulation_points(ctx: &Context) -> Vec<Finding> {
    let (graph, dom) = (&ctx.graph, &ctx.dom);
    let threshold = share_threshold(ctx);
    // The objects retaining the share (few), then how many objects each holds directly:
    // the tree's child lists are built only for the points kept.
    let big: Vec<ObjectId> = super::par_blocks(graph.len(), |ids, out| {
        out.extend(ids.clone().zip(dom.retained_sizes(ids)).filter(|&(_, &r)| r >= threshold).map(|(id, _)| id));
    });
    let held = children_counts(ctx, &big);
    let mut candidates: Vec<(ObjectId, u32)> = big
        .iter()
        .zip(held)
        .filter(|&(&id, held)| {
            let a = graph.address(id);
            held as usize >= MIN_CHILDREN && !ctx.statics.any_slot_in(a, a.saturating_add(graph.size(id)))
        })
        .map(|(&id, held)| (id, held))
        .collect();
    candidates.sort_by_key(|&(id, _)| std::cmp::Reverse(dom.retained_size(id)));
    let mut kept: Vec<ObjectId> = Vec::new();
    let mut kept_held: Vec<u32> = Vec::new();
    for &(c, held) in &candidates {
        let covered = kept.iter().any(|&k| {
            let (outer, inner) = if dominates(dom, k, c) {
                (k, c)
            } else if dominates(dom, c, k) {
                (c, k)
            } else {
                return false;
            };
            dom.retained_size(inner).saturating_mul(10) >= dom.retained_size(outer).saturating_mul(9)
        });
        if !covered {
            kept.push(c);
            kept_held.push(held);
        }
        if kept.len() >= MAX_ACCUMULATIONS {
            break;
        }
    }
    if kept.is_empty() {
        return Vec::new();
    }
    let mut inside = subtree_contents(ctx, &kept).into_iter();
    kept.into_iter()
        .zip(kept_held)
        .map(|(id, held)| {
            let held = held as usize;
            let top = inside.next().unwrap_or_default();
            let what = top
                .iter()
                .max_by_key(|c| c.count)
                .map(|c| short_type_name(&c.type_name))
                .unwrap_or_default();
            let mut f = finding(
                Pattern::Accumulation,
                format!(
                    "{} holds {} objects directly (most: {what})",
                    short_type_name(&ctx.type_name(id)),
                    thousands(held as u64)
                ),
                dom.retained_size(id),
                Some(id),
            );
            f.objects_held_directly = Some(held);
            f.contents = top;
            with_owner(ctx, f, &owner::owners(ctx, id))
        })
        .collect()
}

/// How many objects each of `parents` (ids in increasing order) immediately dominates:
/// one pass over the dominator tree, on every core.
fn children_counts(ctx: &Context, parents: &[ObjectId]) -> Vec<u32> {
    use std::sync::atomic::{AtomicU32, Ordering};
    if parents.is_empty() {
        return Vec::new();
    }
    let n = ctx.graph.len();
    let mut is_parent = vec![0u64; n.div_ceil(64)];
    for &p in parents {
        if let Some(w) = is_parent.get_mut(p as usize / 64) {
            *w |= 1 << (p % 64);
        }
    }
    let counts: Vec<AtomicU32> = parents.iter().map(|_| AtomicU32::new(0)).collect();
    super::par_blocks(n, |ids, _: &mut Vec<()>| {
        for d in ctx.dom.immediate_dominators(ids).flatten() {
            if is_parent.get(d as usize / 64).is_some_and(|w| w >> (d % 64) & 1 != 0)
                && let Ok(i) = parents.binary_search(&d)
            {
                counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    counts.into_iter().map(AtomicU32::into_inner).collect()
}

/// For each of `kept` (a few objects), what its dominator subtree holds (itself left
/// out), as [`Context::contents`] counts it. One pass over the objects on every core,
/// not the tree's child lists (8 bytes an object): each object's nearest kept strict
/// ancestor is found by walking up its dominator chain, and the answer is kept for every
/// object on the walk (a byte each), so each chain is walked once. A kept object inside
/// another's subtree adds what it holds to the other's.
fn subtree_contents(ctx: &Context, kept: &[ObjectId]) -> Vec<Vec<super::Contents>> {
    use std::sync::atomic::{AtomicU8, Ordering};
    const UNKNOWN: u8 = 0;
    const OUT: u8 = 1;
    if kept.is_empty() || kept.len() > (u8::MAX - 2) as usize {
        return kept.iter().map(|_| Vec::new()).collect();
    }
    let (graph, dom) = (&ctx.graph, &ctx.dom);
    let n = graph.len();
    let state: Vec<AtomicU8> = (0..n).map(|_| AtomicU8::new(UNKNOWN)).collect();
    // The nearest kept object at or above `start` (2 + its index), or OUT; `path` is
    // scratch. Racing threads find and store the same answers.
    let at_or_above = |start: ObjectId, path: &mut Vec<ObjectId>| -> u8 {
        path.clear();
        let mut y = start;
        let found = loop {
            let s = state.get(y as usize).map_or(OUT, |s| s.load(Ordering::Relaxed));
            if s != UNKNOWN {
                break s;
            }
            if let Some(j) = kept.iter().position(|&k| k == y) {
                break 2 + j as u8;
            }
            path.push(y);
            match dom.immediate_dominator(y) {
                // A chain longer than the objects is a loop (not a tree): nothing kept.
                Some(d) if d != Dominators::ROOT && path.len() <= n => y = d,
                _ => break OUT,
            }
        };
        for &p in path.iter() {
            if let Some(s) = state.get(p as usize) {
                s.store(found, Ordering::Relaxed);
            }
        }
        found
    };
    let strictly_above = |x: ObjectId, path: &mut Vec<ObjectId>| match dom.immediate_dominator(x) {
        Some(d) if d != Dominators::ROOT => at_or_above(d, path),
        _ => OUT,
    };
    type Counts = rustc_hash::FxHashMap<(u8, u64), (u64, u64)>;
    let direct: Counts = (0..n.div_ceil(1 << 14))
        .into_par_iter()
        .fold(
            || (Counts::default(), Vec::new()),
            |(mut counts, mut path), b| {
                if crate::interrupt::cancelled() {
                    return (counts, path);
                }
                for x in (b << 14) as ObjectId..((b + 1) << 14).min(n) as ObjectId {
                    let k = strictly_above(x, &mut path);
                    if k >= 2 {
                        let e = counts.entry((k - 2, graph.mt(x))).or_default();
                        e.0 += 1;
                        e.1 = e.1.saturating_add(graph.size(x));
                    }
                }
                (counts, path)
            },
        )
        .map(|(counts, _)| counts)
        .reduce(Counts::default, |mut a, b| {
            for (k, (c, z)) in b {
                let e = a.entry(k).or_default();
                e.0 += c;
                e.1 = e.1.saturating_add(z);
            }
            a
        });
    // Each kept object's nearest kept strict ancestor, then, for each, the kept objects
    // whose chain of those passes through it (itself included).
    let mut path = Vec::new();
    let up: Vec<Option<usize>> = kept.iter().map(|&k| strictly_above(k, &mut path).checked_sub(2).map(usize::from)).collect();
    (0..kept.len())
        .map(|k| {
            let below: Vec<bool> = (0..kept.len())
                .map(|j| {
                    let mut cur = Some(j);
                    for _ in 0..=kept.len() {
                        match cur {
                            Some(c) if c == k => return true,
                            Some(c) => cur = up[c],
                            None => return false,
                        }
                    }
                    false
                })
                .collect();
            let mut by: rustc_hash::FxHashMap<u64, (u64, u64)> = Default::default();
            for (&(j, mt), &(c, z)) in &direct {
                if below.get(j as usize).copied().unwrap_or(false) {
                    let e = by.entry(mt).or_default();
                    e.0 += c;
                    e.1 = e.1.saturating_add(z);
                }
            }
            super::Contents::sorted(ctx.heap, by)
        })
        .collect()
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

/// Multicast delegates with long invocation lists (events subscribed to and never
/// unsubscribed from), grouped by their owner (the publisher's type and event field) and
/// by the subscribers' type. The cost is what the subscriptions keep alive together; the
/// subscriptions' other holders are named (a leak held from two places).
pub fn event_subscriptions(ctx: &Context) -> Vec<Finding> {
    let graph = &ctx.graph;
    struct Group {
        owner: Vec<Owner>,
        delegates: Vec<ObjectId>,
        members: Vec<ObjectId>,
        targets: Vec<ObjectId>,
        target_types: HashMap<String, u64>,
        other_holders: Vec<ObjectId>,
    }
    let mut groups: Vec<(String, Group)> = Vec::new();
    // The delegates with long invocation lists, found by the scan.
    for &id in &ctx.scanned.delegates {
        if crate::interrupt::cancelled() {
            break;
        }
        if !ctx.live(id) {
            continue;
        }
        let count = ctx.int_field(id, "_invocationCount").unwrap_or(0);
        let Some(list) = ctx.ref_field(id, "_invocationList") else {
            continue;
        };
        if count < MIN_SUBSCRIBERS as i64 || !ctx.facts(list).array {
            continue;
        }
        let members: Vec<ObjectId> = ctx
            .edges()
            .references(list)
            .iter()
            .copied()
            .take(count as usize)
            .collect();
        let owners = owner::direct_holders(ctx, id);
        let key = owners
            .first()
            .map(|o| o.key(ctx))
            .unwrap_or_else(|| format!("{:x}", graph.address(id)));
        let i = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((
                    key,
                    Group {
                        owner: owners,
                        delegates: Vec::new(),
                        members: Vec::new(),
                        targets: Vec::new(),
                        target_types: HashMap::new(),
                        other_holders: Vec::new(),
                    },
                ));
                groups.len() - 1
            }
        };
        let g = &mut groups[i].1;
        g.delegates.push(id);
        g.members.push(list);
        for &m in &members {
            g.members.push(m);
            if let Some(t) = ctx.ref_field(m, "_target").filter(|&t| t != m) {
                g.targets.push(t);
                *g.target_types
                    .entry(short_type_name(&ctx.type_name(t)))
                    .or_default() += 1;
            }
            // Held from elsewhere too? (sampled: the first subscribers tell)
            if g.other_holders.len() < 4 && g.members.len() < 64 {
                for r in ctx.referrers(m) {
                    if r != list && !ctx.facts(r).delegate && !g.other_holders.contains(&r) {
                        g.other_holders.push(r);
                    }
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|(_, g)| {
            let mut all = g.members.clone();
            all.extend(&g.targets);
            let bytes = ctx.retained_of_set(&all);
            let mut types: Vec<(String, u64)> = g.target_types.into_iter().collect();
            types.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let subscribers: u64 = types.iter().map(|t| t.1).sum();
            let who = match types.first() {
                Some((t, n)) if *n == subscribers => format!("{} {t}", thousands(*n)),
                Some((t, n)) => format!(
                    "{} subscribers ({} {t}, ...)",
                    thousands(subscribers),
                    thousands(*n)
                ),
                None => format!(
                    "{} static handlers",
                    thousands(g.members.len().saturating_sub(g.delegates.len()) as u64)
                ),
            };
            let mut f = finding(
                Pattern::EventSubscriptions,
                format!("{who} subscribed and never unsubscribed"),
                bytes,
                g.delegates.first().copied(),
            );
            f.contents = ctx.contents(g.targets.iter().copied());
            for (t, n) in types.iter().take(5) {
                f.details
                    .push(format!("{} x {t} subscribed", thousands(*n)));
            }
            let mut f = with_owner(ctx, f, &g.owner);
            for h in g.other_holders {
                for o in owner::owners(ctx, h).into_iter().take(1) {
                    let via = if ctx.facts(h).array {
                        // An array: say whose (the list or set it is the storage of).
                        ctx.referrers(h)
                            .find(|&r| ctx.facts(r).collection.is_some())
                            .unwrap_or(h)
                    } else {
                        h
                    };
                    f.related_keys.push(o.key(ctx));
                    let mut d = o.describe(ctx);
                    if via != o.value {
                        let c = collections::read(ctx, via)
                            .map(|c| format!(", {} entries", thousands(c.count)))
                            .unwrap_or_default();
                        d = format!("{d} through {}{c}", short_type_name(&ctx.type_name(via)));
                    }
                    if !f.also_held_by.contains(&d) {
                        f.also_held_by.push(d);
                    }
                }
            }
            f
        })
        .collect()
}

/// Collections with many entries ([`MIN_ENTRIES`]) held by a static field or by a
/// singleton (an object whose type has one live instance): their count, key and value
/// types, and retained size.
pub fn unbounded_collections(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    // The collections with many entries, found by the scan.
    for (id, c) in &ctx.scanned.large {
        let (id, c) = (*id, c.clone());
        if !ctx.live(id) {
            continue;
        }
        let owners = owner::owners(ctx, id);
        let long_lived = owners.iter().any(|o| match o.holder {
            owner::Holder::Static(_) => true,
            owner::Holder::Object(h) => ctx.facts(h).live_count == 1,
        });
        if !long_lived {
            continue;
        }
        let (name, args) = describe_types(&ctx.type_name(id));
        let types = match args.as_slice() {
            [k, v] => format!("{k} keys, {v} values"),
            [e] => format!("{e} items"),
            _ => "entries".to_string(),
        };
        let retained = ctx.dom.retained_size(id);
        let mut f = finding(
            Pattern::UnboundedCollection,
            format!(
                "{name} grown to {} entries ({types}), never emptied",
                thousands(c.count)
            ),
            retained,
            Some(id),
        );
        f.details.push(format!(
            "{} entries in room for {}",
            thousands(c.count),
            thousands(c.capacity)
        ));
        out.push(with_owner(ctx, f, &owners));
    }
    out
}

/// Timers still queued, grouped by callback: [`MIN_TIMERS`] or more with the same
/// callback were most likely created per operation and never disposed.
pub fn undisposed_timers(ctx: &Context) -> Vec<Finding> {
    let Ok((timers, _)) = ctx.heap.timers() else {
        return Vec::new();
    };
    let mut groups: HashMap<String, Vec<ObjectId>> = HashMap::new();
    for t in timers.iter().filter(|t| !t.canceled) {
        let cb = match &t.callback {
            crate::heap::timers::Callback::Method { type_name, method } => {
                format!("{}.{method}", short_type_name(type_name))
            }
            crate::heap::timers::Callback::Other(o) => short_type_name(o),
            // `timerinfo` reads `_methodPtr` only, as SOS does; a static method's
            // delegate calls it through `_methodPtrAux`.
            _ => delegate_callback(ctx, t.address).unwrap_or_else(|| "an unnamed callback".into()),
        };
        if let Some(id) = ctx.graph.id_of(t.address) {
            groups.entry(cb).or_default().push(id);
        }
    }
    let mut out = Vec::new();
    for (cb, ids) in groups {
        if ids.len() < MIN_TIMERS {
            continue;
        }
        let bytes = ctx.retained_of_set(&ids);
        let mut f = finding(
            Pattern::UndisposedTimers,
            format!(
                "{} timers calling {cb} still queued (never disposed)",
                thousands(ids.len() as u64)
            ),
            bytes,
            ids.first().copied(),
        );
        f.contents = ctx.contents(ids.iter().copied());
        // Whoever keeps the timers (a list of them in a static field, say) owns them.
        // The runtime's timer queue links every queued timer: the owner is found from the
        // user's Timer (Timer -> TimerHolder -> TimerQueueTimer) when there is one.
        let owners = ids
            .first()
            .map(|&id| owner::owners(ctx, user_timer(ctx, id).unwrap_or(id)))
            .unwrap_or_default();
        out.push(with_owner(ctx, f, &owners));
    }
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.summary.cmp(&b.summary)));
    out
}

/// The `System.Threading.Timer` whose `TimerHolder` holds the queued timer `id`.
fn user_timer(ctx: &Context, id: ObjectId) -> Option<ObjectId> {
    let of_type = |x: ObjectId, t: &str| &*ctx.type_name(x) == t;
    let holder = ctx.referrers(id).find(|&r| of_type(r, "System.Threading.TimerHolder"))?;
    ctx.referrers(holder).find(|&r| of_type(r, "System.Threading.Timer"))
}

/// `Type.Method` of a timer's callback delegate, found through the delegate's fields.
fn delegate_callback(ctx: &Context, timer: u64) -> Option<String> {
    let heap = ctx.heap;
    let t = heap.object(crate::heap::ObjectAddr(timer))?;
    let cb = t.reference_field("_timerCallback")?;
    let d = heap.object(cb)?.delegate()?;
    let name = heap.method_desc_name(heap.delegate_method(&d)?)?;
    let name = name.split('(').next().unwrap_or(&name);
    let (ty, method) = name.rsplit_once('.')?;
    Some(format!("{}.{method}", short_type_name(ty)))
}

/// Objects in the f-reachable queue: their finalizer is due and has not run. At a
/// snapshot the queue is normally empty or short; a long one means the finalizer thread
/// is blocked (or too slow), and everything those objects hold waits with them.
pub fn finalizer_queue(ctx: &Context) -> Vec<Finding> {
    let ids: Vec<ObjectId> = ctx
        .roots
        .finalizer
        .iter()
        .filter_map(|r| ctx.graph.id_of(r.object))
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let bytes = ctx.retained_of_set(&ids);
    let contents = ctx.contents(ids.iter().copied());
    let top = contents
        .first()
        .map(|c| format!(" (most: {})", short_type_name(&c.type_name)))
        .unwrap_or_default();
    let mut f = finding(
        Pattern::FinalizerQueue,
        format!(
            "{} objects wait for a finalizer thread that is not running them{top}",
            thousands(ids.len() as u64)
        ),
        bytes,
        ids.first().copied(),
    );
    f.owner = Some("the f-reachable queue (finalizer thread blocked?)".into());
    f.owner_key = Some("<f-reachable queue>".into());
    f.contents = contents;
    vec![f]
}

/// Collections whose storage is allocated but empty, or less than a quarter used, grouped
/// by collection type: the bytes of unused storage are wasted.
pub fn empty_collections(ctx: &Context) -> Vec<Finding> {
    let graph = &ctx.graph;
    // Counted per type index first, then per name (each type named once).
    let mut by_index: rustc_hash::FxHashMap<usize, (u64, u64, u64)> = Default::default(); // empty, mostly empty, bytes
    // The collections with storage unused, found by the scan.
    for u in &ctx.scanned.unused {
        if !ctx.live(u.id) {
            continue;
        }
        let e = by_index.entry(graph.type_index(u.id)).or_default();
        if u.empty {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
        e.2 = e.2.saturating_add(u.bytes);
    }
    let mut by_type: HashMap<String, (u64, u64, u64)> = HashMap::new();
    for (index, (empty, sparse, bytes)) in by_index {
        let name = &ctx.types.get(index).unwrap_or(&ctx.types[0]).name;
        let e = by_type.entry(short_type_name(name)).or_default();
        e.0 += empty;
        e.1 += sparse;
        e.2 = e.2.saturating_add(bytes);
    }
    let total: u64 = by_type.values().fold(0u64, |a, v| a.saturating_add(v.2));
    if total < MIN_WASTE {
        return Vec::new();
    }
    let mut rows: Vec<(String, (u64, u64, u64))> =
        by_type.into_iter().filter(|r| r.1.2 > 0).collect();
    rows.sort_by(|a, b| b.1.2.cmp(&a.1.2).then(a.0.cmp(&b.0)));
    let empty: u64 = rows.iter().map(|r| r.1.0).sum();
    let sparse: u64 = rows.iter().map(|r| r.1.1).sum();
    let mut f = finding(
        Pattern::EmptyCollections,
        format!(
            "{} empty and {} mostly-empty collections waste their storage",
            thousands(empty),
            thousands(sparse)
        ),
        total,
        None,
    );
    for (t, (e, s, b)) in rows.iter().take(10) {
        f.details.push(format!(
            "{} bytes in {} empty and {} mostly-empty {t}",
            thousands(*b),
            thousands(*e),
            thousands(*s)
        ));
    }
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;
    use collections::{Collection, Kind};

    /// What the scan asks before finding a collection's storage array keeps every
    /// collection that [`many_entries`] or [`unused_storage`] keeps.
    #[test]
    fn may_be_kept_keeps_what_the_patterns_keep() {
        let graph = crate::graph::ObjectGraph::from_parts(&[(0x1000, 24), (0x1100, 4096)], &[&[], &[]]);
        let kinds = [Kind::Dictionary, Kind::List, Kind::Hashtable, Kind::ConcurrentQueue, Kind::SortedSet, Kind::LinkedList];
        let values = [0u64, 1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 999, 1000, 1001, 4000, 4001, 1 << 20];
        let (mut kept, mut asked) = (0, 0);
        for kind in kinds {
            for &count in &values {
                for &capacity in &values {
                    for storage in [None, Some(0), Some(1)] {
                        let c = Collection { kind, count, capacity, storage };
                        if many_entries(&c) || unused_storage(&graph, &c).is_some() {
                            kept += 1;
                            assert!(may_be_kept(kind, count, capacity), "{c:?}");
                        }
                        asked += 1;
                    }
                }
            }
        }
        assert!(kept > 100 && kept < asked / 2, "{kept} of {asked}: a test of nothing");
    }
}

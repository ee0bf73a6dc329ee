//! Liveness judged by the GC itself, on `make-dump --gc-after` pairs: BEFORE, then a full
//! blocking non-compacting GC in the same process, then AFTER. A non-compacting GC leaves
//! every survivor at its address, so without any other tool:
//!
//! - **wrongly dead**: an object clrheap calls dead in BEFORE that is still there, same
//!   address and MethodTable, in AFTER. The GC reached it, so a root was missed. Must be
//!   none.
//! - **kept for its finalizer**: such an object that is registered for finalization, or
//!   reached from a dead object that is (the GC keeps those one more cycle). Counted apart,
//!   each named with its reason.
//! - **wrongly live**: an object clrheap calls live in BEFORE that is gone from AFTER. Each
//!   must be explained by the process itself: a live object that referenced it in BEFORE
//!   (directly or through others that are gone too) survives in AFTER without it, so the
//!   program let go of it after the first dump. On the zoo pairs that is one
//!   `WeakReference<EventSource>[]`: `EventListener.s_EventSources` (a `List`) gained an
//!   EventSource after BEFORE and replaced its full `_items` array by a bigger one.
//!
//! Objects on the NonGC (frozen) heap are left out: no GC frees them.
//!
//! The pairs also prove where dotnet-dump is wrong: on .NET 9 and 10 the GC reports each
//! thread's thread-static array without a handle, and the objects only that root reaches
//! (dead to dotnet-dump, which does not know the root) are still there after the GC.
//!
//! Pairs: the lab's `gc-*` dumps and every `NAME.dmp` + `NAME.after.dmp` in the
//! directories of `CLRHEAP_EXTRA_DUMPS`.
mod common;

use clrheap::Session;
use clrheap::dump::DumpOptions;
use clrheap::graph::live::mark;
use clrheap::graph::{ObjectGraph, ObjectId};
use clrheap::heap::{RootKind, SegmentKind};
use std::collections::{HashMap, HashSet, VecDeque};

/// Why the GC kept an object the roots do not reach.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeptFor {
    /// Registered for finalization itself.
    Registered,
    /// Reached from this dead object registered for finalization.
    ReachedFrom(u64),
}

/// Why the GC freed an object the roots reach in BEFORE.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Freed {
    /// This object reached it in BEFORE (through the chain of objects gone too) and
    /// survives in AFTER without it: the process let go of it after the first dump.
    ReleasedBy { referrer: u64, referrer_type: String },
    /// Nothing explains it.
    Unexplained,
}

#[derive(Debug, Default)]
struct Verdict {
    live: usize,
    dead: usize,
    after: usize,
    wrongly_dead: Vec<(u64, String)>,
    kept_for_finalizer: Vec<(u64, String, KeptFor)>,
    wrongly_live: Vec<(u64, String, Freed)>,
    /// Objects only the thread-static roots reach, and how many of them the GC kept.
    thread_static_only: usize,
    thread_static_only_kept: usize,
}

fn open(path: &std::path::Path) -> Session {
    Session::open(path, &DumpOptions::default()).unwrap_or_else(|e| panic!("open {}: {e:#}", path.display()))
}

fn verdict(before: &Session, after: &Session) -> Verdict {
    let bg = before.graph().expect("graph of BEFORE");
    let bedges = bg.edges(&before.heap).expect("edges of BEFORE");
    let ag = after.graph().expect("graph of AFTER");
    let heap = &before.heap;
    let live = before.liveness().expect("liveness");
    let roots = before.roots().expect("roots");
    let type_name = |g: &ObjectGraph, id: ObjectId| heap.type_name(g.mt(id)).to_string();
    let frozen = |a: u64| heap.segment_of(a).is_some_and(|s| s.kind == SegmentKind::Frozen);
    // The same object in AFTER: same address, same MethodTable.
    let in_after = |id: ObjectId| -> Option<ObjectId> {
        let a = ag.id_of(bg.address(id))?;
        (!ag.is_free(a) && ag.mt(a) == bg.mt(id)).then_some(a)
    };
    let counted = |id: ObjectId| !bg.is_free(id) && !frozen(bg.address(id));
    let is_live = |id: ObjectId| live.is_live(bg.address(id));

    let after_frozen = |a: u64| after.heap.segment_of(a).is_some_and(|s| s.kind == SegmentKind::Frozen);
    let after_count = (0..ag.len() as ObjectId).filter(|&i| !ag.is_free(i) && !after_frozen(ag.address(i))).count();
    let mut v = Verdict { after: after_count, ..Default::default() };

    // Dead objects registered for finalization, and what they reach (dependent handles
    // included, as the GC rescans them after promoting the finalizable objects).
    let registered: HashSet<ObjectId> = heap
        .finalization_registered()
        .expect("finalization queue")
        .into_iter()
        .filter_map(|a| bg.id_of(a))
        .collect();
    let mut origin: HashMap<ObjectId, ObjectId> = HashMap::new();
    let mut queue: VecDeque<ObjectId> = VecDeque::new();
    let mut sorted: Vec<ObjectId> = registered.iter().copied().filter(|&id| !is_live(id)).collect();
    sorted.sort_unstable();
    for id in sorted {
        origin.insert(id, id);
        queue.push_back(id);
    }
    let deps: Vec<(ObjectId, ObjectId)> =
        roots.dependent_pairs.iter().filter_map(|&(p, s)| Some((bg.id_of(p)?, bg.id_of(s)?))).collect();
    loop {
        while let Some(id) = queue.pop_front() {
            let from = origin[&id];
            for &r in bedges.references(id) {
                if !is_live(r) && !origin.contains_key(&r) {
                    origin.insert(r, from);
                    queue.push_back(r);
                }
            }
        }
        for &(p, s) in &deps {
            if let Some(&from) = origin.get(&p)
                && !is_live(s)
                && !origin.contains_key(&s)
            {
                origin.insert(s, from);
                queue.push_back(s);
            }
        }
        if queue.is_empty() {
            break;
        }
    }

    let reverse = bedges.reverse();
    for id in (0..bg.len() as ObjectId).filter(|&id| counted(id)) {
        let survived = in_after(id).is_some();
        if is_live(id) {
            v.live += 1;
            if !survived {
                v.wrongly_live.push((bg.address(id), type_name(&bg, id), freed_by(&bg, &reverse, id, &is_live, &in_after, &type_name)));
            }
        } else {
            v.dead += 1;
            if survived {
                let name = type_name(&bg, id);
                match origin.get(&id) {
                    Some(&o) if o == id => v.kept_for_finalizer.push((bg.address(id), name, KeptFor::Registered)),
                    Some(&o) => v.kept_for_finalizer.push((bg.address(id), name, KeptFor::ReachedFrom(bg.address(o)))),
                    None => v.wrongly_dead.push((bg.address(id), name)),
                }
            }
        }
    }

    // The objects only the thread-static roots keep alive, and whether the GC kept them.
    let without: Vec<_> = roots
        .all_roots()
        .into_iter()
        .filter(|r| !matches!(r.kind, RootKind::ThreadStatic { .. }))
        .collect();
    let (live_without, _) = mark(&bg, clrheap::graph::RefSource::Edges(bedges), &without, &roots.dependent_pairs);
    for id in (0..bg.len() as ObjectId).filter(|&id| counted(id) && is_live(id) && !live_without.contains(id)) {
        v.thread_static_only += 1;
        if in_after(id).is_some() {
            v.thread_static_only_kept += 1;
        }
    }
    v
}

/// Why a live object of BEFORE is gone: the nearest live object above it (through live
/// referrers that are gone too) that survives, and so let go of it.
fn freed_by(
    g: &ObjectGraph,
    reverse: &clrheap::graph::ReverseEdges,
    id: ObjectId,
    is_live: &dyn Fn(ObjectId) -> bool,
    in_after: &dyn Fn(ObjectId) -> Option<ObjectId>,
    type_name: &dyn Fn(&ObjectGraph, ObjectId) -> String,
) -> Freed {
    let mut seen: HashSet<ObjectId> = HashSet::from([id]);
    let mut queue: VecDeque<ObjectId> = VecDeque::from([id]);
    while let Some(x) = queue.pop_front() {
        let mut referrers: Vec<ObjectId> = reverse.referrers(x).iter().copied().filter(|&r| is_live(r)).collect();
        referrers.sort_unstable();
        for r in referrers {
            if !seen.insert(r) {
                continue;
            }
            if in_after(r).is_some() {
                return Freed::ReleasedBy { referrer: g.address(r), referrer_type: type_name(g, r) };
            }
            queue.push_back(r);
        }
    }
    Freed::Unexplained
}

const EVENT_SOURCES: &str = "System.WeakReference<System.Diagnostics.Tracing.EventSource>[]";
const EVENT_SOURCE_LIST: &str =
    "System.Collections.Generic.List<System.WeakReference<System.Diagnostics.Tracing.EventSource>>";

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn the_gc_agrees_with_clrheaps_liveness() {
    let pairs = common::gc_pairs("the_gc_agrees_with_clrheaps_liveness");
    let checks = common::Checks::new();
    let lab = common::lab_dir().map(|l| l.join("dumps"));
    let mut lab_pairs = 0;
    for (name, before, after) in &pairs {
        let from_lab = lab.as_deref().is_some_and(|d| before.starts_with(d));
        checks.run(name, "gc-pair", || {
            let (b, a) = (open(before), open(after));
            let v = verdict(&b, &a);
            eprintln!(
                "{name}: {} live, {} dead; after {} objects; wrongly dead {}, kept for a finalizer {}, wrongly live {}; \
                 {} objects only thread statics reach, {} of them kept by the GC",
                v.live,
                v.dead,
                v.after,
                v.wrongly_dead.len(),
                v.kept_for_finalizer.len(),
                v.wrongly_live.len(),
                v.thread_static_only,
                v.thread_static_only_kept
            );
            for (addr, ty, why) in &v.kept_for_finalizer {
                match why {
                    KeptFor::Registered => eprintln!("  kept for its finalizer: {addr:x} {ty} (registered for finalization)"),
                    KeptFor::ReachedFrom(o) => {
                        eprintln!("  kept for a finalizer: {addr:x} {ty} (reached from {o:x}, registered for finalization)")
                    }
                }
            }
            for (addr, ty, why) in &v.wrongly_live {
                eprintln!("  freed by the GC: {addr:x} {ty}: {why:x?}");
            }
            let mut problems = Vec::new();
            if !v.wrongly_dead.is_empty() {
                let shown: Vec<String> = v.wrongly_dead.iter().take(10).map(|(a, t)| format!("{a:x} {t}")).collect();
                problems.push(format!("{} objects called dead that the GC kept: {}", v.wrongly_dead.len(), shown.join(", ")));
            }
            for (addr, ty, why) in &v.wrongly_live {
                if *why == Freed::Unexplained {
                    problems.push(format!("{addr:x} {ty} is called live but the GC freed it, and no surviving object let go of it"));
                }
            }
            // Every thread-static-only object the GC saw: it kept them all.
            if v.thread_static_only_kept != v.thread_static_only {
                problems.push(format!(
                    "{} objects only thread statics reach, but the GC kept {}",
                    v.thread_static_only, v.thread_static_only_kept
                ));
            }
            // The lab's pairs, named.
            if from_lab && name.starts_with("gc-zoo-") {
                let named: Vec<(&str, &str)> = v
                    .wrongly_live
                    .iter()
                    .map(|(_, t, why)| match why {
                        Freed::ReleasedBy { referrer_type, .. } => (t.as_str(), referrer_type.as_str()),
                        Freed::Unexplained => (t.as_str(), ""),
                    })
                    .collect();
                if named != [(EVENT_SOURCES, EVENT_SOURCE_LIST)] {
                    problems.push(format!(
                        "wrongly live {named:?}, want the {EVENT_SOURCES} that EventListener.s_EventSources replaced"
                    ));
                }
            }
            if from_lab && (name == "gc-seed-net10-wks-heap" || name == "gc-zoo-net9-datas-heap") {
                // dotnet-dump is wrong here: what only thread statics reach, the GC kept.
                if v.thread_static_only == 0 {
                    problems.push("no object only thread statics reach (the lab pair has some)".into());
                }
            }
            if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
        });
        if from_lab {
            lab_pairs += 1;
        }
    }
    checks.finish("the_gc_agrees_with_clrheaps_liveness");
    if common::lab_dir().is_some() {
        assert!(lab_pairs >= 3, "only {lab_pairs} of the lab's GC pairs found");
    }
}

/// The thread-static layout agrees with the .NET 10 contract descriptor, and on every lab
/// dump of 9 and 10 each live thread's `ThreadLocalData` points back at its thread.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn thread_statics_layout_agrees_with_the_descriptor() {
    let checks = common::Checks::new();
    for (name, dump, _) in common::lab_dumps("thread_statics_layout_agrees_with_the_descriptor") {
        checks.run(&name, "thread-statics", || {
            let session = open(&dump);
            let rt = &session.heap.runtime;
            let Some(offset) = rt.layout.thread.local_data else {
                return Ok(()); // .NET 8: thread statics behind handles
            };
            if let Some(d) = &rt.descriptor
                && let Some(want) = d.field("Thread", "ThreadLocalDataPtr")
            {
                if want != offset {
                    return Err(format!("Thread.ThreadLocalDataPtr is +{want} in the descriptor, +{offset} in layouts.rs"));
                }
                if d.field("ThreadLocalData", "NonCollectibleTlsArrayData") != Some(8) {
                    return Err("ThreadLocalData.NonCollectibleTlsArrayData moved".into());
                }
            }
            let (roots, warnings) = session.heap.thread_static_roots();
            if !warnings.is_empty() {
                return Err(format!("warnings: {warnings:?}"));
            }
            // The main thread has thread statics in every scenario (the console's).
            if roots.is_empty() {
                return Err("no thread-static roots".into());
            }
            Ok(())
        });
    }
    checks.finish("thread_statics_layout_agrees_with_the_descriptor");
}

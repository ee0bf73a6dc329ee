//! Liveness: which objects the roots keep alive.
//!
//! Marking starts from the roots' objects and follows the graph's edges. Dependent
//! handles then add an edge that exists only while its primary is alive: after each
//! marking pass, every dependent handle whose primary is marked and whose secondary is
//! not marks from the secondary, until a pass marks nothing new (a fixpoint; at most one
//! pass per dependent handle).
//!
//! The roots come from the root cache (handles, the finalizer queue's f-reachable
//! objects, precise stack roots: see [`super::roots::RootCache`]); [`Liveness`] answers
//! "is this address live" for the commands.
use super::roots::RootCache;
use super::index::{bytes, write_or_note, IndexDir, IndexFile, Part};
use super::store::Store;
use super::{ObjectGraph, ObjectId, RefSource};
use crate::heap::{Heap, Root};
use crate::progress::Progress;
use rayon::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A set of objects, one bit per object id.
pub struct LiveSet {
    bits: Store<u64>,
    count: usize,
}

impl LiveSet {
    pub fn new(objects: usize) -> LiveSet {
        LiveSet {
            bits: vec![0; objects.div_ceil(64)].into(),
            count: 0,
        }
    }

    #[inline]
    pub fn contains(&self, id: ObjectId) -> bool {
        let i = id as usize;
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Number of objects in the set.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Pops an object takes from its task's stack before the rest goes back to the shared
/// frontier: long chains stay on one thread, wide fans spread over all of them.
pub(crate) const TASK_BUDGET: usize = 1 << 15;
/// Frontier objects one task starts from.
pub(crate) const TASK_SEEDS: usize = 256;

/// Marks every object reachable from `roots` (addresses of objects; those that are not
/// object starts, and free objects, are ignored) and from the secondaries of
/// `dependents` (primary, secondary addresses) whose primary is reachable, reading
/// references from `source`. Returns the set and the number of references met that
/// pointed at no object start.
///
/// Marking runs in parallel: a frontier of objects is split into tasks, each marks
/// depth first (an atomic bit per object: whoever sets it expands it) for a bounded
/// number of objects and hands back what it has not expanded as the next frontier.
/// Once Ctrl-C was pressed ([`crate::interrupt::cancelled`]) it stops at the next task and
/// returns an incomplete set: callers that may be cancelled check the flag after.
pub fn mark(graph: &ObjectGraph, source: RefSource<'_>, roots: &[Root], dependents: &[(u64, u64)]) -> (LiveSet, u64) {
    let bits: Vec<AtomicU64> = (0..graph.len().div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
    let set = |id: ObjectId| -> bool {
        let i = id as usize;
        match bits.get(i / 64) {
            Some(w) => {
                let bit = 1u64 << (i % 64);
                // A plain load first: most references lead to objects already marked.
                w.load(Ordering::Relaxed) & bit == 0 && w.fetch_or(bit, Ordering::Relaxed) & bit == 0
            }
            None => false,
        }
    };
    let is_set = |id: ObjectId| -> bool {
        let i = id as usize;
        bits.get(i / 64).is_some_and(|w| w.load(Ordering::Relaxed) & (1u64 << (i % 64)) != 0)
    };
    let unresolved = AtomicU64::new(0);
    let progress = Progress::new("marking live objects", graph.len() as u64);
    let mut frontier: Vec<ObjectId> = Vec::new();
    for r in roots {
        if let Some(id) = graph.id_of(r.object)
            && !graph.is_free(id)
            && set(id)
        {
            frontier.push(id);
        }
    }
    let deps: Vec<(ObjectId, ObjectId)> = dependents
        .iter()
        .filter_map(|&(p, s)| Some((graph.id_of(p)?, graph.id_of(s)?)))
        .collect();
    // Each object enters a frontier once (when its bit is set), so every round of
    // `drain` shrinks what is left; dependent passes are at most one per handle.
    let drain = |frontier: &mut Vec<ObjectId>| {
        while !frontier.is_empty() {
            if crate::interrupt::cancelled() {
                frontier.clear();
                return;
            }
            *frontier = frontier
                .par_chunks(TASK_SEEDS)
                .flat_map_iter(|seeds| {
                    let mut stack = seeds.to_vec();
                    let mut out = Vec::new();
                    let mut scratch = Vec::new();
                    let mut lost = 0;
                    let mut done = 0;
                    if crate::interrupt::cancelled() {
                        return Vec::new();
                    }
                    while done < TASK_BUDGET
                        && let Some(id) = stack.pop()
                    {
                        out.clear();
                        lost += graph.references_into(source, id, &mut out, &mut scratch);
                        stack.extend(out.iter().copied().filter(|&r| set(r)));
                        done += 1;
                    }
                    unresolved.fetch_add(lost, Ordering::Relaxed);
                    progress.inc(done as u64);
                    stack
                })
                .collect();
        }
    };
    drain(&mut frontier);
    for _ in 0..=deps.len() {
        if crate::interrupt::cancelled() {
            break;
        }
        frontier.extend(deps.iter().filter(|&&(p, s)| is_set(p) && set(s)).map(|&(_, s)| s));
        if frontier.is_empty() {
            break;
        }
        drain(&mut frontier);
    }
    drop(progress);
    let bits: Vec<u64> = bits.into_iter().map(AtomicU64::into_inner).collect();
    let count = bits.iter().map(|w| w.count_ones() as usize).sum();
    (LiveSet { bits: bits.into(), count }, unresolved.into_inner())
}

/// Objects kept alive by the roots: handles (every handle table slot, as dotnet-dump
/// counts them), the finalizer queue's f-reachable objects, dependent handles, and a
/// conservative scan of the threads' stacks (which may keep stale objects alive).
pub struct Liveness {
    graph: Arc<ObjectGraph>,
    live: LiveSet,
    /// References met while marking that pointed at no object start.
    unresolved: u64,
}

impl Liveness {
    /// Writes the live set (over the object table whose content hash is `parent`).
    pub fn save(&self, dir: &IndexDir, parent: u64) -> Option<IndexFile> {
        let n = self.graph.len() as u64;
        write_or_note(dir, Part::Live, parent, n, [self.live.count as u64, self.unresolved, 0, 0], &[bytes([&self.live.bits[..]])])
    }

    /// The live set of a file over `graph`'s objects; the warning about references that
    /// lead nowhere is given again, as marking gave it.
    pub fn from_index(file: &IndexFile, heap: &Heap, graph: Arc<ObjectGraph>) -> anyhow::Result<Liveness> {
        let bits: Store<u64> = file.section(0, Some(graph.len().div_ceil(64)))?;
        let [count, unresolved, _, _] = file.extra();
        if unresolved > 0 && graph.built_edges().is_none() {
            super::warn_unresolved(heap, unresolved);
        }
        Ok(Liveness { graph, live: LiveSet { bits, count: count as usize }, unresolved })
    }

    /// Marks what the roots keep alive.
    /// Ctrl-C ([`crate::interrupt`]) ends it with
    /// [`Cancelled`](crate::interrupt::Cancelled) within a batch of objects.
    pub fn compute(heap: &Heap, graph: Arc<ObjectGraph>, roots: &RootCache) -> Result<Liveness, crate::interrupt::Cancelled> {
        Liveness::compute_from(heap, graph, &roots.all_roots(), &roots.dependent_pairs)
    }

    /// What the roots other than the finalizer queue keep alive (handles, stacks, thread
    /// statics, dependent handles): dotnet-dump's `notreachableinrange -nofinalizer`,
    /// which tells objects only the finalizer queue holds from the rest.
    pub fn compute_without_finalizer(heap: &Heap, graph: Arc<ObjectGraph>, roots: &RootCache) -> Result<Liveness, crate::interrupt::Cancelled> {
        let without: Vec<Root> = roots
            .handles
            .iter()
            .copied()
            .chain(roots.stack.iter().map(|e| e.root))
            .chain(roots.thread_statics.iter().copied())
            .collect();
        Liveness::compute_from(heap, graph, &without, &roots.dependent_pairs)
    }

    /// What `roots` keep alive, following `dependents` (primary, secondary).
    pub fn compute_from(
        heap: &Heap,
        graph: Arc<ObjectGraph>,
        roots: &[Root],
        dependents: &[(u64, u64)],
    ) -> Result<Liveness, crate::interrupt::Cancelled> {
        let (live, unresolved) = mark(&graph, graph.ref_source(heap), roots, dependents);
        // A cancelled marking stopped early: its set is not the live set.
        crate::interrupt::check()?;
        // Built edges have reported theirs already.
        if unresolved > 0 && graph.built_edges().is_none() {
            super::warn_unresolved(heap, unresolved);
        }
        Ok(Liveness { graph, live, unresolved })
    }

    pub fn is_live(&self, addr: u64) -> bool {
        self.graph.id_of(addr).is_some_and(|id| self.live.contains(id))
    }

    /// Like [`Liveness::is_live`], for addresses asked in increasing order: `cursor` keeps
    /// the id after the last one found, which is usually the next object (a walk visits
    /// objects in address order, the graph numbers them in address order).
    pub fn is_live_from(&self, addr: u64, cursor: &mut usize) -> bool {
        let id = match self.graph.addresses().get(*cursor) {
            Some(&a) if a == addr => Some(*cursor as ObjectId),
            _ => self.graph.id_of(addr),
        };
        match id {
            Some(id) => {
                *cursor = id as usize + 1;
                self.live.contains(id)
            }
            None => false,
        }
    }

    /// Number of live objects.
    pub fn count(&self) -> usize {
        self.live.len()
    }
}

/// The live set as a command that walks the heap asks about it: over the object table
/// ([`Liveness`]), or by address ([`super::marks::LiveMarks`], when nothing else needed
/// the table).
#[derive(Clone)]
pub enum LiveView {
    Table(Arc<Liveness>),
    Marks(Arc<super::marks::LiveMarks>),
}

impl LiveView {
    /// Whether the object at `addr` is live, for addresses asked in increasing order
    /// (`cursor` is the view's own, starting at 0).
    #[inline]
    pub fn is_live_from(&self, addr: u64, cursor: &mut usize) -> bool {
        match self {
            LiveView::Table(l) => l.is_live_from(addr, cursor),
            LiveView::Marks(m) => m.is_live_from(addr, cursor),
        }
    }

    /// Number of live objects.
    pub fn count(&self) -> usize {
        match self {
            LiveView::Table(l) => l.count(),
            LiveView::Marks(m) => m.count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::RootKind;

    fn root(object: u64) -> Root {
        Root {
            kind: RootKind::FinalizerQueue { heap: 0 },
            address: 0,
            object,
            pinned: false,
        }
    }

    #[test]
    fn marks_reachable_objects_and_dependents_to_a_fixpoint() {
        // 0 -> 1; dependent handles: (1 -> 2), (3 -> 4), (2 -> 3), given in an order that
        // needs several passes. 5 is unreachable; its dependent (5 -> 6) stays dead.
        let g = ObjectGraph::from_parts(
            &[
                (0x100, 24),
                (0x118, 24),
                (0x130, 24),
                (0x148, 24),
                (0x160, 24),
                (0x178, 24),
                (0x190, 24),
            ],
            &[&[1], &[], &[], &[], &[], &[], &[]],
        );
        let deps = [
            (0x148, 0x160),
            (0x130, 0x148),
            (0x118, 0x130),
            (0x178, 0x190),
        ];
        let src = RefSource::Edges(g.built_edges().unwrap());
        let (live, _) = mark(&g, src, &[root(0x100), root(0x999)], &deps);
        let ids: Vec<u32> = (0..7).filter(|&i| live.contains(i)).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        assert_eq!(live.len(), 5);
    }

    #[test]
    fn roots_that_are_not_object_starts_are_ignored() {
        let g = ObjectGraph::from_parts(&[(0x100, 24), (0x118, 24)], &[&[], &[]]);
        let (live, _) = mark(&g, RefSource::Edges(g.built_edges().unwrap()), &[root(0x108)], &[]);
        assert!(live.is_empty());
    }
}

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
use super::{ObjectGraph, ObjectId};
use crate::heap::Root;
use std::sync::Arc;

/// A set of objects, one bit per object id.
#[derive(Debug, Clone)]
pub struct LiveSet {
    bits: Vec<u64>,
    count: usize,
}

impl LiveSet {
    pub fn new(objects: usize) -> LiveSet {
        LiveSet {
            bits: vec![0; objects.div_ceil(64)],
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

    /// Adds `id`; returns whether it was new.
    #[inline]
    fn insert(&mut self, id: ObjectId) -> bool {
        let i = id as usize;
        let Some(w) = self.bits.get_mut(i / 64) else {
            return false;
        };
        let bit = 1 << (i % 64);
        if *w & bit != 0 {
            return false;
        }
        *w |= bit;
        self.count += 1;
        true
    }

    /// Number of objects in the set.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Marks every object reachable from `roots` (addresses of objects; those that are not
/// object starts, and free objects, are ignored) and from the secondaries of
/// `dependents` (primary, secondary addresses) whose primary is reachable.
pub fn mark(graph: &ObjectGraph, roots: &[Root], dependents: &[(u64, u64)]) -> LiveSet {
    let mut live = LiveSet::new(graph.len());
    let mut stack: Vec<ObjectId> = Vec::new();
    for r in roots {
        if let Some(id) = graph.id_of(r.object)
            && !graph.is_free(id)
            && live.insert(id)
        {
            stack.push(id);
        }
    }
    drain(graph, &mut live, &mut stack);
    let deps: Vec<(ObjectId, ObjectId)> = dependents
        .iter()
        .filter_map(|&(p, s)| Some((graph.id_of(p)?, graph.id_of(s)?)))
        .collect();
    for _ in 0..=deps.len() {
        for &(p, s) in &deps {
            if live.contains(p) && live.insert(s) {
                stack.push(s);
            }
        }
        if stack.is_empty() {
            break;
        }
        drain(graph, &mut live, &mut stack);
    }
    live
}

fn drain(graph: &ObjectGraph, live: &mut LiveSet, stack: &mut Vec<ObjectId>) {
    // Each object is pushed at most once (when it enters the set), so this ends.
    while let Some(id) = stack.pop() {
        for &r in graph.references(id) {
            if live.insert(r) {
                stack.push(r);
            }
        }
    }
}

/// Objects kept alive by the roots: handles (every handle table slot, as dotnet-dump
/// counts them), the finalizer queue's f-reachable objects, dependent handles, and a
/// conservative scan of the threads' stacks (which may keep stale objects alive).
pub struct Liveness {
    graph: Arc<ObjectGraph>,
    live: LiveSet,
}

impl Liveness {
    /// Marks what the roots keep alive.
    pub fn compute(graph: Arc<ObjectGraph>, roots: &RootCache) -> Liveness {
        let live = mark(&graph, &roots.all_roots(), &roots.dependent_pairs);
        Liveness { graph, live }
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
        let live = mark(&g, &[root(0x100), root(0x999)], &deps);
        let ids: Vec<u32> = (0..7).filter(|&i| live.contains(i)).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        assert_eq!(live.len(), 5);
    }

    #[test]
    fn roots_that_are_not_object_starts_are_ignored() {
        let g = ObjectGraph::from_parts(&[(0x100, 24), (0x118, 24)], &[&[], &[]]);
        let live = mark(&g, &[root(0x108)], &[]);
        assert!(live.is_empty());
    }
}

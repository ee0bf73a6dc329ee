//! Liveness: which objects the roots keep alive.
//!
//! Marking starts from the roots' objects and follows the graph's edges. Dependent
//! handles then add an edge that exists only while its primary is alive: after each
//! marking pass, every dependent handle whose primary is marked and whose secondary is
//! not marks from the secondary, until a pass marks nothing new (a fixpoint; at most one
//! pass per dependent handle).
//!
//! Until precise stack roots exist, [`conservative_stack_roots`] scans each thread's
//! stack: from its `rsp` (from the dump's `NT_PRSTATUS` notes) to the end of the memory
//! captured for that stack mapping, every 8-byte aligned word equal to the start of a
//! heap object is a root, marked `conservative`; so are the thread's general registers.
//! Such a scan finds every real stack root but may keep stale objects alive too.
use super::{ObjectGraph, ObjectId};
use crate::heap::{Heap, Root, RootKind};

/// General-purpose registers in `NT_PRSTATUS` order (`user_regs_struct`: r15 .. rdi).
const GENERAL_REGISTERS: std::ops::Range<usize> = 0..15;
/// A stack larger than this is not scanned past this many bytes.
const MAX_STACK_SCAN: usize = 1 << 30;

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

/// Roots found by scanning every thread's stack and registers for object addresses.
pub fn conservative_stack_roots(heap: &Heap, graph: &ObjectGraph) -> Vec<Root> {
    let space = heap.space();
    let mut roots = Vec::new();
    for thread in &space.core().threads {
        let root = |address: u64, object: u64, register: Option<u8>| Root {
            kind: RootKind::Stack {
                os_thread_id: thread.tid,
                register,
                conservative: true,
            },
            address,
            object,
            pinned: false,
        };
        let is_object = |v: u64| graph.id_of(v).is_some_and(|id| !graph.is_free(id));
        for r in GENERAL_REGISTERS {
            let v = thread.regs[r];
            if is_object(v) {
                roots.push(root(0, v, Some(r as u8)));
            }
        }
        let rsp = (thread.rsp() + 7) & !7;
        let Some(stack) = space.core_slice_from(rsp) else {
            continue;
        };
        let stack = &stack[..stack.len().min(MAX_STACK_SCAN)];
        for (i, w) in stack.chunks_exact(8).enumerate() {
            let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            if is_object(v) {
                roots.push(root(rsp + 8 * i as u64, v, None));
            }
        }
    }
    roots
}

/// Which roots to mark from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootPolicy {
    /// Count handles as roots the way ClrMD and dotnet-dump do (weak interior pointer
    /// handles, .NET 9+, are then roots) rather than as the GC does.
    pub sos_handles: bool,
    /// How the threads' stacks are scanned for roots.
    pub stacks: StackScan,
}

/// Where stack roots come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackScan {
    /// Unwind managed frames and read their GC info, as SOS does; a thread whose walk
    /// fails falls back to the conservative scan (its roots are marked conservative).
    Precise,
    /// Every aligned stack word that points at an object (may keep stale objects alive).
    Conservative,
    /// No stack roots.
    None,
}

impl Default for RootPolicy {
    fn default() -> RootPolicy {
        RootPolicy {
            sos_handles: true,
            stacks: StackScan::Precise,
        }
    }
}

/// Precise stack roots as graph roots; interior pointers are attributed to the object
/// that contains them. Warnings of threads that could not be walked go to stderr.
pub fn precise_stack_roots(heap: &Heap, graph: &ObjectGraph) -> Vec<Root> {
    let is_object = |v: u64| graph.id_of(v).is_some_and(|id| !graph.is_free(id));
    let report = crate::runtime::stack::all_stack_roots(&heap.runtime, &heap.threads, Some(&is_object));
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    report
        .roots
        .into_iter()
        .filter_map(|r| {
            let object = if r.interior {
                graph.address(graph.id_containing(r.object)?)
            } else {
                r.object
            };
            Some(Root {
                kind: RootKind::Stack {
                    os_thread_id: r.os_thread_id,
                    register: None,
                    conservative: r.conservative,
                },
                address: r.slot.unwrap_or(0),
                object,
                pinned: r.pinned,
            })
        })
        .collect()
}

/// A heap's roots and its dependent handles as (primary, secondary) addresses.
pub type RootsAndDependents = (Vec<Root>, Vec<(u64, u64)>);

/// The roots of a heap under `policy`, and its dependent handles.
pub fn gather_roots(
    heap: &Heap,
    graph: &ObjectGraph,
    policy: RootPolicy,
) -> anyhow::Result<RootsAndDependents> {
    let handles = heap.handles()?;
    let mut roots = crate::heap::roots::handle_roots(&handles, policy.sos_handles);
    roots.extend(heap.finalizer_roots()?);
    match policy.stacks {
        StackScan::Precise => roots.extend(precise_stack_roots(heap, graph)),
        StackScan::Conservative => roots.extend(conservative_stack_roots(heap, graph)),
        StackScan::None => {}
    }
    let dependents = handles
        .iter()
        .filter_map(|h| Some((h.object, h.dependent()?)))
        .collect();
    Ok((roots, dependents))
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! Root paths: which chain of references leads from a root to a target object, chosen
//! exactly as dotnet-dump's `gcroot` chooses it.
//!
//! dotnet-dump (through ClrMD's `GCRoot`) does not search breadth first. For each root
//! in turn it runs a depth-first search that keeps state *across* roots:
//!
//! - `seen`: objects already queued by some search. A later search does not queue them
//!   again, so a root whose only way to the target runs through objects an earlier root
//!   explored (without finding the target) finds nothing.
//! - `found`: every object known to lead to the target, with its chain. A search that
//!   meets one of them stops there and reuses its chain, so chains share their tails.
//!
//! An object's references are visited in the order ClrMD reports them: the secondaries
//! of the dependent handles whose primary it is (handles sorted by primary address,
//! stably), then its GCDesc references; an object whose type has no GC pointers is not
//! expanded at all, whatever its dependent handles. The target check happens when an
//! object is expanded (or is a root itself), not when it is referenced.
//!
//! The pending references of an object are kept in small fixed-size blocks of 32 bytes
//! (a header byte, the object and its parent, then the references, each pointer taking
//! 5, 6 or 8 bytes by magnitude: values below 2^40, below 2^48, others; a null parent
//! takes none). An object with more references than one block holds uses several
//! blocks, pushed in order, so the *last* block's references are explored first.
//! Which references share a block therefore changes the visiting order, and this module
//! reproduces the packing byte for byte. It also reproduces the bookkeeping done when a
//! path is found (unexplored references leave `seen`, the chain is rebuilt from the
//! blocks still on the stack, reading a block's "parent" as its first reference when the
//! parent was null, as ClrMD's reader does).
//!
//! Everything runs on the [`ObjectGraph`]'s CSR edges with a bitset for `seen`: one
//! search costs at most one pass over the reachable graph and allocates nothing per object.
use super::{Edges, ObjectGraph, ObjectId, RefSource, ReverseEdges};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Bytes in one block of pending references.
const BLOCK_BYTES: usize = 32;
/// References one block can hold at most (5-byte pointers, null parent: 1 + 5 + 5 * 5).
const BLOCK_REFS: usize = 5;

/// The bytes a pointer takes in a block: 5 below 2^40, 6 below 2^48, else 8; a null
/// pointer none (the low two bits are flags to ClrMD and do not count). By id, the same
/// is [`SizeClasses`].
#[inline]
pub(crate) fn stored_size(ptr: u64) -> usize {
    let p = ptr & !3;
    if p == 0 {
        0
    } else if p < 1 << 40 {
        5
    } else if p < 1 << 48 {
        6
    } else {
        8
    }
}

/// One block of pending references of `object`: object ids in [`PathFinder`], addresses
/// in the search by address ([`super::gcroot_cold`]), packed by the same rule.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block<T> {
    pub(super) object: T,
    pub(super) parent: Option<T>,
    pub(super) refs: [T; BLOCK_REFS],
    pub(super) len: u8,
    pub(super) next: u8,
    used: u8,
}

/// The bytes each object's address takes in a block ([`stored_size`]), from the object's
/// id: ids are in address order, so two thresholds give the size class without reading
/// the address (a cache miss per reference on a big heap).
struct SizeClasses {
    /// First id whose address is at least 2^40, and at least 2^48.
    id40: usize,
    id48: usize,
}

impl SizeClasses {
    fn new(graph: &ObjectGraph) -> SizeClasses {
        let addresses = graph.addresses();
        SizeClasses {
            id40: addresses.partition_point(|&a| a & !3 < 1 << 40),
            id48: addresses.partition_point(|&a| a & !3 < 1 << 48),
        }
    }

    fn size(&self, id: ObjectId) -> usize {
        let id = id as usize;
        if id < self.id40 {
            5
        } else if id < self.id48 {
            6
        } else {
            8
        }
    }
}

impl<T: Copy + Default> Block<T> {
    /// An empty block; `size` gives the bytes a pointer takes ([`stored_size`]).
    pub(super) fn new(object: T, parent: Option<T>, size: impl Fn(T) -> usize) -> Block<T> {
        let used = 1 + size(object) + parent.map_or(0, &size);
        Block {
            object,
            parent,
            refs: [T::default(); BLOCK_REFS],
            len: 0,
            next: 0,
            used: used as u8,
        }
    }

    /// Adds a reference taking `size` bytes; false when the block is full.
    pub(super) fn store(&mut self, r: T, size: usize) -> bool {
        if self.used as usize + size > BLOCK_BYTES || self.len as usize >= BLOCK_REFS {
            return false;
        }
        self.refs[self.len as usize] = r;
        self.len += 1;
        self.used += size as u8;
        true
    }

    pub(super) fn take(&mut self) -> Option<T> {
        if self.next < self.len {
            self.next += 1;
            Some(self.refs[self.next as usize - 1])
        } else {
            None
        }
    }

    /// The parent as ClrMD reads it back: with no parent stored, the first reference.
    pub(super) fn parent_read(&self) -> Option<T> {
        self.parent
            .or_else(|| (self.len > 0).then_some(self.refs[0]))
    }
}

/// A set of object ids.
#[derive(Clone)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(n: usize) -> BitSet {
        BitSet(vec![0; n.div_ceil(64)])
    }
    /// Adds `id`; false when it was already there.
    fn insert(&mut self, id: ObjectId) -> bool {
        let (w, b) = (id as usize / 64, 1u64 << (id % 64));
        match self.0.get_mut(w) {
            Some(word) if *word & b == 0 => {
                *word |= b;
                true
            }
            _ => false,
        }
    }
    fn contains(&self, id: ObjectId) -> bool {
        self.0.get(id as usize / 64).is_some_and(|w| w & (1u64 << (id % 64)) != 0)
    }
    fn remove(&mut self, id: ObjectId) {
        if let Some(word) = self.0.get_mut(id as usize / 64) {
            *word &= !(1u64 << (id % 64));
        }
    }
}

/// The objects from which a target can be reached, over the graph's edges and the
/// dependent handles (a superset of ClrMD's references: the LoaderAllocator links and
/// handles of objects without pointers count too, which only makes it larger), found
/// breadth first over the incoming edges. What a pruned search ([`PathFinder::pruned`])
/// needs of its target beyond the graph, made once per target: a session keeps the last
/// one, so a search repeated on the same object does not find them again.
#[derive(Clone)]
pub struct Ancestors {
    target: u64,
    set: BitSet,
    children: Option<AncestorChildren>,
}

impl Ancestors {
    /// The ancestors of `target` (none when it is no object of the graph). `source`
    /// gives the references ([`AncestorChildren`] needs the edges built).
    pub fn find(graph: &ObjectGraph, source: RefSource<'_>, reverse: &ReverseEdges, dependents: &DependentEdges, target: u64) -> Ancestors {
        let a = Self::find_after(graph, source, reverse, dependents, target, None);
        if let (Some(c), RefSource::Edges(edges)) = (&a.children, source) {
            let _t = crate::progress::PhaseTimer::start("gcroot: ancestors' children");
            c.fill(&a.set, edges, dependents);
        }
        a
    }

    /// [`Ancestors::find`], reusing the ancestors of an earlier target (over the same
    /// graph and handles) when that target reaches this one: they are all ancestors of
    /// this one too, and every object referencing one of them is one of them, so the
    /// search backwards from this target stops at them and they are added whole, with
    /// their children as they were except for the few that reference a new ancestor
    /// (worked on in place when nothing else holds them). A session's `gcroot` of an
    /// object after one of an object that references it (down a chain it printed) then
    /// costs about what the new ancestors cost.
    ///
    /// Their children are left to be filled ([`Ancestors::fill_children`], or by the
    /// search as it needs them).
    pub fn find_after(graph: &ObjectGraph, source: RefSource<'_>, reverse: &ReverseEdges, dependents: &DependentEdges, target: u64, previous: Option<std::sync::Arc<Ancestors>>) -> Ancestors {
        let bfs = crate::progress::PhaseTimer::start("gcroot: ancestors, breadth first");
        let mut set = BitSet::new(graph.len());
        let Some(t) = graph.id_of(target) else {
            return Ancestors { target, set, children: None };
        };
        set.insert(t);
        // Only the objects still to visit: on a big heap far fewer than the ancestors.
        let mut queue = std::collections::VecDeque::from([t]);
        let previous = previous.filter(|a| a.set.0.len() == set.0.len() && a.target != target);
        let start = previous.as_ref().and_then(|a| graph.id_of(a.target)).filter(|_| previous.as_ref().is_some_and(|a| !a.contains(t)));
        if let (Some(prev), Some(s)) = (previous, start) {
            // Backwards from the target, not entering the earlier ancestors: those met
            // are held.
            let (mut held, mut added) = (Vec::new(), vec![t]);
            let finished = Self::breadth_first(&mut set, &mut queue, reverse, dependents, Some((&prev.set, &mut held, &mut added)));
            if finished && set.contains(s) {
                drop(bfs);
                let _t = crate::progress::PhaseTimer::start("gcroot: ancestors, added to the earlier target's");
                let mut a = std::sync::Arc::try_unwrap(prev).unwrap_or_else(|a| (*a).clone());
                a.target = target;
                a.add(&mut added, &held, source, dependents);
                return a;
            }
            // The earlier target is not reached, or more than a few new ancestors are:
            // the held ancestors are searched from too.
            queue.extend(held);
        }
        Self::breadth_first(&mut set, &mut queue, reverse, dependents, None);
        drop(bfs);
        let children = edges_of(source).and_then(|_| AncestorChildren::unfilled(&set));
        Ancestors { target, set, children }
    }

    /// Fills the children not known yet ([`AncestorChildren`]), the last ancestors (by
    /// id) first, until `stop` is set: run beside a search (on the other core), which
    /// works out those it needs before they are filled itself. Each entry depends only
    /// on the ancestors, edges and handles, so whoever writes it writes the same value.
    pub fn fill_children(&self, edges: &Edges, dependents: &DependentEdges, stop: &AtomicBool) {
        let Some(c) = &self.children else { return };
        if c.complete.load(Ordering::Relaxed) {
            return;
        }
        for k in (0..c.stretches(&self.set)).rev() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            c.fill_stretch(k, &self.set, edges, dependents);
        }
        c.complete.store(true, Ordering::Relaxed);
    }

    /// Breadth first from `queue` over the incoming edges and dependent handles, adding
    /// to `set` what it finds; with `hold` (a set, the held list, the added list),
    /// objects of its set found go to the held list instead of the queue (in the set,
    /// not searched from), and the others are listed as added too, until there are more
    /// than [`AncestorChildren::MAX_MOVED`] of them: then it stops, returning false.
    fn breadth_first(set: &mut BitSet, queue: &mut std::collections::VecDeque<ObjectId>, reverse: &ReverseEdges, dependents: &DependentEdges, hold: Option<(&BitSet, &mut Vec<ObjectId>, &mut Vec<ObjectId>)>) -> bool {
        // Through a queue, so the objects to visit next are known and their referrer
        // lists are fetched ahead (two misses an object otherwise).
        let (restrict, mut held, mut added) = match hold {
            Some((h, held, added)) => (Some(h), Some(held), Some(added)),
            None => (None, None, None),
        };
        fn found(p: ObjectId, set: &mut BitSet, queue: &mut std::collections::VecDeque<ObjectId>, restrict: Option<&BitSet>, held: Option<&mut Vec<ObjectId>>, added: Option<&mut Vec<ObjectId>>) {
            if set.insert(p) {
                match (restrict, held) {
                    (Some(r), Some(held)) if r.contains(p) => held.push(p),
                    _ => {
                        if let Some(added) = added {
                            added.push(p);
                        }
                        queue.push_back(p);
                    }
                }
            }
        }
        while let Some(x) = queue.pop_front() {
            if added.as_ref().is_some_and(|a| a.len() > AncestorChildren::MAX_MOVED) {
                queue.push_front(x);
                return false;
            }
            if let Some(&ahead) = queue.get(15) {
                reverse.prefetch_offsets(ahead);
            }
            if let Some(&ahead) = queue.get(7) {
                reverse.prefetch_referrers(ahead);
            }
            for &p in reverse.referrers(x) {
                found(p, set, queue, restrict, held.as_deref_mut(), added.as_deref_mut());
            }
            if dependents.may_be_secondary(x) {
                for p in dependents.primaries(x) {
                    found(p, set, queue, restrict, held.as_deref_mut(), added.as_deref_mut());
                }
            }
        }
        true
    }

    /// Adds `added` (objects not among them, in any order: sorted here) to the
    /// ancestors; `changed` are ancestors already that reference one of them (their
    /// children are computed again, as are the added ones').
    fn add(&mut self, added: &mut [ObjectId], changed: &[ObjectId], source: RefSource<'_>, dependents: &DependentEdges) {
        added.sort_unstable();
        let edges = edges_of(source);
        // Each added one below others moves them (a stretch of the array per added
        // one): past a few, the children are made again in one pass. Ranks among the
        // ancestors before the added ones join them.
        let ranks: Option<Vec<usize>> = match (&self.children, edges) {
            (Some(c), Some(_)) if added.len() <= AncestorChildren::MAX_MOVED => {
                Some(added.iter().map(|&d| c.rank_below(&self.set, d).unwrap_or(c.child.len())).collect())
            }
            _ => None,
        };
        for &d in added.iter() {
            self.set.insert(d);
        }
        if let (Some(c), Some(edges), Some(ranks)) = (&mut self.children, edges, ranks) {
            // Each earlier ancestor moves up by the added ones below it: from the end,
            // a stretch at a time.
            let old = c.child.len();
            c.child.resize_with(old + added.len(), || AtomicU32::new(AncestorChildren::UNKNOWN));
            let mut end = old;
            for (k, &r) in ranks.iter().enumerate().rev() {
                for i in (r..end).rev() {
                    let v = *c.child[i].get_mut();
                    *c.child[i + k + 1].get_mut() = v;
                }
                end = r;
            }
            match AncestorChildren::groups(&self.set) {
                Some(before) if c.child.len() == before.1 => {
                    c.before = before.0;
                    for &p in added.iter().chain(changed) {
                        if let Some(r) = c.rank(&self.set, p) {
                            *c.child[r].get_mut() = AncestorChildren::only_of(p, &self.set, edges, dependents);
                        }
                    }
                    return;
                }
                _ => {}
            }
        }
        self.children = edges.and_then(|_| AncestorChildren::unfilled(&self.set));
    }

    /// The object they lead to.
    pub fn target(&self) -> u64 {
        self.target
    }

    /// How many objects lead to the target (the target included).
    pub fn len(&self) -> usize {
        self.set.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn contains(&self, id: ObjectId) -> bool {
        self.set.contains(id)
    }
}

/// For each ancestor of a target (by its rank among them), its one reference that is an
/// ancestor too, or that it has none, or that it has more (over the graph's edges and the
/// dependent handles: a superset of ClrMD's references, so "none" and "only this one"
/// are safe to rely on). Most ancestors on a big heap are elements of a collection that
/// reach the target through one field (1.34 M Customers, each through its Referrer, on
/// the 1 GB big dump): deciding that such an ancestor has nothing to try then reads a
/// word of this array, not its references.
struct AncestorChildren {
    /// Ancestors before each group of 8 words of the ancestor bitset.
    before: Vec<u32>,
    /// Per ancestor rank: the child's id, [`AncestorChildren::NONE`],
    /// [`AncestorChildren::MANY`] or, not worked out yet, [`AncestorChildren::UNKNOWN`].
    child: Vec<AtomicU32>,
    /// Every entry is known.
    complete: AtomicBool,
}

impl Clone for AncestorChildren {
    fn clone(&self) -> AncestorChildren {
        AncestorChildren {
            before: self.before.clone(),
            child: self.child.iter().map(|c| AtomicU32::new(c.load(Ordering::Relaxed))).collect(),
            complete: AtomicBool::new(self.complete.load(Ordering::Relaxed)),
        }
    }
}

impl AncestorChildren {
    const NONE: ObjectId = ObjectId::MAX;
    const MANY: ObjectId = ObjectId::MAX - 1;
    const UNKNOWN: ObjectId = ObjectId::MAX - 2;
    /// Most ancestors added to earlier ones in place ([`Ancestors::add`]).
    const MAX_MOVED: usize = 256;
    /// Words of the ancestor bitset in a stretch filled at once.
    const WORDS: usize = 8 * 1024;

    /// For the ancestors, every entry unknown; `None` when ids could collide with the
    /// markers.
    fn unfilled(ancestors: &BitSet) -> Option<AncestorChildren> {
        let (before, total) = Self::groups(ancestors)?;
        let child = (0..total).map(|_| AtomicU32::new(Self::UNKNOWN)).collect();
        Some(AncestorChildren { before, child, complete: AtomicBool::new(false) })
    }

    /// Fills every entry not known yet, in parallel stretches of the bitmap: one pass
    /// over the ancestors in id order, reading their references (streaming through the
    /// edge arrays, where a pass over the incoming edges in the order the ancestors were
    /// found jumps about).
    fn fill(&self, ancestors: &BitSet, edges: &Edges, dependents: &DependentEdges) {
        (0..self.stretches(ancestors)).into_par_iter().for_each(|k| self.fill_stretch(k, ancestors, edges, dependents));
        self.complete.store(true, Ordering::Relaxed);
    }

    fn stretches(&self, ancestors: &BitSet) -> usize {
        ancestors.0.len().div_ceil(Self::WORDS)
    }

    /// Fills the entries not known yet of stretch `k`'s ancestors.
    fn fill_stretch(&self, k: usize, ancestors: &BitSet, edges: &Edges, dependents: &DependentEdges) {
        let Some(words) = ancestors.0.chunks(Self::WORDS).nth(k) else { return };
        let Some(&start) = self.before.get(k * Self::WORDS / 8) else { return };
        let mut slots = self.child.iter().skip(start as usize);
        for (w, &word) in words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                // Below `UNKNOWN` (checked by `groups`): no overflow.
                let p = ((k * Self::WORDS + w) * 64) as ObjectId + bits.trailing_zeros();
                bits &= bits - 1;
                if let Some(slot) = slots.next()
                    && slot.load(Ordering::Relaxed) == Self::UNKNOWN
                {
                    slot.store(Self::only_of(p, ancestors, edges, dependents), Ordering::Relaxed);
                }
            }
        }
    }

    /// The ancestors before each group of 8 words of `ancestors`, and their number;
    /// `None` when ids could collide with the markers.
    fn groups(ancestors: &BitSet) -> Option<(Vec<u32>, usize)> {
        if ancestors.0.len().checked_mul(64)? >= Self::UNKNOWN as usize {
            return None;
        }
        let mut before = Vec::with_capacity(ancestors.0.len().div_ceil(8));
        let mut total = 0u32;
        for group in ancestors.0.chunks(8) {
            before.push(total);
            total = total.checked_add(group.iter().map(|w| w.count_ones()).sum())?;
        }
        Some((before, total as usize))
    }

    /// Ancestor `p`'s entry: its one reference among `ancestors`, [`Self::NONE`] or
    /// [`Self::MANY`] (reading its edges and dependent handles).
    fn only_of(p: ObjectId, ancestors: &BitSet, edges: &Edges, dependents: &DependentEdges) -> ObjectId {
        let mut only = Self::NONE;
        let mut note = |x: ObjectId| {
            if ancestors.contains(x) {
                only = if only == Self::NONE { x } else { Self::MANY };
            }
        };
        for &x in edges.references(p) {
            note(x);
        }
        if dependents.may_be_primary(p) {
            for x in dependents.secondaries(p) {
                note(x);
            }
        }
        only
    }

    /// How many ancestors come before `id` (whether or not it is one); `None` past the
    /// bitmap's end.
    fn rank_below(&self, ancestors: &BitSet, id: ObjectId) -> Option<usize> {
        let (w, b) = (id as usize / 64, id % 64);
        let word = *ancestors.0.get(w)?;
        let group = w / 8;
        let mut r = *self.before.get(group)? as usize;
        for x in ancestors.0.get(group * 8..w)? {
            r += x.count_ones() as usize;
        }
        Some(r + (word & ((1u64 << b) - 1)).count_ones() as usize)
    }

    /// The rank of ancestor `id` among the ancestors (`None` when it is none).
    #[inline]
    fn rank(&self, ancestors: &BitSet, id: ObjectId) -> Option<usize> {
        if !ancestors.contains(id) {
            return None;
        }
        self.rank_below(ancestors, id)
    }

    /// For ancestor `id`: `Some(None)` when none of its references is an ancestor,
    /// `Some(Some(c))` when `c` is the only one, `None` when it has more (or is no
    /// ancestor). An entry not known yet is worked out (from `edges`; without them,
    /// `None`) and kept.
    #[inline]
    fn only(&self, ancestors: &BitSet, id: ObjectId, edges: Option<&Edges>, dependents: &DependentEdges) -> Option<Option<ObjectId>> {
        let slot = self.child.get(self.rank(ancestors, id)?)?;
        let mut c = slot.load(Ordering::Relaxed);
        if c == Self::UNKNOWN {
            c = Self::only_of(id, ancestors, edges?, dependents);
            slot.store(c, Ordering::Relaxed);
        }
        match c {
            Self::MANY => None,
            Self::NONE => Some(None),
            c => Some(Some(c)),
        }
    }
}

/// The edges `source` reads, when it reads them.
fn edges_of(source: RefSource<'_>) -> Option<&Edges> {
    match source {
        RefSource::Edges(edges) => Some(edges),
        RefSource::Dump(_) => None,
    }
}

/// Dependent handles as (primary, secondary) object ids, sorted (stably) by primary.
#[derive(Debug, Clone, Default)]
pub struct DependentEdges {
    pairs: Vec<(ObjectId, ObjectId)>,
    /// The same pairs as (secondary, primary), sorted: who makes an object reachable.
    by_secondary: Vec<(ObjectId, ObjectId)>,
    addresses: Vec<(u64, u64)>,
}

impl DependentEdges {
    /// From (primary, secondary) addresses in handle-table order; pairs whose ends are
    /// not objects of the graph are left out of the edges.
    pub fn new(graph: &ObjectGraph, handles: &[(u64, u64)]) -> DependentEdges {
        let mut pairs: Vec<(ObjectId, ObjectId)> = handles
            .iter()
            .filter_map(|&(p, s)| Some((graph.id_of(p)?, graph.id_of(s)?)))
            .collect();
        pairs.sort_by_key(|p| p.0);
        let mut by_secondary: Vec<(ObjectId, ObjectId)> = pairs.iter().map(|&(p, s)| (s, p)).collect();
        by_secondary.sort_unstable();
        let mut addresses = handles.to_vec();
        addresses.sort_unstable();
        DependentEdges { pairs, by_secondary, addresses }
    }

    /// False when no dependent handle has secondary `id` (a range check: most objects
    /// are no handle's end, and searches ask for every object they expand).
    #[inline]
    pub fn may_be_secondary(&self, id: ObjectId) -> bool {
        matches!((self.by_secondary.first(), self.by_secondary.last()), (Some(a), Some(b)) if a.0 <= id && id <= b.0)
    }

    /// False when no dependent handle has primary `id` (a range check).
    #[inline]
    pub fn may_be_primary(&self, id: ObjectId) -> bool {
        matches!((self.pairs.first(), self.pairs.last()), (Some(a), Some(b)) if a.0 <= id && id <= b.0)
    }

    /// The primaries of the dependent handles whose secondary is `id`.
    pub fn primaries(&self, id: ObjectId) -> impl Iterator<Item = ObjectId> + '_ {
        let start = self.by_secondary.partition_point(|p| p.0 < id);
        self.by_secondary[start..]
            .iter()
            .take_while(move |p| p.0 == id)
            .map(|p| p.1)
    }

    /// The secondaries of the dependent handles whose primary is `id`.
    pub fn secondaries(&self, id: ObjectId) -> impl Iterator<Item = ObjectId> + '_ {
        let start = self.pairs.partition_point(|p| p.0 < id);
        self.pairs[start..]
            .iter()
            .take_while(move |p| p.0 == id)
            .map(|p| p.1)
    }

    /// Whether a dependent handle has primary `from` and secondary `to` (addresses).
    pub fn is_link(&self, from: u64, to: u64) -> bool {
        self.addresses.binary_search(&(from, to)).is_ok()
    }
}

/// What a search over the table leaves for the next one: its stack of blocks, its list
/// of put-off explorations and its bitsets. A session keeps it between `gcroot`s, so a
/// search reuses memory it already touched rather than fresh pages (each a page fault:
/// thousands per search on a big heap, where a big array's blocks alone take megabytes).
#[derive(Default)]
pub struct SearchMemory {
    stack: Vec<Block<ObjectId>>,
    deferred: Vec<ObjectId>,
    bitsets: Vec<Vec<u64>>,
}

impl SearchMemory {
    /// An empty set of `n` ids, in a kept bitset when there is one.
    fn bitset(&mut self, n: usize) -> BitSet {
        match self.bitsets.pop() {
            Some(mut words) => {
                words.clear();
                words.resize(n.div_ceil(64), 0);
                BitSet(words)
            }
            None => BitSet::new(n),
        }
    }
}

/// A link of a chain: an object and the next link towards the target.
#[derive(Debug, Clone, Copy)]
struct Link {
    object: u64,
    next: Option<u32>,
}

/// The links of the chains a search found (shared by the search over the table and the
/// search by address): each names an object and the next link towards the target.
#[derive(Default)]
pub(super) struct Links(Vec<Link>);

impl Links {
    /// Adds a link from `object` to link `next` (`None`: `object` is the target).
    pub(super) fn push(&mut self, object: u64, next: Option<u32>) -> u32 {
        self.0.push(Link { object, next });
        (self.0.len() - 1) as u32
    }

    /// The objects of the chain from link `first` to the target.
    pub(super) fn chain(&self, first: u32) -> Vec<u64> {
        let mut path = Vec::new();
        let mut cur = Some(first);
        // Chains are acyclic by construction, but stay bounded on any input.
        while let Some(i) = cur {
            if path.len() > self.0.len() {
                break;
            }
            let l = self.0[i as usize];
            path.push(l.object);
            cur = l.next;
        }
        path
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Finds root paths to one target, keeping ClrMD's state across roots.
pub struct PathFinder<'g> {
    graph: &'g ObjectGraph,
    source: RefSource<'g>,
    scratch: Vec<u64>,
    dependents: &'g DependentEdges,
    target: u64,
    seen: BitSet,
    found: FxHashMap<u64, u32>,
    /// The ids of `found`'s objects: most references are not in it, and a bit says so
    /// without hashing (or reading) their address.
    found_ids: BitSet,
    /// The target's id, when it is an object of the graph.
    target_id: Option<ObjectId>,
    classes: SizeClasses,
    /// Whether some type of the graph has a LoaderAllocator (whose edge ClrMD does not
    /// follow): without any, an object's edges are its references as stored.
    loader_allocators: bool,
    links: Links,
    refs: Vec<ObjectId>,
    /// With the graph's incoming edges known: what lets the search skip objects that
    /// cannot reach the target ([`PathFinder::pruned`]).
    pruning: Option<Pruning<'g>>,
    /// A pruned search met a question only the full search can answer: it starts over.
    fall_back: bool,
    /// Times a pruned search did the explorations it had put off, and whether it started
    /// over ([`PathFinder::pruning_stats`]).
    materialized: usize,
    started_over: bool,
    /// Memory kept for reuse ([`SearchMemory`]): the stack between searches.
    memory: SearchMemory,
}

/// The state a pruned search keeps (see [`PathFinder::pruned`]).
struct Pruning<'g> {
    /// The graph's incoming edges (what [`PathFinder::exact_already`] asks).
    reverse: &'g ReverseEdges,
    /// Ancestors whose expansion was put off whole ([`PathFinder::nothing_to_try`]): their
    /// references' `seen` bits are among those the put-off explorations set.
    put_off_whole: BitSet,
    /// The objects from which the target can be reached ([`Ancestors`]).
    ancestors: std::sync::Arc<Ancestors>,
    /// An object found to lead to the target is not among `ancestors` (not expected:
    /// the checks that rely on it then stop doing so).
    found_outside: bool,
    /// Objects outside `ancestors` whose exploration the search put off: roots searched
    /// from and references taken from a block. Exploring them only sets `seen` bits of
    /// other such objects, which matter only when an ancestor later queues its references.
    deferred: Vec<ObjectId>,
    /// A chain was found (and the unexplored references released) while explorations
    /// were put off: `seen` can no longer be rebuilt, and the next question that needs
    /// it is answered by the full search.
    tainted: bool,
    /// Every object searched from, to replay them in the full search.
    starts: Vec<u64>,
}

impl<'g> PathFinder<'g> {
    pub fn new(graph: &'g ObjectGraph, source: RefSource<'g>, dependents: &'g DependentEdges, target: u64) -> PathFinder<'g> {
        PathFinder {
            graph,
            source,
            scratch: Vec::new(),
            dependents,
            target,
            seen: BitSet::new(graph.len()),
            found: FxHashMap::default(),
            found_ids: BitSet::new(graph.len()),
            target_id: graph.id_of(target),
            classes: SizeClasses::new(graph),
            loader_allocators: graph.types.iter().any(|t| t.loader_allocator.is_some()),
            links: Links::default(),
            refs: Vec::new(),
            pruning: None,
            fall_back: false,
            materialized: 0,
            started_over: false,
            memory: SearchMemory::default(),
        }
    }

    /// Searches in `memory` (left by an earlier search, [`PathFinder::into_memory`])
    /// rather than in fresh memory; before [`PathFinder::pruned`] so that its state
    /// uses it too.
    pub fn reusing(mut self, mut memory: SearchMemory) -> PathFinder<'g> {
        let n = self.graph.len();
        self.seen = memory.bitset(n);
        self.found_ids = memory.bitset(n);
        self.memory = memory;
        self
    }

    /// The memory this search used, for a later one ([`PathFinder::reusing`]).
    pub fn into_memory(self) -> SearchMemory {
        let mut m = self.memory;
        m.bitsets.push(self.seen.0);
        m.bitsets.push(self.found_ids.0);
        if let Some(p) = self.pruning {
            m.bitsets.push(p.put_off_whole.0);
            let mut deferred = p.deferred;
            deferred.clear();
            m.deferred = deferred;
        }
        m
    }

    /// Searches only among the objects that can reach the target (found from `reverse`,
    /// the graph's incoming edges), giving the same chains as the full search.
    ///
    /// An object that cannot reach the target (outside the ancestors) never leads to a
    /// link; exploring it only marks other such objects `seen`, and those marks matter
    /// for one thing: which of an ancestor's references are queued, which decides how
    /// they are packed into blocks and so the order in which its ancestor references are
    /// tried. So explorations outside the ancestors are put off, and done ("materialized",
    /// in the order they happened) only when an ancestor with a reference to try queues
    /// references whose `seen` bit they may set. That is exact as long as no chain was
    /// found in between (finding one releases queued references, which an exploration
    /// done late would have skipped): past that point such a question makes the finder
    /// replay every search so far without pruning. On a big heap a search from the
    /// roots explores most of it; here it touches the ancestors and their references.
    pub fn pruned(self, reverse: &'g ReverseEdges) -> PathFinder<'g> {
        let ancestors = Ancestors::find(self.graph, self.source, reverse, self.dependents, self.target);
        self.pruned_with(reverse, std::sync::Arc::new(ancestors))
    }

    /// [`PathFinder::pruned`] with the target's ancestors found before (by an earlier
    /// search for the same target, over the same graph and handles).
    pub fn pruned_with(mut self, reverse: &'g ReverseEdges, ancestors: std::sync::Arc<Ancestors>) -> PathFinder<'g> {
        if ancestors.target != self.target || ancestors.set.0.len() != self.graph.len().div_ceil(64) {
            return self.pruned(reverse);
        }
        let put_off_whole = self.memory.bitset(self.graph.len());
        let mut deferred = std::mem::take(&mut self.memory.deferred);
        deferred.clear();
        self.pruning = Some(Pruning { reverse, put_off_whole, ancestors, found_outside: false, deferred, tainted: false, starts: Vec::new() });
        self
    }

    /// [`PathFinder::pruned`] given the ancestors an earlier search kept: used as they
    /// are when they are this target's, else as a start when their target reaches this
    /// one ([`Ancestors::find_after`]; taken over in place when nothing else holds them).
    pub fn pruned_after(self, reverse: &'g ReverseEdges, kept: Option<std::sync::Arc<Ancestors>>) -> PathFinder<'g> {
        match kept {
            Some(a) if a.target == self.target => self.pruned_with(reverse, a),
            earlier => {
                let a = Ancestors::find_after(self.graph, self.source, reverse, self.dependents, self.target, earlier);
                self.pruned_with(reverse, std::sync::Arc::new(a))
            }
        }
    }

    /// The ancestors a pruned search uses (to keep for a later search of the same target).
    pub fn ancestors(&self) -> Option<std::sync::Arc<Ancestors>> {
        self.pruning.as_ref().map(|p| p.ancestors.clone())
    }

    /// For tests: how often a pruned search did the explorations it put off, and whether
    /// it had to start over without pruning.
    pub fn pruning_stats(&self) -> (usize, bool) {
        (self.materialized, self.pruning.is_none() && self.started_over)
    }

    /// Starts loading what the next objects to be taken will need (a pruned search
    /// expands many ancestors in a row that queue nothing, like the elements of a big
    /// array: the next ones are the queued blocks' next references).
    ///
    /// Two distances: the type and reference bounds of the object `FAR` places ahead, the
    /// references of the one `NEAR` places ahead (its bounds asked for earlier: reading
    /// them then does not wait). Measured on the 1 GB big dump (1.34 M Customers taken
    /// from one array in a row): 1 and 3 places ahead waited on the bounds.
    fn prefetch_upcoming(&self, stack: &[Block<ObjectId>]) {
        if self.pruning.as_ref().is_some_and(|p| p.ancestors.children.is_some()) {
            return;
        }
        let mut upcoming = stack.iter().rev().flat_map(|b| b.refs[b.next as usize..b.len as usize].iter());
        if let Some(&near) = upcoming.next() {
            self.graph.prefetch_references(near);
        }
        if let Some(&far) = upcoming.nth(1) {
            self.graph.prefetch(far);
        }
    }

    /// Whether `id` can be skipped: a pruned search knows it cannot reach the target.
    fn skippable(&self, id: ObjectId) -> bool {
        self.pruning.as_ref().is_some_and(|p| !p.ancestors.contains(id))
    }

    /// Before queued references are released: an exploration put off past this point
    /// can no longer be done exactly.
    fn before_release(&mut self) {
        if let Some(p) = &mut self.pruning
            && !p.deferred.is_empty()
        {
            p.tainted = true;
        }
    }

    /// Does the explorations put off so far, in order: each marks what it reaches
    /// `seen`, as the full search would have.
    fn materialize(&mut self) {
        let Some(p) = &mut self.pruning else { return };
        let mut deferred = std::mem::take(&mut p.deferred);
        self.materialized += 1;
        let mut work: Vec<ObjectId> = Vec::new();
        let mut buf = Vec::new();
        for &x in &deferred {
            work.push(x);
            while let Some(y) = work.pop() {
                if !self.contains_pointers(y) {
                    continue;
                }
                for &r in self.load_refs(y, &mut buf) {
                    if self.seen.insert(r) {
                        work.push(r);
                    }
                }
            }
        }
        // Its buffer kept for the explorations put off next.
        deferred.clear();
        if let Some(p) = &mut self.pruning {
            p.deferred = deferred;
        }
    }

    /// Starts over without pruning, replaying the searches done so far (their chains
    /// were exact; only the state is rebuilt).
    fn start_over(&mut self) {
        let Some(p) = self.pruning.take() else { return };
        self.started_over = true;
        let n = self.graph.len();
        self.seen = BitSet::new(n);
        self.found.clear();
        self.found_ids = BitSet::new(n);
        self.links.clear();
        self.fall_back = false;
        if let Some((_, earlier)) = p.starts.split_last() {
            for &s in earlier {
                let _ = self.find(s);
            }
        }
    }

    /// The chain from the object `start` (a root's object) to the target, as addresses
    /// (`start` first, the target last), or `None` when this search finds none.
    pub fn path_from(&mut self, start: u64) -> Option<Vec<u64>> {
        if let Some(p) = &mut self.pruning {
            p.starts.push(start);
        }
        let mut link = self.find(start);
        if self.fall_back {
            self.start_over();
            link = self.find(start);
        }
        Some(self.links.chain(link?))
    }

    fn find(&mut self, start: u64) -> Option<u32> {
        let mut stack = std::mem::take(&mut self.memory.stack);
        let link = self.find_with(&mut stack, start);
        stack.clear();
        self.memory.stack = stack;
        link
    }

    /// [`PathFinder::find`] with `stack` (empty) for its blocks.
    fn find_with(&mut self, stack: &mut Vec<Block<ObjectId>>, start: u64) -> Option<u32> {
        if let Some(&l) = self.found.get(&start) {
            return Some(l);
        }
        if start == self.target {
            let l = self.links.push(start, None);
            self.found.insert(start, l);
            if let Some(id) = self.graph.id_of(start) {
                self.mark_found(id);
            }
            return Some(l);
        }
        let id = self.graph.id_of(start)?;
        if !self.contains_pointers(id) {
            return None;
        }
        if self.skippable(id) {
            if let Some(p) = &mut self.pruning {
                p.deferred.push(id);
            }
            return None;
        }
        if let Some(l) = self.walk(stack, None, id) {
            self.before_release();
            self.drain(stack);
            return Some(l);
        }
        while let Some(top) = stack.len().checked_sub(1) {
            if self.fall_back {
                return None;
            }
            let Some(child) = stack[top].take() else {
                stack.pop();
                continue;
            };
            if self.pruning.is_some() {
                self.prefetch_upcoming(stack);
            }
            if self.skippable(child) {
                if let Some(p) = &mut self.pruning {
                    p.deferred.push(child);
                }
                continue;
            }
            let parent = stack[top].object;
            if let Some(l) = self.walk(stack, Some(parent), child) {
                return Some(self.cleanup(stack, l, top));
            }
        }
        None
    }

    fn contains_pointers(&self, id: ObjectId) -> bool {
        self.graph.holds_pointers(id)
    }

    /// Adds `id` to the objects known to lead to the target (all of them ancestors,
    /// which the pruned search's checks rely on: noted when it is not so).
    fn mark_found(&mut self, id: ObjectId) {
        self.found_ids.insert(id);
        if let Some(p) = &mut self.pruning
            && !p.ancestors.contains(id)
        {
            p.found_outside = true;
        }
    }

    /// The references ClrMD enumerates for `id`: dependent secondaries, then the GCDesc
    /// references (the graph's LoaderAllocator edge is not one of them). With the edges
    /// built, most objects' are their edges as they are (no copy); the others are made
    /// in `out`.
    fn load_refs<'a>(&mut self, id: ObjectId, out: &'a mut Vec<ObjectId>) -> &'a [ObjectId]
    where
        'g: 'a,
    {
        if let RefSource::Edges(edges) = self.source
            && !self.loader_allocators
            && !self.dependents.may_be_primary(id)
        {
            return edges.references(id);
        }
        let ty = self.graph.type_of(id);
        out.clear();
        out.extend(self.dependents.secondaries(id));
        let before = out.len();
        self.graph.references_into(self.source, id, out, &mut self.scratch);
        if let Some(la) = ty.loader_allocator
            && let Some(la_id) = self.graph.id_of(la)
            && out.len() > before
            && out.last() == Some(&la_id)
        {
            out.pop();
        }
        out
    }

    /// Expands `curr`: the target itself, or one of its references already known to
    /// lead to the target, gives a link; otherwise its unseen references are queued.
    fn walk(&mut self, stack: &mut Vec<Block<ObjectId>>, parent: Option<ObjectId>, curr: ObjectId) -> Option<u32> {
        // Compared by id: an object's address is read only when a chain needs it (reading
        // it for every object expanded was a fifth of a search's time).
        if Some(curr) == self.target_id {
            let curr_addr = self.target;
            let l = self.links.push(curr_addr, None);
            self.found.insert(curr_addr, l);
            self.mark_found(curr);
            return Some(l);
        }
        if !self.contains_pointers(curr) {
            return None;
        }
        // An ancestor whose only ancestor reference is already queued (or that has none)
        // has nothing to try: put off without reading its references.
        if let Some(p) = &mut self.pruning
            && !p.found_outside
            && let Some(children) = &p.ancestors.children
            && let Some(only) = children.only(&p.ancestors.set, curr, edges_of(self.source), self.dependents)
            && only.is_none_or(|c| self.seen.contains(c) && !self.found_ids.contains(c))
        {
            p.deferred.push(curr);
            p.put_off_whole.insert(curr);
            return None;
        }
        let mut owned = std::mem::take(&mut self.refs);
        let result = self.expand(stack, parent, curr, &mut owned);
        self.refs = owned;
        result
    }

    /// [`PathFinder::walk`] for an object whose type holds references; `owned` is where
    /// its references are made when they cannot be used as stored.
    fn expand(&mut self, stack: &mut Vec<Block<ObjectId>>, parent: Option<ObjectId>, curr: ObjectId, owned: &mut Vec<ObjectId>) -> Option<u32> {
        let mut refs = self.load_refs(curr, owned);
        if self.nothing_to_try(refs) {
            // Its references only get explored (none is an ancestor still to try, none
            // leads to the target): put off like that exploration, as one.
            if let Some(p) = &mut self.pruning {
                p.deferred.push(curr);
                p.put_off_whole.insert(curr);
            }
            return None;
        }
        if self.pruning.is_some() && self.needs_exact_marks(refs) {
            if self.pruning.as_ref().is_some_and(|p| p.tainted) {
                self.fall_back = true;
                return None;
            }
            self.materialize();
            refs = self.load_refs(curr, owned);
        }
        if refs.len() > 1024 {
            // A big array: its blocks at once rather than by doubling (and copying) the stack.
            stack.reserve(refs.len());
        }
        let mut block: Option<Block<ObjectId>> = None;
        let mut result = None;
        for &r in refs {
            if self.found_ids.contains(r)
                && let Some(&next) = self.found.get(&self.graph.address(r))
            {
                let curr_addr = self.graph.address(curr);
                let l = self.links.push(curr_addr, Some(next));
                self.found.insert(curr_addr, l);
                self.mark_found(curr);
                result = Some(l);
                break;
            }
            if !self.seen.insert(r) {
                continue;
            }
            let size = |id| self.classes.size(id);
            let b = block.get_or_insert_with(|| Block::new(curr, parent, size));
            if !b.store(r, size(r)) {
                stack.push(*b);
                let mut fresh = Block::new(curr, parent, size);
                fresh.store(r, size(r));
                block = Some(fresh);
            }
        }
        if let Some(b) = block {
            stack.push(b);
        }
        result
    }

    /// In a pruned search, whether `refs` (the references of the object being expanded) hold no
    /// ancestor still to try and nothing known to lead to the target: expanding their
    /// object then only queues what cannot reach the target, and all of it is explored
    /// before the search goes on (nothing found meanwhile can release it), which is the
    /// same as putting off exploring the object itself.
    fn nothing_to_try(&self, refs: &[ObjectId]) -> bool {
        let Some(p) = &self.pruning else { return false };
        if p.found_outside {
            return !refs.iter().any(|&r| self.found_ids.contains(r) || (p.ancestors.contains(r) && !self.seen.contains(r)));
        }
        // `found_ids` is within the ancestors ([`PathFinder::mark_found`]): most
        // references are no ancestor, and one bit says so.
        !refs
            .iter()
            .any(|&r| p.ancestors.contains(r) && (self.found_ids.contains(r) || !self.seen.contains(r)))
    }

    /// Whether `refs` (the references of the object being expanded) are queued in an order that
    /// depends on explorations put off: an ancestor still to try, beside a reference whose
    /// `seen` bit one of them may have set. Not when a reference already leads to the
    /// target (the search ends there, whatever was queued).
    fn needs_exact_marks(&self, refs: &[ObjectId]) -> bool {
        let Some(p) = &self.pruning else { return false };
        if p.deferred.is_empty() {
            return false;
        }
        let mut ancestor = false;
        for &r in refs {
            if self.found_ids.contains(r) {
                return false;
            }
            ancestor |= p.ancestors.contains(r) && !self.seen.contains(r);
        }
        if !ancestor {
            return false;
        }
        // Asking each reference's referrers costs more than doing a few put-off
        // explorations: past this many, they are done.
        const MAX_ASKED: usize = 8;
        let mut asked = 0;
        for &r in refs {
            if !self.seen.contains(r) && !p.ancestors.contains(r) {
                asked += 1;
                if asked > MAX_ASKED || !self.exact_already(p, r) {
                    return true;
                }
            }
        }
        false
    }

    /// Whether no put-off exploration can have set `r`'s `seen` bit: every object that
    /// references it is an ancestor whose expansion was not put off (its references'
    /// marks are the search's own). An object only its owner references (a string, a
    /// list of a Customer) is then known unseen without doing the explorations.
    fn exact_already(&self, p: &Pruning<'g>, r: ObjectId) -> bool {
        /// More referrers than this: not worth asking.
        const MAX_REFERRERS: usize = 16;
        let referrers = p.reverse.referrers(r);
        referrers.len() <= MAX_REFERRERS
            && referrers.iter().all(|&q| p.ancestors.contains(q) && !p.put_off_whole.contains(q))
            && self.dependents.primaries(r).all(|q| p.ancestors.contains(q) && !p.put_off_whole.contains(q))
    }

    /// Rebuilds the chain after `link` was found below the block at `curr`, releasing
    /// what the search queued but did not explore.
    fn cleanup(&mut self, stack: &mut Vec<Block<ObjectId>>, link: u32, curr: usize) -> u32 {
        self.before_release();
        let mut obj = stack[curr].object;
        let mut parent = stack[curr].parent_read();
        let mut link = self.add_link(link, obj);
        for i in (0..stack.len()).rev() {
            let b = stack[i];
            if b.object == obj {
                continue;
            }
            obj = b.object;
            if Some(b.object) == parent {
                link = self.add_link(link, obj);
                parent = b.parent_read();
            } else {
                self.seen.remove(b.object);
            }
        }
        self.drain(stack);
        link
    }

    fn add_link(&mut self, curr: u32, obj: ObjectId) -> u32 {
        let addr = self.graph.address(obj);
        let next = match self.found.get(&addr) {
            Some(&n) => n,
            None => {
                let n = self.links.push(addr, Some(curr));
                self.found.insert(addr, n);
                self.mark_found(obj);
                n
            }
        };
        self.seen.remove(obj);
        next
    }

    /// Takes the unexplored references of every queued block back out of `seen`.
    fn drain(&mut self, stack: &mut Vec<Block<ObjectId>>) {
        for b in stack.iter_mut() {
            while let Some(child) = b.take() {
                self.seen.remove(child);
            }
        }
        stack.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_sizes_follow_magnitude() {
        assert_eq!(stored_size(0), 0);
        assert_eq!(stored_size(3), 0);
        assert_eq!(stored_size(0x10_0000), 5);
        assert_eq!(stored_size(0xff_ffff_fff8), 5);
        assert_eq!(stored_size(0x100_0000_0000), 6);
        assert_eq!(stored_size(0x7f99_8540_0fe8), 6);
        assert_eq!(stored_size(0x1_0000_0000_0000), 8);
        assert_eq!(stored_size(0xffff_8000_0000_0000), 8);
    }

    fn graph(n: usize, refs: &[&[ObjectId]]) -> ObjectGraph {
        // Heap-like addresses (6-byte pointers): three references per block.
        let objects: Vec<(u64, u32)> = (0..n).map(|i| (0x7f00_0000_0000 + 0x100 * i as u64, 24)).collect();
        ObjectGraph::from_parts(&objects, refs)
    }

    fn addr(i: u64) -> u64 {
        0x7f00_0000_0000 + 0x100 * i
    }

    #[test]
    fn finds_a_chain_and_reuses_it_for_later_roots() {
        // 0 -> 1 -> 2 (target); 3 -> 1.
        let g = graph(4, &[&[1], &[2], &[], &[1]]);
        let deps = DependentEdges::default();
        let mut f = PathFinder::new(&g, RefSource::Edges(g.built_edges().unwrap()), &deps, addr(2));
        assert_eq!(f.path_from(addr(0)), Some(vec![addr(0), addr(1), addr(2)]));
        assert_eq!(f.path_from(addr(3)), Some(vec![addr(3), addr(1), addr(2)]));
        assert_eq!(f.path_from(addr(2)), Some(vec![addr(2)]));
    }

    #[test]
    fn objects_seen_by_an_earlier_fruitless_search_are_not_explored_again() {
        // Root A = 0 -> 1 -> 2; root B = 3 -> 1. Target 4 is referenced by nobody:
        // nothing is found and the second search stops at 1 (already seen).
        let g = graph(5, &[&[1], &[2], &[], &[1], &[]]);
        let deps = DependentEdges::default();
        let mut f = PathFinder::new(&g, RefSource::Edges(g.built_edges().unwrap()), &deps, addr(4));
        assert_eq!(f.path_from(addr(0)), None);
        assert_eq!(f.path_from(addr(3)), None);
    }

    #[test]
    fn later_blocks_are_explored_first() {
        // 0 references 1..=5: with 6-byte pointers and no parent, the first block holds
        // four references (1..4) and the second one (5), which is explored first. Both 1
        // and 5 lead to the target 6: the chain goes through 5.
        let g = graph(7, &[&[1, 2, 3, 4, 5], &[6], &[], &[], &[], &[6], &[]]);
        let deps = DependentEdges::default();
        let mut f = PathFinder::new(&g, RefSource::Edges(g.built_edges().unwrap()), &deps, addr(6));
        assert_eq!(f.path_from(addr(0)), Some(vec![addr(0), addr(5), addr(6)]));
    }

    #[test]
    fn a_pruned_search_does_the_explorations_an_ancestor_put_off_before_packing_a_shared_reference() {
        // R = 0 -> [Q, A2]; Q = 1 -> [r, A2]; A2 = 2 -> [r, n1, n2, Y1, Y2]; Y1, Y2 -> T = 8.
        // The full search expands Q before A2: Q queues r (seen), so A2 packs n1 n2 Y1 | Y2
        // and tries Y2 first. The pruned one puts Q off whole (nothing to try there); r,
        // referenced by Q too, must count as seen when A2 packs, or Y1 would come first.
        let g = graph(9, &[&[1, 2], &[3, 2], &[3, 4, 5, 6, 7], &[], &[], &[], &[8], &[8], &[]]);
        let deps = DependentEdges::default();
        let edges = g.built_edges().unwrap();
        let reverse = edges.reverse();
        let mut full = PathFinder::new(&g, RefSource::Edges(edges), &deps, addr(8));
        let mut pruned = PathFinder::new(&g, RefSource::Edges(edges), &deps, addr(8)).pruned(&reverse);
        let want = Some(vec![addr(0), addr(2), addr(7), addr(8)]);
        assert_eq!(full.path_from(addr(0)), want);
        assert_eq!(pruned.path_from(addr(0)), want);
        assert_eq!(pruned.pruning_stats(), (1, false), "the put-off exploration was done, no start over");
    }

    #[test]
    fn ancestors_know_each_ones_only_ancestor_reference() {
        // 0 -> [1, 2]; 1 -> [3]; 2 -> [3, 4]; 5 -> [2] through a dependent handle only;
        // target 3. Ancestors: 0, 1, 2, 3, 5; 4 is none.
        let g = graph(6, &[&[1, 2], &[3], &[3, 4], &[], &[], &[]]);
        let deps = DependentEdges::new(&g, &[(addr(5), addr(2))]);
        let edges = g.built_edges().unwrap();
        let reverse = edges.reverse();
        let a = Ancestors::find(&g, RefSource::Edges(edges), &reverse, &deps, addr(3));
        assert_eq!((a.target(), a.len()), (addr(3), 5));
        let c = a.children.as_ref().expect("the edges are built");
        assert_eq!(c.only(&a.set, 0, None, &deps), None, "two ancestor references");
        assert_eq!(c.only(&a.set, 1, None, &deps), Some(Some(3)));
        assert_eq!(c.only(&a.set, 2, None, &deps), Some(Some(3)), "4 is no ancestor");
        assert_eq!(c.only(&a.set, 3, None, &deps), Some(None));
        assert_eq!(c.only(&a.set, 4, None, &deps), None, "no ancestor");
        assert_eq!(c.only(&a.set, 5, None, &deps), Some(Some(2)), "through its dependent handle");
        // Ranks past a group of 8 words: ancestors spread over 1,200 objects.
        let n = 1200;
        let lists: Vec<Vec<ObjectId>> = (0..n).map(|i| if i % 7 == 0 && i + 7 < n { vec![i as ObjectId + 7, 1] } else { vec![] }).collect();
        let slices: Vec<&[ObjectId]> = lists.iter().map(|l| l.as_slice()).collect();
        let g = graph(n, &slices);
        let edges = g.built_edges().unwrap();
        let reverse = edges.reverse();
        let last = ((n - 1) / 7 * 7) as u64;
        let a = Ancestors::find(&g, RefSource::Edges(edges), &reverse, &DependentEdges::default(), addr(last));
        let c = a.children.as_ref().expect("the edges are built");
        for i in (0..n as ObjectId).step_by(7) {
            let want = if u64::from(i) == last { Some(None) } else { Some(Some(i + 7)) };
            assert_eq!(c.only(&a.set, i, None, &DependentEdges::default()), want, "object {i}");
        }
    }

    #[test]
    fn pruned_and_full_searches_agree_on_random_graphs() {
        // Small graphs with many shared references (so block packing and put-off
        // explorations matter), dependent handles, objects without pointers and repeated
        // roots: every target, every root in order, the same chain both ways.
        let mut rng = crate::test_rng::XorShift(0x2545_f491_4f6c_dd1d);
        let mut below = |n: u64| rng.below(n);
        let (mut compared, mut materialized, mut started_over, mut reached) = (0usize, 0usize, 0usize, 0usize);
        for _ in 0..400 {
            let n = 3 + below(30) as usize;
            let lists: Vec<Vec<ObjectId>> = (0..n)
                .map(|_| {
                    let k = if below(4) == 0 { below(10) } else { below(4) };
                    (0..k).map(|_| below(n as u64) as ObjectId).collect()
                })
                .collect();
            let slices: Vec<&[ObjectId]> = lists.iter().map(|l| l.as_slice()).collect();
            let mut g = graph(n, &slices);
            // Some objects without pointers (never expanded, whatever their edges).
            let mut leaf = g.types[0].clone();
            leaf.mt ^= 0x1000;
            leaf.gc_desc = None;
            g.types.push(leaf);
            let type_ids: Vec<u32> = (0..n).map(|_| u32::from(below(6) == 0)).collect();
            g.type_ids = type_ids.into();
            let pairs: Vec<(u64, u64)> = (0..below(3)).map(|_| (addr(below(n as u64)), addr(below(n as u64)))).collect();
            let deps = DependentEdges::new(&g, &pairs);
            let edges = g.built_edges().unwrap();
            let reverse = edges.reverse();
            let roots: Vec<u64> = (0..1 + below(10)).map(|_| addr(below(n as u64))).collect();
            // Targets one after another in one "session": the last one's ancestors and
            // search memory handed on.
            let mut previous: Option<std::sync::Arc<Ancestors>> = None;
            let mut memory = SearchMemory::default();
            for t in 0..n as u64 {
                let mut full = PathFinder::new(&g, RefSource::Edges(edges), &deps, addr(t));
                let mut pruned = PathFinder::new(&g, RefSource::Edges(edges), &deps, addr(t)).pruned(&reverse);
                // A second search for the target with the ancestors the first one found
                // (as a session keeps them), whose searches must not change them.
                let kept = pruned.ancestors().expect("a pruned search has ancestors");
                let mut again = PathFinder::new(&g, RefSource::Edges(edges), &deps, addr(t)).pruned_with(&reverse, kept);
                // The ancestors found from the last target's are the same as found afresh.
                let fresh = Ancestors::find(&g, RefSource::Edges(edges), &reverse, &deps, addr(t));
                if previous.as_ref().is_some_and(|a| fresh.contains(t as ObjectId - 1) && a.target() == addr(t - 1)) {
                    reached += 1;
                }
                let mut chained = PathFinder::new(&g, RefSource::Edges(edges), &deps, addr(t)).reusing(memory).pruned_after(&reverse, previous.take());
                let a = chained.ancestors().expect("a pruned search has ancestors");
                assert_eq!(a.set.0, fresh.set.0, "graph {lists:?}, deps {pairs:?}, target {t}");
                // Half the time filled before the search (as beside it), else worked out by
                // the search as it needs them and compared after.
                let fill_first = t % 2 == 0;
                if fill_first {
                    a.fill_children(edges, &deps, &AtomicBool::new(false));
                }
                for &r in &roots {
                    let want = full.path_from(r);
                    assert_eq!(pruned.path_from(r), want, "graph {lists:?}, deps {pairs:?}, roots {roots:?}, target {t}");
                    assert_eq!(again.path_from(r), want, "kept ancestors: graph {lists:?}, deps {pairs:?}, roots {roots:?}, target {t}");
                    assert_eq!(chained.path_from(r), want, "chained: graph {lists:?}, deps {pairs:?}, roots {roots:?}, target {t}");
                    compared += 1;
                }
                let (x, y) = (a.children.as_ref().expect("edges"), fresh.children.as_ref().expect("edges"));
                for (i, (cx, cy)) in x.child.iter().zip(&y.child).enumerate() {
                    let (cx, cy) = (cx.load(Ordering::Relaxed), cy.load(Ordering::Relaxed));
                    assert!(cx == cy || (!fill_first && cx == AncestorChildren::UNKNOWN), "rank {i}: graph {lists:?}, deps {pairs:?}, target {t}");
                }
                a.fill_children(edges, &deps, &AtomicBool::new(false));
                let loads = |c: &AncestorChildren| c.child.iter().map(|v| v.load(Ordering::Relaxed)).collect::<Vec<_>>();
                assert_eq!((&x.before, loads(x)), (&y.before, loads(y)), "graph {lists:?}, deps {pairs:?}, target {t}");
                drop(a);
                previous = chained.ancestors();
                memory = chained.into_memory();
                let (m, over) = pruned.pruning_stats();
                materialized += m;
                started_over += usize::from(over);
            }
        }
        assert!(compared > 10_000 && materialized > 0 && started_over > 0 && reached > 100, "{compared} {materialized} {started_over} {reached}");
    }

    #[test]
    fn dependent_secondaries_come_first_but_only_for_objects_with_pointers() {
        let mut g = graph(3, &[&[], &[], &[]]);
        g.types[0].gc_desc = None;
        let deps = DependentEdges::new(&g, &[(addr(0), addr(2))]);
        assert_eq!(deps.secondaries(0).collect::<Vec<_>>(), vec![2]);
        assert!(deps.is_link(addr(0), addr(2)));
        // Object 0's type has no GCDesc in this graph: the dependent handle is not followed.
        let mut f = PathFinder::new(&g, RefSource::Edges(g.built_edges().unwrap()), &deps, addr(2));
        assert_eq!(f.path_from(addr(0)), None);
    }
}

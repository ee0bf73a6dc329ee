//! Root paths without the object table: the search of [`super::gcroot::PathFinder`]
//! (ClrMD's depth-first search with its state kept across roots, its 32-byte blocks of
//! pending references, its clean-up when a path is found: read that module's doc),
//! keyed by address instead of object id.
//!
//! A first `gcroot` in a session has no object table (16 bytes an object, two walks of
//! the heap) and no edge list; building them costs more than the search. This search
//! needs only where objects start ([`super::marks::ObjectBits`]: one bit per 8 heap bytes,
//! one parallel walk) and reads each object's references from the dump when it expands
//! it. Everything the table search answers by id is answered by address here, with the
//! same outcome object for object:
//!
//! - a reference is followed exactly when an object starts at its address (the table
//!   drops the others: the same answers on a damaged heap);
//! - `seen` is a bit per object start, next to its start bit ([`SearchObjects`]);
//! - a pointer's size class in a block comes from the address itself ([`stored_size`]),
//!   as ClrMD computes it;
//! - dependent handles are kept whole when both ends are object starts, sorted (stably)
//!   by primary address, which is the table's id order.
//!
//! The search is generic over [`SearchObjects`] so that its tests can run it on small
//! made-up heaps next to the table's search and compare every path.
use super::gcroot::{stored_size, Block, Links};
use rustc_hash::FxHashMap;

/// Bits of the filter in front of `found` (8 KB: stays in the first-level cache).
const FILTER_BITS: u64 = 1 << 16;

/// What the search asks of the heap's objects. `Slot` locates an object start in the
/// implementation's bitmaps.
pub trait SearchObjects {
    type Slot: Copy;
    /// The slot of the object starting at `address`; `None` when no object starts there.
    fn resolve(&self, address: u64) -> Option<Self::Slot>;
    /// The slot of `address`, which [`SearchObjects::resolve`] answered before (no
    /// check that an object starts there).
    fn locate(&self, address: u64) -> Option<Self::Slot>;
    /// Adds the object to `seen`; false when it was there.
    fn insert_seen(&mut self, slot: Self::Slot) -> bool;
    /// Takes the object out of `seen`.
    fn remove_seen(&mut self, slot: Self::Slot);
    /// Appends the object's references to `out` (its GCDesc's, in GCDesc order, null
    /// ones left out, unresolved: not its LoaderAllocator, which ClrMD does not report);
    /// false, appending nothing, when its type holds no references.
    fn expand(&mut self, address: u64, slot: Self::Slot, out: &mut Vec<u64>) -> bool;
    /// Asks for the object's first bytes ahead of its expansion (a hint).
    fn prefetch(&self, _address: u64, _slot: Self::Slot) {}
}

/// Finds root paths to one target by address, keeping ClrMD's state across roots (the
/// same paths as [`super::gcroot::PathFinder`] finds over the object table).
pub struct AddressPathFinder<O: SearchObjects> {
    objects: O,
    /// Dependent handles whose ends are both object starts, (primary, secondary),
    /// sorted stably by primary.
    dependents: Vec<(u64, u64)>,
    target: u64,
    found: FxHashMap<u64, u32>,
    /// A bit per hash of the addresses in `found`: most references are not there, and
    /// the bit says so without a hash-table probe.
    filter: Vec<u64>,
    links: Links,
    refs: Vec<u64>,
}

#[inline]
fn filter_bit(address: u64) -> (usize, u64) {
    let h = (address >> 3) ^ (address >> 19);
    let i = h % FILTER_BITS;
    ((i / 64) as usize, 1 << (i % 64))
}

impl<O: SearchObjects> AddressPathFinder<O> {
    /// A search for `target` over `objects`, following `dependents` (primary,
    /// secondary addresses of the dependent handles, in handle-table order).
    pub fn new(objects: O, dependents: &[(u64, u64)], target: u64) -> AddressPathFinder<O> {
        let mut pairs: Vec<(u64, u64)> = dependents
            .iter()
            .copied()
            .filter(|&(p, s)| objects.resolve(p).is_some() && objects.resolve(s).is_some())
            .collect();
        pairs.sort_by_key(|p| p.0);
        AddressPathFinder {
            objects,
            dependents: pairs,
            target,
            found: FxHashMap::default(),
            filter: vec![0; (FILTER_BITS / 64) as usize],
            links: Links::default(),
            refs: Vec::new(),
        }
    }

    /// The chain from the object `start` (a root's object) to the target, as addresses
    /// (`start` first, the target last), or `None` when this search finds none.
    pub fn path_from(&mut self, start: u64) -> Option<Vec<u64>> {
        let link = self.find(start)?;
        Some(self.links.chain(link))
    }

    fn add_found(&mut self, object: u64, link: u32) {
        self.found.insert(object, link);
        let (w, b) = filter_bit(object);
        self.filter[w] |= b;
    }

    #[inline]
    fn found(&self, object: u64) -> Option<u32> {
        let (w, b) = filter_bit(object);
        if self.filter[w] & b == 0 {
            return None;
        }
        self.found.get(&object).copied()
    }

    fn remove_seen(&mut self, object: u64) {
        if let Some(slot) = self.objects.locate(object) {
            self.objects.remove_seen(slot);
        }
    }

    fn find(&mut self, start: u64) -> Option<u32> {
        if let Some(&l) = self.found.get(&start) {
            return Some(l);
        }
        if start == self.target {
            let l = self.links.push(start, None);
            self.add_found(start, l);
            return Some(l);
        }
        let slot = self.objects.resolve(start)?;
        let mut stack: Vec<Block<u64>> = Vec::new();
        // An object without references queues nothing: the loop below ends at once.
        if let Some(l) = self.walk(&mut stack, None, start, slot) {
            self.drain(&mut stack);
            return Some(l);
        }
        while let Some(top) = stack.len().checked_sub(1) {
            let Some(child) = stack[top].take() else {
                stack.pop();
                continue;
            };
            let parent = stack[top].object;
            let Some(slot) = self.objects.locate(child) else {
                continue;
            };
            if let Some(l) = self.walk(&mut stack, Some(parent), child, slot) {
                return Some(self.cleanup(&mut stack, l, top));
            }
        }
        None
    }

    /// The secondaries of the dependent handles whose primary is `object`.
    fn secondaries(&self, object: u64) -> &[(u64, u64)] {
        let start = self.dependents.partition_point(|p| p.0 < object);
        let end = start + self.dependents[start..].partition_point(|p| p.0 == object);
        &self.dependents[start..end]
    }

    /// Expands `curr`: the target itself, or one of its references already known to
    /// lead to the target, gives a link; otherwise its unseen references are queued.
    fn walk(&mut self, stack: &mut Vec<Block<u64>>, parent: Option<u64>, curr: u64, slot: O::Slot) -> Option<u32> {
        if curr == self.target {
            let l = self.links.push(curr, None);
            self.add_found(curr, l);
            return Some(l);
        }
        let mut refs = std::mem::take(&mut self.refs);
        refs.clear();
        if !self.dependents.is_empty() {
            refs.extend(self.secondaries(curr).iter().map(|p| p.1));
        }
        if !self.objects.expand(curr, slot, &mut refs) {
            self.refs = refs;
            return None;
        }
        let mut block: Option<Block<u64>> = None;
        let mut result = None;
        for &r in &refs {
            let Some(rs) = self.objects.resolve(r) else {
                continue;
            };
            if let Some(next) = self.found(r) {
                let l = self.links.push(curr, Some(next));
                self.add_found(curr, l);
                result = Some(l);
                break;
            }
            if !self.objects.insert_seen(rs) {
                continue;
            }
            // Its memory is asked for now, when queued: an object is expanded some time
            // after (measured: 10% less time than asking when its block comes up).
            self.objects.prefetch(r, rs);
            let b = block.get_or_insert_with(|| Block::new(curr, parent, stored_size));
            if !b.store(r, stored_size(r)) {
                stack.push(*b);
                let mut fresh = Block::new(curr, parent, stored_size);
                fresh.store(r, stored_size(r));
                block = Some(fresh);
            }
        }
        if let Some(b) = block {
            stack.push(b);
        }
        self.refs = refs;
        result
    }

    /// Rebuilds the chain after `link` was found below the block at `curr`, releasing
    /// what the search queued but did not explore.
    fn cleanup(&mut self, stack: &mut Vec<Block<u64>>, link: u32, curr: usize) -> u32 {
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
                self.remove_seen(b.object);
            }
        }
        self.drain(stack);
        link
    }

    fn add_link(&mut self, curr: u32, obj: u64) -> u32 {
        let next = match self.found.get(&obj) {
            Some(&n) => n,
            None => {
                let n = self.links.push(obj, Some(curr));
                self.add_found(obj, n);
                n
            }
        };
        self.remove_seen(obj);
        next
    }

    /// Takes the unexplored references of every queued block back out of `seen`.
    fn drain(&mut self, stack: &mut Vec<Block<u64>>) {
        for i in 0..stack.len() {
            while let Some(child) = stack[i].take() {
                self.remove_seen(child);
            }
        }
        stack.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::gcroot::{DependentEdges, PathFinder};
    use crate::graph::{ObjectGraph, ObjectId, RefSource};
    use std::collections::HashMap;

    /// A made-up heap: objects by address, each with its references (addresses, some
    /// pointing at no object) and whether its type holds references.
    struct Fake {
        index: HashMap<u64, usize>,
        refs: Vec<Vec<u64>>,
        pointers: Vec<bool>,
        seen: Vec<bool>,
    }

    impl SearchObjects for Fake {
        type Slot = usize;
        fn resolve(&self, address: u64) -> Option<usize> {
            self.index.get(&address).copied()
        }
        fn locate(&self, address: u64) -> Option<usize> {
            self.index.get(&address).copied()
        }
        fn insert_seen(&mut self, slot: usize) -> bool {
            !std::mem::replace(&mut self.seen[slot], true)
        }
        fn remove_seen(&mut self, slot: usize) {
            self.seen[slot] = false;
        }
        fn expand(&mut self, _address: u64, slot: usize, out: &mut Vec<u64>) -> bool {
            if !self.pointers[slot] {
                return false;
            }
            out.extend(&self.refs[slot]);
            true
        }
    }

    use crate::test_rng::XorShift as Rng;

    /// Random heaps (addresses in all three size classes, objects without references,
    /// references to no object, shared and cyclic references, dependent handles), every
    /// object a target in turn, roots in random order with repeats: the address search
    /// finds the same paths as the table's.
    #[test]
    fn same_paths_as_the_table_search() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut found, mut long) = (0, 0);
        for round in 0..300 {
            let n = 2 + rng.below(40) as usize;
            // Addresses in increasing order, crossing 2^40 and 2^48 in some rounds.
            let bases = [0x10_0000u64, 0xff_ffff_0000, 0xffff_ffff_0000, 0x7f00_0000_0000];
            let mut a = bases[round % bases.len()];
            let mut addresses = Vec::with_capacity(n);
            for _ in 0..n {
                a += 24 + 8 * rng.below(64);
                addresses.push(a);
            }
            let pointers: Vec<bool> = (0..n).map(|_| rng.below(5) != 0).collect();
            let mut lists: Vec<Vec<ObjectId>> = Vec::new();
            let mut raw: Vec<Vec<u64>> = Vec::new();
            for _ in 0..n {
                let k = if rng.below(6) == 0 { rng.below(14) } else { rng.below(4) };
                let (mut ids, mut r) = (Vec::new(), Vec::new());
                for _ in 0..k {
                    if rng.below(10) == 0 {
                        // A reference into the middle of an object: not followed.
                        r.push(addresses[rng.below(n as u64) as usize] + 8);
                    } else {
                        let t = rng.below(n as u64) as usize;
                        ids.push(t as ObjectId);
                        r.push(addresses[t]);
                    }
                }
                lists.push(ids);
                raw.push(r);
            }
            let objects: Vec<(u64, u32)> = addresses.iter().map(|&a| (a, 24)).collect();
            let slices: Vec<&[ObjectId]> = lists.iter().map(|l| l.as_slice()).collect();
            // The table search's "no references" is its type's GCDesc: one type per kind.
            let mut g = ObjectGraph::from_parts(&objects, &slices);
            let mut leaf = g.types[0].clone();
            leaf.mt = 0x2000;
            leaf.gc_desc = None;
            g.types.push(leaf);
            let mut type_ids: Vec<u32> = g.type_ids.to_vec();
            for (i, &p) in pointers.iter().enumerate() {
                type_ids[i] = if p { 0 } else { 1 };
            }
            g.type_ids = type_ids.into();
            let deps: Vec<(u64, u64)> = (0..rng.below(4))
                .map(|_| {
                    let p = addresses[rng.below(n as u64) as usize];
                    let s = if rng.below(5) == 0 { 0x8 } else { addresses[rng.below(n as u64) as usize] };
                    (p, s)
                })
                .collect();
            let dep_edges = DependentEdges::new(&g, &deps);
            let roots: Vec<u64> = (0..1 + rng.below(8))
                .map(|_| if rng.below(12) == 0 { 0x18 } else { addresses[rng.below(n as u64) as usize] })
                .collect();
            let mut targets = addresses.clone();
            targets.push(0x18);
            for &target in &targets {
                let mut table = PathFinder::new(&g, RefSource::Edges(g.built_edges().unwrap()), &dep_edges, target);
                let fake = Fake {
                    index: addresses.iter().enumerate().map(|(i, &a)| (a, i)).collect(),
                    refs: raw.clone(),
                    pointers: pointers.clone(),
                    seen: vec![false; n],
                };
                let mut cold = AddressPathFinder::new(fake, &deps, target);
                for &r in &roots {
                    let path = table.path_from(r);
                    assert_eq!(cold.path_from(r), path, "round {round}, target {target:x}, root {r:x}");
                    found += path.is_some() as usize;
                    long += path.is_some_and(|p| p.len() > 3) as usize;
                }
            }
        }
        // The comparison is worth something: many paths found, many of them long.
        assert!(found > 2000 && long > 500, "{found} paths, {long} longer than 3");
    }
}

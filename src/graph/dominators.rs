//! Dominators and retained sizes.
//!
//! Object `d` dominates object `o` when every path from the roots to `o` passes through
//! `d`; `o`'s immediate dominator is the closest such `d`. An object's *retained size* is
//! its own size plus that of every object it dominates: the memory the GC would free if
//! that object alone became unreachable — the number a leak hunter wants, which SOS has
//! no command for.
//!
//! The graph searched is the object graph plus, for each dependent handle, an edge from
//! its primary to its secondary, under a virtual root whose edges go to every root object.
//! Immediate dominators are computed with Semi-NCA (semidominators as Lengauer–Tarjan
//! finds them, with path compression, then each immediate dominator as the nearest
//! ancestor of its parent at or above its semidominator), iteratively so that no
//! recursion depth depends on the heap, on preorder numbers in flat `u32` arrays. The
//! edges are read once, by the depth-first search: a node's predecessors are its parent
//! and the other edges into it, which the search keeps as it meets them (in a heap most
//! objects have one referrer, so these are a fraction of the edges) and a radix sort
//! groups by target; no predecessor lists are built. Objects that reference nothing
//! (leaves: strings, arrays of numbers; 44% of the reachable objects of the 1 GB `big`
//! dump) get no number: they change no other object's dominators, and each one's
//! immediate dominator is the nearest common ancestor of its predecessors in the tree
//! of the others, found through depth and jump pointers ([`Ancestry`]). At the peak 4
//! bytes per object, about 20 per reachable object that is no leaf plus 8 per other
//! edge (16 while they are sorted), then 12 bytes per object kept (immediate dominator,
//! retained size).
use super::index::{plain_mut, write_in_place_or_note, IndexDir, IndexFile, Part};
use super::store::Store;
use super::{Edges, ObjectGraph, ObjectId};
use rayon::prelude::*;
use crate::interrupt::Cancelled;
use crate::progress::Progress;

const NONE: u32 = u32::MAX;

/// Tags a leaf's slot in the search's node -> number array: the number that follows is
/// its dominator so far, not its own.
const LEAF: u32 = 1 << 31;

/// Steps between two polls of Ctrl-C (a power of two: `step & (POLL - 1) == 0`).
const POLL: usize = 1 << 12;

/// `Err(Cancelled)` once Ctrl-C was pressed, asked every [`POLL`] steps.
#[inline]
fn poll(step: usize) -> Result<(), Cancelled> {
    if step & (POLL - 1) == 0 { crate::interrupt::check() } else { Ok(()) }
}

/// Counts steps of work of uneven size (an object with millions of referrers is
/// millions of steps) and polls Ctrl-C every [`POLL`] of them.
#[derive(Default)]
struct Poller(usize);

impl Poller {
    #[inline]
    fn step(&mut self) -> Result<(), Cancelled> {
        self.0 = self.0.wrapping_add(1);
        poll(self.0)
    }
}

/// Immediate dominators and retained sizes of every object reachable from the roots.
pub struct Dominators {
    /// Per object id: its immediate dominator's id, or [`Dominators::ROOT`] for objects
    /// only the roots dominate, or `NONE` (u32::MAX) when unreachable.
    idom: Store<u32>,
    /// Per object id: retained size in bytes (0 when unreachable).
    retained: Store<u64>,
    /// Objects reachable from the roots.
    reachable: usize,
}

impl Dominators {
    /// The virtual root's number in [`Dominators::immediate_dominator`] answers.
    pub const ROOT: u32 = u32::MAX - 1;

    /// Computes the dominator tree from `roots` (object ids) over the graph's edges and
    /// the dependent edges `(primary, secondary)`.
    /// The edges are taken over: read by the depth-first search, then dropped.
    /// Every loop over the objects polls Ctrl-C ([`crate::interrupt`]) once per
    /// [`POLL`] steps and ends with [`Cancelled`] (a few milliseconds on a 1 GB heap).
    pub fn compute(graph: &ObjectGraph, edges: Edges, roots: &[ObjectId], dependents: &[(ObjectId, ObjectId)]) -> Result<Dominators, Cancelled> {
        Self::compute_in(graph, edges, roots, dependents, None)
    }

    /// [`Dominators::compute`], its two per-object arrays written straight into the
    /// index's file when `index` (the directory and the object table's content hash) is
    /// given: they are page cache from the start, never a private copy. In memory when
    /// the file cannot be written.
    pub fn compute_in(
        graph: &ObjectGraph,
        edges: Edges,
        roots: &[ObjectId],
        dependents: &[(ObjectId, ObjectId)],
        index: Option<(&IndexDir, u64)>,
    ) -> Result<Dominators, Cancelled> {
        let n = graph.len() + 1; // node 0 is the virtual root; object i is node i + 1
        let mut extra: Vec<(u32, u32)> = dependents.iter().map(|&(p, s)| (p + 1, s + 1)).collect();
        extra.sort_by_key(|e| e.0); // stable: a primary's secondaries keep their order
        let mut root_nodes: Vec<u32> = roots.iter().map(|&r| r + 1).collect();
        root_nodes.sort_unstable();
        root_nodes.dedup();
        let progress = Progress::new("computing dominators", 4);
        let mut clock = crate::progress::PartClock::start();
        // Leaves (objects that reference nothing and are no dependent handle's primary)
        // are set aside when the numbers leave room for the tag that marks them.
        let leaves_apart = n < (LEAF as usize) - 1;

        // 1. Depth-first preorder from the virtual root (iterative: a stack of the nodes
        //    being explored, each with its number and the index of its next successor).
        //    `pre` maps a node to its number, `vertex` a number to its node, `parent` a
        //    number to its parent's number. Every other edge between reached nodes (one
        //    whose target was numbered already) is kept in `others` as
        //    `(target << 32) | source`, in numbers: with the tree edges those are all the
        //    predecessors the semidominators need, so the edges are read once, here, and
        //    no predecessor lists are built (in a heap most objects have one referrer:
        //    few other edges).
        //    A leaf gets no number: nothing is reached through it, so it changes no other
        //    node's dominators, and its own immediate dominator is the nearest common
        //    ancestor of its predecessors in the tree of the others (step 3b). `pre` holds
        //    its first predecessor's number, tagged [`LEAF`]; each further edge into it
        //    goes to `leaf_edges`, `(leaf node << 32) | source`. On the 1 GB `big` dump
        //    that is 6.9 M of 15.9 M reached objects (strings, arrays of numbers), and
        //    2.7 M of the 6.9 M other edges (into 56 leaves: shared strings).
        let mut pre = vec![NONE; n];
        let mut vertex: Vec<u32> = Vec::with_capacity(n);
        let mut parent: Vec<u32> = Vec::with_capacity(n);
        let mut others: Vec<u64> = Vec::new();
        let mut leaf_edges: Vec<u64> = Vec::new();
        let mut leaves = 0usize;
        {
            let extra_of = |v: u32| {
                let from = extra.partition_point(|e| e.0 < v);
                let to = extra.partition_point(|e| e.0 <= v);
                &extra[from..to]
            };
            let is_leaf = |w: u32| {
                leaves_apart
                    && w != 0
                    && edges.references(w - 1).is_empty()
                    && (extra.is_empty() || extra.binary_search_by_key(&w, |e| e.0).is_err())
            };
            /// What the search keeps besides the numbers.
            struct Kept<'k> {
                vertex: &'k mut Vec<u32>,
                parent: &'k mut Vec<u32>,
                others: &'k mut Vec<u64>,
                leaf_edges: &'k mut Vec<u64>,
                leaves: &'k mut usize,
            }
            // Numbers node `w`, reached from number `from`: true when it was new and is
            // to be explored. An edge to a node numbered already goes to `others` (a
            // self-loop is no predecessor worth keeping), one to a leaf seen already to
            // `leaf_edges`. (A function, not a closure: inlined into the loop.)
            #[inline(always)]
            fn visit(w: u32, from: u32, pre: &mut [u32], kept: &mut Kept, is_leaf: impl Fn(u32) -> bool) -> bool {
                let Some(slot) = pre.get_mut(w as usize) else { return false };
                if *slot == NONE {
                    if is_leaf(w) {
                        *slot = from | LEAF;
                        *kept.leaves += 1;
                        return false;
                    }
                    *slot = kept.vertex.len() as u32;
                    kept.vertex.push(w);
                    kept.parent.push(from);
                    true
                } else {
                    if *slot & LEAF != 0 {
                        if *slot != from | LEAF {
                            kept.leaf_edges.push(((w as u64) << 32) | from as u64);
                        }
                    } else if *slot != from {
                        kept.others.push(((*slot as u64) << 32) | from as u64);
                    }
                    false
                }
            }
            let mut kept = Kept { vertex: &mut vertex, parent: &mut parent, others: &mut others, leaf_edges: &mut leaf_edges, leaves: &mut leaves };
            // (node, its number, index of its next successor): its references (or the
            // roots, for the virtual root), then its dependent secondaries.
            let mut stack: Vec<(u32, u32, u32)> = Vec::new();
            pre[0] = 0;
            kept.vertex.push(0);
            kept.parent.push(NONE);
            let (mut v, mut num, mut k) = (0u32, 0u32, 0u32);
            let mut poller = Poller::default();
            loop {
                poller.step()?;
                let (own, shift) = if v == 0 { (&root_nodes[..], 0) } else { (edges.references(v - 1), 1) };
                let mut next = None;
                while let Some(&t) = own.get(k as usize) {
                    k += 1;
                    let w = t.wrapping_add(shift);
                    if visit(w, num, &mut pre, &mut kept, is_leaf) {
                        next = Some(w);
                        break;
                    }
                }
                if next.is_none() && v != 0 && !extra.is_empty() {
                    let secondaries = extra_of(v);
                    while let Some(&(_, w)) = (k as usize).checked_sub(own.len()).and_then(|j| secondaries.get(j)) {
                        k += 1;
                        if visit(w, num, &mut pre, &mut kept, is_leaf) {
                            next = Some(w);
                            break;
                        }
                    }
                }
                match next {
                    Some(w) => {
                        stack.push((v, num, k));
                        (v, num, k) = (w, kept.vertex.len() as u32 - 1, 0);
                    }
                    None => match stack.pop() {
                        Some(top) => (v, num, k) = top,
                        None => break,
                    },
                }
            }
        }
        let reached = vertex.len();
        drop(edges);
        super::store::release_freed_memory();
        clock.part(&format!(
            "dominators: depth-first search ({} reached, {leaves} of them leaves, {} other edges, {} into leaves)",
            reached - 1 + leaves,
            others.len(),
            leaf_edges.len()
        ));
        progress.inc(1);

        // 2. The other edges grouped by target (a radix sort on the target's bits).
        sort_by_target(&mut others, reached)?;
        clock.part("dominators: other edges sorted");
        progress.inc(1);

        // 3. Semidominators (Semi-NCA: in reverse preorder, a node's semidominator is
        //    the least of its predecessors' numbers and of the labels on the compressed
        //    paths above its later-numbered predecessors), then immediate dominators as
        //    the nearest common ancestor rule gives them, in preorder. All on preorder
        //    numbers, in shared arrays. A node's predecessors are its parent (numbered
        //    below it: a candidate as it is) and its run of `others`, walked from the end
        //    (targets descending, as `i` goes). `forest[i]` is (ancestor, label):
        //    compression reads both. Nearly every other edge comes from a later number
        //    (a compression, from a node far away): the nodes a few edges ahead are asked
        //    for early, and their ancestors a few edges later.
        let mut forest: Vec<(u32, u32)> = parent.iter().enumerate().map(|(i, &p)| (p, i as u32)).collect();
        let mut semi = vec![0u32; reached];
        let mut path: Vec<u32> = Vec::new();
        let mut poller = Poller::default();
        let mut rest = others.len();
        const AHEAD: usize = 16;
        for i in (1..reached).rev() {
            poller.step()?;
            let mut s = parent[i];
            while let Some(&e) = rest.checked_sub(1).and_then(|r| others.get(r)) {
                if (e >> 32) as usize != i {
                    break;
                }
                rest -= 1;
                poller.step()?;
                if let Some(&f) = rest.checked_sub(AHEAD).and_then(|r| others.get(r)) {
                    prefetch(forest.get(f as u32 as usize));
                }
                if let Some(&f) = rest.checked_sub(AHEAD / 2).and_then(|r| others.get(r))
                    && let Some(&(a, _)) = forest.get(f as u32 as usize)
                {
                    prefetch(forest.get(a as usize));
                }
                let v = e as u32;
                let u = if v as usize > i {
                    compress(v, i as u32, &mut forest, &mut path);
                    forest[v as usize].1
                } else {
                    v
                };
                s = s.min(u);
            }
            semi[i] = s;
            forest[i].1 = s;
        }
        drop((others, path));
        clock.part("dominators: semidominators");
        progress.inc(1);
        // idom[i] starts as the parent and climbs (over final idoms of earlier numbers)
        // until it is at or above the semidominator.
        let mut idom = parent;
        for i in 1..reached {
            poll(i)?;
            let mut d = idom[i];
            while d > semi[i] {
                poller.step()?;
                d = idom[d as usize];
            }
            idom[i] = d;
        }
        drop(semi);
        clock.part("dominators: immediate dominators");

        // 3b. A leaf's immediate dominator: the nearest common ancestor of its
        //     predecessors in the tree (`pre` holds the first; each further one moves it
        //     up), found in O(log depth) steps through `forest`'s memory, reused as each
        //     number's depth and jump pointer ([`Ancestry`]).
        if !leaf_edges.is_empty() {
            let tree = Ancestry::new(&idom, forest)?;
            for (j, &e) in leaf_edges.iter().enumerate() {
                poll(j)?;
                let (w, p) = ((e >> 32) as usize, e as u32);
                if let Some(slot) = pre.get_mut(w) {
                    let cur = *slot & !LEAF;
                    if cur != 0 && cur != p {
                        *slot = tree.common_ancestor(cur, p) | LEAF;
                    }
                }
            }
            clock.part(&format!("dominators: {} leaves' common ancestors", leaf_edges.len()));
        } else {
            drop(forest);
        }
        drop(leaf_edges);

        // 4. Immediate dominators and retained sizes per object: leaves first, in
        //    object order (their slots are written as the others are cleared), then the
        //    other objects children before their dominators (reverse preorder).
        //    `retained` starts at zero. The objects a few numbers ahead are asked for
        //    early (their size, slots, dominator's node), and their dominators' slots a
        //    few numbers later.
        let objects = n - 1;
        let finish = |out_idom: &mut [u32], retained: &mut [u64]| -> Result<(), Cancelled> {
            let mut clock = crate::progress::PartClock::start();
            for o in 0..out_idom.len().min(retained.len()) {
                poll(o)?;
                out_idom[o] = NONE;
                let p = pre.get(o + 1).copied().unwrap_or(NONE);
                if p == NONE || p & LEAF == 0 {
                    continue;
                }
                let size = graph.size(o as ObjectId);
                retained[o] = size;
                match p & !LEAF {
                    0 => out_idom[o] = Self::ROOT,
                    d => {
                        let od = (vertex[d as usize] - 1) as usize;
                        out_idom[o] = od as u32;
                        retained[od] += size;
                    }
                }
            }
            clock.part("dominators: leaves' slots");
            const AHEAD: usize = 16;
            for i in (1..reached).rev() {
                poll(i)?;
                if let Some(j) = i.checked_sub(AHEAD) {
                    let o = vertex[j].wrapping_sub(1);
                    graph.prefetch_size(o);
                    prefetch(retained.get(o as usize));
                    prefetch(out_idom.get(o as usize));
                    prefetch(vertex.get(idom[j] as usize));
                }
                if let Some(&d) = i.checked_sub(AHEAD / 2).and_then(|j| vertex.get(idom[j] as usize)) {
                    prefetch(retained.get(d.wrapping_sub(1) as usize));
                }
                let o = (vertex[i] - 1) as usize;
                retained[o] += graph.size(o as ObjectId);
                match idom[i] {
                    0 => out_idom[o] = Self::ROOT,
                    d => {
                        let od = (vertex[d as usize] - 1) as usize;
                        out_idom[o] = od as u32;
                        retained[od] += retained[o];
                    }
                }
            }
            clock.part("dominators: the others' slots");
            Ok(())
        };
        let reachable = reached - 1 + leaves;
        if let Some((dir, parent)) = index {
            let file = write_in_place_or_note(dir, Part::Dominators, parent, objects as u64, &[4 * objects, 8 * objects], |s| {
                let [a, b] = s else { anyhow::bail!("two sections") };
                let (Some(a), Some(b)) = (plain_mut::<u32>(a), plain_mut::<u64>(b)) else { anyhow::bail!("sections not aligned") };
                finish(a, b)?;
                Ok([reachable as u64, 0, 0, 0])
            });
            crate::interrupt::check()?;
            // Made here: no need to check them again.
            if let Some(file) = file
                && let (Ok(idom), Ok(retained)) = (file.section(0, Some(objects)), file.section(1, Some(objects)))
            {
                clock.part("dominators: retained sizes, written in the index");
                progress.inc(1);
                return Ok(Dominators { idom, retained, reachable });
            }
        }
        let mut out_idom = vec![NONE; objects];
        let mut retained = vec![0u64; objects];
        finish(&mut out_idom, &mut retained)?;
        clock.part("dominators: retained sizes");
        progress.inc(1);
        Ok(Dominators { idom: out_idom.into(), retained: retained.into(), reachable })
    }

    /// The tree of a file over `objects` objects.
    pub fn from_index(file: &IndexFile, objects: usize) -> anyhow::Result<Dominators> {
        let idom: Store<u32> = file.section(0, Some(objects))?;
        let retained: Store<u64> = file.section(1, Some(objects))?;
        if !idom.par_chunks(1 << 16).all(|c| c.iter().all(|&d| (d as usize) < objects || d >= Self::ROOT)) {
            anyhow::bail!("a dominator is out of range");
        }
        let [reachable, _, _, _] = file.extra();
        Ok(Dominators { idom, retained, reachable: reachable.min(objects as u64) as usize })
    }

    /// The immediate dominator of an object: another object's id, [`Dominators::ROOT`],
    /// or `None` when the object is not reachable.
    pub fn immediate_dominator(&self, id: ObjectId) -> Option<u32> {
        self.idom.get(id as usize).copied().filter(|&d| d != NONE)
    }

    /// [`Dominators::immediate_dominator`] of objects `ids` (a range of ids), for a pass
    /// over many.
    pub fn immediate_dominators(&self, ids: std::ops::Range<ObjectId>) -> impl Iterator<Item = Option<u32>> + '_ {
        let idom = super::per_object(&self.idom, ids);
        idom.iter().map(|&d| (d != NONE).then_some(d))
    }

    /// [`Dominators::retained_size`] of objects `ids` (a range of ids), for a pass over many.
    pub fn retained_sizes(&self, ids: std::ops::Range<ObjectId>) -> &[u64] {
        super::per_object(&self.retained, ids)
    }

    /// The bytes the object keeps alive by itself (0 when unreachable).
    pub fn retained_size(&self, id: ObjectId) -> u64 {
        self.retained.get(id as usize).copied().unwrap_or(0)
    }

    /// Number of objects reachable from the roots.
    pub fn reachable(&self) -> usize {
        self.reachable
    }

    /// The dominator tree's child lists (objects each object immediately dominates).
    pub fn children(&self) -> DominatorChildren {
        let n = self.idom.len();
        // Slot n holds the children of the virtual root.
        let parent_slot = |d: u32| if d == Self::ROOT { n } else { d as usize };
        let mut start = vec![0u32; n + 2];
        for &d in self.idom.iter() {
            if d != NONE {
                start[parent_slot(d) + 1] += 1;
            }
        }
        for i in 0..=n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut children = vec![0u32; start[n + 1] as usize];
        for (id, &d) in self.idom.iter().enumerate() {
            if d != NONE {
                let p = parent_slot(d);
                children[fill[p] as usize] = id as u32;
                fill[p] += 1;
            }
        }
        DominatorChildren { start, children }
    }
}

/// Children lists of the dominator tree, as CSR.
pub struct DominatorChildren {
    start: Vec<u32>,
    children: Vec<ObjectId>,
}

impl DominatorChildren {
    /// The objects `id` immediately dominates ([`Dominators::ROOT`]: those only the roots
    /// dominate).
    pub fn of(&self, id: u32) -> &[ObjectId] {
        let slot = if id == Dominators::ROOT { self.start.len() - 2 } else { id as usize };
        match (self.start.get(slot), self.start.get(slot + 1)) {
            (Some(&a), Some(&b)) => &self.children[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Every object in the dominator subtree of `id` (itself included), depth first.
    pub fn subtree(&self, id: ObjectId, mut visit: impl FnMut(ObjectId)) {
        let mut stack = vec![id];
        while let Some(x) = stack.pop() {
            visit(x);
            stack.extend_from_slice(self.of(x));
        }
    }
}

/// Semi-NCA's path compression over `forest[x] = (ancestor, label)`: nodes numbered
/// above `last` are linked into the forest; makes `v`'s label the least label on the path
/// from `v` up to (not including) its first ancestor numbered `last` or below, and points
/// the path's nodes at that ancestor's child. Iterative: no recursion depth depends on
/// the heap.
fn compress(v: u32, last: u32, forest: &mut [(u32, u32)], path: &mut Vec<u32>) {
    path.clear();
    let mut x = v;
    while forest[x as usize].0 > last {
        path.push(x);
        x = forest[x as usize].0;
    }
    // `x` is the last linked node; its label is final for this path. From the top down,
    // each node takes the least label above it and points past the compressed part.
    while let Some(y) = path.pop() {
        let a = forest[y as usize].0;
        if a > last {
            let (aa, la) = forest[a as usize];
            let node = &mut forest[y as usize];
            if la < node.1 {
                node.1 = la;
            }
            node.0 = aa;
        }
    }
}

/// Ancestor questions on a tree of preorder numbers given by each number's parent
/// (`parent[i] < i`, number 0 the root): each number's depth and one jump pointer, set so
/// that an ancestor at any depth is reached in O(log depth) steps (the jump of a node is
/// its parent, or the jump of its parent's jump when both spans are equal; it depends on
/// the depth alone, so two nodes at one depth jump in step).
struct Ancestry<'a> {
    parent: &'a [u32],
    /// Per number: (depth, jump).
    up: Vec<(u32, u32)>,
}

impl<'a> Ancestry<'a> {
    /// Built in preorder (parents first) in `memory`, reused as (depth, jump) pairs.
    fn new(parent: &'a [u32], mut memory: Vec<(u32, u32)>) -> Result<Ancestry<'a>, Cancelled> {
        memory.clear();
        memory.reserve(parent.len());
        memory.push((0, 0));
        for (i, &p) in parent.iter().enumerate().skip(1) {
            poll(i)?;
            let (dp, jp) = memory[p as usize];
            let (dj, jj) = memory[jp as usize];
            let jump = if dp - dj == dj - memory[jj as usize].0 { jj } else { p };
            memory.push((dp + 1, jump));
        }
        Ok(Ancestry { parent, up: memory })
    }

    /// The ancestor of `v` (itself included) at depth `depth` (at most `v`'s).
    fn at_depth(&self, mut v: u32, depth: u32) -> u32 {
        while self.up[v as usize].0 > depth {
            let jump = self.up[v as usize].1;
            v = if self.up[jump as usize].0 >= depth { jump } else { self.parent[v as usize] };
        }
        v
    }

    /// The nearest common ancestor of `a` and `b`.
    fn common_ancestor(&self, a: u32, b: u32) -> u32 {
        let depth = self.up[a as usize].0.min(self.up[b as usize].0);
        let (mut a, mut b) = (self.at_depth(a, depth), self.at_depth(b, depth));
        while a != b {
            let (ja, jb) = (self.up[a as usize].1, self.up[b as usize].1);
            (a, b) = if ja != jb { (ja, jb) } else { (self.parent[a as usize], self.parent[b as usize]) };
        }
        a
    }
}

/// Sorts `(target << 32) | source` pairs by target (`target < limit`; sources in any
/// order): a least-significant-digit radix sort over the target's bits only, with one
/// buffer as large as the pairs.
fn sort_by_target(pairs: &mut Vec<u64>, limit: usize) -> Result<(), Cancelled> {
    let bits = usize::BITS - limit.max(2).saturating_sub(1).leading_zeros();
    let passes = bits.div_ceil(12).max(1);
    let width = bits.div_ceil(passes);
    let buckets = 1usize << width;
    let mut other = vec![0u64; pairs.len()];
    let mut count = vec![0usize; buckets];
    for p in 0..passes {
        crate::interrupt::check()?;
        let shift = 32 + p * width;
        let digit = |e: u64| ((e >> shift) as usize) & (buckets - 1);
        count.fill(0);
        for &e in pairs.iter() {
            count[digit(e)] += 1;
        }
        let mut at = 0;
        for c in count.iter_mut() {
            let here = *c;
            *c = at;
            at += here;
        }
        for &e in pairs.iter() {
            let d = digit(e);
            other[count[d]] = e;
            count[d] += 1;
        }
        std::mem::swap(pairs, &mut other);
    }
    Ok(())
}

/// Asks the CPU to start loading `value`'s cache line (a hint; nothing for `None`).
#[inline(always)]
fn prefetch<T>(value: Option<&T>) {
    if let Some(v) = value {
        super::prefetch(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(refs: &[&[ObjectId]]) -> ObjectGraph {
        let objects: Vec<(u64, u32)> = (0..refs.len()).map(|i| (0x1000 + 0x100 * i as u64, 10 * (i as u32 + 1))).collect();
        ObjectGraph::from_parts(&objects, refs)
    }

    #[test]
    fn chain_and_diamond() {
        // 0 -> 1 -> {2, 3} -> 4; 5 unreachable.
        let mut g = graph(&[&[1], &[2, 3], &[4], &[4], &[], &[]]);
        let e = g.take_edges();
        let d = Dominators::compute(&g, e, &[0], &[]).unwrap();
        assert_eq!(d.immediate_dominator(0), Some(Dominators::ROOT));
        assert_eq!(d.immediate_dominator(1), Some(0));
        assert_eq!(d.immediate_dominator(2), Some(1));
        assert_eq!(d.immediate_dominator(4), Some(1), "two paths: 1 dominates 4, not 2 or 3");
        assert_eq!(d.immediate_dominator(5), None);
        // Sizes are 10, 20, ... : 1 retains 20 + 30 + 40 + 50.
        assert_eq!(d.retained_size(1), 140);
        assert_eq!(d.retained_size(0), 150);
        assert_eq!(d.retained_size(5), 0);
        assert_eq!(d.reachable(), 5);
    }

    #[test]
    fn children_lists() {
        let mut g = graph(&[&[1], &[2, 3], &[4], &[4], &[], &[]]);
        let e = g.take_edges();
        let d = Dominators::compute(&g, e, &[0], &[]).unwrap();
        let c = d.children();
        assert_eq!(c.of(Dominators::ROOT), &[0]);
        let mut kids = c.of(1).to_vec();
        kids.sort();
        assert_eq!(kids, vec![2, 3, 4]);
        let mut all = Vec::new();
        c.subtree(1, |x| all.push(x));
        all.sort();
        assert_eq!(all, vec![1, 2, 3, 4]);
        assert!(c.of(5).is_empty());
    }

    #[test]
    fn two_roots_share_an_object() {
        // Roots 0 and 1 both reach 2: only the virtual root dominates 2.
        let mut g = graph(&[&[2], &[2], &[]]);
        let e = g.take_edges();
        let d = Dominators::compute(&g, e, &[0, 1], &[]).unwrap();
        assert_eq!(d.immediate_dominator(2), Some(Dominators::ROOT));
        assert_eq!(d.retained_size(0), 10);
        assert_eq!(d.retained_size(2), 30);
    }

    #[test]
    fn cycles_and_dependent_edges() {
        // 0 -> 1 -> 2 -> 1 (a cycle); dependent handle 2 => 3.
        let mut g = graph(&[&[1], &[2], &[1], &[]]);
        let e = g.take_edges();
        let d = Dominators::compute(&g, e, &[0], &[(2, 3)]).unwrap();
        assert_eq!(d.immediate_dominator(1), Some(0));
        assert_eq!(d.immediate_dominator(2), Some(1));
        assert_eq!(d.immediate_dominator(3), Some(2));
        assert_eq!(d.retained_size(1), 20 + 30 + 40);
    }

    #[test]
    fn written_in_the_index_as_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("x.dmp");
        std::fs::write(&dump, b"dump").unwrap();
        let index = IndexDir::in_cache(dir.path(), &dump, std::sync::Arc::new(crate::warnings::Warnings::new())).unwrap();
        let mut g = graph(&[&[1], &[2, 3], &[4], &[4], &[], &[]]);
        let e = g.take_edges();
        let mem = Dominators::compute(&g, e.share(), &[0], &[]).unwrap();
        let file = Dominators::compute_in(&g, e, &[0], &[], Some((&index, 7))).unwrap();
        assert!(file.idom.is_mapped());
        assert_eq!(&file.idom[..], &mem.idom[..]);
        assert_eq!(&file.retained[..], &mem.retained[..]);
        assert_eq!(file.reachable(), mem.reachable());
        // And read back as a later session reads it.
        let again = Dominators::from_index(&index.open(Part::Dominators, 7).unwrap(), 6).unwrap();
        assert_eq!(&again.idom[..], &mem.idom[..]);
        assert_eq!(&again.retained[..], &mem.retained[..]);
        assert_eq!(again.reachable(), mem.reachable());
    }

    #[test]
    fn matches_a_brute_force_definition() {
        for round in 0..25u64 {
            let n = 20 + 4 * round as usize;
            let reached = check_against_brute_force(0x2545_f491_4f6c_dd1d ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15), n, 3, 0, 0);
            assert!(reached > n / 4, "the test graph is mostly reachable");
        }
    }

    /// Denser graphs (many nodes with several predecessors: long compressed paths), with
    /// self-loops, repeated edges, several roots and dependent edges: every kind of
    /// predecessor the depth-first search keeps.
    #[test]
    fn matches_a_brute_force_definition_on_dense_graphs() {
        let (mut objects, mut reached) = (0, 0);
        for round in 0..120u64 {
            let seed = 0x9e37_79b9_7f4a_7c15 ^ (round.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1);
            let n = 8 + (round as usize % 60);
            reached += check_against_brute_force(seed, n, 1 + round % 6, round as usize % 5, 0);
            objects += n;
        }
        assert!(reached > objects / 2, "the test graphs are mostly reachable: {reached} of {objects}");
    }

    /// Graphs where many objects reference nothing (as strings and arrays of numbers do
    /// in a heap): leaves with one or several predecessors, leaves among the roots,
    /// leaves that are dependent handles' primaries (then not leaves) or secondaries.
    #[test]
    fn matches_a_brute_force_definition_with_leaves() {
        let (mut objects, mut reached) = (0, 0);
        for round in 0..160u64 {
            let seed = 0x51_7cc1_b727_220a ^ (round.wrapping_mul(0x94d0_49bb_1331_11eb) | 1);
            let n = 6 + (round as usize % 70);
            let leaves = 20 + (round % 7) * 10;
            reached += check_against_brute_force(seed, n, 1 + round % 5, round as usize % 4, leaves);
            objects += n;
        }
        assert!(reached > objects / 3, "the test graphs are mostly reachable: {reached} of {objects}");
    }

    /// Long chains (a linked list: a deep dominator tree) whose nodes share a few leaves
    /// and each hold their own, with edges skipping ahead or back: a shared leaf's
    /// predecessors have their common ancestor far above some of them.
    #[test]
    fn leaves_of_deep_chains() {
        let mut rng = crate::test_rng::XorShift(0x0123_4567_89ab_cdef);
        let mut next = move || rng.next();
        for round in 0..12 {
            let chain = 40 + 10 * round;
            let shared = 3;
            // Nodes 0..chain: the list; then `shared` shared leaves; then one own leaf each.
            let n = chain + shared + chain;
            let mut refs: Vec<Vec<ObjectId>> = vec![Vec::new(); n];
            for i in 0..chain {
                if i + 1 < chain {
                    refs[i].push(i as ObjectId + 1);
                }
                if next() % 3 == 0 {
                    refs[i].push((chain + (next() % shared as u64) as usize) as ObjectId);
                }
                refs[i].push((chain + shared + i) as ObjectId);
                if next() % 8 == 0 {
                    refs[i].push((next() % chain as u64) as ObjectId);
                }
            }
            // The last node holds every shared leaf; a root holds the first directly.
            refs[chain - 1].extend((chain..chain + shared).map(|x| x as ObjectId));
            let roots = [0, chain as ObjectId];
            check_graph(refs, &roots, &[]);
        }
    }

    /// The dominator tree on a list a million long (every node holding the next and a
    /// shared leaf): the leaf's common ancestor is found in few steps a predecessor.
    #[test]
    fn a_long_list_sharing_a_leaf() {
        let n = 1_000_000usize;
        let leaf = n as ObjectId;
        let refs: Vec<Vec<ObjectId>> = (0..=n)
            .map(|i| if i < n { if i + 1 < n { vec![i as ObjectId + 1, leaf] } else { vec![leaf] } } else { Vec::new() })
            .collect();
        let lists: Vec<&[ObjectId]> = refs.iter().map(|r| r.as_slice()).collect();
        let mut g = graph(&lists);
        let e = g.take_edges();
        let started = std::time::Instant::now();
        let d = Dominators::compute(&g, e, &[0], &[]).unwrap();
        assert_eq!(d.immediate_dominator(leaf), Some(0));
        assert_eq!(d.immediate_dominator(n as ObjectId - 1), Some(n as ObjectId - 2));
        assert_eq!(d.retained_size(0), (1..=n as u64 + 1).map(|x| 10 * x).sum::<u64>());
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }

    #[test]
    fn other_edges_sorted_by_target() {
        let mut rng = crate::test_rng::XorShift(0x1234_5678_9abc_def1);
        for limit in [1usize, 2, 3, 1000, 5000, 1 << 20, (1 << 23) + 7] {
            let mut pairs: Vec<u64> = (0..3000)
                .map(|_| {
                    let seed = rng.next();
                    ((seed % limit as u64) << 32) | (seed >> 40)
                })
                .collect();
            let mut expected = pairs.clone();
            expected.sort_by_key(|e| e >> 32);
            sort_by_target(&mut pairs, limit).unwrap();
            assert!(pairs.windows(2).all(|w| w[0] >> 32 <= w[1] >> 32), "limit {limit}");
            let (mut a, mut b) = (pairs.clone(), expected);
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "the same pairs, limit {limit}");
        }
    }

    /// A pseudo-random graph of `n` objects, each with up to `degree` references (none,
    /// for `leaves` percent of them), and `dependents` dependent edges, checked against
    /// the definition ([`check_graph`]). Returns the number of reachable objects (the
    /// tests check their graphs are not trivial).
    fn check_against_brute_force(seed: u64, n: usize, degree: u64, dependents: usize, leaves: u64) -> usize {
        let mut rng = crate::test_rng::XorShift(seed);
        let mut next = || rng.next();
        let edges: Vec<Vec<ObjectId>> = (0..n)
            .map(|_| {
                let count = if next() % 100 < leaves { 0 } else { 1 + next() % degree };
                (0..count).map(|_| (next() % n as u64) as ObjectId).collect()
            })
            .collect();
        let pairs: Vec<(ObjectId, ObjectId)> =
            (0..dependents).map(|_| ((next() % n as u64) as ObjectId, (next() % n as u64) as ObjectId)).collect();
        check_graph(edges, &[0, 1, (n / 2) as ObjectId, 1], &pairs)
    }

    /// Computes the tree of a graph (`edges[i]`: object i's references) and checks it
    /// against the definition: d dominates o iff o is unreachable once d is removed; an
    /// object's retained size is its own and that of everything unreachable without it.
    /// Returns the number of reachable objects.
    fn check_graph(mut edges: Vec<Vec<ObjectId>>, roots: &[ObjectId], pairs: &[(ObjectId, ObjectId)]) -> usize {
        let n = edges.len();
        let refs: Vec<&[ObjectId]> = edges.iter().map(|e| e.as_slice()).collect();
        let mut g = graph(&refs);
        let e = g.take_edges();
        let d = Dominators::compute(&g, e, roots, pairs).unwrap();
        // The brute force follows dependent edges as references.
        for &(p, s) in pairs {
            edges[p as usize].push(s);
        }
        let reach = |skip: Option<usize>| {
            let mut seen = vec![false; n];
            let mut stack: Vec<usize> = roots.iter().map(|&r| r as usize).filter(|&r| Some(r) != skip).collect();
            while let Some(v) = stack.pop() {
                if seen[v] {
                    continue;
                }
                seen[v] = true;
                for &w in &edges[v] {
                    if Some(w as usize) != skip {
                        stack.push(w as usize);
                    }
                }
            }
            seen
        };
        let all = reach(None);
        for o in 0..n {
            if !all[o] {
                assert_eq!(d.immediate_dominator(o as ObjectId), None);
                continue;
            }
            // Dominators of o by definition; the immediate one is dominated by all others.
            let doms: Vec<usize> = (0..n).filter(|&x| x != o && all[x] && !reach(Some(x))[o]).collect();
            let expected = doms
                .iter()
                .copied()
                .find(|&x| doms.iter().all(|&y| y == x || !reach(Some(y))[x]))
                .map_or(Dominators::ROOT, |x| x as u32);
            assert_eq!(d.immediate_dominator(o as ObjectId), Some(expected), "object {o}");
            // Retained size: o plus everything unreachable without it.
            let without = reach(Some(o));
            let expected_size: u64 = (0..n).filter(|&x| all[x] && !without[x]).map(|x| 10 * (x as u64 + 1)).sum();
            assert_eq!(d.retained_size(o as ObjectId), expected_size, "object {o}");
        }
        let reached = all.iter().filter(|&&r| r).count();
        assert_eq!(d.reachable(), reached);
        reached
    }
}

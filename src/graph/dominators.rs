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
//! recursion depth depends on the heap, on preorder numbers in flat `u32` arrays: at the
//! peak about 24 bytes per reachable object plus 4 per edge, then 12 bytes per object kept
//! (immediate dominator, retained size).
use super::index::{plain_mut, write_in_place_or_note, IndexDir, IndexFile, Part};
use super::store::Store;
use super::{Edges, ObjectGraph, ObjectId};
use rayon::prelude::*;
use crate::interrupt::Cancelled;
use crate::progress::Progress;

const NONE: u32 = u32::MAX;

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
    /// The edges are taken over: renumbered in place, and freed before the main pass.
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
        mut edges: Edges,
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

        // 1. Depth-first preorder from the virtual root (iterative: a stack of nodes
        //    with the index of their next successor). `pre` maps a node to its number,
        //    `vertex` a number to its node, `parent` a number to its parent's number.
        let mut pre = vec![NONE; n];
        let mut vertex: Vec<u32> = Vec::new();
        let mut parent: Vec<u32> = Vec::new();
        {
            let extra_of = |v: u32| {
                let from = extra.partition_point(|e| e.0 < v);
                let to = extra.partition_point(|e| e.0 <= v);
                &extra[from..to]
            };
            // The successors of node `v`: its references (or the roots, for the virtual
            // root), then its dependent secondaries.
            let successor = |v: u32, k: usize| -> Option<u32> {
                if v == 0 {
                    return root_nodes.get(k).copied();
                }
                let own = edges.references(v - 1);
                match own.get(k) {
                    Some(&w) => Some(w + 1),
                    None => extra_of(v).get(k - own.len()).map(|e| e.1),
                }
            };
            let mut stack: Vec<(u32, u32)> = vec![(0, 0)];
            pre[0] = 0;
            vertex.push(0);
            parent.push(NONE);
            let mut steps = 0usize;
            while let Some(top) = stack.last_mut() {
                steps = steps.wrapping_add(1);
                poll(steps)?;
                let (v, k) = *top;
                top.1 += 1;
                match successor(v, k as usize) {
                    None => {
                        stack.pop();
                    }
                    Some(w) if pre[w as usize] == NONE => {
                        pre[w as usize] = vertex.len() as u32;
                        parent.push(pre[v as usize]);
                        vertex.push(w);
                        stack.push((w, 0));
                    }
                    Some(_) => {}
                }
            }
        }
        let reached = vertex.len();
        progress.inc(1);

        // 2. Everything in preorder numbers from here on: the edges renumbered in place
        //    (a reached object's targets are reached), the roots and dependent edges
        //    likewise; then `pre` is freed.
        edges.renumber(|t| pre.get(t as usize + 1).copied().unwrap_or(NONE))?;
        let root_numbers: Vec<u32> = root_nodes.iter().map(|&r| pre[r as usize]).collect();
        let mut extra: Vec<(u32, u32)> = extra
            .iter()
            .filter(|e| pre[e.0 as usize] != NONE)
            .map(|&(p, s)| (pre[p as usize], pre[s as usize]))
            .collect();
        extra.sort_by_key(|e| e.0);
        drop(pre);
        // The successors of number `i`, as numbers.
        let for_each_successor = |i: usize, f: &mut dyn FnMut(u32)| {
            if i == 0 {
                root_numbers.iter().for_each(|&w| f(w));
                return;
            }
            edges.references(vertex[i] - 1).iter().for_each(|&w| f(w));
            let from = extra.partition_point(|e| (e.0 as usize) < i);
            extra[from..].iter().take_while(|e| e.0 as usize == i).for_each(|e| f(e.1));
        };

        // Predecessors of every reached node, in CSR form: counted, summed to the end
        // of each node's run, then filled backwards (each run's start is left behind).
        let mut pred_start = vec![0u32; reached + 1];
        for i in 0..reached {
            poll(i)?;
            for_each_successor(i, &mut |w| {
                if let Some(c) = pred_start.get_mut(w as usize + 1) {
                    *c += 1;
                }
            });
        }
        for i in 0..reached {
            pred_start[i + 1] += pred_start[i];
        }
        let mut preds = vec![0u32; pred_start[reached] as usize];
        for i in 0..reached {
            poll(i)?;
            for_each_successor(i, &mut |w| {
                if let Some(slot) = pred_start.get_mut(w as usize + 1) {
                    *slot -= 1;
                    preds[*slot as usize] = i as u32;
                }
            });
        }
        // Run w now starts at pred_start[w + 1]: shift down by one.
        pred_start.remove(0);
        pred_start.push(preds.len() as u32);
        drop(edges);
        // The renumbered blocks: mid-sized allocations the C allocator would keep.
        super::store::release_freed_memory();
        progress.inc(1);

        // 3. Semidominators (Semi-NCA: in reverse preorder, a node's semidominator is
        //    the least of its predecessors' numbers and of the labels on the compressed
        //    paths above its later-numbered predecessors), then immediate dominators as
        //    the nearest common ancestor rule gives them, in preorder. All on preorder
        //    numbers, in shared arrays.
        let mut semi: Vec<u32> = (0..reached as u32).collect();
        let mut label: Vec<u32> = semi.clone();
        let mut ancestor: Vec<u32> = parent.clone();
        let mut path: Vec<u32> = Vec::new();
        let mut poller = Poller::default();
        for i in (1..reached).rev() {
            poller.step()?;
            let mut s = semi[i];
            for &v in &preds[pred_start[i] as usize..pred_start[i + 1] as usize] {
                poller.step()?;
                let u = if v as usize > i {
                    compress(v, i as u32, &mut ancestor, &mut label, &mut path);
                    label[v as usize]
                } else {
                    v
                };
                s = s.min(u);
            }
            semi[i] = s;
            label[i] = s;
        }
        drop((label, ancestor, preds, pred_start, path));
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

        // 4. Immediate dominators and retained sizes per object: children before their
        //    dominators (reverse preorder). `retained` starts at zero.
        let objects = n - 1;
        let finish = |out_idom: &mut [u32], retained: &mut [u64]| -> Result<(), Cancelled> {
            out_idom.fill(NONE);
            for i in (1..reached).rev() {
                poll(i)?;
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
            Ok(())
        };
        let reachable = reached - 1;
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
                progress.inc(1);
                return Ok(Dominators { idom, retained, reachable });
            }
        }
        let mut out_idom = vec![NONE; objects];
        let mut retained = vec![0u64; objects];
        finish(&mut out_idom, &mut retained)?;
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

/// Semi-NCA's path compression: nodes numbered above `last` are linked into the forest;
/// makes `label[v]` the least label on the path from `v` up to (not including) its first
/// ancestor numbered `last` or below, and points the path's nodes at that ancestor's
/// child. Iterative: no recursion depth depends on the heap.
fn compress(v: u32, last: u32, ancestor: &mut [u32], label: &mut [u32], path: &mut Vec<u32>) {
    path.clear();
    let mut x = v;
    while ancestor[x as usize] > last {
        path.push(x);
        x = ancestor[x as usize];
    }
    // `x` is the last linked node; its label is final for this path. From the top down,
    // each node takes the least label above it and points past the compressed part.
    while let Some(y) = path.pop() {
        let a = ancestor[y as usize];
        if a > last {
            let (la, ly) = (label[a as usize], label[y as usize]);
            if la < ly {
                label[y as usize] = la;
            }
            ancestor[y as usize] = ancestor[a as usize];
        }
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
            check_against_brute_force(0x2545_f491_4f6c_dd1d ^ (round * 0x9e37_79b9_7f4a_7c15), 20 + 4 * round as usize);
        }
    }

    /// A pseudo-random graph: d dominates o iff o is unreachable once d is removed.
    fn check_against_brute_force(mut seed: u64, n: usize) {
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let edges: Vec<Vec<ObjectId>> = (0..n)
            .map(|_| (0..1 + next() % 3).map(|_| (next() % n as u64) as ObjectId).collect())
            .collect();
        let refs: Vec<&[ObjectId]> = edges.iter().map(|e| e.as_slice()).collect();
        let mut g = graph(&refs);
        let roots = [0, 1];
        let e = g.take_edges();
        let d = Dominators::compute(&g, e, &roots, &[]).unwrap();
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
        assert!(all.iter().filter(|&&r| r).count() > n / 4, "the test graph is mostly reachable");
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
    }
}

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
//! Immediate dominators are computed with the Lengauer–Tarjan algorithm (the simple
//! version, with path compression: O(E log V)), iteratively so that no recursion depth
//! depends on the heap. Memory: about 40 bytes per object plus 4 per edge.
use super::{Edges, ObjectGraph, ObjectId};
use std::collections::HashMap;

const NONE: u32 = u32::MAX;

/// Immediate dominators and retained sizes of every object reachable from the roots.
pub struct Dominators {
    /// Per object id: its immediate dominator's id, or [`Dominators::ROOT`] for objects
    /// only the roots dominate, or `NONE` (u32::MAX) when unreachable.
    idom: Vec<u32>,
    /// Per object id: retained size in bytes (0 when unreachable).
    retained: Vec<u64>,
    /// Objects reachable from the roots.
    reachable: usize,
}

impl Dominators {
    /// The virtual root's number in [`Dominators::immediate_dominator`] answers.
    pub const ROOT: u32 = u32::MAX - 1;

    /// Computes the dominator tree from `roots` (object ids) over the graph's edges and
    /// the dependent edges `(primary, secondary)`.
    pub fn compute(graph: &ObjectGraph, edges: &Edges, roots: &[ObjectId], dependents: &[(ObjectId, ObjectId)]) -> Dominators {
        let n = graph.len() + 1; // node 0 is the virtual root; object i is node i + 1
        let mut extra: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(p, s) in dependents {
            extra.entry(p + 1).or_default().push(s + 1);
        }
        let mut root_nodes: Vec<u32> = roots.iter().map(|&r| r + 1).collect();
        root_nodes.sort_unstable();
        root_nodes.dedup();
        let successors = |v: u32, out: &mut Vec<u32>| {
            out.clear();
            if v == 0 {
                out.extend_from_slice(&root_nodes);
            } else {
                out.extend(edges.references(v - 1).iter().map(|&w| w + 1));
                if let Some(more) = extra.get(&v) {
                    out.extend_from_slice(more);
                }
            }
        };

        // 1. Depth-first numbering from the virtual root (iterative).
        let mut dfnum = vec![NONE; n];
        let mut vertex: Vec<u32> = Vec::with_capacity(n);
        let mut parent = vec![NONE; n];
        {
            let mut stack: Vec<(u32, u32)> = vec![(0, NONE)];
            let mut succ = Vec::new();
            while let Some((v, from)) = stack.pop() {
                if dfnum[v as usize] != NONE {
                    continue;
                }
                dfnum[v as usize] = vertex.len() as u32;
                vertex.push(v);
                parent[v as usize] = from;
                successors(v, &mut succ);
                for &w in succ.iter().rev() {
                    if dfnum[w as usize] == NONE {
                        stack.push((w, v));
                    }
                }
            }
        }
        let reached = vertex.len();

        // 2. Predecessors among reached nodes, as CSR.
        let mut pred_start = vec![0u32; n + 1];
        let mut succ = Vec::new();
        for &v in &vertex {
            successors(v, &mut succ);
            for &w in &succ {
                pred_start[w as usize + 1] += 1;
            }
        }
        for i in 0..n {
            pred_start[i + 1] += pred_start[i];
        }
        let mut fill = pred_start.clone();
        let mut preds = vec![0u32; pred_start[n] as usize];
        for &v in &vertex {
            successors(v, &mut succ);
            for &w in &succ {
                preds[fill[w as usize] as usize] = v;
                fill[w as usize] += 1;
            }
        }
        drop(fill);

        // 3. Semidominators and immediate dominators (Lengauer–Tarjan).
        let mut semi: Vec<u32> = dfnum.clone();
        let mut ancestor = vec![NONE; n];
        let mut label: Vec<u32> = (0..n as u32).collect();
        let mut idom = vec![NONE; n];
        let mut bucket_head = vec![NONE; n];
        let mut bucket_next = vec![NONE; n];
        let mut path = Vec::new();
        for i in (1..reached).rev() {
            let w = vertex[i];
            let wi = w as usize;
            for &v in &preds[pred_start[wi] as usize..pred_start[wi + 1] as usize] {
                let u = eval(v, &mut ancestor, &mut label, &semi, &mut path);
                if semi[u as usize] < semi[wi] {
                    semi[wi] = semi[u as usize];
                }
            }
            let s = vertex[semi[wi] as usize] as usize;
            bucket_next[wi] = bucket_head[s];
            bucket_head[s] = w;
            let p = parent[wi];
            ancestor[wi] = p;
            let pi = p as usize;
            let mut v = bucket_head[pi];
            bucket_head[pi] = NONE;
            while v != NONE {
                let next = bucket_next[v as usize];
                let u = eval(v, &mut ancestor, &mut label, &semi, &mut path);
                idom[v as usize] = if semi[u as usize] < semi[v as usize] { u } else { p };
                v = next;
            }
        }
        for &w in &vertex[1..] {
            let wi = w as usize;
            if idom[wi] != vertex[semi[wi] as usize] {
                idom[wi] = idom[idom[wi] as usize];
            }
        }

        // 4. Retained sizes: children before their dominators (reverse DFS order).
        let mut retained = vec![0u64; n];
        for &w in vertex[1..].iter().rev() {
            let wi = w as usize;
            retained[wi] += graph.size(w - 1);
            let d = idom[wi] as usize;
            retained[d] += retained[wi];
        }
        Dominators {
            idom: idom[1..]
                .iter()
                .map(|&d| match d {
                    NONE => NONE,
                    0 => Self::ROOT,
                    d => d - 1,
                })
                .collect(),
            retained: retained[1..].to_vec(),
            reachable: reached - 1,
        }
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
        for &d in &self.idom {
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

/// Lengauer–Tarjan's EVAL with path compression, iteratively: the node of minimal
/// semidominator on the compressed ancestor path of `v`.
fn eval(v: u32, ancestor: &mut [u32], label: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    if ancestor[v as usize] == NONE {
        return v;
    }
    // Collect the path up to the node whose ancestor is the forest root.
    path.clear();
    let mut x = v;
    while ancestor[ancestor[x as usize] as usize] != NONE {
        path.push(x);
        x = ancestor[x as usize];
    }
    // Compress from the top down.
    while let Some(x) = path.pop() {
        let a = ancestor[x as usize] as usize;
        if semi[label[a] as usize] < semi[label[x as usize] as usize] {
            label[x as usize] = label[a];
        }
        ancestor[x as usize] = ancestor[a];
    }
    label[v as usize]
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
        let g = graph(&[&[1], &[2, 3], &[4], &[4], &[], &[]]);
        let d = Dominators::compute(&g, g.built_edges().unwrap(), &[0], &[]);
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
        let g = graph(&[&[1], &[2, 3], &[4], &[4], &[], &[]]);
        let d = Dominators::compute(&g, g.built_edges().unwrap(), &[0], &[]);
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
        let g = graph(&[&[2], &[2], &[]]);
        let d = Dominators::compute(&g, g.built_edges().unwrap(), &[0, 1], &[]);
        assert_eq!(d.immediate_dominator(2), Some(Dominators::ROOT));
        assert_eq!(d.retained_size(0), 10);
        assert_eq!(d.retained_size(2), 30);
    }

    #[test]
    fn cycles_and_dependent_edges() {
        // 0 -> 1 -> 2 -> 1 (a cycle); dependent handle 2 => 3.
        let g = graph(&[&[1], &[2], &[1], &[]]);
        let d = Dominators::compute(&g, g.built_edges().unwrap(), &[0], &[(2, 3)]);
        assert_eq!(d.immediate_dominator(1), Some(0));
        assert_eq!(d.immediate_dominator(2), Some(1));
        assert_eq!(d.immediate_dominator(3), Some(2));
        assert_eq!(d.retained_size(1), 20 + 30 + 40);
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
        let g = graph(&refs);
        let roots = [0, 1];
        let d = Dominators::compute(&g, g.built_edges().unwrap(), &roots, &[]);
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

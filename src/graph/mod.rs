//! The indexed object graph: every heap object as a dense id, its type and size, in flat
//! arrays; its outgoing references read from the dump or, once asked for, from edge arrays.
//!
//! **Model.** Objects are numbered `0..n` in address order, so the id of an address is
//! the number of objects below it: [`ObjectGraph::id_of`] reads it from a bitmap of object
//! starts whose 64-byte lines each begin with the count of the objects before them
//! ([`starts`]: one cache miss a lookup; 64 bytes per 3.5 KB of heap), and everything
//! else per object is a parallel array indexed by id: its address, a type index (`u32`
//! into [`ObjectGraph::types`], one entry per distinct MethodTable) and a size (`u32`,
//! with the rare object of 4 GB or more in a side table): 16 bytes an object. The build
//! walks the heap once in parallel, each segment into anonymous scratch memory sized for
//! the most objects it can hold (untouched pages cost nothing), then copies the segments
//! into arrays of the final size, freeing each scratch once copied (the binary's allocator
//! moves its pages under the arrays' next parts: [`crate::recycle`]), so the peak stays
//! near the table's size; when no scratch can be had it walks twice (count, then fill
//! in place).
//!
//! **Edges** are the references of the object's GCDesc in GCDesc order (exactly what
//! ClrMD reports, see [`crate::heap::refs`]), followed, for instances of collectible
//! types, by the type's LoaderAllocator object, which the GC keeps alive with them.
//! A reference that is not the start of a walked object (heap damage, or memory the
//! walk could not parse) is dropped, counted and warned about once.
//! Dependent handles are not edges: they depend on liveness, see [`live`].
//!
//! Most questions need no edge list: liveness, a root path, what an object keeps alive
//! read each object's references from the dump when they reach it
//! ([`RefSource::Dump`], [`ObjectGraph::references_into`]). The dominator tree needs
//! every edge several times; [`ObjectGraph::edges`] builds them once, in compressed
//! sparse row form (`u32` ids, 4 bytes an edge, in blocks as the parallel build makes
//! them), and from then on every reader uses them ([`ObjectGraph::ref_source`]).
//! Reverse edges ([`Edges::reverse`]) are built on demand in the same form.
//!
//! Layers: this module reads the heap through [`crate::heap`] and knows nothing of
//! commands; commands (`dumpheap -live`, `gcroot`, retained sizes, dump diffs) build on it.
pub mod dominators;
pub mod gcroot;
pub mod gcroot_cold;
pub mod index;
pub mod live;
pub mod marks;
pub mod roots;
pub mod starts;
pub mod store;

use starts::StartIndex;
use store::Store;

use crate::heap::{GcDesc, Heap, RefWindow, WalkWarning};
use crate::progress::Progress;
use anyhow::{Result, bail};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A dense object number: objects in address order.
pub type ObjectId = u32;

/// Objects per parallel work item when resolving references.
const CHUNK: usize = 1 << 14;

/// One distinct MethodTable of the heap.
#[derive(Debug, Clone)]
pub struct TypeEntry {
    pub mt: u64,
    /// `None` when the type holds no references (or its GCDesc could not be read).
    pub gc_desc: Option<GcDesc>,
    /// For a collectible type, the LoaderAllocator object its instances keep alive.
    pub loader_allocator: Option<u64>,
    pub is_free: bool,
}

/// The object graph of one heap.
pub struct ObjectGraph {
    addresses: Store<u64>,
    /// Address lookup: a bitmap of object starts with counts ([`starts`]).
    starts: StartIndex,
    type_ids: Store<u32>,
    sizes: Store<u32>,
    large_sizes: HashMap<ObjectId, u64>,
    types: Vec<TypeEntry>,
    /// Outgoing edges, built on first use ([`ObjectGraph::edges`]).
    edges: OnceLock<Edges>,
    /// A bit per object whose type holds references, made on first use
    /// ([`ObjectGraph::holds_pointers`]).
    pointer_bits: OnceLock<Vec<u64>>,
    warnings: Vec<WalkWarning>,
}

/// Scratch memory for the object walk: `len` bytes, page-aligned, from the global
/// allocator (not mapped by itself: the binary's allocator hands its pages on once freed,
/// see [`crate::recycle`]); pages never written cost nothing.
struct Scratch {
    ptr: std::ptr::NonNull<u8>,
    layout: std::alloc::Layout,
}

// SAFETY: plain memory owned by the value; the walk writes it from one thread at a time.
unsafe impl Send for Scratch {}
unsafe impl Sync for Scratch {}

impl Scratch {
    /// `None` when the block cannot be had (a damaged segment's length).
    fn new(len: usize) -> Option<Scratch> {
        let layout = std::alloc::Layout::from_size_align(len.max(1), 4096).ok()?;
        // SAFETY: a non-zero size.
        let ptr = std::ptr::NonNull::new(unsafe { std::alloc::alloc(layout) })?;
        Some(Scratch { ptr, layout })
    }

    fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn len(&self) -> usize {
        self.layout.size()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// Where the references of an object are read: the graph's edge arrays, or the dump
/// itself (each object's GCDesc over its memory), which needs no edge list at all.
#[derive(Clone, Copy)]
pub enum RefSource<'a> {
    Edges(&'a Edges),
    Dump(&'a Heap),
}

/// Outgoing edges of every object in compressed sparse row form, one block per
/// [`CHUNK`] objects (as the parallel build makes them, so they are never copied): the
/// references of the `j`-th object of a block are `targets[ends[j - 1] .. ends[j]]`.
pub struct Edges {
    blocks: Vec<EdgeBlock>,
    count: usize,
    unresolved: u64,
}

struct EdgeBlock {
    ends: Store<u32>,
    targets: Store<ObjectId>,
}

impl Edges {
    /// Reads every object's references from the dump, in parallel blocks of objects.
    /// Ctrl-C ([`crate::interrupt`]) ends it within a block.
    pub fn build(graph: &ObjectGraph, heap: &Heap) -> Result<Edges> {
        let n = graph.len();
        let progress = Progress::new("reading the heap's references", n as u64);
        // Each thread's scratch (a block's references as addresses, and where each
        // object's end) is kept from block to block: grown once, not in every block.
        let built: Vec<(EdgeBlock, u64)> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map_init(|| (Vec::new(), Vec::new()), |(raw, raw_ends): &mut (Vec<u64>, Vec<usize>), c| {
                let range = c * CHUNK..((c + 1) * CHUNK).min(n);
                let mut ends = Vec::with_capacity(range.len());
                let mut targets = Vec::new();
                let mut unresolved = 0;
                if crate::interrupt::cancelled() {
                    return (EdgeBlock { ends: ends.into(), targets: targets.into() }, 0);
                }
                // The block's references as addresses first (its objects' memory read in
                // address order), then their ids, the line of each lookup asked for a
                // few lookups ahead: the lookups' cache misses overlap.
                raw.clear();
                raw_ends.clear();
                let mut window = RefWindow::default();
                for i in range.clone() {
                    graph.raw_references(heap, &mut window, i as ObjectId, raw);
                    raw_ends.push(raw.len());
                }
                // Ids in place of the addresses (u32::MAX for none), then each object's
                // resolved ones moved down over the unresolved.
                targets.reserve_exact(raw.len());
                graph.starts.resolve(raw, |id| targets.push(id.filter(|&id| (id as usize) < n).unwrap_or(u32::MAX)));
                let (mut read, mut kept) = (0usize, 0usize);
                for &end in raw_ends.iter() {
                    while read < end.min(targets.len()) {
                        let t = targets[read];
                        if t == u32::MAX {
                            unresolved += 1;
                        } else {
                            targets[kept] = t;
                            kept += 1;
                        }
                        read += 1;
                    }
                    ends.push(u32::try_from(kept).unwrap_or(u32::MAX));
                }
                targets.truncate(kept);
                if unresolved > 0 {
                    targets.shrink_to_fit();
                }
                progress.inc(range.len() as u64);
                (EdgeBlock { ends: ends.into(), targets: targets.into() }, unresolved)
            })
            .collect();
        drop(progress);
        // Blocks skipped once Ctrl-C was pressed are empty: the whole is thrown away.
        crate::interrupt::check()?;
        let count: usize = built.iter().map(|(b, _)| b.targets.len()).sum();
        if count > u32::MAX as usize {
            bail!("{count} references: more than the object graph can hold (2^32)");
        }
        let unresolved = built.iter().map(|b| b.1).sum();
        if unresolved > 0 {
            warn_unresolved(heap, unresolved);
        }
        Ok(Edges { blocks: built.into_iter().map(|b| b.0).collect(), count, unresolved })
    }

    /// A second handle on the same edges (mapped arrays are shared, owned ones copied).
    pub fn share(&self) -> Edges {
        Edges {
            blocks: self.blocks.iter().map(|b| EdgeBlock { ends: b.ends.share(), targets: b.targets.share() }).collect(),
            count: self.count,
            unresolved: self.unresolved,
        }
    }

    /// Edges from per-object lists (tests).
    #[cfg(test)]
    pub(crate) fn from_lists(refs: &[&[ObjectId]]) -> Edges {
        let blocks = refs
            .chunks(CHUNK)
            .map(|lists| {
                let (mut ends, mut targets) = (Vec::new(), Vec::new());
                for r in lists {
                    targets.extend_from_slice(r);
                    ends.push(targets.len() as u32);
                }
                EdgeBlock { ends: ends.into(), targets: targets.into() }
            })
            .collect();
        Edges { blocks, count: refs.iter().map(|r| r.len()).sum(), unresolved: 0 }
    }

    /// The objects `id` references (GCDesc order, then its LoaderAllocator).
    #[inline]
    pub fn references(&self, id: ObjectId) -> &[ObjectId] {
        let i = id as usize;
        let Some(block) = self.blocks.get(i / CHUNK) else {
            return &[];
        };
        let j = i % CHUNK;
        let start = match j.checked_sub(1) {
            Some(k) => block.ends.get(k).copied().unwrap_or(0),
            None => 0,
        };
        match block.ends.get(j) {
            Some(&end) => block.targets.get(start as usize..end as usize).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Starts loading where `id`'s references begin and end.
    #[inline]
    pub fn prefetch_bounds(&self, id: ObjectId) {
        let i = id as usize;
        if let Some(e) = self.blocks.get(i / CHUNK).and_then(|b| b.ends.get(i % CHUNK)) {
            prefetch(e);
        }
    }

    /// Starts loading `id`'s references themselves (reads where they begin).
    #[inline]
    pub fn prefetch_references(&self, id: ObjectId) {
        let i = id as usize;
        let Some(block) = self.blocks.get(i / CHUNK) else { return };
        let start = (i % CHUNK).checked_sub(1).and_then(|k| block.ends.get(k)).copied().unwrap_or(0);
        if let Some(t) = block.targets.get(start as usize) {
            prefetch(t);
        }
    }

    /// Number of edges.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// References that pointed at no object start and were left out of the graph.
    pub fn unresolved(&self) -> u64 {
        self.unresolved
    }

    fn objects(&self) -> usize {
        self.blocks.iter().map(|b| b.ends.len()).sum()
    }

    /// Builds the incoming edges of every object, on every core (see
    /// [`Edges::reverse_into`]).
    pub fn reverse(&self) -> ReverseEdges {
        let mut offsets = vec![0u32; self.objects() + 1];
        let mut sources = vec![0 as ObjectId; self.count];
        self.reverse_into(&mut offsets, &mut sources);
        ReverseEdges { offsets: offsets.into(), sources: sources.into() }
    }

    /// Fills `offsets` (one more than the objects) and `sources` (as many as the edges)
    /// with the incoming edges: `sources[offsets[i] .. offsets[i + 1]]` reference object
    /// `i`, in ascending order, on every core (see
    /// [`Edges::reverse_into_parts`]).
    pub fn reverse_into(&self, offsets: &mut [u32], sources: &mut [ObjectId]) {
        self.reverse_into_parts(offsets, sources, rayon::current_num_threads());
    }

    /// [`Edges::reverse_into`] in `parts` tasks (one when the other cores are busy with
    /// other work). Nothing is written at random over the whole arrays: the edges are
    /// counted into buckets of 2^[`BUCKET_SHIFT`] consecutive targets; then each task,
    /// owning a range of buckets (its run of `sources`), reads every edge and puts each
    /// source of one of its references at its bucket's next place, the target's low bits
    /// beside it in a scratch array of `u16`s (2 bytes an edge, the only memory added);
    /// then each bucket is sorted by target on its own, in cache: counted, its targets'
    /// offsets written, its sources moved to their runs through a copy. Each run is in
    /// ascending order, as the sources are read. Writing each reference straight into its
    /// target's run costs two cache misses a reference (the run's end, then the slot):
    /// on the 1 GB `big` dump that took 0.55-0.65 s on one core, this 0.35-0.45 s.
    pub fn reverse_into_parts(&self, offsets: &mut [u32], sources: &mut [ObjectId], parts: usize) {
        self.reverse_in_buckets(offsets, sources, parts, BUCKET_SHIFT);
    }

    fn reverse_in_buckets(&self, offsets: &mut [u32], sources: &mut [ObjectId], parts: usize, shift: u32) {
        let n = self.objects();
        if offsets.len() != n + 1 {
            return;
        }
        let width = 1usize << shift;
        let buckets = n.div_ceil(width);
        let parts = parts.clamp(1, 64).min(buckets.max(1)).min(self.blocks.len().max(1));
        // 1. References into each bucket (parts of the edge blocks counted apart, summed).
        let counts: Vec<usize> = (0..parts)
            .into_par_iter()
            .map(|p| {
                let mut c = vec![0usize; buckets];
                for block in &self.blocks[self.blocks.len() * p / parts..self.blocks.len() * (p + 1) / parts] {
                    for &t in block.targets.iter() {
                        if (t as usize) < n
                            && let Some(x) = c.get_mut(t as usize >> shift)
                        {
                            *x += 1;
                        }
                    }
                }
                c
            })
            .reduce(
                || vec![0usize; buckets],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    a
                },
            );
        // Each bucket's place in `sources` (what would not fit is left out: the array is
        // as long as the edges, so nothing is).
        let mut bucket_start = Vec::with_capacity(buckets + 1);
        let mut at = 0usize;
        for &c in &counts {
            bucket_start.push(at.min(sources.len()));
            at += c;
        }
        bucket_start.push(at.min(sources.len()));
        let total = bucket_start[buckets];
        let mut low = vec![0u16; total];
        // 2. Each part owns a range of buckets (about as many references each): its run of
        //    both arrays. It reads every edge and keeps those into its buckets, each source
        //    at its bucket's next place, the target's low bits beside it.
        let mut cuts = vec![0usize];
        for p in 1..parts {
            let want = total * p / parts;
            let b = bucket_start.partition_point(|&x| x < want).clamp(*cuts.last().unwrap_or(&0), buckets);
            cuts.push(b);
        }
        cuts.push(buckets);
        let ends = || cuts.iter().map(|&b| bucket_start[b]);
        let runs: Vec<_> = (cuts.windows(2).map(|w| w[0]..w[1]))
            .zip(cut_at(&mut sources[..total], ends()))
            .zip(cut_at(&mut low, ends()))
            .collect();
        let mask = width - 1;
        runs.into_par_iter().for_each(|((range, s), l)| {
            let base = bucket_start[range.start];
            let mut next: Vec<usize> = bucket_start[range.clone()].iter().map(|&x| x - base).collect();
            let (lo, hi) = (range.start << shift, (range.end << shift).min(n));
            for (b, block) in self.blocks.iter().enumerate() {
                let mut from = 0usize;
                for (j, &end) in block.ends.iter().enumerate() {
                    let src = (b * CHUNK + j) as ObjectId;
                    let to = end as usize;
                    for &t in block.targets.get(from..to).unwrap_or(&[]) {
                        let t = t as usize;
                        if t >= lo
                            && t < hi
                            && let Some(at) = next.get_mut((t - lo) >> shift)
                            && let (Some(s), Some(l)) = (s.get_mut(*at), l.get_mut(*at))
                        {
                            *s = src;
                            *l = (t & mask) as u16;
                            *at += 1;
                        }
                    }
                    from = to;
                }
            }
        });
        // 3. Each bucket sorted by target, stable (sources stay ascending): its counts,
        //    its targets' offsets, its sources moved through a scratch copy.
        let bucket_sources: Vec<_> = cut_at(&mut sources[..total], bucket_start.iter().copied())
            .into_iter()
            .zip(cut_at(&mut low, bucket_start.iter().copied()))
            .collect();
        offsets[..n]
            .par_chunks_mut(width)
            .zip(bucket_sources)
            .zip(&bucket_start[..buckets])
            .for_each_init(
                || (vec![0usize; width], Vec::new()),
                |(next, scratch), ((offs, (s, l)), &base)| {
                    next.iter_mut().for_each(|x| *x = 0);
                    for &t in l.iter() {
                        next[t as usize] += 1;
                    }
                    let mut run = 0usize;
                    for (o, x) in offs.iter_mut().zip(next.iter_mut()) {
                        *o = u32::try_from(base + run).unwrap_or(u32::MAX);
                        let c = *x;
                        *x = run;
                        run += c;
                    }
                    scratch.clear();
                    scratch.extend_from_slice(s);
                    for (&src, &t) in scratch.iter().zip(l.iter()) {
                        let slot = &mut next[t as usize];
                        if let Some(x) = s.get_mut(*slot) {
                            *x = src;
                        }
                        *slot += 1;
                    }
                },
            );
        offsets[n] = u32::try_from(total).unwrap_or(u32::MAX);
    }
}

/// `v` cut between consecutive `bounds` (ascending offsets, the first where `v` starts;
/// a bound past the end is taken as the end).
fn cut_at<T>(mut v: &mut [T], bounds: impl IntoIterator<Item = usize>) -> Vec<&mut [T]> {
    let mut bounds = bounds.into_iter();
    let mut at = bounds.next().unwrap_or(0);
    let mut out = Vec::new();
    for b in bounds {
        let k = b.saturating_sub(at).min(v.len());
        let (piece, rest) = std::mem::take(&mut v).split_at_mut(k);
        out.push(piece);
        v = rest;
        at = b.max(at);
    }
    out
}

/// Targets per bucket when the incoming edges are built ([`Edges::reverse_into_parts`]):
/// a bucket's counts are 512 KB, in the core's cache, and few buckets are written at once.
const BUCKET_SHIFT: u32 = 16;
// A target's place in its bucket is kept in a `u16`.
const _: () = assert!(BUCKET_SHIFT <= 16);

/// The warning about references that lead nowhere (none in a real heap: a reference is
/// null or an object's start).
pub(crate) fn warn_unresolved(heap: &Heap, count: u64) {
    heap.warnings().warn(format!(
        "{count} references point at no object; they are left out of the object graph \
         (what they keep alive may show as dead)"
    ));
}

/// Incoming edges: `sources[offsets[i] .. offsets[i + 1]]` reference object `i`.
pub struct ReverseEdges {
    offsets: Store<u32>,
    sources: Store<ObjectId>,
}

pub(crate) use crate::dump::prefetch;

/// The part of `values` (one per object id) for `ids`, cut at its end: what the passes
/// over a range of objects read at once.
pub(crate) fn per_object<T>(values: &[T], ids: std::ops::Range<ObjectId>) -> &[T] {
    let end = (ids.end as usize).min(values.len());
    &values[(ids.start as usize).min(end)..end]
}

impl ReverseEdges {
    /// Starts loading where `id`'s referrers begin and end (for a walk that knows its
    /// next objects ahead: [`ReverseEdges::prefetch_referrers`] a few steps later).
    #[inline]
    pub fn prefetch_offsets(&self, id: ObjectId) {
        if let Some(o) = self.offsets.get(id as usize) {
            prefetch(o);
        }
    }

    /// Starts loading `id`'s referrers themselves (reads its offsets).
    #[inline]
    pub fn prefetch_referrers(&self, id: ObjectId) {
        if let Some(s) = self.offsets.get(id as usize).and_then(|&a| self.sources.get(a as usize)) {
            prefetch(s);
        }
    }

    /// The objects that reference `id`, in id order.
    pub fn referrers(&self, id: ObjectId) -> &[ObjectId] {
        let i = id as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.sources.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// The entries of MethodTables `mts` (GCDesc and LoaderAllocator read once each).
pub(crate) fn type_entries(heap: &Heap, mts: &[u64]) -> Vec<TypeEntry> {
    let free_mt = heap.runtime.globals.free_mt;
    mts.par_iter()
        .map(|&mt| TypeEntry {
            mt,
            gc_desc: if mt == free_mt { None } else { heap.gc_desc(mt).ok().flatten() },
            loader_allocator: heap.loader_allocator_object(mt).ok().flatten(),
            is_free: mt == free_mt,
        })
        .collect()
}

impl ObjectGraph {
    /// Walks the heap and numbers its objects (no edges yet: see [`ObjectGraph::edges`]).
    pub fn build(heap: &Heap) -> Result<ObjectGraph> {
        match Self::build_in_one_walk(heap)? {
            Some(graph) => Ok(graph),
            None => Self::build_in_two_walks(heap),
        }
    }

    /// The object table in one parallel walk: each segment's objects go to scratch memory
    /// of its own, a block for the most objects the segment can hold (pages
    /// the walk does not reach cost nothing), then are copied to arrays of the final
    /// size, each segment's scratch given back as soon as it is copied, so the peak stays
    /// near the table's own size. `None` when the scratch cannot be had (a damaged
    /// segment length): [`ObjectGraph::build_in_two_walks`] needs no scratch.
    fn build_in_one_walk(heap: &Heap) -> Result<Option<ObjectGraph>> {
        /// Scratch bytes per object: address, walk type index, size.
        const PER_OBJECT: usize = 16;
        struct Walked {
            scratch: Scratch,
            count: usize,
            /// MethodTables by the walk's type index.
            mts: Vec<u64>,
            large: Vec<(usize, u64)>,
            warning: Option<WalkWarning>,
            complete: bool,
        }
        // Objects are at least 16 bytes apart (aligned sizes of 12 bytes or more), in
        // memory the dump holds (a walk that finds more falls back to two walks).
        let captured = heap.space().captured_bytes();
        let mut caps = Vec::with_capacity(heap.segments.len());
        for seg in &heap.segments {
            let cap = usize::try_from(seg.end.saturating_sub(seg.start).min(captured) / 16).ok().and_then(|c| c.checked_add(1));
            match cap.filter(|c| c.checked_mul(PER_OBJECT).is_some()) {
                Some(c) => caps.push(c),
                None => return Ok(None),
            }
        }
        let progress = Progress::new("indexing the heap's objects", heap.segments.len() as u64);
        let walked: Vec<Option<Walked>> = heap
            .segments
            .par_iter()
            .zip(caps.par_iter())
            .map_init(crate::heap::SizeCache::default, |sizes, (seg, &cap)| {
                let scratch = Scratch::new(cap * PER_OBJECT)?;
                // SAFETY: the block is page-aligned, so aligned for u64 and u32, and holds
                // `cap * 16` bytes: three disjoint arrays of `cap` elements. They are only
                // written before being read (every bit pattern is a valid integer).
                let (a, t, z) = unsafe {
                    let p = scratch.ptr();
                    (
                        std::slice::from_raw_parts_mut(p as *mut u64, cap),
                        std::slice::from_raw_parts_mut(p.add(cap * 8) as *mut u32, cap),
                        std::slice::from_raw_parts_mut(p.add(cap * 12) as *mut u32, cap),
                    )
                };
                let mut i = 0usize;
                let mut large = Vec::new();
                let mut complete = true;
                let warning = heap.walk_segment(seg, sizes, |o| {
                    if i >= cap {
                        complete = false;
                        return;
                    }
                    let small = u32::try_from(o.size).unwrap_or(u32::MAX);
                    if small == u32::MAX {
                        large.push((i, o.size));
                    }
                    a[i] = o.address;
                    t[i] = o.type_index;
                    z[i] = small;
                    i += 1;
                });
                let mts = (0..sizes.len() as u32).map(|k| sizes.mt(k).unwrap_or(0)).collect();
                progress.inc(1);
                Some(Walked { scratch, count: i, mts, large, warning, complete })
            })
            .collect();
        drop(progress);
        crate::interrupt::check()?;
        let Some(walked) = walked.into_iter().collect::<Option<Vec<Walked>>>() else {
            return Ok(None);
        };
        if walked.iter().any(|w| !w.complete) {
            return Ok(None);
        }
        let total: usize = walked.iter().map(|w| w.count).sum();
        if total > u32::MAX as usize {
            bail!("{total} objects: more than the object graph can number (2^32)");
        }
        // Types in segment order, each segment's walk numbers turned into graph numbers.
        let mut type_index: FxHashMap<u64, u32> = FxHashMap::default();
        let mut mts = Vec::new();
        let mut warnings = Vec::new();
        let mut large_sizes = HashMap::new();
        let mut base = 0usize;
        let mut jobs = Vec::with_capacity(walked.len());
        for w in walked {
            // The walk numbers every type it met, in other segments too: keep those used here.
            let mut used = vec![false; w.mts.len()];
            {
                // SAFETY: as above; `count <= cap` elements were written.
                let cap = w.scratch.len() / PER_OBJECT;
                let t = unsafe { std::slice::from_raw_parts(w.scratch.ptr().add(cap * 8) as *const u32, w.count) };
                let mut last = u32::MAX;
                for &k in t {
                    if k != last {
                        last = k;
                        if let Some(u) = used.get_mut(k as usize) {
                            *u = true;
                        }
                    }
                }
            }
            // Numbered as the two walks number them: a segment's types by MethodTable.
            let mut here: Vec<(u64, usize)> = w.mts.iter().zip(&used).enumerate().filter(|(_, (_, u))| **u).map(|(k, (&mt, _))| (mt, k)).collect();
            here.sort_unstable();
            let mut global = vec![u32::MAX; w.mts.len()];
            for (mt, k) in here {
                global[k] = *type_index.entry(mt).or_insert_with(|| {
                    mts.push(mt);
                    (mts.len() - 1) as u32
                });
            }
            warnings.extend(w.warning);
            large_sizes.extend(w.large.iter().map(|&(i, size)| ((base + i) as ObjectId, size)));
            jobs.push((w.scratch, w.count, global));
            base += w.count;
        }
        let types = type_entries(heap, &mts);
        let mut addresses = vec![0u64; total];
        let mut type_ids = vec![0u32; total];
        let mut sizes = vec![0u32; total];
        let mut parts = Vec::with_capacity(jobs.len());
        {
            let (mut a, mut t, mut z) = (&mut addresses[..], &mut type_ids[..], &mut sizes[..]);
            for (scratch, count, global) in jobs {
                let (a1, a2) = std::mem::take(&mut a).split_at_mut(count);
                let (t1, t2) = std::mem::take(&mut t).split_at_mut(count);
                let (z1, z2) = std::mem::take(&mut z).split_at_mut(count);
                parts.push((scratch, global, a1, t1, z1));
                (a, t, z) = (a2, t2, z2);
            }
        }
        parts.into_par_iter().for_each(|(scratch, global, a, t, z)| {
            let cap = scratch.len() / PER_OBJECT;
            let count = a.len();
            // The arrays were allocated while every scratch was still held: their pages
            // about to be written are swapped for those of the scratch already copied
            // (page tables moved, no page fault) when the allocator kept them.
            // SAFETY: integers (any bit pattern is one), each slice within one array,
            // overwritten whole below.
            unsafe {
                crate::recycle::reuse_pages(&mut *a);
                crate::recycle::reuse_pages(&mut *t);
                crate::recycle::reuse_pages(&mut *z);
            }
            // SAFETY: as above; `count <= cap` elements were written by the walk.
            let (sa, st, sz) = unsafe {
                let p = scratch.ptr() as *const u8;
                (
                    std::slice::from_raw_parts(p as *const u64, count),
                    std::slice::from_raw_parts(p.add(cap * 8) as *const u32, count),
                    std::slice::from_raw_parts(p.add(cap * 12) as *const u32, count),
                )
            };
            a.copy_from_slice(sa);
            z.copy_from_slice(sz);
            for (to, &k) in t.iter_mut().zip(st) {
                *to = global.get(k as usize).copied().unwrap_or(0);
            }
            // The scratch is freed here, as soon as it is copied.
            drop(scratch);
        });
        Self::from_table(addresses, type_ids, sizes, large_sizes, types, warnings).map(Some)
    }

    /// The object table in two parallel walks (see [`ObjectGraph::build_in_one_walk`]);
    /// public so that tests can compare both ways.
    #[doc(hidden)]
    pub fn build_in_two_walks(heap: &Heap) -> Result<ObjectGraph> {
        let progress = Progress::new("indexing the heap's objects", 2 * heap.segments.len() as u64);
        // 1. Count every segment's objects and collect their MethodTables (in parallel),
        //    so that the arrays below are allocated once, at their final size, and filled
        //    in place: no per-segment copy doubles the memory.
        let counted: Vec<(usize, Vec<u64>)> = heap
            .segments
            .par_iter()
            .map_init(crate::heap::SizeCache::default, |sizes, seg| {
                let mut count = 0usize;
                let mut seen: rustc_hash::FxHashSet<u64> = Default::default();
                let mut last = u64::MAX;
                heap.walk_segment_unreported(seg, sizes, |o| {
                    count += 1;
                    if o.mt != last {
                        last = o.mt;
                        seen.insert(o.mt);
                    }
                });
                let mut mts: Vec<u64> = seen.into_iter().collect();
                mts.sort_unstable();
                progress.inc(1);
                (count, mts)
            })
            .collect();
        // The walks stop at Ctrl-C: what they counted is not the heap.
        crate::interrupt::check()?;
        let total: usize = counted.iter().map(|c| c.0).sum();
        if total > u32::MAX as usize {
            bail!("{total} objects: more than the object graph can number (2^32)");
        }

        // 2. Intern MethodTables and read each type's GCDesc once.
        let mut type_index: FxHashMap<u64, u32> = FxHashMap::default();
        let mut mts = Vec::new();
        for (_, seg_mts) in &counted {
            for &mt in seg_mts {
                type_index.entry(mt).or_insert_with(|| {
                    mts.push(mt);
                    (mts.len() - 1) as u32
                });
            }
        }
        let types = type_entries(heap, &mts);

        // 3. Walk again, each segment filling its own slice of the arrays.
        let mut addresses = vec![0u64; total];
        let mut type_ids = vec![0u32; total];
        let mut sizes = vec![0u32; total];
        let mut parts = Vec::with_capacity(counted.len());
        {
            let (mut a, mut t, mut z) = (&mut addresses[..], &mut type_ids[..], &mut sizes[..]);
            let mut base = 0usize;
            for (count, _) in &counted {
                let (a1, a2) = std::mem::take(&mut a).split_at_mut(*count);
                let (t1, t2) = std::mem::take(&mut t).split_at_mut(*count);
                let (z1, z2) = std::mem::take(&mut z).split_at_mut(*count);
                parts.push((base, a1, t1, z1));
                (a, t, z) = (a2, t2, z2);
                base += count;
            }
        }
        type Filled = (Option<WalkWarning>, Vec<(ObjectId, u64)>, bool);
        let filled: Vec<Filled> = heap
            .segments
            .par_iter()
            .zip(parts.into_par_iter())
            .map_init(crate::heap::SizeCache::default, |sizes_cache, (seg, (base, a, t, z))| {
                let mut i = 0usize;
                let mut large = Vec::new();
                let mut same = true;
                let mut last = (u64::MAX, 0u32);
                let warning = heap.walk_segment(seg, sizes_cache, |o| {
                    if i >= a.len() {
                        same = false;
                        return;
                    }
                    let ty = if o.mt == last.0 {
                        last.1
                    } else {
                        match type_index.get(&o.mt) {
                            Some(&ty) => {
                                last = (o.mt, ty);
                                ty
                            }
                            None => {
                                same = false;
                                return;
                            }
                        }
                    };
                    let small = u32::try_from(o.size).unwrap_or(u32::MAX);
                    if small == u32::MAX {
                        large.push(((base + i) as ObjectId, o.size));
                    }
                    a[i] = o.address;
                    t[i] = ty;
                    z[i] = small;
                    i += 1;
                });
                progress.inc(1);
                (warning, large, same && i == a.len())
            })
            .collect();
        drop(progress);
        crate::interrupt::check()?;
        if filled.iter().any(|f| !f.2) {
            bail!("the heap's walk did not repeat itself: the object index cannot be built");
        }
        let mut warnings = Vec::new();
        let mut large_sizes = HashMap::new();
        for (w, large, _) in filled {
            warnings.extend(w);
            large_sizes.extend(large);
        }
        Self::from_table(addresses, type_ids, sizes, large_sizes, types, warnings)
    }

    fn from_table(
        addresses: Vec<u64>,
        type_ids: Vec<u32>,
        sizes: Vec<u32>,
        large_sizes: HashMap<ObjectId, u64>,
        types: Vec<TypeEntry>,
        warnings: Vec<WalkWarning>,
    ) -> Result<ObjectGraph> {
        // In parallel pieces, each also against the address before it.
        const PIECE: usize = 1 << 16;
        let increasing = addresses.par_chunks(PIECE).enumerate().all(|(k, piece)| {
            piece.windows(2).all(|w| w[0] < w[1]) && (k == 0 || addresses[k * PIECE - 1] < piece[0])
        });
        if !increasing {
            bail!(
                "the heap's segments overlap: objects are not in strictly increasing address order"
            );
        }
        Ok(ObjectGraph {
            starts: StartIndex::build(&addresses),
            addresses: addresses.into(),
            type_ids: type_ids.into(),
            sizes: sizes.into(),
            large_sizes,
            types,
            edges: OnceLock::new(),
            pointer_bits: OnceLock::new(),
            warnings,
        })
    }

    /// The outgoing edges of every object as CSR arrays, built on first use (in parallel
    /// chunks of objects, then stitched together).
    pub fn edges(&self, heap: &Heap) -> Result<&Edges> {
        if let Some(e) = self.edges.get() {
            return Ok(e);
        }
        let built = Edges::build(self, heap)?;
        Ok(self.edges.get_or_init(|| built))
    }

    /// Gives the graph its edges (read from the index); no-op when it has them.
    pub fn set_edges(&self, edges: Edges) {
        let _ = self.edges.set(edges);
    }

    /// The edges, when [`ObjectGraph::edges`] has built them.
    pub fn built_edges(&self) -> Option<&Edges> {
        self.edges.get()
    }

    /// Where references are read from: the edge arrays once built, else the dump.
    pub fn ref_source<'a>(&'a self, heap: &'a Heap) -> RefSource<'a> {
        match self.edges.get() {
            Some(e) => RefSource::Edges(e),
            None => RefSource::Dump(heap),
        }
    }

    /// Appends to `out` the objects `id` references (GCDesc order, then its
    /// LoaderAllocator), read from `source`; returns how many references pointed at no
    /// object start (left out). `scratch` is reused between calls.
    #[inline]
    pub fn references_into(
        &self,
        source: RefSource<'_>,
        id: ObjectId,
        out: &mut Vec<ObjectId>,
        scratch: &mut Vec<u64>,
    ) -> u64 {
        let heap = match source {
            RefSource::Edges(e) => {
                out.extend_from_slice(e.references(id));
                return 0;
            }
            RefSource::Dump(heap) => heap,
        };
        scratch.clear();
        self.raw_references(heap, &mut RefWindow::default(), id, scratch);
        let mut unresolved = 0;
        for &r in scratch.iter() {
            match self.id_of(r) {
                Some(id) => out.push(id),
                None => unresolved += 1,
            }
        }
        unresolved
    }

    /// Appends to `out` the addresses `id` references (GCDesc order, then its
    /// LoaderAllocator), as read from the dump; `window` as [`Heap::references_near`].
    #[inline]
    fn raw_references<'h>(&self, heap: &'h Heap, window: &mut RefWindow<'h>, id: ObjectId, out: &mut Vec<u64>) {
        let i = id as usize;
        let (Some(&t), Some(&address)) = (self.type_ids.get(i), self.addresses.get(i)) else {
            return;
        };
        let Some(ty) = self.types.get(t as usize) else {
            return;
        };
        if let Some(desc) = &ty.gc_desc {
            heap.references_near(window, address, self.size(id), desc, out);
        }
        if let Some(la) = ty.loader_allocator {
            out.push(la);
        }
    }

    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// Segments whose walk stopped early (their remaining objects are not in the graph).
    pub fn warnings(&self) -> &[WalkWarning] {
        &self.warnings
    }

    /// The id of the object starting exactly at `address`.
    #[inline]
    pub fn id_of(&self, address: u64) -> Option<ObjectId> {
        self.starts.id_of(address).filter(|&id| (id as usize) < self.addresses.len())
    }

    /// The id of the object whose memory contains `address` (an interior pointer).
    pub fn id_containing(&self, address: u64) -> Option<ObjectId> {
        let i = self
            .addresses
            .partition_point(|&a| a <= address)
            .checked_sub(1)?;
        let id = i as ObjectId;
        (address < self.addresses[i] + self.size(id).max(1)).then_some(id)
    }

    pub fn address(&self, id: ObjectId) -> u64 {
        self.addresses[id as usize]
    }

    /// Every object's address, in id order.
    pub fn addresses(&self) -> &[u64] {
        &self.addresses
    }


    /// Starts loading `id`'s type index and, with edges built, where its references
    /// are (for a walk that knows its next objects: [`ObjectGraph::prefetch_references`]
    /// a step later).
    #[inline]
    pub fn prefetch(&self, id: ObjectId) {
        if let Some(t) = self.type_ids.get(id as usize) {
            prefetch(t);
        }
        if let Some(e) = self.edges.get() {
            e.prefetch_bounds(id);
        }
    }

    /// Starts loading `id`'s references (edges built) and its type's entry.
    #[inline]
    pub fn prefetch_references(&self, id: ObjectId) {
        if let Some(e) = self.edges.get() {
            e.prefetch_references(id);
        }
    }

    /// The bits of [`ObjectGraph::holds_pointers`], made on first use (a pass over the
    /// type ids, in parallel): a root search asks it of every object it expands, and a
    /// bit per object stays in cache where a type id per object does not.
    pub fn pointer_bits(&self) -> &[u64] {
        self.pointer_bits.get_or_init(|| {
            let holds: Vec<bool> = self.types.iter().map(|t| t.gc_desc.is_some()).collect();
            self.type_ids
                .par_chunks(64)
                .map(|ids| {
                    ids.iter().enumerate().fold(0u64, |w, (i, &t)| {
                        w | (u64::from(holds.get(t as usize).copied().unwrap_or(false)) << i)
                    })
                })
                .collect()
        })
    }

    /// Whether the object's type holds references (it has a GCDesc).
    #[inline]
    pub fn holds_pointers(&self, id: ObjectId) -> bool {
        self.pointer_bits().get(id as usize / 64).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Starts loading where `id`'s references begin and end (edges built).
    #[inline]
    pub fn prefetch_bounds(&self, id: ObjectId) {
        if let Some(e) = self.edges.get() {
            e.prefetch_bounds(id);
        }
    }

    /// Starts loading where `id`'s size is.
    #[inline]
    pub fn prefetch_size(&self, id: ObjectId) {
        if let Some(s) = self.sizes.get(id as usize) {
            prefetch(s);
        }
    }

    pub fn type_of(&self, id: ObjectId) -> &TypeEntry {
        &self.types[self.type_ids[id as usize] as usize]
    }

    /// The types of objects `ids` (a range of ids within the graph) as indices into
    /// [`ObjectGraph::types`], one slice for a pass over many.
    pub fn type_indices(&self, ids: std::ops::Range<ObjectId>) -> &[u32] {
        per_object(&self.type_ids, ids)
    }

    /// The object's type as an index into [`ObjectGraph::types`].
    #[inline]
    pub fn type_index(&self, id: ObjectId) -> usize {
        self.type_ids.get(id as usize).map_or(0, |&t| t as usize)
    }

    pub fn mt(&self, id: ObjectId) -> u64 {
        self.type_of(id).mt
    }

    /// The sizes of objects `ids` (a range of ids within the graph), as
    /// [`ObjectGraph::size`] gives each: for a pass over many.
    pub fn sizes_of(&self, ids: std::ops::Range<ObjectId>) -> impl Iterator<Item = u64> + '_ {
        let first = ids.start;
        per_object(&self.sizes, ids).iter().zip(first..).map(|(&s, id)| if s == u32::MAX { self.size(id) } else { s as u64 })
    }

    /// The object's size as SOS reports it.
    #[inline]
    pub fn size(&self, id: ObjectId) -> u64 {
        match self.sizes[id as usize] {
            u32::MAX => self
                .large_sizes
                .get(&id)
                .copied()
                .unwrap_or(u32::MAX as u64),
            s => s as u64,
        }
    }

    pub fn types(&self) -> &[TypeEntry] {
        &self.types
    }

    pub fn is_free(&self, id: ObjectId) -> bool {
        self.type_of(id).is_free
    }
}

#[cfg(test)]
impl ObjectGraph {
    /// The edges `from_parts` built, taken out of the graph.
    pub(crate) fn take_edges(&mut self) -> Edges {
        self.edges.take().expect("from_parts builds the edges")
    }

    /// A graph from objects `(address, size)` (sorted) and edges as id lists; one type.
    pub(crate) fn from_parts(objects: &[(u64, u32)], refs: &[&[ObjectId]]) -> ObjectGraph {
        let addresses: Vec<u64> = objects.iter().map(|o| o.0).collect();
        ObjectGraph {
            starts: StartIndex::build(&addresses),
            addresses: addresses.into(),
            type_ids: vec![0; objects.len()].into(),
            sizes: objects.iter().map(|o| o.1).collect::<Vec<_>>().into(),
            large_sizes: HashMap::new(),
            types: vec![TypeEntry {
                mt: 0x1000,
                gc_desc: Some(GcDesc::Series(Vec::new())),
                loader_allocator: None,
                is_free: false,
            }],
            edges: OnceLock::from(Edges::from_lists(refs)),
            pointer_bits: OnceLock::new(),
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ObjectGraph {
        // 0 -> 1 -> 2, 3 -> 2, 4 alone.
        ObjectGraph::from_parts(
            &[
                (0x100, 24),
                (0x118, 32),
                (0x138, 24),
                (0x150, 24),
                (0x168, 40),
            ],
            &[&[1], &[2], &[], &[2], &[]],
        )
    }

    #[test]
    fn ids_by_address() {
        let g = sample();
        assert_eq!(g.id_of(0x138), Some(2));
        assert_eq!(g.id_of(0x139), None);
        assert_eq!(g.id_of(0x140), None);
        assert_eq!(g.id_of(0x10), None);
        assert_eq!(g.id_of(0x1000), None);
        assert_eq!(g.id_containing(0x140), Some(2));
        assert_eq!(g.id_containing(0x18f), Some(4));
        assert_eq!(g.id_containing(0x190), None);
        assert_eq!(g.id_containing(0xff), None);
    }

    #[test]
    fn reverse_edges_in_order_with_repeats() {
        // Pseudo-random lists with repeated targets: each run ascending, as a direct count says.
        let mut rng = crate::test_rng::XorShift(0x2545_f491_4f6c_dd1d);
        let mut next = || rng.next();
        let n = 300;
        let lists: Vec<Vec<ObjectId>> = (0..n).map(|_| (0..next() % 5).map(|_| (next() % n) as ObjectId).collect()).collect();
        let refs: Vec<&[ObjectId]> = lists.iter().map(|l| l.as_slice()).collect();
        let r = Edges::from_lists(&refs).reverse();
        for t in 0..n as ObjectId {
            let expected: Vec<ObjectId> = lists
                .iter()
                .enumerate()
                .flat_map(|(s, l)| l.iter().filter(|&&x| x == t).map(move |_| s as ObjectId))
                .collect();
            assert_eq!(r.referrers(t), &expected[..], "object {t}");
        }
    }

    #[test]
    fn reverse_edges_in_buckets_as_counted_directly() {
        // Buckets of 8 targets (a bucket's edge and the last, short one), one to five
        // parts, a target most objects reference, repeats: every run as a direct count says.
        let mut rng = crate::test_rng::XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next();
        for n in [1usize, 7, 8, 9, 300, 3 * CHUNK + 5] {
            let lists: Vec<Vec<ObjectId>> = (0..n)
                .map(|_| (0..next() % 4).map(|_| if next() % 3 == 0 { (n / 2) as ObjectId } else { (next() % n as u64) as ObjectId }).collect())
                .collect();
            let refs: Vec<&[ObjectId]> = lists.iter().map(|l| l.as_slice()).collect();
            let edges = Edges::from_lists(&refs);
            let mut expected: Vec<Vec<ObjectId>> = vec![Vec::new(); n];
            for (s, l) in lists.iter().enumerate() {
                for &t in l {
                    expected[t as usize].push(s as ObjectId);
                }
            }
            for parts in 1..=5 {
                let mut offsets = vec![0u32; n + 1];
                let mut sources = vec![0 as ObjectId; edges.len()];
                edges.reverse_in_buckets(&mut offsets, &mut sources, parts, 3);
                assert_eq!(offsets[n] as usize, edges.len(), "{n} objects, {parts} parts");
                for t in 0..n {
                    let run = &sources[offsets[t] as usize..offsets[t + 1] as usize];
                    assert_eq!(run, &expected[t][..], "{n} objects, {parts} parts, object {t}");
                }
            }
        }
    }

    #[test]
    fn edges_and_reverse_edges() {
        let g = sample();
        let g = g.built_edges().expect("edges");
        assert_eq!(g.references(0), &[1]);
        assert_eq!(g.references(2), &[] as &[ObjectId]);
        assert_eq!(g.references(99), &[] as &[ObjectId]);
        assert_eq!(g.len(), 3);
        let r = g.reverse();
        assert_eq!(r.referrers(2), &[1, 3]);
        assert_eq!(r.referrers(1), &[0]);
        assert_eq!(r.referrers(0), &[] as &[ObjectId]);
        assert_eq!(r.referrers(4), &[] as &[ObjectId]);
    }
}

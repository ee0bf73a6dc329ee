//! The indexed object graph: every heap object as a dense id, its type and size, in flat
//! arrays; its outgoing references read from the dump or, once asked for, from edge arrays.
//!
//! **Model.** Objects are numbered `0..n` in address order, so an id is found from an
//! address by binary search over one sorted `Vec<u64>` ([`ObjectGraph::id_of`]; a direct
//! table from 4 KB pages to their first object narrows the search to one page), and
//! everything else per object is a parallel array indexed by id: a type index (`u32`
//! into [`ObjectGraph::types`], one entry per distinct MethodTable) and a size (`u32`,
//! with the rare object of 4 GB or more in a side table): 16 bytes an object. The build
//! walks the heap twice in parallel — once to count each segment's objects and collect
//! their MethodTables, once to fill each segment's slice of arrays allocated at their
//! final size — so no per-segment copy doubles the memory.
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
pub mod index;
pub mod live;
pub mod marks;
pub mod roots;
pub mod store;

use store::Store;

use crate::heap::{GcDesc, Heap, WalkWarning};
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
    /// Address lookup: narrows a search to the few objects starting in one 4 KB page.
    pages: PageIndex,
    type_ids: Store<u32>,
    sizes: Store<u32>,
    large_sizes: HashMap<ObjectId, u64>,
    types: Vec<TypeEntry>,
    /// Outgoing edges, built on first use ([`ObjectGraph::edges`]).
    edges: OnceLock<Edges>,
    warnings: Vec<WalkWarning>,
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
        let built: Vec<(EdgeBlock, u64)> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let range = c * CHUNK..((c + 1) * CHUNK).min(n);
                let mut ends = Vec::with_capacity(range.len());
                let mut targets = Vec::new();
                let mut scratch = Vec::new();
                let mut unresolved = 0;
                if crate::interrupt::cancelled() {
                    return (EdgeBlock { ends: ends.into(), targets: targets.into() }, 0);
                }
                for i in range.clone() {
                    unresolved += graph.references_into(RefSource::Dump(heap), i as ObjectId, &mut targets, &mut scratch);
                    ends.push(u32::try_from(targets.len()).unwrap_or(u32::MAX));
                }
                progress.inc(range.len() as u64);
                targets.shrink_to_fit();
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

    /// Replaces every target id `t` by `f(t)` (the dominator tree renumbers them).
    /// Ctrl-C ([`crate::interrupt`]) stops it between blocks, the edges half renumbered.
    pub fn renumber(&mut self, f: impl Fn(ObjectId) -> u32 + Sync) -> Result<(), crate::interrupt::Cancelled> {
        // Blocks on every core.
        self.blocks.par_iter_mut().try_for_each(|b| {
            crate::interrupt::check()?;
            for t in b.targets.make_mut() {
                *t = f(*t);
            }
            Ok(())
        })
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

    /// Fills `offsets` (one more than the objects, all zero on entry) and `sources` (as
    /// many as the edges) with the incoming edges: `sources[offsets[i] .. offsets[i + 1]]`
    /// reference object `i`, in ascending order. On every core: each task owns a range of
    /// targets (its counts and its run of sources) and reads every edge. No array beyond
    /// the two: each run is filled from its end, backwards, its count counting down to
    /// its start (so the arrays may be an index file's, written in place).
    pub fn reverse_into(&self, offsets: &mut [u32], sources: &mut [ObjectId]) {
        let n = self.objects();
        if offsets.len() != n + 1 {
            return;
        }
        let parts = rayon::current_num_threads().clamp(1, 64);
        let bounds: Vec<usize> = (0..=parts).map(|p| n * p / parts).collect();
        fn ranges<'a>(v: &'a mut [u32], bounds: &[usize]) -> Vec<(usize, &'a mut [u32])> {
            let mut out = Vec::with_capacity(bounds.len());
            let mut rest = v;
            for w in bounds.windows(2) {
                let (a, b) = rest.split_at_mut(w[1] - w[0]);
                out.push((w[0], a));
                rest = b;
            }
            out
        }
        // offsets[t + 1]: the references to t ...
        ranges(&mut offsets[1..], &bounds).into_par_iter().for_each(|(lo, c)| {
            let hi = lo + c.len();
            for b in &self.blocks {
                for &t in b.targets.iter() {
                    let t = t as usize;
                    if t >= lo && t < hi {
                        c[t - lo] = c[t - lo].saturating_add(1);
                    }
                }
            }
        });
        // ... summed: the end of t's run (and offsets[t] its start).
        for i in 1..=n {
            offsets[i] = offsets[i].saturating_add(offsets[i - 1]);
        }
        // Each range's sources are one run of `sources`.
        let mut runs = Vec::with_capacity(parts);
        {
            let mut rest = &mut sources[..];
            let mut at = 0usize;
            for p in 0..parts {
                let end = (offsets[bounds[p + 1]] as usize).clamp(at, at + rest.len());
                let (a, b) = rest.split_at_mut(end - at);
                runs.push((at, a));
                rest = b;
                at = end;
            }
        }
        // Sources from the last down: each reference to t counts t's end down by one and
        // takes that slot, so the run ends up in ascending order and offsets[t + 1] at
        // t's start.
        ranges(&mut offsets[1..], &bounds)
            .into_par_iter()
            .zip(runs)
            .for_each(|((lo, ends), (base, run))| {
                let hi = lo + ends.len();
                for src in (0..n).rev() {
                    for &t in self.references(src as ObjectId).iter().rev() {
                        let t = t as usize;
                        if t >= lo && t < hi {
                            let slot = &mut ends[t - lo];
                            *slot = slot.saturating_sub(1);
                            if let Some(s) = (*slot as usize).checked_sub(base).and_then(|k| run.get_mut(k)) {
                                *s = src as ObjectId;
                            }
                        }
                    }
                }
            });
        // offsets[t + 1] is t's start: moved down one, the last the total.
        offsets.copy_within(1..=n, 0);
        offsets[n] = sources.len().min(u32::MAX as usize) as u32;
    }
}

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

impl ReverseEdges {
    /// The objects that reference `id`, in id order.
    pub fn referrers(&self, id: ObjectId) -> &[ObjectId] {
        let i = id as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.sources.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// See [`ObjectGraph::pages`]: address spans that hold objects, each with a direct table
/// from its 4 KB pages to the first object starting at or after the page.
#[derive(Default)]
struct PageIndex {
    /// `(first page, index of that page's entry in `first`)`, sorted; a span ends where
    /// the next begins (its last entry is the first id of the next span).
    spans: Vec<(u64, usize)>,
    /// Per page of every span, the first object id at or after the page start; one more
    /// entry at the end of each span.
    first: Store<ObjectId>,
}

const PAGE_SHIFT: u32 = 12;
/// Pages without objects shorter than this stay inside a span (a 4 MB region is 1,024).
const SPAN_GAP_PAGES: u64 = 1024;

impl PageIndex {
    fn build(addresses: &[u64]) -> PageIndex {
        let mut first: Vec<ObjectId> = Vec::new();
        let mut spans = Vec::new();
        let mut last_page: Option<u64> = None;
        for (i, &a) in addresses.iter().enumerate() {
            let page = a >> PAGE_SHIFT;
            match last_page {
                Some(last) if page - last <= SPAN_GAP_PAGES => {
                    // Pages after `last` up to this one begin with object `i`.
                    for _ in last..page {
                        first.push(i as ObjectId);
                    }
                }
                Some(_) => {
                    // Close the span (the entry after its last page), open a new one.
                    first.push(i as ObjectId);
                    spans.push((page, first.len()));
                    first.push(i as ObjectId);
                }
                None => {
                    spans.push((page, 0));
                    first.push(i as ObjectId);
                }
            }
            last_page = Some(page);
        }
        if last_page.is_some() {
            first.push(addresses.len() as ObjectId);
        }
        PageIndex { spans, first: first.into() }
    }

    /// The ids of the objects that start in the page of `address`.
    #[inline]
    fn candidates(&self, address: u64) -> Option<std::ops::Range<usize>> {
        let page = address >> PAGE_SHIFT;
        let s = self.spans.partition_point(|&(start, _)| start <= page).checked_sub(1)?;
        let (start, base) = *self.spans.get(s)?;
        let entry = base.checked_add(usize::try_from(page - start).ok()?)?;
        let end = self.spans.get(s + 1).map_or(self.first.len(), |&(_, b)| b);
        if entry.checked_add(1)? >= end {
            return None;
        }
        Some(*self.first.get(entry)? as usize..*self.first.get(entry + 1)? as usize)
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
        if !addresses.windows(2).all(|w| w[0] < w[1]) {
            bail!(
                "the heap's segments overlap: objects are not in strictly increasing address order"
            );
        }
        Ok(ObjectGraph {
            pages: PageIndex::build(&addresses),
            addresses: addresses.into(),
            type_ids: type_ids.into(),
            sizes: sizes.into(),
            large_sizes,
            types,
            edges: OnceLock::new(),
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
        let i = id as usize;
        let Some(&t) = self.type_ids.get(i) else {
            return 0;
        };
        let ty = &self.types[t as usize];
        let mut unresolved = 0;
        if let Some(desc) = &ty.gc_desc {
            scratch.clear();
            heap.references_with(self.addresses[i], self.size(id), desc, scratch);
            for &r in scratch.iter() {
                match self.id_of(r) {
                    Some(id) => out.push(id),
                    None => unresolved += 1,
                }
            }
        }
        if let Some(la) = ty.loader_allocator {
            match self.id_of(la) {
                Some(id) => out.push(id),
                None => unresolved += 1,
            }
        }
        unresolved
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
        let first = *self.addresses.first()?;
        let last = *self.addresses.last()?;
        if address < first || address > last || address & 7 != 0 {
            return None;
        }
        let range = self.pages.candidates(address)?;
        let lo = range.start;
        self.addresses
            .get(range)?
            .binary_search(&address)
            .ok()
            .map(|i| (lo + i) as ObjectId)
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


    pub fn type_of(&self, id: ObjectId) -> &TypeEntry {
        &self.types[self.type_ids[id as usize] as usize]
    }

    /// The object's type as an index into [`ObjectGraph::types`].
    #[inline]
    pub fn type_index(&self, id: ObjectId) -> usize {
        self.type_ids.get(id as usize).map_or(0, |&t| t as usize)
    }

    pub fn mt(&self, id: ObjectId) -> u64 {
        self.type_of(id).mt
    }

    /// The object's size as SOS reports it.
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
            pages: PageIndex::build(&addresses),
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
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
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

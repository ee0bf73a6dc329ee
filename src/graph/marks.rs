//! Liveness by address, without the object table: what `dumpheap -live` and `-dead` need.
//!
//! The object table ([`super::ObjectGraph`]) costs 16 bytes an object and two walks of
//! the heap; a live-set question needs neither. Here one parallel walk sets a bit per
//! object start in a bitmap over each segment (1 bit per 8 heap bytes: 20 MB for a
//! 1.28 GB heap) and collects the MethodTables met; marking then runs as
//! [`super::live::mark`] does (parallel frontier tasks, an atomic bit per object), with a
//! second bitmap of the same shape, reading each object's MethodTable, length and
//! references from the dump. A reference is an object exactly when its start bit is set,
//! as [`super::ObjectGraph::id_of`] answers for the table, so the live set is the same
//! object for object (and so are the references counted as leading nowhere). The
//! commands filter their walk by [`LiveMarks::is_live_from`].
//!
//! Marking waits on memory: each object's first bytes, and the bitmap words of each
//! reference, are far from the last ones read. The start and mark words of a stretch
//! of heap sit side by side (one cache line answers "is it an object" and "was it
//! marked"), a direct table finds a reference's segment, and each task expands objects
//! through a small queue whose entries' memory is prefetched when they enter it.
use super::index::{bytes, write_or_note, IndexFile, IndexDir, Part};
use super::gcroot_cold::SearchObjects;
use super::roots::{ObjectStarts, ObjectTypes};
use super::store::Store;
use super::starts::ChunkTable;
use super::TypeEntry;
use crate::heap::{GcDesc, Heap, MtSize, Root, SizeCache, WalkWarning};
use crate::progress::Progress;
use anyhow::{Result, bail};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Heap bytes per bit.
const GRAIN: u64 = 8;
/// Heap bytes per bitmap word.
const WORD_BYTES: u64 = GRAIN * 64;
/// Objects whose memory is being prefetched ahead of their expansion, per task.
const AHEAD: usize = 12;

/// The objects of one walked segment: a bitmap from `start`, `len` words at `offset`
/// (word pairs in [`ObjectBits`]'s array), and the segment's bytes when the dump
/// holds them in one piece.
#[derive(Debug, Clone, Copy)]
struct Span<'h> {
    start: u64,
    /// The end of the bitmap's coverage (`start + len * WORD_BYTES`, saturated).
    limit: u64,
    offset: usize,
    len: usize,
    bytes: Option<&'h [u8]>,
}

/// What marking needs of a MethodTable.
struct Facts {
    entry: TypeEntry,
    size: MtSize,
}

/// Where every object of the heap starts, and the facts of the MethodTables met.
pub struct ObjectBits<'h> {
    heap: &'h Heap,
    spans: Vec<Span<'h>>,
    table: Option<ChunkTable>,
    /// Per bitmap word: the object starts (even index), the marks (odd index).
    words: Vec<AtomicU64>,
    /// Per start word (when built for a search): the objects whose type holds references.
    pointers: Vec<u64>,
    index: FxHashMap<u64, u32>,
    facts: Vec<Facts>,
    count: usize,
    mt_mask: u64,
    length_offset: u64,
    free_mt: u64,
}

impl<'h> ObjectBits<'h> {
    /// Walks the heap's segments in parallel, setting a bit per object start. `None`
    /// when the heap's shape does not suit a bitmap (a segment starting off the 8-byte
    /// grain): the caller uses the object table instead.
    pub fn build(heap: &'h Heap) -> Result<Option<ObjectBits<'h>>> {
        Self::build_with(heap, false)
    }

    /// [`ObjectBits::build`], with a third bitmap of the objects whose type holds
    /// references (those a root search expands): the search then reads no memory of
    /// an object it only meets (a string, a boxed number).
    pub fn build_for_search(heap: &'h Heap) -> Result<Option<ObjectBits<'h>>> {
        Self::build_with(heap, true)
    }

    fn build_with(heap: &'h Heap, with_pointers: bool) -> Result<Option<ObjectBits<'h>>> {
        if heap.segments.iter().any(|s| s.start % GRAIN != 0) {
            return Ok(None);
        }
        let progress = Progress::new("finding the heap's objects", heap.segments.len() as u64);
        struct Walked {
            words: Vec<u64>,
            pointers: Vec<u64>,
            mts: Vec<u64>,
            first: u64,
            last: u64,
            count: usize,
        }
        // Per thread: whether a MethodTable's objects hold references (its GCDesc, as
        // the facts below read it), asked once per type.
        let init = || (SizeCache::default(), FxHashMap::<u64, bool>::default());
        let walked: Vec<Walked> = heap
            .segments
            .par_iter()
            .map_init(init, |(sizes, holds), seg| {
                let mut words: Vec<u64> = Vec::new();
                let mut pointers: Vec<u64> = Vec::new();
                let mut seen: FxHashMap<u64, bool> = Default::default();
                let mut last_mt = u64::MAX;
                let mut last_holds = false;
                let (mut first, mut last, mut count) = (0, 0, 0usize);
                // The walk only moves forward, within the segment, over memory the dump
                // holds: the bitmap grows no further than the dump.
                let _warning: Option<WalkWarning> = heap.walk_segment(seg, sizes, |o| {
                    let bit = (o.address - seg.start) / GRAIN;
                    let w = (bit / 64) as usize;
                    if w >= words.len() {
                        words.resize(w + 1, 0);
                    }
                    words[w] |= 1 << (bit % 64);
                    if o.mt != last_mt {
                        last_mt = o.mt;
                        last_holds = *seen.entry(o.mt).or_insert_with(|| {
                            with_pointers && *holds.entry(o.mt).or_insert_with(|| heap.gc_desc(o.mt).ok().flatten().is_some())
                        });
                    }
                    if last_holds {
                        if w >= pointers.len() {
                            pointers.resize(w + 1, 0);
                        }
                        pointers[w] |= 1 << (bit % 64);
                    }
                    if count == 0 {
                        first = o.address;
                    }
                    last = o.address;
                    count += 1;
                });
                progress.inc(1);
                Walked { words, pointers, mts: seen.into_keys().collect(), first, last, count }
            })
            .collect();
        drop(progress);
        crate::interrupt::check()?;
        let count: usize = walked.iter().map(|w| w.count).sum();
        if count > u32::MAX as usize {
            bail!("{count} objects: more than the object graph can number (2^32)");
        }
        // The same condition as the object table's: objects in strictly increasing
        // address order, segment after segment.
        let mut previous: Option<u64> = None;
        for w in walked.iter().filter(|w| w.count > 0) {
            if previous.is_some_and(|p| w.first <= p) {
                bail!("the heap's segments overlap: objects are not in strictly increasing address order");
            }
            previous = Some(w.last);
        }
        let mut spans = Vec::new();
        let total: usize = walked.iter().map(|w| w.words.len()).sum();
        let mut words: Vec<AtomicU64> = Vec::with_capacity(2 * total);
        let mut mts: Vec<u64> = Vec::new();
        let mut index: FxHashMap<u64, u32> = FxHashMap::default();
        let mut pointers: Vec<u64> = Vec::with_capacity(if with_pointers { total } else { 0 });
        for (seg, w) in heap.segments.iter().zip(walked) {
            for &mt in &w.mts {
                index.entry(mt).or_insert_with(|| {
                    mts.push(mt);
                    (mts.len() - 1) as u32
                });
            }
            if w.count == 0 {
                continue;
            }
            let limit = seg.start.saturating_add((w.words.len() as u64).saturating_mul(WORD_BYTES));
            let bytes = usize::try_from(seg.end - seg.start).ok().and_then(|len| heap.space().core_slice(seg.start, len));
            spans.push(Span { start: seg.start, limit, offset: words.len() / 2, len: w.words.len(), bytes });
            for &x in &w.words {
                words.push(AtomicU64::new(x));
                words.push(AtomicU64::new(0));
            }
            if with_pointers {
                pointers.extend_from_slice(&w.pointers);
                pointers.resize(words.len() / 2, 0);
            }
        }
        let table = ChunkTable::new(&spans, |s| s.start, |s| s.limit);
        let entries = super::type_entries(heap, &mts);
        let facts = entries
            .into_iter()
            .map(|entry| {
                // Every MethodTable here passed the walk's size check.
                let size = heap.mt_size(entry.mt).unwrap_or(MtSize { base_size: 0, component_size: 0 });
                Facts { entry, size }
            })
            .collect();
        let layout = &heap.runtime.layout.object;
        Ok(Some(ObjectBits {
            heap,
            spans,
            table,
            words,
            pointers,
            index,
            facts,
            count,
            mt_mask: !layout.mt_unmask,
            length_offset: layout.array_length,
            free_mt: heap.runtime.globals.free_mt,
        }))
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The index of the span holding `address`.
    #[inline]
    fn span_of(&self, address: u64) -> Option<usize> {
        let i = ChunkTable::last_starting_by(self.table.as_ref(), &self.spans, |s| s.start, address)?;
        (address < self.spans.get(i)?.limit).then_some(i)
    }

    /// The span, word index and bit of `address`, when it is an object start.
    #[inline]
    fn start(&self, address: u64) -> Option<(usize, usize, u64)> {
        if address % GRAIN != 0 {
            return None;
        }
        let i = self.span_of(address)?;
        let s = &self.spans[i];
        let bit = (address - s.start) / GRAIN;
        let w = (bit / 64) as usize;
        if w >= s.len {
            return None;
        }
        let w = s.offset + w;
        let b = 1u64 << (bit % 64);
        (self.words.get(2 * w)?.load(Ordering::Relaxed) & b != 0).then_some((i, w, b))
    }

    /// Sets the mark of word `w`, bit `b`: true when it was not set.
    #[inline]
    fn set(&self, w: usize, b: u64) -> bool {
        // Most references lead to objects already marked: a plain load answers those
        // without the locked read-modify-write.
        self.words.get(2 * w + 1).is_some_and(|x| x.load(Ordering::Relaxed) & b == 0 && x.fetch_or(b, Ordering::Relaxed) & b == 0)
    }

    #[inline]
    fn is_set(&self, w: usize, b: u64) -> bool {
        self.words.get(2 * w + 1).is_some_and(|x| x.load(Ordering::Relaxed) & b != 0)
    }

    /// The bytes of the object at `address` in span `span` from its start on, when the
    /// dump holds its segment in one piece.
    #[inline]
    fn bytes_at(&self, span: usize, address: u64) -> Option<&'h [u8]> {
        let s = self.spans.get(span)?;
        s.bytes?.get(usize::try_from(address - s.start).ok()?..)
    }

    /// Asks the processor for the first bytes of the object at `address`.
    #[inline]
    fn prefetch(&self, span: usize, address: u64) {
        if let Some(byte) = self.bytes_at(span, address).and_then(|b| b.first()) {
            super::prefetch(byte);
        }
    }

    /// The MethodTable word of the object at `address`.
    #[inline]
    fn mt_at(&self, span: usize, address: u64) -> Option<u64> {
        let raw = match self.bytes_at(span, address) {
            Some(b) => u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            None => self.heap.space().read_u64(address).ok()?,
        };
        Some(raw & self.mt_mask)
    }

    /// Whether the object at `address` is free space.
    fn is_free_at(&self, span: usize, address: u64) -> bool {
        self.mt_at(span, address).is_some_and(|mt| mt == self.free_mt)
    }

    /// Passes the references of the object at `address` (span `span`; GCDesc order,
    /// then its LoaderAllocator) to `visit`, as read from the dump (null ones left out).
    /// Counts the object in `tally` (its type's row: count, bytes, lowest address).
    /// `recent` is the caller's cache of the last MethodTables' facts.
    #[inline]
    fn references(
        &self,
        span: usize,
        address: u64,
        scratch: &mut Vec<u64>,
        recent: &mut RecentFacts,
        tally: &mut [Tally],
        mut visit: impl FnMut(u64),
    ) {
        let Some(mt) = self.mt_at(span, address) else {
            return;
        };
        let Some((k, facts)) = recent.facts(self, mt) else {
            return;
        };
        if let Some(t) = tally.get_mut(k) {
            t.count += 1;
            t.bytes = t.bytes.saturating_add(self.size_at(span, address, facts));
            t.first = t.first.min(address);
        }
        self.gc_references(span, address, facts, scratch, &mut visit);
        if let Some(la) = facts.entry.loader_allocator {
            visit(la);
        }
    }

    /// The size of the object at `address` (span `span`) of type `facts`, as the walk
    /// computed it.
    #[inline]
    fn size_at(&self, span: usize, address: u64, facts: &Facts) -> u64 {
        let count = if facts.size.component_size != 0 {
            let at = self.length_offset as usize;
            match self.bytes_at(span, address).and_then(|b| b.get(at..at + 4)) {
                Some(c) => u32::from_le_bytes(c.try_into().expect("4 bytes")),
                None => self.heap.space().read_u32(address.wrapping_add(self.length_offset)).unwrap_or(0),
            }
        } else {
            0
        };
        facts.size.object_size(count)
    }

    /// Passes the GCDesc references of the object at `address` (span `span`, type
    /// `facts`) to `visit`, in GCDesc order, as read from the dump (null ones left out).
    #[inline]
    fn gc_references(&self, span: usize, address: u64, facts: &Facts, scratch: &mut Vec<u64>, mut visit: impl FnMut(u64)) {
        let Some(desc) = &facts.entry.gc_desc else {
            return;
        };
        let size = self.size_at(span, address, facts);
        match self.bytes_at(span, address).and_then(|b| b.get(..usize::try_from(size).ok()?)) {
            Some(object) => desc.for_each_slot(size, |off| {
                let o = off as usize;
                if let Some(x) = object.get(o..o + 8) {
                    let r = u64::from_le_bytes(x.try_into().expect("8 bytes"));
                    if r != 0 {
                        visit(r);
                    }
                }
            }),
            None => {
                scratch.clear();
                self.heap.references_with(address, size, desc, scratch);
                for &r in scratch.iter() {
                    visit(r);
                }
            }
        }
    }

    /// The facts of the object at `address` (span `span`)'s MethodTable.
    #[inline]
    fn facts_at(&self, span: usize, address: u64) -> Option<&Facts> {
        let mt = self.mt_at(span, address)?;
        self.index.get(&mt).and_then(|&i| self.facts.get(i as usize))
    }

    /// The MethodTables of the heap's objects (each once).
    pub fn mts(&self) -> Vec<u64> {
        self.facts.iter().map(|f| f.entry.mt).collect()
    }

    /// The object starts as [`super::gcroot_cold::AddressPathFinder`] searches them,
    /// `seen` kept in the mark bits (cleared here): a root search by address, on one
    /// thread. Bits made by [`ObjectBits::build`] (those read from the index know no
    /// MethodTable: every object would look like one without references).
    pub fn search(&self) -> SearchBits<'_, 'h> {
        for (i, w) in self.words.iter().enumerate() {
            if i % 2 == 1 {
                w.store(0, Ordering::Relaxed);
            }
        }
        SearchBits { bits: self, recent: RecentFacts::default(), scratch: Vec::new(), hint: std::cell::Cell::new(0) }
    }

    /// Marks every object reachable from `roots` (addresses; those that are not object
    /// starts, and free objects, are ignored) and from the secondaries of `dependents`
    /// (primary, secondary addresses) whose primary is reachable, as
    /// [`super::live::mark`] does over the object table. Returns the marks and the number
    /// of references met that pointed at no object start. With `count_types`, also
    /// counts each type's live objects as they are expanded ([`LiveMarks::types`]).
    /// Once Ctrl-C was pressed it stops at the next task: callers check the flag after.
    pub fn mark(&self, roots: &[Root], dependents: &[(u64, u64)], count_types: bool) -> (LiveMarks, u64) {
        let unresolved = AtomicU64::new(0);
        let progress = Progress::new("marking live objects", self.count as u64);
        let mut frontier: Vec<(u32, u64)> = Vec::new();
        for r in roots {
            if let Some((i, w, b)) = self.start(r.object)
                && !self.is_free_at(i, r.object)
                && self.set(w, b)
            {
                frontier.push((i as u32, r.object));
            }
        }
        let deps: Vec<((usize, u64), (u32, usize, u64), u64)> = dependents
            .iter()
            .filter_map(|&(p, s)| {
                let (_, pw, pb) = self.start(p)?;
                let (si, sw, sb) = self.start(s)?;
                Some(((pw, pb), (si as u32, sw, sb), s))
            })
            .collect();
        // Each object enters a frontier once (when its bit is set), so every round of
        // `drain` shrinks what is left; dependent passes are at most one per handle.
        // Per worker thread (and one slot for any other): each type's live objects, as
        // their expansions count them; a task holds its thread's slot while it runs.
        let tallies: Vec<Mutex<Vec<Tally>>> = (0..=rayon::current_num_threads()).map(|_| Mutex::new(Vec::new())).collect();
        let drain = |frontier: &mut Vec<(u32, u64)>| {
            while !frontier.is_empty() {
                if crate::interrupt::cancelled() {
                    frontier.clear();
                    return;
                }
                *frontier = frontier
                    .par_chunks(super::live::TASK_SEEDS)
                    .flat_map_iter(|seeds| {
                        let mut stack = seeds.to_vec();
                        // Objects wait in `ahead` while their memory arrives.
                        let mut ahead: VecDeque<(u32, u64)> = VecDeque::with_capacity(AHEAD);
                        let mut scratch = Vec::new();
                        let mut recent = RecentFacts::default();
                        let (mut lost, mut done) = (0, 0);
                        if crate::interrupt::cancelled() {
                            return Vec::new();
                        }
                        let slot = rayon::current_thread_index().unwrap_or(tallies.len() - 1).min(tallies.len() - 1);
                        let mut tally = tallies[slot].lock().unwrap_or_else(|e| e.into_inner());
                        if count_types && tally.len() < self.facts.len() {
                            tally.resize(self.facts.len(), Tally::default());
                        }
                        while done < super::live::TASK_BUDGET {
                            while ahead.len() < AHEAD
                                && let Some((i, a)) = stack.pop()
                            {
                                self.prefetch(i as usize, a);
                                ahead.push_back((i, a));
                            }
                            let Some((i, a)) = ahead.pop_front() else {
                                break;
                            };
                            self.references(i as usize, a, &mut scratch, &mut recent, &mut tally, |r| match self.start(r) {
                                Some((span, word, bit)) => {
                                    if self.set(word, bit) {
                                        stack.push((span as u32, r));
                                    }
                                }
                                None => lost += 1,
                            });
                            done += 1;
                        }
                        stack.extend(ahead);
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
            frontier.extend(deps.iter().filter(|&&((pw, pb), (_, sw, sb), _)| self.is_set(pw, pb) && self.set(sw, sb)).map(|d| (d.1.0, d.2)));
            if frontier.is_empty() {
                break;
            }
            drain(&mut frontier);
        }
        drop(progress);
        let bits: Vec<u64> = self.words.iter().skip(1).step_by(2).map(|x| x.load(Ordering::Relaxed)).collect();
        let count = bits.iter().map(|w| w.count_ones() as usize).sum();
        let spans = self.spans.iter().map(|s| MarkSpan { start: s.start, limit: s.limit, offset: s.offset, len: s.len }).collect();
        let types = if count_types { self.live_types(tallies, count) } else { None };
        (LiveMarks { spans, bits, count, types }, unresolved.into_inner())
    }

    /// The live objects per MethodTable from the marking's tallies, in the order a walk
    /// of the heap meets their types (by the lowest live address: spans, and the
    /// segments a walk takes, are in address order). `None` when they do not account for
    /// every live object (one whose type could not be read), or when free space was
    /// marked (a walk's statistics then also look for fragments): the caller walks.
    fn live_types(&self, tallies: Vec<Mutex<Vec<Tally>>>, count: usize) -> Option<LiveTypes> {
        let mut total = vec![Tally::default(); self.facts.len()];
        for t in tallies {
            for (sum, t) in total.iter_mut().zip(t.into_inner().unwrap_or_else(|e| e.into_inner())) {
                sum.count += t.count;
                sum.bytes = sum.bytes.saturating_add(t.bytes);
                sum.first = sum.first.min(t.first);
            }
        }
        if total.iter().map(|t| t.count).sum::<u64>() != count as u64 {
            return None;
        }
        let mut rows: Vec<(u64, u64, u64, u64)> = total
            .iter()
            .zip(&self.facts)
            .filter(|(t, _)| t.count > 0)
            .map(|(t, f)| (t.first, f.entry.mt, t.count, t.bytes))
            .collect();
        if rows.iter().any(|r| r.1 == self.free_mt) {
            return None;
        }
        rows.sort_unstable();
        Some(LiveTypes { rows: rows.into_iter().map(|(_, mt, count, bytes)| (mt, count, bytes)).collect() })
    }
}

impl<'h> ObjectBits<'h> {
    /// Writes the object starts and the marks (as they are after [`ObjectBits::mark`]):
    /// `extra` is the live count and the references that led nowhere.
    pub fn save(&self, dir: &IndexDir, live: &LiveMarks, unresolved: u64) -> Option<IndexFile> {
        let spans: Vec<u64> = self.spans.iter().flat_map(|s| [s.start, s.limit, s.offset as u64, s.len as u64]).collect();
        let words: Vec<u64> = self.words.iter().map(|x| x.load(Ordering::Relaxed)).collect();
        // The live objects per type, when counted, as a third section of (MethodTable,
        // count, bytes) triples in walk order.
        let types: Vec<u64> = live.types.iter().flat_map(|t| t.rows.iter().flat_map(|&(mt, c, b)| [mt, c, b])).collect();
        let mut sections = vec![bytes([&spans[..]]), bytes([&words[..]])];
        if live.types.is_some() {
            sections.push(bytes([&types[..]]));
        }
        write_or_note(dir, Part::Marks, 0, self.count as u64, [live.count as u64, unresolved, 0, 0], &sections)
    }

    /// The object starts and marks of a file written by [`ObjectBits::save`], checked
    /// (spans in order, within the bitmaps, counts matching the bits); no MethodTable
    /// facts: enough to answer the roots ([`ObjectStarts`]) and to give the live set.
    /// Returns them with the live set and the count of references that led nowhere.
    pub fn from_index(file: &IndexFile, heap: &'h Heap) -> Result<(ObjectBits<'h>, LiveMarks, u64)> {
        let raw: Store<u64> = file.section(0, None)?;
        let words: Store<u64> = file.section(1, None)?;
        if raw.len() % 4 != 0 || words.len() % 2 != 0 {
            bail!("its spans or bitmaps are cut short");
        }
        let n = words.len() / 2;
        let mut spans = Vec::with_capacity(raw.len() / 4);
        let mut previous_limit = 0u64;
        for c in raw.chunks_exact(4) {
            let (start, limit, offset, len) = (c[0], c[1], c[2], c[3]);
            let end = offset.checked_add(len).filter(|&e| e <= n as u64);
            if start % GRAIN != 0
                || start < previous_limit
                || len == 0
                || end.is_none()
                || Some(limit) != len.checked_mul(WORD_BYTES).and_then(|b| start.checked_add(b))
            {
                bail!("a span of its bitmaps does not hold together");
            }
            previous_limit = limit;
            let Some(seg) = heap.segments.iter().find(|s| s.start == start) else {
                bail!("a span of its bitmaps is no segment of the heap");
            };
            let bytes = usize::try_from(seg.end - seg.start).ok().and_then(|len| heap.space().core_slice(seg.start, len));
            spans.push(Span { start, limit, offset: offset as usize, len: len as usize, bytes });
        }
        let [live_count, unresolved, _, _] = file.extra();
        let objects: u64 = words.iter().step_by(2).map(|w| w.count_ones() as u64).sum();
        let marks: Vec<u64> = words.iter().skip(1).step_by(2).copied().collect();
        let live: u64 = marks.iter().map(|w| w.count_ones() as u64).sum();
        if objects != file.objects() || live != live_count || marks.iter().zip(words.iter().step_by(2)).any(|(m, s)| m & !s != 0) {
            bail!("its bit counts do not match");
        }
        let layout = &heap.runtime.layout.object;
        let mark_spans = spans.iter().map(|s| MarkSpan { start: s.start, limit: s.limit, offset: s.offset, len: s.len }).collect();
        let bits = ObjectBits {
            heap,
            table: None,
            spans,
            words: words.iter().map(|&w| AtomicU64::new(w)).collect(),
            pointers: Vec::new(),
            index: FxHashMap::default(),
            facts: Vec::new(),
            count: objects as usize,
            mt_mask: !layout.mt_unmask,
            length_offset: layout.array_length,
            free_mt: heap.runtime.globals.free_mt,
        };
        // Per-type counts, when the file has them: they must account for every live object.
        let types = match file.section::<u64>(2, None) {
            Ok(t) => {
                if t.len() % 3 != 0 || t.chunks_exact(3).map(|r| r[1]).try_fold(0u64, u64::checked_add) != Some(live) {
                    bail!("its live objects per type do not add up");
                }
                Some(LiveTypes { rows: t.chunks_exact(3).map(|r| (r[0], r[1], r[2])).collect() })
            }
            Err(_) => None,
        };
        Ok((bits, LiveMarks { spans: mark_spans, bits: marks, count: live as usize, types }, unresolved))
    }
}

/// MethodTables remembered by [`RecentFacts`] in front of the hash table.
const RECENT: usize = 64;

/// A direct-mapped cache of MethodTable -> facts index + 1 in front of
/// [`ObjectBits`]'s hash table (neighbouring objects share a few types): one per marking
/// task or root search.
struct RecentFacts([(u64, u32); RECENT]);

impl Default for RecentFacts {
    fn default() -> RecentFacts {
        RecentFacts([(0, 0); RECENT])
    }
}

impl RecentFacts {
    /// The facts of MethodTable `mt` and their index (`None`: not a type the walk met).
    #[inline]
    fn facts<'b>(&mut self, bits: &'b ObjectBits<'_>, mt: u64) -> Option<(usize, &'b Facts)> {
        let r = ((mt >> 3) ^ (mt >> 9)) as usize % RECENT;
        let k = match self.0[r] {
            (m, plus_one) if m == mt && plus_one != 0 => plus_one - 1,
            _ => {
                let &i = bits.index.get(&mt)?;
                self.0[r] = (mt, i + 1);
                i
            }
        } as usize;
        Some((k, bits.facts.get(k)?))
    }
}

/// An object start located in [`ObjectBits`]: its span, the index of its bitmap word,
/// its bit.
#[derive(Debug, Clone, Copy)]
pub struct BitSlot {
    span: u32,
    word: usize,
    bit: u64,
}

/// [`ObjectBits`] as the root search by address sees them ([`ObjectBits::search`]).
pub struct SearchBits<'b, 'h> {
    bits: &'b ObjectBits<'h>,
    recent: RecentFacts,
    scratch: Vec<u64>,
    /// The span of the last address located: most references stay in their span.
    hint: std::cell::Cell<usize>,
}

impl SearchObjects for SearchBits<'_, '_> {
    type Slot = BitSlot;

    #[inline]
    fn resolve(&self, address: u64) -> Option<BitSlot> {
        if address % GRAIN != 0 {
            return None;
        }
        let slot = self.locate(address)?;
        let start = self.bits.words.get(2 * slot.word)?.load(Ordering::Relaxed);
        (start & slot.bit != 0).then_some(slot)
    }

    #[inline]
    fn locate(&self, address: u64) -> Option<BitSlot> {
        let bits = self.bits;
        let hint = self.hint.get();
        let span = match bits.spans.get(hint) {
            Some(s) if address >= s.start && address < s.limit => hint,
            _ => {
                let i = bits.span_of(address)?;
                self.hint.set(i);
                i
            }
        };
        let s = bits.spans.get(span)?;
        let bit = (address - s.start) / GRAIN;
        let w = (bit / 64) as usize;
        (w < s.len).then(|| BitSlot { span: span as u32, word: s.offset + w, bit: 1 << (bit % 64) })
    }

    // One thread searches: a plain load and store, no atomic read-modify-write.
    #[inline]
    fn insert_seen(&mut self, slot: BitSlot) -> bool {
        let Some(w) = self.bits.words.get(2 * slot.word + 1) else {
            return false;
        };
        let v = w.load(Ordering::Relaxed);
        if v & slot.bit != 0 {
            return false;
        }
        w.store(v | slot.bit, Ordering::Relaxed);
        true
    }

    #[inline]
    fn remove_seen(&mut self, slot: BitSlot) {
        if let Some(w) = self.bits.words.get(2 * slot.word + 1) {
            w.store(w.load(Ordering::Relaxed) & !slot.bit, Ordering::Relaxed);
        }
    }

    #[inline]
    fn expand(&mut self, address: u64, slot: BitSlot, out: &mut Vec<u64>) -> bool {
        let bits = self.bits;
        // An object whose type holds no references is not read at all.
        if !bits.pointers.is_empty() && bits.pointers.get(slot.word).is_none_or(|p| p & slot.bit == 0) {
            return false;
        }
        let span = slot.span as usize;
        let Some(mt) = bits.mt_at(span, address) else {
            return false;
        };
        let Some((_, facts)) = self.recent.facts(bits, mt) else {
            return false;
        };
        if facts.entry.gc_desc.is_none() {
            return false;
        }
        bits.gc_references(span, address, facts, &mut self.scratch, |r| out.push(r));
        true
    }

    #[inline]
    fn prefetch(&self, address: u64, slot: BitSlot) {
        self.bits.prefetch(slot.span as usize, address);
    }

}

impl ObjectTypes for ObjectBits<'_> {
    fn mt_at(&self, address: u64) -> Option<u64> {
        let (span, _, _) = self.start(address)?;
        ObjectBits::mt_at(self, span, address)
    }

    fn layout_at(&self, address: u64) -> Option<(u64, GcDesc)> {
        let (span, _, _) = self.start(address)?;
        let facts = self.facts_at(span, address)?;
        let desc = facts.entry.gc_desc.clone()?;
        Some((self.size_at(span, address, facts), desc))
    }
}

impl ObjectStarts for ObjectBits<'_> {
    fn is_object(&self, address: u64) -> bool {
        self.start(address).is_some_and(|(i, _, _)| !self.is_free_at(i, address))
    }

    fn last_start_at_or_above(&self, p: u64, floor: u64) -> Option<u64> {
        // Spans in increasing address order; a span wholly below `floor` ends the search.
        let mut i = self.spans.partition_point(|s| s.start <= p).checked_sub(1)?;
        loop {
            let s = self.spans.get(i)?;
            if s.limit <= floor {
                return None;
            }
            let top = (p.min(s.limit - 1) - s.start) / GRAIN;
            let mut w = (top / 64) as usize;
            let mut mask = if top % 64 == 63 { u64::MAX } else { (1u64 << (top % 64 + 1)) - 1 };
            loop {
                if w >= s.len {
                    return None;
                }
                let found = self.words.get(2 * (s.offset + w))?.load(Ordering::Relaxed) & mask;
                if found != 0 {
                    let bit = w as u64 * 64 + 63 - found.leading_zeros() as u64;
                    let a = s.start + bit * GRAIN;
                    return (a >= floor).then_some(a);
                }
                if w == 0 || s.start + (w as u64) * WORD_BYTES <= floor {
                    break;
                }
                w -= 1;
                mask = u64::MAX;
            }
            i = i.checked_sub(1)?;
        }
    }
}

/// A span of [`LiveMarks`]: a bitmap from `start`, `len` words at `offset`.
#[derive(Debug, Clone, Copy)]
struct MarkSpan {
    start: u64,
    limit: u64,
    offset: usize,
    len: usize,
}

/// One type's live objects as marking counts them.
#[derive(Debug, Clone, Copy)]
struct Tally {
    count: u64,
    bytes: u64,
    /// The lowest address among them.
    first: u64,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally { count: 0, bytes: 0, first: u64::MAX }
    }
}

/// The live objects per MethodTable, counted while they were marked: what `dumpheap
/// -live -stat` prints, without a second walk of the heap.
#[derive(Debug, Clone)]
pub struct LiveTypes {
    /// (MethodTable, live objects, their bytes as the walk sizes them), in the order a
    /// walk of the whole heap meets the types' first live objects.
    pub rows: Vec<(u64, u64, u64)>,
}

/// The live objects, one bit per object start (see [`ObjectBits`]).
pub struct LiveMarks {
    spans: Vec<MarkSpan>,
    bits: Vec<u64>,
    count: usize,
    /// Per type, when marked in this session ([`ObjectBits::mark`]).
    types: Option<LiveTypes>,
}

impl LiveMarks {
    /// Whether the object at `address` is live; `hint` remembers the span of the last
    /// address asked (a walk asks in increasing order).
    #[inline]
    pub fn is_live_from(&self, address: u64, hint: &mut usize) -> bool {
        if address % GRAIN != 0 {
            return false;
        }
        let s = match self.spans.get(*hint) {
            Some(s) if address >= s.start && address < s.limit => s,
            _ => {
                let Some(i) = self.spans.partition_point(|s| s.start <= address).checked_sub(1) else {
                    return false;
                };
                *hint = i;
                match self.spans.get(i) {
                    Some(s) if address < s.limit => s,
                    _ => return false,
                }
            }
        };
        let bit = (address - s.start) / GRAIN;
        let w = (bit / 64) as usize;
        w < s.len && self.bits.get(s.offset + w).is_some_and(|x| x & (1 << (bit % 64)) != 0)
    }

    /// Number of live objects.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The live objects per type, when this session marked them.
    pub fn types(&self) -> Option<&LiveTypes> {
        self.types.as_ref()
    }
}

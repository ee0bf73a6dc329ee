//! One pass over the object table for what the analyses read object by object: every
//! string's text hashed (duplicate strings), every recognised collection read (unbounded
//! and empty collections), every delegate's invocation count (event subscriptions).
//!
//! None of it needs liveness or dominators, so [`super::Context::new`] runs it while the
//! dominator tree is computed: the pass is cut into blocks of object ids that any thread
//! claims ([`Scan::help`]), the incoming edges' side once those are built, the tree's
//! side once it is done. Dead objects are scanned too (a big heap is mostly live) and
//! dropped by the patterns once liveness is known; what is kept is only what can make a
//! finding: strings whose text hash is shared, collections with many entries or unused
//! storage, delegates with long invocation lists.
use super::collections::{Collection, Layout};
use super::{Objects, patterns};
use crate::graph::ObjectId;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A lock's guard, also when a thread panicked holding it (what it guards stays whole:
/// each is set or taken in one step).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A string's key: the 128-bit hash of its text (high, low half) and its id.
pub type Key = (u64, u64, ObjectId);

/// Object ids per block claimed.
const BLOCK: usize = 1 << 14;
/// The strings' keys are sorted in buckets by the hash's top bits (each bucket alone,
/// claimed as blocks are), once every block is scanned.
const BUCKET_BITS: u32 = 8;
const BUCKETS: usize = 1 << BUCKET_BITS;
/// Strings and collections whose memory is asked for this many objects ahead of the one
/// read (see [`crate::dump::AddressSpace::prefetch`]).
const AHEAD: usize = 16;

/// What a type's objects are read for (bits).
const STRING: u8 = 1;
const COLLECTION: u8 = 2;
const DELEGATE: u8 = 4;

/// A collection whose storage array is empty or mostly unused.
#[derive(Debug, Clone, Copy)]
pub struct Unused {
    pub id: ObjectId,
    /// No entry at all (else fewer than a quarter of its room used).
    pub empty: bool,
    /// The storage's bytes not used.
    pub bytes: u64,
}

/// What the pass found, in id order (strings: by key), dead objects included.
#[derive(Default)]
pub struct Scanned {
    /// Keys of the strings whose hash another string shares, sorted.
    pub strings: Vec<Key>,
    /// Collections with many entries ([`patterns::many_entries`]).
    pub large: Vec<(ObjectId, Collection)>,
    /// Collections with storage unused ([`patterns::unused_storage`]).
    pub unused: Vec<Unused>,
    /// Delegates with long invocation lists ([`patterns::long_invocation_list`]).
    pub delegates: Vec<ObjectId>,
}

/// One block's findings; its string keys grouped by bucket.
#[derive(Default)]
struct Block {
    keys: Vec<Key>,
    /// Where each bucket's keys start in `keys` (and where the last ends).
    bounds: Vec<u32>,
    large: Vec<(ObjectId, Collection)>,
    unused: Vec<Unused>,
    delegates: Vec<ObjectId>,
}

/// The pass in progress: blocks and buckets claimed by whichever thread helps.
pub struct Scan<'a, 's> {
    objects: &'a Objects<'s>,
    /// Per type index: what its objects are read for.
    kinds: Vec<u8>,
    /// Per type index: where a collection keeps its count and storage.
    layouts: Vec<Option<Layout>>,
    blocks: usize,
    next_block: AtomicUsize,
    blocks_done: AtomicUsize,
    done: Vec<Mutex<Option<Block>>>,
    next_bucket: AtomicUsize,
    buckets_done: AtomicUsize,
    buckets: Vec<Mutex<Option<Vec<Key>>>>,
    /// The findings put together by the thread that sorted the last bucket.
    result: Mutex<Option<Scanned>>,
}

impl<'a, 's> Scan<'a, 's> {
    pub fn new(objects: &'a Objects<'s>) -> Scan<'a, 's> {
        let types = objects.graph.types().len();
        let kinds = (0..types)
            .map(|t| {
                let f = objects.type_facts(t);
                (if f.string { STRING } else { 0 })
                    | (if f.collection.is_some() { COLLECTION } else { 0 })
                    | (if f.delegate { DELEGATE } else { 0 })
            })
            .collect();
        let layouts = (0..types).map(|t| Layout::of(objects, t)).collect();
        let blocks = objects.graph.len().div_ceil(BLOCK);
        Scan {
            objects,
            kinds,
            layouts,
            blocks,
            next_block: AtomicUsize::new(0),
            blocks_done: AtomicUsize::new(0),
            done: (0..blocks).map(|_| Mutex::new(None)).collect(),
            next_bucket: AtomicUsize::new(0),
            buckets_done: AtomicUsize::new(0),
            buckets: (0..BUCKETS).map(|_| Mutex::new(None)).collect(),
            result: Mutex::new(None),
        }
    }

    /// Scans blocks until none is left unclaimed; then, once every block is done (another
    /// thread's last one waited for), sorts buckets until none is left; the thread that
    /// sorts the last one puts the findings
    /// together (the blocks' keys freed). Sequential: a thread busy with other work (the
    /// dominator tree) is never held up by the pass, only the threads that call this.
    pub fn help(&self) {
        /// Counts a claimed block as done when it is left, also by a panic (so that no
        /// thread waits for it below).
        struct Done<'c>(&'c AtomicUsize);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::AcqRel);
            }
        }
        loop {
            let b = self.next_block.fetch_add(1, Ordering::Relaxed);
            if b >= self.blocks {
                break;
            }
            let _done = Done(&self.blocks_done);
            let block = self.block(b);
            *lock(&self.done[b]) = Some(block);
        }
        // Another thread still scans its last block (a block's time at most): wait for
        // it, then sort buckets beside it rather than leave them all to it.
        while self.blocks_done.load(Ordering::Acquire) < self.blocks {
            std::thread::yield_now();
        }
        loop {
            let k = self.next_bucket.fetch_add(1, Ordering::Relaxed);
            if k >= BUCKETS {
                break;
            }
            let keys = self.bucket(k);
            *lock(&self.buckets[k]) = Some(keys);
            if self.buckets_done.fetch_add(1, Ordering::AcqRel) + 1 == BUCKETS {
                let scanned = self.put_together();
                *lock(&self.result) = Some(scanned);
            }
        }
    }

    /// The findings, in order (what no thread did is done here).
    pub fn finish(self) -> Scanned {
        if let Some(scanned) = lock(&self.result).take() {
            return scanned;
        }
        for (b, d) in self.done.iter().enumerate() {
            let mut d = lock(d);
            if d.is_none() {
                *d = Some(self.block(b));
            }
        }
        for (k, keys) in self.buckets.iter().enumerate() {
            let mut keys = lock(keys);
            if keys.is_none() {
                *keys = Some(self.bucket(k));
            }
        }
        self.put_together()
    }

    /// Every bucket's keys and every block's lists, in order; the blocks emptied.
    fn put_together(&self) -> Scanned {
        let mut out = Scanned::default();
        for keys in &self.buckets {
            out.strings.extend(lock(keys).take().unwrap_or_default());
        }
        for d in &self.done {
            let block = lock(d).take().unwrap_or_default();
            out.large.extend(block.large);
            out.unused.extend(block.unused);
            out.delegates.extend(block.delegates);
        }
        out
    }

    fn block(&self, b: usize) -> Block {
        let mut out = Block::default();
        if crate::interrupt::cancelled() {
            return out;
        }
        let objects = self.objects;
        let (graph, heap) = (&objects.graph, objects.heap);
        let ids = (b * BLOCK) as ObjectId..((b + 1) * BLOCK).min(graph.len()) as ObjectId;
        // Without a branch on the kind (strings and collections come in no order the
        // processor can predict): every id is written at the end of both lists, and
        // each list's end moves past it only when it is of that kind.
        let (mut strings, mut collections) = (vec![0 as ObjectId; ids.len()], vec![0 as ObjectId; ids.len()]);
        let (mut ns, mut nc) = (0usize, 0usize);
        for (id, &t) in ids.clone().zip(graph.type_indices(ids)) {
            let kind = self.kinds.get(t as usize).copied().unwrap_or(0);
            if let (Some(s), Some(c)) = (strings.get_mut(ns), collections.get_mut(nc)) {
                (*s, *c) = (id, id);
            }
            ns += (kind & STRING != 0) as usize;
            nc += (kind & COLLECTION != 0) as usize;
            if kind & DELEGATE != 0 && patterns::long_invocation_list(objects, id) {
                out.delegates.push(id);
            }
        }
        strings.truncate(ns);
        collections.truncate(nc);
        // Texts: each string's start asked for some strings ahead of the one hashed (the
        // scan waits on memory, not on work; the loads then overlap).
        for &id in strings.iter().take(AHEAD) {
            heap.space().prefetch(graph.address(id));
        }
        let mut keys = Vec::with_capacity(strings.len());
        for (k, &id) in strings.iter().enumerate() {
            if let Some(&next) = strings.get(k + AHEAD) {
                heap.space().prefetch(graph.address(next));
            }
            if let Some((hi, lo)) = super::strings::text_hash(objects, id) {
                keys.push((hi, lo, id));
            }
        }
        (out.keys, out.bounds) = by_bucket(keys);
        // Collections: the object asked for ahead, then its storage array's header
        // (its length) half as far ahead, when read as a layout.
        let layout = |id: ObjectId| self.layouts.get(graph.type_index(id)).and_then(|l| l.as_ref());
        for &id in collections.iter().take(AHEAD) {
            heap.space().prefetch(graph.address(id));
        }
        for (k, &id) in collections.iter().enumerate() {
            if let Some(&next) = collections.get(k + AHEAD) {
                heap.space().prefetch(graph.address(next));
            }
            if let Some(&soon) = collections.get(k + AHEAD / 2)
                && let Some(l) = layout(soon)
                && let Some(storage) = l.storage_address(objects, soon)
            {
                heap.space().prefetch(storage.wrapping_add(8));
            }
            let c = match layout(id) {
                Some(l) => l.read_kept(objects, id, patterns::may_be_kept),
                None => super::collections::read(objects, id),
            };
            let Some(c) = c else { continue };
            if let Some((empty, bytes)) = patterns::unused_storage(graph, &c) {
                out.unused.push(Unused { id, empty, bytes });
            }
            if patterns::many_entries(&c) {
                out.large.push((id, c));
            }
        }
        out
    }

    /// Bucket `k`'s keys from every block, sorted, those of a hash seen once dropped.
    fn bucket(&self, k: usize) -> Vec<Key> {
        // Counted first: one allocation of the bucket's size, not one per doubling.
        let len: usize = self
            .done
            .iter()
            .filter_map(|d| {
                let block = lock(d);
                let b = block.as_ref()?;
                Some(b.bounds.get(k + 1)?.saturating_sub(*b.bounds.get(k)?) as usize)
            })
            .sum();
        let mut keys: Vec<Key> = Vec::with_capacity(len);
        for d in &self.done {
            if let Some(block) = lock(d).as_ref()
                && let (Some(&from), Some(&to)) = (block.bounds.get(k), block.bounds.get(k + 1))
            {
                keys.extend_from_slice(&block.keys[from as usize..to as usize]);
            }
        }
        only_repeated_highs(&mut keys);
        keys.sort_unstable();
        shared(&keys)
    }
}

/// Drops the keys whose hash's high half no other key shares (most strings' text is
/// their own): they cannot be in [`shared`]'s answer, and what is left to sort is then
/// the duplicates. Counted in an open-addressing table on the high half (a hash already:
/// its low bits spread), in the order the keys come.
fn only_repeated_highs(keys: &mut Vec<Key>) {
    if keys.len() < 64 {
        return;
    }
    let slots = (keys.len() * 2).next_power_of_two();
    let mask = slots - 1;
    // (high half, keys with it); 0 keys: empty.
    let mut table: Vec<(u64, u32)> = vec![(0, 0); slots];
    let slot_of = |table: &[(u64, u32)], hi: u64| {
        let mut i = hi as usize & mask;
        while table[i].1 != 0 && table[i].0 != hi {
            i = (i + 1) & mask;
        }
        i
    };
    for k in keys.iter() {
        let i = slot_of(&table, k.0);
        table[i] = (k.0, table[i].1.saturating_add(1));
    }
    keys.retain(|k| table[slot_of(&table, k.0)].1 > 1);
}

/// `keys` grouped by bucket (a counting sort on the hash's top bits), with where each
/// bucket starts (and the last ends).
fn by_bucket(keys: Vec<Key>) -> (Vec<Key>, Vec<u32>) {
    let bucket = |k: &Key| (k.0 >> (64 - BUCKET_BITS)) as usize;
    let mut bounds = vec![0u32; BUCKETS + 1];
    for k in &keys {
        bounds[bucket(k) + 1] += 1;
    }
    for i in 0..BUCKETS {
        bounds[i + 1] += bounds[i];
    }
    let mut fill = bounds.clone();
    let mut sorted = vec![(0, 0, 0); keys.len()];
    for k in keys {
        let at = &mut fill[bucket(&k)];
        sorted[*at as usize] = k;
        *at += 1;
    }
    (sorted, bounds)
}

/// The keys of sorted `keys` whose hash another key shares.
fn shared(keys: &[Key]) -> Vec<Key> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i + 1;
        while j < keys.len() && keys[j].0 == keys[i].0 && keys[j].1 == keys[i].1 {
            j += 1;
        }
        if j - i > 1 {
            out.extend_from_slice(&keys[i..j]);
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bucketed per block, each bucket sorted alone and its shared hashes kept, then the
    /// buckets in order: the same keys as one sort of them all.
    #[test]
    fn buckets_give_what_one_sort_gives() {
        let mut rng = crate::test_rng::XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next();
        for round in 0..20 {
            // Few distinct hashes (many shared), some sharing the high half only, spread
            // over every bucket; ids in increasing order per block as a scan gives them.
            let highs: Vec<u64> = (0..20 + round * 10).map(|_| next()).collect();
            let texts: Vec<(u64, u64)> =
                (0..50 + round * 30).map(|_| (highs[(next() % highs.len() as u64) as usize], next() % 5)).collect();
            let mut all: Vec<Key> = Vec::new();
            let mut blocks = Vec::new();
            let mut id = 0;
            for _ in 0..7 {
                let mut keys = Vec::new();
                for _ in 0..next() % 400 {
                    // One in three a text of its own.
                    let (hi, lo) = match next() % 3 {
                        0 => (next(), next()),
                        _ => texts[(next() % texts.len() as u64) as usize],
                    };
                    keys.push((hi, lo, id));
                    id += 1;
                }
                all.extend_from_slice(&keys);
                blocks.push(by_bucket(keys));
            }
            let mut got = Vec::new();
            for k in 0..BUCKETS {
                let mut keys: Vec<Key> = Vec::new();
                for (b, bounds) in &blocks {
                    keys.extend_from_slice(&b[bounds[k] as usize..bounds[k + 1] as usize]);
                }
                keys.sort_unstable();
                got.extend(shared(&keys));
            }
            // Counted apart, sorted.
            let mut count = std::collections::HashMap::new();
            for k in &all {
                *count.entry((k.0, k.1)).or_insert(0) += 1;
            }
            let mut want: Vec<Key> = all.iter().copied().filter(|k| count[&(k.0, k.1)] > 1).collect();
            want.sort_unstable();
            assert_eq!(got, want, "round {round}");
            assert!(got.len() > 1 && got.len() < all.len(), "round {round}: a test of nothing");
            // Kept apart by the filter on the high half: what one sort of them all keeps.
            let mut filtered = all.clone();
            only_repeated_highs(&mut filtered);
            filtered.sort_unstable();
            assert_eq!(shared(&filtered), want, "round {round}: filtered");
        }
    }
}

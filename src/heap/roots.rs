//! GC roots that the runtime keeps outside the heap: the handle table, the finalizer
//! queue's f-reachable objects, and (9, 10) each thread's thread-static array, which the
//! GC reports without a handle. (Stack roots come from threads; they share the [`Root`]
//! type, see [`RootKind::Stack`].)
//!
//! **Handle table** (gc-layouts.md §9). `HandleTableMap { buckets, next, max_index }`
//! holds buckets; a bucket holds one `HandleTable*` per *slot* (one per processor under
//! server GC, not one per active heap); a table holds a list of 64 KB `TableSegment`s.
//! A segment's header has a type byte per block (`rgBlockType`, 0xff = free) and a
//! user-data block index per block (`rgUserData`); its handles are 120 blocks of 64
//! slots from +0x1000. A handle is in use when its slot is non-null. A dependent
//! handle's secondary object (and a weak interior pointer's pointer, a variable
//! handle's type) is the "extra info" in the same position of the block's user-data block.
//!
//! Every slot is read, not only the `n_heaps` active ones: under DATAS the heap count
//! shrinks but handles stay in the tables of inactive heaps (dotnet-dump misses them).
//! A slot's table is believed only when its segments point back at it.
//!
//! Each map, bucket, table and segment is read once: a map chain that loops, buckets or
//! slots that name one another's tables, would otherwise count the same handles again
//! (and a small forged map, billions of times). Repeats are skipped with a warning, so
//! the handles found are at most what the segments read can hold.
//!
//! Handles are listed as the DAC lists them: table by table (bucket, then slot), and in
//! each table type by type in numeric order, then by segment, block and slot.
//!
//! **Finalizer queue** (gc-layouts.md §8). Each heap's `CFinalize` has 7 fill pointers;
//! `[fp[4], fp[6])` holds the objects ready for finalization (f-reachable), which are roots.
use super::Heap;
use anyhow::{Context, Result, bail};
use rustc_hash::FxHashSet;
use std::fmt;

/// `HandleTableMap`: buckets +0, next map +8, `dwMaxIndex` +16; 10 buckets per map.
const MAP_BUCKETS: u64 = 0;
const MAP_NEXT: u64 = 8;
const BUCKETS_PER_MAP: u64 = 10;
/// At most this many chained maps (one per 10 AppDomains' worth of buckets).
const MAX_MAPS: usize = 64;
/// At most this many slots per bucket (one per processor).
const MAX_SLOTS: u64 = 1024;
/// At most this many segments per table (each holds 7,680 handles).
const MAX_SEGMENTS: usize = 1 << 16;

// TableSegment layout (packed header; same on 8, 9, 10 up to rgUserData).
const SEG_BLOCK_TYPES: u64 = 1560;
const SEG_USER_DATA: u64 = 1680;
const SEG_HANDLES: u64 = 0x1000;
const BLOCKS_PER_SEGMENT: u64 = 120;
const HANDLES_PER_BLOCK: u64 = 64;
const BLOCK_FREE: u8 = 0xff;
/// Public handle types are 0..=11 (HNDTYPE_*).
const MAX_HANDLE_TYPE: u8 = 11;

/// Variable handles keep their current type in the extra info (`VHT_*`).
const VHT_WEAK_SHORT: u64 = 0x100;
const VHT_WEAK_LONG: u64 = 0x200;
const VHT_STRONG: u64 = 0x400;
const VHT_PINNED: u64 = 0x800;

/// CFinalize: 7 fill pointers from +0.
const FILL_POINTERS: usize = 7;
/// f-reachable objects: `[fp[4], fp[6])`.
const FREACHABLE_FIRST: usize = 4;
const FREACHABLE_END: usize = 6;
/// More queue entries than this in one heap is a damaged queue.
const MAX_QUEUE_ENTRIES: u64 = 1 << 28;

/// Most entries of one heap's finalization queue listed whole (`finalizequeue`).
const MAX_LISTED_QUEUE_ENTRIES: u64 = 1 << 24;

/// One heap's finalization queue (`CFinalize`): one array of object references split by
/// 7 fill pointers (gc-layouts.md §8): generation 2's objects in `[fp0, fp1)`, 1's in
/// `[fp1, fp2)`, 0's in `[fp2, fp3)`, then the f-reachable objects, ready for
/// finalization, in `[fp4, fp6)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalizeQueue {
    /// The heap's index.
    pub heap: usize,
    pub fill_pointers: [u64; FILL_POINTERS],
}

impl FinalizeQueue {
    /// `[begin, end)` of generation `generation`'s (0, 1, 2) registered objects; empty
    /// (0, 0) when the fill pointers are out of order.
    pub fn generation(&self, generation: usize) -> (u64, u64) {
        let fp = &self.fill_pointers;
        let (a, b) = match generation {
            0 => (fp[2], fp[3]),
            1 => (fp[1], fp[2]),
            _ => (fp[0], fp[1]),
        };
        if a <= b { (a, b) } else { (0, 0) }
    }

    /// `[begin, end)` of the objects ready for finalization (f-reachable).
    pub fn ready(&self) -> (u64, u64) {
        (self.fill_pointers[FREACHABLE_FIRST], self.fill_pointers[FREACHABLE_END])
    }

    /// Whether the queue slot `slot` holds an object ready for finalization.
    pub fn is_ready_slot(&self, slot: u64) -> bool {
        let (a, b) = self.ready();
        slot >= a && slot < b
    }
}

/// A GC handle's type (`HNDTYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HandleKind {
    WeakShort,
    WeakLong,
    Strong,
    Pinned,
    Variable,
    RefCounted,
    Dependent,
    AsyncPinned,
    SizedRef,
    WeakNativeCom,
    /// .NET 9+: a weak handle whose extra info is a pointer the GC updates.
    WeakInteriorPointer,
    CrossReference,
}

impl HandleKind {
    pub fn from_raw(t: u8) -> Option<HandleKind> {
        use HandleKind::*;
        Some(match t {
            0 => WeakShort,
            1 => WeakLong,
            2 => Strong,
            3 => Pinned,
            4 => Variable,
            5 => RefCounted,
            6 => Dependent,
            7 => AsyncPinned,
            8 => SizedRef,
            9 => WeakNativeCom,
            10 => WeakInteriorPointer,
            11 => CrossReference,
            _ => return None,
        })
    }

    pub fn raw(self) -> u8 {
        self as u8
    }

    /// The name ClrMD gives the kind (`ClrHandleKind`); kinds it does not know print as
    /// their number, as in the oracle's `handles.tsv`.
    pub fn clrmd_name(self) -> String {
        use HandleKind::*;
        match self {
            WeakShort => "WeakShort".into(),
            WeakLong => "WeakLong".into(),
            Strong => "Strong".into(),
            Pinned => "Pinned".into(),
            RefCounted => "RefCounted".into(),
            Dependent => "Dependent".into(),
            AsyncPinned => "AsyncPinned".into(),
            SizedRef => "SizedRef".into(),
            WeakNativeCom => "WeakWinRT".into(),
            other => other.raw().to_string(),
        }
    }
}

impl fmt::Display for HandleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// One GC handle in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    /// The handle's address (`*address == object`).
    pub address: u64,
    pub kind: HandleKind,
    pub object: u64,
    /// The extra info: a dependent handle's secondary object, a weak interior pointer's
    /// pointer, a variable handle's current type; 0 when none.
    pub extra: u64,
    /// The handle table slot (heap) the handle lives in.
    pub slot: u32,
}

impl Handle {
    /// A dependent handle's secondary object.
    pub fn dependent(&self) -> Option<u64> {
        (self.kind == HandleKind::Dependent && self.extra != 0).then_some(self.extra)
    }

    /// Whether the handle keeps its object alive, as the GC sees it. Ref-counted handles
    /// are strong while their count is above 0; the count lives with the COM wrapper and
    /// is not read, so they are taken as strong.
    pub fn is_strong(&self) -> bool {
        use HandleKind::*;
        match self.kind {
            Strong | Pinned | AsyncPinned | SizedRef | RefCounted => true,
            Variable => matches!(self.extra, VHT_STRONG | VHT_PINNED),
            WeakShort | WeakLong | Dependent | WeakNativeCom | WeakInteriorPointer
            | CrossReference => false,
        }
    }

    /// Whether ClrMD (`ClrHandle.IsStrong`), and so dotnet-dump's `-live` and `gcroot`,
    /// count the handle as a root: everything but weak and dependent handles, which
    /// makes .NET 9+'s weak interior pointer handles roots.
    pub fn is_strong_for_sos(&self) -> bool {
        use HandleKind::*;
        match self.kind {
            WeakShort | WeakLong | Dependent | WeakNativeCom => false,
            Variable => !matches!(self.extra, VHT_WEAK_SHORT | VHT_WEAK_LONG),
            _ => true,
        }
    }
}

/// What holds a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    Handle(HandleKind),
    /// An object ready for finalization (f-reachable), in heap `heap`'s queue.
    FinalizerQueue {
        heap: usize,
    },
    /// A slot on a thread's stack, or one of its registers (`address` 0, `register` set).
    /// `conservative`: found by scanning the stack for words that look like object
    /// addresses, so it may be stale.
    Stack {
        os_thread_id: u32,
        register: Option<u8>,
        conservative: bool,
    },
    /// A thread's thread-static storage: the `Object[]` of its `[ThreadStatic]` fields
    /// (one entry per type), reported by the GC for each live thread (9, 10). `address`
    /// is the slot in the thread's `ThreadLocalData`. dotnet-dump and ClrMD do not know
    /// this root.
    ThreadStatic {
        os_thread_id: u32,
    },
}

/// A root: something outside the heap that keeps `object` alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Root {
    pub kind: RootKind,
    /// Where the reference is: the handle, the queue entry, the stack slot.
    pub address: u64,
    pub object: u64,
    pub pinned: bool,
}

impl Heap {
    /// Every handle in use, in the DAC's order.
    pub fn handles(&self) -> Result<Vec<Handle>> {
        let space = self.space();
        let layout = self.runtime.layout.handle_table;
        let mut tables = Vec::new();
        let mut map = self.runtime.gc.handle_table_map;
        let mut maps = 0;
        // Everything read once: maps, bucket arrays, buckets, slot arrays, tables, segments.
        let mut seen: FxHashSet<u64> = FxHashSet::default();
        let mut segments_seen: FxHashSet<u64> = FxHashSet::default();
        let repeated = |what: &str, addr: u64| {
            self.warnings().warn(format!(
                "the handle table map names the {what} at {addr:#x} more than once; its handles are counted once"
            ));
        };
        while map != 0 {
            maps += 1;
            if maps > MAX_MAPS {
                bail!("the handle table map chain does not end");
            }
            if !seen.insert(map) {
                repeated("map", map);
                break;
            }
            let buckets = space
                .read_ptr(map.wrapping_add(MAP_BUCKETS))
                .context("cannot read the handle table map")?;
            if !seen.insert(buckets) {
                repeated("bucket array", buckets);
                map = space.read_ptr(map.wrapping_add(MAP_NEXT)).unwrap_or(0);
                continue;
            }
            for b in 0..BUCKETS_PER_MAP {
                let bucket = match space.read_ptr(buckets.wrapping_add(8 * b)) {
                    Ok(0) | Err(_) => continue,
                    Ok(p) => p,
                };
                if !seen.insert(bucket) {
                    repeated("bucket", bucket);
                    continue;
                }
                let Ok(slots) = space.read_ptr(bucket) else {
                    continue;
                };
                if !seen.insert(slots) {
                    repeated("slot array", slots);
                    continue;
                }
                for slot in 0..MAX_SLOTS {
                    let table = match space.read_ptr(slots.wrapping_add(8 * slot)) {
                        Ok(0) | Err(_) => break,
                        Ok(t) => t,
                    };
                    if !seen.insert(table) {
                        repeated("handle table", table);
                        continue;
                    }
                    match self.table_segments(table) {
                        Some(segs) => {
                            let fresh: Vec<u64> = segs
                                .into_iter()
                                .filter(|&s| segments_seen.insert(s))
                                .collect();
                            tables.push((slot as u32, fresh));
                        }
                        None => break,
                    }
                }
            }
            map = space.read_ptr(map.wrapping_add(MAP_NEXT)).unwrap_or(0);
        }
        let mut handles = Vec::new();
        for (slot, segments) in &tables {
            let headers: Vec<(u64, [u8; 120], [u8; 120])> = segments
                .iter()
                .filter_map(|&s| {
                    let types = space.read_array::<120>(s + SEG_BLOCK_TYPES).ok()?;
                    let user = space.read_array::<120>(s + SEG_USER_DATA).ok()?;
                    Some((s, types, user))
                })
                .collect();
            for t in 0..=MAX_HANDLE_TYPE {
                if t == layout.data_block_type {
                    continue;
                }
                let Some(kind) = HandleKind::from_raw(t) else {
                    continue;
                };
                for (seg, types, user) in &headers {
                    for block in 0..BLOCKS_PER_SEGMENT as usize {
                        if types[block] != t {
                            continue;
                        }
                        let base = seg + SEG_HANDLES + block as u64 * HANDLES_PER_BLOCK * 8;
                        let Ok(values) = space.read_vec(base, (HANDLES_PER_BLOCK * 8) as usize)
                        else {
                            continue;
                        };
                        let data_block = user[block];
                        let extras = if data_block != BLOCK_FREE
                            && (data_block as u64) < BLOCKS_PER_SEGMENT
                        {
                            let at = seg + SEG_HANDLES + data_block as u64 * HANDLES_PER_BLOCK * 8;
                            space.read_vec(at, (HANDLES_PER_BLOCK * 8) as usize).ok()
                        } else {
                            None
                        };
                        for i in 0..HANDLES_PER_BLOCK as usize {
                            let object = word(&values, i);
                            if object == 0 {
                                continue;
                            }
                            handles.push(Handle {
                                address: base + 8 * i as u64,
                                kind,
                                object,
                                extra: extras.as_deref().map_or(0, |e| word(e, i)),
                                slot: *slot,
                            });
                        }
                    }
                }
            }
        }
        Ok(handles)
    }

    /// The segments of a handle table, or `None` when `table` does not look like one
    /// (no segments, or a segment that does not point back at it).
    fn table_segments(&self, table: u64) -> Option<Vec<u64>> {
        let space = self.space();
        let layout = self.runtime.layout.handle_table;
        let mut seg = space.read_ptr(table.wrapping_add(layout.segment_list)).ok()?;
        let mut segs = Vec::new();
        let mut seen = FxHashSet::default();
        while seg != 0 {
            if segs.len() >= MAX_SEGMENTS || seg & 0xffff != 0 || !seen.insert(seg) {
                return None;
            }
            if space.read_ptr(seg.wrapping_add(layout.segment_next + 8)).ok()? != table {
                return None;
            }
            segs.push(seg);
            seg = space.read_ptr(seg.wrapping_add(layout.segment_next)).ok()?;
        }
        (!segs.is_empty()).then_some(segs)
    }

    /// Every heap's finalization queue (heaps without one left out). A queue whose fill
    /// pointers are out of order or span more than 2^24 entries is damage.
    pub fn finalize_queues(&self) -> Result<Vec<FinalizeQueue>> {
        let space = self.space();
        let mut queues = Vec::new();
        for h in &self.heaps {
            if h.finalize_queue == 0 {
                continue;
            }
            let mut fp = [0u64; FILL_POINTERS];
            for (k, p) in fp.iter_mut().enumerate() {
                *p = space
                    .read_ptr(h.finalize_queue.wrapping_add(8 * k as u64))
                    .with_context(|| format!("cannot read heap {}'s finalizer queue", h.index))?;
            }
            let (first, end) = (fp[0], fp[FILL_POINTERS - 1]);
            if end < first || (end - first) / 8 > MAX_LISTED_QUEUE_ENTRIES {
                bail!("heap {}'s finalizer queue is damaged", h.index);
            }
            queues.push(FinalizeQueue { heap: h.index, fill_pointers: fp });
        }
        Ok(queues)
    }

    /// Every entry of a finalization queue, `[fp0, fp6)`: (slot, object).
    pub fn finalize_queue_entries(&self, queue: &FinalizeQueue) -> Result<Vec<(u64, u64)>> {
        let (first, end) = (queue.fill_pointers[0], queue.fill_pointers[FILL_POINTERS - 1]);
        let bytes = self.space().read_vec(first, end.saturating_sub(first) as usize)?;
        Ok(bytes
            .chunks_exact(8)
            .enumerate()
            .map(|(k, c)| (first.wrapping_add(8 * k as u64), u64::from_le_bytes(c.try_into().expect("8 bytes"))))
            .collect())
    }

    /// Every object registered for finalization (each heap's whole queue, `[fp[0],
    /// fp[6])`: the generations' registrations and the f-reachable objects). The GC keeps
    /// a registered object it finds unreachable, and what it references, for its finalizer.
    pub fn finalization_registered(&self) -> Result<Vec<u64>> {
        let space = self.space();
        let mut out = Vec::new();
        for heap in &self.heaps {
            if heap.finalize_queue == 0 {
                continue;
            }
            let first = space.read_ptr(heap.finalize_queue)?;
            let end = space.read_ptr(heap.finalize_queue.wrapping_add(8 * (FILL_POINTERS as u64 - 1)))?;
            if end < first || (end - first) / 8 > MAX_QUEUE_ENTRIES {
                bail!("heap {}'s finalizer queue is damaged ({first:#x}..{end:#x})", heap.index);
            }
            let entries = space.read_vec(first, (end - first) as usize)?;
            out.extend(entries.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).filter(|&o| o != 0));
        }
        Ok(out)
    }

    /// The f-reachable objects of every heap's finalizer queue, as roots.
    pub fn finalizer_roots(&self) -> Result<Vec<Root>> {
        let space = self.space();
        let mut roots = Vec::new();
        for heap in &self.heaps {
            if heap.finalize_queue == 0 {
                continue;
            }
            let mut fp = [0u64; FILL_POINTERS];
            for (i, p) in fp.iter_mut().enumerate() {
                *p = space
                    .read_ptr(heap.finalize_queue.wrapping_add(8 * i as u64))
                    .with_context(|| {
                        format!("cannot read heap {}'s finalizer queue", heap.index)
                    })?;
            }
            let (start, end) = (fp[FREACHABLE_FIRST], fp[FREACHABLE_END]);
            if end < start || (end - start) / 8 > MAX_QUEUE_ENTRIES {
                bail!(
                    "heap {}'s finalizer queue is damaged ({start:#x}..{end:#x})",
                    heap.index
                );
            }
            let entries = space.read_vec(start, (end - start) as usize)?;
            for (i, chunk) in entries.chunks_exact(8).enumerate() {
                let object = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
                if object != 0 {
                    roots.push(Root {
                        kind: RootKind::FinalizerQueue { heap: heap.index },
                        address: start + 8 * i as u64,
                        object,
                        pinned: false,
                    });
                }
            }
        }
        Ok(roots)
    }
}

impl Heap {
    /// Each live thread's thread-static array, as roots (none on .NET 8, whose thread
    /// statics are held by strong handles), and the problems met reading them.
    pub fn thread_static_roots(&self) -> (Vec<Root>, Vec<String>) {
        let (found, warnings) = crate::runtime::threads::thread_statics_roots(&self.runtime, &self.threads);
        let roots = found
            .into_iter()
            .map(|r| Root {
                kind: RootKind::ThreadStatic { os_thread_id: r.os_thread_id },
                address: r.slot,
                object: r.object,
                pinned: false,
            })
            .collect();
        (roots, warnings)
    }
}

fn word(bytes: &[u8], i: usize) -> u64 {
    bytes
        .get(i * 8..i * 8 + 8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// The handles that are roots, under the GC's rules (`sos_compatible` false) or
/// dotnet-dump's (`true`: weak interior pointer handles count as strong).
pub fn handle_roots(handles: &[Handle], sos_compatible: bool) -> Vec<Root> {
    handles
        .iter()
        .filter(|h| {
            if sos_compatible {
                h.is_strong_for_sos()
            } else {
                h.is_strong()
            }
        })
        .map(|h| Root {
            kind: RootKind::Handle(h.kind),
            address: h.address,
            object: h.object,
            pinned: matches!(h.kind, HandleKind::Pinned | HandleKind::AsyncPinned)
                || (h.kind == HandleKind::Variable && h.extra == VHT_PINNED),
        })
        .collect()
}

//! The object walk: every object of a segment, in address order.
//!
//! An object is `[sync block header][MethodTable*][fields...]`; its size comes from its
//! MethodTable and, for strings and arrays, the element count at `object + 8`. Objects
//! follow each other at 8-byte-aligned sizes, except where a thread's allocation context
//! leaves an unparsed window: reaching an `alloc_ptr` jumps to `alloc_limit` plus the
//! minimum object size (not on the large and frozen heaps, as in SOS). A damaged object
//! (unreadable or implausible MethodTable, size past the segment) ends that segment's
//! walk with a warning, as SOS does; the rest of the heap is still walked.
use super::types::{MIN_OBJECT_SIZE, MtSize, align_object};
use super::{Heap, Segment, SegmentKind};
use rustc_hash::FxHashMap;
use std::fmt;

/// Largest BaseSize a real MethodTable has.
const MAX_BASE_SIZE: u32 = 0x1000_0000;
/// How far ahead of the object being read a walk asks for memory.
const PREFETCH_AHEAD: u64 = 1024;

/// The MethodTables seen so far in a walk (shared across the segments one caller walks),
/// numbered in first-seen order: a walk's [`HeapObject::type_index`] indexes them, so a
/// caller can count per type in a plain `Vec` instead of hashing every object's MT.
pub struct SizeCache {
    index: FxHashMap<u64, u32>,
    types: Vec<(u64, MtSize)>,
    /// A direct-mapped cache in front of `index`: (MethodTable, type index + 1) by a few
    /// bits of the address. Neighbouring objects cycle through a handful of types, so most
    /// lookups end here instead of probing the hash table (a fifth of a walk's time).
    recent: [(u64, u32); RECENT_SLOTS],
}

const RECENT_SLOTS: usize = 64;

impl Default for SizeCache {
    fn default() -> SizeCache {
        SizeCache {
            index: FxHashMap::default(),
            types: Vec::new(),
            recent: [(0, 0); RECENT_SLOTS],
        }
    }
}

#[inline]
fn recent_slot(mt: u64) -> usize {
    ((mt >> 3) ^ (mt >> 9)) as usize % RECENT_SLOTS
}

impl SizeCache {
    /// The MethodTable with this walk-local type index.
    pub fn mt(&self, type_index: u32) -> Option<u64> {
        self.types.get(type_index as usize).map(|t| t.0)
    }

    /// Number of distinct MethodTables seen.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Whether the walk has met this MethodTable.
    pub fn knows(&self, mt: u64) -> bool {
        self.index.contains_key(&mt)
    }

    #[inline]
    fn get(&mut self, mt: u64) -> Option<(u32, MtSize)> {
        let slot = recent_slot(mt);
        let (cached, plus_one) = self.recent[slot];
        let i = if cached == mt && plus_one != 0 {
            plus_one - 1
        } else {
            let i = *self.index.get(&mt)?;
            self.recent[slot] = (mt, i + 1);
            i
        };
        Some((i, self.types[i as usize].1))
    }

    fn insert(&mut self, mt: u64, size: MtSize) -> u32 {
        let i = self.types.len() as u32;
        self.index.insert(mt, i);
        self.types.push((mt, size));
        self.recent[recent_slot(mt)] = (mt, i + 1);
        i
    }
}

/// One object on the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapObject {
    pub address: u64,
    pub mt: u64,
    /// Size as SOS reports it (not rounded up to the alignment).
    pub size: u64,
    /// The MethodTable's number in the walk's [`SizeCache`].
    pub type_index: u32,
}

/// Why a segment's walk stopped early.
#[derive(Debug, Clone)]
pub struct WalkWarning {
    pub segment: u64,
    pub address: u64,
    pub reason: String,
}

impl fmt::Display for WalkWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the walk of segment {:x} stopped at object {:x}: {}",
            self.segment, self.address, self.reason
        )
    }
}

/// Reads words of a segment from one captured slice when possible.
struct SegmentBytes<'a> {
    heap: &'a Heap,
    start: u64,
    bytes: Option<&'a [u8]>,
}

impl SegmentBytes<'_> {
    /// Asks the processor for the line at `addr` (a hint: nothing when outside the slice).
    #[inline]
    fn prefetch(&self, addr: u64) {
        if let Some(b) = self.bytes
            && let Some(byte) = addr.checked_sub(self.start).and_then(|off| b.get(off as usize))
        {
            crate::dump::prefetch(byte);
        }
    }

    #[inline]
    fn u64_at(&self, addr: u64) -> Option<u64> {
        if let Some(b) = self.bytes {
            let off = addr.checked_sub(self.start)? as usize;
            return b
                .get(off..off + 8)
                .map(|s| u64::from_le_bytes(s.try_into().expect("8")));
        }
        self.heap.space().read_u64(addr).ok()
    }

    #[inline]
    fn u32_at(&self, addr: u64) -> Option<u32> {
        if let Some(b) = self.bytes {
            let off = addr.checked_sub(self.start)? as usize;
            return b
                .get(off..off + 4)
                .map(|s| u32::from_le_bytes(s.try_into().expect("4")));
        }
        self.heap.space().read_u32(addr).ok()
    }
}

impl Heap {
    /// Calls `visit` for each object of `segment` in address order. Returns a warning
    /// when the walk could not reach the segment's end.
    ///
    /// Once Ctrl-C was pressed in the shell ([`crate::interrupt::cancelled`]) it visits
    /// nothing: a cancelled command's walk ends quickly, and the command then fails at its
    /// next write (callers that do not write should check `cancelled()` themselves).
    pub fn walk_segment(
        &self,
        segment: &Segment,
        sizes: &mut SizeCache,
        visit: impl FnMut(HeapObject),
    ) -> Option<WalkWarning> {
        let warning = self.walk_segment_unreported(segment, sizes, visit);
        if let Some(w) = &warning {
            self.warnings().warn(w.to_string());
        }
        warning
    }

    /// As [`Heap::walk_segment`], without reporting the warning to the dump's warnings:
    /// for a caller for which a damaged object is the answer (`verifyheap`), not a loss.
    pub fn walk_segment_unreported(
        &self,
        segment: &Segment,
        sizes: &mut SizeCache,
        mut visit: impl FnMut(HeapObject),
    ) -> Option<WalkWarning> {
        if crate::interrupt::cancelled() {
            return None;
        }
        let len = (segment.end - segment.start) as usize;
        let bytes = SegmentBytes {
            heap: self,
            start: segment.start,
            bytes: self.space().core_slice(segment.start, len),
        };
        // Allocation contexts inside this segment, in address order; the walk only moves
        // forward, so the next one to meet is always `contexts[next]`.
        let contexts: &[(u64, u64)] =
            if matches!(segment.kind, SegmentKind::Large | SegmentKind::Frozen) {
                &[]
            } else {
                let first = self.alloc_contexts.partition_point(|c| c.0 < segment.start);
                let last = self.alloc_contexts.partition_point(|c| c.0 < segment.end);
                &self.alloc_contexts[first..last]
            };
        let mut next = 0usize;
        let mt_mask = !self.runtime.layout.object.mt_unmask;
        let length_offset = self.runtime.layout.object.array_length;
        let mut last_mt = 0u64;
        let mut last_size = (
            0u32,
            MtSize {
                base_size: 0,
                component_size: 0,
            },
        );
        let warn = |address: u64, reason: String| {
            Some(WalkWarning {
                segment: segment.address,
                address,
                reason,
            })
        };
        let mut addr = segment.start;
        while addr < segment.end {
            while next < contexts.len() && contexts[next].0 < addr {
                next += 1;
            }
            if next < contexts.len() && contexts[next].0 == addr {
                // `Heap::open` cut every limit to its segment's end.
                addr = contexts[next].1.saturating_add(MIN_OBJECT_SIZE);
                next += 1;
                continue;
            }
            bytes.prefetch(addr.wrapping_add(PREFETCH_AHEAD));
            let Some(raw_mt) = bytes.u64_at(addr) else {
                return warn(addr, "its memory is not in the dump".into());
            };
            let mt = raw_mt & mt_mask;
            if mt == 0 {
                return warn(addr, "its MethodTable pointer is null".into());
            }
            let (type_index, size_info) = if mt == last_mt {
                last_size
            } else {
                let s = match sizes.get(mt) {
                    Some(s) => s,
                    None => match self.mt_size(mt) {
                        Ok(s) if (12..=MAX_BASE_SIZE).contains(&s.base_size) => {
                            (sizes.insert(mt, s), s)
                        }
                        Ok(s) => {
                            return warn(
                                addr,
                                format!(
                                    "MethodTable {mt:x} has an implausible size {}",
                                    s.base_size
                                ),
                            );
                        }
                        Err(_) => {
                            return warn(addr, format!("its MethodTable {mt:x} cannot be read"));
                        }
                    },
                };
                last_mt = mt;
                last_size = s;
                s
            };
            let count = if size_info.component_size != 0 {
                match bytes.u32_at(addr.wrapping_add(length_offset)) {
                    Some(c) => c,
                    None => return warn(addr, "its length is not in the dump".into()),
                }
            } else {
                0
            };
            let size = size_info.object_size(count);
            let next = addr.checked_add(align_object(size));
            let Some(next) = next.filter(|&n| n <= segment.end) else {
                return warn(
                    addr,
                    format!(
                        "its size {size} runs past the segment's end {:x}",
                        segment.end
                    ),
                );
            };
            visit(HeapObject {
                address: addr,
                mt,
                size,
                type_index,
            });
            addr = next;
        }
        None
    }

    /// Every object of the heap in SOS's order, with the warnings of damaged segments.
    pub fn objects(&self) -> (Vec<HeapObject>, Vec<WalkWarning>) {
        let mut objects = Vec::new();
        let mut warnings = Vec::new();
        let mut sizes = SizeCache::default();
        for seg in &self.segments {
            if let Some(w) = self.walk_segment(seg, &mut sizes, |o| objects.push(o)) {
                warnings.push(w);
            }
        }
        (objects, warnings)
    }
}

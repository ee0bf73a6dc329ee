//! Heap verification: the checks `verifyheap` and `verifyobj` make, as ClrMD's
//! `ClrHeap.VerifyHeap` reports them (dotnet-dump's `ObjectCorruptionKind` names).
//!
//! Every object the walk reaches is counted; a walk that stops early (unreadable or
//! implausible MethodTable, a size past the segment's end, memory the dump lacks) is one
//! corruption at the object where it stopped. Each object's reference slots (from its
//! GCDesc) must hold null or a pointer-aligned address of an object with a readable,
//! plausible MethodTable inside a segment's allocated range, and not a free object.
use super::types::align_object;
use super::{Heap, Segment, SizeCache};
use rustc_hash::FxHashMap;
use std::cell::RefCell;

/// What is wrong with an object (dotnet-dump's names for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorruptionKind {
    ObjectNotOnTheHeap,
    ObjectNotPointerAligned,
    ObjectTooLarge,
    InvalidMethodTable,
    ObjectReferenceNotPointerAligned,
    InvalidObjectReference,
    FreeObjectReference,
    CouldNotReadObject,
    CouldNotReadGCDesc,
}

impl CorruptionKind {
    /// The name dotnet-dump prints in its Failure column.
    pub fn name(self) -> &'static str {
        match self {
            CorruptionKind::ObjectNotOnTheHeap => "ObjectNotOnTheHeap",
            CorruptionKind::ObjectNotPointerAligned => "ObjectNotPointerAligned",
            CorruptionKind::ObjectTooLarge => "ObjectTooLarge",
            CorruptionKind::InvalidMethodTable => "InvalidMethodTable",
            CorruptionKind::ObjectReferenceNotPointerAligned => "ObjectReferenceNotPointerAligned",
            CorruptionKind::InvalidObjectReference => "InvalidObjectReference",
            CorruptionKind::FreeObjectReference => "FreeObjectReference",
            CorruptionKind::CouldNotReadObject => "CouldNotReadObject",
            CorruptionKind::CouldNotReadGCDesc => "CouldNotReadGCDesc",
        }
    }
}

/// One corruption found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    pub object: u64,
    pub kind: CorruptionKind,
    /// Offset of the bad slot from the object's start (reference failures), else 0.
    pub offset: u64,
    /// The object's size as far as it could be computed (0 when unknown).
    pub size: u64,
    /// The segment holding the object, and its heap.
    pub segment: Option<(usize, u64, u64)>,
}

/// The result of verifying a set of segments.
#[derive(Debug, Default)]
pub struct Verification {
    /// Objects the walk reached.
    pub objects: u64,
    pub corruptions: Vec<Corruption>,
}

/// Largest BaseSize a real MethodTable has (as the walk uses).
const MAX_BASE_SIZE: u32 = 0x1000_0000;

/// Verification state shared across one run: which MethodTables are plausible.
struct Checker<'a> {
    heap: &'a Heap,
    /// Segments sorted by start address.
    sorted: Vec<&'a Segment>,
    mt_ok: RefCell<FxHashMap<u64, bool>>,
}

impl<'a> Checker<'a> {
    fn new(heap: &'a Heap) -> Checker<'a> {
        let mut sorted: Vec<&Segment> = heap.segments.iter().collect();
        sorted.sort_by_key(|s| s.start);
        Checker { heap, sorted, mt_ok: RefCell::new(FxHashMap::default()) }
    }

    /// The segment whose allocated range holds `addr`.
    fn segment_of(&self, addr: u64) -> Option<&'a Segment> {
        let i = self.sorted.partition_point(|s| s.start <= addr);
        let s = *self.sorted.get(i.checked_sub(1)?)?;
        (addr < s.end).then_some(s)
    }

    fn plausible_mt(&self, mt: u64) -> bool {
        if mt == 0 {
            return false;
        }
        if let Some(&ok) = self.mt_ok.borrow().get(&mt) {
            return ok;
        }
        let ok = self
            .heap
            .mt_size(mt)
            .is_ok_and(|s| (12..=MAX_BASE_SIZE).contains(&s.base_size));
        self.mt_ok.borrow_mut().insert(mt, ok);
        ok
    }

    fn mt_at(&self, addr: u64) -> Option<u64> {
        let raw = self.heap.space().read_u64(addr).ok()?;
        Some(raw & !self.heap.runtime.layout.object.mt_unmask)
    }

    fn locate(&self, addr: u64) -> Option<(usize, u64, u64)> {
        self.segment_of(addr).map(|s| (s.heap, s.address, s.end))
    }

    fn corruption(&self, object: u64, kind: CorruptionKind, offset: u64, size: u64) -> Corruption {
        Corruption { object, kind, offset, size, segment: self.locate(object) }
    }

    /// The object's own checks (alignment, segment, MethodTable, size), then its
    /// references'. Returns the first corruption found.
    fn check_object(&self, addr: u64, refs: &mut Vec<(u64, u64)>) -> Option<Corruption> {
        if addr & 7 != 0 {
            return Some(self.corruption(addr, CorruptionKind::ObjectNotPointerAligned, 0, 0));
        }
        let Some(seg) = self.segment_of(addr) else {
            return Some(self.corruption(addr, CorruptionKind::ObjectNotOnTheHeap, 0, 0));
        };
        let Some(mt) = self.mt_at(addr) else {
            return Some(self.corruption(addr, CorruptionKind::CouldNotReadObject, 0, 0));
        };
        if !self.plausible_mt(mt) {
            return Some(self.corruption(addr, CorruptionKind::InvalidMethodTable, 0, 0));
        }
        let Ok(size_info) = self.heap.mt_size(mt) else {
            return Some(self.corruption(addr, CorruptionKind::InvalidMethodTable, 0, 0));
        };
        let count = if size_info.component_size != 0 {
            match self.heap.space().read_u32(addr.wrapping_add(self.heap.runtime.layout.object.array_length)) {
                Ok(c) => c,
                Err(_) => return Some(self.corruption(addr, CorruptionKind::CouldNotReadObject, 8, 0)),
            }
        } else {
            0
        };
        let size = size_info.object_size(count);
        if addr.checked_add(align_object(size)).is_none_or(|e| e > seg.end) {
            return Some(self.corruption(addr, CorruptionKind::ObjectTooLarge, 0, size));
        }
        self.check_references(addr, mt, size, refs)
    }

    /// Checks the reference slots of a well-formed object.
    fn check_references(&self, addr: u64, mt: u64, size: u64, refs: &mut Vec<(u64, u64)>) -> Option<Corruption> {
        let desc = match self.heap.gc_desc(mt) {
            Ok(Some(d)) => d,
            Ok(None) => return None,
            Err(_) => return Some(self.corruption(addr, CorruptionKind::CouldNotReadGCDesc, 0, size)),
        };
        refs.clear();
        let space = self.heap.space();
        let mut unreadable = None;
        desc.for_each_slot(size, |off| match space.read_u64(addr.wrapping_add(off)) {
            Ok(v) => refs.push((off, v)),
            Err(_) => {
                unreadable.get_or_insert(off);
            }
        });
        if let Some(off) = unreadable {
            return Some(self.corruption(addr, CorruptionKind::CouldNotReadObject, off, size));
        }
        let free_mt = self.heap.runtime.globals.free_mt;
        for &(off, target) in refs.iter() {
            if target == 0 {
                continue;
            }
            if target & 7 != 0 {
                return Some(self.corruption(addr, CorruptionKind::ObjectReferenceNotPointerAligned, off, size));
            }
            let valid = self.segment_of(target).is_some()
                && self.mt_at(target).is_some_and(|m| self.plausible_mt(m));
            if !valid {
                return Some(self.corruption(addr, CorruptionKind::InvalidObjectReference, off, size));
            }
            if self.mt_at(target) == Some(free_mt) {
                return Some(self.corruption(addr, CorruptionKind::FreeObjectReference, off, size));
            }
        }
        None
    }
}

impl Heap {
    /// Verifies the objects of the segments `keep` lets through (in SOS's segment order),
    /// restricted to `[start, end)` when given.
    pub fn verify(&self, keep: impl Fn(&Segment) -> bool, range: Option<(u64, u64)>) -> Verification {
        let checker = Checker::new(self);
        let mut result = Verification::default();
        let mut sizes = SizeCache::default();
        let mut refs = Vec::new();
        for seg in self.segments.iter().filter(|s| keep(s)) {
            let mut found = Vec::new();
            let stopped = self.walk_segment(seg, &mut sizes, |o| {
                if range.is_some_and(|(lo, hi)| o.address < lo || o.address >= hi) {
                    return;
                }
                result.objects += 1;
                if o.mt != self.runtime.globals.free_mt
                    && let Some(c) = checker.check_references(o.address, o.mt, o.size, &mut refs)
                {
                    found.push(c);
                }
            });
            result.corruptions.append(&mut found);
            if let Some(w) = stopped
                && range.is_none_or(|(lo, hi)| w.address >= lo && w.address < hi)
            {
                result.objects += 1;
                let c = checker
                    .check_object(w.address, &mut refs)
                    .unwrap_or_else(|| checker.corruption(w.address, CorruptionKind::ObjectTooLarge, 0, 0));
                result.corruptions.push(c);
            }
        }
        result
    }

    /// Checks one object (`verifyobj`): every corruption of it, the first of each kind.
    pub fn verify_object(&self, addr: u64) -> Option<Corruption> {
        let checker = Checker::new(self);
        checker.check_object(addr, &mut Vec::new())
    }

    /// Whether `addr` is the start of a well-formed object inside a segment's allocated
    /// range (its MethodTable plausible, its size within the segment).
    pub fn is_valid_object(&self, addr: u64) -> bool {
        let checker = Checker::new(self);
        checker.segment_of(addr).is_some()
            && addr & 7 == 0
            && checker.mt_at(addr).is_some_and(|m| checker.plausible_mt(m))
    }
}

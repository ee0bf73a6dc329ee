//! Heap verification: the checks `verifyheap` and `verifyobj` make, as ClrMD's
//! `ClrHeap.VerifyHeap` reports them (dotnet-dump's `ObjectCorruptionKind` names).
//!
//! Every object the walk reaches is counted; a walk that stops early (unreadable or
//! implausible MethodTable, a size past the segment's end, memory the dump lacks) is one
//! corruption at the object where it stopped. Each object's reference slots (from its
//! GCDesc) must hold null or a pointer-aligned address of an object with a readable,
//! plausible MethodTable inside a segment's allocated range, and not a free object.
use super::types::align_object;
use super::memory::Memory;
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

/// A pointer read for a message, or `???` when the dump lacks it.
fn pointer_text(memory: Memory, addr: u64) -> String {
    memory.pointer(addr).map_or_else(|| "???".to_string(), |v| format!("{v:x}"))
}

impl Corruption {
    /// dotnet-dump's description of the corruption (`verifyheap`, `verifyobj`, `listnearobj`).
    pub fn message(&self, memory: Memory) -> String {
        let c = self;
        let obj = c.object;
        let at = obj.wrapping_add(c.offset);
        match c.kind {
            CorruptionKind::ObjectNotOnTheHeap => format!("Tried to validate {obj:x} but its address was not on any segment."),
            CorruptionKind::ObjectNotPointerAligned => format!("Object {obj:x} is not pointer aligned"),
            CorruptionKind::ObjectTooLarge => format!(
                "Object {obj:x} is too large, size={:x}, segmentEnd: {}",
                c.size,
                c.segment.map_or_else(|| "???".to_string(), |s| format!("{:x}", s.2))
            ),
            CorruptionKind::InvalidMethodTable => {
                format!("Object {obj:x} has an invalid method table {}", pointer_text(memory, obj))
            }
            CorruptionKind::ObjectReferenceNotPointerAligned => {
                format!("Object {obj:x} has an unaligned member at offset {:x}: is not pointer aligned", c.offset)
            }
            CorruptionKind::InvalidObjectReference => format!(
                "Object {obj:x} has a bad member at offset {:x}: {}",
                c.offset,
                pointer_text(memory, at)
            ),
            CorruptionKind::FreeObjectReference => format!(
                "Object {obj:x} contains free object at offset {:x}: {}",
                c.offset,
                pointer_text(memory, at)
            ),
            CorruptionKind::CouldNotReadObject => format!(
                "Could not read object {obj:x} at offset {:x}: {}",
                c.offset,
                pointer_text(memory, at)
            ),
            CorruptionKind::CouldNotReadGCDesc => format!("Could not verify object {obj:x}: could not read GCDesc"),
        }
    }
}

/// The result of verifying a set of segments.
#[derive(Debug, Default)]
pub struct Verification {
    /// Objects the walk reached.
    pub objects: u64,
    pub corruptions: Vec<Corruption>,
}

/// How far past the readable part of an object its slots are still tried (to name the
/// first that cannot be read).
const UNREADABLE_WINDOW: u64 = 1 << 16;

/// How many times one segment's walk resumes after damage.
const MAX_RESUMES: usize = 4096;

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
    /// references'. Returns every corruption found (a bad object stops at its first).
    fn check_object(&self, addr: u64, refs: &mut Vec<(u64, u64)>) -> Vec<Corruption> {
        match self.check_header(addr) {
            Err(c) => vec![c],
            Ok((mt, size)) => self.check_references(addr, mt, size, refs),
        }
    }

    /// The object's MethodTable and size, or what is wrong with them.
    fn check_header(&self, addr: u64) -> Result<(u64, u64), Corruption> {
        if addr & 7 != 0 {
            return Err(self.corruption(addr, CorruptionKind::ObjectNotPointerAligned, 0, 0));
        }
        let Some(seg) = self.segment_of(addr) else {
            return Err(self.corruption(addr, CorruptionKind::ObjectNotOnTheHeap, 0, 0));
        };
        let Some(mt) = self.mt_at(addr) else {
            return Err(self.corruption(addr, CorruptionKind::CouldNotReadObject, 0, 0));
        };
        if !self.plausible_mt(mt) {
            return Err(self.corruption(addr, CorruptionKind::InvalidMethodTable, 0, 0));
        }
        let Ok(size_info) = self.heap.mt_size(mt) else {
            return Err(self.corruption(addr, CorruptionKind::InvalidMethodTable, 0, 0));
        };
        let count = if size_info.component_size != 0 {
            match self.heap.space().read_u32(addr.wrapping_add(self.heap.runtime.layout.object.array_length)) {
                Ok(c) => c,
                Err(_) => return Err(self.corruption(addr, CorruptionKind::CouldNotReadObject, 8, 0)),
            }
        } else {
            0
        };
        let size = size_info.object_size(count);
        if addr.checked_add(align_object(size)).is_none_or(|e| e > seg.end) {
            return Err(self.corruption(addr, CorruptionKind::ObjectTooLarge, 0, size));
        }
        Ok((mt, size))
    }

    /// Checks the reference slots of a well-formed object: every problem of every slot
    /// (an unaligned reference is also an invalid one).
    fn check_references(&self, addr: u64, mt: u64, size: u64, refs: &mut Vec<(u64, u64)>) -> Vec<Corruption> {
        let desc = match self.heap.gc_desc(mt) {
            Ok(Some(d)) => d,
            Ok(None) => return Vec::new(),
            Err(_) => return vec![self.corruption(addr, CorruptionKind::CouldNotReadGCDesc, 0, size)],
        };
        refs.clear();
        let space = self.heap.space();
        let mut unreadable = None;
        // Slots are read as far as the object can be read without a gap, and a little
        // beyond to name the first slot that cannot be: a damaged length can make an
        // object of gigabytes, which must not mean billions of failed reads.
        let readable = space.readable_run(addr);
        let limit = readable.saturating_add(UNREADABLE_WINDOW);
        desc.for_each_slot_below(size, limit, |off| match space.read_u64(addr.wrapping_add(off)) {
            Ok(v) => refs.push((off, v)),
            Err(_) => {
                unreadable.get_or_insert(off);
            }
        });
        if unreadable.is_none() && limit < size && readable < size {
            unreadable = Some(readable & !7);
        }
        if let Some(off) = unreadable {
            return vec![self.corruption(addr, CorruptionKind::CouldNotReadObject, off, size)];
        }
        let mut found = Vec::new();
        let free_mt = self.heap.runtime.globals.free_mt;
        for &(off, target) in refs.iter() {
            if target == 0 {
                continue;
            }
            if target & 7 != 0 {
                found.push(self.corruption(addr, CorruptionKind::ObjectReferenceNotPointerAligned, off, size));
            }
            let valid = target & 7 == 0
                && self.segment_of(target).is_some()
                && self.mt_at(target).is_some_and(|m| self.plausible_mt(m));
            if !valid {
                found.push(self.corruption(addr, CorruptionKind::InvalidObjectReference, off, size));
            } else if self.mt_at(target) == Some(free_mt) {
                found.push(self.corruption(addr, CorruptionKind::FreeObjectReference, off, size));
            }
        }
        found
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
        let in_range = |a: u64| range.is_none_or(|(lo, hi)| a >= lo && a < hi);
        for seg in self.segments.iter().filter(|s| keep(s)) {
            // A damaged object ends the walk; the walk then resumes at the next word that
            // holds a MethodTable already met in this walk, so that what follows the
            // damage is still counted and checked.
            let mut part = seg.clone();
            let mut resumes = 0usize;
            loop {
                let mut found = Vec::new();
                // The walk's stops are this command's findings, not losses: unreported.
                let stopped = self.walk_segment_unreported(&part, &mut sizes, |o| {
                    if !in_range(o.address) {
                        return;
                    }
                    result.objects += 1;
                    if o.mt != self.runtime.globals.free_mt
                        && let Some(c) = checker.check_references(o.address, o.mt, o.size, &mut refs).into_iter().next()
                    {
                        found.push(c);
                    }
                });
                result.corruptions.append(&mut found);
                let Some(w) = stopped else { break };
                if in_range(w.address) {
                    result.objects += 1;
                    let c = checker
                        .check_object(w.address, &mut refs)
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| checker.corruption(w.address, CorruptionKind::ObjectTooLarge, 0, 0));
                    result.corruptions.push(c);
                }
                resumes += 1;
                if resumes > MAX_RESUMES {
                    break;
                }
                // The scan stops at memory the dump lacks: it never runs through a
                // damaged segment's absent address range.
                let mut next = w.address.saturating_add(8);
                let mask = !self.runtime.layout.object.mt_unmask;
                let resume = loop {
                    if next >= seg.end || crate::interrupt::cancelled() {
                        break None;
                    }
                    match self.space().read_u64(next) {
                        Err(_) => break None,
                        Ok(m) if m != 0 && sizes.knows(m & mask) => break Some(next),
                        Ok(_) => next += 8,
                    }
                };
                let Some(next) = resume else { break };
                part.start = next;
            }
        }
        result
    }

    /// Checks one object (`verifyobj`): every corruption of it, the first of each kind.
    pub fn verify_object(&self, addr: u64) -> Vec<Corruption> {
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

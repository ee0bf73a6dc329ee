//! An object's outgoing references: the GC's pointer map (GCDesc) and, for types of
//! collectible assemblies, the LoaderAllocator that keeps the type alive.
//!
//! The GCDesc lies just *before* the MethodTable, growing downwards:
//!
//! ```text
//!   mt - 8              num_series (i64)
//!   mt - 24, mt - 16    series n-1: { size (i64), offset (u64) }   <- "highest" series
//!   mt - 40, mt - 32    series n-2
//!   ...
//! ```
//!
//! A positive `num_series` describes ordinary objects and arrays of references: each
//! series is a run of reference slots starting `offset` bytes into the object, whose
//! length in bytes is `size + object_size` (the stored size is biased by the base size,
//! so that for an array of references the run covers every element). A negative
//! `num_series` (`-n`) describes an array of value types holding references: the
//! highest series' `offset` is where the first element's slots begin, and `n` items
//! `{ nptrs: u32, skip: u32 }` (the first at `mt - 24`, the next 8 bytes below it, ...)
//! repeat for every element: `nptrs` reference slots, then `skip` bytes of plain data.
//!
//! References are reported in the order ClrMD (and so the oracle's `refs.tsv`)
//! reports them: series from the highest (nearest the MethodTable) down, slots in
//! ascending address within a series, null slots left out.
//!
//! A type of a collectible assembly also keeps its LoaderAllocator's managed object
//! alive (the GC marks it with every instance). That reference is not in the GCDesc and
//! ClrMD 4.2 does not report it in `EnumerateReferenceAddresses`; it is read separately by
//! [`Heap::loader_allocator_object`]: MethodTable -> loader module -> `LoaderAllocator*`
//! -> long weak handle -> object.
use super::Heap;
use crate::dump::AddressSpace;
use crate::runtime::layouts::{LoaderModulePlace, MTF_CONTAINS_POINTERS};
use anyhow::{Context, Result, bail};

/// More series than this is not a real type (a type has at most 65,535 fields).
const MAX_SERIES: u64 = 1 << 16;

/// A decoded GCDesc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcDesc {
    /// Runs of reference slots, highest series first: `(size bias, start offset)`.
    Series(Vec<(i64, u64)>),
    /// An array of value types: the first element's slots start at `start`, then the
    /// items `(nptrs, skip)` repeat until the end of the object.
    ValueArray { start: u64, items: Vec<(u32, u32)> },
}

impl GcDesc {
    /// Decodes a GCDesc from the bytes just before a MethodTable: `bytes` must end at the
    /// MethodTable (its last 8 bytes are `num_series`). Used for tests and by [`GcDesc::read`].
    pub fn decode(bytes: &[u8]) -> Result<GcDesc> {
        let word = |from_end: u64| -> Result<u64> {
            let end = (bytes.len() as u64)
                .checked_sub(from_end)
                .context("the GCDesc runs past its bytes")?;
            let start = end
                .checked_sub(8)
                .context("the GCDesc runs past its bytes")? as usize;
            let b = &bytes[start..start + 8];
            Ok(u64::from_le_bytes(b.try_into().context("8 bytes")?))
        };
        let num = word(0)? as i64;
        if num == 0 || num.unsigned_abs() > MAX_SERIES {
            bail!("implausible GCDesc series count {num}");
        }
        if num > 0 {
            // Series i (from the highest down) is at mt - 24 - 16*i: size, then offset.
            let series = (0..num as u64)
                .map(|i| Ok((word(16 + 16 * i)? as i64, word(8 + 16 * i)?)))
                .collect::<Result<Vec<_>>>()?;
            Ok(GcDesc::Series(series))
        } else {
            let start = word(8)?;
            let items = (0..num.unsigned_abs())
                .map(|i| {
                    let w = word(16 + 8 * i)?;
                    Ok((w as u32, (w >> 32) as u32))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(GcDesc::ValueArray { start, items })
        }
    }

    /// Reads the GCDesc of the MethodTable at `mt`, which must contain pointers.
    pub fn read(space: &AddressSpace, mt: u64) -> Result<GcDesc> {
        let num = space.read_i64(mt.checked_sub(8).context("MethodTable address too low")?)?;
        if num == 0 || num.unsigned_abs() > MAX_SERIES {
            bail!("MethodTable {mt:x} has an implausible GCDesc series count {num}");
        }
        let len = if num > 0 {
            8 + 16 * num as u64
        } else {
            16 + 8 * num.unsigned_abs()
        };
        let start = mt.checked_sub(len).context("GCDesc below address 0")?;
        let bytes = space
            .read_vec(start, len as usize)
            .with_context(|| format!("cannot read the GCDesc of MethodTable {mt:x}"))?;
        GcDesc::decode(&bytes)
    }

    /// Calls `slot` with the offset (from the object's start) of every reference slot of
    /// an object of `size` bytes (its unrounded size), in ClrMD's order. Slots that would
    /// lie outside the object are not reported. At most `size / 8` slots are visited.
    pub fn for_each_slot(&self, size: u64, slot: impl FnMut(u64)) {
        self.for_each_slot_below(size, size, slot)
    }

    /// As [`GcDesc::for_each_slot`], visiting only the slots below offset `limit` (the
    /// part of the object the dump holds).
    pub fn for_each_slot_below(&self, size: u64, limit: u64, mut slot: impl FnMut(u64)) {
        let size_limit = size.min(limit);
        match self {
            GcDesc::Series(series) => {
                for &(bias, offset) in series {
                    let end = series_end(bias, offset, size, size_limit);
                    let mut at = offset;
                    while at < end {
                        slot(at);
                        at += 8;
                    }
                }
            }
            GcDesc::ValueArray { start, items } => {
                // The last pointer-sized word of the object is not part of any element
                // (the element area ends 8 bytes before `size`, counting the header).
                let end = size.saturating_sub(8).min(size_limit);
                let mut at = *start;
                // Each item advances by at least 8 bytes, so this ends within size/8 steps.
                'elements: while at < end {
                    for &(nptrs, skip) in items {
                        let stop = at + 8 * nptrs as u64;
                        loop {
                            if at + 8 > size_limit {
                                break 'elements;
                            }
                            slot(at);
                            at += 8;
                            if at >= stop {
                                break;
                            }
                        }
                        at += skip as u64;
                    }
                }
            }
        }
    }
}

/// Where the slots of a series (`bias`, `offset`) of an object of `size` bytes end: its
/// length is the object's size plus the (negative) bias, and no slot lies at or past
/// `limit`.
#[inline]
fn series_end(bias: i64, offset: u64, size: u64, limit: u64) -> u64 {
    let len = (bias as i128 + size as i128).max(0) as u64;
    offset.saturating_add(len).min(size.min(limit))
}

/// Appends the non-null references in `bytes`, the memory of an object of `size` bytes.
#[inline]
fn slots_in(bytes: &[u8], size: u64, desc: &GcDesc, out: &mut Vec<u64>) {
    if let GcDesc::Series(series) = desc {
        // As `for_each_slot` visits them (a slot whose 8 bytes pass the object's end is
        // left out, and every one after it), without a branch on each value (null or
        // not comes in no order the processor can predict): every slot is written at the
        // end of the list, which moves past it only when it is not null.
        for &(bias, offset) in series {
            let end = series_end(bias, offset, size, size);
            let Some(words) = usize::try_from(offset).ok().filter(|_| offset < end).and_then(|from| bytes.get(from..)) else {
                continue;
            };
            let count = usize::try_from((end - offset).div_ceil(8)).unwrap_or(usize::MAX).min(words.len() / 8);
            let base = out.len();
            out.resize(base + count, 0);
            let mut k = base;
            for w in words.chunks_exact(8).take(count) {
                let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
                if let Some(s) = out.get_mut(k) {
                    *s = v;
                }
                k += (v != 0) as usize;
            }
            out.truncate(k);
        }
        return;
    }
    desc.for_each_slot(size, |off| {
        let o = off as usize;
        if let Some(w) = bytes.get(o..o + 8) {
            let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            if v != 0 {
                out.push(v);
            }
        }
    })
}

/// The captured memory around the last object read by [`Heap::references_near`].
#[derive(Default, Clone, Copy)]
pub struct RefWindow<'h> {
    base: u64,
    bytes: &'h [u8],
}

impl<'h> RefWindow<'h> {
    /// The `size` bytes at `address`, when the window holds them all.
    #[inline]
    fn get(&self, address: u64, size: u64) -> Option<&'h [u8]> {
        let from = usize::try_from(address.checked_sub(self.base)?).ok()?;
        self.bytes.get(from..from.checked_add(usize::try_from(size).ok()?)?)
    }
}

impl Heap {
    /// The GCDesc of a MethodTable, or `None` when its objects hold no references.
    pub fn gc_desc(&self, mt: u64) -> Result<Option<GcDesc>> {
        let flags = self.space().read_u32(mt.wrapping_add(self.runtime.layout.method_table.flags))?;
        if flags & MTF_CONTAINS_POINTERS == 0 {
            return Ok(None);
        }
        GcDesc::read(self.space(), mt).map(Some)
    }

    /// Appends to `out` the non-null references of the object at `address` of `size`
    /// bytes, described by `desc`, in GCDesc order. Slots that cannot be read are skipped.
    pub fn references_with(&self, address: u64, size: u64, desc: &GcDesc, out: &mut Vec<u64>) {
        let space = self.space();
        match space.core_slice(address, size as usize) {
            Some(bytes) => slots_in(bytes, size, desc, out),
            // Not in one captured slice: read slot by slot, as far as the object can be
            // read without a gap (a damaged length can make an object of gigabytes).
            None => desc.for_each_slot_below(size, space.readable_run(address), |off| {
                if let Ok(v) = space.read_u64(address.wrapping_add(off))
                    && v != 0
                {
                    out.push(v);
                }
            }),
        }
    }

    /// As [`Heap::references_with`], for objects read in address order: `window` keeps
    /// the captured memory (one segment of the core file) of the last one, so that the
    /// next is usually found in it without looking the segments up again.
    #[inline]
    pub fn references_near<'h>(&'h self, window: &mut RefWindow<'h>, address: u64, size: u64, desc: &GcDesc, out: &mut Vec<u64>) {
        if let Some(bytes) = window.get(address, size) {
            return slots_in(bytes, size, desc, out);
        }
        if let Some(bytes) = self.space().core_slice_from(address) {
            *window = RefWindow { base: address, bytes };
            if let Some(object) = window.get(address, size) {
                return slots_in(object, size, desc, out);
            }
        }
        self.references_with(address, size, desc, out)
    }

    /// The reference slots of the object at `address` of `size` bytes, described by
    /// `desc`, in GCDesc order, with what each holds: `(slot address, value)`; unreadable
    /// slots are left out, null ones kept. Only the memory readable without a gap from
    /// `address` is visited (a damaged length can make an object of gigabytes).
    pub fn reference_slots(&self, address: u64, size: u64, desc: &GcDesc) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        desc.for_each_slot_below(size, self.space().readable_run(address), |off| {
            let slot = address.wrapping_add(off);
            if let Ok(v) = self.space().read_u64(slot) {
                out.push((slot, v));
            }
        });
        out
    }

    /// The object's references as ClrMD reports them (GCDesc only), in GCDesc order.
    pub fn references(&self, address: u64, mt: u64, size: u64) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        if let Some(desc) = self.gc_desc(mt)? {
            self.references_with(address, size, &desc, &mut out);
        }
        Ok(out)
    }

    /// Whether the type belongs to a collectible assembly.
    pub fn is_collectible(&self, mt: u64) -> Result<bool> {
        let l = &self.runtime.layout.method_table;
        let flags = self.space().read_u32(mt.wrapping_add(l.flags))?;
        Ok(flags & l.collectible_flag != 0)
    }

    /// For a type of a collectible assembly, the managed `LoaderAllocator` object its
    /// instances keep alive (`None` for other types, or when the handle is empty).
    pub fn loader_allocator_object(&self, mt: u64) -> Result<Option<u64>> {
        if !self.is_collectible(mt)? {
            return Ok(None);
        }
        let space = self.space();
        let layout = &self.runtime.layout.collectible;
        let mt_layout = &self.runtime.layout.method_table;
        let module = match layout.loader_module {
            LoaderModulePlace::MethodTableModule => space.read_ptr(mt.wrapping_add(mt_layout.module))?,
            LoaderModulePlace::AuxiliaryData => {
                let aux = space.read_ptr(mt.wrapping_add(mt_layout.aux_data))?;
                if aux == 0 {
                    bail!("collectible MethodTable {mt:x} has no auxiliary data");
                }
                space.read_ptr(aux.wrapping_add(mt_layout.aux_loader_module))?
            }
        };
        if module == 0 {
            bail!("collectible MethodTable {mt:x} has no loader module");
        }
        let allocator = space.read_ptr(module.wrapping_add(layout.module_loader_allocator))?;
        if allocator == 0 {
            return Ok(None);
        }
        let handle = space.read_ptr(allocator.wrapping_add(layout.object_handle))?;
        if handle == 0 {
            return Ok(None);
        }
        let object = space.read_ptr(handle)?;
        Ok((object != 0).then_some(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds the bytes before a MethodTable from words listed from the MethodTable down
    /// (the first word is `num_series`).
    fn desc_bytes(words_down: &[u64]) -> Vec<u8> {
        words_down
            .iter()
            .rev()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    }

    /// `slots_in`'s answer as the visit of every slot gives it (the non-null values of
    /// the slots whose 8 bytes lie in `bytes`, in order).
    fn values_by_visit(bytes: &[u8], size: u64, desc: &GcDesc) -> Vec<u64> {
        let mut out = Vec::new();
        desc.for_each_slot(size, |off| {
            let o = off as usize;
            if let Some(w) = bytes.get(o..o + 8) {
                let v = u64::from_le_bytes(w.try_into().unwrap());
                if v != 0 {
                    out.push(v);
                }
            }
        });
        out
    }

    #[test]
    fn values_of_series_read_without_a_branch_as_visited() {
        let mut rng = crate::test_rng::XorShift(0x51075);
        for case in 0..3000 {
            let size = 8 * rng.below(40) + [0, 4][case % 2];
            let series: Vec<(i64, u64)> = (0..1 + rng.below(4))
                .map(|_| (rng.below(3 * size + 16) as i64 - size as i64 - 8, 4 * rng.below(size / 4 + 4)))
                .collect();
            // Null and non-null words mixed; a prefix already in the list is kept.
            let bytes: Vec<u8> = (0..size).map(|_| if rng.below(3) == 0 { 0 } else { rng.below(256) as u8 }).collect();
            let bytes = &bytes[..(size as usize).saturating_sub(rng.below(12) as usize)];
            let desc = GcDesc::Series(series);
            let mut got = vec![7, 9];
            slots_in(bytes, size, &desc, &mut got);
            let mut want = vec![7, 9];
            want.extend(values_by_visit(bytes, size, &desc));
            assert_eq!(got, want, "case {case}: {desc:?}, size {size}, {} bytes", bytes.len());
        }
    }

    fn slots(desc: &GcDesc, size: u64) -> Vec<u64> {
        let mut v = Vec::new();
        desc.for_each_slot(size, |o| v.push(o));
        v
    }

    #[test]
    fn one_series_object() {
        // A 40-byte object (base size 40) with two references at offsets 8 and 16:
        // series size = 16 - 40 = -24.
        let b = desc_bytes(&[1, 8, (-24i64) as u64]);
        let d = GcDesc::decode(&b).unwrap();
        assert_eq!(d, GcDesc::Series(vec![(-24, 8)]));
        assert_eq!(slots(&d, 40), vec![8, 16]);
    }

    #[test]
    fn series_are_visited_highest_first() {
        // Highest series (nearest the MT) covers offset 24, the lower one offset 8.
        let b = desc_bytes(&[2, 24, (-32i64) as u64, 8, (-32i64) as u64]);
        let d = GcDesc::decode(&b).unwrap();
        assert_eq!(slots(&d, 48), vec![24, 32, 8, 16]);
    }

    #[test]
    fn reference_array_series_scales_with_size() {
        // object[]: base size 24, elements from offset 16. The single series' size is
        // biased by -24, so an array of n references (24 + 8n bytes) has n slots.
        let b = desc_bytes(&[1, 16, (-24i64) as u64]);
        let d = GcDesc::decode(&b).unwrap();
        assert_eq!(slots(&d, 48), vec![16, 24, 32]);
        assert_eq!(slots(&d, 24), Vec::<u64>::new());
    }

    #[test]
    fn value_type_array() {
        // Elements of 24 bytes: a reference, 8 bytes of data, a reference.
        // items: (1 ptr, skip 8), (1 ptr, skip 0); elements start at 16.
        let item0 = 1u64 | (8u64 << 32);
        let item1 = 1u64;
        let b = desc_bytes(&[(-2i64) as u64, 16, item0, item1]);
        let d = GcDesc::decode(&b).unwrap();
        assert_eq!(
            d,
            GcDesc::ValueArray {
                start: 16,
                items: vec![(1, 8), (1, 0)]
            }
        );
        // Two elements: 24 (base) + 2 * 24 = 72 bytes.
        assert_eq!(slots(&d, 72), vec![16, 32, 40, 56]);
    }

    #[test]
    fn slots_never_leave_the_object() {
        let b = desc_bytes(&[1, 8, 1_000_000]);
        let d = GcDesc::decode(&b).unwrap();
        assert_eq!(slots(&d, 32).last(), Some(&24));
        let item = 1u64 | (u32::MAX as u64) << 32;
        let b = desc_bytes(&[(-1i64) as u64, 16, item]);
        let d = GcDesc::decode(&b).unwrap();
        assert_eq!(slots(&d, 64), vec![16]);
    }

    #[test]
    fn rejects_garbage() {
        assert!(GcDesc::decode(&desc_bytes(&[0])).is_err());
        assert!(GcDesc::decode(&desc_bytes(&[1 << 40])).is_err());
        assert!(GcDesc::decode(&desc_bytes(&[3, 8, 8])).is_err());
        assert!(GcDesc::decode(&[1, 2, 3]).is_err());
    }
}

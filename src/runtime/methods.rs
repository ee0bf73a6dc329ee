//! A MethodTable's slots and the MethodDescs behind them, as `dumpmt -md` lists them.
//!
//! Virtual slot `s` (below `NumVirtuals`) is in the chunk of 8 whose pointer is the
//! `s / 8`-th after the MethodTable; a non-virtual slot is in the MethodTable's
//! non-virtual slots ([`NonVirtualSlots`]) unless its MethodDesc keeps it itself
//! (`HasNonVtableSlot`). Which MethodDesc a slot belongs to comes from the MethodDescs
//! of the type and its parents: each type's MethodDefs through its module's
//! `MethodDefToDescMap`, each MethodDesc's `Slot`; the most derived type with a
//! MethodDesc for a slot owns it.
//!
//! A MethodDesc's native code is in its native code slot (`HasNativeCodeSlot`, low bit
//! masked); where that code is (JIT code heap, ReadyToRun image) says how it was made.
//! The optional slots are read for the MethodDescs whose size is known
//! ([`method_desc_size`]: IL, FCall, EEImpl, Array, instantiated); the others print
//! without native code.
use super::layouts::NonVirtualSlots;
use super::stack::codemap::{CodeKind, CodeMap};
use super::Runtime;
use crate::metadata::MetadataReader;
use anyhow::Result;
use std::collections::HashMap;

/// Most slots read for one MethodTable (`NumVirtuals` is a u16; a larger count is damage).
const MAX_SLOTS: usize = 1 << 16;
/// Deepest parent chain followed.
const MAX_PARENTS: usize = 256;
/// Most MethodDescChunks followed for one class (a chunk holds at most 256 MethodDescs;
/// `NumMethods` is a u16).
const MAX_CHUNKS: usize = 1 << 12;

const MD_CLASSIFICATION_MASK: u16 = 0x7;
const MD_HAS_NON_VTABLE_SLOT: u16 = 0x8;
const MD_METHOD_IMPL: u16 = 0x10;
const MD_HAS_NATIVE_CODE_SLOT: u16 = 0x20;

/// What a MethodDesc says about itself.
#[derive(Debug, Clone, Copy)]
pub struct MethodDescInfo {
    pub address: u64,
    pub slot: u16,
    pub flags: u16,
    /// Its own slot's value (`HasNonVtableSlot`).
    pub own_slot: Option<u64>,
    /// Its native code, when it has some and the slot is readable.
    pub native_code: Option<u64>,
}

/// One row of a MethodTable's method list.
#[derive(Debug, Clone, Copy)]
pub struct SlotEntry {
    pub slot: u32,
    pub entry: u64,
    /// 0 when no MethodDesc was found for the slot.
    pub method_desc: u64,
    pub jit: JitKind,
}

/// How a method's native code was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitKind {
    None,
    Jit,
    PreJit,
}

/// Reads a MethodDesc.
pub fn method_desc(rt: &Runtime, md: u64) -> Result<MethodDescInfo> {
    let space = &rt.space;
    let l = &rt.layout.method_desc;
    let slot = space.read_u16(md.wrapping_add(l.slot))?;
    let flags = space.read_u16(md.wrapping_add(l.flags))?;
    let mut info = MethodDescInfo { address: md, slot, flags, own_slot: None, native_code: None };
    let Some(size) = method_desc_size(rt, flags) else { return Ok(info) };
    let mut at = md.wrapping_add(size);
    if flags & MD_HAS_NON_VTABLE_SLOT != 0 {
        info.own_slot = space.read_ptr(at).ok();
        at = at.wrapping_add(8);
    }
    if flags & MD_METHOD_IMPL != 0 {
        at = at.wrapping_add(16);
    }
    if flags & MD_HAS_NATIVE_CODE_SLOT != 0 {
        info.native_code = space.read_ptr(at).ok().map(|c| c & !1).filter(|&c| c != 0);
    }
    Ok(info)
}

/// The size of a MethodDesc of the classification in `flags` (its optional slots follow),
/// for the kinds a type's slots hold: IL (0), FCall (1: a u32 call id, padded), EEImpl
/// (3, a delegate's `Invoke`) and Array (4, an array's `Get`/`Set`/`Address`/`.ctor`),
/// the last two a `StoredSigMethodDesc` (signature pointer, length, extended flags);
/// instantiated methods (5) through their layout. `None` for the others.
pub fn method_desc_size(rt: &Runtime, flags: u16) -> Option<u64> {
    let base = rt.layout.method_desc.size;
    match flags & MD_CLASSIFICATION_MASK {
        0 => Some(base),
        1 => Some(base + 8),
        3 | 4 => Some(base + 16),
        5 => Some((rt.layout.stack.instantiated_method_desc.2 + 2).next_multiple_of(8)),
        _ => None,
    }
}

fn method_desc_info(rt: &Runtime, md: u64) -> Option<MethodDescInfo> {
    method_desc(rt, md).ok()
}

/// `NumVirtuals` and `NumInterfaces` of a MethodTable.
pub fn mt_counts(rt: &Runtime, mt: u64) -> Result<(u16, u16)> {
    let l = &rt.layout.method_table;
    Ok((rt.space.read_u16(mt.wrapping_add(l.num_virtuals))?, rt.space.read_u16(mt.wrapping_add(l.num_interfaces))?))
}

/// The address of virtual slot `slot` (< `NumVirtuals`).
fn virtual_slot_address(rt: &Runtime, mt: u64, slot: u32) -> Result<u64> {
    let l = &rt.layout.method_table;
    let chunk = rt.space.read_ptr(mt.wrapping_add(l.vtable).wrapping_add(8 * (slot as u64 / 8)))?;
    Ok(chunk.wrapping_add(8 * (slot as u64 % 8)))
}

/// The address of the MethodTable's non-virtual slot `index` (slot `NumVirtuals + index`).
fn non_virtual_slot_address(rt: &Runtime, mt: u64, num_virtuals: u16, index: u32) -> Result<Option<u64>> {
    let space = &rt.space;
    let l = &rt.layout.method_table;
    match l.non_virtual_slots {
        NonVirtualSlots::BeforeAuxData => {
            let aux = space.read_ptr(mt.wrapping_add(l.aux_data))?;
            if aux == 0 {
                return Ok(None);
            }
            let offset = space.read_u16(aux.wrapping_add(2))? as i16 as i64;
            Ok(Some(aux.wrapping_add_signed(offset).wrapping_sub(8 * (index as u64 + 1))))
        }
        NonVirtualSlots::Multipurpose => {
            let flags2 = space.read_u16(mt.wrapping_add(l.flags2))?;
            if flags2 & 0x8 == 0 {
                return Ok(None);
            }
            // The multipurpose places: +48, +56, then after the vtable chunk pointers.
            let chunks = (num_virtuals as u64).div_ceil(8);
            let place = |k: u64| if k < 2 { 48 + 8 * k } else { l.vtable + 8 * chunks + 8 * (k - 2) };
            let mut taken = [false; 8];
            if flags2 & 0x1 != 0 {
                taken[0] = true;
            }
            if flags2 & 0x2 != 0 {
                taken[1] = true;
            }
            let next_free = |taken: &mut [bool; 8]| {
                let k = taken.iter().position(|t| !t).unwrap_or(7);
                taken[k] = true;
                k as u64
            };
            if flags2 & 0x4 != 0 {
                next_free(&mut taken);
            }
            let at = mt.wrapping_add(place(next_free(&mut taken)));
            if flags2 & 0x4000 != 0 {
                return Ok((index == 0).then_some(at));
            }
            let array = space.read_ptr(at)?;
            Ok(Some(array.wrapping_add(8 * index as u64)))
        }
    }
}

/// `EEClass.NumMethods` of the class of `mt`: its method slots, inherited ones included.
pub fn class_num_methods(rt: &Runtime, mt: u64) -> Result<u32> {
    use super::layouts::EEClassCounts;
    let space = &rt.space;
    let ee = ee_class_of(rt, mt)?;
    Ok(match rt.layout.ee_class.counts {
        EEClassCounts::Packed => {
            let packed = ee.wrapping_add(space.read_u8(ee.wrapping_add(50))? as u64);
            space.read_u32(packed.wrapping_add(4))?
        }
        EEClassCounts::Fixed { num_methods, .. } => space.read_u16(ee.wrapping_add(num_methods))? as u32,
    })
}

/// The canonical MethodTable of `mt` (itself unless `EEClassOrCanonMT` has its low bit set).
fn canonical_of(rt: &Runtime, mt: u64) -> Result<u64> {
    let v = rt.space.read_ptr(mt.wrapping_add(rt.layout.method_table.ee_class_or_canon))?;
    Ok(if v & 1 != 0 { v & !1 } else { mt })
}

/// The EEClass of `mt` (through its canonical MethodTable).
fn ee_class_of(rt: &Runtime, mt: u64) -> Result<u64> {
    let canonical = canonical_of(rt, mt)?;
    let ee = rt.space.read_ptr(canonical.wrapping_add(rt.layout.method_table.ee_class_or_canon))?;
    anyhow::ensure!(ee & 1 == 0 && ee != 0, "MethodTable {mt:x} has no EEClass");
    Ok(ee)
}

/// Whether `mt` is an instantiation of a generic type (not an array).
fn is_generic_instantiation(rt: &Runtime, mt: u64) -> bool {
    use super::layouts::{MTF_GENERICS_MASK, MTF_HAS_COMPONENT_SIZE};
    rt.space
        .read_u32(mt.wrapping_add(rt.layout.method_table.flags))
        .is_ok_and(|f| f & MTF_HAS_COMPONENT_SIZE == 0 && f & MTF_GENERICS_MASK != 0)
}

/// The size of a MethodDesc with its optional slots, when its kind's size is known.
fn method_desc_full_size(rt: &Runtime, flags: u16) -> Option<u64> {
    let mut size = method_desc_size(rt, flags)?;
    if flags & MD_HAS_NON_VTABLE_SLOT != 0 {
        size += 8;
    }
    if flags & MD_METHOD_IMPL != 0 {
        size += 16;
    }
    if flags & MD_HAS_NATIVE_CODE_SLOT != 0 {
        size += 8;
    }
    Some(size)
}

/// The MethodDescs the class of `mt` introduces, from its EEClass's MethodDescChunks (as
/// the runtime's introduced-method iterator walks them): for a generic instantiation,
/// those of its canonical MethodTable, which every instantiation sharing its code uses.
/// A MethodDesc is where its `ChunkIndex` says (counted in `alignment` units from the
/// chunk's header); one of a kind whose size is not known is stepped over unit by unit
/// to the next that is. Chunks of another MethodTable end the walk.
pub fn class_method_descs(rt: &Runtime, mt: u64) -> Result<Vec<MethodDescInfo>> {
    let space = &rt.space;
    let l = &rt.layout.method_desc;
    let canonical = canonical_of(rt, mt)?;
    let ee = ee_class_of(rt, mt)?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut chunk = space.read_ptr(ee.wrapping_add(rt.layout.ee_class.chunks))?;
    while chunk != 0 && seen.insert(chunk) && seen.len() <= MAX_CHUNKS {
        if space.read_ptr(chunk.wrapping_add(l.chunk_method_table))? != canonical {
            break;
        }
        let units = space.read_u8(chunk.wrapping_add(l.chunk_units))? as u64 + 1;
        let count = space.read_u8(chunk.wrapping_add(l.chunk_count))? as usize + 1;
        let first = chunk.wrapping_add(l.chunk_size);
        let (mut at, mut found) = (0u64, 0usize);
        while at < units && found < count {
            let md = first.wrapping_add(at * l.alignment);
            if space.read_u8(md.wrapping_add(l.chunk_index)).ok() != Some(at as u8) {
                at += 1;
                continue;
            }
            let info = method_desc(rt, md)?;
            found += 1;
            at += method_desc_full_size(rt, info.flags).map_or(1, |s| s.div_ceil(l.alignment).max(1));
            out.push(info);
        }
        chunk = space.read_ptr(chunk.wrapping_add(l.chunk_next))?;
    }
    Ok(out)
}

/// The MethodDescs of the methods a MethodTable's type defines, by slot.
fn own_method_descs(rt: &Runtime, code: &CodeMap, meta: &MetadataReader, module: u64, token: u32, mt: u64) -> Vec<MethodDescInfo> {
    let canon = {
        let v = rt.space.read_ptr(mt.wrapping_add(rt.layout.method_table.ee_class_or_canon)).unwrap_or(0);
        if v & 1 != 0 { v & !1 } else { mt }
    };
    let Ok(rids) = meta.type_methods(token & 0x00ff_ffff) else { return Vec::new() };
    rids.into_iter()
        .filter_map(|rid| code.method_def_to_desc(module, rid).ok().flatten())
        .filter_map(|md| method_desc(rt, md).ok())
        .filter(|md| {
            // Only MethodDescs of this type (a MethodDef's desc may belong to the
            // canonical type of a generic instantiation).
            super::stack::names::method_desc_token(rt, md.address)
                .map(|(owner, _)| owner == mt || owner == canon)
                .unwrap_or(false)
        })
        .collect()
}

/// The rows `dumpmt -md` prints for a MethodTable: its vtable slots, then the methods
/// that keep their own slot, by slot number. `meta_of` gives a module's metadata.
pub fn method_table_slots(
    rt: &Runtime,
    mt: u64,
    meta_of: &dyn Fn(u64) -> Option<std::sync::Arc<MetadataReader>>,
    info_of: &dyn Fn(u64) -> Option<(u64, u32, u64)>,
) -> Result<Vec<SlotEntry>> {
    let code = CodeMap::new(rt)?;
    let (num_virtuals, _) = mt_counts(rt, mt)?;
    // The MethodDescs of the type and its parents, most derived first (a parent's only
    // for its virtual slots). A generic instantiation's are its canonical type's, from its
    // EEClass (the module's MethodDef map holds the open type's).
    let mut by_slot: HashMap<u16, u64> = HashMap::new();
    let mut own: Vec<MethodDescInfo> = Vec::new();
    let generic = is_generic_instantiation(rt, mt);
    let mut cur = mt;
    for depth in 0..MAX_PARENTS {
        if cur == 0 {
            break;
        }
        let Some((module, token, parent)) = info_of(cur) else { break };
        let mds = if is_generic_instantiation(rt, cur) {
            class_method_descs(rt, cur).unwrap_or_default()
        } else if let Some(meta) = meta_of(module) {
            own_method_descs(rt, &code, &meta, module, token, cur)
        } else {
            Vec::new()
        };
        let virtuals = if depth == 0 { u16::MAX } else { mt_counts(rt, cur).map_or(0, |c| c.0) };
        for md in mds.iter().filter(|md| md.slot < virtuals) {
            by_slot.entry(md.slot).or_insert(md.address);
        }
        if depth == 0 {
            own = mds;
        }
        cur = parent;
    }
    let mut rows = Vec::new();
    for s in 0..(num_virtuals as u32).min(MAX_SLOTS as u32) {
        let entry = virtual_slot_address(rt, mt, s).and_then(|a| Ok(rt.space.read_ptr(a)?)).unwrap_or(0);
        let method_desc = by_slot.get(&(s as u16)).copied().unwrap_or(0);
        let md = (method_desc != 0).then(|| method_desc_info(rt, method_desc)).flatten();
        rows.push(SlotEntry { slot: s, entry, method_desc, jit: jit_kind(rt, &code, entry, md.as_ref()) });
    }
    let mut rest: Vec<&MethodDescInfo> = own.iter().filter(|md| md.slot >= num_virtuals).collect();
    // An instantiation that shares its canonical type's code has no non-virtual slots of
    // its own: a method's entry is its canonical MethodTable's slot. The 9 and 10 DACs
    // list such a type's non-virtual methods as its EEClass's chunks hold them (where a
    // `.cctor` comes last), not by slot.
    let slots_of = if generic { canonical_of(rt, mt).unwrap_or(mt) } else { mt };
    if slots_of == mt || rt.version.major < 9 {
        rest.sort_by_key(|md| md.slot);
    }
    let mut seen_slots = std::collections::HashSet::new();
    rest.retain(|md| seen_slots.insert(md.slot));
    if generic {
        // The class's slots only (`NumMethods`).
        let total = class_num_methods(rt, mt).unwrap_or(u32::MAX);
        rest.retain(|md| (md.slot as u32) < total);
    }
    for md in rest {
        let entry = match md.own_slot {
            Some(e) => e,
            None => non_virtual_slot_address(rt, slots_of, num_virtuals, (md.slot - num_virtuals) as u32)
                .ok()
                .flatten()
                .and_then(|a| rt.space.read_ptr(a).ok())
                .unwrap_or(0),
        };
        rows.push(SlotEntry { slot: md.slot as u32, entry, method_desc: md.address, jit: jit_kind(rt, &code, entry, Some(md)) });
    }
    Ok(rows)
}

/// Most runtime-provided methods an array type has (Get, Set, Address and its
/// constructors: two for a multi-dimensional array, one per nesting level for a jagged one).
const MAX_ARRAY_METHODS: u32 = 16;

/// An array type's methods the runtime provides (its non-virtual slots: `Get`, `Set`,
/// `Address`, then the constructors), in slot order: each slot whose code (a precode)
/// stands for a MethodDesc of `canonical` (the type's canonical MethodTable, whose
/// MethodDescs the instantiations over reference types share) with that slot number.
/// The list ends at the first slot that is not one.
pub fn array_method_slots(rt: &Runtime, mt: u64, canonical: u64) -> Vec<SlotEntry> {
    let Ok((num_virtuals, _)) = mt_counts(rt, mt) else { return Vec::new() };
    let mut rows = Vec::new();
    for index in 0..MAX_ARRAY_METHODS {
        // An instantiation over reference types keeps these slots on its canonical
        // MethodTable (as the runtime's GetRestoredSlot looks).
        let slot = num_virtuals as u32 + index;
        let row_of = |m: u64| -> Option<(u64, u64)> {
            let entry = non_virtual_slot_address(rt, m, num_virtuals, index).ok().flatten().and_then(|a| rt.space.read_ptr(a).ok())?;
            let md = crate::runtime::precode::precode_method_desc(&rt.space, entry)?;
            let info = method_desc_info(rt, md)?;
            let owner = crate::runtime::stack::names::method_desc_token(rt, md).map(|(o, _)| o).unwrap_or(0);
            (info.slot as u32 == slot && (owner == canonical || owner == mt)).then_some((entry, md))
        };
        let Some((entry, md)) = row_of(mt).or_else(|| if canonical != mt { row_of(canonical) } else { None }) else {
            break;
        };
        rows.push(SlotEntry { slot, entry, method_desc: md, jit: JitKind::None });
    }
    rows
}

/// How the code at `entry` was made, else the MethodDesc's current code (its active code
/// version, as the DAC's `NativeCodeAddr`: a method that went from ReadyToRun code to
/// the JIT's tier 1 is `JIT`), else its native code slot's.
fn jit_kind(rt: &Runtime, code: &CodeMap, entry: u64, md: Option<&MethodDescInfo>) -> JitKind {
    let kind = |ip: u64| match code.lookup(ip) {
        Ok(Some(c)) => Some(match c.kind {
            CodeKind::Jit => JitKind::Jit,
            CodeKind::ReadyToRun => JitKind::PreJit,
        }),
        _ => None,
    };
    if entry != 0
        && let Some(k) = kind(entry)
    {
        return k;
    }
    let Some(md) = md else { return JitKind::None };
    let current = super::code_versions::method_desc_data(rt, md.address, None).ok().and_then(|d| d.native_code);
    current.or(md.native_code).and_then(kind).unwrap_or(JitKind::None)
}

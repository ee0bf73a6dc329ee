//! Method names for frame lines, as SOS prints them: `Namespace.Type.Method(Int32, System.String[])`.
//!
//! MethodDesc -> MethodDescChunk (`MethodDesc - ChunkIndex * 8 - 24`) -> MethodTable and the
//! MethodDef token (12 low bits in the MethodDesc, 12 high bits in the chunk). The name and
//! the parameter types come from the module's metadata. Parameter types are spelled the way
//! the DAC's signature printer does: primitives by their short CLR name (`Int32`,
//! `Boolean`, `IntPtr`), other types by full name (`System.String`, `System.Object`), `T[]`,
//! `T*`, `T ByRef`. Checked on the lab's frames (`Wait(Int32, System.Threading.CancellationToken)`,
//! `Main(System.String[])`); generic owners and generic parameters are **UNVERIFIED**.
use crate::metadata::{decode_method_params, with_generic_args, MetadataReader, SigType, TableId, Token};
use crate::runtime::layouts::*;
use crate::runtime::modules::load_metadata;
use crate::runtime::Runtime;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Names a MethodTable (a caller with a `Heap` passes its type names).
pub type TypeNamer<'a> = dyn Fn(u64) -> Option<String> + Sync + 'a;

/// Deepest generic nesting followed by the built-in type namer.
const MAX_DEPTH: usize = 16;
/// Most type handles visited for one name.
const MAX_NAME_NODES: usize = 4096;

/// Metadata readers by module, loaded once per walk.
#[derive(Default)]
pub struct MetadataCache {
    readers: Mutex<HashMap<u64, Option<Arc<MetadataReader>>>>,
}

impl MetadataCache {
    pub fn get(&self, rt: &Runtime, module: u64) -> Option<Arc<MetadataReader>> {
        if module == 0 {
            return None;
        }
        let mut m = self.readers.lock().ok()?;
        m.entry(module).or_insert_with(|| load_metadata(rt, module).ok().map(Arc::new)).clone()
    }
}

/// A MethodDesc's MethodTable and MethodDef row.
pub fn method_desc_token(rt: &Runtime, md: u64) -> Result<(u64, u32)> {
    let space = &rt.space;
    let l = &rt.layout.method_desc;
    let chunk_index = space.read_u8(md.wrapping_add(l.chunk_index))? as u64;
    let chunk = md
        .checked_sub(chunk_index.saturating_mul(l.alignment).saturating_add(l.chunk_size))
        .context("bad MethodDesc chunk index")?;
    let mt = space.read_ptr(chunk.wrapping_add(l.chunk_method_table))?;
    let range = space.read_u16(chunk.wrapping_add(l.chunk_token_range))? as u32;
    let remainder = space.read_u16(md)? as u32;
    // At most 24 (checked when taken from the descriptor).
    let bits = l.token_remainder_bits.min(24) as u32;
    let rid = ((range & ((1 << (24 - bits)) - 1)) << bits) | (remainder & ((1 << bits) - 1));
    Ok((mt, rid))
}

/// The module holding a MethodTable's metadata (the canonical MethodTable's on 8, where
/// +24 of an instantiation is its loader module).
fn mt_module(rt: &Runtime, mt: u64) -> Result<u64> {
    let space = &rt.space;
    let l = &rt.layout.method_table;
    let v = space.read_ptr(mt.wrapping_add(l.ee_class_or_canon))?;
    let canon = if v & 1 != 0 { v & !1 } else { mt };
    Ok(space.read_ptr(canon.wrapping_add(l.module))?)
}

fn mt_token_rid(rt: &Runtime, mt: u64) -> Result<u32> {
    let l = &rt.layout.method_table;
    Ok(match l.token {
        TokenField::U16At10 => rt.space.read_u16(mt.wrapping_add(10))? as u32,
        TokenField::UpperBitsOfFlags2 => rt.space.read_u32(mt.wrapping_add(l.flags2))? >> 8,
    })
}

/// A type name from metadata alone (without a Heap's name cache).
pub fn basic_type_name(rt: &Runtime, cache: &MetadataCache, mt: u64, depth: usize) -> Option<String> {
    basic_type_name_within(rt, cache, mt, depth, &std::cell::Cell::new(MAX_NAME_NODES))
}

/// [`basic_type_name`] with the number of type handles it may still visit (a damaged
/// dictionary naming the type itself would otherwise make `args^depth` visits).
fn basic_type_name_within(
    rt: &Runtime,
    cache: &MetadataCache,
    mt: u64,
    depth: usize,
    budget: &std::cell::Cell<usize>,
) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    budget.set(budget.get().checked_sub(1)?);
    let space = &rt.space;
    let flags = space.read_u32(mt.wrapping_add(rt.layout.method_table.flags)).ok()?;
    let md = cache.get(rt, mt_module(rt, mt).ok()?)?;
    let raw = md.type_full_name(mt_token_rid(rt, mt).ok()?).ok()?;
    if flags & MTF_HAS_COMPONENT_SIZE != 0 || flags & MTF_GENERICS_MASK == 0 {
        return Some(raw);
    }
    let per_inst = space.read_ptr(mt.wrapping_add(rt.layout.method_table.per_inst_info)).ok()?;
    let num_dicts = space.read_u16(per_inst.checked_sub(4)?).ok()? as u64;
    let num_args = space.read_u16(per_inst.checked_sub(2)?).ok()?.min(64) as u64;
    let dict = space.read_ptr(per_inst.wrapping_add(8 * num_dicts.checked_sub(1)?)).ok()?;
    let args: Vec<String> = (0..num_args)
        .map(|i| {
            space
                .read_ptr(dict.wrapping_add(8 * i))
                .ok()
                .filter(|th| th & 2 == 0)
                .and_then(|th| basic_type_name_within(rt, cache, th, depth + 1, budget))
                .unwrap_or_else(|| "?".into())
        })
        .collect();
    Some(with_generic_args(&raw, &args)).filter(|n| n.len() <= crate::heap::types::MAX_NAME_LEN)
}

/// `Type.Method(params)` for a MethodDesc.
pub fn method_desc_name(rt: &Runtime, cache: &MetadataCache, types: &TypeNamer, md: u64) -> Option<String> {
    let (mt, rid) = method_desc_token(rt, md).ok()?;
    let module = mt_module(rt, mt).ok()?;
    let meta = cache.get(rt, module)?;
    let type_name = types(mt).or_else(|| basic_type_name(rt, cache, mt, 0))?;
    method_text(&meta, &type_name, rid)
}

/// `Type.Method(params)` for a MethodDef row of a module, without a MethodDesc (ReadyToRun
/// code of a method the runtime has not prepared). Generic owners print open.
pub fn method_def_name(rt: &Runtime, cache: &MetadataCache, module: u64, rid: u32) -> Option<String> {
    let meta = cache.get(rt, module)?;
    let owner = owner_typedef(&meta, rid)?;
    let type_name = meta.type_full_name(owner).ok()?;
    method_text(&meta, &type_name, rid)
}

fn method_text(meta: &MetadataReader, type_name: &str, rid: u32) -> Option<String> {
    let m = meta.method(rid).ok()?;
    let params = decode_method_params(m.signature)
        .map(|ps| ps.iter().map(|p| param_name(meta, p, 0)).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    Some(format!("{type_name}.{}({params})", m.name))
}

/// The TypeDef whose method list holds MethodDef `rid` (lists are contiguous and sorted).
fn owner_typedef(meta: &MetadataReader, rid: u32) -> Option<u32> {
    if meta.rows(TableId::MethodPtr) > 0 {
        return None;
    }
    let n = meta.typedef_count();
    // First TypeDef whose list starts after rid, minus one.
    let (mut lo, mut hi) = (1u32, n + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if meta.cell(TableId::TypeDef, mid, 5).ok()? <= rid {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let t = lo.checked_sub(1).filter(|&t| t >= 1)?;
    // Skip TypeDefs with empty lists that share the start.
    meta.type_methods(t).ok()?.contains(&rid).then_some(t).or_else(|| {
        (1..t).rev().take(64).find(|&k| meta.type_methods(k).map(|l| l.contains(&rid)).unwrap_or(false))
    })
}

/// The name the DAC gives a primitive type (`Int32`, `System.String`) in a signature,
/// shared by both signature formats (they differ on `TypedReference`, and past this).
pub fn primitive_name(ty: &SigType) -> Option<&'static str> {
    Some(match ty {
        SigType::Void => "Void",
        SigType::Boolean => "Boolean",
        SigType::Char => "Char",
        SigType::I1 => "SByte",
        SigType::U1 => "Byte",
        SigType::I2 => "Int16",
        SigType::U2 => "UInt16",
        SigType::I4 => "Int32",
        SigType::U4 => "UInt32",
        SigType::I8 => "Int64",
        SigType::U8 => "UInt64",
        SigType::R4 => "Single",
        SigType::R8 => "Double",
        SigType::I => "IntPtr",
        SigType::U => "UIntPtr",
        SigType::String => "System.String",
        SigType::Object => "System.Object",
        _ => return None,
    })
}

/// A parameter type as the DAC prints it in a method signature.
pub fn param_name(meta: &MetadataReader, ty: &SigType, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return "?".into();
    }
    let inner = |t: &SigType| param_name(meta, t, depth + 1);
    match ty {
        SigType::TypedByRef => "System.TypedReference".into(),
        SigType::Class(t) | SigType::ValueType(t) => token_name(meta, *t),
        SigType::SzArray(e) => format!("{}[]", inner(e)),
        SigType::Array { elem, rank } => format!("{}[{}]", inner(elem), ",".repeat((*rank).clamp(1, 32) as usize - 1)),
        SigType::GenericInst { generic, args, .. } => {
            let args: Vec<String> = args.iter().map(inner).collect();
            format!("{}<{}>", token_name(meta, *generic), args.join(","))
        }
        SigType::Var(n) => format!("!{n}"),
        SigType::MVar(n) => format!("!!{n}"),
        SigType::Ptr(e) => format!("{}*", inner(e)),
        SigType::ByRef(e) => format!("{} ByRef", inner(e)),
        SigType::FnPtr => "FNPTR".into(),
        // Everything else is a primitive.
        other => primitive_name(other).unwrap_or("?").into(),
    }
}

fn token_name(meta: &MetadataReader, t: Token) -> String {
    meta.type_name(t).unwrap_or_else(|_| format!("<token {:#x}>", t.0))
}

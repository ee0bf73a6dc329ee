//! Method and type names as the DAC spells them (`GetMethodDescName`), which is what SOS's
//! `clrstack`, `ip2md` and the frame lines of `gcroot` print:
//!
//! - the owner type in the runtime's `TypeString` format with full instantiations:
//!   ``System.Collections.Generic.Dictionary`2[[System.__Canon, System.Private.CoreLib],[System.Int32, System.Private.CoreLib]]``
//!   (namespace, nested types joined by `+`, the generic arity kept, each type argument in
//!   brackets with its assembly's simple name);
//! - `.` and the method's name, then a generic method's own instantiation in the same
//!   brackets (`Recurse[[System.__Canon, System.Private.CoreLib]]`);
//! - the parameters as the runtime's `SigFormat` prints a signature: primitives by their
//!   short names (`Int32`, `IntPtr`), a class or value type by its TypeDef/TypeRef's own
//!   namespace and name (so a nested type is its bare name: `SocketEvent*`, `ExInfo ByRef`),
//!   a generic instantiation as ``Name`1<Arg,Arg>``, `T[]`, `T[,]`, `T*`, `T ByRef`, and type
//!   variables replaced by the owner's or the method's instantiation (`System.__Canon` in
//!   shared code), printed as `SigFormat::AddType` does.
//!
//! Checked against dotnet-dump's `clrstack` on the lab's ops, zoo and seed dumps
//! (`tests/threads_stacks.rs`).
use super::names::{method_desc_token, MetadataCache};
use crate::metadata::{decode_method_params, MetadataReader, SigType, TableId, Token};
use crate::runtime::layouts::*;
use crate::runtime::Runtime;
use std::cell::Cell;
use std::sync::Arc;

/// Deepest type nesting followed.
const MAX_DEPTH: usize = 16;
/// Most type handles visited for one name (a damaged dictionary could name itself).
const MAX_NODES: usize = 4096;
/// Longest name built.
const MAX_LEN: usize = 64 << 10;

/// `MethodDesc.m_wFlags` (u16 at +6): the low 3 bits classify the MethodDesc. The
/// `InstantiatedMethodDesc` fields are per version (`StackLayout::instantiated_method_desc`).
const MD_FLAGS: u64 = 6;
const MD_CLASSIFICATION_MASK: u16 = 7;
const MC_INSTANTIATED: u16 = 5;
const IMD_KIND_MASK: u16 = 7;
const IMD_GENERIC_METHOD_DEFINITION: u16 = 0;
/// The element type of a method's type variable (`!!n`).
const ELEMENT_TYPE_MVAR: u32 = 0x1e;

/// Names types and methods the DAC's way, with a budget per name.
pub struct DacNamer<'a> {
    rt: &'a Runtime,
    cache: &'a MetadataCache,
    budget: Cell<usize>,
}

/// What a type handle is, for naming.
enum Handle {
    /// A MethodTable that is not an array: its module, TypeDef row and type arguments.
    Type { module: u64, rid: u32, args: Vec<u64> },
    /// An array MethodTable: element type handle and rank (0 for `T[]`).
    Array { element: u64, rank: usize },
    /// A pointer or byref TypeDesc.
    Param { element_type: u32, arg: u64 },
    /// A generic variable or function pointer TypeDesc.
    Other { element_type: u32 },
}

impl<'a> DacNamer<'a> {
    pub fn new(rt: &'a Runtime, cache: &'a MetadataCache) -> Self {
        DacNamer { rt, cache, budget: Cell::new(MAX_NODES) }
    }

    fn spend(&self) -> Option<()> {
        self.budget.set(self.budget.get().checked_sub(1)?);
        Some(())
    }

    fn metadata(&self, module: u64) -> Option<Arc<MetadataReader>> {
        self.cache.get(self.rt, module)
    }

    fn handle(&self, th: u64) -> Option<Handle> {
        self.spend()?;
        let space = &self.rt.space;
        if th & 2 != 0 {
            let desc = th & !3;
            let element_type = space.read_u32(desc).ok()? & 0xff;
            return Some(match element_type {
                0x0f | 0x10 => Handle::Param { element_type, arg: space.read_ptr(desc.wrapping_add(self.rt.layout.type_desc.param_type_arg)).ok()? },
                _ => Handle::Other { element_type },
            });
        }
        let mtl = &self.rt.layout.method_table;
        let flags = space.read_u32(th.wrapping_add(mtl.flags)).ok()?;
        if flags & MTF_HAS_COMPONENT_SIZE != 0 && flags & MTF_CATEGORY_ARRAY_MASK == MTF_CATEGORY_ARRAY {
            let element = space.read_ptr(th.wrapping_add(mtl.per_inst_info)).ok()?;
            let rank = if flags & MTF_IS_SZARRAY != 0 {
                0
            } else {
                let base = space.read_u32(th.wrapping_add(mtl.base_size)).ok()? as usize;
                (base.saturating_sub(24) / 8).clamp(1, 32)
            };
            return Some(Handle::Array { element, rank });
        }
        let (module, rid) = mt_module_and_rid(self.rt, th)?;
        let args = if flags & MTF_GENERICS_MASK != 0 {
            let per_inst = space.read_ptr(th.wrapping_add(mtl.per_inst_info)).ok()?;
            let num_dicts = space.read_u16(per_inst.checked_sub(4)?).ok()? as u64;
            let num_args = space.read_u16(per_inst.checked_sub(2)?).ok()?.min(64) as u64;
            let dict = space.read_ptr(per_inst.wrapping_add(8 * num_dicts.checked_sub(1)?)).ok()?;
            (0..num_args).map(|i| space.read_ptr(dict.wrapping_add(8 * i)).ok()).collect::<Option<Vec<_>>>()?
        } else {
            Vec::new()
        };
        Some(Handle::Type { module, rid, args })
    }

    /// The simple name of the assembly of a module.
    fn assembly_name(&self, module: u64) -> Option<String> {
        let md = self.metadata(module)?;
        md.assembly_name().ok().flatten().map(str::to_string)
    }

    /// A type handle in `TypeString` format (`FormatNamespace | FormatFullInst`), with
    /// `, Assembly` appended when `assembly` is set (as type arguments are).
    pub fn type_string(&self, th: u64, assembly: bool) -> Option<String> {
        self.type_string_at(th, assembly, 0).filter(|n| n.len() <= MAX_LEN)
    }

    fn type_string_at(&self, th: u64, assembly: bool, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.handle(th)? {
            Handle::Type { module, rid, args } => {
                let md = self.metadata(module)?;
                let mut s = md.type_full_name(rid).ok()?;
                if !args.is_empty() {
                    s.push('[');
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        s.push('[');
                        s.push_str(&self.type_string_at(*a, true, depth + 1)?);
                        s.push(']');
                    }
                    s.push(']');
                }
                if assembly {
                    s.push_str(", ");
                    s.push_str(&self.assembly_name(module)?);
                }
                Some(s)
            }
            Handle::Array { element, rank } => {
                let mut s = self.type_string_at(element, false, depth + 1)?;
                s.push_str(&array_suffix(rank));
                if assembly {
                    s.push_str(", ");
                    s.push_str(&self.assembly_name(self.element_module(element, depth)?)?);
                }
                Some(s)
            }
            Handle::Param { element_type, arg } => {
                let mut s = self.type_string_at(arg, false, depth + 1)?;
                s.push(if element_type == 0x0f { '*' } else { '&' });
                if assembly {
                    s.push_str(", ");
                    s.push_str(&self.assembly_name(self.element_module(arg, depth)?)?);
                }
                Some(s)
            }
            Handle::Other { .. } => None,
        }
    }

    /// The module an array's or pointer's innermost element type lives in.
    fn element_module(&self, th: u64, depth: usize) -> Option<u64> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.handle(th)? {
            Handle::Type { module, .. } => Some(module),
            Handle::Array { element, .. } => self.element_module(element, depth + 1),
            Handle::Param { arg, .. } => self.element_module(arg, depth + 1),
            Handle::Other { .. } => None,
        }
    }

    /// A type handle as `SigFormat::AddType` prints it (a substituted type variable).
    fn sig_add_type(&self, th: u64, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.handle(th)? {
            Handle::Type { module, rid, args } => {
                let md = self.metadata(module)?;
                let t = md.typedef(rid).ok()?;
                let full = if t.namespace.is_empty() { t.name.to_string() } else { format!("{}.{}", t.namespace, t.name) };
                if let Some(short) = primitive_short_name(&full) {
                    return Some(short.to_string());
                }
                let mut s = full;
                if !args.is_empty() {
                    s.push('<');
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        s.push_str(&self.sig_add_type(*a, depth + 1)?);
                    }
                    s.push('>');
                }
                Some(s)
            }
            Handle::Array { element, rank } => Some(self.sig_add_type(element, depth + 1)? + &array_suffix(rank)),
            Handle::Param { element_type, arg } => {
                let inner = self.sig_add_type(arg, depth + 1)?;
                Some(if element_type == 0x0f { inner + "*" } else { inner + " ByRef" })
            }
            Handle::Other { element_type } if element_type == 0x1b => Some("FNPTR".into()),
            Handle::Other { .. } => Some("**UNKNOWN TYPE**".into()),
        }
    }

    /// A parameter type as `SigFormat::AddTypeString` prints it.
    fn sig_type(&self, meta: &MetadataReader, ty: &SigType, class_inst: &[u64], method_inst: &[u64], depth: usize) -> String {
        if depth > MAX_DEPTH {
            return "?".into();
        }
        let inner = |t: &SigType| self.sig_type(meta, t, class_inst, method_inst, depth + 1);
        match ty {
            SigType::TypedByRef => "TypedReference".into(),
            SigType::Class(t) | SigType::ValueType(t) => own_name(meta, *t),
            SigType::SzArray(e) => format!("{}[]", inner(e)),
            SigType::Array { elem, rank } => format!("{}{}", inner(elem), array_suffix((*rank).clamp(1, 32) as usize)),
            SigType::GenericInst { generic, args, .. } => {
                let args: Vec<String> = args.iter().map(inner).collect();
                format!("{}<{}>", own_name(meta, *generic), args.join(","))
            }
            SigType::Var(n) => match class_inst.get(*n as usize) {
                Some(&th) => self.sig_add_type(th, depth + 1).unwrap_or_else(|| format!("!{n}")),
                None => format!("!{n}"),
            },
            SigType::MVar(n) => match method_inst.get(*n as usize) {
                Some(&th) => self.sig_add_type(th, depth + 1).unwrap_or_else(|| format!("!!{n}")),
                None => format!("!!{n}"),
            },
            SigType::Ptr(e) => format!("{}*", inner(e)),
            SigType::ByRef(e) => format!("{} ByRef", inner(e)),
            SigType::FnPtr => "FNPTR".into(),
            // Everything else is a primitive.
            other => super::names::primitive_name(other).unwrap_or("?").into(),
        }
    }

    /// The type arguments of an instantiated generic method (none for a generic method
    /// definition or a method that is not generic).
    pub fn method_instantiation(&self, md: u64) -> Vec<u64> {
        let space = &self.rt.space;
        let Ok(flags) = space.read_u16(md.wrapping_add(MD_FLAGS)) else { return Vec::new() };
        if flags & MD_CLASSIFICATION_MASK != MC_INSTANTIATED {
            return Vec::new();
        }
        let (per_inst, flags2, num_args) = self.rt.layout.stack.instantiated_method_desc;
        let kind = space.read_u16(md.wrapping_add(flags2)).unwrap_or(0) & IMD_KIND_MASK;
        if kind == IMD_GENERIC_METHOD_DEFINITION {
            return Vec::new();
        }
        let n = space.read_u16(md.wrapping_add(num_args)).unwrap_or(0).min(64) as u64;
        let Ok(inst) = space.read_ptr(md.wrapping_add(per_inst)) else { return Vec::new() };
        if inst == 0 {
            return Vec::new();
        }
        let args: Vec<u64> = (0..n).map_while(|i| space.read_ptr(inst.wrapping_add(8 * i)).ok()).collect();
        // A generic method of a generic type's canonical MethodTable is instantiated over
        // its own type variables (`ConvertAll<TOutput>`: one `MVAR` TypeDesc): the DAC
        // names it as the definition, `!!0` left in its parameters.
        let own_variables = args.iter().all(|&th| th & 2 != 0 && space.read_u32(th & !3).is_ok_and(|t| t & 0xff == ELEMENT_TYPE_MVAR));
        if own_variables { Vec::new() } else { args }
    }

    /// `Owner.Method[[inst]](params)` for a MethodDesc.
    pub fn method_desc_name(&self, md: u64) -> Option<String> {
        let (mt, rid) = method_desc_token(self.rt, md).ok()?;
        let owner = self.type_string(mt, false)?;
        let (module, _) = mt_module_and_rid(self.rt, mt)?;
        let meta = self.metadata(module)?;
        let class_inst = match self.handle(mt)? {
            Handle::Type { args, .. } => args,
            _ => Vec::new(),
        };
        let method_inst = self.method_instantiation(md);
        let m = meta.method(rid).ok()?;
        let mut s = format!("{owner}.{}", m.name);
        if !method_inst.is_empty() {
            s.push('[');
            for (i, a) in method_inst.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push('[');
                s.push_str(&self.type_string(*a, true)?);
                s.push(']');
            }
            s.push(']');
        }
        let params = decode_method_params(m.signature).unwrap_or_default();
        let params: Vec<String> = params.iter().map(|p| self.sig_type(&meta, p, &class_inst, &method_inst, 0)).collect();
        s.push('(');
        s.push_str(&params.join(", "));
        s.push(')');
        Some(s).filter(|n| n.len() <= MAX_LEN)
    }

    /// `Type.Method(params)` for a MethodDef row of a module without a MethodDesc (its
    /// owner open, its type variables unsubstituted).
    pub fn method_def_name(&self, module: u64, owner_rid: u32, rid: u32) -> Option<String> {
        let meta = self.metadata(module)?;
        let owner = meta.type_full_name(owner_rid).ok()?;
        let m = meta.method(rid).ok()?;
        let params = decode_method_params(m.signature).unwrap_or_default();
        let params: Vec<String> = params.iter().map(|p| self.sig_type(&meta, p, &[], &[], 0)).collect();
        Some(format!("{owner}.{}({})", m.name, params.join(", ")))
    }
}

fn array_suffix(rank: usize) -> String {
    match rank {
        0 => "[]".into(),
        n => format!("[{}]", ",".repeat(n - 1)),
    }
}

/// A TypeDef's or TypeRef's own namespace and name (a nested type has no namespace of its
/// own); a TypeSpec prints nothing, as in `SigFormat`.
fn own_name(meta: &MetadataReader, t: Token) -> String {
    let (ns, name) = match t.table() {
        Some(TableId::TypeDef) => match meta.typedef(t.rid()) {
            Ok(d) => (d.namespace, d.name),
            Err(_) => return String::new(),
        },
        Some(TableId::TypeRef) => match meta.typeref(t.rid()) {
            Ok(r) => (r.namespace, r.name),
            Err(_) => return String::new(),
        },
        _ => return String::new(),
    };
    if ns.is_empty() { name.to_string() } else { format!("{ns}.{name}") }
}

/// The short name `SigFormat` gives a primitive type.
fn primitive_short_name(full: &str) -> Option<&'static str> {
    Some(match full {
        "System.Void" => "Void",
        "System.Boolean" => "Boolean",
        "System.SByte" => "SByte",
        "System.Byte" => "Byte",
        "System.Int16" => "Int16",
        "System.UInt16" => "UInt16",
        "System.Char" => "Char",
        "System.IntPtr" => "IntPtr",
        "System.UIntPtr" => "UIntPtr",
        "System.Int32" => "Int32",
        "System.UInt32" => "UInt32",
        "System.Int64" => "Int64",
        "System.UInt64" => "UInt64",
        "System.Single" => "Single",
        "System.Double" => "Double",
        "System.TypedReference" => "TypedReference",
        _ => return None,
    })
}

/// The module holding a MethodTable's metadata (a generic instantiation's canonical
/// MethodTable's) and its TypeDef row.
pub fn mt_module_and_rid(rt: &Runtime, mt: u64) -> Option<(u64, u32)> {
    let space = &rt.space;
    let l = &rt.layout.method_table;
    let v = space.read_ptr(mt.wrapping_add(l.ee_class_or_canon)).ok()?;
    let canon = if v & 1 != 0 { v & !1 } else { mt };
    let module = space.read_ptr(canon.wrapping_add(l.module)).ok()?;
    let rid = match l.token {
        TokenField::U16At10 => space.read_u16(mt.wrapping_add(10)).ok()? as u32,
        TokenField::UpperBitsOfFlags2 => space.read_u32(mt.wrapping_add(l.flags2)).ok()? >> 8,
    };
    Some((module, rid))
}

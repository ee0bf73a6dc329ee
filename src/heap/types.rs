//! MethodTables and the names SOS gives them.
//!
//! A MethodTable (`MethodTable*` is what an object's first word points to, low 3 bits
//! masked) gives the object's size (`BaseSize`, plus `ComponentSize` per element when
//! the flags say so), its module and TypeDef token, and for generic instantiations and
//! arrays the TypeHandles of its arguments or element. Names are built the way ClrMD
//! (and so dotnet-dump) prints them: `Namespace.Outer+Inner`, generic arguments handed
//! out along the nesting chain by each part's own arity (`Outer<A>+Inner<B>`),
//! `Elem[]`, `Elem[,]`, and ClrMD's `Elem<*>` for a rank-1 multi-dimensional array.
//! Unlike dotnet-dump, types emitted at run time are named from the module's in-memory
//! metadata, arrays and instantiations over them included.
use crate::heap::Heap;
use crate::metadata::{MetadataReader, with_generic_args};
use crate::runtime::layouts::*;
use crate::runtime::modules::load_metadata;
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Deepest nesting of type arguments and array elements followed when naming.
const MAX_NAME_DEPTH: usize = 32;
/// More generic arguments than this is a corrupt dictionary.
const MAX_TYPE_ARGS: u16 = 256;
/// Most type handles visited, and longest name built, for one name. Depth alone does not
/// bound the work: a damaged dictionary whose arguments are the type itself would make
/// `args^depth` visits and a name as long.
const MAX_NAME_NODES: usize = 4096;
pub(crate) const MAX_NAME_LEN: usize = 64 << 10;

/// The work left for building one type name (see [`MAX_NAME_NODES`]).
pub(crate) struct NameBudget(std::cell::Cell<usize>);

impl NameBudget {
    pub(crate) fn new() -> NameBudget {
        NameBudget(std::cell::Cell::new(MAX_NAME_NODES))
    }

    /// Takes one visit, or fails when the budget is spent.
    pub(crate) fn spend(&self) -> Result<()> {
        match self.0.get().checked_sub(1) {
            Some(left) => {
                self.0.set(left);
                Ok(())
            }
            None => bail!("type name too large (a damaged generic dictionary?)"),
        }
    }
}

/// Fails when a name being built has grown past [`MAX_NAME_LEN`].
pub(crate) fn check_name_len(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN {
        bail!("type name too long (a damaged generic dictionary?)");
    }
    Ok(())
}

/// What the walk needs to size an object: read once per MethodTable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtSize {
    pub base_size: u32,
    /// 0 when the type has no components.
    pub component_size: u16,
}

impl MtSize {
    /// The object's size in bytes, given its component count, as SOS reports it
    /// (not rounded up to the allocation alignment, at least the minimum object size).
    #[inline]
    pub fn object_size(self, count: u32) -> u64 {
        let size = self.base_size as u64 + self.component_size as u64 * count as u64;
        size.max(MIN_OBJECT_SIZE)
    }
}

/// dumpheap's name for a type that cannot be named.
fn unknown_type_name(mt: u64) -> String {
    format!("<unknown_type_{mt:x}>")
}

/// The smallest object on a 64-bit heap (header, MethodTable, one field).
pub const MIN_OBJECT_SIZE: u64 = 24;

/// Rounds an object size up to the heap's 8-byte allocation alignment.
#[inline]
pub fn align_object(size: u64) -> u64 {
    (size + 7) & !7
}

/// Facts about a MethodTable beyond its size.
#[derive(Debug, Clone)]
pub struct MethodTableInfo {
    pub address: u64,
    pub flags: u32,
    pub base_size: u32,
    pub component_size: u16,
    pub module: u64,
    pub token: u32,
    pub parent: u64,
    /// The EEClass (through the canonical MethodTable for generic instantiations).
    pub ee_class: u64,
}

impl MethodTableInfo {
    pub fn is_array(&self) -> bool {
        self.flags & MTF_CATEGORY_ARRAY_MASK == MTF_CATEGORY_ARRAY
    }
    pub fn is_value_type(&self) -> bool {
        self.flags & MTF_CATEGORY_ARRAY_MASK == MTF_CATEGORY_VALUETYPE
    }
    pub fn contains_pointers(&self) -> bool {
        self.flags & MTF_CONTAINS_POINTERS != 0
    }
    pub fn has_finalizer(&self) -> bool {
        self.flags & MTF_HAS_FINALIZER != 0
    }
    fn has_component_size(&self) -> bool {
        self.flags & MTF_HAS_COMPONENT_SIZE != 0
    }
    fn is_generic(&self) -> bool {
        !self.has_component_size() && self.flags & MTF_GENERICS_MASK != 0
    }
}

/// Caches of MethodTable facts, metadata readers and names for one dump.
#[derive(Default)]
pub struct TypeCache {
    /// `None` for a MethodTable that could not be named.
    names: Mutex<HashMap<u64, Option<Arc<str>>>>,
    metadata: Mutex<HashMap<u64, Option<Arc<MetadataReader>>>>,
}

impl Heap {
    /// Reads the size-relevant part of a MethodTable.
    pub fn mt_size(&self, mt: u64) -> Result<MtSize> {
        let l = &self.runtime.layout.method_table;
        let flags = self.space().read_u32(mt.wrapping_add(l.flags))?;
        let base_size = self.space().read_u32(mt.wrapping_add(l.base_size))?;
        let component_size = if flags & MTF_HAS_COMPONENT_SIZE != 0 {
            flags as u16
        } else {
            0
        };
        Ok(MtSize {
            base_size,
            component_size,
        })
    }

    /// Reads a MethodTable.
    pub fn method_table(&self, mt: u64) -> Result<MethodTableInfo> {
        let space = self.space();
        let l = &self.runtime.layout.method_table;
        let flags = space.read_u32(mt.wrapping_add(l.flags))?;
        let token_rid = match l.token {
            TokenField::U16At10 => space.read_u16(mt.wrapping_add(10))? as u32,
            TokenField::UpperBitsOfFlags2 => space.read_u32(mt.wrapping_add(l.flags2))? >> 8,
        };
        let mut info = MethodTableInfo {
            address: mt,
            flags,
            base_size: space.read_u32(mt.wrapping_add(l.base_size))?,
            component_size: if flags & MTF_HAS_COMPONENT_SIZE != 0 {
                flags as u16
            } else {
                0
            },
            module: space.read_ptr(mt.wrapping_add(l.module))?,
            token: 0x0200_0000 | token_rid,
            parent: space.read_ptr(mt.wrapping_add(l.parent))?,
            ee_class: 0,
        };
        let canon = self.canonical_mt(mt)?;
        let class_or_canon = space.read_ptr(canon.wrapping_add(l.ee_class_or_canon))?;
        info.ee_class = if class_or_canon & 1 == 0 {
            class_or_canon
        } else {
            0
        };
        if l.module_is_loader_module && info.is_generic() && canon != mt {
            info.module = space.read_ptr(canon.wrapping_add(l.module))?;
        }
        Ok(info)
    }

    /// The canonical MethodTable of `mt` (itself unless `mt` is a generic instantiation).
    pub fn canonical_mt(&self, mt: u64) -> Result<u64> {
        let v = self.space().read_ptr(mt.wrapping_add(self.runtime.layout.method_table.ee_class_or_canon))?;
        Ok(if v & 1 != 0 { v & !1 } else { mt })
    }

    /// The name of the type with this MethodTable, as dotnet-dump prints it:
    /// `<unknown_type_{mt:x}>` when it cannot be named.
    pub fn type_name(&self, mt: u64) -> Arc<str> {
        self.try_type_name(mt)
            .unwrap_or_else(|| unknown_type_name(mt).into())
    }

    /// The type name of the object at `addr`, when its MethodTable can be named.
    pub fn object_type_name(&self, addr: u64) -> Option<Arc<str>> {
        self.try_type_name(self.object_mt(addr).ok()?)
    }

    /// The name of the type with this MethodTable, or `None` when it cannot be named
    /// (for commands that print something else than `dumpheap`'s placeholder).
    pub fn try_type_name(&self, mt: u64) -> Option<Arc<str>> {
        if let Some(n) = self.types.names.lock().expect("name cache").get(&mt) {
            return n.clone();
        }
        let name: Option<Arc<str>> = self.compute_name(mt, 0, &NameBudget::new()).ok().map(Into::into);
        self.types
            .names
            .lock()
            .expect("name cache")
            .insert(mt, name.clone());
        name
    }

    fn compute_name(&self, mt: u64, depth: usize, budget: &NameBudget) -> Result<String> {
        if depth > MAX_NAME_DEPTH {
            bail!("type nesting too deep");
        }
        budget.spend()?;
        if mt == self.runtime.globals.free_mt {
            return Ok("Free".into());
        }
        let info = self.method_table(mt)?;
        if info.is_array() {
            let element = self.space().read_ptr(mt.wrapping_add(self.runtime.layout.method_table.per_inst_info))?;
            let element_name = self.type_handle_name(element, depth + 1, budget)?;
            let suffix = if info.flags & MTF_IS_SZARRAY != 0 {
                "[]".to_string()
            } else {
                let rank = (info.base_size.saturating_sub(24) / 8).max(1) as usize;
                if rank == 1 {
                    // ClrMD's spelling of the DAC's `[*]`, which dotnet-dump prints.
                    "<*>".to_string()
                } else {
                    format!("[{}]", ",".repeat(rank - 1))
                }
            };
            let name = element_name + &suffix;
            check_name_len(&name)?;
            return Ok(name);
        }
        let md = self
            .module_metadata(info.module)
            .with_context(|| format!("no metadata for module {:#x}", info.module))?;
        let rid = info.token & 0x00ff_ffff;
        let raw = typedef_name(&md, rid)?;
        if !info.is_generic() {
            return Ok(raw);
        }
        let args = self.generic_args(mt)?;
        // ClrMD names a generic definition's own parameters by position within each
        // nesting level (`List<T1>`, `IAdditionOperators<T1, T2, T3>`,
        // `Outer<T1>+Inner<T1>`), whatever the metadata calls them; a nested type without
        // an arity of its own keeps the metadata's name (``Outer`1+Leaf``).
        if !args.is_empty() && args.iter().all(|&th| self.type_var_at(th)) {
            let name = crate::metadata::generic_definition_name(&raw);
            check_name_len(&name)?;
            return Ok(name);
        }
        let names = args
            .iter()
            .enumerate()
            .map(|(i, &th)| match self.type_var_at(th) {
                true => Ok(format!("T{}", i + 1)),
                false => self.type_handle_name(th, depth + 1, budget),
            })
            .collect::<Result<Vec<_>>>()?;
        let name = with_generic_args(&raw, &names);
        check_name_len(&name)?;
        Ok(name)
    }

    /// The TypeHandles of a generic instantiation's own type arguments.
    pub fn generic_args(&self, mt: u64) -> Result<Vec<u64>> {
        let space = self.space();
        let per_inst = space.read_ptr(mt.wrapping_add(self.runtime.layout.method_table.per_inst_info))?;
        if per_inst < 4 {
            return Ok(Vec::new());
        }
        let num_dicts = space.read_u16(per_inst - 4)?;
        let num_args = space.read_u16(per_inst - 2)?;
        if num_dicts == 0 || num_args > MAX_TYPE_ARGS {
            bail!("MethodTable {mt:x} has a corrupt generic dictionary");
        }
        let dict = space.read_ptr(per_inst.wrapping_add(8 * (num_dicts as u64 - 1)))?;
        (0..num_args as u64)
            .map(|i| Ok(space.read_ptr(dict.wrapping_add(8 * i))?))
            .collect()
    }

    fn type_handle_name(&self, th: u64, depth: usize, budget: &NameBudget) -> Result<String> {
        if th & 2 == 0 {
            if depth > 0
                && let Some(n) = self.types.names.lock().expect("name cache").get(&th)
            {
                return Ok(n.as_deref().map_or_else(|| unknown_type_name(th), str::to_string));
            }
            return self.compute_name(th, depth, budget);
        }
        // A TypeDesc: pointer, byref, generic variable or function pointer.
        let (element_type, arg) = self.type_desc(th)?;
        match (element_type, arg) {
            (0x0f | 0x10, Some(arg)) => {
                budget.spend()?;
                let inner = self.type_handle_name(arg, depth + 1, budget)?;
                Ok(inner + if element_type == 0x0f { "*" } else { "&" })
            }
            (0x1b, _) => Ok("FNPTR".into()),
            _ => Ok("T".into()),
        }
    }

    /// Whether a TypeHandle is a generic type parameter (a `VAR` TypeDesc).
    fn type_var_at(&self, th: u64) -> bool {
        th & 2 != 0 && self.type_desc(th).is_ok_and(|(et, _)| et == 0x13)
    }

    /// A TypeDesc TypeHandle (low bit 2 set): its CorElementType and, for a pointer or
    /// byref, the TypeHandle it points to.
    pub fn type_desc(&self, th: u64) -> Result<(u32, Option<u64>)> {
        let desc = th & !3;
        let l = &self.runtime.layout.type_desc;
        let element_type = self.space().read_u32(desc.wrapping_add(l.type_and_flags))? & 0xff;
        let arg = match element_type {
            0x0f | 0x10 => Some(self.space().read_ptr(desc.wrapping_add(l.param_type_arg))?),
            _ => None,
        };
        Ok((element_type, arg))
    }

    /// The metadata of a module, loaded once.
    pub fn module_metadata(&self, module: u64) -> Option<Arc<MetadataReader>> {
        if module == 0 {
            return None;
        }
        let mut cache = self.types.metadata.lock().expect("metadata cache");
        cache
            .entry(module)
            .or_insert_with(|| load_metadata(&self.runtime, module).ok().map(Arc::new))
            .clone()
    }
}

/// The name of TypeDef `rid` of a module's metadata. RID 0 (the nil TypeDef) is the class
/// the runtime makes to hold dynamic methods (LCG), which both the DAC and ClrMD call
/// `(dynamicClass)`.
pub(crate) fn typedef_name(md: &MetadataReader, rid: u32) -> Result<String> {
    if rid == 0 {
        return Ok("(dynamicClass)".to_string());
    }
    Ok(md.type_full_name(rid)?)
}

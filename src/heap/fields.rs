//! The fields of a type, as the runtime lays them out: FieldDescs, the types they hold
//! and where static fields live.
//!
//! A class's EEClass lists only the fields it introduces (instance fields first, then
//! statics; see [`Heap::introduced_fields`]); inherited ones come from the parent chain
//! ([`Heap::parent_chain`]). A field's type is resolved the way the DAC's
//! `FieldDesc::LookupFieldTypeHandle` does it without loading anything: TypeDefs and
//! resolved TypeRefs through the module's lookup maps, generic instantiations and
//! arrays through the loader modules' tables of instantiated types, generic parameters
//! through the enclosing (canonical) type's instantiation. A type the process never
//! loaded has no MethodTable, and is reported as such.
use crate::heap::Heap;
use crate::metadata::{SigType, TableId, Token};
use crate::runtime::layouts::{StaticsLayout, MTF_GENERICS_MASK, MTF_HAS_COMPONENT_SIZE, OBJECT_DATA};
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// CorElementType values used by FieldDescs and SOS.
pub use crate::metadata::signature::et;

/// More FieldDescs than this in one class is a corrupt EEClass.
const MAX_FIELDS: u32 = 1 << 16;
/// Deepest parent chain followed.
const MAX_PARENTS: usize = 64;
/// Longest hash chain or bucket array followed in a type table.
const MAX_TABLE_ENTRIES: usize = 1 << 20;
/// Deepest signature nesting resolved.
const MAX_SIG_DEPTH: usize = 32;

/// One FieldDesc (16 bytes, the same on .NET 8, 9 and 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDesc {
    pub address: u64,
    /// The MethodTable the FieldDesc belongs to (canonical for generic types).
    pub enclosing_mt: u64,
    /// FieldDef row id.
    pub rid: u32,
    pub is_static: bool,
    pub is_thread_static: bool,
    pub is_rva: bool,
    /// Offset from the first byte after the MethodTable pointer (instance fields) or
    /// from the statics base (static fields).
    pub offset: u32,
    /// The CorElementType the runtime stored (CLASS for every reference type).
    pub element_type: u8,
}

impl FieldDesc {
    pub fn token(&self) -> u32 {
        0x0400_0000 | self.rid
    }
    /// Whether the field lives in the GC statics (a reference or a boxed struct).
    pub fn is_gc_static(&self) -> bool {
        self.element_type == et::CLASS || self.element_type == et::VALUETYPE
    }
}

/// A field of a type, as [`Heap::type_fields`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub desc: FieldDesc,
    /// The class of the parent chain that introduces the field (for a static field, the
    /// type whose statics hold it).
    pub class: u64,
    /// The FieldDef's name (empty when the metadata cannot be read).
    pub name: String,
}

impl Field {
    pub fn is_static(&self) -> bool {
        self.desc.is_static
    }
    /// A thread-static field (one value per thread).
    pub fn is_thread_static(&self) -> bool {
        self.desc.is_static && self.desc.is_thread_static
    }
    pub fn element_type(&self) -> u8 {
        self.desc.element_type
    }
    /// The FieldDesc's offset: from the first byte of an object's or struct's data
    /// (instance fields), or from the statics base.
    pub fn offset(&self) -> u32 {
        self.desc.offset
    }
    /// An instance field's offset from its object's address (past the MethodTable pointer).
    pub fn object_offset(&self) -> u64 {
        self.desc.offset as u64 + OBJECT_DATA
    }
    pub fn token(&self) -> u32 {
        self.desc.token()
    }
    /// Whether the field's value is stored inline (a primitive or a struct).
    pub fn is_value_type(&self) -> bool {
        crate::heap::value::is_value_type(self.desc.element_type)
    }
}

/// A type's fields, parents' first, and how the list ended.
#[derive(Debug)]
pub struct FieldList {
    pub fields: Vec<Field>,
    pub end: FieldListEnd,
}

/// How a field list ended.
#[derive(Debug)]
pub enum FieldListEnd {
    /// Every field was read.
    Complete,
    /// A class's FieldDescs could not be read (SOS: "Unable to display fields"); the
    /// fields before it are listed.
    Unreadable,
    /// The type's parent chain or a class's EEClass could not be read.
    Failed(anyhow::Error),
}

/// A class's field counts, from its EEClass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassFieldCounts {
    /// Instance fields, inherited ones included.
    pub instance: u32,
    /// Static fields introduced by this class (thread statics included).
    pub statics: u32,
    /// The first FieldDesc introduced by this class (0 when none).
    pub list: u64,
}

/// Where a static field's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticLocation {
    /// The field's storage (for a struct in the GC statics: the slot holding its box).
    At(u64),
    /// The type's statics are not allocated (its class constructor has not run).
    NotAllocated,
    /// .NET 8 "dynamic" statics (generic instantiations, emitted types): SOS cannot
    /// display them.
    Dynamic,
    /// The module keeps no statics block.
    Unavailable,
}

/// Identity of an instantiated type in a loader module's table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ParamKey {
    Inst { module: u64, token: u32, args: Vec<u64> },
    Array { element: u64, rank: u32, sz: bool },
    Pointer { element: u64 },
}

/// Caches of type-loader tables for one dump.
#[derive(Default)]
pub struct LoaderCache {
    param_tables: Mutex<HashMap<u64, Arc<HashMap<ParamKey, u64>>>>,
    core_types: Mutex<HashMap<&'static str, Option<u64>>>,
}

impl Heap {
    /// The field counts of the class of `mt` (through its canonical MethodTable).
    pub fn class_field_counts(&self, mt: u64) -> Result<ClassFieldCounts> {
        let info = self.method_table(mt)?;
        let ee = info.ee_class;
        if ee == 0 {
            bail!("MethodTable {mt:x} has no EEClass");
        }
        let space = self.space();
        let layout = &self.runtime.layout.ee_class;
        let (instance, statics) = match layout.counts {
            crate::runtime::layouts::EEClassCounts::Packed => {
                let packed = ee.wrapping_add(space.read_u8(ee.wrapping_add(50))? as u64);
                (space.read_u32(packed)?, space.read_u32(packed.wrapping_add(8))?)
            }
            crate::runtime::layouts::EEClassCounts::Fixed {
                num_instance_fields,
                num_static_fields,
                ..
            } => (
                space.read_u16(ee.wrapping_add(num_instance_fields))? as u32,
                space.read_u16(ee.wrapping_add(num_static_fields))? as u32,
            ),
        };
        if instance > MAX_FIELDS || statics > MAX_FIELDS {
            bail!("EEClass {ee:x} has a corrupt field count");
        }
        Ok(ClassFieldCounts {
            instance,
            statics,
            list: space.read_ptr(ee.wrapping_add(layout.field_desc_list))?,
        })
    }

    /// `EEClass.NumNonVirtualSlots` of the class of `mt` on 8 (entry 10 of its packed
    /// counts: 2 for seed's `DocumentCache`, whose `.cctor` and `.ctor` sit in the
    /// MethodTable's non-virtual slots, as `dumpclass`'s "Total Method Slots" says);
    /// `None` on 9 and 10, whose EEClass keeps no such count.
    pub fn class_non_virtual_slots(&self, mt: u64) -> Result<Option<u32>> {
        let ee = self.method_table(mt)?.ee_class;
        match self.runtime.layout.ee_class.counts {
            crate::runtime::layouts::EEClassCounts::Packed => {
                let space = self.space();
                let packed = ee.wrapping_add(space.read_u8(ee.wrapping_add(50))? as u64);
                Ok(Some(space.read_u32(packed.wrapping_add(40))?))
            }
            crate::runtime::layouts::EEClassCounts::Fixed { .. } => Ok(None),
        }
    }

    /// Reads the FieldDesc at `addr`.
    pub fn field_desc(&self, addr: u64) -> Result<FieldDesc> {
        let b = self.space().read_array::<16>(addr)?;
        let enclosing_mt = u64::from_le_bytes(b[0..8].try_into().expect("8 bytes"));
        let w1 = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes"));
        let w2 = u32::from_le_bytes(b[12..16].try_into().expect("4 bytes"));
        Ok(FieldDesc {
            address: addr,
            enclosing_mt,
            rid: w1 & 0x00ff_ffff,
            is_static: w1 & (1 << 24) != 0,
            is_thread_static: w1 & (1 << 25) != 0,
            is_rva: w1 & (1 << 26) != 0,
            offset: w2 & 0x07ff_ffff,
            element_type: (w2 >> 27) as u8,
        })
    }

    /// The FieldDescs the class of `mt` introduces, in the order SOS reads them: from
    /// the start of its list, until `inherited + own` instance fields and its static
    /// fields have been seen. `inherited_instance` is the parent's instance count.
    pub fn introduced_fields(&self, mt: u64, inherited_instance: u32) -> Result<Vec<FieldDesc>> {
        let counts = self.class_field_counts(mt)?;
        let mut fields = Vec::new();
        let (mut instance, mut statics) = (inherited_instance, 0u32);
        let mut addr = counts.list;
        while instance < counts.instance || statics < counts.statics {
            if addr == 0 || fields.len() as u32 >= MAX_FIELDS {
                bail!("the field list of MethodTable {mt:x} is corrupt");
            }
            let fd = self.field_desc(addr)?;
            if fd.element_type >= et::MAX {
                bail!("FieldDesc {addr:x} has an invalid element type");
            }
            if fd.is_static {
                statics += 1;
            } else {
                instance += 1;
            }
            fields.push(fd);
            addr += 16;
        }
        Ok(fields)
    }

    /// Every field of the type `mt`, parents' first: for each class from `System.Object`
    /// down, the fields it introduces in FieldDesc order (instance fields, then statics).
    /// A class whose FieldDescs cannot be read ends the list (the fields before it kept).
    pub fn type_fields(&self, mt: u64) -> FieldList {
        let mut fields = Vec::new();
        let chain = match self.parent_chain(mt) {
            Ok(c) => c,
            Err(e) => return FieldList { fields, end: FieldListEnd::Failed(e) },
        };
        let mut inherited = 0u32;
        for class in chain {
            let counts = match self.class_field_counts(class) {
                Ok(c) => c,
                Err(e) => return FieldList { fields, end: FieldListEnd::Failed(e) },
            };
            let Ok(introduced) = self.introduced_fields(class, inherited) else {
                return FieldList { fields, end: FieldListEnd::Unreadable };
            };
            inherited = counts.instance.max(inherited);
            for desc in introduced {
                let name = self.field_name(&desc).unwrap_or_default();
                fields.push(Field { desc, class, name });
            }
        }
        FieldList { fields, end: FieldListEnd::Complete }
    }

    /// The field's type as SOS's field table names it: the loaded type's DAC name
    /// (`type_mt`, from [`Heap::field_type_mt`]), else what the signature says: a
    /// primitive's name, `SZARRAY`, blank for a generic instantiation, and for a class
    /// the TypeDef of the same row in the field's module (SOS asks the token as a TypeDef,
    /// whatever table it names).
    pub fn dac_field_type_name(&self, fd: &FieldDesc, type_mt: Option<u64>) -> Option<String> {
        use crate::heap::value::{element_type_full_name, sig_element_type};
        match type_mt {
            Some(t) if fd.element_type == et::VALUETYPE || fd.element_type == et::CLASS => self.dac_type_name(t).ok(),
            _ => {
                let sig = self.field_sig(fd);
                let token_of_type = match &sig {
                    Some(SigType::Class(t)) | Some(SigType::ValueType(t)) => Some(t.0),
                    _ => None,
                };
                Some(if fd.element_type == et::CLASS && let Some(token) = token_of_type {
                    let as_typedef = token | 0x0200_0000;
                    if as_typedef >> 24 == 0x02 {
                        self.method_table(fd.enclosing_mt)
                            .ok()
                            .and_then(|i| self.module_metadata(i.module))
                            .and_then(|md| md.type_full_name(as_typedef & 0x00ff_ffff).ok())
                            .unwrap_or_default()
                    } else {
                        String::new()
                    }
                } else {
                    let sig_type = if type_mt.is_none() && token_of_type.is_none() {
                        sig.as_ref().map_or(fd.element_type, sig_element_type)
                    } else {
                        fd.element_type
                    };
                    element_type_full_name(sig_type)
                })
            }
        }
    }

    /// `mt` and its ancestors, `System.Object` first.
    pub fn parent_chain(&self, mt: u64) -> Result<Vec<u64>> {
        let mut chain = vec![mt];
        let mut cur = mt;
        loop {
            let parent = self.method_table(cur)?.parent;
            if parent == 0 {
                break;
            }
            if chain.len() >= MAX_PARENTS {
                bail!("the parent chain of MethodTable {mt:x} is too long");
            }
            chain.push(parent);
            cur = parent;
        }
        chain.reverse();
        Ok(chain)
    }

    /// The module whose metadata describes a FieldDesc.
    fn field_module(&self, fd: &FieldDesc) -> Result<u64> {
        Ok(self.method_table(fd.enclosing_mt)?.module)
    }

    /// The field's name from its FieldDef row.
    pub fn field_name(&self, fd: &FieldDesc) -> Option<String> {
        let md = self.module_metadata(self.field_module(fd).ok()?)?;
        md.field(fd.rid).ok().map(|f| f.name.to_string())
    }

    /// The field's declared type from its signature.
    pub fn field_sig(&self, fd: &FieldDesc) -> Option<SigType> {
        let md = self.module_metadata(self.field_module(fd).ok()?)?;
        md.field_sig(fd.rid).ok()
    }

    /// The MethodTable of the field's type if the process loaded it (the DAC's
    /// `MTOfType`), resolved without loading anything.
    pub fn field_type_mt(&self, fd: &FieldDesc) -> Option<u64> {
        let sig = self.field_sig(fd)?;
        let module = self.field_module(fd).ok()?;
        let ctx = self.generic_args(fd.enclosing_mt).unwrap_or_default();
        let th = self.resolve_sig(&sig, module, &ctx, 0)?;
        (th & 2 == 0 && th != 0).then_some(th)
    }

    /// Resolves a signature type to a loaded TypeHandle.
    pub fn resolve_sig(&self, sig: &SigType, module: u64, ctx: &[u64], depth: usize) -> Option<u64> {
        if depth > MAX_SIG_DEPTH {
            return None;
        }
        let th = match sig {
            SigType::String => self.runtime.globals.string_mt,
            SigType::Object => self.runtime.globals.object_mt,
            SigType::Class(t) | SigType::ValueType(t) => self.resolve_token(*t, module, ctx, depth)?,
            SigType::GenericInst { generic, args, .. } => {
                let def = self.resolve_token(*generic, module, ctx, depth)?;
                let def_info = self.method_table(def).ok()?;
                let args = args
                    .iter()
                    .map(|a| self.resolve_sig(a, module, ctx, depth + 1))
                    .collect::<Option<Vec<_>>>()?;
                let key = ParamKey::Inst {
                    module: def_info.module,
                    token: def_info.token,
                    args: args.clone(),
                };
                let mut candidates = vec![def_info.module];
                for a in &args {
                    self.collect_modules(*a, &mut candidates, 0);
                }
                self.fully_loaded(self.find_param_type(&key, &candidates)?)?
            }
            SigType::SzArray(e) | SigType::Array { elem: e, .. } => {
                let element = self.resolve_sig(e, module, ctx, depth + 1)?;
                let (rank, sz) = match sig {
                    SigType::Array { rank, .. } => (*rank, false),
                    _ => (1, true),
                };
                let mut candidates = Vec::new();
                self.collect_modules(element, &mut candidates, 0);
                self.fully_loaded(self.find_param_type(&ParamKey::Array { element, rank, sz }, &candidates)?)?
            }
            SigType::Var(n) => *ctx.get(*n as usize)?,
            SigType::Boolean => self.core_type("System.Boolean")?,
            SigType::Char => self.core_type("System.Char")?,
            SigType::I1 => self.core_type("System.SByte")?,
            SigType::U1 => self.core_type("System.Byte")?,
            SigType::I2 => self.core_type("System.Int16")?,
            SigType::U2 => self.core_type("System.UInt16")?,
            SigType::I4 => self.core_type("System.Int32")?,
            SigType::U4 => self.core_type("System.UInt32")?,
            SigType::I8 => self.core_type("System.Int64")?,
            SigType::U8 => self.core_type("System.UInt64")?,
            SigType::R4 => self.core_type("System.Single")?,
            SigType::R8 => self.core_type("System.Double")?,
            SigType::I => self.core_type("System.IntPtr")?,
            SigType::U => self.core_type("System.UIntPtr")?,
            SigType::TypedByRef => self.core_type("System.TypedReference")?,
            // A pointer's TypeHandle answers UIntPtr's MethodTable (when the pointer type
            // was loaded), a function pointer's IntPtr's.
            SigType::Ptr(e) => {
                let element = self.resolve_sig(e, module, ctx, depth + 1)?;
                let mut candidates = Vec::new();
                self.collect_modules(element, &mut candidates, 0);
                self.find_param_type(&ParamKey::Pointer { element }, &candidates)?;
                self.core_type("System.UIntPtr")?
            }
            SigType::Void => self.core_type("System.Void")?,
            SigType::FnPtr => self.core_type("System.IntPtr")?,
            _ => return None,
        };
        (th != 0).then_some(th)
    }

    /// `th` if its type finished loading: a constructed type found in a loader table may
    /// still be loading (the DAC's lookup without loading then answers nothing). The flags
    /// word of the writeable (8) or auxiliary (9, 10) data (`MethodTable.AuxiliaryData`)
    /// has bit 0x40 set while the type is not fully loaded (seen on zoo-net8-wks-heap:
    /// `Nullable<Interop+ErrorInfo>` reads 0x50 and dotnet-dump gives that field no type).
    fn fully_loaded(&self, th: u64) -> Option<u64> {
        if th & 2 != 0 {
            return Some(th);
        }
        let l = &self.runtime.layout.method_table;
        let data = self.space().read_ptr(th.wrapping_add(l.aux_data)).ok()?;
        let flags = self.space().read_u32(data.wrapping_add(l.aux_flags)).ok()?;
        (flags & 0x40 == 0).then_some(th)
    }

    fn resolve_token(&self, token: Token, module: u64, ctx: &[u64], depth: usize) -> Option<u64> {
        let loader = &self.runtime.layout.type_loader;
        match token.table()? {
            TableId::TypeDef => self.lookup_map(module.wrapping_add(loader.typedef_map), token.rid()),
            TableId::TypeRef => self.lookup_map(module.wrapping_add(loader.typeref_map), token.rid()),
            TableId::TypeSpec => {
                let md = self.module_metadata(module)?;
                let sig = md.typespec(token.rid()).ok()?;
                self.resolve_sig(&sig, module, ctx, depth + 1)
            }
            _ => None,
        }
    }

    /// Entry `rid` of a module's `LookupMap` (0 / None when absent).
    fn lookup_map(&self, map: u64, rid: u32) -> Option<u64> {
        crate::runtime::modules::lookup_map_entry(&self.runtime, map, rid)
    }

    /// The MethodTables a module's TypeDef map holds (types of the module it loaded).
    pub fn typedef_method_tables(&self, module: u64) -> Vec<u64> {
        let Some(md) = self.module_metadata(module) else {
            return Vec::new();
        };
        let map = module.wrapping_add(self.runtime.layout.type_loader.typedef_map);
        (1..=md.typedef_count().min(MAX_TABLE_ENTRIES as u32))
            .filter_map(|rid| self.lookup_map(map, rid))
            .filter(|&mt| mt & 2 == 0)
            .collect()
    }

    /// The generic instantiations and arrays a module is the loader module of.
    pub fn param_method_tables(&self, module: u64) -> Vec<u64> {
        let mut mts: Vec<u64> = self.param_table(module).values().copied().collect();
        mts.sort_unstable();
        mts
    }

    /// A CoreLib type's MethodTable by full name, if loaded.
    pub fn core_type(&self, name: &'static str) -> Option<u64> {
        if let Some(v) = self.loader.core_types.lock().expect("core types").get(name) {
            return *v;
        }
        let found = (|| {
            let corelib = self.runtime.globals.core_lib_module;
            let rid = self.module_metadata(corelib)?.find_typedef(name)?;
            self.lookup_map(corelib.wrapping_add(self.runtime.layout.type_loader.typedef_map), rid)
        })();
        self.loader.core_types.lock().expect("core types").insert(name, found);
        found
    }

    /// Adds the modules a type's identity involves (its own, its arguments', its element's).
    fn collect_modules(&self, th: u64, out: &mut Vec<u64>, depth: usize) {
        if depth > MAX_SIG_DEPTH || th & 2 != 0 {
            return;
        }
        let Ok(info) = self.method_table(th) else { return };
        if info.is_array() {
            if let Ok(element) = self.space().read_ptr(th.wrapping_add(self.runtime.layout.method_table.per_inst_info)) {
                self.collect_modules(element, out, depth + 1);
            }
            return;
        }
        if !out.contains(&info.module) {
            out.push(info.module);
        }
        if is_generic_instantiation(info.flags) {
            for a in self.generic_args(th).unwrap_or_default() {
                self.collect_modules(a, out, depth + 1);
            }
        }
    }

    fn find_param_type(&self, key: &ParamKey, modules: &[u64]) -> Option<u64> {
        modules
            .iter()
            .find_map(|&m| self.param_table(m).get(key).copied())
    }

    /// The index of a module's table of instantiated types (built once).
    fn param_table(&self, module: u64) -> Arc<HashMap<ParamKey, u64>> {
        if let Some(t) = self.loader.param_tables.lock().expect("param tables").get(&module) {
            return t.clone();
        }
        let table = Arc::new(self.read_param_table(module).unwrap_or_default());
        self.loader
            .param_tables
            .lock()
            .expect("param tables")
            .insert(module, table.clone());
        table
    }

    fn read_param_table(&self, module: u64) -> Result<HashMap<ParamKey, u64>> {
        let space = self.space();
        let l = &self.runtime.layout.type_loader;
        let mut index = HashMap::new();
        let table = space.read_ptr(module.wrapping_add(l.available_param_types))?;
        if table == 0 {
            return Ok(index);
        }
        let buckets = space.read_ptr(table.wrapping_add(l.hash_buckets))?;
        let length = space.read_ptr(buckets)? as usize;
        if length > MAX_TABLE_ENTRIES {
            bail!("type table {table:x} has {length} buckets");
        }
        let mut seen = 0usize;
        for slot in 0..length as u64 {
            let mut entry = space.read_ptr(buckets.wrapping_add(8 * (3 + slot)))?;
            while entry != 0 && entry & 1 == 0 {
                seen += 1;
                if seen > MAX_TABLE_ENTRIES {
                    bail!("type table {table:x} has too many entries");
                }
                let th = space.read_ptr(entry.wrapping_add(l.hash_entry_value))?;
                if let Some(key) = self.param_key(th) {
                    index.entry(key).or_insert(th);
                }
                entry = space.read_ptr(entry.wrapping_add(l.hash_entry_next))?;
            }
        }
        Ok(index)
    }

    fn param_key(&self, th: u64) -> Option<ParamKey> {
        if th & 2 != 0 {
            let desc = th & !3;
            let l = &self.runtime.layout.type_desc;
            if self.space().read_u32(desc.wrapping_add(l.type_and_flags)).ok()? & 0xff != 0x0f {
                return None;
            }
            let element = self.space().read_ptr(desc.wrapping_add(l.param_type_arg)).ok()?;
            return Some(ParamKey::Pointer { element });
        }
        if th == 0 {
            return None;
        }
        let info = self.method_table(th).ok()?;
        if info.is_array() {
            let element = self.space().read_ptr(th.wrapping_add(self.runtime.layout.method_table.per_inst_info)).ok()?;
            let sz = info.flags & crate::runtime::layouts::MTF_IS_SZARRAY != 0;
            let rank = if sz { 1 } else { (info.base_size.saturating_sub(24) / 8).max(1) };
            return Some(ParamKey::Array { element, rank, sz });
        }
        if !is_generic_instantiation(info.flags) {
            return None;
        }
        Some(ParamKey::Inst {
            module: info.module,
            token: info.token,
            args: self.generic_args(th).ok()?,
        })
    }

    /// Where static field `fd` of the type `mt` (the exact instantiation) is stored.
    pub fn static_location(&self, mt: u64, fd: &FieldDesc) -> StaticLocation {
        let space = self.space();
        match self.runtime.layout.type_loader.statics {
            StaticsLayout::DomainLocalModule { module_id, gc_statics } => {
                let Ok(info) = self.method_table(mt) else {
                    return StaticLocation::Unavailable;
                };
                let Ok(dlm) = space.read_ptr(info.module.wrapping_add(module_id)) else {
                    return StaticLocation::Unavailable;
                };
                if dlm == 0 {
                    return StaticLocation::Unavailable;
                }
                let base = if fd.is_gc_static() {
                    match space.read_ptr(dlm.wrapping_add(gc_statics)) {
                        Ok(b) => b,
                        Err(_) => return StaticLocation::Unavailable,
                    }
                } else {
                    dlm
                };
                if base == 0 {
                    return StaticLocation::NotAllocated;
                }
                // enum_flag_StaticsMask (low flags, when there is no component size).
                if info.flags & MTF_HAS_COMPONENT_SIZE == 0 && info.flags & 0x6 != 0 {
                    return StaticLocation::Dynamic;
                }
                StaticLocation::At(base.wrapping_add(fd.offset as u64))
            }
            StaticsLayout::DynamicStaticsInfo {
                info_size,
                gc_statics,
                non_gc_statics,
                pointer_mask,
            } => {
                let Ok(aux) = space.read_ptr(mt.wrapping_add(self.runtime.layout.method_table.aux_data)) else {
                    return StaticLocation::Unavailable;
                };
                if aux == 0 {
                    return StaticLocation::Unavailable;
                }
                let field = if fd.is_gc_static() { gc_statics } else { non_gc_statics };
                let Ok(base) = space.read_ptr(aux.wrapping_sub(info_size).wrapping_add(field)) else {
                    return StaticLocation::Unavailable;
                };
                let base = base & pointer_mask;
                if base == 0 {
                    return StaticLocation::NotAllocated;
                }
                StaticLocation::At(base.wrapping_add(fd.offset as u64))
            }
        }
    }
}

/// Whether MethodTable flags describe a generic instantiation.
pub fn is_generic_instantiation(flags: u32) -> bool {
    flags & MTF_HAS_COMPONENT_SIZE == 0 && flags & MTF_GENERICS_MASK != 0
}

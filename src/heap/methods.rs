//! A MethodTable's methods and its module's file, for `dumpmt` and `name2ee`: the
//! runtime layer reads slots and MethodDescs ([`crate::runtime::methods`]); this names them.
use crate::heap::Heap;
use crate::runtime::methods::{method_table_slots, mt_counts};
pub use crate::runtime::methods::JitKind;
use crate::runtime::modules::module_image;
use crate::runtime::stack::names::{method_desc_name, MetadataCache};
use anyhow::Result;
use std::sync::Arc;
pub use crate::runtime::stack::codemap::CodeKind;
use crate::runtime::stack::gcinfo::{Encoding, GcInfo};

/// One row of `dumpmt -md`.
#[derive(Debug, Clone)]
pub struct MethodRow {
    pub slot: u32,
    pub entry: u64,
    pub method_desc: u64,
    pub jit: JitKind,
    /// `Type.Method(params)`, `None` when it cannot be named.
    pub name: Option<String>,
}

impl Heap {
    /// Whether `mt` looks like a MethodTable: readable, and its EEClass points back to
    /// its canonical MethodTable.
    pub fn is_method_table(&self, mt: u64) -> bool {
        let Ok(info) = self.method_table(mt) else { return false };
        let Ok(canon) = self.canonical_mt(mt) else { return false };
        if info.ee_class == 0 {
            return false;
        }
        self.space()
            .read_ptr(info.ee_class.wrapping_add(self.runtime.layout.ee_class.method_table))
            .is_ok_and(|back| back == canon)
    }

    /// `NumInterfaces` of a MethodTable.
    pub fn interface_count(&self, mt: u64) -> Result<u16> {
        Ok(mt_counts(&self.runtime, mt)?.1)
    }

    /// The path of a module's file (empty for a module emitted at run time).
    pub fn module_path(&self, module: u64) -> Option<String> {
        module_image(&self.runtime, module).ok().map(|i| i.path)
    }

    /// The methods of `module` with IL in its dynamic IL table (what SOS calls profiler
    /// modified IL), in MethodDef order: each one's MethodDesc (from the module's
    /// MethodDef map; a method without one is left out, as it has no code to show) and
    /// its DAC name.
    pub fn profiler_modified_methods(&self, module: u64) -> Vec<(u64, Option<String>)> {
        let Some(meta) = self.module_metadata(module) else { return Vec::new() };
        let Ok(code) = crate::runtime::stack::codemap::CodeMap::new(&self.runtime) else { return Vec::new() };
        let mut out = Vec::new();
        for rid in 1..=meta.rows(crate::metadata::TableId::MethodDef) {
            if crate::runtime::code_versions::dynamic_il(&self.runtime, module, 0x0600_0000 | rid).is_none() {
                continue;
            }
            if let Ok(Some(md)) = code.method_def_to_desc(module, rid) {
                let name = self.method_desc_report(md, None).ok().and_then(|r| r.name);
                out.push((md, name));
            }
        }
        out
    }

    /// The methods `dumpmt -md` lists for a MethodTable.
    pub fn method_rows(&self, mt: u64) -> Result<Vec<MethodRow>> {
        let meta_of = |module: u64| self.module_metadata(module);
        let info_of = |m: u64| self.method_table(m).ok().map(|i| (i.module, i.token, i.parent));
        let slots = method_table_slots(&self.runtime, mt, &meta_of, &info_of)?;
        let cache = MetadataCache::default();
        let namer = |m: u64| self.try_type_name(m).map(|n| n.to_string());
        // As the DAC names methods (`GetMethodDescName`, as dumpmd prints them: a generic
        // owner `List`1[[System.__Canon, System.Private.CoreLib]]`, a nested parameter
        // type by its own name), else from the heap's type names.
        let name_of = |md: u64| {
            // A namer (and its budget) per name.
            let dac = crate::runtime::stack::dac_names::DacNamer::new(&self.runtime, &cache);
            dac.method_desc_name(md).or_else(|| method_desc_name(&self.runtime, &cache, &namer, md))
        };
        let mut rows: Vec<MethodRow> = slots
            .into_iter()
            .map(|s| MethodRow {
                slot: s.slot,
                entry: s.entry,
                method_desc: s.method_desc,
                jit: s.jit,
                name: (s.method_desc != 0).then(|| name_of(s.method_desc)).flatten(),
            })
            .collect();
        if self.method_table(mt)?.is_array() {
            let canonical = self.canonical_mt(mt).unwrap_or(mt);
            let array_slots = crate::runtime::methods::array_method_slots(&self.runtime, mt, canonical);
            let first = array_slots.first().map_or(0, |s| s.slot);
            for s in array_slots {
                let name = self.array_method_name(canonical, s.slot.saturating_sub(first));
                rows.push(MethodRow { slot: s.slot, entry: s.entry, method_desc: s.method_desc, jit: s.jit, name });
            }
        }
        Ok(rows)
    }

    /// The name the DAC gives the runtime-provided method `index` of array type `owner`
    /// (the MethodTable its MethodDescs belong to): `Get(Int32, ...)`, `Set(Int32, ...,
    /// T)`, `Address(Int32, ...)`, then the constructors (a multi-dimensional array's take
    /// its lengths, then lower bounds and lengths; a jagged array's one length more each).
    fn array_method_name(&self, owner: u64, index: u32) -> Option<String> {
        use crate::runtime::layouts::MTF_IS_SZARRAY;
        let info = self.method_table(owner).ok()?;
        let sz = info.flags & MTF_IS_SZARRAY != 0;
        let rank = if sz { 1 } else { (info.base_size.saturating_sub(24) / 8).max(1) as usize };
        let element = self.space().read_ptr(owner.wrapping_add(self.runtime.layout.method_table.per_inst_info)).ok()?;
        let element_name = self.param_type_name(element, 0)?;
        let ints = |n: usize| vec!["Int32".to_string(); n];
        let (method, params) = match index {
            0 => ("Get", ints(rank)),
            1 => ("Set", {
                let mut p = ints(rank);
                p.push(element_name);
                p
            }),
            2 => ("Address", ints(rank)),
            k => (".ctor", if sz { ints(k as usize - 2) } else if k == 3 { ints(rank) } else { ints(2 * rank) }),
        };
        let owner_name = self.dac_type_name(owner).ok()?;
        Some(format!("{owner_name}.{method}({})", params.join(", ")))
    }

    /// A TypeHandle named as the DAC names a parameter's type in a method's name
    /// (`Int32`, `System.String`, `Byte[]`, a nested type by its own name, generic
    /// arguments in `<>` without spaces: `Entry<Int64,System.String>`).
    fn param_type_name(&self, th: u64, depth: usize) -> Option<String> {
        use crate::heap::fields::et;
        use crate::runtime::layouts::MTF_IS_SZARRAY;
        if depth > 16 || th & 2 != 0 {
            return None;
        }
        let info = self.method_table(th).ok()?;
        if info.is_array() {
            let element = self.space().read_ptr(th.wrapping_add(self.runtime.layout.method_table.per_inst_info)).ok()?;
            let rank = if info.flags & MTF_IS_SZARRAY != 0 { 1 } else { (info.base_size.saturating_sub(24) / 8).max(1) as usize };
            return Some(format!("{}[{}]", self.param_type_name(element, depth + 1)?, ",".repeat(rank - 1)));
        }
        match self.array_element_type(th) {
            et::CLASS | et::VALUETYPE => {
                let meta = self.module_metadata(info.module)?;
                // A nested type by its own name (the TypeDef's name without its encloser).
                let t = meta.typedef(info.token & 0x00ff_ffff).ok()?;
                let name = if t.namespace.is_empty() { t.name.to_string() } else { format!("{}.{}", t.namespace, t.name) };
                if !crate::heap::fields::is_generic_instantiation(info.flags) {
                    return Some(name);
                }
                let args = self.generic_args(th).ok()?;
                let args: Option<Vec<String>> = args.iter().map(|&a| self.param_type_name(a, depth + 1)).collect();
                Some(format!("{name}<{}>", args?.join(",")))
            }
            t => Some(crate::heap::value::element_type_name(t).to_string()),
        }
    }
}

impl Heap {
    /// Whether the MethodDesc a stack trace element names can be read at all: SOS's
    /// `FormatGeneratedException` leaves out a frame whose MethodDesc it cannot read (a
    /// weaker test than [`Heap::is_method_desc`], which would drop more frames).
    pub fn method_desc_readable(&self, md: u64) -> bool {
        md != 0 && self.space().read_u16(md).is_ok()
    }

    /// Whether `md` is a MethodDesc as SOS checks one: 8-byte aligned, its chunk's
    /// MethodTable a MethodTable, and its token a MethodDef of that type's module.
    pub fn is_method_desc(&self, md: u64) -> bool {
        if md == 0 || md % 8 != 0 {
            return false;
        }
        let Ok((mt, rid)) = crate::runtime::stack::names::method_desc_token(&self.runtime, md) else { return false };
        if !self.is_method_table(mt) {
            return false;
        }
        let Ok(info) = self.method_table(mt) else { return false };
        match self.module_metadata(info.module) {
            Some(meta) => rid != 0 && rid <= meta.rows(crate::metadata::TableId::MethodDef),
            None => rid != 0,
        }
    }

    /// What `dumpmd` (and `ip2md`) report about a MethodDesc: its name and the DAC's
    /// `GetMethodDescData` facts.
    pub fn method_desc_report(&self, md: u64, code_at_ip: Option<&crate::runtime::stack::codemap::CodeInfo>) -> Result<MethodDescReport> {
        let data = crate::runtime::code_versions::method_desc_data(&self.runtime, md, code_at_ip)?;
        let name = crate::runtime::stack::clrstack::SourceLines::new(&self.runtime).method_name(md);
        Ok(MethodDescReport { name, data })
    }
}

/// A MethodDesc as `dumpmd` prints it.
#[derive(Debug, Clone)]
pub struct MethodDescReport {
    /// The DAC's name, `None` when it cannot be made.
    pub name: Option<String>,
    pub data: crate::runtime::code_versions::MethodDescData,
}

impl Heap {
    /// The modules of the AppDomain's assemblies, in load order (ClrMD's
    /// `EnumerateModules`).
    pub fn domain_modules(&self) -> Result<Vec<u64>> {
        crate::runtime::modules::app_domain_modules(&self.runtime)
    }

    /// A module's loaded TypeDefs: `(token, MethodTable)` from its
    /// `TypeDefToMethodTableMap`, in token order (ClrMD's `EnumerateTypeDefToMethodTableMap`
    /// less its empty entries).
    pub fn type_def_method_tables(&self, module: u64) -> Vec<(u32, u64)> {
        let map = module.wrapping_add(self.runtime.layout.type_loader.typedef_map);
        crate::runtime::modules::lookup_map_entries(&self.runtime, map)
            .into_iter()
            .map(|(rid, mt)| (0x0200_0000 | rid, mt))
            .collect()
    }

    /// A method's current native code, `None` when it has none.
    pub fn method_native_code(&self, md: u64) -> Option<u64> {
        crate::runtime::code_versions::method_desc_data(&self.runtime, md, None).ok()?.native_code
    }
}

impl Heap {
    /// Whether a module was emitted at run time (no image, no file).
    pub fn module_is_dynamic(&self, module: u64) -> bool {
        crate::runtime::modules::module_image(&self.runtime, module).is_ok_and(|i| i.base == 0 && i.path.is_empty())
    }
}

/// What SOS's `DisplayClassDetails` reports about a type (`dumpclass`, `dumpmt -all`).
#[derive(Debug, Clone)]
pub struct ClassDetails {
    /// The TypeDef's `TypeAttributes` (0 when the metadata cannot be read).
    pub attributes: u32,
    /// `NumVirtuals`.
    pub virtuals: u16,
    /// The vtable's slots: the virtual ones and the non-virtual slots the MethodTable
    /// keeps (the EEClass's count of them on 8; 9 and 10 print none).
    pub vtable_slots: u32,
    /// Instance fields, inherited ones included.
    pub instance_fields: u32,
    /// Static fields introduced by the class (thread statics included).
    pub static_fields: u32,
    pub thread_static_fields: u32,
}

impl Heap {
    /// Resolves `dumpclass`'s argument: an EEClass on 8 (its MethodTable, which must point
    /// back to it), a MethodTable on 9 and 10 (which have no EEClass address to give).
    pub fn class_method_table(&self, addr: u64) -> Option<u64> {
        if self.runtime.version.major >= 9 {
            return self.is_method_table(addr).then_some(addr);
        }
        let mt = self.space().read_ptr(addr.wrapping_add(self.runtime.layout.ee_class.method_table)).ok()?;
        (self.is_method_table(mt) && self.method_table(mt).ok()?.ee_class == addr).then_some(mt)
    }

    /// The class details of a MethodTable.
    pub fn class_details(&self, mt: u64) -> Result<ClassDetails> {
        let info = self.method_table(mt)?;
        // An array's class has no TypeDef: the runtime gives it public, serializable and
        // sealed (0x2101, as dotnet-dump prints for `System.Object[]` on zoo-net8).
        let attributes = if info.is_array() {
            0x2101
        } else {
            self.module_metadata(info.module)
                .and_then(|m| m.typedef(info.token & 0x00ff_ffff).ok().map(|t| t.flags))
                .unwrap_or(0)
        };
        let (virtuals, _) = mt_counts(&self.runtime, mt)?;
        let kept = self.class_non_virtual_slots(mt)?.unwrap_or(0).min(u16::MAX as u32);
        let counts = self.class_field_counts(mt)?;
        let thread_static_fields = self.type_fields(mt).fields.iter().filter(|f| f.is_thread_static()).count() as u32;
        Ok(ClassDetails {
            attributes,
            virtuals,
            vtable_slots: virtuals as u32 + kept,
            instance_fields: counts.instance,
            static_fields: counts.statics,
            thread_static_fields,
        })
    }
}

impl Heap {
    /// A module's file name as dotnet-dump's managed commands print it (`scenarios.dll`;
    /// `<dynamic>` for a module emitted at run time, `<unknown>` for another without a
    /// path).
    pub fn module_file_name(&self, module: u64) -> String {
        let path = self.module_path(module).unwrap_or_default();
        match path.rsplit('/').next() {
            Some(f) if !f.is_empty() => f.to_string(),
            _ if self.module_is_dynamic(module) => "<dynamic>".to_string(),
            _ => "<unknown>".to_string(),
        }
    }

    /// Whether a module answers to `name` as dotnet-dump's managed commands match one:
    /// its file name, with or without extension, or its whole path, ignoring case.
    pub fn module_name_matches(&self, module: u64, name: &str) -> bool {
        module_path_matches(&self.module_path(module).unwrap_or_default(), name)
    }

    /// The MethodDef token of a MethodDesc.
    pub fn method_desc_token(&self, md: u64) -> Option<u32> {
        crate::runtime::stack::names::method_desc_token(&self.runtime, md).ok().map(|(_, rid)| 0x0600_0000 | rid)
    }
}

/// [`Heap::module_name_matches`] on a path.
pub fn module_path_matches(path: &str, name: &str) -> bool {
    if path.is_empty() {
        return false;
    }
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = match file.rfind('.') {
        Some(dot) if dot > 0 => &file[..dot],
        _ => file,
    };
    let name = name.to_lowercase();
    [file, stem, path].iter().any(|c| c.to_lowercase() == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_names_match_as_dotnet_dump_matches_them() {
        use super::module_path_matches as m;
        assert!(m("/x/y/scenarios.dll", "SCENARIOS"));
        assert!(m("/x/y/scenarios.dll", "scenarios.dll"));
        assert!(m("/x/y/scenarios.dll", "/x/y/scenarios.dll"));
        assert!(!m("/x/y/scenarios.dll", "y/scenarios.dll"));
        assert!(!m("", "scenarios.dll"));
    }
}

/// A method's IL as `dumpil` finds it.
#[derive(Debug, Clone)]
pub enum MethodIl {
    /// The MethodDesc has no MethodDef token (an IL stub).
    NoToken,
    /// The method has no IL address (abstract, runtime-implemented, an internal call; or
    /// a module whose IL clrheap does not locate).
    NoAddress,
    /// There is an IL address, but no method body can be read there.
    Unreadable { address: u64, module: u64 },
    /// The body, and the metadata of its module to name its tokens.
    Body {
        module: u64,
        /// The IL is the module's dynamic IL (SOS: "Found profiler modified IL").
        dynamic: bool,
        il: crate::runtime::code_versions::IlBody,
        metadata: Option<Arc<crate::metadata::MetadataReader>>,
    },
}

impl Heap {
    /// The IL of a MethodDesc (one [`Heap::is_method_desc`] accepts).
    pub fn method_il(&self, md: u64) -> Result<MethodIl> {
        let (_, rid) = crate::runtime::stack::names::method_desc_token(&self.runtime, md)?;
        if rid == 0 {
            return Ok(MethodIl::NoToken);
        }
        let data = crate::runtime::code_versions::method_desc_data(&self.runtime, md, None)?;
        if data.il_address == 0 {
            return Ok(MethodIl::NoAddress);
        }
        Ok(match crate::runtime::code_versions::read_il_body(&self.runtime, data.il_address) {
            Some(il) => MethodIl::Body { module: data.module, dynamic: data.il_is_dynamic, il, metadata: self.module_metadata(data.module) },
            None => MethodIl::Unreadable { address: data.il_address, module: data.module },
        })
    }

    /// A method body at an address given by the user (`dumpil -i`).
    pub fn il_at(&self, address: u64) -> Option<crate::runtime::code_versions::IlBody> {
        crate::runtime::code_versions::read_il_body(&self.runtime, address)
    }
}

/// The kind of an exception clause, as SOS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EhKind {
    Typed,
    Filter,
    Finally,
    Fault,
}

/// `COR_ILEXCEPTION_CLAUSE_*` flags of native code's clauses.
const EH_FILTER: u32 = 0x1;
const EH_FINALLY: u32 = 0x2;
const EH_FAULT: u32 = 0x4;
const EH_DUPLICATED: u32 = 0x8;

/// One exception clause of a method's native code, offsets from the code's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhClauseReport {
    pub kind: EhKind,
    pub try_start: u32,
    pub try_end: u32,
    pub handler_start: u32,
    pub handler_end: u32,
    /// The filter's offset (a filter clause).
    pub filter: u32,
    /// A clause the JIT copied for a funclet.
    pub duplicate: bool,
    /// A typed clause's catch type, named as SOS names it (`None` for other kinds).
    pub catch_type: Option<String>,
}

/// What `ehinfo` finds for a MethodDesc.
#[derive(Debug, Clone)]
pub enum EhInfo {
    /// The method has no native code.
    NoCode,
    /// Its code is in no code heap or image clrheap reads.
    NoCodeHeader,
    /// The code's start and its clauses.
    Clauses { code: u64, clauses: Vec<EhClauseReport> },
}

impl Heap {
    /// The MethodDesc of the managed code holding `ip`.
    pub fn method_desc_at_ip(&self, ip: u64) -> Option<u64> {
        crate::runtime::code_versions::method_desc_at_ip(&self.runtime, ip).map(|(md, _)| md)
    }

    /// The exception clauses of a method's current native code (SOS's `TraverseEHInfo`).
    pub fn method_eh_info(&self, md: u64) -> Result<EhInfo> {
        let Some(code) = self.method_native_code(md) else { return Ok(EhInfo::NoCode) };
        let map = crate::runtime::stack::codemap::CodeMap::new(&self.runtime)?;
        let Some(info) = map.lookup(code).ok().flatten() else { return Ok(EhInfo::NoCodeHeader) };
        let raw = map.eh_clauses(&info)?;
        let module = self.method_module(md);
        let meta = module.and_then(|m| self.module_metadata(m));
        let clauses = raw
            .iter()
            .map(|c| {
                let flags = c[0];
                let kind = if flags & EH_FAULT != 0 {
                    EhKind::Fault
                } else if flags & EH_FINALLY != 0 {
                    EhKind::Finally
                } else if flags & EH_FILTER != 0 {
                    EhKind::Filter
                } else {
                    EhKind::Typed
                };
                let catch_type = (kind == EhKind::Typed).then(|| match &meta {
                    Some(m) => crate::metadata::ildasm::catch_type_name(m, c[5]),
                    None => format!("token_0x{:08X}", c[5]),
                });
                EhClauseReport {
                    kind,
                    try_start: c[1],
                    try_end: c[2],
                    handler_start: c[3],
                    handler_end: c[4],
                    filter: if kind == EhKind::Filter { c[5] } else { 0 },
                    duplicate: flags & EH_DUPLICATED != 0,
                    catch_type,
                }
            })
            .collect();
        Ok(EhInfo::Clauses { code: info.method_start, clauses })
    }

    /// The module of a MethodDesc's type.
    pub fn method_module(&self, md: u64) -> Option<u64> {
        let (mt, _) = crate::runtime::stack::names::method_desc_token(&self.runtime, md).ok()?;
        self.method_table(mt).ok().map(|i| i.module)
    }
}

/// What `gcinfo` finds for a MethodDesc or a code address.
#[derive(Debug)]
pub enum GcInfoReport {
    /// Neither a MethodDesc nor managed code.
    NotMethodDesc,
    /// The method has no native code.
    NoCode,
    /// Its code (at `entry`) is in no code heap or image clrheap reads.
    NoCodeHeader { entry: u64 },
    /// The code's start, how it was made, where its GC info is and what it says (or why
    /// it could not be read).
    Found { entry: u64, kind: CodeKind, address: u64, info: std::result::Result<GcInfoBytes, String> },
}

/// A method's decoded GC info and the bytes it was decoded from.
#[derive(Debug)]
pub struct GcInfoBytes {
    pub info: GcInfo,
    pub bytes: Vec<u8>,
}

/// Most GC info bytes read for one method.
const MAX_GC_INFO_BYTES: usize = 64 << 10;

impl Heap {
    /// The GC info of the code holding `addr` when it is a code address, else of the
    /// MethodDesc `addr`'s current code (SOS's `gcinfo`).
    pub fn method_gc_info(&self, addr: u64) -> Result<GcInfoReport> {
        let md = if self.is_method_desc(addr) { addr } else { self.method_desc_at_ip(addr).unwrap_or(0) };
        if md == 0 || !self.is_method_desc(md) {
            return Ok(GcInfoReport::NotMethodDesc);
        }
        let Some(native) = self.method_native_code(md) else { return Ok(GcInfoReport::NoCode) };
        let map = crate::runtime::stack::codemap::CodeMap::new(&self.runtime)?;
        let code = match map.lookup(addr).ok().flatten() {
            Some(c) => Some(c),
            None => map.lookup(native).ok().flatten(),
        };
        let Some(code) = code else { return Ok(GcInfoReport::NoCodeHeader { entry: native }) };
        let arch = self.runtime.space.core().arch;
        let info = self.read_gc_info(code.gc_info).and_then(|bytes| {
            GcInfo::decode_for(&bytes, code.gc_info_version, Encoding::of(arch))
                .map(|info| GcInfoBytes { info, bytes })
                .map_err(|e| e.to_string())
        });
        Ok(GcInfoReport::Found { entry: code.method_start, kind: code.kind, address: code.gc_info, info })
    }

    /// The bytes at `addr`, as many as are there up to the cap (GC info says its own length
    /// only once decoded).
    fn read_gc_info(&self, addr: u64) -> std::result::Result<Vec<u8>, String> {
        let len = (self.runtime.space.readable_run(addr) as usize).min(MAX_GC_INFO_BYTES);
        if len == 0 {
            return Err(format!("GC info at {addr:x} is not in the dump"));
        }
        self.runtime.space.read_vec(addr, len).map_err(|e| e.to_string())
    }
}

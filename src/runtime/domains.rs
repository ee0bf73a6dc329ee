//! Domains, assemblies and modules as the DAC describes them to `dumpdomain`,
//! `dumpassembly`, `dumpmodule`, `findappdomain` and `dumpalc`.
//!
//! A .NET 8, 9 or 10 process has two domains: the System Domain, which owns the global
//! loader allocator, and the one AppDomain ("Domain 1", id 1), which lists every assembly
//! in load order and uses the System Domain's loader heaps. Each assembly has exactly one
//! module. Assemblies emitted at run time (Reflection.Emit) have a `PEAssembly` without a
//! `PEImage`: no path, no image, their metadata in the process (see [`super::modules`]).
//!
//! What is read where is [`super::layouts::DomainLayout`]'s; every address read here is
//! one the runtime's own lists lead to ([`find_module`] and [`find_assembly`] accept only
//! those), so an address the user types is checked before anything is read from it.
use super::layouts::DomainLayout;
use super::modules::{domain_assemblies, domain_assembly_module, module_image, read_utf16z, ImageInSpace};
use super::Runtime;
use crate::metadata::{ImageLayout, PeImage};
use anyhow::{bail, Result};

/// The AppDomain's id (`DefaultADID`: CoreCLR has one AppDomain).
pub const APP_DOMAIN_ID: u32 = 1;

/// Longest friendly name read (UTF-16 units).
const MAX_NAME: usize = 4096;

/// `DacpAppDomainDataStage`'s names, by value.
const STAGES: &[&str] = &[
    "CREATING",
    "READYFORMANAGEDCODE",
    "ACTIVE",
    "OPEN",
    "UNLOAD_REQUESTED",
    "EXITING",
    "EXITED",
    "FINALIZING",
    "FINALIZED",
    "HANDLETABLE_NOACCESS",
    "CLEARED",
    "COLLECTED",
    "CLOSED",
];

/// Which domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainKind {
    System,
    App,
}

/// A domain as `dumpdomain` prints it.
#[derive(Debug, Clone)]
pub struct Domain {
    pub address: u64,
    pub kind: DomainKind,
    pub low_frequency_heap: u64,
    pub high_frequency_heap: u64,
    pub stub_heap: u64,
    /// `OPEN`, ... (`UNKNOWN` for a value out of range).
    pub stage: &'static str,
    /// The friendly name (empty for the System Domain).
    pub name: String,
}

/// An assembly.
#[derive(Debug, Clone)]
pub struct Assembly {
    pub address: u64,
    pub module: u64,
    /// The domain it was loaded into (the AppDomain).
    pub parent_domain: u64,
    /// Emitted at run time: no image, no path.
    pub dynamic: bool,
    /// The file's path; empty for a dynamic assembly.
    pub path: String,
    /// Its module's file as SOS's `AssemblyInfo` names it: the path, `Dynamic Module` for
    /// a dynamic one, `Unknown Module` for one with neither.
    pub module_file: String,
}

/// A module as `dumpmodule` prints it.
#[derive(Debug, Clone)]
pub struct Module {
    pub address: u64,
    pub assembly: u64,
    /// The image's path; empty for a dynamic module.
    pub path: String,
    /// Emitted at run time (the DAC's `IsReflection`, `IsDynamic`).
    pub dynamic: bool,
    /// Loaded from bytes rather than a file: no path (the DAC's `IsInMemory`).
    pub in_memory: bool,
    /// The image is a flat copy of the file rather than mapped by sections (`IsFileLayout`).
    pub file_layout: bool,
    /// The loaded image's base (0 for a dynamic module).
    pub base: u64,
    pub loader_allocator: u64,
    pub typedef_map: u64,
    pub typeref_map: u64,
    pub method_def_map: u64,
    pub field_def_map: u64,
    pub member_ref_map: u64,
    pub module_ref_map: u64,
    /// Where the image's metadata is, and its size: `None` for a dynamic module or when
    /// the image's headers cannot be read.
    pub metadata: Option<(u64, u64)>,
}

impl Module {
    /// The `(row, TypeHandle)` entries of the module's TypeDef map (the types it defines
    /// that are loaded) and of its TypeRef map (the types its references resolved to), in
    /// map order.
    pub fn type_map_entries(&self, rt: &Runtime) -> (Vec<(u32, u64)>, Vec<(u32, u64)>) {
        let maps = &rt.layout.type_loader;
        let entries = |offset: u64| crate::runtime::modules::lookup_map_entries(rt, self.address.wrapping_add(offset));
        (entries(maps.typedef_map), entries(maps.typeref_map))
    }
}

fn layout(rt: &Runtime) -> &DomainLayout {
    &rt.layout.domains
}

/// The System Domain's address (0 when the runtime has none yet).
pub fn system_domain(rt: &Runtime) -> u64 {
    let space = &*rt.space;
    rt.dac_global(rt.layout.dac.system_domain).ok().and_then(|p| space.read_ptr(p).ok()).unwrap_or(0)
}

/// The AppDomain's address (0 when the runtime has none yet).
pub fn app_domain(rt: &Runtime) -> u64 {
    super::threads::app_domain(rt)
}

/// The domain at `address`: the System Domain or the AppDomain; `None` for any other
/// address.
pub fn domain(rt: &Runtime, address: u64) -> Result<Option<Domain>> {
    let system = system_domain(rt);
    let app = app_domain(rt);
    let kind = match address {
        0 => return Ok(None),
        a if a == system => DomainKind::System,
        a if a == app => DomainKind::App,
        _ => return Ok(None),
    };
    let space = &*rt.space;
    let l = layout(rt);
    // Both domains use the System Domain's loader allocator.
    if system == 0 {
        bail!("the runtime has no System Domain");
    }
    let heaps = &rt.layout.native_heaps;
    let allocator = system.wrapping_add(heaps.global_allocator);
    let heap = |off: u64| space.read_ptr(allocator.wrapping_add(off));
    let mut domain = Domain {
        address,
        kind,
        low_frequency_heap: heap(heaps.low_frequency_heap)?,
        high_frequency_heap: heap(heaps.high_frequency_heap)?,
        stub_heap: heap(heaps.stub_heap)?,
        stage: "OPEN",
        name: String::new(),
    };
    if kind == DomainKind::App {
        if let Some(off) = l.stage {
            let stage = space.read_u32(address.wrapping_add(off))?;
            domain.stage = STAGES.get(stage as usize).copied().unwrap_or("UNKNOWN");
        }
        let name = space.read_ptr(address.wrapping_add(l.friendly_name))?;
        if name != 0 {
            domain.name = read_utf16z(space, name, MAX_NAME)?;
        }
    }
    Ok(Some(domain))
}

/// The AppDomain's assemblies, in load order (the System Domain has none).
pub fn assemblies(rt: &Runtime) -> Result<Vec<Assembly>> {
    let space = &*rt.space;
    let mut out = Vec::new();
    for entry in domain_assemblies(rt)? {
        let assembly = space.read_ptr(entry)?;
        if assembly != 0 {
            out.push(assembly_of(rt, assembly, domain_assembly_module(rt, entry)?)?);
        }
    }
    Ok(out)
}

/// The assembly at `address`, if it is one of the AppDomain's.
pub fn find_assembly(rt: &Runtime, address: u64) -> Result<Option<Assembly>> {
    if address == 0 {
        return Ok(None);
    }
    let space = &*rt.space;
    for entry in domain_assemblies(rt)? {
        if space.read_ptr(entry)? == address {
            let module = domain_assembly_module(rt, entry)?;
            return Ok(Some(assembly_of(rt, address, module)?));
        }
    }
    Ok(None)
}

fn assembly_of(rt: &Runtime, address: u64, module: u64) -> Result<Assembly> {
    let image = module_image(rt, module)?;
    let dynamic = is_dynamic(rt, module)?;
    let module_file = match (image.path.is_empty(), dynamic) {
        (false, _) => image.path.clone(),
        (true, true) => "Dynamic Module".into(),
        (true, false) => "Unknown Module".into(),
    };
    Ok(Assembly { address, module, parent_domain: app_domain(rt), dynamic, path: image.path, module_file })
}

/// Whether a module was emitted at run time: its `PEAssembly` has no `PEImage`.
fn is_dynamic(rt: &Runtime, module: u64) -> Result<bool> {
    let space = &*rt.space;
    let m = &rt.layout.module;
    let pe_assembly = space.read_ptr(module.wrapping_add(m.pe_assembly))?;
    if pe_assembly == 0 {
        return Ok(true);
    }
    Ok(space.read_ptr(pe_assembly.wrapping_add(m.pe_image))? == 0)
}

/// The module at `address`, if it is the module of one of the AppDomain's assemblies.
pub fn find_module(rt: &Runtime, address: u64) -> Result<Option<Module>> {
    if address == 0 {
        return Ok(None);
    }
    for entry in domain_assemblies(rt)? {
        if domain_assembly_module(rt, entry)? == address {
            return Ok(Some(module(rt, address)?));
        }
    }
    Ok(None)
}

/// The facts of a module (`address` must be a module's: see [`find_module`]).
pub fn module(rt: &Runtime, address: u64) -> Result<Module> {
    let space = &*rt.space;
    let l = layout(rt);
    let lm = &rt.layout.type_loader.lookup_map;
    let image = module_image(rt, address)?;
    let dynamic = is_dynamic(rt, address)?;
    // A LookupMap is inline in the Module; `dumpmodule` shows the address of its table.
    let table = |map: u64| space.read_ptr(address.wrapping_add(map).wrapping_add(lm.table)).unwrap_or(0);
    let metadata = if image.base != 0 {
        let src = ImageInSpace { space, base: image.base };
        PeImage::parse(&src, image.layout)
            .ok()
            .and_then(|pe| pe.metadata_range().ok())
            .map(|r| (image.base.wrapping_add(r.start), r.end.saturating_sub(r.start)))
    } else {
        None
    };
    Ok(Module {
        address,
        assembly: space.read_ptr(address.wrapping_add(l.module_assembly))?,
        in_memory: image.path.is_empty(),
        file_layout: !dynamic && image.base != 0 && image.layout == ImageLayout::Flat,
        path: image.path,
        dynamic,
        base: image.base,
        loader_allocator: space.read_ptr(address.wrapping_add(rt.layout.collectible.module_loader_allocator))?,
        typedef_map: table(rt.layout.type_loader.typedef_map),
        typeref_map: table(rt.layout.type_loader.typeref_map),
        method_def_map: table(rt.layout.stack.module_method_def_to_desc),
        field_def_map: table(l.field_def_map),
        member_ref_map: table(l.member_ref_map),
        module_ref_map: table(l.module_ref_map),
        metadata,
    })
}

/// The managed `AssemblyLoadContext` object of a module's assembly: its binder's handle
/// to it, 0 when the binder has none (the default context before managed code asked for
/// it).
pub fn assembly_load_context(rt: &Runtime, module: u64) -> Result<u64> {
    let space = &*rt.space;
    let l = layout(rt);
    let pe_assembly = space.read_ptr(module.wrapping_add(rt.layout.module.pe_assembly))?;
    if pe_assembly == 0 {
        return Ok(0);
    }
    let mut binder = 0;
    if let Some(off) = l.host_assembly {
        let host = space.read_ptr(pe_assembly.wrapping_add(off))?;
        if host != 0 {
            binder = space.read_ptr(host.wrapping_add(l.host_binder))?;
        }
    }
    if binder == 0 {
        binder = space.read_ptr(pe_assembly.wrapping_add(l.binder))?;
    }
    if binder == 0 {
        return Ok(0);
    }
    let handle = space.read_ptr(binder.wrapping_add(l.binder_alc))?;
    if handle == 0 {
        return Ok(0);
    }
    Ok(space.read_ptr(handle)?)
}

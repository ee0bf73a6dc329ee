//! The runtime layer: locating CoreCLR's data in a dump's address space.
//!
//! From the dump's mapped files it finds `libcoreclr.so`, reads its version and exports,
//! the contract descriptor (.NET 9+), `g_dacTable` (every version: the addresses of the
//! runtime's globals) and the GC's `GcDacVars`, and builds the runtime's [`Layout`]: the
//! per-version tables of [`layouts`] with what the descriptor describes taken from it
//! ([`described`]). A runtime it does not know is refused with one line naming what was
//! found.
pub mod contract;
pub mod dac_table;
pub mod described;
pub mod domains;
pub mod code_versions;
pub mod methods;
pub mod modules;
pub mod native_heaps;
pub mod precode;
pub mod stack;
pub mod symbols;
pub mod syncblocks;
pub mod threads;
pub mod exceptions;
pub mod exports;
pub mod gc_vars;
pub mod images;
pub mod layouts;
pub mod version;

use crate::dump::{AddressSpace, MappedFile};
use crate::error::{Error, Result, ResultExt};
use contract::ContractDescriptor;
use dac_table::DacTableShape;
use exports::Exports;
use gc_vars::GcDacVars;
use layouts::Layout;
use std::sync::Arc;
use version::RuntimeVersion;

/// The globals the heap walk starts from.
#[derive(Debug, Clone)]
pub struct Globals {
    pub free_mt: u64,
    pub string_mt: u64,
    pub object_mt: u64,
    pub array_mt: u64,
    pub exception_mt: u64,
    pub thread_store: u64,
    pub finalizer_thread: u64,
    /// Address of `g_global_alloc_context`'s `gc_alloc_context`.
    pub global_alloc_context: u64,
    pub sync_table: u64,
    /// CoreLib's `Module*`.
    pub core_lib_module: u64,
    /// Address of `ExecutionManager::g_codeRangeMap` (the RangeSectionMap).
    pub code_range_map: u64,
}

/// A CoreCLR runtime found in a dump.
pub struct Runtime {
    pub space: Arc<AddressSpace>,
    pub version: RuntimeVersion,
    pub coreclr: MappedFile,
    /// `libclrgc.so` when the process ran the standalone (segments) GC.
    pub gc_module: Option<MappedFile>,
    /// Where this runtime keeps things: its version's table, with every value the
    /// contract descriptor describes taken from the descriptor.
    pub layout: Layout,
    pub descriptor: Option<ContractDescriptor>,
    pub dac_table: u64,
    /// Where this dump's `g_dacTable` has its insertion-prone parts.
    pub dac_shape: DacTableShape,
    pub globals: Globals,
    pub gc: GcDacVars,
    /// What was wrong with the runtime's own description of itself (an unreadable or
    /// damaged contract descriptor, a global the descriptor and `g_dacTable` disagree
    /// on), for the shell to show once.
    pub warnings: Vec<String>,
}

impl Runtime {
    /// Finds the runtime in `space`. Fails with [`Error::NoRuntime`] (no CoreCLR, or
    /// not started), [`Error::UnknownRuntime`] (a version clrheap does not know), or an
    /// error reading what it needs.
    pub fn discover(space: Arc<AddressSpace>) -> Result<Runtime> {
        let Some(coreclr) = space.find_mapped_file("libcoreclr.so").cloned() else {
            if space.find_mapped_file("libmonosgen-2.0.so").is_some() {
                return Err(Error::NoRuntime(
                    "this process ran the Mono runtime; clrheap reads CoreCLR (.NET 8, 9, 10) dumps".into(),
                ));
            }
            return Err(Error::NoRuntime(format!(
                "no .NET runtime in this dump: libcoreclr.so is not among its {} mapped files \
                 (not a .NET process, or a NativeAOT one, which clrheap does not read)",
                space.mapped_files().len()
            )));
        };
        let Some(version) = version::find_version(&space, &coreclr) else {
            // Most often the file is not on this machine: say which, and what to do.
            if let Some(missing) = space.missing_file_message(&coreclr) {
                return Err(Error::ModuleFileMissing { path: coreclr.path.clone(), addr: coreclr.base, message: missing });
            }
            return Err(Error::NoRuntime(format!(
                "found {} but not its version string; the dump may be damaged, or the file at that path is \
                 not the one the process ran (pass --module-path with a folder holding the right one)",
                coreclr.path
            )));
        };
        let arch = space.core().arch;
        let Some(table) = layouts::for_runtime(version.major, arch).filter(|_| version.minor == 0) else {
            if layouts::for_major(version.major).is_some() && version.minor == 0 {
                return Err(Error::UnknownRuntime(format!(
                    "CoreCLR {version} for {} is not supported: clrheap reads .NET 8.0, 9.0 and 10.0 on x64, and 10.0 on arm64",
                    arch.name()
                )));
            }
            return Err(Error::UnknownRuntime(format!(
                "CoreCLR {version} (file version {}) is not supported: clrheap knows .NET 8.0, 9.0 and 10.0",
                version.file_version
            )));
        };
        let table = described::table_for_open(table, arch.name());
        let mut warnings = Vec::new();
        let exports = Exports::read(&space, &coreclr)?;
        let (dac_table, dac_size) = exports
            .find_sized("g_dacTable")?
            .ok_or_else(|| Error::damaged("libcoreclr.so", "it does not export g_dacTable"))?;
        let dac_shape = DacTableShape::read(&space, &coreclr, dac_table, usize::try_from(dac_size / 8).ok().filter(|&n| n > 0));
        let descriptor = match exports.find("DotNetRuntimeContractDescriptor") {
            Ok(Some(addr)) => match ContractDescriptor::read(&space, addr) {
                Ok(d) => Some(d),
                Err(e) => {
                    warnings.push(format!(
                        "cannot read the runtime's contract descriptor ({e:#}): clrheap's own {}.0 layout is used",
                        version.major
                    ));
                    None
                }
            },
            Ok(None) | Err(_) if version.major >= 9 => {
                warnings.push(format!(
                    "libcoreclr.so exports no contract descriptor: clrheap's own {}.0 layout is used",
                    version.major
                ));
                None
            }
            Ok(None) | Err(_) => None,
        };
        let layout = described::resolve(&table, descriptor.as_ref(), &mut warnings);
        let dac = |index: usize| -> Result<u64> {
            let index = dac_shape.global_index(index, layout.dac.fcall_range);
            space
                .read_ptr(dac_table.wrapping_add(8 * index as u64))
                .map_err(|e| Error::from(e).context(format!("cannot read g_dacTable entry {index}")))
        };
        let deref = |index: usize| -> Result<u64> {
            let var = dac(index)?;
            space
                .read_ptr(var)
                .map_err(|e| Error::from(e).context(format!("cannot read the global of g_dacTable entry {index}")))
        };
        let d = &layout.dac;
        let globals = {
            let dac_index = |i: usize| dac_shape.global_index(i, layout.dac.fcall_range);
            let mut g = DescribedGlobals {
                space: &space,
                dac_table,
                dac_index: &dac_index,
                descriptor: descriptor.as_ref(),
                warnings: &mut warnings,
            };
            Globals {
                free_mt: g.value("FreeObjectMethodTable", d.free_mt)?,
                string_mt: g.value("StringMethodTable", d.string_mt)?,
                object_mt: g.value("ObjectMethodTable", d.object_mt)?,
                array_mt: deref(d.array_mt)?,
                exception_mt: g.value("ExceptionMethodTable", d.exception_mt)?,
                thread_store: g.value("ThreadStore", d.thread_store)?,
                finalizer_thread: g.value("FinalizerThread", d.finalizer_thread)?,
                global_alloc_context: dac(d.global_alloc_context)?.wrapping_add(layout.global_alloc_context_offset),
                sync_table: g.value("SyncTableEntries", d.sync_table).unwrap_or(0),
                // The entry is the address of the binder itself (a static object), whose
                // first field is CoreLib's Module.
                core_lib_module: dac(d.core_lib)
                    .and_then(|binder| Ok(space.read_ptr(binder)?))
                    .unwrap_or(0),
                code_range_map: g.address("ExecutionManagerCodeRangeMapAddress", 0).unwrap_or(0),
            }
        };
        if globals.free_mt == 0 || globals.string_mt == 0 {
            return Err(Error::NoRuntime(
                "the runtime's type globals are not set: the process had not finished starting up".into(),
            ));
        }
        let gc_vars_addr = deref(d.gc_dac_globals)?;
        if gc_vars_addr == 0 {
            return Err(Error::NoRuntime("the GC had not been initialized when this dump was taken".into()));
        }
        let gc = GcDacVars::read(&space, gc_vars_addr)?;
        let gc_module = space.find_mapped_file("libclrgc.so").cloned();
        Ok(Runtime {
            space,
            version,
            coreclr,
            gc_module,
            layout,
            descriptor,
            dac_table,
            dac_shape,
            globals,
            gc,
            warnings,
        })
    }

    /// The address of a symbol `libcoreclr.so` exports, if it exports it.
    pub fn export(&self, name: &str) -> Option<u64> {
        Exports::read(&self.space, &self.coreclr).ok()?.find(name).ok().flatten()
    }

    /// The address `g_dacTable` holds for the global the layout places at `index`.
    pub fn dac_global(&self, index: usize) -> Result<u64> {
        let at = self.dac_shape.global_index(index, self.layout.dac.fcall_range);
        self.space
            .read_ptr(self.dac_table.wrapping_add(8 * at as u64))
            .with_context(|| format!("cannot read g_dacTable entry {at}"))
    }

    /// The vtable `g_dacTable` holds `offset` entries into its vtable part (`vptr_list.h`
    /// order), when the layout has vtable entries.
    pub fn dac_vtable(&self, offset: usize) -> Option<u64> {
        let start = self.dac_shape.vptr_start.or(self.layout.dac.vptr_start)?;
        let at = start.checked_add(offset)?;
        if at >= self.dac_shape.entries {
            return None;
        }
        self.space.read_ptr(self.dac_table.wrapping_add(8 * at as u64)).ok().filter(|&v| v != 0)
    }
}

/// The runtime's globals by the contract descriptor's names (9, 10), checked against
/// `g_dacTable`, whose entries are the same addresses; by `g_dacTable` alone where the
/// descriptor has none (8, a damaged descriptor).
struct DescribedGlobals<'a> {
    space: &'a AddressSpace,
    dac_table: u64,
    /// Translates the layout's indices to this table's (`DacTableShape::global_index`).
    dac_index: &'a dyn Fn(usize) -> usize,
    descriptor: Option<&'a ContractDescriptor>,
    warnings: &'a mut Vec<String>,
}

impl DescribedGlobals<'_> {
    fn dac_entry(&self, index: usize) -> Result<u64> {
        let index = (self.dac_index)(index);
        self.space
            .read_ptr(self.dac_table.wrapping_add(8 * index as u64))
            .with_context(|| format!("cannot read g_dacTable entry {index}"))
    }

    fn described(&self, name: &str) -> Option<u64> {
        self.descriptor.and_then(|d| d.global(name)).filter(|&a| a != 0)
    }

    /// The global's address: the descriptor's when it has one (a disagreeing g_dacTable
    /// entry is named in a warning), else g_dacTable entry `index`.
    fn address(&mut self, name: &str, index: usize) -> Result<u64> {
        let Some(addr) = self.described(name) else {
            return self.dac_entry(index);
        };
        if let Ok(entry) = self.dac_entry(index)
            && entry != addr
        {
            self.warnings.push(format!(
                "the contract descriptor puts global {name} at {addr:#x}, g_dacTable entry {index} at \
                 {entry:#x}: the descriptor's is used"
            ));
        }
        Ok(addr)
    }

    /// The pointer the global holds; g_dacTable's when the descriptor's address is unreadable.
    fn value(&mut self, name: &str, index: usize) -> Result<u64> {
        let addr = self.address(name, index)?;
        match self.space.read_ptr(addr) {
            Ok(v) => Ok(v),
            Err(e) if self.described(name).is_some() => {
                self.warnings.push(format!(
                    "cannot read global {name} where the contract descriptor puts it ({e:#}): \
                     g_dacTable entry {index} is used"
                ));
                let var = self.dac_entry(index)?;
                Ok(self.space.read_ptr(var)?)
            }
            Err(e) => Err(e).with_context(|| format!("cannot read the runtime's global {name} at {addr:#x}")),
        }
    }
}

//! Managed modules: from a `Module*` to its PE image and its ECMA-335 metadata.
//!
//! `Module -> PEAssembly -> PEImage -> loaded PEImageLayout { base, size, flags }`; bit 0
//! of the flags says whether the OS loader mapped the image (sections at their RVAs) or
//! it is a flat copy of the file. In heap dumps most image pages are absent and come back
//! from the file through the address space. Modules emitted at run time
//! (Reflection.Emit) have no image: their metadata lives only in the process, in a
//! buffer the module points to.
use super::layouts::DynamicMetadata;
use super::Runtime;
use crate::dump::AddressSpace;
use crate::metadata::{ImageLayout, ImageSource, MetadataError, MetadataReader, PeImage};
use anyhow::{bail, Context, Result};

/// Cap on in-memory metadata of a dynamic module.
const MAX_DYNAMIC_METADATA: u32 = 64 << 20;

#[derive(Debug, Clone)]
pub struct ModuleImage {
    pub module: u64,
    /// 0 for a dynamic module.
    pub base: u64,
    pub size: u32,
    pub layout: ImageLayout,
    pub path: String,
}

/// The managed AssemblyLoadContext of a module's binder (see
/// [`crate::runtime::layouts::BinderLayout`]): `Some(0)` when the binder has none yet,
/// `None` when the chain cannot be read.
pub fn module_load_context(rt: &Runtime, module: u64) -> Option<u64> {
    let space = &*rt.space;
    let b = &rt.layout.module.binder;
    let pe_assembly = space.read_ptr(module.wrapping_add(rt.layout.module.pe_assembly)).ok().filter(|&p| p != 0)?;
    let host = space.read_ptr(pe_assembly.wrapping_add(b.host_assembly)).ok()?;
    let binder = if host != 0 {
        space.read_ptr(host.wrapping_add(b.host_binder)).ok()?
    } else {
        space.read_ptr(pe_assembly.wrapping_add(b.own_binder)).ok()?
    };
    if binder == 0 {
        return None;
    }
    let handle = space.read_ptr(binder.wrapping_add(b.managed_alc)).ok()?;
    if handle == 0 {
        return Some(0);
    }
    space.read_ptr(handle).ok()
}

/// Reads a module's image location and path.
pub fn module_image(rt: &Runtime, module: u64) -> Result<ModuleImage> {
    let space = &*rt.space;
    let m = &rt.layout.module;
    let pe_assembly = space.read_ptr(module.wrapping_add(m.pe_assembly))?;
    let mut image = ModuleImage {
        module,
        base: 0,
        size: 0,
        layout: ImageLayout::Flat,
        path: String::new(),
    };
    if pe_assembly == 0 {
        return Ok(image);
    }
    let pe_image = space.read_ptr(pe_assembly.wrapping_add(m.pe_image))?;
    if pe_image == 0 {
        return Ok(image);
    }
    if let Ok(path_ptr) = space.read_ptr(pe_image.wrapping_add(m.image_path)) {
        image.path = read_utf16z(space, path_ptr, 4096).unwrap_or_default();
    }
    let layout = space.read_ptr(pe_image.wrapping_add(m.loaded_layout))?;
    if layout != 0 {
        image.base = space.read_ptr(layout.wrapping_add(m.image_base))?;
        image.size = space.read_u32(layout.wrapping_add(m.image_size))?;
        let flags = space.read_u32(layout.wrapping_add(m.image_flags))?;
        image.layout = if flags & 1 != 0 {
            ImageLayout::Mapped
        } else {
            ImageLayout::Flat
        };
    }
    Ok(image)
}

/// Loads a module's metadata: from its image, or from the process for a dynamic module.
pub fn load_metadata(rt: &Runtime, module: u64) -> Result<MetadataReader> {
    let image = module_image(rt, module)?;
    if image.base != 0 {
        let source = ImageInSpace {
            space: &rt.space,
            base: image.base,
        };
        let pe = PeImage::parse(&source, image.layout)
            .with_context(|| format!("cannot read the PE image of module {module:#x} at {:#x}", image.base))?;
        let bytes = pe.read_metadata(&source)?;
        return Ok(MetadataReader::new(bytes)?);
    }
    let space = &*rt.space;
    let (data, size) = match rt.layout.module.dynamic_metadata {
        DynamicMetadata::SBuffer { module_field } => {
            let buffer = space.read_ptr(module.wrapping_add(module_field))?;
            if buffer == 0 {
                bail!("module {module:#x} has neither an image nor in-memory metadata");
            }
            (space.read_ptr(buffer.wrapping_add(16))?, space.read_u32(buffer)?)
        }
        DynamicMetadata::SizePrefixed { module_field, size, data } => {
            let blob = space.read_ptr(module.wrapping_add(module_field))?;
            if blob == 0 {
                bail!("module {module:#x} has neither an image nor in-memory metadata");
            }
            (blob.wrapping_add(data), space.read_u32(blob.wrapping_add(size))?)
        }
    };
    if size == 0 || size > MAX_DYNAMIC_METADATA {
        bail!("module {module:#x} has {size} bytes of in-memory metadata");
    }
    let bytes = space.read_vec(data, size as usize)?;
    Ok(MetadataReader::new(bytes)?)
}

/// A PE image read through the dump's address space (laid out as mapped).
pub struct ImageInSpace<'a> {
    pub space: &'a AddressSpace,
    pub base: u64,
}

impl ImageSource for ImageInSpace<'_> {
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), MetadataError> {
        let addr = self.base.checked_add(offset).ok_or(MetadataError::ImageRead {
            offset,
            len: buf.len(),
            reason: "address overflows".into(),
        })?;
        self.space
            .read(addr, buf)
            .map_err(|e| MetadataError::ImageRead {
                offset,
                len: buf.len(),
                reason: e.to_string(),
            })
    }
}

/// A NUL-terminated UTF-16 string of at most `max` units.
pub fn read_utf16z(space: &AddressSpace, addr: u64, max: usize) -> Result<String> {
    let mut units = Vec::new();
    while units.len() < max {
        let u = space.read_u16(addr.wrapping_add(2 * units.len() as u64))?;
        if u == 0 {
            return Ok(String::from_utf16_lossy(&units));
        }
        units.push(u);
    }
    bail!("string at {addr:#x} has no terminator")
}

/// Most assemblies read from the AppDomain's list.
const MAX_ASSEMBLIES: u32 = 1 << 16;
/// Most blocks of that list followed.
const MAX_LIST_BLOCKS: usize = 1 << 12;

/// The modules of the AppDomain's assemblies, in load order (the order `clrmodules` and
/// ClrMD list them).
pub fn app_domain_modules(rt: &Runtime) -> Result<Vec<u64>> {
    use super::layouts::AssemblyEntry;
    let space = &*rt.space;
    let domain = super::threads::app_domain(rt);
    if domain == 0 {
        bail!("the runtime has no AppDomain yet");
    }
    let l = &rt.layout.assemblies;
    let list = domain.wrapping_add(l.list);
    let count = space.read_u32(list).context("cannot read the AppDomain's assembly list")?;
    if count > MAX_ASSEMBLIES {
        bail!("the AppDomain's assembly list claims {count} assemblies");
    }
    let mut entries = Vec::with_capacity(count as usize);
    let mut block = list.wrapping_add(8);
    let mut blocks = 0;
    while block != 0 && entries.len() < count as usize {
        blocks += 1;
        if blocks > MAX_LIST_BLOCKS {
            bail!("the AppDomain's assembly list does not end");
        }
        let next = space.read_ptr(block)?;
        let size = space.read_u32(block.wrapping_add(8))?.min(count);
        for i in 0..size as u64 {
            if entries.len() >= count as usize {
                break;
            }
            entries.push(space.read_ptr(block.wrapping_add(16 + 8 * i))?);
        }
        block = next;
    }
    let mut modules = Vec::with_capacity(entries.len());
    for e in entries {
        if e == 0 {
            continue;
        }
        let module = match l.entry {
            AssemblyEntry::ModuleAt(off) => space.read_ptr(e.wrapping_add(off))?,
            AssemblyEntry::AssemblyModuleAt(off) => space.read_ptr(space.read_ptr(e)?.wrapping_add(off))?,
        };
        if module != 0 {
            modules.push(module);
        }
    }
    Ok(modules)
}

/// Entry `rid` of a module's `LookupMap` at `map` (a `TypeDefToMethodTableMap`, ...): the
/// maps chain through `next`, each holding `count` entries; flag bits are masked off.
pub fn lookup_map_entry(rt: &Runtime, map: u64, rid: u32) -> Option<u64> {
    let space = &*rt.space;
    let lm = &rt.layout.type_loader.lookup_map;
    let mut map = map;
    let mut index = rid as u64;
    for _ in 0..64 {
        if map == 0 {
            return None;
        }
        let table = space.read_ptr(map.wrapping_add(lm.table)).ok()?;
        let count = space.read_u32(map.wrapping_add(lm.count)).ok()? as u64;
        if index < count {
            let mask = space.read_ptr(map.wrapping_add(lm.supported_flags_mask)).ok()?;
            let value = space.read_ptr(table.wrapping_add(8 * index)).ok()? & !mask;
            return (value != 0).then_some(value);
        }
        index -= count;
        map = space.read_ptr(map.wrapping_add(lm.next)).ok()?;
    }
    None
}

/// Most entries read from one `LookupMap` (a TypeDef RID is 24 bits).
const MAX_MAP_ENTRIES: u64 = 1 << 24;

/// Every non-empty entry of a module's `LookupMap` at `map`, as `(rid, value)` in RID
/// order (flag bits masked off): the map's segments in chain order, entry 0 of the first
/// (RID 0) left out. Stops, keeping what it read, at an unreadable segment, after 64
/// segments or [`MAX_MAP_ENTRIES`] entries.
pub fn lookup_map_entries(rt: &Runtime, map: u64) -> Vec<(u32, u64)> {
    let space = &*rt.space;
    let lm = &rt.layout.type_loader.lookup_map;
    let mut out = Vec::new();
    let mut map = map;
    let mut base: u64 = 0;
    for _ in 0..64 {
        if map == 0 {
            break;
        }
        let (Ok(table), Ok(count), Ok(mask)) = (
            space.read_ptr(map.wrapping_add(lm.table)),
            space.read_u32(map.wrapping_add(lm.count)),
            space.read_ptr(map.wrapping_add(lm.supported_flags_mask)),
        ) else {
            break;
        };
        let count = (count as u64).min(MAX_MAP_ENTRIES.saturating_sub(base));
        if count > 0 && table != 0 {
            let Ok(bytes) = space.read_vec(table, (count * 8) as usize) else { break };
            for (i, chunk) in bytes.chunks_exact(8).enumerate() {
                let rid = base + i as u64;
                let value = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) & !mask;
                if rid != 0 && value != 0 {
                    out.push((rid as u32, value));
                }
            }
        }
        base = base.saturating_add(count);
        if base >= MAX_MAP_ENTRIES {
            break;
        }
        map = match space.read_ptr(map.wrapping_add(lm.next)) {
            Ok(next) => next,
            Err(_) => break,
        };
    }
    out
}

/// The local variable signature of MethodDef `rid` of a module: from its IL header (a fat
/// header's `LocalVarSigTok`) to the StandAloneSig's blob. `None` when the method has no
/// IL or no locals.
pub fn method_local_signature(rt: &Runtime, module: u64, meta: &MetadataReader, rid: u32) -> Option<Vec<u8>> {
    let rva = meta.method(rid).ok()?.rva;
    if rva == 0 {
        return None;
    }
    let image = module_image(rt, module).ok()?;
    if image.base == 0 {
        return None;
    }
    let src = ImageInSpace { space: &rt.space, base: image.base };
    let pe = PeImage::parse(&src, image.layout).ok()?;
    let off = pe.rva_to_offset(rva, 12).ok()?;
    let mut header = [0u8; 12];
    crate::metadata::ImageSource::read(&src, off, &mut header).ok()?;
    // A tiny header (low bits 2) has no locals; a fat one (3) names them at +8.
    if header[0] & 3 != 3 {
        return None;
    }
    let token = u32::from_le_bytes(header[8..12].try_into().ok()?);
    if token >> 24 != 0x11 || token & 0xff_ffff == 0 {
        return None;
    }
    let blob = meta.cell(crate::metadata::TableId::StandAloneSig, token & 0xff_ffff, 0).ok()?;
    Some(meta.blob(blob).ok()?.to_vec())
}

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

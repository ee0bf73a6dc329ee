//! Just enough of the PE format to find a .NET image's metadata.
//!
//! An image is read through an [`ImageSource`] (offsets relative to the image base), so it
//! can be a file in memory or a module mapped in a sparse dump address space. Its layout is
//! either [`ImageLayout::Flat`] — the bytes of the file, where an RVA is translated through
//! the section table — or [`ImageLayout::Mapped`] — as laid out by the OS loader, where the
//! offset of an RVA is the RVA itself. [`PeImage::parse`] reads the DOS, COFF and optional
//! headers and the section table, then the CLI header (data directory 14), which gives the
//! metadata root's RVA and size.
use std::ops::Range;

use super::{MetadataError, Result};

/// Largest metadata root accepted.
pub const MAX_METADATA_SIZE: u32 = 256 << 20;
/// Most sections accepted in a section table.
const MAX_SECTIONS: u16 = 1024;
/// Index of the CLI header in the data directories.
/// Data directory of the debug directory.
const DEBUG_DIRECTORY: usize = 6;
/// Most debug directory entries looked at, and largest CodeView entry read.
const MAX_DEBUG_ENTRIES: u32 = 64;
const MAX_CODEVIEW: u32 = 4096;
const CLI_HEADER_DIRECTORY: usize = 14;
/// Data directory of the resources (`.rsrc`).
const RESOURCE_DIRECTORY: usize = 2;
/// Resource type of a version resource (`RT_VERSION`).
const RT_VERSION: u32 = 16;
/// Largest version resource read.
const MAX_VERSION_RESOURCE: u32 = 64 << 10;
/// `VS_FIXEDFILEINFO`'s signature.
const FIXED_FILE_INFO_SIGNATURE: u32 = 0xfeef_04bd;
/// Size of the CLI header (`IMAGE_COR20_HEADER`).
const CLI_HEADER_SIZE: usize = 72;

/// How an image's bytes are laid out relative to its base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageLayout {
    /// As in the file: RVAs go through the section table.
    Flat,
    /// As mapped by the OS loader: offset == RVA.
    Mapped,
}

/// Random access to an image's bytes; `offset` is relative to the image base.
pub trait ImageSource {
    /// Fills `buf` with the bytes at `offset`, or fails (no partial reads).
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()>;
}

impl ImageSource for [u8] {
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| MetadataError::ImageRead {
                offset,
                len: buf.len(),
                reason: format!("beyond the end of the image ({:#x} bytes)", self.len()),
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl ImageSource for Vec<u8> {
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.as_slice().read(offset, buf)
    }
}

impl<S: ImageSource + ?Sized> ImageSource for &S {
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read(offset, buf)
    }
}

/// An RVA and size pair (`IMAGE_DATA_DIRECTORY`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataDirectory {
    pub rva: u32,
    pub size: u32,
}

/// A section header (the fields that matter for address translation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// Name, NUL-padded (e.g. `.text`).
    pub name: [u8; 8],
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub raw_size: u32,
    pub raw_offset: u32,
}

/// The CLI header (`IMAGE_COR20_HEADER`, §II.25.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CliHeader {
    pub major_runtime_version: u16,
    pub minor_runtime_version: u16,
    pub metadata: DataDirectory,
    pub flags: u32,
    pub entry_point_token: u32,
    pub resources: DataDirectory,
    pub strong_name_signature: DataDirectory,
    /// ReadyToRun header, when the image is precompiled.
    pub managed_native_header: DataDirectory,
}

/// A parsed PE image header: sections and CLI header.
#[derive(Clone, Debug)]
pub struct PeImage {
    layout: ImageLayout,
    size_of_image: u32,
    size_of_headers: u32,
    sections: Vec<Section>,
    cli: CliHeader,
    /// Data directory 6: the debug directory.
    debug: DataDirectory,
    /// Data directory 2: the resource directory.
    resource: DataDirectory,
    /// The COFF header's `TimeDateStamp`.
    time_date_stamp: u32,
}

/// The CodeView entry of an image's debug directory: what identifies its PDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeViewInfo {
    /// The PDB's GUID (the first 16 bytes of a portable PDB's id).
    pub guid: [u8; 16],
    pub age: u32,
    /// The entry's time stamp (the last 4 bytes of a portable PDB's id).
    pub stamp: u32,
    /// The PDB path the compiler recorded.
    pub path: String,
    /// The entry marks a portable PDB (minor version `PM`).
    pub portable: bool,
}

/// The `N` bytes at `pos` of a header, or an error naming it: a header shorter than its
/// fields is damaged, never read as zeros.
fn bytes_at<const N: usize>(b: &[u8], pos: usize, what: &'static str) -> Result<[u8; N]> {
    b.get(pos..pos.saturating_add(N))
        .and_then(|s| s.try_into().ok())
        .ok_or(MetadataError::Truncated {
            what,
            offset: pos as u64,
            needed: N as u64,
            available: b.len().saturating_sub(pos) as u64,
        })
}

fn u16_at(b: &[u8], pos: usize, what: &'static str) -> Result<u16> {
    bytes_at(b, pos, what).map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], pos: usize, what: &'static str) -> Result<u32> {
    bytes_at(b, pos, what).map(u32::from_le_bytes)
}

fn dir_at(b: &[u8], pos: usize, what: &'static str) -> Result<DataDirectory> {
    Ok(DataDirectory {
        rva: u32_at(b, pos, what)?,
        size: u32_at(b, pos + 4, what)?,
    })
}

fn bad_pe(msg: impl Into<String>) -> MetadataError {
    MetadataError::BadPe(msg.into())
}

impl PeImage {
    /// Parses the headers of the image at `src`, laid out as `layout`.
    pub fn parse<S: ImageSource + ?Sized>(src: &S, layout: ImageLayout) -> Result<Self> {
        let mut dos = [0u8; 64];
        src.read(0, &mut dos)?;
        if &dos[..2] != b"MZ" {
            return Err(bad_pe("no MZ signature"));
        }
        let nt = u64::from(u32_at(&dos, 0x3c, "DOS header")?);
        let mut coff = [0u8; 24];
        src.read(nt, &mut coff)?;
        if &coff[..4] != b"PE\0\0" {
            return Err(bad_pe(format!("no PE signature at {nt:#x}")));
        }
        let nsections = u16_at(&coff, 6, "COFF header")?;
        let opt_size = usize::from(u16_at(&coff, 20, "COFF header")?);
        if nsections > MAX_SECTIONS {
            return Err(bad_pe(format!("{nsections} sections")));
        }

        let mut opt = vec![0u8; opt_size];
        let opt_pos = nt + 24;
        src.read(opt_pos, &mut opt)?;
        const OPT: &str = "optional header";
        // PE32 or PE32+: where the data directories start.
        let dirs_pos = match u16_at(&opt, 0, OPT)? {
            0x10b => 96,
            0x20b => 112,
            m => return Err(bad_pe(format!("unknown optional header magic {m:#x}"))),
        };
        let ndirs = u32_at(&opt, dirs_pos - 4, OPT)? as usize;
        let cli_pos = dirs_pos + 8 * CLI_HEADER_DIRECTORY;
        if ndirs <= CLI_HEADER_DIRECTORY || opt.len() < cli_pos + 8 {
            return Err(MetadataError::NotManaged);
        }
        let cli_dir = dir_at(&opt, cli_pos, OPT)?;
        if cli_dir.rva == 0 || cli_dir.size == 0 {
            return Err(MetadataError::NotManaged);
        }

        let mut table = vec![0u8; usize::from(nsections) * 40];
        src.read(opt_pos + opt_size as u64, &mut table)?;
        const SECTION: &str = "section header";
        let sections = table
            .chunks_exact(40)
            .map(|s| {
                Ok(Section {
                    name: bytes_at(s, 0, SECTION)?,
                    virtual_size: u32_at(s, 8, SECTION)?,
                    virtual_address: u32_at(s, 12, SECTION)?,
                    raw_size: u32_at(s, 16, SECTION)?,
                    raw_offset: u32_at(s, 20, SECTION)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let mut image = PeImage {
            layout,
            size_of_image: u32_at(&opt, 56, OPT)?,
            size_of_headers: u32_at(&opt, 60, OPT)?,
            sections,
            cli: CliHeader {
                major_runtime_version: 0,
                minor_runtime_version: 0,
                metadata: DataDirectory::default(),
                flags: 0,
                entry_point_token: 0,
                resources: DataDirectory::default(),
                strong_name_signature: DataDirectory::default(),
                managed_native_header: DataDirectory::default(),
            },
            debug: if ndirs > DEBUG_DIRECTORY {
                dir_at(&opt, dirs_pos + 8 * DEBUG_DIRECTORY, "debug directory").unwrap_or_default()
            } else {
                DataDirectory::default()
            },
            resource: if ndirs > RESOURCE_DIRECTORY {
                dir_at(&opt, dirs_pos + 8 * RESOURCE_DIRECTORY, "resource directory").unwrap_or_default()
            } else {
                DataDirectory::default()
            },
            time_date_stamp: u32_at(&coff, 8, "COFF header")?,
        };
        let mut cli = [0u8; CLI_HEADER_SIZE];
        let len = (cli_dir.size as usize).min(CLI_HEADER_SIZE);
        if len < 24 {
            return Err(bad_pe(format!("CLI header too small ({len} bytes)")));
        }
        src.read(
            image.rva_to_offset(cli_dir.rva, len as u32)?,
            &mut cli[..len],
        )?;
        // `cli` is the whole header, its bytes past `len` (a shorter header) zero.
        const CLI: &str = "CLI header";
        image.cli = CliHeader {
            major_runtime_version: u16_at(&cli, 4, CLI)?,
            minor_runtime_version: u16_at(&cli, 6, CLI)?,
            metadata: dir_at(&cli, 8, CLI)?,
            flags: u32_at(&cli, 16, CLI)?,
            entry_point_token: u32_at(&cli, 20, CLI)?,
            resources: dir_at(&cli, 24, CLI)?,
            strong_name_signature: dir_at(&cli, 32, CLI)?,
            managed_native_header: dir_at(&cli, 64, CLI)?,
        };
        Ok(image)
    }

    /// The image's CodeView debug entry (its PDB's identity), if it has one.
    pub fn codeview<S: ImageSource + ?Sized>(&self, src: &S) -> Option<CodeViewInfo> {
        self.codeviews(src).into_iter().next()
    }

    /// Every CodeView debug entry of the image, in directory order (a ReadyToRun image may
    /// name more than one PDB).
    pub fn codeviews<S: ImageSource + ?Sized>(&self, src: &S) -> Vec<CodeViewInfo> {
        const ENTRY: u32 = 28;
        let count = (self.debug.size / ENTRY).min(MAX_DEBUG_ENTRIES);
        (0..count).filter_map(|i| self.codeview_entry(src, i)).collect()
    }

    fn codeview_entry<S: ImageSource + ?Sized>(&self, src: &S, i: u32) -> Option<CodeViewInfo> {
        const ENTRY: u32 = 28;
        const CODEVIEW: u32 = 2;
        let mut e = [0u8; ENTRY as usize];
        let off = self.rva_to_offset(self.debug.rva.checked_add(i * ENTRY)?, ENTRY).ok()?;
        src.read(off, &mut e).ok()?;
        if u32_at(&e, 12, "debug entry").ok()? != CODEVIEW {
            return None;
        }
        let (size, rva) = (u32_at(&e, 16, "debug entry").ok()?.min(MAX_CODEVIEW), u32_at(&e, 20, "debug entry").ok()?);
        if size < 24 {
            return None;
        }
        let mut cv = vec![0u8; size as usize];
        src.read(self.rva_to_offset(rva, size).ok()?, &mut cv).ok()?;
        if &cv[..4] != b"RSDS" {
            return None;
        }
        let path = &cv[24..];
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        Some(CodeViewInfo {
            guid: cv[4..20].try_into().ok()?,
            age: u32_at(&cv, 20, "CodeView entry").ok()?,
            stamp: u32_at(&e, 4, "debug entry").ok()?,
            path: String::from_utf8_lossy(&path[..end]).into_owned(),
            portable: u16_at(&e, 10, "debug entry").ok()? == 0x504d,
        })
    }

    /// The COFF header's `TimeDateStamp`.
    pub fn time_date_stamp(&self) -> u32 {
        self.time_date_stamp
    }

    /// The file version of the image's version resource (`VS_FIXEDFILEINFO`'s
    /// `dwFileVersionMS`/`LS` as four numbers), if it has one: the resource directory's
    /// first `RT_VERSION` entry, its first name and language.
    pub fn file_version<S: ImageSource + ?Sized>(&self, src: &S) -> Option<[u16; 4]> {
        if self.resource.rva == 0 || self.resource.size < 16 {
            return None;
        }
        let root = self.resource.rva;
        // A directory's entries: (id or name, offset) pairs after its 16-byte header.
        let entries = |dir_rva: u32| -> Option<Vec<(u32, u32)>> {
            let mut head = [0u8; 16];
            src.read(self.rva_to_offset(dir_rva, 16).ok()?, &mut head).ok()?;
            let named = u32::from(u16_at(&head, 12, "resource directory").ok()?);
            let ids = u32::from(u16_at(&head, 14, "resource directory").ok()?);
            let count = named.checked_add(ids)?.min(256);
            let mut raw = vec![0u8; count as usize * 8];
            src.read(self.rva_to_offset(dir_rva.checked_add(16)?, count * 8).ok()?, &mut raw).ok()?;
            raw.chunks_exact(8)
                .map(|e| Some((u32_at(e, 0, "resource entry").ok()?, u32_at(e, 4, "resource entry").ok()?)))
                .collect()
        };
        const SUBDIR: u32 = 0x8000_0000;
        let (_, types) = entries(root)?.into_iter().find(|&(id, off)| id == RT_VERSION && off & SUBDIR != 0)?;
        let (_, names) = *entries(root.checked_add(types & !SUBDIR)?)?.first()?;
        if names & SUBDIR == 0 {
            return None;
        }
        let (_, lang) = *entries(root.checked_add(names & !SUBDIR)?)?.first()?;
        if lang & SUBDIR != 0 {
            return None;
        }
        let mut data_entry = [0u8; 16];
        src.read(self.rva_to_offset(root.checked_add(lang)?, 16).ok()?, &mut data_entry).ok()?;
        let (rva, size) = (u32_at(&data_entry, 0, "resource data").ok()?, u32_at(&data_entry, 4, "resource data").ok()?);
        let size = size.min(MAX_VERSION_RESOURCE);
        let mut data = vec![0u8; size as usize];
        src.read(self.rva_to_offset(rva, size).ok()?, &mut data).ok()?;
        // VS_VERSIONINFO: length, value length, type, the key "VS_VERSION_INFO" in UTF-16,
        // padding to 4 bytes, then VS_FIXEDFILEINFO (signature, struct version, file version).
        let fixed = (6 + 2 * 16 + 3) & !3;
        if u32_at(&data, fixed, "VS_FIXEDFILEINFO").ok()? != FIXED_FILE_INFO_SIGNATURE {
            return None;
        }
        let (ms, ls) = (u32_at(&data, fixed + 8, "VS_FIXEDFILEINFO").ok()?, u32_at(&data, fixed + 12, "VS_FIXEDFILEINFO").ok()?);
        Some([(ms >> 16) as u16, ms as u16, (ls >> 16) as u16, ls as u16])
    }

    /// The layout this image was parsed with.
    pub fn layout(&self) -> ImageLayout {
        self.layout
    }

    /// `SizeOfImage` from the optional header.
    pub fn size_of_image(&self) -> u32 {
        self.size_of_image
    }

    /// The section table.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The CLI header.
    pub fn cli_header(&self) -> &CliHeader {
        &self.cli
    }

    /// Offset (from the image base) of the `len` bytes at `rva`, in this image's layout.
    pub fn rva_to_offset(&self, rva: u32, len: u32) -> Result<u64> {
        self.rva_to_offset_in(self.layout, rva, len)
    }

    /// Offset (from the image base) of the `len` bytes at `rva` in an image laid out as
    /// `layout`; fails unless the whole range is backed by the image.
    pub fn rva_to_offset_in(&self, layout: ImageLayout, rva: u32, len: u32) -> Result<u64> {
        let unmapped = MetadataError::RvaNotMapped { rva, len };
        let end = u64::from(rva) + u64::from(len);
        match layout {
            ImageLayout::Mapped => {
                if self.size_of_image != 0 && end > u64::from(self.size_of_image) {
                    return Err(unmapped);
                }
                Ok(u64::from(rva))
            }
            ImageLayout::Flat => {
                if end <= u64::from(self.size_of_headers) {
                    return Ok(u64::from(rva));
                }
                self.sections
                    .iter()
                    .find_map(|s| {
                        let delta = rva.checked_sub(s.virtual_address)?;
                        let span = s.virtual_size.max(s.raw_size);
                        (delta < span && u64::from(delta) + u64::from(len) <= u64::from(s.raw_size))
                            .then(|| u64::from(s.raw_offset) + u64::from(delta))
                    })
                    .ok_or(unmapped)
            }
        }
    }

    /// The metadata root's byte range (offsets from the image base, in this layout).
    pub fn metadata_range(&self) -> Result<Range<u64>> {
        let md = self.cli.metadata;
        if md.rva == 0 || md.size == 0 {
            return Err(bad_pe("CLI header has no metadata directory"));
        }
        if md.size > MAX_METADATA_SIZE {
            return Err(MetadataError::TooLarge {
                what: "metadata",
                size: u64::from(md.size),
                limit: u64::from(MAX_METADATA_SIZE),
            });
        }
        let start = self.rva_to_offset(md.rva, md.size)?;
        Ok(start..start + u64::from(md.size))
    }

    /// Reads the metadata root out of `src` (at most [`MAX_METADATA_SIZE`] bytes).
    pub fn read_metadata<S: ImageSource + ?Sized>(&self, src: &S) -> Result<Vec<u8>> {
        let range = self.metadata_range()?;
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        src.read(range.start, &mut buf)?;
        Ok(buf)
    }
}

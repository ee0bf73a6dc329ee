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
const CLI_HEADER_DIRECTORY: usize = 14;
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

//! The process's loaded images as dotnet-dump's `modules` lists them: one per file of
//! `NT_FILE`, found the way its core reader (ClrMD's) finds them.
//!
//! All the `NT_FILE` ranges of one path make one image: its base is the start of the first
//! range (in note order) that maps the file from offset 0 (else the lowest start), its end
//! the highest range end. The dynamic loader itself (`AT_BASE`) and `/dev/...` files are
//! left out. An image whose base holds an ELF header is an ELF module of the span's size;
//! anything else is read as a PE image, whose size is its header's `SizeOfImage` (0 when
//! there is no PE header: such files, e.g. ICU data, are dropped). Sorted by base, each
//! size is cut to the next image's base when they overlap, as dotnet-dump's module
//! service does.
use super::AddressSpace;

const AT_BASE: u64 = 7;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
/// Most program headers and note bytes looked at.
const MAX_PHDRS: u64 = 128;
const MAX_NOTES: u64 = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Elf,
    Pe,
}

/// One loaded image.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub path: String,
    pub base: u64,
    /// Its size as dotnet-dump reports it (cut to the next image's base).
    pub size: u64,
    pub kind: ImageKind,
}

impl AddressSpace {
    /// The process's images, sorted by base address.
    pub fn loaded_images(&self) -> Vec<LoadedImage> {
        let interpreter = self.core().auxv.iter().find(|(k, _)| *k == AT_BASE).map_or(0, |(_, v)| *v);
        // path -> (first offset-0 start, lowest start, highest end), in first-seen order.
        // (A hostile NT_FILE may name hundreds of thousands of paths: one lookup each.)
        let mut groups: Vec<(String, Option<u64>, u64, u64)> = Vec::new();
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for m in &self.core().files {
            let at = *index.entry(m.path.as_str()).or_insert_with(|| {
                groups.push((m.path.clone(), None, u64::MAX, 0));
                groups.len() - 1
            });
            let g = &mut groups[at];
            if g.1.is_none() && m.file_offset == 0 {
                g.1 = Some(m.start);
            }
            g.2 = g.2.min(m.start);
            g.3 = g.3.max(m.end);
        }
        let mut images: Vec<LoadedImage> = groups
            .into_iter()
            .filter_map(|(path, zero, lowest, end)| {
                let base = zero.unwrap_or(lowest);
                if base == interpreter || path.starts_with("/dev") {
                    return None;
                }
                let (kind, size) = if self.is_elf(base) {
                    (ImageKind::Elf, end.saturating_sub(base))
                } else {
                    (ImageKind::Pe, self.pe_size_of_image(base).unwrap_or(0) as u64)
                };
                Some(LoadedImage { path: path.replace(" (deleted)", ""), base, size, kind })
            })
            .collect();
        images.sort_by_key(|i| i.base);
        images.dedup_by_key(|i| i.base);
        let next: Vec<u64> = images.iter().skip(1).map(|i| i.base).chain(std::iter::once(u64::MAX)).collect();
        for (image, next) in images.iter_mut().zip(next) {
            if image.base.saturating_add(image.size) > next {
                image.size = next - image.base;
            }
        }
        images.retain(|i| i.size > 0);
        images
    }

    /// The ELF image whose mappings hold `addr`, found from `NT_FILE` alone: only that
    /// image's first page is read (where [`AddressSpace::loaded_images`] reads every
    /// image's, and with it every module file a heap dump left out).
    pub fn elf_image_at(&self, addr: u64) -> Option<LoadedImage> {
        let files = &self.core().files;
        let path = &files.iter().find(|m| m.start <= addr && addr < m.end)?.path;
        if path.starts_with("/dev") {
            return None;
        }
        let (mut zero, mut lowest, mut end) = (None, u64::MAX, 0u64);
        for m in files.iter().filter(|m| &m.path == path) {
            if zero.is_none() && m.file_offset == 0 {
                zero = Some(m.start);
            }
            lowest = lowest.min(m.start);
            end = end.max(m.end);
        }
        let base = zero.unwrap_or(lowest);
        if !self.is_elf(base) {
            return None;
        }
        Some(LoadedImage { path: path.replace(" (deleted)", ""), base, size: end.saturating_sub(base), kind: ImageKind::Elf })
    }

    fn is_elf(&self, base: u64) -> bool {
        self.read_array::<4>(base).is_ok_and(|m| &m == b"\x7fELF")
    }

    /// `SizeOfImage` of the PE image at `base`, when it has a PE header.
    pub fn pe_size_of_image(&self, base: u64) -> Option<u32> {
        if self.read_u16(base).ok()? != 0x5a4d {
            return None;
        }
        let pe = base.checked_add(self.read_u32(base.wrapping_add(0x3c)).ok()? as u64)?;
        if self.read_u32(pe).ok()? != 0x4550 {
            return None;
        }
        // The optional header follows the 24-byte signature and file header; SizeOfImage
        // is at +56 in both PE32 and PE32+.
        self.read_u32(pe.checked_add(24 + 56)?).ok()
    }

    /// The GNU build id of the ELF image loaded at `base`, read from its `PT_NOTE`s.
    pub fn elf_build_id(&self, base: u64) -> Option<Vec<u8>> {
        if !self.is_elf(base) {
            return None;
        }
        let phoff = self.read_u64(base.wrapping_add(32)).ok()?;
        let phnum = (self.read_u16(base.wrapping_add(56)).ok()? as u64).min(MAX_PHDRS);
        for i in 0..phnum {
            let ph = base.checked_add(phoff)?.checked_add(i * 56)?;
            if self.read_u32(ph).ok()? != PT_NOTE {
                continue;
            }
            let vaddr = self.read_u64(ph.wrapping_add(16)).ok()?;
            let size = self.read_u64(ph.wrapping_add(32)).ok()?.min(MAX_NOTES);
            let notes = self.read_vec(base.checked_add(vaddr)?, size as usize).ok()?;
            let mut p = 0usize;
            while p + 12 <= notes.len() {
                let word = |at: usize| u32::from_le_bytes(notes[at..at + 4].try_into().expect("4 bytes")) as usize;
                let (namesz, descsz, kind) = (word(p), word(p + 4), word(p + 8) as u32);
                let name_at = p + 12;
                let desc_at = name_at.checked_add(namesz.checked_add(3)? & !3)?;
                let end = desc_at.checked_add(descsz.checked_add(3)? & !3)?;
                if desc_at.checked_add(descsz)? > notes.len() {
                    break;
                }
                if kind == NT_GNU_BUILD_ID && notes.get(name_at..name_at + namesz) == Some(b"GNU\0") {
                    return Some(notes[desc_at..desc_at + descsz].to_vec());
                }
                p = end;
            }
        }
        None
    }
}

//! Files that were mapped into the process, read from disk to fill gaps in a dump.
//!
//! A shared object's writable data holds pointers that the dynamic loader relocated at
//! load time; on disk those words hold 0 and the relocation's addend says what the loader
//! wrote. For the relative relocations (`R_X86_64_RELATIVE`, `R_AARCH64_RELATIVE`: nearly
//! all of them in `libcoreclr.so`) the value is `load base + addend`, which is applied
//! here whenever bytes are read from the file.
//! Other relocation kinds need symbol resolution and are left as on disk.
use goblin::elf::Elf;
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};

const R_X86_64_RELATIVE: u32 = 8;
const R_AARCH64_RELATIVE: u32 = 1027;

/// A mapped file as found on disk.
pub(crate) struct ModuleFile {
    pub path: PathBuf,
    map: Mmap,
    /// `(vaddr, addend)` of each relative relocation, sorted by vaddr.
    relocations: Vec<(u64, u64)>,
}

impl ModuleFile {
    pub fn open(path: &Path) -> Option<ModuleFile> {
        let file = File::open(path).ok()?;
        // SAFETY: read-only map of a file we only read; see `open_dump`.
        let map = unsafe { Mmap::map(&file) }.ok()?;
        let mut relocations = Vec::new();
        if map.len() >= 4 && &map[..4] == b"\x7fELF"
            && let Ok(elf) = Elf::parse(&map) {
                // The file's own machine decides (a dump's files are of its machine).
                let relative = match elf.header.e_machine {
                    goblin::elf::header::EM_AARCH64 => R_AARCH64_RELATIVE,
                    _ => R_X86_64_RELATIVE,
                };
                relocations = elf
                    .dynrelas
                    .iter()
                    .filter(|r| r.r_type == relative)
                    .filter_map(|r| Some((r.r_offset, u64::try_from(r.r_addend?).ok()?)))
                    .collect();
                relocations.sort_unstable();
            }
        Some(ModuleFile {
            path: path.to_path_buf(),
            map,
            relocations,
        })
    }

    /// The GNU build id of an ELF file, if it has one.
    pub fn build_id(&self) -> Option<Vec<u8>> {
        let elf = Elf::parse(&self.map).ok()?;
        let notes = elf.iter_note_headers(&self.map)?;
        notes
            .filter_map(|n| n.ok())
            .find(|n| n.n_type == goblin::elf::note::NT_GNU_BUILD_ID && n.name == "GNU")
            .map(|n| n.desc.to_vec())
    }

    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Copies bytes at `file_pos` into `buf`, as they were at virtual address
    /// `vaddr` (relative to the file's load base `load_base`) after relocation.
    /// Returns false when the file is too short.
    pub fn read(&self, file_pos: u64, vaddr: u64, load_base: u64, buf: &mut [u8]) -> bool {
        let Some(end) = file_pos.checked_add(buf.len() as u64) else {
            return false;
        };
        if end > self.map.len() as u64 {
            return false;
        }
        buf.copy_from_slice(&self.map[file_pos as usize..end as usize]);
        if self.relocations.is_empty() {
            return true;
        }
        let vend = vaddr.saturating_add(buf.len() as u64);
        let first = self
            .relocations
            .partition_point(|&(off, _)| off.saturating_add(8) <= vaddr);
        for &(off, addend) in &self.relocations[first..] {
            if off >= vend {
                break;
            }
            let value = load_base.wrapping_add(addend).to_le_bytes();
            for (i, byte) in value.iter().enumerate() {
                let a = off + i as u64;
                if a >= vaddr && a < vend {
                    buf[(a - vaddr) as usize] = *byte;
                }
            }
        }
        true
    }
}

//! The process address space of a dump: captured memory first, mapped files second.
//!
//! A read at an address is served, piece by piece, from the core's `PT_LOAD` segments
//! (their first `p_filesz` bytes) and, where the dump has no bytes, from the file that was
//! mapped there (`NT_FILE`). Anything else is absent and the read fails naming the first
//! absent address. Reads may cross segment boundaries.
use super::elf_core::{CoreFile, LoadSegment};
use super::module_file::ModuleFile;
use super::module_search::{self, ModuleSearch};
use super::{DumpError, Result};
use std::path::{Path, PathBuf};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

/// A file mapped into the process: every `NT_FILE` range with the same path, merged.
#[derive(Debug, Clone)]
pub struct MappedFile {
    pub path: String,
    /// Lowest mapped address: the load base of a shared object or PE image.
    pub base: u64,
    /// One past the highest mapped address.
    pub end: u64,
}

impl MappedFile {
    /// The file name without its directory.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// A dump's memory, readable by address. Cheap to share between threads.
pub struct AddressSpace {
    core: CoreFile,
    files: Vec<MappedFile>,
    /// For each `core.files` entry, its index in `files`.
    mapping_file: Vec<usize>,
    opened: Vec<OnceLock<Option<Arc<ModuleFile>>>>,
    /// Where to look for a file that is not at its recorded path (`--module-path`).
    search: ModuleSearch,
    /// Set by [`AddressSpace::disable_module_files`] (`--dump-only`).
    files_disabled: bool,
    /// When set, the pages read are recorded here (used to build small self-contained
    /// test fixtures from dumps): every page, or only those served from mapped files.
    recorder: Option<(Recording, Mutex<BTreeSet<u64>>)>,
}

/// Which reads [`AddressSpace::record_reads`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Pages read back from mapped files (what a heap dump lacks).
    FilePages,
    /// Every page read, from the dump or from files.
    AllPages,
}

/// Page size of the dumped process (x86-64 Linux).
pub const PAGE_SIZE: u64 = 4096;

/// Largest buffer a single `read_vec` will allocate for dump-driven lengths.
pub const MAX_READ: usize = 1 << 30;

impl AddressSpace {
    pub fn new(core: CoreFile, module_paths: Vec<PathBuf>) -> AddressSpace {
        let mut files: Vec<MappedFile> = Vec::new();
        let mut mapping_file = Vec::with_capacity(core.files.len());
        for m in &core.files {
            let idx = match files.iter().position(|f| f.path == m.path) {
                Some(i) => {
                    files[i].base = files[i].base.min(m.start);
                    files[i].end = files[i].end.max(m.end);
                    i
                }
                None => {
                    files.push(MappedFile {
                        path: m.path.clone(),
                        base: m.start,
                        end: m.end,
                    });
                    files.len() - 1
                }
            };
            mapping_file.push(idx);
        }
        let opened = files.iter().map(|_| OnceLock::new()).collect();
        let names = files.iter().filter_map(|f| Path::new(&f.path).file_name().map(|n| n.to_os_string()));
        let search = ModuleSearch::new(module_paths, names);
        AddressSpace {
            core,
            files,
            mapping_file,
            opened,
            search,
            files_disabled: false,
            recorder: None,
        }
    }

    /// Reads only what the dump holds, never the mapped files.
    pub fn disable_module_files(&mut self) {
        self.files_disabled = true;
        for cell in &mut self.opened {
            let _ = cell.set(None);
        }
    }

    /// Whether pages the dump left out are read from the mapped files.
    pub fn reads_module_files(&self) -> bool {
        !self.files_disabled
    }

    /// Starts recording which pages are read.
    pub fn record_reads(&mut self, what: Recording) {
        self.recorder = Some((what, Mutex::new(BTreeSet::new())));
    }

    /// The addresses of the pages recorded since recording started, in order.
    pub fn pages_read(&self) -> Vec<u64> {
        self.recorder
            .as_ref()
            .map(|(_, p)| p.lock().map(|s| s.iter().copied().collect()).unwrap_or_default())
            .unwrap_or_default()
    }

    #[inline]
    fn note(&self, from_file: bool, addr: u64, len: usize) {
        if let Some((what, pages)) = &self.recorder
            && (from_file || *what == Recording::AllPages)
            && len > 0
            && let Ok(mut pages) = pages.lock()
        {
            let first = addr / PAGE_SIZE;
            let last = (addr + len as u64 - 1) / PAGE_SIZE;
            pages.extend((first..=last).map(|p| p * PAGE_SIZE));
        }
    }

    pub fn core(&self) -> &CoreFile {
        &self.core
    }

    /// Every file mapped into the process, in address order of first mapping.
    pub fn mapped_files(&self) -> &[MappedFile] {
        &self.files
    }

    /// The mapped file whose path ends with `name` (e.g. `/libcoreclr.so`).
    pub fn find_mapped_file(&self, name: &str) -> Option<&MappedFile> {
        self.files
            .iter()
            .find(|f| f.file_name() == name.trim_start_matches('/'))
    }

    /// Total bytes of captured memory.
    pub fn captured_bytes(&self) -> u64 {
        self.core.segments.iter().map(|s| s.filesz).sum()
    }

    fn segment_at(&self, addr: u64) -> Option<&LoadSegment> {
        let segs = &self.core.segments;
        let i = segs.partition_point(|s| s.vaddr <= addr);
        let s = segs.get(i.checked_sub(1)?)?;
        (addr - s.vaddr < s.memsz).then_some(s)
    }

    /// The captured bytes `[addr, addr+len)` as one slice, when one segment holds them all.
    #[inline]
    pub fn core_slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let s = self.segment_at(addr)?;
        let rel = addr - s.vaddr;
        if rel.checked_add(len as u64)? > s.filesz {
            return None;
        }
        let start = (s.offset + rel) as usize;
        self.note(false, addr, len);
        self.core.data.get(start..start + len)
    }

    /// The captured part of the segment holding `addr`, from `addr` to the segment's
    /// last captured byte.
    pub fn core_slice_from(&self, addr: u64) -> Option<&[u8]> {
        let s = self.segment_at(addr)?;
        let rel = addr - s.vaddr;
        if rel >= s.filesz {
            return None;
        }
        let start = (s.offset + rel) as usize;
        let end = (s.offset + s.filesz) as usize;
        self.note(false, addr, end - start);
        self.core.data.get(start..end)
    }

    /// Reads `buf.len()` bytes at `addr`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let total = buf.len();
        if addr.checked_add(total as u64).is_none() {
            return Err(absent(addr, total, Some("range wraps around".into())));
        }
        let mut done = 0usize;
        while done < total {
            let cur = addr + done as u64;
            let want = total - done;
            let n = self.read_piece(cur, &mut buf[done..])
                .ok_or_else(|| self.why_absent(cur, want))?;
            debug_assert!(n > 0 && n <= want);
            done += n;
        }
        Ok(())
    }

    /// Reads as much as one source (a segment or a mapped file) holds at `addr`.
    fn read_piece(&self, addr: u64, buf: &mut [u8]) -> Option<usize> {
        let segs = &self.core.segments;
        let i = segs.partition_point(|s| s.vaddr <= addr);
        if let Some(s) = i.checked_sub(1).and_then(|j| segs.get(j)) {
            let rel = addr - s.vaddr;
            if rel < s.filesz {
                let n = ((s.filesz - rel) as usize).min(buf.len());
                let start = (s.offset + rel) as usize;
                buf[..n].copy_from_slice(self.core.data.get(start..start + n)?);
                self.note(false, addr, n);
                return Some(n);
            }
        }
        // Not captured: stop the file read where the next captured segment begins.
        let next_captured = segs.get(i).map(|s| s.vaddr).unwrap_or(u64::MAX);
        let limit = ((next_captured - addr) as usize).min(buf.len());
        self.read_from_file(addr, &mut buf[..limit])
    }

    fn read_from_file(&self, addr: u64, buf: &mut [u8]) -> Option<usize> {
        let maps = &self.core.files;
        let i = maps.partition_point(|m| m.start <= addr).checked_sub(1)?;
        let m = &maps[i];
        if addr >= m.end {
            return None;
        }
        let n = ((m.end - addr) as usize).min(buf.len());
        let fidx = self.mapping_file[i];
        let file = self.module_file(fidx)?;
        let mapped = &self.files[fidx];
        let pos = m.file_offset + (addr - m.start);
        let ok = file.read(pos, addr - mapped.base, mapped.base, &mut buf[..n]);
        if ok {
            self.note(true, addr, n);
        }
        ok.then_some(n)
    }

    /// The error for `[addr, addr+len)`, which could not be read: the file of its mapping
    /// is not on this machine, or the memory is simply not in the dump.
    fn why_absent(&self, addr: u64, len: usize) -> DumpError {
        let maps = &self.core.files;
        let mapping = maps
            .partition_point(|m| m.start <= addr)
            .checked_sub(1)
            .filter(|&i| addr < maps[i].end);
        match mapping {
            Some(i) if !self.files_disabled && self.module_file(self.mapping_file[i]).is_none() => {
                DumpError::ModuleFileMissing { addr, len, path: maps[i].path.clone() }
            }
            _ => absent(addr, len, None),
        }
    }

    fn module_file(&self, idx: usize) -> Option<&ModuleFile> {
        self.opened[idx]
            .get_or_init(|| self.locate_file(&self.files[idx].path).map(Arc::new))
            .as_deref()
    }

    /// Where the file of a mapping is on this machine, if anywhere: its recorded path,
    /// else a file of the same name under a `--module-path` directory.
    pub fn local_path(&self, file: &MappedFile) -> Option<PathBuf> {
        let idx = self.files.iter().position(|f| f.path == file.path)?;
        self.module_file(idx).map(|m| m.path.clone())
    }

    fn locate_file(&self, recorded: &str) -> Option<ModuleFile> {
        let recorded_path = Path::new(recorded);
        if let Some(f) = ModuleFile::open(recorded_path) {
            return Some(f);
        }
        let mut found = None;
        self.search.candidates(recorded, &mut |candidate| {
            found = ModuleFile::open(candidate).filter(|f| self.matches_dump(recorded, f));
            found.is_some()
        });
        found
    }

    /// When the file of a mapping cannot be read here, one line saying so and what to do:
    /// name a folder holding it with `--module-path`, or pack the dump where it was made.
    /// `None` when the file is here.
    pub fn missing_file_message(&self, file: &MappedFile) -> Option<String> {
        if self.files_disabled {
            return Some(format!(
                "{} is needed, and the dump holds only part of it; --dump-only forbids reading the file",
                file.path
            ));
        }
        if self.local_path(file).is_some() {
            return None;
        }
        let searched = if self.search.roots().is_empty() {
            String::new()
        } else {
            let roots: Vec<String> = self.search.roots().iter().map(|r| r.display().to_string()).collect();
            format!(" nor under {}", roots.join(", "))
        };
        Some(format!(
            "{} is not on this machine{searched}, and the dump holds only part of it: pass --module-path {} \
             (a copy of the folder, or any folder above it), or run `clrheap pack` on the machine where the dump was made",
            file.path,
            module_search::folder_hint(&file.path)
        ))
    }

    /// Whether a file found by name is the one the process mapped: compared by GNU build
    /// id when the dump holds the mapped ELF header, otherwise by file size covering
    /// every mapped file offset.
    fn matches_dump(&self, recorded: &str, file: &ModuleFile) -> bool {
        let Some(mapped) = self.files.iter().find(|f| f.path == recorded) else {
            return false;
        };
        if let (Some(in_dump), Some(on_disk)) = (self.build_id_in_dump(mapped), file.build_id()) {
            return in_dump == on_disk;
        }
        let furthest = self
            .core
            .files
            .iter()
            .filter(|m| m.path == recorded)
            .map(|m| m.file_offset + (m.end - m.start))
            .max()
            .unwrap_or(0);
        // The last page of a mapping may run past the end of the file.
        file.len() + 4096 > furthest.saturating_sub(4096) && file.len() <= furthest
    }

    /// The GNU build id from an ELF image's notes as captured in the dump.
    fn build_id_in_dump(&self, file: &MappedFile) -> Option<Vec<u8>> {
        let head = self.core_slice(file.base, 64)?;
        if &head[..4] != b"\x7fELF" {
            return None;
        }
        let phoff = u64::from_le_bytes(head[32..40].try_into().ok()?);
        let phnum = u16::from_le_bytes(head[56..58].try_into().ok()?) as u64;
        for i in 0..phnum.min(64) {
            let ph = self.core_slice(file.base.checked_add(phoff)?.checked_add(i * 56)?, 56)?;
            if u32::from_le_bytes(ph[0..4].try_into().ok()?) != 4 {
                continue;
            }
            let vaddr = u64::from_le_bytes(ph[16..24].try_into().ok()?);
            let size = u64::from_le_bytes(ph[32..40].try_into().ok()?).min(4096) as usize;
            let notes = self.core_slice(file.base.checked_add(vaddr)?, size)?;
            let mut pos = 0usize;
            while pos + 12 <= notes.len() {
                let namesz = u32::from_le_bytes(notes[pos..pos + 4].try_into().ok()?) as usize;
                let descsz = u32::from_le_bytes(notes[pos + 4..pos + 8].try_into().ok()?) as usize;
                let ntype = u32::from_le_bytes(notes[pos + 8..pos + 12].try_into().ok()?);
                let desc = pos + 12 + ((namesz + 3) & !3);
                if ntype == 3 && desc + descsz <= notes.len() {
                    return Some(notes[desc..desc + descsz].to_vec());
                }
                pos = desc + ((descsz + 3) & !3);
            }
        }
        None
    }

    pub fn read_u8(&self, addr: u64) -> Result<u8> {
        Ok(self.read_array::<1>(addr)?[0])
    }
    pub fn read_u16(&self, addr: u64) -> Result<u16> {
        Ok(u16::from_le_bytes(self.read_array(addr)?))
    }
    pub fn read_u32(&self, addr: u64) -> Result<u32> {
        Ok(u32::from_le_bytes(self.read_array(addr)?))
    }
    pub fn read_i32(&self, addr: u64) -> Result<i32> {
        Ok(i32::from_le_bytes(self.read_array(addr)?))
    }
    pub fn read_u64(&self, addr: u64) -> Result<u64> {
        Ok(u64::from_le_bytes(self.read_array(addr)?))
    }
    pub fn read_i64(&self, addr: u64) -> Result<i64> {
        Ok(i64::from_le_bytes(self.read_array(addr)?))
    }
    /// A pointer-sized value (8 bytes: only 64-bit dumps are read).
    pub fn read_ptr(&self, addr: u64) -> Result<u64> {
        self.read_u64(addr)
    }

    pub fn read_array<const N: usize>(&self, addr: u64) -> Result<[u8; N]> {
        if let Some(s) = self.core_slice(addr, N) {
            return Ok(s.try_into().expect("slice of N bytes"));
        }
        let mut b = [0u8; N];
        self.read(addr, &mut b)?;
        Ok(b)
    }

    /// Reads `len` bytes into a new buffer; `len` is capped at [`MAX_READ`].
    pub fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        if len > MAX_READ {
            return Err(absent(addr, len, Some("read larger than any runtime structure".into())));
        }
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// A NUL-terminated byte string of at most `max` bytes.
    pub fn read_cstring(&self, addr: u64, max: usize) -> Result<String> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        while out.len() < max {
            let cur = addr
                .checked_add(out.len() as u64)
                .ok_or_else(|| absent(addr, max, Some("range wraps around".into())))?;
            // Read byte-wise near a boundary, in chunks elsewhere.
            let n = match self.read(cur, &mut chunk) {
                Ok(()) => chunk.len(),
                Err(_) => {
                    self.read(cur, &mut chunk[..1])?;
                    1
                }
            };
            if let Some(z) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..z]);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            out.extend_from_slice(&chunk[..n]);
        }
        Err(absent(addr, max, Some("string has no terminator".into())))
    }
}

fn absent(addr: u64, len: usize, note: Option<String>) -> DumpError {
    DumpError::Absent { addr, len, note }
}

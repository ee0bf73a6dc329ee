//! The process address space of a dump: captured memory first, mapped files second.
//!
//! A read at an address is served, piece by piece, from the core's `PT_LOAD` segments
//! (their first `p_filesz` bytes) and, where the dump has no bytes, from the file that was
//! mapped there (`NT_FILE`). Anything else is absent and the read fails naming the first
//! absent address. Reads may cross segment boundaries.
//!
//! A mapped file is read only when it is the file the process mapped, as far as the dump
//! can tell ([`AddressSpace::check_identity`]): an ELF file's GNU build id (else its first
//! page) or a PE image's headers must equal what the dump captured at the mapping of the
//! file's first byte, and every mapping of it must start inside the file. A file that
//! fails is one warning naming it, and the pages the dump left out of it stay absent.
use super::elf_core::{CoreFile, LoadSegment};
use super::module_file::{ModuleFile, OpenError};
use super::module_search::{self, ModuleSearch};
use super::{DumpError, Result};
use crate::warnings::Warnings;
use rustc_hash::FxHashMap;
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
    /// Index in `files` by path.
    file_index: FxHashMap<String, usize>,
    /// What reading the dump skipped; see [`crate::warnings`].
    warnings: Arc<Warnings>,
    opened: Vec<OnceLock<Option<Arc<ModuleFile>>>>,
    /// Where to look for a file that is not at its recorded path (`--module-path`).
    search: ModuleSearch,
    /// Set by [`AddressSpace::disable_module_files`] (`--dump-only`).
    files_disabled: bool,
    /// Why a file was not read, for the files refused (see [`AddressSpace::check_identity`]).
    refused: Vec<OnceLock<String>>,
    /// When set, only files whose path (as named) is below this directory are opened: the
    /// fuzzing harness's sandbox.
    module_root: Option<PathBuf>,
    /// When set, the pages read are recorded here (used to build small self-contained
    /// test fixtures from dumps): every page, or only those served from mapped files.
    recorder: Option<(Recording, Mutex<BTreeSet<u64>>)>,
    /// [`AddressSpace::segments_below`]'s answers for whole 4 MB chunks of address space
    /// ([`ChunkCache`]).
    chunks: ChunkCache,
}

/// Answers of [`AddressSpace::segments_below`] kept per 4 MB chunk of address space, for
/// a chunk that lies inside one segment with no other segment starting in it (every
/// address of it then has the same answer). Direct-mapped by the chunk's low bits, each
/// slot `chunk << 16 | answer` (0: empty), filled as searches find such chunks and
/// shared by every thread. A heap scan reads an object, then its array elsewhere, then
/// the next object: one thread's last answer alone (the other hint) misses at each
/// step, a binary search over the segments each time.
struct ChunkCache {
    slots: Box<[std::sync::atomic::AtomicU64]>,
}

impl ChunkCache {
    const SHIFT: u32 = 22;
    const SLOTS: usize = 4096;

    fn new() -> ChunkCache {
        ChunkCache { slots: (0..Self::SLOTS).map(|_| std::sync::atomic::AtomicU64::new(0)).collect() }
    }

    #[inline(always)]
    fn get(&self, addr: u64) -> Option<usize> {
        let chunk = addr >> Self::SHIFT;
        let v = self.slots.get(chunk as usize % Self::SLOTS)?.load(std::sync::atomic::Ordering::Relaxed);
        (v != 0 && v >> 16 == chunk).then_some((v & 0xffff) as usize)
    }

    /// Keeps `below` (the answer for `addr`) for `addr`'s chunk when it holds for the
    /// whole chunk: segment `below - 1` covers it and segment `below` starts after it.
    fn offer(&self, segs: &[LoadSegment], addr: u64, below: usize) {
        let chunk = addr >> Self::SHIFT;
        let start = chunk << Self::SHIFT;
        let Some(end) = start.checked_add(1 << Self::SHIFT) else { return };
        let Some(s) = below.checked_sub(1).and_then(|j| segs.get(j)) else { return };
        let covers = s.vaddr <= start && s.vaddr.checked_add(s.memsz).is_some_and(|e| e >= end);
        let alone = segs.get(below).is_none_or(|n| n.vaddr >= end);
        // 42 bits of chunk number and 16 of answer: a larger answer is not kept.
        if covers && alone && below < 0xffff {
            if let Some(slot) = self.slots.get(chunk as usize % Self::SLOTS) {
                slot.store(chunk << 16 | below as u64, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
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
    /// The address space of `core`; mapped files not at their recorded paths are searched
    /// for under `module_paths`. What parsing the core skipped is already in
    /// [`AddressSpace::warnings`].
    pub fn new(mut core: CoreFile, module_paths: Vec<PathBuf>) -> AddressSpace {
        let warnings = Arc::new(Warnings::new());
        for w in std::mem::take(&mut core.warnings) {
            warnings.warn(w);
        }
        let mut files: Vec<MappedFile> = Vec::new();
        let mut mapping_file = Vec::with_capacity(core.files.len());
        let mut file_index: FxHashMap<String, usize> = FxHashMap::default();
        for m in &core.files {
            let idx = match file_index.get(&m.path) {
                Some(&i) => {
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
                    file_index.insert(m.path.clone(), files.len() - 1);
                    files.len() - 1
                }
            };
            mapping_file.push(idx);
        }
        let opened = files.iter().map(|_| OnceLock::new()).collect();
        let refused = files.iter().map(|_| OnceLock::new()).collect();
        let names = files.iter().filter_map(|f| Path::new(&f.path).file_name().map(|n| n.to_os_string()));
        let search = ModuleSearch::new(module_paths, names);
        AddressSpace {
            core,
            files,
            mapping_file,
            file_index,
            warnings,
            opened,
            search,
            files_disabled: false,
            refused,
            module_root: None,
            recorder: None,
            chunks: ChunkCache::new(),
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

    /// Opens no mapped file outside `dir` (by the path as named, before links are followed,
    /// so that a link in `dir` to `/proc` still meets the module file checks). For the
    /// fuzzing harness, which points crafted dumps at files it made.
    #[doc(hidden)]
    pub fn restrict_module_files(&mut self, dir: PathBuf) {
        self.module_root = Some(dir);
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

    /// Where every layer reports what reading this dump skipped (see [`crate::warnings`]).
    pub fn warnings(&self) -> &Warnings {
        &self.warnings
    }

    /// The same sink, to share (the session keeps it).
    pub fn shared_warnings(&self) -> Arc<Warnings> {
        self.warnings.clone()
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

    /// How many segments start at or below `addr` (the segments are sorted by address):
    /// `partition_point`, answered first from the chunk's kept answer ([`ChunkCache`]),
    /// then from the thread's last answer when it still holds (scans read address after
    /// address in one segment).
    #[inline]
    fn segments_below(&self, addr: u64) -> usize {
        thread_local! {
            static LAST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        }
        if let Some(below) = self.chunks.get(addr) {
            return below;
        }
        let segs = &self.core.segments;
        let hint = LAST.with(|l| l.get());
        // The one index where the segments below start at or below `addr` and the next
        // starts above it (a hint from another dump fails this or is as right).
        if hint <= segs.len()
            && hint.checked_sub(1).is_none_or(|j| segs[j].vaddr <= addr)
            && segs.get(hint).is_none_or(|s| s.vaddr > addr)
        {
            return hint;
        }
        let i = segs.partition_point(|s| s.vaddr <= addr);
        LAST.with(|l| l.set(i));
        self.chunks.offer(segs, addr, i);
        i
    }

    fn segment_at(&self, addr: u64) -> Option<&LoadSegment> {
        let segs = &self.core.segments;
        let i = self.segments_below(addr);
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

    /// Asks the processor to start loading the captured byte at `addr` into its caches (a
    /// hint, no read: nothing when the dump does not hold it). Scans that know the
    /// addresses they will read next issue it some steps ahead, so that the memory's
    /// latency overlaps the work on earlier objects.
    #[inline]
    pub fn prefetch(&self, addr: u64) {
        let Some(s) = self.segment_at(addr) else { return };
        let rel = addr - s.vaddr;
        if rel >= s.filesz {
            return;
        }
        if let Some(b) = self.core.data.get((s.offset + rel) as usize) {
            prefetch(b);
        }
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

    /// How many bytes from `addr` on can be read without a gap: captured by the dump, or
    /// mapped from a module file that passed the identity check (and so is at least as
    /// long as its mappings). A bound for scans whose length comes from the dump.
    pub fn readable_run(&self, addr: u64) -> u64 {
        let segs = &self.core.segments;
        let maps = &self.core.files;
        let mut at = addr;
        loop {
            let i = segs.partition_point(|s| s.vaddr <= at);
            if let Some(s) = i.checked_sub(1).map(|j| &segs[j])
                && at - s.vaddr < s.filesz
            {
                at = s.vaddr.saturating_add(s.filesz);
                continue;
            }
            let i = maps.partition_point(|m| m.start <= at);
            if let Some(j) = i.checked_sub(1)
                && at < maps[j].end
                && self.module_file(self.mapping_file[j]).is_some()
            {
                // Stop where the next captured segment begins: it is read from the dump.
                let next = segs.get(segs.partition_point(|s| s.vaddr <= at)).map_or(u64::MAX, |s| s.vaddr);
                at = maps[j].end.min(next);
                continue;
            }
            return at - addr;
        }
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
        let i = self.segments_below(addr);
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
        let pos = m.file_offset.saturating_add(addr - m.start);
        // A mapping may run past the file's end (the check only asks that it start inside
        // it): what lies beyond is absent.
        let avail = file.len().saturating_sub(pos);
        if avail == 0 {
            self.warnings.warn(format!(
                "{} has {} bytes, but the process mapped it further, at {addr:#x}: that memory is absent",
                file.path.display(),
                file.len()
            ));
            return None;
        }
        let n = n.min(usize::try_from(avail).unwrap_or(usize::MAX));
        let ok = file.read(pos, addr - mapped.base, mapped.base, &mut buf[..n]);
        if ok {
            self.note(true, addr, n);
        }
        ok.then_some(n)
    }

    /// The error for `[addr, addr+len)`, which could not be read: the file of its mapping
    /// is not on this machine or was refused, or the memory is simply not in the dump.
    fn why_absent(&self, addr: u64, len: usize) -> DumpError {
        let maps = &self.core.files;
        let mapping = maps
            .partition_point(|m| m.start <= addr)
            .checked_sub(1)
            .filter(|&i| addr < maps[i].end);
        match mapping {
            Some(i) if !self.files_disabled && self.module_file(self.mapping_file[i]).is_none() => {
                match self.refused[self.mapping_file[i]].get() {
                    Some(why) => absent(addr, len, Some(why.clone())),
                    None => DumpError::ModuleFileMissing { addr, len, path: maps[i].path.clone() },
                }
            }
            _ => absent(addr, len, None),
        }
    }

    fn module_file(&self, idx: usize) -> Option<&ModuleFile> {
        self.opened[idx]
            .get_or_init(|| self.locate_file(idx).map(Arc::new))
            .as_deref()
    }

    /// The `--module-path` directories.
    pub fn module_search_paths(&self) -> &[PathBuf] {
        self.search.roots()
    }

    /// Where the file of a mapping is on this machine, if anywhere: its recorded path,
    /// else a file of the same name under a `--module-path` directory.
    pub fn local_path(&self, file: &MappedFile) -> Option<PathBuf> {
        let &idx = self.file_index.get(&file.path)?;
        self.module_file(idx).map(|m| m.path.clone())
    }

    /// The file the process mapped as `files[idx]`: at its recorded path, else under a
    /// `--module-path` directory (by name, or by the recorded path below the directory),
    /// the first that is a regular file matching the dump. Every file found but refused is
    /// a warning.
    fn locate_file(&self, idx: usize) -> Option<ModuleFile> {
        let recorded = self.files[idx].path.as_str();
        let recorded_path = Path::new(recorded);
        // Refused candidates, in the order tried: `(path, why)`.
        let mut refusals: Vec<(PathBuf, String)> = Vec::new();
        let mut try_one = |candidate: &Path, named_by_dump: bool| -> Option<ModuleFile> {
            if let Some(root) = &self.module_root
                && (!candidate.starts_with(root)
                    || candidate.components().any(|c| c == std::path::Component::ParentDir))
            {
                return None;
            }
            let why = match ModuleFile::open(candidate, named_by_dump) {
                Err(OpenError::Missing) => return None,
                Err(OpenError::Refused(why)) => why,
                Ok(mut file) => match self.check_identity(idx, &file) {
                    Ok(()) => {
                        file.load_relocations();
                        return Some(file);
                    }
                    Err(why) => why,
                },
            };
            refusals.push((candidate.to_path_buf(), why));
            None
        };
        let mut found = try_one(recorded_path, true);
        if found.is_none() {
            self.search.candidates(recorded, &mut |candidate| {
                found = try_one(candidate, false);
                found.is_some()
            });
        }
        // A search meets files of other versions on its way to the right one: a refusal
        // matters only when nothing matched.
        if found.is_none()
            && let Some((path, why)) = refusals.first()
        {
            let others = match refusals.len() {
                1 => String::new(),
                n => format!(" ({} other candidates did not match either)", n - 1),
            };
            self.warnings.warn(format!(
                "not reading {}: it {why}; what the dump left out of it stays absent{others}",
                path.display()
            ));
            let _ = self.refused[idx].set(format!("{} was not read: it {why}", path.display()));
        }
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
        if let Some(why) = self.file_index.get(&file.path).and_then(|&i| self.refused[i].get()) {
            return Some(format!(
                "{why}, and the dump holds only part of it: pass --module-path {} with a copy of the file \
                 the process mapped, or run `clrheap pack` on the machine where the dump was made",
                module_search::folder_hint(&file.path)
            ));
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

    /// Whether `file` is the file the process mapped as `files[idx]`, as far as the dump
    /// can tell; `Err` completes "it ..." with why not.
    ///
    /// Every mapping of the file must start inside it (to the page), and the dump
    /// must hold the mapping of its first byte: there an ELF image's GNU build id (else its
    /// first page) or a PE image's headers (timestamp, sizes, checksum, sections) must be
    /// the file's. Anything else (a data file, a header the dump left out) is refused:
    /// clrheap reads modules only.
    fn check_identity(&self, idx: usize, file: &ModuleFile) -> std::result::Result<(), String> {
        let page = self.core.file_page_size.max(PAGE_SIZE);
        let rounded = file.len().div_ceil(page).saturating_mul(page);
        let mut head_at = None;
        for (m, _) in self
            .core
            .files
            .iter()
            .zip(&self.mapping_file)
            .filter(|(_, f)| **f == idx)
        {
            // A mapping may run past the file's end (an emulator maps whole 64 KiB
            // segments; those bytes stay absent), but it starts inside the file.
            if m.file_offset >= rounded {
                return Err(format!(
                    "has {} bytes, but the process mapped it from byte {}",
                    file.len(),
                    m.file_offset
                ));
            }
            if m.file_offset == 0 {
                head_at = Some(head_at.map_or(m.start, |h: u64| h.min(m.start)));
            }
        }
        let Some(head_at) = head_at else {
            return Err("cannot be checked: the dump does not map its first page".into());
        };
        let Some(captured) = self.core_slice_from(head_at) else {
            return Err("cannot be checked: the dump does not hold its first page".into());
        };
        let head = &captured[..captured.len().min(PAGE_SIZE as usize)];
        if head.starts_with(b"\x7fELF") {
            if let Some(in_dump) = self.build_id_in_dump(head_at) {
                return match file.build_id() {
                    Some(on_disk) if on_disk == in_dump => Ok(()),
                    Some(on_disk) => Err(format!(
                        "has build id {}, the mapped file had {}",
                        hex(&on_disk),
                        hex(&in_dump)
                    )),
                    None => Err(format!("has no build id, the mapped file had {}", hex(&in_dump))),
                };
            }
            return same_bytes(file, head, "first page");
        }
        if head.starts_with(b"MZ") {
            let Some(headers) = pe_headers_len(head) else {
                return Err("cannot be checked: the dump holds damaged PE headers for it".into());
            };
            if let (Some(dump_stamp), Some(file_stamp)) = (
                pe_timestamp(head),
                file.bytes(0, headers).and_then(pe_timestamp),
            ) && dump_stamp != file_stamp
            {
                return Err(format!(
                    "has PE timestamp {file_stamp:08x}, the mapped file had {dump_stamp:08x}"
                ));
            }
            return same_bytes(file, &head[..headers], "PE headers");
        }
        Err("is not an ELF or PE image in the dump; clrheap reads module files only".into())
    }

    /// The GNU build id from the notes of the ELF image whose header the dump captured at
    /// `head_at`.
    fn build_id_in_dump(&self, head_at: u64) -> Option<Vec<u8>> {
        let head = self.core_slice(head_at, 64)?;
        if &head[..4] != b"\x7fELF" {
            return None;
        }
        let phoff = u64::from_le_bytes(head[32..40].try_into().ok()?);
        let phnum = u16::from_le_bytes(head[56..58].try_into().ok()?) as u64;
        for i in 0..phnum.min(64) {
            let ph = self.core_slice(head_at.checked_add(phoff)?.checked_add(i * 56)?, 56)?;
            if u32::from_le_bytes(ph[0..4].try_into().ok()?) != 4 {
                continue;
            }
            let vaddr = u64::from_le_bytes(ph[16..24].try_into().ok()?);
            let size = u64::from_le_bytes(ph[32..40].try_into().ok()?).min(4096) as usize;
            let Some(notes) = self.core_slice(head_at.checked_add(vaddr)?, size) else {
                continue;
            };
            let mut pos = 0usize;
            while pos + 12 <= notes.len() {
                let namesz = u32::from_le_bytes(notes[pos..pos + 4].try_into().ok()?) as usize;
                let descsz = u32::from_le_bytes(notes[pos + 4..pos + 8].try_into().ok()?) as usize;
                let ntype = u32::from_le_bytes(notes[pos + 8..pos + 12].try_into().ok()?);
                let desc = (pos + 12).checked_add(namesz.checked_add(3)? & !3)?;
                let desc_end = desc.checked_add(descsz)?;
                if ntype == 3 && desc_end <= notes.len() {
                    return Some(notes[desc..desc_end].to_vec());
                }
                pos = desc.checked_add(descsz.checked_add(3)? & !3)?;
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

/// `Ok` when the file starts with `expected`; `Err` otherwise ("... differ").
fn same_bytes(file: &ModuleFile, expected: &[u8], what: &str) -> std::result::Result<(), String> {
    match file.bytes(0, expected.len()) {
        Some(on_disk) if on_disk == expected => Ok(()),
        _ => Err(format!("differs from the mapped file: its {what} are not the dump's")),
    }
}

/// How many bytes of a PE image's start are headers (`SizeOfHeaders`), within `head`.
fn pe_headers_len(head: &[u8]) -> Option<usize> {
    let lfanew = u32::from_le_bytes(head.get(0x3c..0x40)?.try_into().ok()?) as usize;
    if head.get(lfanew..lfanew.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    // COFF header (20 bytes) after the signature, then the optional header, whose
    // SizeOfHeaders is at +60 in both PE32 and PE32+.
    let optional = lfanew.checked_add(24)?;
    let size = u32::from_le_bytes(head.get(optional + 60..optional + 64)?.try_into().ok()?);
    let size = (size as usize).min(head.len());
    (size >= optional + 64).then_some(size)
}

/// A PE image's COFF `TimeDateStamp` (a content hash in deterministic builds).
fn pe_timestamp(head: &[u8]) -> Option<u32> {
    let lfanew = u32::from_le_bytes(head.get(0x3c..0x40)?.try_into().ok()?) as usize;
    let at = lfanew.checked_add(8)?;
    Some(u32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asks the CPU to start loading the cache line holding `value` (a hint: it reads
/// nothing and cannot fault; nothing on other architectures). Every layer's prefetching
/// goes through this one.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint for any address; `value` is a valid reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch(value as *const T as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod chunk_cache_tests {
    use super::*;
    use crate::test_rng::XorShift;

    fn seg(vaddr: u64, memsz: u64) -> LoadSegment {
        LoadSegment { vaddr, memsz, offset: 0, filesz: memsz }
    }

    /// Answers through the cache (filled as the searches go) and by a plain search agree
    /// for every address asked, twice over (the second pass mostly from the cache).
    fn agrees(segs: &[LoadSegment], addresses: &[u64]) {
        let cache = ChunkCache::new();
        for _ in 0..2 {
            for &a in addresses {
                let want = segs.partition_point(|s| s.vaddr <= a);
                let got = cache.get(a).unwrap_or_else(|| {
                    cache.offer(segs, a, want);
                    want
                });
                assert_eq!(got, want, "address {a:#x}");
            }
        }
    }

    #[test]
    fn kept_answers_are_those_of_a_search() {
        const MB: u64 = 1 << 20;
        let base = 0x7f00_0000_0000u64;
        let layouts: Vec<Vec<LoadSegment>> = vec![
            // Large aligned segments (a heap), small ones, one starting inside a chunk
            // another covers up to there, back to back, and overlapping (a hostile dump).
            vec![seg(base, 300 * MB), seg(base + 300 * MB, 8 * MB), seg(base + 310 * MB + 4096, 9 * MB), seg(base + 400 * MB, 3 * MB)],
            vec![seg(base, 2 * MB), seg(base + 2 * MB, 2 * MB), seg(base + 5 * MB, 64 * MB)],
            vec![seg(base, 64 * MB), seg(base + 16 * MB, 4 * MB), seg(base + 32 * MB, 100 * MB)],
            // Chunks 4096 slots apart share a slot.
            vec![seg(base, 8 * MB), seg(base + (4096 << 22), 8 * MB)],
            // The top of the address space.
            vec![seg(u64::MAX - 8 * MB + 1, 8 * MB - 1)],
            vec![],
        ];
        let mut rng = XorShift(0x5eed);
        for segs in &layouts {
            let mut addresses = Vec::new();
            for s in segs {
                for a in [s.vaddr, s.vaddr.wrapping_sub(1), s.vaddr.saturating_add(s.memsz), s.vaddr.saturating_add(s.memsz / 2)] {
                    addresses.push(a);
                }
                for _ in 0..200 {
                    addresses.push(s.vaddr.saturating_add(rng.below(s.memsz.saturating_add(8 * MB).max(1))));
                }
            }
            addresses.extend([0, base - 1, u64::MAX, base + (4096 << 22) + 3 * MB]);
            agrees(segs, &addresses);
        }
        // A chunk inside one segment is kept; one where the next segment starts is not.
        let segs = &layouts[0];
        let cache = ChunkCache::new();
        for a in [base + 5 * MB, base + 310 * MB] {
            cache.offer(segs, a, segs.partition_point(|s| s.vaddr <= a));
        }
        assert_eq!(cache.get(base + 6 * MB), Some(1));
        assert_eq!(cache.get(base + 310 * MB), None);
    }
}

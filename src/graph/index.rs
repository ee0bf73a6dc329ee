//! The index on disk: what the graph layer computed about a dump (object table, edges,
//! reverse edges, live set, dominators and retained sizes), written once to files that a
//! later session maps instead of computing again, like Eclipse MAT's index files.
//!
//! **Where.** One directory per dump under `$XDG_CACHE_HOME/clrheap/index/` (default
//! `~/.cache/clrheap/index/`), named after the dump's file name and a hash of its absolute
//! path; one file per part ([`Part`]), each written when that part is first computed.
//! Not next to the dump: dumps often sit in read-only or shared places (a mounted volume,
//! another user's directory), and a cache directory is where users look for what they can
//! delete.
//!
//! **Format.** Every file: a 128-byte header (magic `CLRHIDX\0`, format version, part,
//! byte-order mark, section count; the dump's size, modification time and a hash of its
//! first MiB (ELF header, program headers and notes: build ids, threads); the object
//! count; the object file's content hash, which ties every other part to the object table
//! it numbers; a content hash; four part-specific numbers; a hash of the header itself),
//! then a section table (offset and length of each section) and the sections, 64-byte
//! aligned plain little arrays in the machine's byte order. Hashes are XXH3-64; the content
//! hash is the hash of the hashes of 8 MiB chunks, so it is computed in parallel.
//!
//! **Trust.** A file is used only when its header hash, magic, version, byte order, dump
//! identity, parent and content hash all match, every section lies inside the file and has
//! the length its part needs, and ids inside it are below the object count (checked in
//! parallel): a damaged or stale file is reported with a notice and rebuilt. Readers use
//! checked access, so even a file crafted to pass the hashes cannot make them panic.
//!
//! **Writing.** To a temporary file in the same directory, then renamed over the old one:
//! several processes may open the same dump at once, and a mapped file is never changed
//! under its reader.
use super::store::{bytes_of, Plain, Store};
use crate::progress::Progress;
use crate::warnings::Warnings;
use anyhow::{bail, Context, Result};
use memmap2::Mmap;
use rayon::prelude::*;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 8] = b"CLRHIDX\0";
/// Bumped whenever what a file holds or means changes: older files are then rebuilt.
pub const VERSION: u32 = 2;
const BYTE_ORDER: u32 = 0x0102_0304;
const HEADER: usize = 128;
const MAX_SECTIONS: usize = 16;
const ALIGN: usize = 64;
const CHUNK: usize = 8 << 20;
/// Bytes of the dump's start hashed into its identity.
const DUMP_HEAD: u64 = 1 << 20;

/// Heaps with fewer objects get no index (override: `CLRHEAP_INDEX_MIN_OBJECTS`): they
/// are quick to compute again, and small dumps (tests, fixtures) leave no files behind.
pub const MIN_OBJECTS: usize = 1_000_000;

/// The object count from which an index is written.
pub fn min_objects() -> usize {
    std::env::var("CLRHEAP_INDEX_MIN_OBJECTS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(MIN_OBJECTS)
}

/// The environment variable that turns the index off (any value but empty or `0`).
pub const ENV_OFF: &str = "CLRHEAP_NO_INDEX";

static DISABLED: AtomicBool = AtomicBool::new(false);

/// Turns the index off for this process (the global `--no-index`).
pub fn set_disabled(off: bool) {
    DISABLED.store(off, Ordering::SeqCst);
}

/// Whether `--no-index` or [`ENV_OFF`] turned the index off.
pub fn disabled() -> bool {
    DISABLED.load(Ordering::Relaxed) || std::env::var_os(ENV_OFF).is_some_and(|v| !v.is_empty() && v != "0")
}

/// What one index file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Objects = 1,
    Live = 2,
    Edges = 3,
    Reverse = 4,
    Dominators = 5,
    /// The leak analyses' findings (`leaks`), serialized, keyed by the options that
    /// change them.
    Findings = 6,
    /// The live set by address (`dumpheap -live` without the object table): the bitmaps
    /// of [`super::marks`], tied to the dump only.
    Marks = 7,
}

impl Part {
    fn file_name(self) -> &'static str {
        match self {
            Part::Objects => "objects.idx",
            Part::Live => "live.idx",
            Part::Edges => "edges.idx",
            Part::Reverse => "reverse.idx",
            Part::Dominators => "dominators.idx",
            Part::Findings => "findings.idx",
            Part::Marks => "marks.idx",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Part::Objects => "object table",
            Part::Live => "live set",
            Part::Edges => "references",
            Part::Reverse => "incoming references",
            Part::Dominators => "dominator tree",
            Part::Findings => "leak findings",
            Part::Marks => "live set by address",
        }
    }
}

/// What identifies the dump an index was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DumpIdentity {
    size: u64,
    mtime_ns: u64,
    head_hash: u64,
}

impl DumpIdentity {
    fn of(path: &Path) -> std::io::Result<DumpIdentity> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        let mut head = Vec::new();
        (&mut file).take(DUMP_HEAD).read_to_end(&mut head)?;
        Ok(DumpIdentity { size: meta.len(), mtime_ns, head_hash: xxh3_64(&head) })
    }
}

/// The index directory of one dump.
pub struct IndexDir {
    dir: PathBuf,
    dump: DumpIdentity,
    warnings: Arc<Warnings>,
}

/// The cache directory's root: `$XDG_CACHE_HOME/clrheap/index`, else `~/.cache/clrheap/index`.
pub fn cache_root() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(p) => p,
        None => PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".cache"),
    };
    Some(base.join("clrheap").join("index"))
}

impl IndexDir {
    /// The index of the dump at `path`, unless the index is turned off or no cache
    /// directory is known; notices go to `warnings`.
    pub fn for_dump(path: &Path, warnings: Arc<Warnings>) -> Option<IndexDir> {
        if disabled() {
            return None;
        }
        IndexDir::in_cache(&cache_root()?, path, warnings)
    }

    /// The index of the dump at `path` under the cache directory `root` (tests).
    pub fn in_cache(root: &Path, path: &Path, warnings: Arc<Warnings>) -> Option<IndexDir> {
        let absolute = std::fs::canonicalize(path).ok()?;
        let dump = match DumpIdentity::of(&absolute) {
            Ok(d) => d,
            Err(_) => return None,
        };
        let name: String = absolute
            .file_name()
            .map(|n| n.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' }).take(64).collect())
            .unwrap_or_default();
        let key = xxh3_64(absolute.as_os_str().as_encoded_bytes());
        let dir = root.join(format!("{name}-{key:016x}"));
        Some(IndexDir { dir, dump, warnings })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Opens the file of `part` when it exists and can be trusted: made from this dump,
    /// over the object table whose content hash is `parent` (0 for the object table
    /// itself), undamaged. A file that exists but cannot be trusted is reported (a
    /// notice) and `None` returned: the caller computes the part again.
    pub fn open(&self, part: Part, parent: u64) -> Option<IndexFile> {
        let path = self.dir.join(part.file_name());
        let file = File::open(&path).ok()?;
        match IndexFile::read(file, part, self.dump, parent) {
            Ok(f) => Some(f),
            Err(e) => {
                self.warnings.notice(format!(
                    "The index's {} ({}) {e:#}: rebuilding it.\n",
                    part.what(),
                    path.display()
                ));
                None
            }
        }
    }

    /// Whether the file of `part` exists (trusted or not).
    pub fn has(&self, part: Part) -> bool {
        self.dir.join(part.file_name()).is_file()
    }

    /// Reports a file whose contents did not hold together (it is rebuilt).
    pub fn rejected(&self, part: Part, e: &anyhow::Error) {
        self.warnings.notice(format!(
            "The index's {} ({}) is damaged ({e:#}): rebuilding it.\n",
            part.what(),
            self.dir.join(part.file_name()).display()
        ));
    }

    /// Writes the file of `part` (atomically: a temporary file renamed into place) and
    /// opens it. `sections` are lists of byte slices, each list one section.
    pub fn write(&self, part: Part, parent: u64, objects: u64, extra: [u64; 4], sections: &[Vec<&[u8]>]) -> Result<IndexFile> {
        let lens: Vec<usize> = sections.iter().map(|s| s.iter().map(|p| p.len()).sum()).collect();
        let total = lens.iter().sum::<usize>() as u64;
        let progress = Progress::new("writing the index", total);
        self.write_in_place(part, parent, objects, &lens, |out| {
            // Copied in pieces on every core: each piece's pages are faulted in by the
            // core that copies it (one core writing the file with `write` left the
            // others idle: 0.43 s for the 4 GB dump's object table).
            let mut jobs: Vec<(&[u8], &mut [u8])> = Vec::new();
            for (s, dst) in sections.iter().zip(out.iter_mut()) {
                let mut rest: &mut [u8] = dst;
                for part in s {
                    let k = part.len().min(rest.len());
                    let (d, r) = std::mem::take(&mut rest).split_at_mut(k);
                    for (from, to) in part.chunks(CHUNK).zip(d.chunks_mut(CHUNK)) {
                        jobs.push((from, to));
                    }
                    rest = r;
                }
            }
            jobs.into_par_iter().for_each(|(from, to)| {
                to.copy_from_slice(from);
                progress.inc(from.len() as u64);
            });
            Ok(extra)
        })
    }
}

impl IndexDir {
    /// Writes the file of `part` in place: its sections (`lens`, in bytes) are
    /// laid out in a new file mapped writable, `fill` writes them (starting from zeros)
    /// and returns the header's part-specific numbers; then the content hash and header
    /// are written and the file renamed into place, as [`IndexDir::write`] does. What is
    /// computed this way lives in page cache from the start: no private copy, no second
    /// write.
    pub fn write_in_place(
        &self,
        part: Part,
        parent: u64,
        objects: u64,
        lens: &[usize],
        fill: impl FnOnce(&mut [&mut [u8]]) -> Result<[u64; 4]>,
    ) -> Result<IndexFile> {
        if lens.len() > MAX_SECTIONS {
            bail!("too many sections");
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", part.file_name()))
            .tempfile_in(&self.dir)
            .with_context(|| format!("cannot write in {}", self.dir.display()))?;
        let mut table = Vec::with_capacity(lens.len());
        let mut at = align(HEADER + 16 * lens.len());
        for &len in lens {
            table.push((at as u64, len as u64));
            at = align(at.checked_add(len).context("section size")?);
        }
        reserve(tmp.as_file(), at as u64)?;
        // SAFETY: a new private temporary file, mapped once; nobody else writes it.
        let mut map = unsafe { memmap2::MmapMut::map_mut(tmp.as_file())? };
        for (i, &(o, l)) in table.iter().enumerate() {
            map[HEADER + 16 * i..HEADER + 16 * i + 8].copy_from_slice(&o.to_ne_bytes());
            map[HEADER + 16 * i + 8..HEADER + 16 * i + 16].copy_from_slice(&l.to_ne_bytes());
        }
        let extra = {
            let mut sections: Vec<&mut [u8]> = Vec::with_capacity(table.len());
            let mut rest: &mut [u8] = &mut map[..];
            let mut pos = 0usize;
            for &(o, l) in &table {
                let (_, tail) = std::mem::take(&mut rest).split_at_mut(o as usize - pos);
                let (section, tail) = tail.split_at_mut(l as usize);
                sections.push(section);
                rest = tail;
                pos = (o + l) as usize;
            }
            fill(&mut sections)?
        };
        let content_hash = content_hash(&map[HEADER..]);
        let header = Header { part: part as u32, sections: lens.len() as u32, dump: self.dump, objects, parent, content_hash, extra };
        map[..HEADER].copy_from_slice(&header.encode());
        let map = Arc::new(map.make_read_only()?);
        let path = self.dir.join(part.file_name());
        tmp.persist(&path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(IndexFile { map, header, table: table.iter().map(|&(o, l)| (o as usize, l as usize)).collect() })
    }
}

/// [`IndexDir::write_in_place`], reporting a failure as a notice (`None`: the caller
/// computes in memory instead).
pub fn write_in_place_or_note(
    dir: &IndexDir,
    part: Part,
    parent: u64,
    objects: u64,
    lens: &[usize],
    fill: impl FnOnce(&mut [&mut [u8]]) -> Result<[u64; 4]>,
) -> Option<IndexFile> {
    match dir.write_in_place(part, parent, objects, lens, fill) {
        Ok(f) => Some(f),
        Err(e) => {
            if e.downcast_ref::<crate::interrupt::Cancelled>().is_none() {
                dir.warnings.notice(format!("The index's {} could not be written: {e:#}.\n", part.what()));
            }
            None
        }
    }
}

/// Gives a new file its size, with its disk blocks allocated at once where the file
/// system can (a full disk then fails here, not as a SIGBUS when a page of the mapping is
/// first written).
fn reserve(file: &File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let Ok(l) = libc::off_t::try_from(len) else { return Err(std::io::ErrorKind::InvalidInput.into()) };
        // SAFETY: fallocate on an open descriptor of ours.
        if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, l) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOSPC) {
            return Err(e);
        }
    }
    file.set_len(len)
}

fn align(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

/// XXH3 of the XXH3s of each 8 MiB chunk (chunks hashed in parallel).
fn content_hash(bytes: &[u8]) -> u64 {
    let hashes: Vec<u64> = bytes.par_chunks(CHUNK).map(xxh3_64).collect();
    xxh3_64(bytes_of(&hashes))
}

#[derive(Debug, Clone, Copy)]
struct Header {
    part: u32,
    sections: u32,
    dump: DumpIdentity,
    objects: u64,
    parent: u64,
    content_hash: u64,
    extra: [u64; 4],
}

impl Header {
    fn encode(&self) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[0..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_ne_bytes());
        h[12..16].copy_from_slice(&self.part.to_ne_bytes());
        h[16..20].copy_from_slice(&BYTE_ORDER.to_ne_bytes());
        h[20..24].copy_from_slice(&self.sections.to_ne_bytes());
        let words = [
            self.dump.size,
            self.dump.mtime_ns,
            self.dump.head_hash,
            self.objects,
            self.parent,
            self.content_hash,
            self.extra[0],
            self.extra[1],
            self.extra[2],
            self.extra[3],
        ];
        for (i, w) in words.iter().enumerate() {
            h[24 + 8 * i..32 + 8 * i].copy_from_slice(&w.to_ne_bytes());
        }
        let hash = xxh3_64(&h[..104]);
        h[104..112].copy_from_slice(&hash.to_ne_bytes());
        h
    }

    fn decode(h: &[u8]) -> Result<Header> {
        let u32_at = |i: usize| u32::from_ne_bytes(h[i..i + 4].try_into().unwrap_or_default());
        let u64_at = |i: usize| u64::from_ne_bytes(h[i..i + 8].try_into().unwrap_or_default());
        if h.len() < HEADER || &h[0..8] != MAGIC {
            bail!("is not an index file");
        }
        if u32_at(16) != BYTE_ORDER {
            bail!("was written on a machine of another byte order");
        }
        if u64_at(104) != xxh3_64(&h[..104]) || h[112..HEADER].iter().any(|&b| b != 0) {
            bail!("is damaged (its header's checksum does not match)");
        }
        if u32_at(8) != VERSION {
            bail!("is of another format version ({}, this clrheap writes {VERSION})", u32_at(8));
        }
        let w = |i: usize| u64_at(24 + 8 * i);
        Ok(Header {
            part: u32_at(12),
            sections: u32_at(20),
            dump: DumpIdentity { size: w(0), mtime_ns: w(1), head_hash: w(2) },
            objects: w(3),
            parent: w(4),
            content_hash: w(5),
            extra: [w(6), w(7), w(8), w(9)],
        })
    }
}

/// One trusted, mapped index file.
pub struct IndexFile {
    map: Arc<Mmap>,
    header: Header,
    table: Vec<(usize, usize)>,
}

impl IndexFile {
    fn read(file: File, part: Part, dump: DumpIdentity, parent: u64) -> Result<IndexFile> {
        // SAFETY: index files are replaced by rename, never written in place.
        let map = Arc::new(unsafe { Mmap::map(&file)? });
        let header = Header::decode(map.get(..HEADER).unwrap_or(&[]))?;
        if header.part != part as u32 {
            bail!("holds another part");
        }
        if header.dump != dump {
            bail!("is stale (the dump changed since it was written)");
        }
        if header.parent != parent {
            bail!("is stale (it was made over another object table)");
        }
        let sections = header.sections as usize;
        if sections > MAX_SECTIONS {
            bail!("is damaged (section count)");
        }
        let mut table = Vec::with_capacity(sections);
        for i in 0..sections {
            let at = HEADER + 16 * i;
            let word = |j: usize| map.get(at + j..at + j + 8).and_then(|b| b.try_into().ok()).map(u64::from_ne_bytes);
            let (Some(o), Some(l)) = (word(0), word(8)) else { bail!("is truncated (section table)") };
            let end = o.checked_add(l).filter(|&e| e <= map.len() as u64);
            if end.is_none() || o % ALIGN as u64 != 0 {
                bail!("is truncated or damaged (section {i} lies outside the file)");
            }
            table.push((o as usize, l as usize));
        }
        if content_hash(&map[HEADER..]) != header.content_hash {
            bail!("is damaged (its checksum does not match)");
        }
        Ok(IndexFile { map, header, table })
    }

    /// The file's content hash (the parent of the files made over this object table).
    pub fn content_hash(&self) -> u64 {
        self.header.content_hash
    }

    /// The object count it was made for.
    pub fn objects(&self) -> u64 {
        self.header.objects
    }

    /// Its part-specific numbers.
    pub fn extra(&self) -> [u64; 4] {
        self.header.extra
    }

    /// Section `i` as an array of `T`; `len`, when given, is the element count it must have.
    pub fn section<T: Plain>(&self, i: usize, len: Option<usize>) -> Result<Store<T>> {
        let Some(&(offset, bytes)) = self.table.get(i) else { bail!("section {i} is missing") };
        if bytes % size_of::<T>() != 0 {
            bail!("section {i} is not a whole number of elements");
        }
        let n = bytes / size_of::<T>();
        if len.is_some_and(|l| l != n) {
            bail!("section {i} holds {n} elements, not {}", len.unwrap_or(0));
        }
        Store::mapped(&self.map, offset, n).context("section outside the file")
    }
}

/// Whether every value is below `bound` (in parallel).
pub fn all_below(values: &[u32], bound: u64) -> bool {
    values.par_chunks(1 << 16).all(|c| c.iter().all(|&v| (v as u64) < bound))
}

/// Writes `part`'s sections, reporting a failure as a notice (the answer does not depend
/// on the index; only the next session's speed does).
pub fn write_or_note(dir: &IndexDir, part: Part, parent: u64, objects: u64, extra: [u64; 4], sections: &[Vec<&[u8]>]) -> Option<IndexFile> {
    match dir.write(part, parent, objects, extra, sections) {
        Ok(f) => Some(f),
        Err(e) => {
            dir.warnings.notice(format!("The index's {} could not be written: {e:#}.\n", part.what()));
            None
        }
    }
}

/// A section being written in place ([`IndexDir::write_in_place`]) as an array of `T`
/// (`None` when it is not aligned for `T` or not a whole number of them).
pub fn plain_mut<T: Plain>(bytes: &mut [u8]) -> Option<&mut [T]> {
    if (bytes.as_ptr() as usize) % align_of::<T>() != 0 || bytes.len() % size_of::<T>() != 0 {
        return None;
    }
    // SAFETY: aligned, a whole number of `T`, and any bit pattern is a valid `T` (Plain).
    Some(unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr() as *mut T, bytes.len() / size_of::<T>()) })
}

/// The bytes of plain arrays, one section.
pub fn bytes<'a, T: Plain>(parts: impl IntoIterator<Item = &'a [T]>) -> Vec<&'a [u8]> {
    parts.into_iter().map(bytes_of).collect()
}

// The graph's own parts: the object table, edges and reverse edges.
use super::{EdgeBlock, Edges, ObjectGraph, ReverseEdges, StartIndex, CHUNK as EDGE_CHUNK};
use crate::heap::Heap;

impl ObjectGraph {
    /// Writes the object table; returns the file, over which the graph can be reopened
    /// ([`ObjectGraph::from_index`]).
    pub fn save(&self, dir: &IndexDir) -> Option<IndexFile> {
        let mts: Vec<u64> = self.types.iter().map(|t| t.mt).collect();
        let mut pairs: Vec<(u64, u64)> = self.large_sizes.iter().map(|(&id, &size)| (id as u64, size)).collect();
        pairs.sort_unstable();
        let large: Vec<u64> = pairs.into_iter().flat_map(|(a, b)| [a, b]).collect();
        let (spans, lines) = self.starts.parts();
        let text = self.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("\0");
        let n = self.len() as u64;
        write_or_note(
            dir,
            Part::Objects,
            0,
            n,
            [mts.len() as u64, 0, 0, 0],
            &[
                bytes([&mts[..]]),
                bytes([&self.addresses[..]]),
                bytes([&self.type_ids[..]]),
                bytes([&self.sizes[..]]),
                bytes([&large[..]]),
                bytes([&spans[..]]),
                bytes([lines]),
                bytes([text.as_bytes()]),
            ],
        )
    }

    /// The graph of an object-table file; the walk warnings it recorded are reported
    /// again, as the walk that built it reported them.
    pub fn from_index(file: &IndexFile, heap: &Heap) -> Result<ObjectGraph> {
        let n = usize::try_from(file.objects()).context("object count")?;
        if n > u32::MAX as usize {
            bail!("object count out of range");
        }
        let mts: Store<u64> = file.section(0, None)?;
        let types = super::type_entries(heap, &mts);
        let addresses: Store<u64> = file.section(1, Some(n))?;
        let type_ids: Store<u32> = file.section(2, Some(n))?;
        let sizes: Store<u32> = file.section(3, Some(n))?;
        let large: Store<u64> = file.section(4, None)?;
        let spans: Store<u64> = file.section(5, None)?;
        let lines: Store<u64> = file.section(6, None)?;
        let text: Store<u8> = file.section(7, None)?;
        if !all_below(&type_ids, types.len() as u64) {
            bail!("a type number is out of range");
        }
        let large_sizes = large.chunks_exact(2).map(|p| (p[0] as u32, p[1])).collect();
        let starts = StartIndex::from_parts(&spans, lines, n as u64)?;
        for w in std::str::from_utf8(&text).unwrap_or("").split('\0').filter(|w| !w.is_empty()) {
            heap.warnings().warn(w.to_string());
        }
        Ok(ObjectGraph {
            addresses,
            starts,
            type_ids,
            sizes,
            large_sizes,
            types,
            edges: std::sync::OnceLock::new(),
            pointer_bits: std::sync::OnceLock::new(),
            warnings: Vec::new(),
        })
    }

    /// Replaces the arrays by those of the object-table file just written from them.
    pub fn use_mapped(&mut self, file: &IndexFile) -> Result<()> {
        let n = self.len();
        let addresses = file.section(1, Some(n))?;
        let type_ids = file.section(2, Some(n))?;
        let sizes = file.section(3, Some(n))?;
        let lines = file.section(6, None)?;
        if !self.starts.use_mapped(lines) {
            bail!("its object starts are not the graph's");
        }
        (self.addresses, self.type_ids, self.sizes) = (addresses, type_ids, sizes);
        Ok(())
    }

    /// Whether the arrays are mapped from an index file.
    pub fn is_mapped(&self) -> bool {
        self.addresses.is_mapped()
    }
}

impl Edges {
    /// Writes the edges (over the object table whose content hash is `parent`).
    pub fn save(&self, dir: &IndexDir, parent: u64, objects: u64) -> Option<IndexFile> {
        let mut starts = Vec::with_capacity(self.blocks.len() + 1);
        let mut at = 0u64;
        starts.push(0u64);
        for b in &self.blocks {
            at += b.targets.len() as u64;
            starts.push(at);
        }
        write_or_note(
            dir,
            Part::Edges,
            parent,
            objects,
            [self.unresolved, self.count as u64, 0, 0],
            &[
                bytes([&starts[..]]),
                bytes(self.blocks.iter().map(|b| &b.ends[..])),
                bytes(self.blocks.iter().map(|b| &b.targets[..])),
            ],
        )
    }

    /// The edges of an edge file over `objects` objects.
    pub fn from_index(file: &IndexFile, objects: usize) -> Result<Edges> {
        let blocks = objects.div_ceil(EDGE_CHUNK);
        let starts: Store<u64> = file.section(0, Some(blocks + 1))?;
        let ends: Store<u32> = file.section(1, Some(objects))?;
        let targets: Store<u32> = file.section(2, None)?;
        if !all_below(&targets, objects as u64) {
            bail!("a reference is out of range");
        }
        let mut out = Vec::with_capacity(blocks);
        for b in 0..blocks {
            let (s, e) = (starts[b] as usize, starts[b + 1] as usize);
            let block_ends = ends.sub(b * EDGE_CHUNK..((b + 1) * EDGE_CHUNK).min(objects)).context("edge block")?;
            let block_targets = targets.sub(s..e).context("edge block outside the references")?;
            out.push(EdgeBlock { ends: block_ends, targets: block_targets });
        }
        let [unresolved, _, _, _] = file.extra();
        Ok(Edges { blocks: out, count: targets.len(), unresolved })
    }
}

impl ReverseEdges {
    /// The incoming edges of `edges`, built straight into the index's file (no copy in
    /// memory), then read from it; `None` when the file cannot be written.
    pub fn build_in_index(edges: &Edges, dir: &IndexDir, parent: u64, objects: usize, parts: usize) -> Option<ReverseEdges> {
        let file = super::index::write_in_place_or_note(dir, Part::Reverse, parent, objects as u64, &[4 * (objects + 1), 4 * edges.len()], |s| {
            let [offsets, sources] = s else { bail!("two sections") };
            let (Some(offsets), Some(sources)) = (plain_mut::<u32>(offsets), plain_mut::<u32>(sources)) else { bail!("sections not aligned") };
            edges.reverse_into_parts(offsets, sources, parts);
            Ok([0; 4])
        })?;
        // Made here from edges already checked: no need to check them again.
        let offsets = file.section(0, Some(objects + 1)).ok()?;
        let sources = file.section(1, Some(edges.len())).ok()?;
        Some(ReverseEdges { offsets, sources })
    }

    /// The incoming edges of a file over `objects` objects.
    pub fn from_index(file: &IndexFile, objects: usize) -> Result<ReverseEdges> {
        let offsets: Store<u32> = file.section(0, Some(objects + 1))?;
        let sources: Store<u32> = file.section(1, None)?;
        if !all_below(&sources, objects as u64) {
            bail!("a reference is out of range");
        }
        Ok(ReverseEdges { offsets, sources })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_of_several_pieces_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("x.dmp");
        std::fs::write(&dump, b"dump").unwrap();
        let index = IndexDir::in_cache(dir.path(), &dump, Arc::new(Warnings::new())).unwrap();
        // Pieces longer than a copy chunk, shorter, empty, and of odd lengths.
        let big: Vec<u8> = (0..CHUNK + 1000).map(|i| (i * 7 + i / 251) as u8).collect();
        let small: Vec<u8> = (0..13u8).collect();
        let words: Vec<u64> = (0..1000).map(|i| i * 0x0101_0101).collect();
        let sections = vec![bytes([&words[..], &words[..10]]), vec![&big[..], &[][..], &small[..], &big[..5]], vec![], vec![&small[..]]];
        let file = index.write(Part::Findings, 9, 42, [1, 2, 3, 4], &sections).unwrap();
        let again = index.open(Part::Findings, 9).expect("opens");
        for f in [&file, &again] {
            assert_eq!(f.extra(), [1, 2, 3, 4]);
            assert_eq!(f.objects(), 42);
            for (i, s) in sections.iter().enumerate() {
                let want: Vec<u8> = s.concat();
                let got: Store<u8> = f.section(i, None).unwrap();
                assert_eq!(&got[..], &want[..], "section {i}");
            }
        }
    }
}

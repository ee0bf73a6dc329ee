//! Robustness harness: what the fuzz targets (`fuzz/`) and the robustness test
//! (`tests/robustness.rs`) run on damaged input. Not part of clrheap's interface.
//!
//! - [`core_bytes`]: arbitrary bytes as an ELF core: parse, read the address space, try to
//!   find a runtime in it.
//! - [`metadata_bytes`]: arbitrary bytes as ECMA-335 metadata (and as a PE image, and as
//!   signatures): read every table row, name every type, decode every signature.
//! - [`Fixture`] and [`mutate`]: a real dump, the file ranges worth damaging (its notes,
//!   `GcDacVars`, `g_dacTable`, MethodTables, handles, heap segments, ...), and damage
//!   applied there as directed by a byte string; [`run_commands`] then runs the commands.
//!
//! Every function here must return, whatever the bytes: a panic, a hang or a huge
//! allocation is a bug in the layer that read them.
use crate::session::Session;
use crate::dump::{AddressSpace, Backing, CoreFile};
use crate::metadata::{
    ImageLayout, MetadataReader, PeImage, TableId, Token, decode_field_signature,
    decode_method_params, decode_type,
};
use std::io::Write;
use std::sync::Arc;

pub mod craft;

/// Most rows read from one table, so that a target's run time stays bounded.
const MAX_ROWS: u32 = 512;

/// Arbitrary bytes as an ELF core file: parse it, read around its segments, and open a
/// session when a runtime can be found (mapped files are never read from disk).
pub fn core_bytes(data: &[u8]) {
    let Ok(core) = CoreFile::parse(Backing::Owned(data.to_vec())) else {
        return;
    };
    let mut space = AddressSpace::new(core, Vec::new());
    space.disable_module_files();
    let mut probes: Vec<u64> = space
        .core()
        .segments
        .iter()
        .flat_map(|s| [s.vaddr, s.vaddr.wrapping_add(s.memsz).wrapping_sub(4)])
        .collect();
    probes.extend(space.mapped_files().iter().map(|f| f.base));
    probes.extend(space.core().threads.iter().map(|t| t.sp()));
    probes.truncate(256);
    for &a in &probes {
        let _ = space.read_u64(a);
        let _ = space.read_cstring(a, 256);
        let _ = space.read_vec(a, 64);
        let _ = space.core_slice(a, 16);
        let _ = space.core_slice_from(a);
        if let Ok(len) = space.read_u32(a) {
            let _ = space.read_vec(a, (len as usize).min(1 << 16));
        }
    }
    let _ = space.captured_bytes();
    if let Ok(session) = Session::from_space(Arc::new(space)) {
        run_commands(&session, &[]);
    }
}

/// Arbitrary bytes as metadata, as a PE image (flat and mapped) and as signatures.
pub fn metadata_bytes(data: &[u8]) {
    let _ = decode_type(data);
    let _ = decode_field_signature(data);
    let _ = decode_method_params(data);
    for layout in [ImageLayout::Flat, ImageLayout::Mapped] {
        if let Ok(pe) = PeImage::parse(data, layout) {
            let _ = pe.metadata_range();
            let _ = pe.read_metadata(data);
        }
        if let Ok(md) = MetadataReader::from_image(data, layout) {
            metadata_reader(&md);
        }
    }
    if let Ok(md) = MetadataReader::new(data.to_vec()) {
        metadata_reader(&md);
    }
}

fn metadata_reader(md: &MetadataReader) {
    let _ = md.version();
    let _ = md.module_name();
    let _ = md.module_mvid();
    let _ = md.assembly_name();
    for i in 0..64 {
        let _ = md.string(i * 7);
        let _ = md.blob(i * 5);
        let _ = md.user_string(i * 3);
        let _ = md.guid(i);
    }
    for t in 0..crate::metadata::TABLE_COUNT as u8 {
        if let Some(table) = TableId::from_u8(t) {
            let rows = md.rows(table).min(MAX_ROWS);
            let _ = md.row_size(table);
            for rid in 1..=rows {
                for col in 0..8 {
                    let _ = md.cell(table, rid, col);
                }
            }
        }
    }
    for rid in 1..=md.typedef_count().min(MAX_ROWS) {
        let _ = md.typedef(rid);
        let _ = md.type_full_name(rid);
        let _ = md.enclosing_type(rid);
        let _ = md.name_chain(Token(0x0200_0000 | rid));
        let _ = md.type_name(Token(0x0200_0000 | rid));
        if let Ok(fields) = md.type_fields(rid) {
            for f in fields.into_iter().take(MAX_ROWS as usize) {
                let _ = md.field(f);
                if let Ok(ty) = md.field_sig(f) {
                    let _ = md.sig_type_name(&ty);
                }
            }
        }
        if let Ok(methods) = md.type_methods(rid) {
            for m in methods.into_iter().take(MAX_ROWS as usize) {
                if let Ok(info) = md.method(m) {
                    let _ = decode_method_params(info.signature);
                }
            }
        }
    }
    for rid in 1..=md.rows(TableId::TypeRef).min(MAX_ROWS) {
        let _ = md.typeref(rid);
        let _ = md.typeref_full_name(rid);
        let _ = md.type_name(Token(0x0100_0000 | rid));
    }
    for rid in 1..=md.rows(TableId::TypeSpec).min(MAX_ROWS) {
        if let Ok(ty) = md.typespec(rid) {
            let _ = md.sig_type_name(&ty);
        }
        let _ = md.type_name(Token(0x1b00_0000 | rid));
    }
    for rid in 1..=md.rows(TableId::MemberRef).min(MAX_ROWS) {
        let _ = md.memberref(rid);
    }
    for rid in 1..=md.rows(TableId::AssemblyRef).min(MAX_ROWS) {
        let _ = md.assembly_ref(rid);
    }
    let _ = md.assembly();
    let _ = md.find_typedef("System.Object");
}

/// The command lines run on every damaged dump: each command's `exercise` lines from the
/// registry, in the table's order. `{0}`, `{1}`, ... are the addresses given to
/// [`run_commands`] ([`Fixture::command_addrs`]); an address beyond them is 0.
pub fn command_lines(addrs: &[u64]) -> Vec<String> {
    crate::registry::COMMANDS
        .iter()
        .flat_map(|c| c.exercise.iter())
        .map(|c| {
            let mut line = c.to_string();
            for i in 0..5 {
                let a = addrs.get(i).copied().unwrap_or(0);
                line = line.replace(&format!("{{{i}}}"), &format!("{a:x}"));
            }
            line
        })
        .collect()
}

/// Runs [`command_lines`] on a session, output to a sink; errors are expected and ignored.
pub fn run_commands(session: &Session, addrs: &[u64]) {
    for line in command_lines(addrs) {
        run_one(session, &line);
    }
}

/// Runs one command line into a sink.
pub fn run_one(session: &Session, line: &str) {
    let mut sink = std::io::sink();
    let _ = session.execute(line, &mut sink);
    let _ = sink.flush();
}

/// What a file range of a dump holds, for aiming damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// ELF header and program headers.
    Headers,
    /// `PT_NOTE` data: `NT_FILE`, `NT_PRSTATUS`, `NT_AUXV`.
    Notes,
    /// `GcDacVars` and `g_dacTable`.
    GcDacVars,
    /// The GC's per-heap bookkeeping: `heap_segment` records, generation tables.
    GcBookkeeping,
    /// MethodTables (and the EEClass-sized bytes after them).
    MethodTables,
    /// Handle table slots and the handle table map.
    Handles,
    /// Thread store and sync block table.
    Threads,
    /// Objects in heap segments.
    Objects,
    /// Anywhere in the file.
    Anywhere,
}

pub const REGIONS: [Region; 9] = [
    Region::Headers,
    Region::Notes,
    Region::GcDacVars,
    Region::GcBookkeeping,
    Region::MethodTables,
    Region::Handles,
    Region::Threads,
    Region::Objects,
    Region::Anywhere,
];

/// A real dump, decompressed, with the file ranges of each [`Region`] and a few object
/// addresses for the commands that take one.
pub struct Fixture {
    pub bytes: Vec<u8>,
    /// `(region, file offset, length)`, each range inside `bytes`.
    pub ranges: Vec<(Region, usize, usize)>,
    /// Addresses for `dumpobj`, `gcroot`, ...: objects of the undamaged dump.
    pub addrs: Vec<u64>,
    /// The MethodTable of the second of [`Fixture::addrs`] (for `dumpvc`), or 0.
    pub mt: u64,
    /// `(vaddr, captured bytes, file offset)` of each `PT_LOAD` segment.
    segments: Vec<(u64, u64, u64)>,
    /// Addresses of pointer fields worth redirecting ([`craft_dump`]): segment records'
    /// `next`, `mem` and `allocated`, thread list links and allocation contexts, the
    /// handle table map's buckets, slots and next map.
    pub pointers: Vec<u64>,
    /// Captured pages worth punching out or mapping a file over: heap segments' pages,
    /// the pages of `addrs`.
    pub pages: Vec<u64>,
    /// Values worth writing into those fields: the objects, segment bounds, the fields
    /// themselves.
    pub values: Vec<u64>,
}

impl Fixture {
    /// Reads the undamaged dump's structure (it must open as a session).
    pub fn new(bytes: Vec<u8>) -> anyhow::Result<Fixture> {
        let core = CoreFile::parse(Backing::Owned(bytes.clone()))?;
        let segments = core.segments.clone();
        let notes = core.note_ranges.clone();
        let mut space = AddressSpace::new(core, Vec::new());
        space.disable_module_files();
        let session = Session::from_space(Arc::new(space))?;
        let heap = &session.heap;
        let to_file = |addr: u64, len: u64| -> Option<(usize, usize)> {
            let s = segments
                .iter()
                .find(|s| addr >= s.vaddr && addr - s.vaddr < s.filesz)?;
            let rel = addr - s.vaddr;
            let len = len.min(s.filesz - rel);
            Some(((s.offset + rel) as usize, len as usize))
        };
        let mut ranges = Vec::new();
        let mut add = |region: Region, addr: u64, len: u64| {
            if let Some((off, len)) = to_file(addr, len)
                && len > 0
            {
                ranges.push((region, off, len));
            }
        };
        let rt = &heap.runtime;
        add(Region::GcDacVars, rt.gc.address, 0x100);
        add(Region::GcDacVars, rt.dac_table, 0x400);
        for h in &heap.heaps {
            add(Region::GcBookkeeping, h.address, 0x800);
        }
        for s in &heap.segments {
            add(Region::GcBookkeeping, s.address, 0x80);
            add(
                Region::Objects,
                s.start,
                s.end.saturating_sub(s.start).min(1 << 20),
            );
        }
        add(Region::Handles, rt.gc.handle_table_map, 0x100);
        // Pointer fields and pages for the structure-aware damage (`craft_dump`).
        let mut pointers = Vec::new();
        let mut pages = Vec::new();
        let mut values = Vec::new();
        for s in &heap.segments {
            pointers.extend([s.address + 48, s.address + 32, s.address]);
            values.extend([s.address, s.start, s.end, s.end.wrapping_add(0x10_0000)]);
            pages.extend((s.start & !0xfff..s.end).step_by(4096).take(64));
        }
        let thread_layout = &rt.layout.thread;
        pointers.push(rt.globals.thread_store.wrapping_add(thread_layout.first_link));
        for t in &heap.threads {
            pointers.push(t.address.wrapping_add(thread_layout.link));
            if let crate::runtime::layouts::AllocContextPlace::Inline(off) = thread_layout.alloc_context {
                pointers.extend([t.address + off, t.address + off + 8]);
            }
            values.push(t.address);
        }
        let map = rt.gc.handle_table_map;
        let space = heap.space();
        pointers.extend([map, map + 8]);
        if let Ok(buckets) = space.read_ptr(map) {
            pointers.extend((0..10).map(|b| buckets + 8 * b));
            values.push(buckets);
            if let Ok(bucket) = space.read_ptr(buckets) {
                pointers.push(bucket);
                values.push(bucket);
                if let Ok(slots) = space.read_ptr(bucket) {
                    pointers.extend((0..4).map(|i| slots + 8 * i));
                    values.extend(space.read_ptr(slots));
                }
            }
        }
        if let Ok(handles) = heap.handles() {
            for h in handles.iter().take(4096) {
                add(Region::Handles, h.address, 8);
            }
        }
        add(Region::Threads, rt.globals.thread_store, 0x200);
        add(Region::Threads, rt.globals.sync_table, 0x200);
        for t in &heap.threads {
            add(Region::Threads, t.address, 0x400);
        }
        let (objects, _) = heap.objects();
        let mut mts: Vec<u64> = objects.iter().map(|o| o.mt).collect();
        mts.sort_unstable();
        mts.dedup();
        for &mt in mts.iter().take(4096) {
            add(Region::MethodTables, mt, 0x80);
        }
        let phend = 64 + 56 * segments.len() + 56 * notes.len();
        ranges.push((Region::Headers, 0, phend.min(bytes.len())));
        for &(off, len) in &notes {
            ranges.push((Region::Notes, off as usize, len as usize));
        }
        ranges.push((Region::Anywhere, 0, bytes.len()));
        // Objects for the commands: an ordinary one, one with fields, an array, a string.
        let mut addrs = Vec::new();
        let pick = |pred: &dyn Fn(&crate::heap::HeapObject) -> bool| {
            objects.iter().find(|o| pred(o)).map(|o| o.address)
        };
        let free = rt.globals.free_mt;
        let string = rt.globals.string_mt;
        addrs.extend(pick(&|o| o.mt != free && o.size >= 40));
        addrs.extend(pick(&|o| o.mt != free && o.mt != string && o.size >= 64));
        addrs.extend(pick(&|o| {
            o.mt != free
                && heap
                    .method_table(o.mt)
                    .is_ok_and(|m| m.component_size > 0 && o.mt != string)
        }));
        addrs.extend(
            objects
                .iter()
                .rev()
                .find(|o| o.mt != free)
                .map(|o| o.address),
        );
        let mt = addrs
            .get(1)
            .and_then(|&a| objects.iter().find(|o| o.address == a))
            .map_or(0, |o| o.mt);
        drop(session);
        pages.extend(addrs.iter().map(|a| a & !0xfff));
        values.extend(addrs.iter().copied());
        values.extend(pointers.iter().copied());
        values.extend((0..4).map(|i| FORGED + 4096 * i));
        // Only what the dump holds can be written.
        let held = |a: &u64| segments.iter().any(|s| *a >= s.vaddr && *a - s.vaddr + 8 <= s.filesz);
        pointers.retain(held);
        pages.retain(|p| segments.iter().any(|s| *p >= s.vaddr && *p - s.vaddr + 4096 <= s.filesz));
        pages.sort_unstable();
        pages.dedup();
        let segments = segments
            .iter()
            .map(|s| (s.vaddr, s.filesz, s.offset))
            .collect();
        Ok(Fixture {
            bytes,
            ranges,
            addrs,
            mt,
            segments,
            pointers,
            pages,
            values,
        })
    }

    /// The addresses [`command_lines`] fills in: `{0}`..`{3}` the objects of
    /// [`Fixture::addrs`] (0 for one not found), `{4}` [`Fixture::mt`].
    pub fn command_addrs(&self) -> Vec<u64> {
        let mut a: Vec<u64> = (0..4).map(|i| self.addrs.get(i).copied().unwrap_or(0)).collect();
        a.push(self.mt);
        a
    }

    /// Where the captured byte at `addr` is in the file.
    pub fn file_offset(&self, addr: u64) -> Option<usize> {
        let &(vaddr, _, offset) = self
            .segments
            .iter()
            .find(|&&(vaddr, filesz, _)| addr >= vaddr && addr - vaddr < filesz)?;
        usize::try_from(offset + (addr - vaddr)).ok()
    }

    /// The ranges of one region.
    pub fn ranges_of(&self, region: Region) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ranges
            .iter()
            .filter(move |r| r.0 == region)
            .map(|r| (r.1, r.2))
    }
}

/// One byte string read as damage to a fixture: records of 14 bytes, each
/// `[region][pick: u32][op][value: u64]`, applied in order to a copy of the dump (at most
/// 32 records). `region` chooses the [`Region`], `pick` a byte in its ranges; `op`'s low
/// two bits the width (1, 2, 4, 8 bytes) and its next bits what is written there: the
/// value, the old bytes xor the value, the old value plus a small number, or an
/// interesting value (0, all ones, a large power of two, a small count, another address in
/// the dump). `op` 0xff truncates the dump at `pick`.
pub fn mutate(fixture: &Fixture, input: &[u8]) -> Vec<u8> {
    let mut bytes = fixture.bytes.clone();
    for rec in input.chunks_exact(14).take(32) {
        let region = REGIONS[rec[0] as usize % REGIONS.len()];
        let pick = u32::from_le_bytes(rec[1..5].try_into().expect("4 bytes")) as usize;
        let op = rec[5];
        let value = u64::from_le_bytes(rec[6..14].try_into().expect("8 bytes"));
        if op == 0xff {
            bytes.truncate(pick % (bytes.len() + 1));
            continue;
        }
        let total: usize = fixture.ranges_of(region).map(|r| r.1).sum();
        if total == 0 {
            continue;
        }
        let mut at = pick % total;
        let mut offset = None;
        for (off, len) in fixture.ranges_of(region) {
            if at < len {
                offset = Some(off + at);
                break;
            }
            at -= len;
        }
        let Some(offset) = offset else { continue };
        let width = 1usize << (op & 3);
        let Some(slot) = bytes.get_mut(offset..offset.saturating_add(width)) else {
            continue;
        };
        let mut old = [0u8; 8];
        old[..width].copy_from_slice(slot);
        let old = u64::from_le_bytes(old);
        let new = match (op >> 2) & 7 {
            0 | 1 => value,
            2 | 3 => old ^ value,
            4 => old.wrapping_add((value & 0xff).wrapping_sub(0x80)),
            5 => [
                0,
                u64::MAX,
                1 << 31,
                1 << 32,
                1 << 40,
                u64::MAX / 2,
                0x7fff_ffff,
                0x8000_0000_0000_0000,
            ][value as usize & 7],
            6 => value & 0x3f,
            _ => fixture
                .addrs
                .get(value as usize % fixture.addrs.len().max(1))
                .copied()
                .unwrap_or(0),
        };
        slot.copy_from_slice(&new.to_le_bytes()[..width]);
    }
    bytes
}

/// Opens a session over dump bytes, never reading mapped files from disk.
pub fn open_session(bytes: Vec<u8>) -> crate::error::Result<Session> {
    let core = CoreFile::parse(Backing::Owned(bytes))?;
    let mut space = AddressSpace::new(core, Vec::new());
    space.disable_module_files();
    Session::from_space(Arc::new(space))
}

/// Damages a copy of the fixture as `input` directs and runs the commands on it.
pub fn damaged_dump(fixture: &Fixture, input: &[u8]) {
    if let Ok(session) = open_session(mutate(fixture, input)) {
        run_commands(&session, &fixture.command_addrs());
    }
}

// ---- Structure-aware damage: crafted dumps ------------------------------------------------

/// Where crafted dumps add memory: no fixture maps anything there.
const FORGED: u64 = 0x1000_0000_0000;

/// The files a crafted dump's `NT_FILE` may name, made in `$TMPDIR/clrheap-fuzz-sandbox-UID`:
/// things that are not files, modules that match what [`craft_dump`] plants in the dump,
/// modules that do not, a data file. `(name, header page planted in the dump)`.
pub struct Sandbox {
    pub dir: std::path::PathBuf,
    pub files: Vec<(std::path::PathBuf, Option<Vec<u8>>)>,
}

/// The sandbox (made on first use; it lives as long as the process).
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: std::sync::OnceLock<Sandbox> = std::sync::OnceLock::new();
    SANDBOX.get_or_init(|| {
        // One directory per user, made again (the same files) by every run.
        #[cfg(unix)]
        // SAFETY: getuid cannot fail.
        let user = unsafe { libc::getuid() };
        #[cfg(not(unix))]
        let user = 0;
        let dir = std::env::temp_dir().join(format!("clrheap-fuzz-sandbox-{user}"));
        let _ = std::fs::create_dir_all(&dir);
        let pe = craft::pe_header_page(0x5eed_0001, 0x11);
        let elf = craft::elf_header_page(&[0x5e; 20], 0x22);
        let module = |header: &[u8], len: usize| {
            let mut m = header.to_vec();
            m.extend((0..len - header.len()).map(|i| (i * 7) as u8));
            m
        };
        let mut files = Vec::new();
        let mut add = |name: &str, content: Option<Vec<u8>>, planted: Option<Vec<u8>>| {
            let path = dir.join(name);
            if let Some(c) = content {
                let _ = std::fs::write(&path, c);
            }
            files.push((path, planted));
        };
        add("module.dll", Some(module(&pe, 5 * 4096)), Some(pe.clone()));
        add("module.so", Some(module(&elf, 5 * 4096)), Some(elf.clone()));
        add("other-build.dll", Some(module(&craft::pe_header_page(0x5eed_0002, 0x11), 5 * 4096)), Some(pe.clone()));
        add("other-build.so", Some(module(&craft::elf_header_page(&[0x5f; 20], 0x22), 5 * 4096)), Some(elf));
        add("short.dll", Some(module(&pe, 4096 + 100)), Some(pe));
        add("data.txt", Some(b"root:*:20228:0:99999:7:::\n".repeat(400)), None);
        add("empty", Some(Vec::new()), None);
        add("missing.so", None, None);
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let fifo = dir.join("clr-debug-pipe-1-in");
            if let Ok(c) = std::ffi::CString::new(fifo.as_os_str().as_bytes()) {
                // SAFETY: a valid NUL-terminated path.
                unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
            }
            files.push((fifo, None));
            let _ = std::fs::create_dir(dir.join("a-directory"));
            files.push((dir.join("a-directory"), None));
            for (link, target) in [("environ", "/proc/self/environ"), ("zero", "/dev/zero")] {
                let _ = std::os::unix::fs::symlink(target, dir.join(link));
                files.push((dir.join(link), None));
            }
            let socket = dir.join("socket");
            if let Ok(listener) = std::os::unix::net::UnixListener::bind(&socket) {
                std::mem::forget(listener);
            }
            files.push((socket, None));
        }
        Sandbox { dir, files }
    })
}

/// One byte string read as structural damage to a fixture, in records of 12 bytes
/// `[op][sel][a: u16][b: u32][c: u32]` (at most 16), applied through [`craft::Core`]:
///
/// - 0: `b % 70,000` more `PT_NOTE` headers naming the first note segment (`PN_XNUM`
///   beyond 65,534);
/// - 1: an `NT_FILE` entry over `a % 4 + 1` pages from page `b` of [`Fixture::pages`],
///   naming sandbox file `sel`, page size and offset from `c`; the pages are punched out of
///   the dump so that reads go to the file, except, for a module, its header page, which is
///   planted there (so that the file matches the dump);
/// - 2: punch `a % 8 + 1` pages out at page `b`;
/// - 3: write a pointer field ([`Fixture::pointers`] `b`): itself, its record, another
///   field, a value of [`Fixture::values`] `c`, 0, all ones, a small change, unmapped;
/// - 4: an `NT_FILE` note of `b % 50,000` distinct paths that do not exist;
/// - 5: write the program headers with `PN_XNUM`;
/// - 6: write a 32-bit length (`c`) into object `addrs[sel]`;
/// - 7: add a page of memory at the forged area, page `b % 4`, filled with value `c`.
pub fn craft_dump(fixture: &Fixture, input: &[u8]) -> Vec<u8> {
    let mut core = craft::Core::parse(fixture.bytes.clone());
    let mut xnum = false;
    let mut forged = [false; 4];
    let pick = |list: &[u64], i: u32| -> Option<u64> {
        (!list.is_empty()).then(|| list[i as usize % list.len()])
    };
    for rec in input.chunks_exact(12).take(16) {
        let (op, sel) = (rec[0], rec[1]);
        let a = u16::from_le_bytes([rec[2], rec[3]]) as u64;
        let b = u32::from_le_bytes(rec[4..8].try_into().expect("4 bytes"));
        let c = u32::from_le_bytes(rec[8..12].try_into().expect("4 bytes"));
        match op % 8 {
            0 => {
                if let Some(note) = core.phdrs.iter().find(|p| p.p_type == craft::PT_NOTE).copied() {
                    core.phdrs.extend(std::iter::repeat_n(note, (b % 70_000) as usize));
                }
            }
            1 => {
                let Some(page) = pick(&fixture.pages, b) else { continue };
                let files = &sandbox().files;
                let (path, planted) = &files[sel as usize % files.len()];
                let pages = a % 4 + 1;
                let page_size = [4096, 4096, 4096, 1, 3, 0, 1 << 40, 65536][c as usize % 8];
                let pgoff = (c >> 8) as u64 % 4;
                // Reads there go to the file: the dump keeps only a module's planted header.
                match planted {
                    Some(header) if core.file_offset(page).is_some() && pgoff == 0 => {
                        core.write(page, header);
                        core.punch(page + 4096, (pages - 1) * 4096);
                    }
                    _ => core.punch(page, pages * 4096),
                }
                core.add_notes(&craft::nt_file(
                    page_size,
                    &[(page, page + pages * 4096, pgoff, path.display().to_string())],
                ));
            }
            2 => {
                if let Some(page) = pick(&fixture.pages, b) {
                    core.punch(page, (a % 8 + 1) * 4096);
                }
            }
            3 => {
                let Some(field) = pick(&fixture.pointers, b) else { continue };
                if core.file_offset(field).is_none() {
                    continue;
                }
                let old = core.read_u64(field);
                let value = match sel % 8 {
                    0 => field,
                    1 => field.wrapping_sub(48),
                    2 => pick(&fixture.values, c).unwrap_or(0),
                    3 => 0,
                    4 => u64::MAX,
                    5 => old.wrapping_add(c as i32 as i64 as u64),
                    6 => 0xdead_0000_0000,
                    _ => pick(&fixture.pointers, c).unwrap_or(0),
                };
                core.write_u64(field, value);
            }
            4 => {
                let entries: Vec<(u64, u64, u64, String)> = (0..(b % 50_000) as u64)
                    .map(|i| {
                        let at = FORGED + 0x1000_0000 + i * 4096;
                        (at, at + 4096, 0, format!("/nonexistent/clrheap-fuzz/{i}.so"))
                    })
                    .collect();
                core.add_notes(&craft::nt_file(4096, &entries));
            }
            5 => xnum = true,
            6 => {
                if let Some(&obj) = fixture.addrs.get(sel as usize % fixture.addrs.len().max(1))
                    && core.file_offset(obj + 8).is_some()
                {
                    core.write(obj + 8, &c.to_le_bytes());
                }
            }
            _ => {
                let i = (b % 4) as usize;
                if !forged[i] {
                    let value = pick(&fixture.values, c).unwrap_or(0);
                    core.add_memory(FORGED + 4096 * i as u64, &value.to_le_bytes().repeat(512));
                    forged[i] = true;
                }
            }
        }
    }
    core.finish(xnum)
}

/// Opens a crafted dump ([`craft_dump`]) with module files read, from the sandbox only.
pub fn open_crafted(fixture: &Fixture, input: &[u8]) -> crate::error::Result<Session> {
    let core = CoreFile::parse(Backing::Owned(craft_dump(fixture, input)))?;
    let dir = sandbox().dir.clone();
    let mut space = AddressSpace::new(core, vec![dir.clone()]);
    space.restrict_module_files(dir);
    Session::from_space(Arc::new(space))
}

/// Crafts a dump from the fixture as `input` directs and runs the commands on it.
pub fn crafted_dump(fixture: &Fixture, input: &[u8]) {
    if let Ok(session) = open_crafted(fixture, input) {
        run_commands(&session, &fixture.addrs);
    }
}

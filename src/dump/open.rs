//! Opening a dump file: memory-map it, decompressing a zstd-compressed dump first.
//!
//! Dumps travel compressed (about 25 to 1 with zstd); one is recognised by its magic
//! number, not its name, and decompressed once into an unlinked temporary file that is
//! then mapped like any other dump.
use super::{AddressSpace, CoreFile, DumpError, Result};
use crate::progress::Progress;
use memmap2::Mmap;
use std::fs::File;
use goblin::elf::header::{EI_CLASS, EI_DATA, ELFCLASS64, ELFDATA2LSB, ET_CORE};
use goblin::elf64::header::{Header, SIZEOF_EHDR};
use goblin::elf64::program_header::{ProgramHeader, SIZEOF_PHDR};
use std::io::{Read, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The bytes of a dump: a mapped file in production, an owned buffer in tests.
pub enum Backing {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Deref for Backing {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// How to open a dump.
#[derive(Debug, Default, Clone)]
pub struct DumpOptions {
    /// Folders searched (recursively) for a mapped file whose recorded path does not exist
    /// here; `CLRHEAP_MODULE_PATH`'s folders are searched after them.
    pub module_paths: Vec<PathBuf>,
    /// Never read mapped files from disk: use only what the dump holds.
    pub dump_only: bool,
}

fn io_err(path: &Path, source: std::io::Error) -> DumpError {
    DumpError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Opens the dump at `path` (plain or zstd-compressed) and returns its address space.
pub fn open_dump(path: &Path, options: &DumpOptions) -> Result<AddressSpace> {
    not_a_regular_file(path)?;
    let mut file = File::open(path).map_err(|e| io_err(path, e))?;
    let mut magic = [0u8; 4];
    let n = read_prefix(&mut file, &mut magic).map_err(|e| io_err(path, e))?;
    let file = if n == 4 && magic == ZSTD_MAGIC {
        decompress(path)?
    } else {
        File::open(path).map_err(|e| io_err(path, e))?
    };
    // SAFETY: the map is read-only; a dump changed underneath us while open can at worst
    // give wrong answers, and every read through it is bounds-checked.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| io_err(path, e))?;
    let core = CoreFile::parse(Backing::Mapped(map))
        .map_err(|e| prefix_not_core(path, e))?;
    let folders = super::module_search::with_env_folders(options.module_paths.clone());
    let mut space = AddressSpace::new(core, folders);
    if options.dump_only {
        space.disable_module_files();
    }
    Ok(space)
}

/// A dump is a file: a directory, a device (`/dev/null`) or a pipe (`<(zstdcat x)`) cannot
/// be mapped, and says so by name rather than by the system's error (asked before opening:
/// opening a pipe waits for a writer).
fn not_a_regular_file(path: &Path) -> Result<()> {
    let kind = std::fs::metadata(path).map_err(|e| io_err(path, e))?.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else {
        special_file(kind)
    };
    Err(DumpError::NotACore(format!("{}: not a core dump: {what}", path.display())))
}

#[cfg(unix)]
fn special_file(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_fifo() || kind.is_socket() {
        "a pipe: save the dump to a file first"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_file(_kind: std::fs::FileType) -> &'static str {
    "not a regular file"
}

fn prefix_not_core(path: &Path, e: DumpError) -> DumpError {
    match e {
        DumpError::NotACore(msg) => DumpError::NotACore(format!("{}: {msg}", path.display())),
        DumpError::Truncated(msg) => DumpError::Truncated(format!("{}: {msg}", path.display())),
        other => other,
    }
}

fn read_prefix(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Most bytes decompressed before the program headers are known (an ELF header that puts
/// them further away is not a core any tool writes).
const MAX_HEADERS: u64 = 64 << 20;
/// Bytes allowed past the end the ELF headers give (some writers pad the file).
const SIZE_MARGIN: u64 = 1 << 20;

/// Decompresses a zstd file into an anonymous temporary file, as far as the ELF core
/// inside says it reaches: the first bytes must be an ELF core's header, its program
/// headers (and section headers) give the file's size, the temporary directory must have
/// room for that, and the stream may not go past it (plus [`SIZE_MARGIN`]).
fn decompress(path: &Path) -> Result<File> {
    let input = File::open(path).map_err(|e| io_err(path, e))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = Progress::new("decompressing the dump", size);
    let input = ProgressReader { inner: input, progress: &progress };
    let mut decoder = zstd::stream::read::Decoder::new(input).map_err(|e| io_err(path, e))?;
    // Dumps are compressed with long windows (`--long=27` and up).
    decoder
        .window_log_max(31)
        .map_err(|e| io_err(path, e))?;
    let broken = |e: std::io::Error| {
        DumpError::NotACore(format!(
            "{}: cannot decompress this zstd file ({e}); is it complete?",
            path.display()
        ))
    };
    let not_core = |why: String| {
        DumpError::NotACore(format!(
            "{}: the zstd file does not hold an ELF core dump: {why}",
            path.display()
        ))
    };
    let mut head = Vec::new();
    fill(&mut decoder, &mut head, SIZEOF_EHDR as u64).map_err(broken)?;
    let header = core_header(&head).map_err(not_core)?;
    fill(&mut decoder, &mut head, header.headers_end).map_err(broken)?;
    let expected = expected_size(&head, &header).map_err(not_core)?;
    let limit = expected.saturating_add(SIZE_MARGIN);
    check_free_space(path, expected)?;
    let mut out = tempfile::tempfile().map_err(|e| io_err(Path::new("temporary file"), e))?;
    let written_err = |e: std::io::Error| io_err(Path::new("temporary file"), e);
    out.write_all(&head).map_err(written_err)?;
    let room = limit.saturating_sub(head.len() as u64);
    let copied = std::io::copy(&mut (&mut decoder).take(room.saturating_add(1)), &mut out)
        .map_err(broken)?;
    if copied > room {
        return Err(DumpError::NotACore(format!(
            "{}: the zstd file decompresses to more than the {expected} bytes its ELF headers describe; \
             it is not read further",
            path.display()
        )));
    }
    Ok(out)
}

/// What the start of a core says about where its headers end.
struct CoreHeader {
    /// One past the program headers (or, with `PN_XNUM`, the ELF header).
    headers_end: u64,
    phoff: u64,
    /// `None` with `PN_XNUM`: the count is in a section header, usually at the file's end.
    phnum: Option<u64>,
    shoff: u64,
    shend: u64,
}

/// Checks that `head` (at least an ELF header's worth, unless the stream is shorter)
/// starts an ELF64 core and says where its headers are.
fn core_header(head: &[u8]) -> std::result::Result<CoreHeader, String> {
    if head.len() < 4 || &head[..4] != b"\x7fELF" {
        return Err("it does not start with the ELF signature".into());
    }
    if head.len() < SIZEOF_EHDR {
        return Err("it ends inside the ELF header".into());
    }
    let header = Header::from_bytes(head[..SIZEOF_EHDR].try_into().expect("header size"));
    if header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB {
        return Err("only 64-bit little-endian core dumps can be read".into());
    }
    if header.e_type != ET_CORE {
        return Err("an ELF file, but not a core dump".into());
    }
    let phnum = (header.e_phnum != 0xffff).then_some(header.e_phnum as u64);
    let headers_end = match phnum {
        Some(n) => header.e_phoff.checked_add(n * SIZEOF_PHDR as u64),
        None => Some(SIZEOF_EHDR as u64),
    }
    .filter(|&end| end <= MAX_HEADERS)
    .ok_or_else(|| format!("its program headers are at {:#x}, past any core's", header.e_phoff))?;
    let shend = (header.e_shnum as u64)
        .max(1)
        .checked_mul(header.e_shentsize as u64)
        .and_then(|n| n.checked_add(header.e_shoff))
        .ok_or_else(|| "its section headers end past any file".to_string())?;
    Ok(CoreHeader {
        headers_end,
        phoff: header.e_phoff,
        phnum,
        shoff: header.e_shoff,
        shend: if header.e_shoff == 0 { 0 } else { shend },
    })
}

/// The size of the file the headers describe: the furthest end of the program headers,
/// the segments' bytes and the section headers.
fn expected_size(head: &[u8], header: &CoreHeader) -> std::result::Result<u64, String> {
    let mut end = header.headers_end.max(header.shend);
    let Some(phnum) = header.phnum else {
        // PN_XNUM: the section header holding the count ends the file (as the kernel
        // writes it); the program headers are read when the file is parsed.
        if header.shoff == 0 {
            return Err("65,535 or more program headers, but no section header with their count".into());
        }
        return Ok(end);
    };
    for i in 0..phnum {
        let at = (header.phoff + i * SIZEOF_PHDR as u64) as usize;
        let Some(bytes) = head.get(at..at + SIZEOF_PHDR) else {
            return Err("it ends inside its program headers".into());
        };
        let ph = ProgramHeader::from_bytes(bytes, 1)
            .into_iter()
            .next()
            .ok_or_else(|| "a damaged program header".to_string())?;
        let seg_end = ph
            .p_offset
            .checked_add(ph.p_filesz)
            .ok_or_else(|| format!("program header {i} ends past any file"))?;
        end = end.max(seg_end);
    }
    Ok(end)
}

/// Fails when the temporary directory has less room than `needed` bytes.
fn check_free_space(path: &Path, needed: u64) -> Result<()> {
    let dir = std::env::temp_dir();
    let Some(free) = free_space(&dir) else {
        return Ok(());
    };
    if free < needed {
        return Err(DumpError::NotACore(format!(
            "{}: decompressing needs {needed} bytes in {}, which has {free} free; \
             set TMPDIR to a directory with room, or decompress it yourself (zstd -d)",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path; `statvfs` fills `st` when it returns 0.
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: filled by the successful call above.
    let st = unsafe { st.assume_init() };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

/// Reads from `r` into `buf` until it holds `len` bytes or the stream ends.
fn fill(r: &mut impl Read, buf: &mut Vec<u8>, len: u64) -> std::io::Result<()> {
    let missing = len.saturating_sub(buf.len() as u64);
    if missing > 0 {
        r.take(missing).read_to_end(buf)?;
    }
    Ok(())
}

/// Counts the bytes read through it on a progress bar.
struct ProgressReader<'a, R> {
    inner: R,
    progress: &'a Progress,
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

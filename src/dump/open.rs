//! Opening a dump file: memory-map it, decompressing a zstd-compressed dump first.
//!
//! Dumps travel compressed (about 25 to 1 with zstd); one is recognised by its magic
//! number, not its name, and decompressed once into an unlinked temporary file that is
//! then mapped like any other dump.
use super::{AddressSpace, CoreFile, DumpError, Result};
use crate::progress::Progress;
use memmap2::Mmap;
use std::fs::File;
use std::io::Read;
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

/// Decompresses a zstd file into an anonymous temporary file.
fn decompress(path: &Path) -> Result<File> {
    let input = File::open(path).map_err(|e| io_err(path, e))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = Progress::new("decompressing the dump", size);
    let input = ProgressReader { inner: input, progress: &progress };
    let mut out = tempfile::tempfile().map_err(|e| io_err(Path::new("temporary file"), e))?;
    let mut decoder = zstd::stream::read::Decoder::new(input).map_err(|e| io_err(path, e))?;
    // Dumps are compressed with long windows (`--long=27` and up).
    decoder
        .window_log_max(31)
        .map_err(|e| io_err(path, e))?;
    std::io::copy(&mut decoder, &mut out).map_err(|e| DumpError::NotACore(format!(
        "{}: cannot decompress this zstd file ({e}); is it complete?",
        path.display()
    )))?;
    Ok(out)
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

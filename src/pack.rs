//! `clrheap pack`: a dump that opens anywhere. A heap dump leaves out most pages of the
//! files the process mapped; clrheap reads those pages from the files themselves (the
//! runtime's `libcoreclr.so`, the managed assemblies), which exist only on the machine
//! where the dump was made. Packing copies them into the dump.
//!
//! The packed dump is an ordinary core file (rewritten by [`crate::dump::rewrite`]): every
//! page the dump left out of the files clrheap reads — `libcoreclr.so`, the standalone GC
//! (`libclrgc.so`) and every PE image (the managed assemblies: metadata, ReadyToRun
//! tables) — is added as captured memory, read as the process saw it (relocations applied,
//! the end of the file's last page as zeros), then the whole is compressed with zstd.
//! Captured memory is read before any file, so `analyze` on a packed dump never looks on
//! disk. Other files (libc, the JIT, ...) are left out: clrheap never reads them.
use crate::dump::{open_dump, rewrite, AddressSpace, DumpOptions, MappedFile, PAGE_SIZE};
use crate::progress::Progress;
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct PackArgs {
    /// The dump to pack (plain or zstd-compressed), on the machine where it was made (or
    /// where its module files are).
    pub dump: PathBuf,
    /// Where to write the packed dump (default: DUMP.packed.zst, `.zst` of DUMP left out).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Directories to search for module files whose recorded paths do not exist here (as
    /// for analyze).
    #[arg(long = "module-path", value_name = "DIR")]
    pub module_paths: Vec<PathBuf>,
}

/// Native files of the runtime that clrheap reads.
const RUNTIME_FILES: [&str; 3] = ["libcoreclr.so", "libclrgc.so", "libclrgcexp.so"];

/// zstd level: fast, and within a few percent of the slow levels on dumps.
const LEVEL: i32 = 3;

/// What packing added.
#[derive(Debug, Default)]
pub struct PackReport {
    /// Per file (recorded path): bytes added.
    pub added: BTreeMap<String, u64>,
    /// Files clrheap reads that the dump lacks pages of and that are not on this machine.
    pub missing: Vec<String>,
    /// Size of the packed file.
    pub packed_size: u64,
}

/// `DUMP.packed.zst` (a `.zst` ending of DUMP left out).
pub fn default_output(dump: &Path) -> PathBuf {
    let s = dump.as_os_str().to_string_lossy();
    let base = s.strip_suffix(".zst").unwrap_or(&s);
    PathBuf::from(format!("{base}.packed.zst"))
}

/// Runs `clrheap pack`; returns the exit status.
pub fn run(args: &PackArgs) -> i32 {
    let output = args.output.clone().unwrap_or_else(|| default_output(&args.dump));
    let options = DumpOptions { module_paths: args.module_paths.clone(), dump_only: false };
    match pack(&args.dump, &output, &options) {
        Ok(report) => {
            let added: u64 = report.added.values().sum();
            eprintln!(
                "Added {:.1} MB from {} module files; {}: {:.1} MB",
                added as f64 / 1048576.0,
                report.added.len(),
                output.display(),
                report.packed_size as f64 / 1048576.0
            );
            println!("{}", output.display());
            0
        }
        Err(e) => {
            eprintln!("clrheap: {e:#}");
            1
        }
    }
}

/// Packs `dump` into `output`. Warns on standard error for each file it needs and cannot
/// find (the packed dump then lacks those pages, as the original did); fails when that
/// file is the runtime's `libcoreclr.so`, without which nothing can be read.
pub fn pack(dump: &Path, output: &Path, options: &DumpOptions) -> anyhow::Result<PackReport> {
    let space = open_dump(dump, options)?;
    let mut report = PackReport::default();
    let runs = missing_pages(&space, &mut report);
    // Without the runtime's own file the packed dump could not be read anywhere.
    if let Some(coreclr) = space.find_mapped_file("libcoreclr.so")
        && report.missing.contains(&coreclr.path)
        && let Some(message) = space.missing_file_message(coreclr)
    {
        anyhow::bail!("cannot pack {}: {message}", dump.display());
    }
    for path in &report.missing {
        // Not on this machine, or refused as not the file the process mapped.
        let why = space
            .mapped_files()
            .iter()
            .find(|f| &f.path == path)
            .and_then(|f| space.missing_file_message(f))
            .unwrap_or_else(|| format!("{path} is not on this machine"));
        eprintln!("clrheap: warning: {why}; the packed dump lacks the parts of it the dump left out");
    }
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    {
        let total = space.core().data.len() as u64 + runs.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
        let progress = Progress::new("packing the dump", total);
        let file = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        let mut encoder = zstd::stream::write::Encoder::new(file, LEVEL)?;
        encoder.long_distance_matching(true)?;
        encoder.window_log(27)?;
        encoder.include_checksum(true)?;
        let mut counted = CountingWriter { inner: &mut encoder, progress: &progress };
        rewrite::write_with_runs(&space, &runs, &mut counted)?;
        encoder.finish()?.flush()?;
    }
    tmp.persist(output).with_context(|| format!("cannot write {}", output.display()))?;
    report.packed_size = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    Ok(report)
}

/// Whether clrheap reads this file: the runtime's native files and every PE image.
fn is_read_by_clrheap(space: &AddressSpace, file: &MappedFile) -> bool {
    if RUNTIME_FILES.contains(&file.file_name()) {
        return true;
    }
    let mut magic = [0u8; 2];
    space.read(file.base, &mut magic).is_ok() && &magic == b"MZ"
}

/// The pages of the files clrheap reads that the dump left out, read from the files, as
/// runs of consecutive pages.
fn missing_pages(space: &AddressSpace, report: &mut PackReport) -> Vec<(u64, Vec<u8>)> {
    let wanted: Vec<&str> = space
        .mapped_files()
        .iter()
        .filter(|f| is_read_by_clrheap(space, f))
        .map(|f| f.path.as_str())
        .collect();
    let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut lacking: BTreeMap<&str, bool> = BTreeMap::new();
    for m in space.core().files.iter().filter(|m| wanted.contains(&m.path.as_str())) {
        let mut page = m.start / PAGE_SIZE * PAGE_SIZE;
        while page < m.end {
            if !rewrite::has_captured_bytes(space, page) {
                match read_page(space, page) {
                    Some(bytes) => {
                        *report.added.entry(m.path.clone()).or_default() += PAGE_SIZE;
                        lacking.insert(&m.path, false);
                        match runs.last_mut() {
                            Some((start, b)) if start.saturating_add(b.len() as u64) == page => b.extend_from_slice(&bytes),
                            _ => runs.push((page, bytes)),
                        }
                    }
                    None => {
                        lacking.entry(&m.path).or_insert(true);
                    }
                }
            }
            page = match page.checked_add(PAGE_SIZE) {
                Some(p) => p,
                None => break,
            };
        }
    }
    report.missing = lacking.into_iter().filter(|(_, l)| *l).map(|(p, _)| p.to_string()).collect();
    runs
}

/// A page as the process saw it: read through the address space (from the mapped file);
/// when the file ends inside the page, the rest reads as zeros. `None` when nothing of it
/// can be read (no file, or the mapping runs past the file's end).
fn read_page(space: &AddressSpace, page: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; PAGE_SIZE as usize];
    if space.read(page, &mut buf).is_ok() {
        return Some(buf);
    }
    // The longest readable prefix, by bisection.
    let (mut lo, mut hi) = (0usize, PAGE_SIZE as usize);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if space.read(page, &mut buf[..mid]).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if lo == 0 {
        return None;
    }
    space.read(page, &mut buf[..lo]).ok()?;
    buf[lo..].fill(0);
    Some(buf)
}

/// Counts bytes into a progress bar.
struct CountingWriter<'a, W: Write> {
    inner: &'a mut W,
    progress: &'a Progress,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names() {
        assert_eq!(default_output(Path::new("/d/core_20260101_120000")), Path::new("/d/core_20260101_120000.packed.zst"));
        assert_eq!(default_output(Path::new("app.dmp.zst")), Path::new("app.dmp.packed.zst"));
    }
}

//! Inputs clrheap must refuse with one clear line and exit status 1: a file that is not a
//! core dump, a truncated dump, a process without .NET, a dump without a heap, a runtime
//! version clrheap does not know. None may panic. The library's error says which
//! (`clrheap::ErrorKind`).
mod common;

use clrheap::dump::DumpOptions;
use clrheap::{ErrorKind, Session};

use std::io::Read;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn decompressed(name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(fixture(name)).unwrap())
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// Runs `dumpheap -stat` on a file and returns (exit code, stderr) after checking that
/// it printed nothing on stdout and exactly one line on stderr.
fn refuse(path: &Path, extra: &[&str]) -> String {
    let mut cmd = common::clrheap();
    cmd.arg("analyze").arg(path).args(extra).args(["-c", "dumpheap -stat"]);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "exit status for {}: {stderr}", path.display());
    assert!(out.stdout.is_empty(), "stdout for {}", path.display());
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The kind of error `Session::open` fails with.
fn kind(path: &Path, dump_only: bool) -> ErrorKind {
    let options = DumpOptions { dump_only, ..Default::default() };
    match Session::open(path, &options) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e.kind(),
    }
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
    f
}

#[test]
fn not_a_core_dump() {
    let text = temp_file(b"this is not a dump\n");
    assert!(refuse(text.path(), &[]).contains("not a core dump"));
    let missing = refuse(Path::new("/nonexistent/clrheap.dmp"), &[]);
    assert!(missing.contains("cannot read /nonexistent/clrheap.dmp"), "{missing}");
    let exe = refuse(Path::new(env!("CARGO_BIN_EXE_clrheap")), &[]);
    assert!(exe.contains("not a core dump: an ELF"), "{exe}");
    assert_eq!(kind(text.path(), false), ErrorKind::NotACore);
    assert_eq!(kind(Path::new("/nonexistent/clrheap.dmp"), false), ErrorKind::Io);
}

#[test]
fn not_a_file() {
    // A device, a directory, a pipe: said in words, naming the path, not the system's
    // "No such device (os error 19)".
    let dir = tempfile::tempdir().unwrap();
    for (path, what) in [("/dev/null", "a device"), (dir.path().to_str().unwrap(), "a directory")] {
        let msg = refuse(Path::new(path), &[]);
        assert_eq!(msg, format!("clrheap: {path}: not a core dump: {what}\n"));
        assert_eq!(kind(Path::new(path), false), ErrorKind::NotACore);
    }
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let msg = refuse(&fifo, &[]);
    assert!(msg.contains("not a core dump: a pipe: save the dump to a file first"), "{msg}");
}

#[test]
fn truncated_dump() {
    let bytes = decompressed("zoo-net8-wks-heap.dmp.zst");
    for len in [10, 100, 5000, bytes.len() / 2] {
        let cut = temp_file(&bytes[..len]);
        let msg = refuse(cut.path(), &[]);
        assert!(msg.contains("truncated") || msg.contains("not a core dump"), "{len}: {msg}");
    }
    let cut = temp_file(&bytes[..bytes.len() / 2]);
    assert!(refuse(cut.path(), &[]).contains("the dump is truncated"));
    assert_eq!(kind(cut.path(), false), ErrorKind::Truncated);
}

#[test]
fn process_without_dotnet() {
    let msg = refuse(&fixture("no-runtime-sleep.core.zst"), &[]);
    assert!(msg.contains("no .NET runtime in this dump"), "{msg}");
    // The message names the file (several dumps may be opened one after the other).
    let name = fixture("no-runtime-sleep.core.zst").display().to_string();
    assert!(msg.starts_with(&format!("clrheap: {name}: ")), "{msg}");
    assert_eq!(kind(&fixture("no-runtime-sleep.core.zst"), false), ErrorKind::NoRuntime);
}

#[test]
fn unknown_runtime_version() {
    // The fixture with its runtime's version string rewritten to one clrheap never saw.
    let mut bytes = decompressed("zoo-net8-wks-heap.dmp.zst");
    let marker = b"@(#)Version 8.0.";
    let found: Vec<usize> = memchr::memmem::find_iter(&bytes, marker).collect();
    assert!(!found.is_empty(), "version string in the fixture");
    for pos in found {
        bytes[pos + 12] = b'7';
    }
    let patched = temp_file(&bytes);
    let msg = refuse(patched.path(), &["--dump-only"]);
    assert!(msg.contains("CoreCLR 7.0.33") && msg.contains("not supported"), "{msg}");
    assert_eq!(kind(patched.path(), true), ErrorKind::UnknownRuntime);
}

#[test]
fn mini_dump_has_no_heap() {
    let msg = refuse(&fixture("seed-net9-wks-mini.dmp.zst"), &[]);
    assert!(msg.contains("holds no GC heap"), "{msg}");
    let name = fixture("seed-net9-wks-mini.dmp.zst").display().to_string();
    assert!(msg.starts_with(&format!("clrheap: {name}: ")), "{msg}");
    assert_eq!(kind(&fixture("seed-net9-wks-mini.dmp.zst"), false), ErrorKind::NoHeap);
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn dump_without_a_heap() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("dump_without_a_heap: skipped: no lab");
        return;
    };
    let triage = lab.join("dumps/seed-net10-wks-triage.dmp");
    let msg = refuse(&triage, &[]);
    assert!(msg.contains("holds no GC heap"), "{msg}");
}

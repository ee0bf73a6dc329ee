//! Crafted dumps: a dump is input from someone else, and these are the attacks on clrheap
//! found by editing the lab's `zoo-net8-wks-heap` (the committed fixture of it here, so the
//! tests run anywhere; one uses the lab dump itself). Each test builds its dump, runs the
//! `clrheap` binary on it (under a memory limit and a time limit) and checks that no local
//! file is read through the dump, nothing hangs or blows up, and every loss of data is a
//! warning and exit status 3.
//!
//! `CLRHEAP_TEST_BIN` runs another build of clrheap (to measure an older one).
mod common;

use clrheap::fuzzing::craft::{self, Core, elf_header_page, nt_file, pe_header_page};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A 200,000-byte `System.Byte[]` on the fixture's large object heap: its elements are
/// the window through which a crafted `NT_FILE` shows what it maps.
const ARRAY: u64 = 0x7f60_5ec0_0048;
/// A page of that array's elements the fixture holds (a module's "first page" below).
const HEAD_PAGE: u64 = 0x7f60_5ec0_1000;
/// The next page, taken out of the dump so that reads there go to the mapped file.
const HOLE: u64 = 0x7f60_5ec0_2000;
/// Memory no segment of the fixture uses.
const FREE_AREA: u64 = 0x1000_0000_0000;

/// Most bytes of standard output kept from a run (a runaway command prints gigabytes).
const KEEP_OUTPUT: usize = 8 << 20;
/// Address space a run may take (a blow-up aborts instead of swapping the machine).
const MEMORY_LIMIT: u64 = 3 << 30;

fn fixture() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zoo-net8-wks-heap.dmp.zst");
    let compressed = std::fs::read(&path).unwrap();
    let mut decoder = zstd::stream::read::Decoder::new(&compressed[..]).unwrap();
    decoder.window_log_max(31).unwrap();
    let mut bytes = Vec::new();
    decoder.read_to_end(&mut bytes).unwrap();
    bytes
}

fn clrheap() -> PathBuf {
    std::env::var_os("CLRHEAP_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_clrheap")))
}

/// What one run of clrheap did.
#[derive(Debug)]
struct Run {
    /// Exit status; `None` when killed (time limit) or ended by a signal.
    code: Option<i32>,
    stdout: String,
    stdout_len: u64,
    stderr: String,
    elapsed: Duration,
    /// Peak resident memory, KiB.
    max_rss_kb: i64,
    timed_out: bool,
}

impl Run {
    fn warned(&self, text: &str) -> bool {
        self.stderr.lines().any(|l| l.starts_with("warning:") && l.contains(text))
    }
}

/// Runs clrheap with `args` and `envs`, killing it after `limit`.
fn run_with(args: &[OsString], envs: &[(&str, OsString)], limit: Duration) -> Run {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(clrheap());
    cmd.args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run clrheap");
    let pid = child.id() as libc::pid_t;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let (mut kept, mut total, mut buf) = (Vec::new(), 0u64, vec![0u8; 1 << 16]);
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
            if kept.len() < KEEP_OUTPUT {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        (kept, total)
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if started.elapsed() > limit && !timed_out {
            timed_out = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    let (stdout, stdout_len) = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stdout_len,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed,
        max_rss_kb: usage.ru_maxrss,
        timed_out,
    }
}

/// `clrheap analyze DUMP [extra args] -c CMD...`.
fn analyze(dump: &Path, extra: &[&str], commands: &[&str], limit: Duration) -> Run {
    let mut args: Vec<OsString> = vec!["analyze".into(), dump.into()];
    args.extend(extra.iter().map(OsString::from));
    for c in commands {
        args.push("-c".into());
        args.push(c.into());
    }
    run_with(&args, &[], limit)
}

/// How long a crafted dump may take: ten times the real dump's run, and at least 20 s
/// (debug builds are slow).
fn time_limit(baseline: &Run) -> Duration {
    (baseline.elapsed * 10).max(Duration::from_secs(20))
}

/// The memory a crafted dump may take: twice the real dump's, plus 64 MiB.
fn memory_limit_kb(baseline: &Run) -> i64 {
    baseline.max_rss_kb * 2 + 64 * 1024
}

fn write_dump(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn report(test: &str, what: &str, run: &Run) {
    eprintln!(
        "{test}: {what}: exit {:?}, {:.2} s, {} MiB peak, {} bytes out, {} warning lines{}",
        run.code,
        run.elapsed.as_secs_f64(),
        run.max_rss_kb / 1024,
        run.stdout_len,
        run.stderr.lines().filter(|l| l.starts_with("warning:")).count(),
        if run.timed_out { " (killed: time limit)" } else { "" }
    );
}

// ---------------------------------------------------------------------------------------
// 1. Files named by NT_FILE
// ---------------------------------------------------------------------------------------

/// The fixture with `header` written over [`HEAD_PAGE`], [`HOLE`] taken out, and an
/// `NT_FILE` entry (besides the dump's own) mapping both pages from `path`'s start.
fn module_dump(header: &[u8], path: &Path, page_size: u64) -> Vec<u8> {
    let mut core = Core::parse(fixture());
    core.write(HEAD_PAGE, header);
    core.punch(HOLE, 4096);
    core.add_notes(&nt_file(
        page_size,
        &[(HEAD_PAGE, HOLE + 4096, 0, path.to_str().unwrap().to_string())],
    ));
    core.finish(false)
}

/// The array elements at [`HOLE`] as clrheap reads them (`None` for an element it cannot
/// read), and the run.
fn read_hole(dump: &Path, count: u64) -> (Vec<Option<u64>>, Run) {
    let start = HOLE - (ARRAY + 16);
    let line = format!("dumparray -start {start} -length {count} {ARRAY:x}");
    let run = analyze(dump, &["--format", "json"], &[&line], Duration::from_secs(30));
    let mut values = Vec::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(run.stdout.trim()) {
        for e in v["elements"].as_array().into_iter().flatten() {
            values.push(e["value"].as_u64());
        }
    }
    (values, run)
}

fn bytes_of(text: &[u8]) -> Vec<Option<u64>> {
    text.iter().map(|&b| Some(b as u64)).collect()
}

/// A file that is not a module (here, a stand-in for `/etc/shadow`) mapped under an
/// array whose pages the dump left out: its bytes must not come out as the array's
/// elements, even when the dump holds its first page exactly (whoever made the dump knew
/// that much), and the refusal is a warning naming the file, with exit status 3.
#[test]
fn nt_file_secret_file_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let secret_text = b"root:*:20228:0:99999:7:::SECRET";
    let mut secret = vec![b'#'; 4096];
    secret.extend_from_slice(secret_text);
    secret.resize(8192, b'\n');
    let secret_path = dir.path().join("shadow");
    std::fs::write(&secret_path, &secret).unwrap();
    // The dump holds the file's first page as it is: only the second page is secret.
    let dump = write_dump(dir.path(), "secret.dmp", &module_dump(&secret[..4096], &secret_path, 4096));
    let (values, run) = read_hole(&dump, secret_text.len() as u64);
    report("nt_file_secret_file_is_not_read", "after", &run);
    assert_ne!(values, bytes_of(secret_text), "the file's bytes came out as the array's");
    assert!(
        values.iter().all(|v| v.is_none()),
        "elements read from a refused file: {values:?}\n{}",
        run.stderr
    );
    assert!(run.warned(&secret_path.display().to_string()), "no warning names the file:\n{}", run.stderr);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
}

/// `NT_FILE` naming things that are not files: a FIFO (every .NET process leaves
/// `/tmp/clr-debug-pipe-*` FIFOs; opening one for reading blocks until a writer comes), a
/// directory, a socket, a device, a `/proc` file. None is opened for reading through the
/// dump; each is one warning saying what it is; nothing hangs.
#[test]
fn nt_file_special_files_are_not_opened() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("clr-debug-pipe-4242-in");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let socket = dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let subdir = dir.path().join("a-directory");
    std::fs::create_dir(&subdir).unwrap();
    let header = vec![0u8; 4096];
    for (path, kind) in [
        (fifo.clone(), "FIFO"),
        (subdir, "directory"),
        (socket, "socket"),
        (PathBuf::from("/dev/zero"), "character device"),
        (PathBuf::from("/proc/self/environ"), "/proc"),
    ] {
        let dump = write_dump(dir.path(), "special.dmp", &module_dump(&header, &path, 4096));
        let (values, run) = read_hole(&dump, 4);
        report("nt_file_special_files_are_not_opened", &path.display().to_string(), &run);
        assert!(!run.timed_out, "{}: hangs", path.display());
        assert!(values.iter().all(|v| v.is_none()), "{}: read {values:?}", path.display());
        assert!(
            run.warned(&path.display().to_string()) && run.warned(kind),
            "{}: no warning saying it is a {kind}:\n{}",
            path.display(),
            run.stderr
        );
        assert_eq!(run.code, Some(3), "{}", run.stderr);
    }
}

/// Module files are read when they are the file the process mapped, as far as the dump
/// can tell, and refused otherwise: a PE image by its headers (timestamp, sizes), an ELF
/// image by its GNU build id; what a mapping holds past a file's end is absent, with a
/// warning.
#[test]
fn nt_file_module_identity() {
    let dir = tempfile::tempdir().unwrap();
    let body = b"the module's second page";
    let module = |header: &[u8], len: usize| {
        let mut m = header.to_vec();
        m.extend_from_slice(body);
        m.resize(len, 0x90);
        m
    };
    let pe = pe_header_page(0x1234_5678, 0x11);
    let elf = elf_header_page(&[0xab; 20], 0x22);
    // (case, header in the dump, the file on disk, read?)
    let cases: Vec<(&str, Vec<u8>, Vec<u8>, bool)> = vec![
        ("pe-same", pe.clone(), module(&pe, 8192), true),
        ("pe-other-build", pe.clone(), module(&pe_header_page(0x1234_5679, 0x11), 8192), false),
        ("pe-too-short", pe.clone(), module(&pe, 4096 + body.len()).split_at(4096).0.to_vec(), false),
        ("elf-same", elf.clone(), module(&elf, 8192), true),
        ("elf-other-build", elf.clone(), module(&elf_header_page(&[0xac; 20], 0x22), 8192), false),
        ("elf-no-build-id-in-file", elf.clone(), module(&elf_header_page(&[], 0x22), 8192), false),
    ];
    for (case, header, file, read) in cases {
        let path = dir.path().join(format!("{case}.dll"));
        std::fs::write(&path, &file).unwrap();
        let dump = write_dump(dir.path(), &format!("{case}.dmp"), &module_dump(&header, &path, 4096));
        let (values, run) = read_hole(&dump, body.len() as u64);
        report("nt_file_module_identity", case, &run);
        if read {
            assert_eq!(values, bytes_of(body), "{case}: the matching file was not read:\n{}", run.stderr);
            assert_eq!(run.code, Some(0), "{case}: {}", run.stderr);
        } else {
            assert!(values.iter().all(|v| v.is_none()), "{case}: read {values:?}");
            assert!(run.warned(&path.display().to_string()), "{case}: no warning:\n{}", run.stderr);
            assert_eq!(run.code, Some(3), "{case}: {}", run.stderr);
        }
    }
}

/// `NT_FILE`'s page size scales every file offset: one that no kernel (or gdb) writes
/// makes the note unusable, with a warning, rather than offsets read from anywhere.
#[test]
fn nt_file_page_size_checked() {
    let dir = tempfile::tempdir().unwrap();
    let pe = pe_header_page(0x1234_5678, 0x11);
    let mut file = pe.clone();
    file.extend_from_slice(b"second page");
    file.resize(8192, 0);
    let path = dir.path().join("module.dll");
    std::fs::write(&path, &file).unwrap();
    for page_size in [3u64, 0, 1 << 40] {
        let dump = write_dump(dir.path(), "pagesize.dmp", &module_dump(&pe, &path, page_size));
        let (values, run) = read_hole(&dump, 4);
        report("nt_file_page_size_checked", &format!("page size {page_size:#x}"), &run);
        assert!(values.iter().all(|v| v.is_none()), "page size {page_size:#x}: read {values:?}");
        assert!(run.warned("page size"), "page size {page_size:#x}: no warning:\n{}", run.stderr);
        assert_eq!(run.code, Some(3));
    }
}

/// The lab dump with CoreLib's `NT_FILE` path pointed at another runtime's CoreLib (9.0.22
/// for 8.0.33, same length): that file is refused with a warning naming it, and the answer
/// is marked partial; before, the live set silently changed (2,447 -> 2,443 objects).
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn lab_corelib_of_another_runtime() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("lab_corelib_of_another_runtime: skipped: no lab");
        return;
    };
    let dump = lab.join("dumps/zoo-net8-wks-heap.dmp");
    let other = lab.join("dotnet/shared/Microsoft.NETCore.App/9.0.22/System.Private.CoreLib.dll");
    if !dump.is_file() || !other.is_file() {
        eprintln!("lab_corelib_of_another_runtime: skipped: no {} or {}", dump.display(), other.display());
        return;
    }
    let mut core = Core::parse(std::fs::read(&dump).unwrap());
    let from = b"8.0.33/System.Private.CoreLib.dll";
    let to = b"9.0.22/System.Private.CoreLib.dll";
    let mut renamed = 0;
    for (off, len) in core.note_segments() {
        let hits: Vec<usize> = memchr::memmem::find_iter(&core.bytes[off..off + len], from).collect();
        for at in hits {
            core.bytes[off + at..off + at + to.len()].copy_from_slice(to);
            renamed += 1;
        }
    }
    assert!(renamed > 0);
    let dir = tempfile::tempdir().unwrap();
    let crafted = write_dump(dir.path(), "corelib.dmp", &core.bytes);
    let commands = ["dumpheap -live -stat"];
    let baseline = analyze(&dump, &[], &commands, Duration::from_secs(300));
    let run = analyze(&crafted, &[], &commands, Duration::from_secs(300));
    report("lab_corelib_of_another_runtime", "real dump", &baseline);
    report("lab_corelib_of_another_runtime", "crafted", &run);
    let total = |r: &Run| r.stdout.lines().last().unwrap_or("").to_string();
    eprintln!("real: {}\ncrafted: {}", total(&baseline), total(&run));
    assert!(run.warned(&other.display().to_string()), "no warning names {}:\n{}", other.display(), run.stderr);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------
// 2. Hangs and quadratic work
// ---------------------------------------------------------------------------------------

/// 300,000 distinct paths in `NT_FILE` (a 13 MB note): opening takes time linear in them.
#[test]
fn nt_file_300000_paths() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = analyze(&write_dump(dir.path(), "real.dmp", &fixture()), &[], &["dumpheap -stat"], Duration::from_secs(60));
    let entries: Vec<(u64, u64, u64, String)> = (0..300_000u64)
        .map(|i| {
            let at = FREE_AREA + i * 4096;
            (at, at + 4096, 0, format!("/nonexistent/clrheap-test/module-{i:06}.so"))
        })
        .collect();
    let mut core = Core::parse(fixture());
    core.add_notes(&nt_file(4096, &entries));
    let dump = write_dump(dir.path(), "paths.dmp", &core.finish(false));
    let run = analyze(&dump, &[], &["dumpheap -stat"], time_limit(&baseline));
    report("nt_file_300000_paths", "real dump", &baseline);
    report("nt_file_300000_paths", "crafted", &run);
    assert!(!run.timed_out, "took over {:?}", time_limit(&baseline));
    assert_eq!(run.stdout, baseline.stdout);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------
// 3. Memory and disk
// ---------------------------------------------------------------------------------------

/// 65,535 `PT_NOTE` headers (so `PN_XNUM`) naming one note segment that holds the dump's
/// notes and 4,000 more `NT_FILE` entries: each note byte is parsed once, and the run
/// needs no more than twice the memory of the real dump's.
#[test]
fn pt_note_65535_headers() {
    let dir = tempfile::tempdir().unwrap();
    let real = write_dump(dir.path(), "real.dmp", &fixture());
    let baseline = analyze(&real, &[], &["dumpheap -stat"], Duration::from_secs(60));
    let mut core = Core::parse(fixture());
    let mut notes = Vec::new();
    for (off, len) in core.note_segments() {
        notes.extend_from_slice(&core.bytes[off..off + len]);
    }
    let entries: Vec<(u64, u64, u64, String)> = (0..4000u64)
        .map(|i| {
            let at = FREE_AREA + i * 4096;
            (at, at + 4096, 0, format!("/nonexistent/clrheap-test/module-{i:04}.so"))
        })
        .collect();
    notes.extend_from_slice(&nt_file(4096, &entries));
    core.phdrs.retain(|p| p.p_type != craft::PT_NOTE);
    core.add_notes(&notes);
    let one = *core.phdrs.last().unwrap();
    for _ in 1..65_535 {
        core.phdrs.push(one);
    }
    let dump = write_dump(dir.path(), "notes.dmp", &core.finish(true));
    let run = analyze(&dump, &[], &["dumpheap -stat"], time_limit(&baseline));
    report("pt_note_65535_headers", "real dump", &baseline);
    report("pt_note_65535_headers", "crafted", &run);
    assert!(!run.timed_out);
    assert!(
        run.max_rss_kb <= memory_limit_kb(&baseline),
        "{} KiB, the real dump {} KiB",
        run.max_rss_kb,
        baseline.max_rss_kb
    );
    assert_eq!(run.stdout, baseline.stdout, "{}", run.stderr);
    assert!(run.warned("overlap"), "{}", run.stderr);
    assert_eq!(run.code, Some(3));
}

/// `PN_XNUM`: the program header count in section header 0, as the kernel writes it for
/// 65,535 or more segments. The dump reads as before.
#[test]
fn pn_xnum_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let real = write_dump(dir.path(), "real.dmp", &fixture());
    let baseline = analyze(&real, &[], &["dumpheap -stat"], Duration::from_secs(60));
    let dump = write_dump(dir.path(), "xnum.dmp", &Core::parse(fixture()).finish(true));
    let run = analyze(&dump, &[], &["dumpheap -stat"], Duration::from_secs(60));
    report("pn_xnum_is_followed", "crafted", &run);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, baseline.stdout);
}

fn zstd_file(dir: &Path, name: &str, parts: &[&[u8]], zeros: u64) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut enc = zstd::stream::write::Encoder::new(file, 3).unwrap();
    for p in parts {
        std::io::Write::write_all(&mut enc, p).unwrap();
    }
    let block = vec![0u8; 1 << 20];
    for _ in 0..zeros / block.len() as u64 {
        std::io::Write::write_all(&mut enc, &block).unwrap();
    }
    enc.finish().unwrap();
    path
}

/// A zstd frame that decompresses to 1 GiB of zeros, no ELF core: refused at once, before
/// anything is written (before: the whole gigabyte went to `$TMPDIR` first).
#[test]
fn zstd_not_a_core_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = zstd_file(dir.path(), "zeros.dmp.zst", &[], 1 << 30);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let args: Vec<OsString> = vec!["analyze".into(), path.into(), "-c".into(), "eeheap -gc".into()];
    let run = run_with(&args, &[("TMPDIR", tmp.into())], Duration::from_secs(120));
    report("zstd_not_a_core_stops_at_once", "zeros", &run);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("does not hold an ELF core"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(5), "took {:?}", run.elapsed);
}

/// The fixture followed by 512 MiB of zeros in one zstd frame: decompression stops where
/// the ELF headers say the file ends (plus a margin) and the dump is refused.
#[test]
fn zstd_longer_than_its_headers_say() {
    let dir = tempfile::tempdir().unwrap();
    let path = zstd_file(dir.path(), "long.dmp.zst", &[&fixture()], 512 << 20);
    let run = analyze(&path, &[], &["eeheap -gc"], Duration::from_secs(120));
    report("zstd_longer_than_its_headers_say", "fixture + 512 MiB", &run);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("more than the"), "{}", run.stderr);
}

/// A core whose program headers say it holds a petabyte: refused before anything is
/// written, naming the temporary directory that lacks the room.
#[test]
fn zstd_free_space_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = Core::parse(fixture());
    let last = core.phdrs.iter().filter(|p| p.p_type == craft::PT_LOAD).map(|p| p.p_vaddr + p.p_memsz).max().unwrap();
    core.phdrs.push(craft::Phdr {
        p_type: craft::PT_LOAD,
        p_flags: 4,
        p_offset: 1 << 50,
        p_vaddr: last.next_multiple_of(4096),
        p_filesz: 4096,
        p_memsz: 4096,
    });
    let path = zstd_file(dir.path(), "huge.dmp.zst", &[&core.finish(false)], 64 << 20);
    let run = analyze(&path, &[], &["eeheap -gc"], Duration::from_secs(120));
    report("zstd_free_space_checked", "claims 1 PiB", &run);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("free"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(5), "took {:?}", run.elapsed);
}

// ---------------------------------------------------------------------------------------
// Heap structures
// ---------------------------------------------------------------------------------------

/// The fixture opened as a session, to find the runtime's structures in it.
fn session() -> clrheap::Session {
    clrheap::fuzzing::open_session(fixture()).expect("the fixture opens")
}

/// Runs `commands` on the real fixture and on `bytes`.
fn compare(test: &str, bytes: &[u8], commands: &[&str]) -> (Run, Run) {
    let dir = tempfile::tempdir().unwrap();
    let real = write_dump(dir.path(), "real.dmp", &fixture());
    let baseline = analyze(&real, &["--dump-only"], commands, Duration::from_secs(120));
    let dump = write_dump(dir.path(), "crafted.dmp", bytes);
    let run = analyze(&dump, &["--dump-only"], commands, time_limit(&baseline));
    report(test, "real dump", &baseline);
    report(test, "crafted", &run);
    eprintln!("{test}: real: {:?}\n{test}: crafted: {:?}", last_line(&baseline), last_line(&run));
    (baseline, run)
}

fn last_line(run: &Run) -> String {
    run.stdout.lines().rev().find(|l| l.starts_with("Total")).unwrap_or("").to_string()
}

/// A thread's allocation context moved onto an object early in a segment, its limit past
/// the segment's end: it would hide the rest of the segment. The limit is clamped to the
/// segment's end and that is a warning (before: 5,445 -> 2,026 objects, without a word).
#[test]
fn alloc_context_past_its_segment() {
    use clrheap::runtime::layouts::AllocContextPlace;
    let s = session();
    let heap = &s.heap;
    let (objects, _) = heap.objects();
    let t = heap.threads.iter().find(|t| t.alloc_context.is_some()).expect("a thread allocating");
    // The segment with the most objects, and its tenth object.
    let seg = heap
        .segments
        .iter()
        .max_by_key(|g| objects.iter().filter(|o| o.address >= g.start && o.address < g.end).count())
        .unwrap();
    let ptr = objects.iter().filter(|o| o.address >= seg.start).nth(10).unwrap().address;
    let AllocContextPlace::Inline(off) = heap.runtime.layout.thread.alloc_context else {
        panic!(".NET 8 keeps the context in the Thread");
    };
    let mut core = Core::parse(fixture());
    core.write_u64(t.address + off, ptr);
    core.write_u64(t.address + off + 8, seg.end + 0x10_0000);
    let (baseline, run) = compare("alloc_context_past_its_segment", &core.finish(false), &["dumpheap -stat"]);
    assert_eq!(baseline.code, Some(0));
    assert!(run.warned("allocation context"), "{}", run.stderr);
    assert_eq!(run.code, Some(3));
}

/// A segment whose `next` points to itself ends its list with a warning (before: the
/// segments after it were lost without a word).
#[test]
fn segment_list_loop() {
    let s = session();
    let heap = &s.heap;
    let gen2 = heap.heaps[0].generations[2].start_segment;
    // The first segment of gen2's list with a successor.
    let mut core = Core::parse(fixture());
    let mut seg = gen2;
    while core.read_u64(seg + 48) == 0 || heap.segments.iter().all(|s| s.address != seg) {
        seg = core.read_u64(seg + 48);
        assert_ne!(seg, 0, "no gen2 segment with a successor");
    }
    core.write_u64(seg + 48, seg);
    let (_, run) = compare("segment_list_loop", &core.finish(false), &["dumpheap -stat"]);
    assert!(run.warned("loops back"), "{}", run.stderr);
    assert_eq!(run.code, Some(3));
}

/// One bad word in the thread list loses the threads from there on, with a warning; the
/// heap is still read (before: the whole dump was refused).
#[test]
fn thread_list_damaged() {
    let s = session();
    let heap = &s.heap;
    let link = heap.runtime.layout.thread.link;
    let first = &heap.threads[0];
    let mut core = Core::parse(fixture());
    core.write_u64(first.address + link, 0x0000_dead_0000_0000);
    let (baseline, run) = compare("thread_list_damaged", &core.finish(false), &["dumpheap -stat"]);
    assert!(run.warned("thread list"), "{}", run.stderr);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(!run.stdout.is_empty());
    let _ = baseline;
}

/// The handle table map's ten buckets all naming its first: each handle is counted once,
/// with a warning (before: every handle ten times, "Found 10 unique roots").
#[test]
fn handle_buckets_repeated() {
    let s = session();
    let map = s.heap.runtime.gc.handle_table_map;
    let mut core = Core::parse(fixture());
    let buckets = core.read_u64(map);
    let first = core.read_u64(buckets);
    for b in 0..10 {
        core.write_u64(buckets + 8 * b, first);
    }
    let (baseline, run) = compare("handle_buckets_repeated", &core.finish(false), &["gchandles -stat"]);
    assert_eq!(run.stdout, baseline.stdout);
    assert!(run.warned("more than once"), "{}", run.stderr);
    assert_eq!(run.code, Some(3));
}

/// A forged handle table map (a few KB of added memory): 64 maps chained to themselves,
/// ten buckets naming one bucket, whose 1,024 slots all name the real table. The handles
/// are counted once and memory stays bounded (before: billions of handles, an abort).
#[test]
fn handle_table_forged() {
    let s = session();
    let map = s.heap.runtime.gc.handle_table_map;
    let mut core = Core::parse(fixture());
    let buckets = core.read_u64(map);
    let bucket = core.read_u64(buckets);
    let slots = core.read_u64(bucket);
    let table = core.read_u64(slots);
    // New memory: 1,024 slots naming the real table, ten buckets naming the real bucket
    // (which is made to hold those slots), 63 more maps naming those buckets.
    let forged = FREE_AREA;
    let (forged_slots, forged_buckets, forged_maps) = (forged, forged + 0x2000, forged + 0x3000);
    let mut memory = vec![0u8; 0x4000];
    let mut put = |at: u64, value: u64| {
        let i = (at - forged) as usize;
        memory[i..i + 8].copy_from_slice(&value.to_le_bytes());
    };
    for i in 0..1024 {
        put(forged_slots + 8 * i, table);
    }
    for b in 0..10 {
        put(forged_buckets + 8 * b, bucket);
    }
    for m in 0..63 {
        let this = forged_maps + 32 * m;
        put(this, forged_buckets);
        put(this + 8, if m < 62 { this + 32 } else { 0 });
    }
    core.add_memory(forged, &memory);
    core.write_u64(bucket, forged_slots);
    core.write_u64(map, forged_buckets);
    core.write_u64(map + 8, forged_maps);
    let (baseline, run) = compare("handle_table_forged", &core.finish(false), &["gchandles -stat"]);
    assert!(!run.timed_out);
    assert!(run.max_rss_kb <= memory_limit_kb(&baseline), "{} KiB", run.max_rss_kb);
    assert_eq!(run.stdout, baseline.stdout, "{}", run.stderr);
    assert!(run.warned("more than once"), "{}", run.stderr);
    assert_eq!(run.code, Some(3));
}

/// A frozen segment starting below 8: no arithmetic panic in a debug build (SOS's
/// committed start is 8 bytes before a frozen segment's first object).
#[test]
fn frozen_segment_below_8() {
    use clrheap::heap::SegmentKind;
    let s = session();
    let frozen = s
        .heap
        .segments
        .iter()
        .find(|g| g.kind == SegmentKind::Frozen)
        .expect("a frozen segment");
    let mut core = Core::parse(fixture());
    core.write_u64(frozen.address + 32, 4); // mem
    core.write_u64(frozen.address, 4); // allocated
    let (_, run) = compare("frozen_segment_below_8", &core.finish(false), &["eeheap -gc", "dumpheap -stat"]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.code.is_some_and(|c| c != 101), "{:?}", run.code);
}

/// An object whose size runs past the end of the address space: the walk stops there with
/// a warning, no arithmetic panic.
#[test]
fn object_past_the_address_space() {
    let s = session();
    let heap = &s.heap;
    let (objects, _) = heap.objects();
    let byte_array_mt = objects
        .iter()
        .find(|o| o.address == ARRAY)
        .map(|o| o.mt)
        .expect("the LOH byte array");
    let gen2 = heap
        .segments
        .iter()
        .find(|g| g.kind == clrheap::heap::SegmentKind::Gen2 && g.end > g.start)
        .unwrap();
    let top = 0xffff_ffff_ffff_f000u64;
    let mut object = vec![0u8; 4096];
    object[8..16].copy_from_slice(&byte_array_mt.to_le_bytes());
    object[16..20].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let mut core = Core::parse(fixture());
    core.add_memory(top, &object);
    core.write_u64(gen2.address + 32, top + 8); // mem
    core.write_u64(gen2.address, top + 4000); // allocated
    let (_, run) = compare("object_past_the_address_space", &core.finish(false), &["dumpheap -stat"]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.warned("runs past"), "{}", run.stderr);
    assert_eq!(run.code, Some(3));
}


/// No false refusals: in every lab dump, every mapped file that exists here passes the
/// identity check, except the lab's `scenarios.dll`, which was rebuilt after the older
/// dumps were made (and is refused for exactly those).
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn lab_module_files_match() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("lab_module_files_match: skipped: no lab");
        return;
    };
    let mut checked = 0;
    let mut refused = Vec::new();
    for (name, dump, _) in common::lab_dumps("lab_module_files_match") {
        let Ok(space) = clrheap::dump::open_dump(&dump, &Default::default()) else {
            continue;
        };
        for f in space.mapped_files() {
            if !Path::new(&f.path).is_file() {
                continue;
            }
            checked += 1;
            if space.local_path(f).is_none() {
                refused.push(format!("{name}: {}", f.path));
            }
        }
    }
    eprintln!("{checked} mapped files checked; refused:\n{}", refused.join("\n"));
    let lab = lab.display().to_string();
    let unexpected: Vec<&String> = refused
        .iter()
        .filter(|r| !r.ends_with("/scenarios.dll") || !r.contains(&lab))
        .collect();
    assert!(unexpected.is_empty(), "refused: {unexpected:?}");
}

/// An array whose length field says 0xffffffff: `dumparray` prints the elements its
/// memory can hold (to its segment's end), with a warning, not four billion lines.
#[test]
fn array_length_ffffffff() {
    let s = session();
    let heap = &s.heap;
    let (objects, _) = heap.objects();
    let string_mt = heap.runtime.globals.string_mt;
    let array = objects
        .iter()
        .find(|o| {
            o.mt != string_mt
                && heap.method_table(o.mt).is_ok_and(|m| m.component_size == 8)
                && heap.segment_of(o.address).is_some_and(|g| g.kind == clrheap::heap::SegmentKind::Gen2)
        })
        .expect("an array of references");
    let seg = heap.segment_of(array.address).unwrap();
    let mut core = Core::parse(fixture());
    let at = array.address + 8;
    let old = core.read_u64(at);
    core.write_u64(at, (old & !0xffff_ffff) | 0xffff_ffff);
    let line = format!("dumparray {:x}", array.address);
    let (_, run) = compare("array_length_ffffffff", &core.finish(false), &[&line]);
    let most = (seg.end - array.address) / 8 + 16;
    let lines = run.stdout.lines().count() as u64;
    eprintln!("array_length_ffffffff: {lines} lines (at most {most}), {} bytes", run.stdout_len);
    assert!(!run.timed_out, "still printing after {:?}", run.elapsed);
    assert!(run.stdout_len < KEEP_OUTPUT as u64 && lines <= most, "{lines} lines");
    assert!(run.warned("says it has 4294967295 elements"), "{}", run.stderr);
    assert_eq!(run.code, Some(3));
}

/// One array's length damaged: the walk of its segment stops there, and the answers built
/// on the object graph (`leaks`, `dumpheap -live`) say they are incomplete and exit 3
/// (before: `leaks` said nothing at all, and `-live` exited 0).
#[test]
fn damaged_length_marks_graph_answers_partial() {
    let s = session();
    let heap = &s.heap;
    let (objects, _) = heap.objects();
    let string_mt = heap.runtime.globals.string_mt;
    // An array of references early in the segment with the most objects.
    let seg = heap
        .segments
        .iter()
        .max_by_key(|g| objects.iter().filter(|o| o.address >= g.start && o.address < g.end).count())
        .unwrap();
    let array = objects
        .iter()
        .filter(|o| o.address >= seg.start && o.address < seg.end && o.mt != string_mt)
        .find(|o| heap.method_table(o.mt).is_ok_and(|m| m.component_size == 8))
        .expect("an array of references");
    let mut core = Core::parse(fixture());
    let at = array.address + 8;
    let old = core.read_u64(at);
    core.write_u64(at, (old & !0xffff_ffff) | 0x7fff_ffff);
    let bytes = core.finish(false);
    for command in ["leaks", "dumpheap -live -stat"] {
        let (_, run) = compare("damaged_length_marks_graph_answers_partial", &bytes, &[command]);
        assert!(run.warned("stopped at object"), "{command}: {}", run.stderr);
        assert!(run.stderr.contains("the answer is incomplete"), "{command}: {}", run.stderr);
        assert_eq!(run.code, Some(3), "{command}");
    }
}

/// A reference that points inside an object instead of at its start (a flipped bit in
/// the heap) is left out of the object graph, with a warning (before: silently, and what it
/// kept alive showed as dead).
#[test]
fn reference_to_no_object_is_warned() {
    let s = session();
    let heap = &s.heap;
    let (objects, _) = heap.objects();
    let string_mt = heap.runtime.globals.string_mt;
    let is_object = |a: u64| objects.binary_search_by_key(&a, |o| o.address).is_ok();
    // An object[] with a non-null element (element slots follow the length).
    let (slot, target) = objects
        .iter()
        .filter(|o| o.mt != string_mt && heap.method_table(o.mt).is_ok_and(|m| m.component_size == 8 && m.base_size == 24))
        .find_map(|o| {
            let len = heap.space().read_u32(o.address + 8).ok()? as u64;
            (0..len).find_map(|i| {
                let slot = o.address + 16 + 8 * i;
                let v = heap.space().read_u64(slot).ok()?;
                (v != 0 && is_object(v)).then_some((slot, v))
            })
        })
        .expect("an object[] with an element");
    let mut core = Core::parse(fixture());
    core.write_u64(slot, target + 8);
    let (_, run) = compare("reference_to_no_object_is_warned", &core.finish(false), &["dumpheap -live -stat"]);
    assert!(run.warned("point at no object"), "{}", run.stderr);
    assert_eq!(run.code, Some(3));
}

//! The index on disk (`src/graph/index.rs`): a second session answers from it exactly as a
//! session that computes everything; a damaged, truncated or stale index is noticed,
//! rebuilt and never trusted; no byte flip makes the reader panic.
//!
//! The rest of the suite runs without an index in effect: heaps under a million objects
//! get none (`CLRHEAP_INDEX_MIN_OBJECTS`), and every lab and fixture dump is smaller. Here
//! the threshold is 0 and the cache a temporary `XDG_CACHE_HOME`, so nothing lands in
//! `~/.cache`.
mod common;

use clrheap::graph::index::{IndexDir, Part};
use clrheap::graph::ObjectGraph;
use clrheap::warnings::Warnings;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `clrheap [--no-index] analyze DUMP --dump-only -c CMD` with `cache` as XDG_CACHE_HOME;
/// (stdout, stderr, exit code).
fn run(dump: &Path, cache: &Path, index: bool, command: &str) -> (String, String, i32) {
    run_with(dump, cache, index, command, &[])
}

/// [`run`] with `extra` arguments of `analyze` (such as `--format json`).
fn run_with(dump: &Path, cache: &Path, index: bool, command: &str, extra: &[&str]) -> (String, String, i32) {
    let mut cmd = common::clrheap();
    cmd.env("XDG_CACHE_HOME", cache).env("CLRHEAP_INDEX_MIN_OBJECTS", "0").env_remove("CLRHEAP_NO_INDEX");
    if !index {
        cmd.arg("--no-index");
    }
    cmd.arg("analyze").arg(dump);
    // The committed fixtures hold what clrheap reads; lab dumps use the lab's runtime files.
    if dump.to_string_lossy().ends_with(".zst") {
        cmd.arg("--dump-only");
    }
    cmd.args(extra);
    cmd.arg("-c").arg(command);
    let out = cmd.output().expect("run clrheap");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The one index directory under `cache`.
fn index_dir(cache: &Path) -> PathBuf {
    let root = cache.join("clrheap/index");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one index directory: {dirs:?}");
    dirs.pop().unwrap()
}

/// An object on the live heap, for `gcroot`: the middle one of the live listing.
fn live_object(dump: &Path, cache: &Path) -> String {
    let (out, _, _) = run(dump, cache, false, "dumpheap -live -short");
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no live objects in {}", dump.display());
    lines[lines.len() / 2].trim().to_string()
}

const COMMANDS: [&str; 3] = ["dumpheap -live -stat", "leaks", "retained -top 10"];

/// Every command's answer: without the index, in the session that writes it, in one that
/// reads it, and `gcroot` once more after the edges are in the index.
fn check_same_answers(dump: &Path) {
    let cache = tempfile::tempdir().unwrap();
    let gcroot = format!("gcroot {}", live_object(dump, cache.path()));
    let mut commands: Vec<String> = COMMANDS.iter().map(|c| c.to_string()).collect();
    commands.insert(1, gcroot.clone());
    for c in &commands {
        let off = run(dump, cache.path(), false, c);
        let first = run(dump, cache.path(), true, c);
        let second = run(dump, cache.path(), true, c);
        for (what, got) in [("the session writing the index", &first), ("the session reading it", &second)] {
            assert_eq!(got.0, off.0, "{}: `{c}` in {what} differs from --no-index", dump.display());
            assert_eq!(got.2, off.2, "{}: `{c}` exit status in {what}", dump.display());
            assert!(!got.1.contains("index"), "{}: `{c}` in {what}: unexpected notice: {}", dump.display(), got.1);
        }
    }
    // The first `dumpheap -live` needed no object table and wrote its live set by address
    // (marks.idx); now that the table is indexed, `-live` marks over it and writes the
    // live set (live.idx).
    let live = run(dump, cache.path(), true, COMMANDS[0]);
    assert_eq!(live.0, run(dump, cache.path(), false, COMMANDS[0]).0, "{}: -live over the indexed table", dump.display());
    let dir = index_dir(cache.path());
    for part in ["marks", "objects", "live", "edges", "reverse", "dominators", "findings"] {
        assert!(dir.join(format!("{part}.idx")).is_file(), "{}: no {part}.idx", dump.display());
    }
    // leaks wrote the edges: a first gcroot of a session now searches them.
    let off = run(dump, cache.path(), false, &gcroot);
    assert_eq!(run(dump, cache.path(), true, &gcroot).0, off.0, "{}: gcroot over indexed edges", dump.display());
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

#[test]
fn the_index_answers_like_a_session_that_computes() {
    check_same_answers(&fixture("seed-net10-wks-heap.dmp.zst"));
}

/// The lab dumps of three shapes (regions .NET 10 workstation and server, .NET 8 segments).
#[test]
#[cfg_attr(no_lab, ignore = "needs the lab (../shared/lab)")]
fn the_index_answers_like_a_session_that_computes_on_lab_dumps() {
    let wanted = ["zoo-net10-wks-heap", "seed-net10-svr-heap", "zoo-net8-segments-heap"];
    let dumps: Vec<_> = common::lab_dumps("index").into_iter().filter(|(n, _, _)| wanted.contains(&n.as_str())).collect();
    if common::lab_dir().is_some() {
        assert_eq!(dumps.len(), wanted.len(), "lab dumps {wanted:?}");
    }
    for (_, dump, _) in dumps {
        check_same_answers(&dump);
    }
}

/// Which command reads each part.
fn reader_of(part: &str) -> &'static str {
    match part {
        "objects" | "live" => "dumpheap -live -stat",
        "dominators" => "retained -top 10",
        // edges, reverse (read by leaks once its findings are not in the index), findings
        _ => "leaks",
    }
}

/// Damage every part of the index (truncated, bytes flipped in the header, the section
/// table, the sections): the answer stays the same, a notice says the part is rebuilt,
/// and the rebuilt file is trusted again.
#[test]
fn a_damaged_index_is_rebuilt_never_trusted() {
    let dump = fixture("seed-net10-wks-heap.dmp.zst");
    let cache = tempfile::tempdir().unwrap();
    let want: Vec<(String, (String, String, i32))> = ["dumpheap -live -stat", "leaks", "retained -top 10"]
        .iter()
        .map(|c| (c.to_string(), run(&dump, cache.path(), false, c)))
        .collect();
    run(&dump, cache.path(), true, "leaks");
    run(&dump, cache.path(), true, "dumpheap -live -stat");
    let dir = index_dir(cache.path());
    let findings = dir.join("findings.idx");
    for part in ["objects", "live", "edges", "reverse", "dominators", "findings"] {
        let path = dir.join(format!("{part}.idx"));
        if part == "findings" {
            // Removed while the other parts were damaged: written again.
            run(&dump, cache.path(), true, "leaks");
        }
        let pristine = std::fs::read(&path).unwrap();
        let len = pristine.len();
        let command = reader_of(part);
        let expected = &want.iter().find(|w| w.0 == command).unwrap().1;
        let mut damages: Vec<(String, Vec<u8>)> = Vec::new();
        for cut in [0, 7, 64, 128, 150, len / 2, len - 1] {
            damages.push((format!("cut at {cut}"), pristine[..cut].to_vec()));
        }
        for at in [0, 9, 12, 17, 21, 25, 33, 41, 49, 57, 65, 73, 105, 120, 128, 136, 200, len / 3, len / 2, len - 1].into_iter().filter(|&a| a < len) {
            let mut b = pristine.clone();
            b[at] ^= 0x10;
            damages.push((format!("bit flipped at {at}"), b));
        }
        for (what, bytes) in damages {
            std::fs::write(&path, &bytes).unwrap();
            // leaks answers from its findings when the index holds them: without them it
            // reads the edges and the incoming edges.
            if part != "findings" {
                let _ = std::fs::remove_file(&findings);
            }
            let got = run(&dump, cache.path(), true, command);
            assert_eq!(got.0, expected.0, "{part}.idx {what}: `{command}` answers differently");
            assert_eq!(got.2, expected.2, "{part}.idx {what}: exit status");
            assert!(got.1.contains("rebuilding"), "{part}.idx {what}: no notice: {:?}", got.1);
            // Rebuilt (possibly by an earlier part's rebuild): trusted again, silently.
            let again = run(&dump, cache.path(), true, command);
            assert_eq!(again.0, expected.0);
            assert!(!again.1.contains("rebuilding"), "{part}.idx {what}: rebuilt file not trusted: {:?}", again.1);
            std::fs::write(&path, &pristine).unwrap();
        }
    }
}

/// `leaks`'s findings are kept in the index, per `-top`: text and JSON, with and
/// without `-chain`, are the same without the index, in the session that writes the
/// findings and in one that reads them; another `-top` computes (and keeps) its own.
#[test]
fn leaks_answers_from_its_indexed_findings_like_a_session_that_computes() {
    let dump = fixture("seed-net10-wks-heap.dmp.zst");
    let cache = tempfile::tempdir().unwrap();
    for command in ["leaks", "leaks -chain", "leaks -top 2", "leaks -top 2 -chain", "leaks"] {
        for format in ["text", "json"] {
            let c = format!("{command} (--format {format})");
            let extra = ["--format", format];
            let off = run_with(&dump, cache.path(), false, command, &extra);
            assert_eq!(off.2, 0, "`{c}`: {}", off.1);
            assert!(off.0.len() > 100, "`{c}`: {}", off.0);
            for session in ["first", "second"] {
                let got = run_with(&dump, cache.path(), true, command, &extra);
                assert_eq!(got.0, off.0, "`{c}` in the {session} session differs from --no-index");
                assert_eq!(got.1, off.1, "`{c}` in the {session} session: standard error differs");
            }
        }
    }
    let findings = index_dir(cache.path()).join("findings.idx");
    assert!(findings.is_file(), "no findings.idx");
    // The file holds the last -top asked; a different -top is computed again, silently.
    let off = run(&dump, cache.path(), false, "leaks -top 3");
    let got = run(&dump, cache.path(), true, "leaks -top 3");
    assert_eq!(got.0, off.0);
    assert!(!got.1.contains("index"), "{:?}", got.1);
    // Findings made with the files the dump maps are not those of a --dump-only session.
    let dump = common::lab_dumps("index").into_iter().find(|(n, _, _)| n == "seed-net10-wks-heap").map(|(_, d, _)| d);
    if let Some(dump) = dump {
        let off = run_with(&dump, cache.path(), false, "leaks", &["--dump-only"]);
        run(&dump, cache.path(), true, "leaks");
        assert_eq!(run_with(&dump, cache.path(), true, "leaks", &["--dump-only"]).0, off.0, "--dump-only after a session with files");
    }
}

/// The live set by address (`marks.idx`, written by a first `dumpheap -live` that needed
/// no object table), damaged: the answer stays the same, a notice says it is rebuilt, and
/// the rebuilt file is trusted again.
#[test]
fn a_damaged_live_set_by_address_is_rebuilt_never_trusted() {
    let dump = fixture("seed-net10-wks-heap.dmp.zst");
    let cache = tempfile::tempdir().unwrap();
    let command = "dumpheap -live -stat";
    let want = run(&dump, cache.path(), false, command);
    let first = run(&dump, cache.path(), true, command);
    assert_eq!(first.0, want.0);
    let path = index_dir(cache.path()).join("marks.idx");
    let pristine = std::fs::read(&path).unwrap();
    let len = pristine.len();
    let second = run(&dump, cache.path(), true, command);
    assert_eq!((&second.0, second.2), (&want.0, want.2), "read from marks.idx");
    assert!(!second.1.contains("index"), "unexpected notice: {:?}", second.1);
    let mut damages: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in [0, 7, 64, 128, 150, len / 2, len - 1] {
        damages.push((format!("cut at {cut}"), pristine[..cut].to_vec()));
    }
    for at in [0, 9, 12, 17, 21, 25, 33, 41, 49, 57, 65, 73, 105, 120, 128, 136, 200, len / 3, len / 2, len - 1].into_iter().filter(|&a| a < len) {
        let mut b = pristine.clone();
        b[at] ^= 0x10;
        damages.push((format!("bit flipped at {at}"), b));
    }
    for (what, bytes) in damages {
        std::fs::write(&path, &bytes).unwrap();
        let got = run(&dump, cache.path(), true, command);
        assert_eq!(got.0, want.0, "marks.idx {what}: answers differently");
        assert_eq!(got.2, want.2, "marks.idx {what}: exit status");
        assert!(got.1.contains("rebuilding"), "marks.idx {what}: no notice: {:?}", got.1);
        let again = run(&dump, cache.path(), true, command);
        assert_eq!(again.0, want.0);
        assert!(!again.1.contains("rebuilding"), "marks.idx {what}: rebuilt file not trusted: {:?}", again.1);
    }
}

/// `marks.idx` holds the live objects per type only when the session that wrote it
/// counted them (`dumpheap -live -stat`); written by a `-live` listing, a later session's
/// `-live -stat` walks the heap instead, and both give the answer of a session without
/// the index.
#[test]
fn live_statistics_from_marks_written_with_and_without_counts() {
    let dump = fixture("seed-net10-wks-heap.dmp.zst");
    let want = run(&dump, tempfile::tempdir().unwrap().path(), false, "dumpheap -live -stat");
    let counted = tempfile::tempdir().unwrap();
    run(&dump, counted.path(), true, "dumpheap -live -stat");
    let listed = tempfile::tempdir().unwrap();
    run(&dump, listed.path(), true, "dumpheap -live -short");
    let size = |c: &tempfile::TempDir| std::fs::metadata(index_dir(c.path()).join("marks.idx")).unwrap().len();
    assert!(size(&counted) > size(&listed), "the counts are not in marks.idx");
    for cache in [&counted, &listed] {
        let got = run(&dump, cache.path(), true, "dumpheap -live -stat");
        assert_eq!((&got.0, got.2), (&want.0, want.2));
        assert!(!got.1.contains("index"), "unexpected notice: {:?}", got.1);
    }
}

/// A changed dump makes its index stale: noticed, rebuilt.
#[test]
fn an_index_of_another_dump_is_stale() {
    let cache = tempfile::tempdir().unwrap();
    let dump_dir = tempfile::tempdir().unwrap();
    let dump = dump_dir.path().join("seed.dmp.zst");
    std::fs::copy(fixture("seed-net10-wks-heap.dmp.zst"), &dump).unwrap();
    let want = run(&dump, cache.path(), false, "dumpheap -live -stat");
    // `leaks` writes the object table (a first `-live` needs none and writes nothing).
    run(&dump, cache.path(), true, "leaks");
    // The same path, another dump.
    std::fs::copy(fixture("zoo-net8-wks-heap.dmp.zst"), &dump).unwrap();
    let want_zoo = run(&dump, cache.path(), false, "dumpheap -live -stat");
    assert_ne!(want.0, want_zoo.0);
    let got = run(&dump, cache.path(), true, "dumpheap -live -stat");
    assert_eq!(got.0, want_zoo.0);
    assert!(got.1.contains("stale"), "no notice: {:?}", got.1);
    assert!(!run(&dump, cache.path(), true, "dumpheap -live -stat").1.contains("stale"));
}

/// `--no-index` and `CLRHEAP_NO_INDEX` write nothing.
#[test]
fn the_index_can_be_turned_off() {
    let dump = fixture("seed-net10-wks-heap.dmp.zst");
    let cache = tempfile::tempdir().unwrap();
    run(&dump, cache.path(), false, "leaks");
    let mut cmd = common::clrheap();
    cmd.env("XDG_CACHE_HOME", cache.path()).env("CLRHEAP_INDEX_MIN_OBJECTS", "0").env("CLRHEAP_NO_INDEX", "1");
    let out = cmd.arg("analyze").arg(&dump).arg("--dump-only").args(["-c", "leaks"]).output().unwrap();
    assert!(out.status.success());
    assert!(!cache.path().join("clrheap").exists(), "an index was written");
}

/// Every byte of the object table's header and section table flipped, and bytes all
/// through it: the reader refuses the file (no panic), in process.
#[test]
fn no_byte_flip_is_trusted_or_panics() {
    let dump = fixture("seed-net10-wks-heap.dmp.zst");
    let cache = tempfile::tempdir().unwrap();
    run(&dump, cache.path(), true, "leaks");
    let session = clrheap::Session::open(&dump, &clrheap::dump::DumpOptions { dump_only: true, ..Default::default() }).unwrap();
    let root = cache.path().join("clrheap/index");
    let dir = IndexDir::in_cache(&root, &dump, Arc::new(Warnings::new())).expect("index dir");
    let path = dir.path().join("objects.idx");
    let pristine = std::fs::read(&path).unwrap();
    let file = dir.open(Part::Objects, 0).expect("the written index is trusted");
    let graph = ObjectGraph::from_index(&file, &session.heap).unwrap();
    assert_eq!(graph.len() as u64, file.objects());
    drop((graph, file));
    let step = (pristine.len() / 1500).max(1);
    let positions: Vec<usize> = (0..pristine.len().min(512)).chain((512..pristine.len()).step_by(step)).collect();
    for at in positions {
        for bit in [0x01u8, 0x80] {
            let mut b = pristine.clone();
            b[at] ^= bit;
            std::fs::write(&path, &b).unwrap();
            assert!(dir.open(Part::Objects, 0).is_none(), "a flip at {at} was trusted");
        }
    }
    for cut in (0..pristine.len()).step_by(step) {
        std::fs::write(&path, &pristine[..cut]).unwrap();
        assert!(dir.open(Part::Objects, 0).is_none(), "a cut at {cut} was trusted");
    }
}

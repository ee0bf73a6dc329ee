//! `clrheap pack`: a packed lab heap dump answers as the original does on a machine
//! without the runtime's files: with `--dump-only` (no file is read at all) and with the
//! lab's runtime and app folders hidden (a private mount namespace with empty folders
//! over them, when `unshare -m` is allowed, as for root in CI).
mod common;

use std::path::Path;
use std::process::{Command, Output};

/// Commands whose answers need module files: type names (metadata), the runtime's
/// globals (libcoreclr.so), stack roots (ReadyToRun tables and GC info).
const COMMANDS: [&str; 4] = ["dumpheap -stat", "eeheap -gc", "gchandles -stat", "dumpheap -live -stat"];

fn analyze(dump: &Path, extra: &[&str]) -> Output {
    let mut cmd = common::clrheap();
    cmd.arg("analyze").arg(dump).args(extra);
    for c in COMMANDS {
        cmd.args(["-c", c]);
    }
    cmd.output().expect("run clrheap")
}

/// Runs analyze in a private mount namespace where the lab's `dotnet/` and `scenarios/`
/// folders are empty; `None` when this machine does not allow it.
fn analyze_hidden(lab: &Path, dump: &Path) -> Option<Output> {
    let allowed = Command::new("unshare").args(["-m", "true"]).status().is_ok_and(|s| s.success());
    if !allowed {
        return None;
    }
    let mut script = String::new();
    for folder in ["dotnet", "scenarios"] {
        script.push_str(&format!("mount -t tmpfs none '{}' && ", lab.join(folder).display()));
    }
    script.push_str("exec \"$@\"");
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", &script, "sh", env!("CARGO_BIN_EXE_clrheap"), "analyze"]).arg(dump);
    for c in COMMANDS {
        cmd.args(["-c", c]);
    }
    Some(cmd.output().expect("run unshare"))
}

fn text(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Packs one lab dump and checks the packed one, alone, against the original.
fn check_packed(lab: &Path, name: &str) {
    let dump = lab.join(format!("dumps/{name}.dmp"));
    let dir = tempfile::tempdir().unwrap();
    let packed = dir.path().join(format!("{name}.packed.zst"));
    let out = common::clrheap()
        .arg("pack")
        .arg(&dump)
        .arg("-o")
        .arg(&packed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{name}: pack: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}\n", packed.display()));
    // The lab's scenarios.dll was rebuilt after its older dumps were made: clrheap refuses
    // it for them (not the file the process mapped), which is the one warning allowed.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let unexpected: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning") && !(l.contains("/scenarios.dll was not read: it has PE timestamp")))
        .collect();
    assert!(unexpected.is_empty(), "{name}: {stderr}");

    let want = text(&analyze(&dump, &[]), &format!("{name}: analyze"));
    // The original needs the files: alone it cannot even find the runtime.
    let lost = analyze(&dump, &["--dump-only"]);
    assert_eq!(lost.status.code(), Some(1), "{name}: the heap dump alone");
    let alone = text(&analyze(&packed, &["--dump-only"]), &format!("{name}: the packed dump with --dump-only"));
    assert_eq!(alone, want, "{name}: the packed dump alone answers differently");
    if let Some(hidden) = analyze_hidden(lab, &packed) {
        assert_eq!(text(&hidden, &format!("{name}: hidden folders")), want, "{name}: with the runtime hidden");
    } else {
        eprintln!("{name}: unshare -m is not allowed here: checked with --dump-only only");
    }
    // And dumpheap -stat is dotnet-dump's.
    let truth = dump.with_file_name(format!("{name}.truth/sos/dumpheap-stat.txt"));
    if truth.exists() {
        let stat = common::run_command(&packed, "dumpheap -stat");
        let expected = common::without_progress(&std::fs::read_to_string(&truth).unwrap());
        if let Err(e) = common::compare_sos_text(&stat, &expected) {
            panic!("{name}: packed dumpheap -stat: {e}");
        }
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn packed_heap_dumps_open_without_the_runtime() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("packed_heap_dumps_open_without_the_runtime: skipped: the lab is not unpacked");
        return;
    };
    for name in ["zoo-net8-wks-heap", "seed-net10-wks-heap"] {
        check_packed(&lab, name);
    }
}

/// Every heap dump of the lab (slow: about 5 s a dump): `cargo test --release --test pack
/// -- --ignored`.
#[test]
#[ignore]
fn every_lab_heap_dump_packs() {
    let Some(lab) = common::lab_dir() else {
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(lab.join("dumps"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".dmp").map(String::from))
        .filter(|n| n.ends_with("-heap"))
        .collect();
    names.sort();
    for name in names {
        eprintln!("packing {name}");
        check_packed(&lab, &name);
    }
}

/// A dump whose runtime is not on this machine cannot be packed: one line says what to
/// pass; with `--module-path` naming a folder above the runtime it packs.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn packing_needs_the_runtime_file() {
    let Some(lab) = common::lab_dir() else {
        return;
    };
    let mut bytes = std::fs::read(lab.join("dumps/zoo-net9-wks-heap.dmp")).unwrap();
    // Move every recorded path (in NT_FILE, which comes before the memory) to /Zoot/...
    let from = lab.to_str().unwrap().as_bytes().to_vec();
    let mut to = from.clone();
    to[1] = b'Z';
    let notes_end = bytes.len().min(1 << 20);
    let hits: Vec<usize> = memchr::memmem::find_iter(&bytes[..notes_end], &from).collect();
    assert!(hits.len() > 10);
    for at in hits {
        bytes[at..at + to.len()].copy_from_slice(&to);
    }
    let dir = tempfile::tempdir().unwrap();
    let moved = dir.path().join("moved.dmp");
    std::fs::write(&moved, &bytes).unwrap();
    let pack = |extra: &[&str]| {
        common::clrheap()
            .arg("pack")
            .arg(&moved)
            .args(extra)
            .env_remove("CLRHEAP_MODULE_PATH")
            .output()
            .unwrap()
    };
    let out = pack(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("clrheap: cannot pack {}: /Zoot/", moved.display())), "{err}");
    assert!(err.contains("--module-path <folder holding Microsoft.NETCore.App/9.0.22>"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!dir.path().join("moved.dmp.packed.zst").exists());

    let out = pack(&["--module-path", lab.join("dotnet").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let packed = dir.path().join("moved.dmp.packed.zst");
    let want = common::run_command(&lab.join("dumps/zoo-net9-wks-heap.dmp"), "dumpheap -stat");
    let alone = text(&analyze_one(&packed, "dumpheap -stat"), "the packed moved dump");
    assert_eq!(alone, want);
}

fn analyze_one(dump: &Path, command: &str) -> Output {
    common::clrheap()
        .arg("analyze")
        .arg(dump)
        .args(["--dump-only", "-c", command])
        .output()
        .unwrap()
}

//! `syncblk` against the real dotnet-dump: `tests/expected/syncblk/DUMP/` holds its output
//! for `syncblk`, `syncblk -all`, `syncblk 1`, `syncblk 2` and `syncblk 99` on every lab
//! dump (captured with `lab/bin/sos`; the file name is the command, `_` for spaces), and
//! `tests/expected/syncblk-extra/DUMP/` its `syncblk -all` on the dumps of
//! `/work/fresh-dumps` (checked when `CLRHEAP_EXTRA_DUMPS` names that directory).
mod common;

use std::path::{Path, PathBuf};

fn expected_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected").join(sub)
}

/// (dump name, command, expected text) of every file under `dir/DUMP/`.
fn expected(dir: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = d.file_name().to_string_lossy().to_string();
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let path = f.path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
            out.push((name.clone(), stem.replace('_', " "), std::fs::read_to_string(&path).unwrap()));
        }
    }
    out.sort();
    out
}

fn check(dump: &Path, command: &str, want: &str, failures: &mut Vec<String>) {
    let out = common::analyze(dump, &[command]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || ours != want {
        failures.push(format!("{}: {command}:\n{ours}{stderr}want:\n{want}", dump.display()));
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn syncblk_matches_dotnet_dump() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("syncblk_matches_dotnet_dump: the lab is not unpacked: skipped");
        return;
    };
    let mut failures = Vec::new();
    let cases = expected(&expected_dir("syncblk"));
    for (name, command, want) in &cases {
        let dump = lab.join("dumps").join(format!("{name}.dmp"));
        assert!(dump.exists(), "{} is missing", dump.display());
        check(&dump, command, want, &mut failures);
    }
    assert!(cases.len() >= 50, "only {} expected outputs", cases.len());
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn syncblk_matches_dotnet_dump_on_fresh_dumps() {
    let dirs: Vec<PathBuf> = std::env::var_os("CLRHEAP_EXTRA_DUMPS")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    let Some(fresh) = dirs.iter().find(|d| d.file_name().is_some_and(|n| n == "fresh-dumps")) else {
        return;
    };
    let mut failures = Vec::new();
    let cases = expected(&expected_dir("syncblk-extra"));
    let mut checked = 0;
    for (name, command, want) in &cases {
        let dump = fresh.join(format!("{name}.dmp"));
        if dump.exists() {
            check(&dump, command, want, &mut failures);
            checked += 1;
        }
    }
    eprintln!("syncblk: {checked} fresh dumps checked");
    assert!(failures.is_empty(), "{} of {checked} differ:\n{}", failures.len(), failures.join("\n"));
}

/// Arguments as SOS reads them; nothing panics.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn syncblk_arguments() {
    let Some(lab) = common::lab_dir() else { return };
    let dump = lab.join("dumps/zoo-net10-wks-heap.dmp");
    let run = |cmd: &str| common::analyze(&dump, &[cmd]);
    for (cmd, err) in [("syncblk 3 4", "Incorrect argument: 4"), ("syncblk -x", "Unknown option: -x")] {
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(err), "{cmd}");
    }
    let default = run("syncblk");
    for same in ["syncblk 0x2", "syncblk foo", "syncblk 0"] {
        assert_eq!(run(same).stdout, default.stdout, "{same}");
    }
    assert_eq!(run("syncblk -ALL").stdout, run("syncblk -all").stdout);
    assert_eq!(run("syncblk 02").stdout, run("syncblk 2").stdout);
    for cmd in ["syncblk 99999999999999999999999", "syncblk 4294967297", "syncblk -all 1"] {
        let out = run(cmd);
        assert!(out.status.success(), "{cmd}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{cmd}");
    }
}

/// The 9/10 contract descriptors agree with the sync table facts in `layouts.rs`.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn sync_table_agrees_with_the_descriptor() {
    use clrheap::Session;
    use clrheap::dump::DumpOptions;
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let checks = common::Checks::new();
    for (name, dump, _) in common::lab_dumps("sync_table_agrees_with_the_descriptor") {
        checks.run(&name, "sync-descriptor", || {
            let session = Session::open(&dump, &DumpOptions::default()).map_err(|e| format!("open: {e:#}"))?;
            let rt = &session.heap.runtime;
            // .NET 8 has no descriptor: nothing to agree with.
            let Some(d) = &rt.descriptor else { return Ok(()) };
            let var = rt.dac_global(rt.layout.dac.sync_table).unwrap();
            let global = d.global("SyncTableEntries").expect("SyncTableEntries");
            assert!(global == var || global == rt.globals.sync_table, "{name}: SyncTableEntries {global:x}");
            assert_eq!(d.field("SyncTableEntry", "SyncBlock"), Some(0), "{name}");
            checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        });
    }
    checks.finish("sync_table_agrees_with_the_descriptor");
    let checked = checked.into_inner();
    if common::lab_dir().is_some() {
        assert!(checked >= 5, "only {checked} dumps with a descriptor");
    }
}

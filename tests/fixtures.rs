//! The committed fixtures (`fixtures/*.dmp.zst`): real dumps of .NET 8, 9 and 10, cut down
//! to the pages clrheap reads, checked against what the real dotnet-dump printed for the
//! whole dumps. These run on a fresh clone, without the lab.
//!
//! `NAME.expected/*.txt` are dotnet-dump's outputs. Where dotnet-dump is wrong on a dump
//! (see README, "Where clrheap and dotnet-dump disagree"), `NAME.expected/clrheap/FILE`
//! holds what clrheap prints instead, and `NAME.expected/clrheap/WHY` says why.
mod common;

use clrheap::Session;
use clrheap::dump::DumpOptions;
use common::{command_for, compare_sos_text, without_progress};
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".dmp.zst")?.to_string();
            // Only fixtures with expected outputs (the mini dump is for the error tests).
            e.path().with_file_name(format!("{name}.expected")).is_dir().then_some((name, e.path()))
        })
        .collect();
    found.sort();
    assert!(found.len() >= 5, "the fixtures are missing");
    found
}

/// Every expected text of every fixture, compared whole with clrheap's output, reading
/// only what the fixture holds.
#[test]
fn fixtures_match_dotnet_dump() {
    let mut failures = Vec::new();
    for (name, path) in fixtures() {
        let options = DumpOptions {
            dump_only: true,
            ..Default::default()
        };
        let session = Session::open(&path, &options).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let expected = path.with_file_name(format!("{name}.expected"));
        let mut checked = 0;
        for entry in std::fs::read_dir(&expected).expect("expected/").flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            let Some(command) = command_for(&file) else {
                continue;
            };
            let mut out = Vec::new();
            if let Err(e) = session.execute(&command, &mut out) {
                // dumpobj reports SOS's own errors in its output, then fails.
                if !command.starts_with("dumpobj") {
                    failures.push(format!("{name}: {command}: {e:#}"));
                    continue;
                }
            }
            let ours = String::from_utf8_lossy(&out).to_string();
            let override_file = expected.join("clrheap").join(&file);
            let result = if override_file.exists() {
                let want = std::fs::read_to_string(&override_file).unwrap();
                (ours == want).then_some(()).ok_or_else(|| "differs from clrheap/".to_string() + &file)
            } else {
                let want = without_progress(&std::fs::read_to_string(entry.path()).unwrap());
                compare_sos_text(&ours, &want)
            };
            if let Err(e) = result {
                failures.push(format!("{name}: {command}: {e}"));
            }
            checked += 1;
        }
        assert!(checked >= 10, "{name}: too few expected outputs ({checked})");
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// Every override is explained.
#[test]
fn overrides_are_explained() {
    for (name, path) in fixtures() {
        let dir = path.with_file_name(format!("{name}.expected")).join("clrheap");
        if dir.is_dir() {
            let why = std::fs::read_to_string(dir.join("WHY")).unwrap_or_default();
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let file = entry.file_name().to_string_lossy().to_string();
                if file != "WHY" {
                    assert!(why.contains(&file), "{name}: clrheap/{file} is not explained in WHY");
                }
            }
        }
    }
}

/// The binary opens a compressed dump directly.
#[test]
fn binary_reads_a_compressed_fixture() {
    let (name, path) = fixtures().remove(0);
    let out = common::analyze(&path, &["dumpheap -stat"]);
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Statistics:\n"), "{text}");
    assert!(text.lines().last().unwrap().starts_with("Total "), "{text}");
}

//! The committed fixtures (`fixtures/*.dmp.zst`): real heap dumps of .NET 8, 9 and 10
//! made self-contained, checked against what the real dotnet-dump printed for them.
//! These run on a fresh clone, without the lab.
mod common;

use clrheap::commands::Session;
use clrheap::dump::DumpOptions;
use common::compare_sos_text;
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".dmp.zst")?.to_string();
            Some((name, e.path()))
        })
        .collect();
    found.sort();
    assert!(found.len() >= 3, "the fixtures are missing");
    found
}

/// Every expected text of every fixture, compared whole with clrheap's output, reading
/// only what the dump holds.
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
            let command = match file.as_str() {
                "dumpheap-stat.txt" => "dumpheap -stat".to_string(),
                "dumpheap-stat-bycount.txt" => "dumpheap -stat -bycount".to_string(),
                "eeheap-gc.txt" => "eeheap -gc".to_string(),
                f => {
                    let arg = |prefix: &str| f.strip_prefix(prefix).and_then(|f| f.strip_suffix(".txt"));
                    match (arg("dumpheap-mt-"), arg("dumpgen-")) {
                        (Some(mt), _) => format!("dumpheap -mt {mt}"),
                        (_, Some(generation)) => format!("dumpgen {generation}"),
                        _ => continue,
                    }
                }
            };
            let mut out = Vec::new();
            if let Err(e) = session.execute(&command, &mut out) {
                failures.push(format!("{name}: {command}: {e:#}"));
                continue;
            }
            let want = std::fs::read_to_string(entry.path()).unwrap();
            if let Err(e) = compare_sos_text(&String::from_utf8_lossy(&out), &want) {
                failures.push(format!("{name}: {command}: {e}"));
            }
            checked += 1;
        }
        assert!(checked >= 3, "{name}: too few expected outputs");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

//! `clrheap diff`: the seed service before and after 2,000 more documents and 600 more
//! requests (two real .NET 9 dumps, cut down to the pages clrheap reads).
use std::path::{Path, PathBuf};
mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/diff").join(name)
}

fn diff(args: &[&str]) -> String {
    let out = common::clrheap()
        .arg("diff")
        .arg(fixture("seed-net9-small.dmp.zst"))
        .arg(fixture("seed-net9-large.dmp.zst"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn change(json: &serde_json::Value, name: &str) -> i64 {
    json["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == name)
        .unwrap_or_else(|| panic!("{name} changed"))["count_change"]
        .as_i64()
        .unwrap()
}

#[test]
fn diff_finds_the_growth() {
    let json: serde_json::Value = serde_json::from_str(&diff(&["--live", "--top", "0", "--format", "json"])).unwrap();
    assert_eq!(change(&json, "DocProc.Infrastructure.Cache.DocumentCacheEntry"), 2000);
    assert_eq!(change(&json, "DocProc.Api.Middleware.RequestTracingMiddleware"), 600);
    // Every type's change is after - before, and the totals add up.
    let types = json["types"].as_array().unwrap();
    let mut bytes = 0i64;
    for t in types {
        let g = |k: &str| t[k].as_i64().unwrap();
        assert_eq!(g("count_change"), g("count_after") - g("count_before"));
        assert_eq!(g("size_change"), g("size_after") - g("size_before"));
        bytes += g("size_change");
    }
    let g = |k: &str| json[k].as_i64().unwrap();
    assert_eq!(bytes, g("bytes_after") - g("bytes_before"));
    // Biggest growth first.
    let sizes: Vec<i64> = types.iter().map(|t| t["size_change"].as_i64().unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]));

    let text = diff(&["--live", "--top", "5"]);
    assert!(text.lines().count() >= 7, "{text}");
    assert!(text.lines().last().unwrap().starts_with("Total: "), "{text}");
}

#[test]
fn a_dump_against_itself_changes_nothing() {
    let out = common::clrheap()
        .arg("diff")
        .arg(fixture("seed-net9-small.dmp.zst"))
        .arg(fixture("seed-net9-small.dmp.zst"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["types"].as_array().unwrap().len(), 0);
    assert_eq!(json["bytes_before"], json["bytes_after"]);
}

/// `diff A B C`: three dumps of the seed service at 1,000, 2,000 and 3,000 requests (and
/// 4,000, 8,000, 12,000 documents; `make-dump --runtime 10 --type heap seed --docs 4N
/// --requests N`, cut down to what `leaks` reads): the cache's entries and the leaking
/// middleware rank first, and the owners are the ones `leaks` names.
#[test]
fn diff_over_three_dumps_ranks_the_leaking_types_first() {
    let dumps: Vec<PathBuf> = [1000, 2000, 3000]
        .iter()
        .map(|n| Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/leaks/seed-net10-r{n}.dmp.zst")))
        .collect();
    let out = common::clrheap().arg("diff").args(&dumps).args(["--format", "json", "--top", "0"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let types = json["types"].as_array().unwrap();
    assert_eq!(types[0]["type"], "DocProc.Infrastructure.Cache.DocumentCacheEntry");
    assert_eq!(types[0]["counts"], serde_json::json!([4000, 8000, 12000]));
    assert_eq!(types[1]["type"], "DocProc.Api.Middleware.RequestTracingMiddleware");
    assert_eq!(types[1]["counts"], serde_json::json!([1000, 2000, 3000]));
    // Every type listed grows at every step.
    for t in types {
        let c: Vec<u64> = t["counts"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert!(c.windows(2).all(|w| w[1] > w[0]), "{t}");
    }
    let owners = json["owners"].as_array().unwrap();
    assert_eq!(owners[0]["owner_key"], "DocProc.Infrastructure.Cache.DocumentCache._entries");
    assert_eq!(owners[0]["owner"], "DocumentCache._entries (static, ConcurrentDictionary<String, DocumentCacheEntry>, 12,000 entries)");
    assert_eq!(owners[1]["owner"], "DocumentEventBus.DocumentProcessed (event, EventHandler<DocumentProcessedEvent>)");

    let text = common::clrheap().arg("diff").args(&dumps).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("  1. DocumentCache._entries (static, ConcurrentDictionary<String, DocumentCacheEntry>, 12,000 entries): "), "{text}");
    assert!(text.contains("|   4,000 -> 8,000 -> 12,000 |"), "{text}");
}

#[test]
fn unrelated_dumps_are_warned_about() {
    // A .NET 9 seed against a .NET 8 zoo: the table still prints, with one warning first.
    let zoo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zoo-net8-wks-heap.dmp.zst");
    let out = common::clrheap()
        .arg("diff")
        .arg(fixture("seed-net9-small.dmp.zst"))
        .arg(&zoo)
        .args(["--top", "3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("warning: ") && stderr.contains("do not look like two dumps of one application"), "{stderr}");
    assert!(stderr.contains("different runtimes: .NET 9.0.") && stderr.contains(" and .NET 8.0.33"), "{stderr}");
    // Two dumps of one process: no warning.
    let out = common::clrheap()
        .arg("diff")
        .arg(fixture("seed-net9-small.dmp.zst"))
        .arg(fixture("seed-net9-large.dmp.zst"))
        .output()
        .unwrap();
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_missing_dump_is_named_once() {
    let out = common::clrheap().args(["diff", "/nonexistent/a.dmp"]).arg(fixture("seed-net9-small.dmp.zst")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "clrheap: cannot read /nonexistent/a.dmp: No such file or directory (os error 2)\n"
    );
}

#[test]
fn long_type_names_do_not_pad_every_row() {
    // As dotnet-dump prints tables: numbers right-aligned, the type name last and
    // unpadded, so one long generic name does not widen every row past the terminal.
    let text = diff(&["--top", "0"]);
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with("Total")).collect();
    assert!(rows[0].trim_start().starts_with("Count") && rows[0].ends_with(" Type"), "{text}");
    assert!(rows.iter().all(|l| !l.ends_with(' ') && !l.contains('|')), "{text}");
    let longest = rows.iter().map(|l| l.len()).max().unwrap();
    let short = rows.iter().find(|l| l.ends_with(" System.String")).expect("System.String changed");
    assert!(short.len() + 40 < longest, "short rows stay short:\n{text}");
}

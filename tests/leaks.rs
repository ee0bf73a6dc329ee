//! `leaks` (clrheap's own) finds the seed service's two leaks on .NET 8 (segments GC) and
//! .NET 10, and on the lab's linux-arm64 .NET 10 dump: the document cache that never
//! evicts, and the event bus whose handler list keeps every request's middleware alive —
//! each with the static field it hangs from.
mod common;

use clrheap::render::Format;
use clrheap::Session;
use clrheap::dump::DumpOptions;
use std::path::{Path, PathBuf};

#[test]
fn leaks_finds_the_seed_leaks() {
    let mut dumps: Vec<PathBuf> = ["seed-net10-wks-heap.dmp.zst", "seed-net8-segments-heap.dmp.zst"]
        .iter()
        .map(|f| Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(f))
        .collect();
    match common::lab_dir().map(|l| l.join("dumps/seed-arm64-wks-full.dmp")) {
        Some(arm64) if arm64.exists() => dumps.push(arm64),
        _ => eprintln!("leaks_finds_the_seed_leaks: no lab seed-arm64-wks-full: the arm64 dump is skipped"),
    }
    for path in &dumps {
        let fixture = path.file_name().unwrap().to_string_lossy();
        let s = Session::open(path, &DumpOptions { dump_only: true, ..Default::default() }).unwrap();
        let mut out = Vec::new();
        s.execute_as("leaks", Format::Json, &mut out).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let suspects = json["suspects"].as_array().unwrap();
        let find = |field: &str| {
            suspects
                .iter()
                .find(|s| s["root"]["path"].as_array().unwrap().iter().any(|p| p["static_field"] == field))
                .unwrap_or_else(|| panic!("{fixture}: no suspect held by {field}"))
        };
        let count = |s: &serde_json::Value, t: &str| {
            s["contents"].as_array().unwrap().iter().find(|c| c["type"] == t).map_or(0, |c| c["count"].as_u64().unwrap())
        };
        let cache = find("DocProc.Infrastructure.Cache.DocumentCache._entries");
        assert_eq!(count(cache, "DocProc.Infrastructure.Cache.DocumentCacheEntry"), 20_000, "{fixture}");
        let bus = find("DocProc.Infrastructure.Events.DocumentEventBus.Instance");
        assert_eq!(count(bus, "DocProc.Api.Middleware.RequestTracingMiddleware"), 5_000, "{fixture}");
        // The cache is the biggest suspect, and nothing is reported twice.
        assert_eq!(suspects[0]["address"], cache["address"], "{fixture}");
        let mut addrs: Vec<&str> = suspects.iter().map(|s| s["address"].as_str().unwrap()).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), suspects.len());

        let mut text = Vec::new();
        s.execute("leaks", &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("held by the static field DocProc.Infrastructure.Cache.DocumentCache._entries"), "{text}");
        assert!(text.contains("5,000 x DocProc.Api.Middleware.RequestTracingMiddleware"), "{text}");
    }
}

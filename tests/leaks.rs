//! `leaks` (clrheap's own): one line per cause naming its owner and pattern, before any
//! chain; patterns found without dominators (an event's subscriptions held from two
//! places, the f-reachable queue behind a blocked finalizer); duplicate strings counted
//! exactly.
mod common;

use clrheap::Session;
use clrheap::dump::DumpOptions;
use clrheap::render::Format;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Fixtures hold every page they need; lab dumps read the lab's runtime files.
fn open(path: &Path) -> Session {
    let dump_only = path.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
    Session::open(
        path,
        &DumpOptions {
            dump_only,
            ..Default::default()
        },
    )
    .unwrap()
}

fn run(s: &Session, cmd: &str, format: Format) -> String {
    let mut out = Vec::new();
    s.execute_as(cmd, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The seed's two causes, first, each in one line (the wording), on the fixtures
/// and on every lab seed dump (8, 9, 10; workstation, server, segments; arm64).
#[test]
fn leaks_names_the_seed_owners_first() {
    let mut dumps: Vec<PathBuf> = vec![
        fixture("seed-net10-wks-heap.dmp.zst"),
        fixture("seed-net8-segments-heap.dmp.zst"),
    ];
    if let Some(lab) = common::lab_dir() {
        for n in [
            "seed-net8-wks-heap",
            "seed-net9-wks-heap",
            "seed-net10-wks-heap",
            "seed-net10-svr-heap",
            "seed-net8-segments-heap",
            "seed-net8.0.0-wks-heap",
            "seed-arm64-wks-full",
        ] {
            let p = lab.join("dumps").join(format!("{n}.dmp"));
            if p.exists() {
                dumps.push(p);
            } else {
                eprintln!("leaks: no lab dump {n}: skipped");
            }
        }
    }
    for path in &dumps {
        let name = path.file_name().unwrap().to_string_lossy();
        let s = open(path);
        let text = run(&s, "leaks", Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "Leak suspects, biggest first:", "{name}:\n{text}");
        assert!(
            lines[3].starts_with("  1. DocumentCache._entries (static, ConcurrentDictionary<String, DocumentCacheEntry>, 20,000 entries): ConcurrentDictionary<String, DocumentCacheEntry> grown to 20,000 entries"),
            "{name}:\n{text}"
        );
        assert!(
            lines[4].starts_with("  2. DocumentEventBus.DocumentProcessed (event, EventHandler<DocumentProcessedEvent>): 5,000 RequestTracingMiddleware subscribed and never unsubscribed; keeps "),
            "{name}:\n{text}"
        );
        // No chain before the causes; the chain with -chain.
        assert!(!text.contains("->"), "{name}:\n{text}");
        // The evidence says what its rows are: every object kept alive, by type (the
        // 20,000 entries among them), of which only some hang from it directly.
        let kept = text.lines().find(|l| l.contains("+VolatileNode[] keeps alive ")).expect("the cache's evidence");
        assert!(kept.contains(" objects (") && kept.ends_with(" of them held directly), by type:"), "{name}: {kept}");
        assert!(text.contains(" 20,000 x DocProc.Domain.DocumentMetadata"), "{name}:\n{text}");
        let chained = run(&s, "leaks -chain", Format::Text);
        assert!(chained.contains("rooted through the static field DocProc.Infrastructure.Cache.DocumentCache._entries, from a strong handle:"), "{chained}");
        assert!(chained.contains("-> "), "{chained}");

        let json: serde_json::Value =
            serde_json::from_str(&run(&s, "leaks", Format::Json)).unwrap();
        let suspects = json["suspects"].as_array().unwrap();
        let count = |s: &serde_json::Value, t: &str| {
            s["contents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == t)
                .map_or(0, |c| c["count"].as_u64().unwrap())
        };
        let cache = &suspects[0];
        assert_eq!(
            cache["owner_key"], "DocProc.Infrastructure.Cache.DocumentCache._entries",
            "{name}"
        );
        assert_eq!(
            cache["patterns"],
            serde_json::json!(["unbounded_collection", "accumulation"]),
            "{name}"
        );
        assert_eq!(
            count(cache, "DocProc.Infrastructure.Cache.DocumentCacheEntry"),
            20_000,
            "{name}"
        );
        let path = cache["root"]["path"].as_array().unwrap();
        assert!(path.iter().any(|p| p["static_field"] == "DocProc.Infrastructure.Cache.DocumentCache._entries"), "{name}");
        let bus = &suspects[1];
        assert_eq!(
            bus["owner_key"], "DocProc.Infrastructure.Events.DocumentEventBus.DocumentProcessed",
            "{name}"
        );
        assert_eq!(
            bus["patterns"],
            serde_json::json!(["event_subscriptions", "accumulation"]),
            "{name}"
        );
        assert_eq!(
            count(bus, "DocProc.Api.Middleware.RequestTracingMiddleware"),
            5_000,
            "{name}"
        );
        // Each cause once.
        let mut keys: Vec<&str> = suspects
            .iter()
            .filter_map(|s| s["owner_key"].as_str())
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "{name}");
    }
}

/// A leak held from two places: 4,000 subscriptions in an event's invocation list and in a
/// list of wrappers, hung from two different roots, so that no object dominates them (a
/// dominator-only report finds nothing). Made by scripts/lab/two-place-leak.py under
/// make-py-dump (pythonnet hosting .NET 10.0.12); the fixture is cut to what `leaks` reads.
#[test]
fn a_leak_held_from_two_places_is_reported() {
    let s = open(&fixture("leaks/twoplace-net10.dmp.zst"));
    let text = run(&s, "leaks", Format::Text);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[3].starts_with("  1. Progress<Object>.ProgressChanged (event, EventHandler<Object>): 4,000 Hashtable subscribed and never unsubscribed; keeps "),
        "{text}"
    );
    assert!(text.contains("also held by AppContext.s_dataStore (static, Dictionary<String, Object>, 11 entries) through List<Object>, 4,000 entries"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&run(&s, "leaks", Format::Json)).unwrap();
    let first = &json["suspects"][0];
    // Found by two patterns, reported once.
    assert_eq!(
        first["patterns"],
        serde_json::json!(["event_subscriptions", "unbounded_collection"])
    );
    assert_eq!(json["suspects"].as_array().unwrap().len(), 1, "{json:#}");
    // What they keep: 4,000 Hashtables each with a 2 KB array, and more.
    assert!(
        first["bytes"].as_u64().unwrap() > 4_000 * 2_048,
        "{first:#}"
    );
    // No single object dominates the subscriptions: the largest retained size is small.
    let retained = run(&s, "retained -top 1", Format::Json);
    let retained: serde_json::Value = serde_json::from_str(&retained).unwrap();
    assert!(
        retained["objects"][0]["retained_size"].as_u64().unwrap() < 1_000_000,
        "{retained:#}"
    );
}

/// The zoo's finalizer thread is blocked with f-reachable objects: `leaks` reports them,
/// as many as dotnet-dump's `finalizequeue` says are ready for finalization.
#[test]
fn the_blocked_finalizer_queue_is_reported() {
    let mut n = 0;
    for (name, dump, truth) in common::lab_dumps("leaks") {
        if !name.starts_with("zoo-") {
            continue;
        }
        let Ok(fq) = std::fs::read_to_string(truth.join("sos/finalizequeue.txt")) else {
            panic!("{name}: no sos/finalizequeue.txt in the truth");
        };
        // One line per GC heap (server GC: several).
        let ready: Vec<u64> = fq
            .lines()
            .filter_map(|l| {
                l.strip_prefix("Ready for finalization ")?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        assert!(
            !ready.is_empty(),
            "{name}: no 'Ready for finalization' line"
        );
        let ready: u64 = ready.iter().sum();
        assert!(
            ready > 0,
            "{name}: the zoo's finalizer is blocked with objects queued"
        );
        let s = open(&dump);
        let json: serde_json::Value =
            serde_json::from_str(&run(&s, "leaks", Format::Json)).unwrap();
        let f = json["suspects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["patterns"][0] == "finalizer_queue")
            .unwrap_or_else(|| panic!("{name}: no finalizer queue finding: {json:#}"));
        let total: u64 = f["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum();
        assert_eq!(total, ready, "{name}");
        n += 1;
    }
    eprintln!("leaks: {n} zoo dumps checked");
}

/// Duplicate strings, exactly: every string the oracle (ClrMD) lists in objects.tsv, its
/// text read, grouped; each duplicated text's count must equal clrheap's (all strings,
/// live or not: `leaks` counts live ones, the same code with liveness).
#[test]
fn duplicate_strings_are_counted_exactly() {
    for (name, dump, truth) in common::lab_dumps("leaks") {
        if !(name.starts_with("seed-net10-wks")
            || name.starts_with("zoo-net8-wks")
            || name.starts_with("seed-net8-segments"))
        {
            continue;
        }
        let s = open(&dump);
        let types = std::fs::read_to_string(truth.join("types.tsv")).unwrap();
        let string_mt = types
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.last() == Some(&"System.String")).then(|| f[0].to_string())
            })
            .unwrap();
        let objects = std::fs::read_to_string(truth.join("objects.tsv")).unwrap();
        let mut oracle: HashMap<String, u64> = HashMap::new();
        for l in objects.lines().skip(1) {
            let f: Vec<&str> = l.split('\t').collect();
            if f[1] != string_mt {
                continue;
            }
            let addr = u64::from_str_radix(f[0], 16).unwrap();
            let obj = s.heap.object(clrheap::heap::ObjectAddr(addr)).unwrap();
            let len = obj.string_length().unwrap() as usize;
            *oracle.entry(obj.string(len).unwrap()).or_default() += 1;
        }
        oracle.retain(|_, n| *n > 1);
        let ctx = clrheap::analysis::Context::new(&s).unwrap();
        let ours: HashMap<String, u64> = clrheap::analysis::strings::duplicates(&ctx, false)
            .into_iter()
            .map(|d| (d.text, d.count))
            .collect();
        assert_eq!(ours.len(), oracle.len(), "{name}: duplicated texts");
        for (text, n) in &oracle {
            assert_eq!(ours.get(text), Some(n), "{name}: {text:?}");
        }
        eprintln!(
            "leaks: {name}: {} duplicated texts agree with the oracle's strings",
            oracle.len()
        );
    }
}

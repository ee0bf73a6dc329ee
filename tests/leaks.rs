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

/// The collections `leaks` reads beyond dictionaries and lists, and timers never disposed:
/// one static field of LeakLab.Holders per collection, each with a count of its own, made by
/// scripts/lab/collections-leak.py under make-py-dump (pythonnet hosting .NET 10.0.12; a
/// class emitted with Reflection.Emit). The script's arithmetic gives every count:
/// Queue 2,100 enqueued - 100 dequeued; Stack 2,100 pushed; HashSet 2,300 added - 100
/// removed; ConcurrentQueue 2,400 - 100 (the dequeues empty its first two segments, 32 and
/// 64 slots, and 4 of the third); ConcurrentBag 2,400 added; SortedDictionary 2,500 keys;
/// LinkedList 2,600 added; 1,000 timers due in an hour, never disposed, in a List<Timer>.
#[test]
fn collections_and_timers_are_reported_with_owner_and_count() {
    let s = open(&fixture("leaks/collections-net10.dmp.zst"));
    let text = run(&s, "leaks -top 20", Format::Text);
    let expected = [
        "Holders.Queue (static, Queue<String>, 2,000 entries): Queue<String> grown to 2,000 entries (String items), never emptied; keeps ",
        "Holders.Stack (static, Stack<Int32>, 2,100 entries): Stack<Int32> grown to 2,100 entries (Int32 items), never emptied; keeps ",
        "Holders.Set (static, HashSet<String>, 2,200 entries): HashSet<String> grown to 2,200 entries (String items), never emptied; keeps ",
        "Holders.ConcurrentQueue (static, ConcurrentQueue<Int32>, 2,300 entries): ConcurrentQueue<Int32> grown to 2,300 entries (Int32 items), never emptied; keeps ",
        "Holders.Bag (static, ConcurrentBag<String>, 2,400 entries): ConcurrentBag<String> grown to 2,400 entries (String items), never emptied; keeps ",
        "Holders.Sorted (static, SortedDictionary<Int32, String>, 2,500 entries): SortedDictionary<Int32, String> grown to 2,500 entries (Int32 keys, String values), never emptied; keeps ",
        "Holders.Linked (static, LinkedList<String>, 2,600 entries): LinkedList<String> grown to 2,600 entries (String items), never emptied; keeps ",
        "Holders.Timers (static, List<Timer>, 1,000 entries): 1,000 timers calling GC.KeepAlive still queued (never disposed); keeps ",
    ];
    let rows: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().split_once(". ").map(|(_, r)| r))
        .collect();
    for e in expected {
        assert_eq!(
            rows.iter().filter(|r| r.starts_with(e)).count(),
            1,
            "no one row {e:?} in:\n{text}"
        );
    }

    let json: serde_json::Value =
        serde_json::from_str(&run(&s, "leaks -top 20", Format::Json)).unwrap();
    let suspects = json["suspects"].as_array().unwrap();
    let by_key = |key: &str| {
        let found: Vec<&serde_json::Value> = suspects.iter().filter(|f| f["owner_key"] == key).collect();
        assert_eq!(found.len(), 1, "{key}: {json:#}");
        found[0]
    };
    for (field, ty, count) in [
        ("Queue", "System.Collections.Generic.Queue<System.String>", 2_000),
        ("Stack", "System.Collections.Generic.Stack<System.Int32>", 2_100),
        ("Set", "System.Collections.Generic.HashSet<System.String>", 2_200),
        ("ConcurrentQueue", "System.Collections.Concurrent.ConcurrentQueue<System.Int32>", 2_300),
        ("Bag", "System.Collections.Concurrent.ConcurrentBag<System.String>", 2_400),
        ("Sorted", "System.Collections.Generic.SortedDictionary<System.Int32, System.String>", 2_500),
        ("Linked", "System.Collections.Generic.LinkedList<System.String>", 2_600),
    ] {
        let f = by_key(&format!("LeakLab.Holders.{field}"));
        assert_eq!(f["patterns"][0], "unbounded_collection", "{field}: {f:#}");
        let entries = format!("{} entries", thousands(count));
        assert!(f["owner"].as_str().unwrap().ends_with(&format!("{entries})")), "{field}: {f:#}");
        assert!(f["summary"].as_str().unwrap().contains(&format!("grown to {entries} ")), "{field}: {f:#}");
        // The root chain goes through the static field to the collection.
        let path = f["root"]["path"].as_array().unwrap();
        let i = path
            .iter()
            .position(|p| p["static_field"] == format!("LeakLab.Holders.{field}"))
            .unwrap_or_else(|| panic!("{field}: {f:#}"));
        assert_eq!(path[i]["type"], ty, "{field}: {f:#}");
    }
    // The timers: their own pattern first, the list holding them (and its array, an
    // accumulation point) merged into it.
    let timers = by_key("LeakLab.Holders.Timers");
    let mut patterns: Vec<&str> =
        timers["patterns"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(patterns[0], "undisposed_timers", "{timers:#}");
    patterns.sort();
    assert_eq!(patterns, ["accumulation", "unbounded_collection", "undisposed_timers"], "{timers:#}");
    let queued: u64 = timers["contents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "System.Threading.Timer")
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(queued, 1_000, "{timers:#}");
    assert!(
        timers["summary"].as_str().unwrap().starts_with("1,000 timers calling GC.KeepAlive still queued"),
        "{timers:#}"
    );
    // `timerinfo` agrees: 1,000 timers queued, all due in an hour.
    let info = run(&s, "timerinfo", Format::Text);
    assert!(info.contains("   1000 timers"), "{info}");
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The lab's ops scenario (scenarios-src/Ops.cs) enqueues 5,000 ints in the static
/// `OpsRoots.Numbers` (a ConcurrentQueue<int>) and dequeues 100: 4,900 on 8, 9 and 10.
#[test]
fn the_ops_concurrent_queue_is_counted() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("leaks: no lab: the ops dumps are skipped");
        return;
    };
    for n in ["ops-net8-wks-heap", "ops-net9-wks-heap", "ops-net10-wks-heap"] {
        let p = lab.join("dumps").join(format!("{n}.dmp"));
        if !p.exists() {
            eprintln!("leaks: no lab dump {n}: skipped");
            continue;
        }
        let text = run(&open(&p), "leaks", Format::Text);
        assert!(
            text.contains(". OpsRoots.Numbers (static, ConcurrentQueue<Int32>, 4,900 entries): ConcurrentQueue<Int32> grown to 4,900 entries (Int32 items), never emptied; keeps "),
            "{n}:\n{text}"
        );
    }
}

//! `gcroot`, `objsize`, `gchandles` and `finalizequeue` against the real dotnet-dump on
//! every lab dump (and `CLRHEAP_EXTRA_DUMPS`), plus the seed scenario's leak end to end.
//!
//! gcroot: dotnet-dump's texts start with its root-caching notice, which clrheap prints
//! on standard error; it is dropped from the truth. The whole text is compared, `Thread`
//! sections included (precise stack roots: frame lines, `rbp-8:` slots, runtime Frames),
//! for the truth's targets and for every object a stack roots in the lab dumps
//! (`tests/expected/gcroot/DUMP/`, captured with `lab/bin/sos`); `-nostacks` is compared
//! against the truth without its `Thread` sections. Where dotnet-dump is wrong it is not
//! followed: static-field labels (RESEARCH §1a: where the truth has one, clrheap must
//! have one too, and the seed test checks that clrheap's names the right field), and
//! roots of the handles it misses under DATAS, and (.NET 9, 10) the roots in threads'
//! thread-static arrays, which the GC reports without a handle and dotnet-dump does not
//! know (`tests/gc_pairs.rs` proves them real: the GC keeps what only they reach); both
//! are left out of clrheap's text before the comparison.
mod common;

use clrheap::Session;
use clrheap::dump::DumpOptions;
use common::*;
use std::collections::HashSet;
use std::path::Path;

const PROGRESS: [&str; 2] = [
    "Caching GC roots, this may take a while.",
    "Subsequent runs of this command will be faster.",
];

fn run(session: &Session, command: &str) -> String {
    let mut out = Vec::new();
    session
        .execute(command, &mut out)
        .unwrap_or_else(|e| panic!("{command}: {e:#}"));
    String::from_utf8(out).expect("utf-8 output")
}

/// The truth text without dotnet-dump's progress notice (and its blank line).
fn strip_progress(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() >= 2 && lines[0] == PROGRESS[0] && lines[1] == PROGRESS[1] {
        lines.drain(..2);
        if lines.first() == Some(&"") {
            lines.remove(0);
        }
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// A gcroot text without its `Thread` sections, the count adjusted.
fn without_stacks(text: &str) -> String {
    let mut out = Vec::new();
    let mut slots = Vec::new();
    let mut in_stack = false;
    for line in text.lines() {
        if line.starts_with("Thread ") {
            in_stack = true;
            continue;
        }
        if let Some(n) = line.strip_prefix("Found ").and_then(|r| r.strip_suffix(" unique roots.")) {
            let n: usize = n.replace(',', "").parse().expect("root count");
            out.push(format!("Found {} unique roots.", n - slots.len()));
            in_stack = false;
            continue;
        }
        if in_stack {
            if line.starts_with("        ") && !line.trim_start().starts_with("->") {
                slots.push(line.split_whitespace().last().unwrap_or("").to_string());
            }
            continue;
        }
        out.push(line.to_string());
    }
    out.iter().map(|l| format!("{l}\n")).collect()
}

/// Splits a chain line's static label off: (line with the label removed, has label).
fn split_label(line: &str) -> (String, bool) {
    match line.find(" (static variable: ") {
        Some(p) if line.ends_with(')') => (format!("{} ", &line[..p]), true),
        _ => (line.to_string(), false),
    }
}

fn compare_gcroot(ours: &str, want: &str) -> Result<(), String> {
    let a: Vec<&str> = ours.lines().collect();
    let b: Vec<&str> = want.lines().collect();
    if a.len() != b.len() {
        return Err(format!("{} lines, want {}:\n{ours}\nwant:\n{want}", a.len(), b.len()));
    }
    for (n, (x, y)) in a.iter().zip(&b).enumerate() {
        let ((x2, xl), (y2, yl)) = (split_label(x), split_label(y));
        let x2 = if xl && !yl { x2.clone() } else { x2 };
        if x2 != y2 || (yl && !xl) {
            return Err(format!("line {}:\n  ours: {x:?}\n  want: {y:?}", n + 1));
        }
    }
    Ok(())
}

/// A gcroot text without the roots held by handles dotnet-dump could not see (it misses
/// handles under DATAS, RESEARCH §1a: clrheap lists them all).
fn only_known_handles(text: &str, known: &HashSet<u64>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut dropped = 0;
    let mut skipping = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("    ")
            && !rest.starts_with(' ')
            && rest.ends_with(" handle)")
            && let Some(a) = rest.split_whitespace().next().and_then(|a| u64::from_str_radix(a, 16).ok())
        {
            skipping = !known.contains(&a);
            if skipping {
                dropped += 1;
                continue;
            }
        }
        if skipping {
            if line.is_empty() {
                skipping = false;
            }
            continue;
        }
        if let Some(n) = line.strip_prefix("Found ").and_then(|r| r.strip_suffix(" unique roots.")) {
            let n: usize = n.replace(',', "").parse().expect("root count");
            out.push(format!("Found {} unique roots.", n - dropped));
            continue;
        }
        out.push(line.to_string());
    }
    // A section header left with no roots.
    let mut cleaned: Vec<String> = Vec::new();
    for (i, l) in out.iter().enumerate() {
        let next = out.get(i + 1).map(String::as_str).unwrap_or("");
        if l.ends_with(':') && !l.starts_with(' ') && !next.starts_with("    ") {
            continue;
        }
        cleaned.push(l.clone());
    }
    cleaned.iter().map(|l| format!("{l}\n")).collect()
}

/// A gcroot text without its `Thread statics:` section (the last one), the count
/// adjusted: roots dotnet-dump does not know (see the module's comment).
fn without_thread_statics(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut dropped = 0;
    let mut in_section = false;
    for line in text.lines() {
        if line == "Thread statics:" {
            in_section = true;
            continue;
        }
        if let Some(n) = line.strip_prefix("Found ").and_then(|r| r.strip_suffix(" unique roots.")) {
            let n: usize = n.replace(',', "").parse().expect("root count");
            out.push(format!("Found {} unique roots.", n - dropped));
            in_section = false;
            continue;
        }
        if in_section {
            if line.ends_with(")") && line.starts_with("    ") && !line.trim_start().starts_with("->") {
                dropped += 1;
            }
            continue;
        }
        out.push(line.to_string());
    }
    out.iter().map(|l| format!("{l}\n")).collect()
}

fn truth_files(truth: &Path, prefix: &str) -> Vec<(String, std::path::PathBuf)> {
    let mut files: Vec<_> = std::fs::read_dir(truth.join("sos"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let f = e.file_name().to_string_lossy().to_string();
            let addr = f.strip_prefix(prefix)?.strip_suffix(".txt")?.to_string();
            Some((addr, e.path()))
        })
        .collect();
    files.sort();
    files
}

/// Runs `check` (named `check_name` in the known-gaps list) over every lab dump, a few
/// dumps at a time; its failures are the lines it returns.
fn over_dumps(test: &str, check_name: &str, check: impl Fn(&str, &Path, &Path, &Session) -> Vec<String> + Sync) {
    let dumps = lab_dumps(test);
    eprintln!("{test}: {} dumps", dumps.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let checks = Checks::new();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((name, dump, truth)) = dumps.get(i) else { break };
                checks.run(name, check_name, || {
                    let session = Session::open(dump, &DumpOptions::default()).map_err(|e| format!("open: {e:#}"))?;
                    let f = check(name, dump, truth, &session);
                    if f.is_empty() { Ok(()) } else { Err(f.join("\n")) }
                });
            });
        }
    });
    checks.finish(test);
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn gcroot_matches_dotnet_dump() {
    over_dumps("gcroot_matches_dotnet_dump", "gcroot", |name, _, truth, session| {
        let mut failures = Vec::new();
        if !truth.join("handles.tsv").exists() || truth_files(truth, "gcroot-").is_empty() {
            return vec!["no ClrMD truth (handles.tsv, gcroot-*.txt)".into()];
        }
        let known: HashSet<u64> = read_tsv(&truth.join("handles.tsv"))
            .iter()
            .filter_map(|r| u64::from_str_radix(&r[0], 16).ok())
            .collect();
        for (addr, path) in truth_files(truth, "gcroot-") {
            let want = strip_progress(&std::fs::read_to_string(&path).unwrap());
            let full = run(session, &format!("gcroot {addr}"));
            if let Err(e) = compare_gcroot(&only_known_handles(&without_thread_statics(&full), &known), &want) {
                failures.push(format!("{name}: gcroot {addr}: {e}"));
            }
            let ours = run(session, &format!("gcroot -nostacks {addr}"));
            if let Err(e) = compare_gcroot(&only_known_handles(&without_thread_statics(&ours), &known), &without_stacks(&want)) {
                failures.push(format!("{name}: gcroot -nostacks {addr}: {e}"));
            }
        }
        failures
    });
}

/// gcroot of every object a thread's stack roots (each distinct object of the `Stack`
/// rows of `roots.tsv`), against dotnet-dump's texts in `tests/expected/gcroot/DUMP/`:
/// runtime Frames (.NET 8's HelperMethodFrame), several frames and several slots per
/// thread, roots shared by a handle and a stack.
#[test]
fn gcroot_stack_roots_match_dotnet_dump() {
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/gcroot");
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let lab_dumps_dir = lab_dir().map(|l| l.join("dumps"));
    over_dumps("gcroot_stack_roots_match_dotnet_dump", "gcroot-stack", |name, dump, truth, session| {
        let mut failures = Vec::new();
        // The texts were captured on the lab's dumps (fresh dumps may share their names).
        if lab_dumps_dir.as_deref().is_none_or(|d| !dump.starts_with(d)) {
            return failures;
        }
        let dir = expected.join(name);
        if !dir.is_dir() {
            eprintln!("gcroot_stack_roots_match_dotnet_dump: {name}: no texts captured in tests/expected/gcroot");
            return failures;
        }
        let known: HashSet<u64> = read_tsv(&truth.join("handles.tsv"))
            .iter()
            .filter_map(|r| u64::from_str_radix(&r[0], 16).ok())
            .collect();
        let mut files: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let Some(command) = file.file_stem().and_then(|s| s.to_str()).map(|s| s.replace('_', " ")) else { continue };
            let want = strip_progress(&std::fs::read_to_string(&file).unwrap());
            let ours = run(session, &command);
            checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = compare_gcroot(&only_known_handles(&without_thread_statics(&ours), &known), &want) {
                failures.push(format!("{name}: {command}: {e}"));
            }
        }
        failures
    });
    let checked = checked.into_inner();
    if lab_dir().is_some() {
        assert!(checked >= 100, "only {checked} expected gcroot outputs");
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn objsize_matches_dotnet_dump() {
    over_dumps("objsize_matches_dotnet_dump", "objsize", |name, _, truth, session| {
        let mut failures = Vec::new();
        if truth_files(truth, "objsize-").is_empty() {
            return vec!["the truth has no objsize-*.txt".into()];
        }
        for (addr, path) in truth_files(truth, "objsize-") {
            let want = std::fs::read_to_string(&path).unwrap();
            let ours = run(session, &format!("objsize {addr}"));
            if let Err(e) = compare_sos_text(&ours, &want) {
                failures.push(format!("{name}: objsize {addr}: {e}"));
            }
        }
        failures
    });
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn finalizequeue_matches_dotnet_dump() {
    over_dumps("finalizequeue_matches_dotnet_dump", "finalizequeue", |name, _, truth, session| {
        let want = match truth_text(&truth.join("sos/finalizequeue.txt")) {
            Ok(w) => w,
            Err(e) => return vec![e],
        };
        let ours = run(session, "finalizequeue");
        compare_sos_text(&ours, &want)
            .err()
            .map(|e| format!("{name}: finalizequeue: {e}"))
            .into_iter()
            .collect()
    });
}

/// gchandles: exact where dotnet-dump saw every handle (`handles.tsv` has as many rows
/// as clrheap finds); under DATAS, where it misses some, clrheap's rows must be a
/// superset of its rows.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn gchandles_matches_dotnet_dump() {
    over_dumps("gchandles_matches_dotnet_dump", "gchandles", |name, _, truth, session| {
        let mut failures = Vec::new();
        if !truth.join("handles.tsv").exists() {
            return vec!["no ClrMD truth (handles.tsv)".into()];
        }
        let seen_by_sos = read_tsv(&truth.join("handles.tsv")).len();
        let ours_count = session.heap.handles().map(|h| h.len()).unwrap_or(0);
        for (command, file) in [("gchandles", "gchandles.txt"), ("gchandles -stat", "gchandles-stat.txt")] {
            let want = match truth_text(&truth.join("sos").join(file)) {
                Ok(w) => w,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            let ours = run(session, command);
            if ours_count == seen_by_sos {
                if let Err(e) = compare_sos_text(&ours, &want) {
                    failures.push(format!("{name}: {command}: {e}"));
                }
            } else {
                assert!(ours_count > seen_by_sos, "{name}: fewer handles than dotnet-dump");
                let rows: HashSet<&str> = ours.lines().collect();
                for line in want.lines().filter(|l| l.len() > 17 && l.as_bytes()[16] == b' ' && l.as_bytes()[17].is_ascii_alphabetic()) {
                    if !rows.contains(line) {
                        failures.push(format!("{name}: {command}: missing row {line:?}"));
                    }
                }
            }
        }
        failures
    });
}

/// The seed scenario's two leaks, end to end, on a seed dump of each runtime: the leaked
/// types by the thousands, a middleware kept alive through the event bus's delegate
/// list, and a cache entry kept alive by the static dictionary, named by its real field
/// (`DocumentCache._entries`, which dotnet-dump mislabels). The field is proved from the
/// dump: the slot `DocumentCache`'s statics base gives for `_entries` lies in the statics
/// array the chain starts with and holds the dictionary the chain passes through.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn seed_leaks_end_to_end() {
    use clrheap::heap::fields::StaticLocation;
    let runtimes = std::sync::Mutex::new(HashSet::new());
    let checks = Checks::new();
    for (name, dump, _) in lab_dumps("seed_leaks_end_to_end") {
        if !name.starts_with("seed-") || name.contains("triage") {
            continue;
        }
        checks.run(&name, "seed-leaks", || {
        let session = Session::open(&dump, &DumpOptions::default()).map_err(|e| format!("open: {e:#}"))?;
        let heap = &session.heap;
        runtimes.lock().unwrap().insert(heap.runtime.version.major);

        let stat = run(&session, "dumpheap -stat");
        for ty in ["DocProc.Api.Middleware.RequestTracingMiddleware", "DocProc.Infrastructure.Cache.DocumentCacheEntry"] {
            let row = stat.lines().find(|l| l.ends_with(&format!(" {ty}"))).unwrap_or_else(|| panic!("{name}: no {ty}"));
            let count: u64 = row.split_whitespace().nth(1).unwrap().replace(',', "").parse().unwrap();
            assert!(count >= 1000, "{name}: only {count} {ty}");
        }

        let graph = session.graph().unwrap();
        let first_of = |ty: &str| {
            (0..graph.len() as u32)
                .find(|&id| &*heap.type_name(graph.mt(id)) == ty)
                .map(|id| graph.address(id))
                .unwrap_or_else(|| panic!("{name}: no {ty}"))
        };

        // The middleware: bus -> EventHandler -> Object[] (invocation list) -> EventHandler -> middleware.
        let mw = first_of("DocProc.Api.Middleware.RequestTracingMiddleware");
        let text = run(&session, &format!("gcroot -nostacks {mw:x}"));
        let chain: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("->")).collect();
        let kinds: Vec<String> = chain.iter().map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" ")).collect();
        let handler = "System.EventHandler<DocProc.Infrastructure.Events.DocumentProcessedEvent>";
        assert_eq!(
            kinds,
            vec![
                "System.Object[]".to_string(),
                "DocProc.Infrastructure.Events.DocumentEventBus (static variable: DocProc.Infrastructure.Events.DocumentEventBus.Instance)".into(),
                handler.into(),
                "System.Object[]".into(),
                handler.into(),
                "DocProc.Api.Middleware.RequestTracingMiddleware".into(),
            ],
            "{name}: middleware chain:\n{text}"
        );
        assert!(text.ends_with("Found 1 unique roots.\n"), "{name}:\n{text}");

        // The cache entry: statics array -> the dictionary, labelled with its real field.
        let entry = first_of("DocProc.Infrastructure.Cache.DocumentCacheEntry");
        let text = run(&session, &format!("gcroot -nostacks {entry:x}"));
        let chain: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("->")).collect();
        assert!(
            chain[1].ends_with(" (static variable: DocProc.Infrastructure.Cache.DocumentCache._entries)"),
            "{name}: cache chain:\n{text}"
        );
        assert!(chain.last().unwrap().contains("DocProc.Infrastructure.Cache.DocumentCacheEntry"), "{name}:\n{text}");
        let array = u64::from_str_radix(chain[0].split_whitespace().nth(1).unwrap(), 16).unwrap();
        let dictionary = u64::from_str_radix(chain[1].split_whitespace().nth(1).unwrap(), 16).unwrap();

        let entry_mt = graph.mt(graph.id_of(entry).unwrap());
        let scenario_module = heap.method_table(entry_mt).unwrap().module;
        let cache_mt = heap
            .typedef_method_tables(scenario_module)
            .into_iter()
            .find(|&mt| &*heap.type_name(mt) == "DocProc.Infrastructure.Cache.DocumentCache")
            .unwrap_or_else(|| panic!("{name}: DocumentCache is not loaded"));
        let fields = heap.introduced_fields(cache_mt, 0).unwrap();
        let fd = fields
            .iter()
            .find(|f| heap.field_name(f).as_deref() == Some("_entries"))
            .unwrap_or_else(|| panic!("{name}: no _entries field"));
        let StaticLocation::At(slot) = heap.static_location(cache_mt, fd) else {
            panic!("{name}: _entries has no static slot");
        };
        let array_size = graph.size(graph.id_of(array).unwrap());
        assert!(slot > array && slot < array + array_size, "{name}: slot {slot:x} outside the statics array {array:x}");
        assert_eq!(heap.space().read_u64(slot).unwrap(), dictionary, "{name}: slot {slot:x}");
        Ok(())
        });
    }
    checks.finish("seed_leaks_end_to_end");
    let runtimes = runtimes.into_inner().unwrap();
    if lab_dir().is_some() {
        assert!(runtimes.len() >= 3, "seed dumps of 8, 9 and 10 expected, got {runtimes:?}");
    }
}

/// The root-caching notice goes to standard error, once per run; standard output
/// starts with the roots.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn progress_goes_to_stderr() {
    let Some((_, dump, truth)) = lab_dumps("progress_goes_to_stderr").into_iter().find(|(n, _, _)| n.starts_with("zoo-net10-wks")) else {
        return;
    };
    let Some((addr, _)) = truth_files(&truth, "gcroot-").into_iter().next() else { return };
    let out = analyze(&dump, &[&format!("gcroot {addr}"), &format!("gcroot -nostacks {addr}")]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stdout.contains(PROGRESS[0]), "{stdout}");
    assert_eq!(stderr.matches(PROGRESS[0]).count(), 1, "{stderr}");
    assert!(stderr.contains(PROGRESS[1]));
    let bad = analyze(&dump, &["gcroot zz"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Could not parse target object address: zz"));
}

/// The zoo's `[ThreadStatic] ZooRoots.PerThread` is set on two threads (the main thread,
/// and the parked thread of `HoldOnStack`): on 9 and 10 each of the two
/// `ThreadStaticHolder`s has a `Thread statics:` root of its own thread, the field named
/// on the holder's link; the main thread's holder has no other root (dotnet-dump finds
/// none: `tests/gc_pairs.rs` shows the GC keeps it). On 8 the thread statics sit behind
/// strong handles: no such section.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn thread_static_holders_are_rooted_by_their_threads() {
    let checks = Checks::new();
    for (name, dump, _) in lab_dumps("thread_static_holders_are_rooted_by_their_threads") {
        if !name.starts_with("zoo-") {
            continue;
        }
        checks.run(&name, "gcroot-thread-statics", || {
            let session = Session::open(&dump, &DumpOptions::default()).map_err(|e| format!("open: {e:#}"))?;
            let heap = &session.heap;
            let graph = session.graph().map_err(|e| e.to_string())?;
            let holders: Vec<u64> = (0..graph.len() as u32)
                .filter(|&id| &*heap.type_name(graph.mt(id)) == "DocProc.Zoo.ThreadStaticHolder")
                .map(|id| graph.address(id))
                .collect();
            if holders.len() != 2 {
                return Err(format!("{} ThreadStaticHolders, want 2", holders.len()));
            }
            let has_statics = heap.runtime.layout.thread.local_data.is_some();
            let mut threads = Vec::new();
            let mut only_thread_statics = 0;
            for h in holders {
                let text = run(&session, &format!("gcroot {h:x}"));
                let section = text.split("Thread statics:\n").nth(1);
                if !has_statics {
                    if section.is_some() {
                        return Err(format!(".NET 8 has no thread-static roots:\n{text}"));
                    }
                    continue;
                }
                let Some(section) = section else {
                    return Err(format!("no Thread statics section:\n{text}"));
                };
                let thread = section.lines().next().and_then(|l| l.split("of thread ").nth(1)).map(|t| t.trim_end_matches(')').to_string());
                threads.push(thread);
                let named = section.lines().any(|l| {
                    let l = l.trim_start().trim_start_matches("-> ");
                    l.split_whitespace().next().and_then(|a| u64::from_str_radix(a, 16).ok()) == Some(h)
                        && l.ends_with("DocProc.Zoo.ThreadStaticHolder (thread static variable: DocProc.Zoo.ZooRoots.PerThread)")
                });
                if !named {
                    return Err(format!("the holder's link does not name ZooRoots.PerThread:\n{text}"));
                }
                if text.starts_with("Thread statics:") && text.ends_with("Found 1 unique roots.\n") {
                    only_thread_statics += 1;
                }
            }
            if has_statics && (threads[0] == threads[1] || threads.contains(&None)) {
                return Err(format!("the holders' threads: {threads:?}"));
            }
            if has_statics && only_thread_statics != 1 {
                return Err(format!("{only_thread_statics} holders rooted only by thread statics, want 1 (the main thread's)"));
            }
            Ok(())
        });
    }
    checks.finish("thread_static_holders_are_rooted_by_their_threads");
}

/// The pruned root search (`PathFinder::pruned`: with the graph's incoming edges it
/// touches only what can reach the target, and puts off exploring the rest) gives the
/// full search's answer for every root, in gcroot's root order, on every lab dump, for
/// a spread of targets: objects roots hold, the most referenced ones, dependent
/// handles' secondaries, an even sample of the whole heap (live and dead). The test
/// also checks that both ways a pruned search can meet its limit happen somewhere in
/// the lab (explorations done late, and starting over without pruning), so the paths
/// that keep it exact are exercised.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn pruned_root_search_matches_the_full_search() {
    use clrheap::graph::gcroot::PathFinder;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let (materialized, started_over, compared) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    over_dumps("pruned_root_search_matches_the_full_search", "gcroot-pruned", |name, _, _, session| {
        let graph = session.graph().expect("graph");
        session.edges().expect("edges");
        let reverse = session.reverse_edges().expect("reverse edges");
        let roots = session.roots().expect("roots");
        let starts: Vec<u64> = roots
            .handles
            .iter()
            .chain(&roots.finalizer)
            .chain(roots.stack.iter().map(|e| &e.root))
            .chain(&roots.thread_statics)
            .map(|r| r.object)
            .collect();
        let n = graph.len();
        let mut targets: Vec<u64> = Vec::new();
        let mut distinct: Vec<u64> = starts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        targets.extend(distinct.iter().take(40));
        let mut by_referrers: Vec<u32> = (0..n as u32).collect();
        by_referrers.sort_by_key(|&i| std::cmp::Reverse(reverse.referrers(i).len()));
        targets.extend(by_referrers.iter().take(30).map(|&i| graph.address(i)));
        targets.extend(roots.dependent_pairs.iter().take(20).map(|p| p.1));
        let step = (n / 150).max(1);
        targets.extend((0..n).step_by(step).map(|i| graph.address(i as u32)));
        let mut failures = Vec::new();
        for &target in &targets {
            let deps = roots.dependents(&graph);
            let mut full = PathFinder::new(&graph, graph.ref_source(&session.heap), deps, target);
            let mut pruned = PathFinder::new(&graph, graph.ref_source(&session.heap), deps, target).pruned(&reverse);
            for &s in &starts {
                let (want, got) = (full.path_from(s), pruned.path_from(s));
                if want != got {
                    failures.push(format!("{name}: target {target:x}, root object {s:x}: full {want:x?}, pruned {got:x?}"));
                    break;
                }
            }
            let (m, over) = pruned.pruning_stats();
            materialized.fetch_add(m, Relaxed);
            started_over.fetch_add(over as usize, Relaxed);
            compared.fetch_add(1, Relaxed);
            if failures.len() > 5 {
                break;
            }
        }
        failures
    });
    let (m, o, c) = (materialized.load(Relaxed), started_over.load(Relaxed), compared.load(Relaxed));
    eprintln!("pruned search: {c} targets compared, explorations done late {m} times, {o} searches started over");
    if c > 0 {
        assert!(m > 0, "no pruned search did its put-off explorations: that path is untested");
        assert!(o > 0, "no pruned search started over: that path is untested");
    }
}

/// The search by address of a session's first `gcroot` (no object table,
/// `clrheap::graph::gcroot_cold`) against the search over the object table, on every
/// dump: for targets spread over the whole heap (live and dead objects, free space, an
/// address inside an object) and the truth's, the same path from every root, root after
/// root (the state kept across roots included), described the same way.
#[test]
fn address_search_matches_table_search() {
    use clrheap::graph::gcroot::PathFinder;
    use clrheap::graph::gcroot_cold::AddressPathFinder;
    use clrheap::graph::marks::ObjectBits;
    use clrheap::graph::roots::ChainDescriber;
    let compared = std::sync::atomic::AtomicUsize::new(0);
    over_dumps("address_search_matches_table_search", "gcroot-address", |name, _, truth, session| {
        let heap = &session.heap;
        let Some(bits) = ObjectBits::build_for_search(heap).expect("object bits") else {
            return Vec::new();
        };
        let graph = session.graph().expect("graph");
        let roots = session.roots().expect("roots");
        let all = roots.all_roots();
        let addresses = graph.addresses();
        let mut targets: Vec<u64> = (0..32).filter_map(|i| addresses.get(i * addresses.len() / 32).copied()).collect();
        targets.extend(all.iter().take(8).map(|r| r.object));
        targets.extend(truth_files(truth, "gcroot-").iter().filter_map(|(a, _)| u64::from_str_radix(a, 16).ok()));
        if let Some(&a) = addresses.get(addresses.len() / 2) {
            targets.push(a + 8);
        }
        let statics = || session.statics();
        let mut failures = Vec::new();
        for &target in &targets {
            let mut table = PathFinder::new(&graph, graph.ref_source(heap), roots.dependents(&graph), target);
            let mut cold = AddressPathFinder::new(bits.search(), &roots.dependent_pairs, target);
            for (i, root) in all.iter().enumerate() {
                let want = table.path_from(root.object);
                let got = cold.path_from(root.object);
                if got != want {
                    failures.push(format!("{name}: target {target:x}, root {i} ({:x}): {got:x?} instead of {want:x?}", root.object));
                    break;
                }
                if let Some(path) = got {
                    let thread_static = matches!(root.kind, clrheap::heap::RootKind::ThreadStatic { .. });
                    let by_table = ChainDescriber { heap, objects: &*graph, roots: &roots, statics: &statics }.items(&path, thread_static);
                    let by_bits = ChainDescriber { heap, objects: &bits, roots: &roots, statics: &statics }.items(&path, thread_static);
                    if format!("{by_table:?}") != format!("{by_bits:?}") {
                        failures.push(format!("{name}: target {target:x}: the chain is described as {by_bits:?} instead of {by_table:?}"));
                        break;
                    }
                    compared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        failures
    });
    if lab_dir().is_some() {
        assert!(compared.into_inner() >= 100, "too few paths compared");
    }
}

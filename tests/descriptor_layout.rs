//! The contract descriptor at run time (.NET 9 and 10): clrheap takes every layout value
//! the descriptor describes from it (`clrheap::runtime::described`), its own per-version
//! tables only where the descriptor is silent.
//!
//! - On the builds clrheap was made on (9.0.22 and 10.0.12: the committed fixtures and the
//!   lab's dumps), the descriptor and the tables agree, value by value (the test lists
//!   each), and the descriptor has every entry the binding list expects of its version.
//! - With every table value the descriptor describes deliberately wrong
//!   (`described::scramble_tables`), the 9 and 10 dumps still give dotnet-dump's answers:
//!   the fixtures' expected outputs and the lab's truth texts (`dumpheap -stat`, `eeheap
//!   -gc`, `gchandles`, `finalizequeue`, `dumpheap -mt`, `dumpobj`, `gcroot`, `objsize`,
//!   `syncblk`), identical to what the unscrambled tables give.
//! - A damaged descriptor (garbage JSON, implausible sizes, a missing field, an
//!   implausible value) falls back to the tables with a warning and reads right.
mod common;

use clrheap::Session;
use clrheap::dump::{DumpOptions, open_dump};
use clrheap::runtime::Runtime;
use clrheap::runtime::contract::ContractDescriptor;
use clrheap::runtime::described::{self, BINDINGS, POINTER_GLOBALS, Source};
use clrheap::runtime::layouts;
use common::{command_for, compare_sos_text, without_progress};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A dump of .NET 9 or 10 with dotnet-dump's outputs for it.
struct Case {
    name: String,
    dump: PathBuf,
    /// `NAME.expected/` of a fixture or `NAME.truth/sos/` of a lab dump.
    texts: PathBuf,
    /// Fixture overrides (`clrheap/FILE`: what clrheap prints where dotnet-dump is wrong).
    overrides: Option<PathBuf>,
    options: DumpOptions,
    lab: bool,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The committed fixtures of 9 and 10 (read from the dump alone) and, with `lab`, every
/// lab dump with truth (those of 8 have nothing to check: no descriptor).
fn cases(test: &str, lab: bool) -> Vec<Case> {
    let mut out = Vec::new();
    for name in ["zoo-net9-wks-heap", "seed-net10-wks-heap", "zoo-net10-svr-heap", "zoo-arm64-wks-full"] {
        let expected = fixture_dir().join(format!("{name}.expected"));
        out.push(Case {
            name: format!("fixture {name}"),
            dump: fixture_dir().join(format!("{name}.dmp.zst")),
            overrides: Some(expected.join("clrheap")),
            texts: expected,
            options: DumpOptions { dump_only: true, ..Default::default() },
            lab: false,
        });
    }
    for (name, dump, truth) in common::lab_dumps(test).into_iter().filter(|_| lab) {
        out.push(Case {
            name,
            dump,
            texts: truth.join("sos"),
            overrides: None,
            options: DumpOptions::default(),
            lab: true,
        });
    }
    out
}

/// Runs `check` on every case: a fixture must pass; a lab dump's result goes through the
/// known-gaps list (`tests/known-gaps.tsv`) under the check's name.
fn for_each_case(test: &str, check: &str, f: impl Fn(&Case) -> Result<(), String>) {
    let checks = common::Checks::new();
    for case in cases(test, true) {
        if case.lab {
            checks.run(&case.name, check, || f(&case));
        } else if let Err(e) = f(&case) {
            panic!("{}: {e}", case.name);
        }
    }
    checks.finish(test);
}

fn runtime(case: &Case) -> Result<Runtime, String> {
    let space = open_dump(&case.dump, &case.options).map_err(|e| format!("open: {e:#}"))?;
    Runtime::discover(Arc::new(space)).map_err(|e| format!("runtime: {e:#}"))
}

/// On the lab's builds the descriptor and the tables agree on every value the descriptor
/// describes, and the descriptor has each entry expected of its version. (Other builds,
/// from `CLRHEAP_EXTRA_DUMPS`, may differ: there the descriptor wins.)
#[test]
fn descriptor_and_tables_agree_on_the_lab_builds() {
    let listed = std::sync::Mutex::new(std::collections::BTreeSet::new());
    for_each_case("descriptor_and_tables_agree_on_the_lab_builds", "descriptor-tables", |case| {
        let rt = runtime(case)?;
        let version = rt.version.to_string();
        if rt.version.major < 9 || !["9.0.22", "10.0.12"].contains(&version.as_str()) {
            return Ok(());
        }
        let d = rt.descriptor.as_ref().ok_or("no contract descriptor")?;
        if !rt.warnings.is_empty() {
            return Err(format!("warnings: {:?}", rt.warnings));
        }
        let table = layouts::for_runtime(rt.version.major, rt.space.core().arch).expect("a table");
        let version = format!("{version} {}", rt.space.core().arch.name());
        let list = listed.lock().unwrap().insert(version.clone());
        let mut failures = Vec::new();
        let (mut agree, mut absent) = (0, 0);
        for b in BINDINGS {
            let (described, ours) = (b.source.value_in(d), b.get(table));
            if list {
                let ours = ours.map_or("-".to_string(), |v| format!("{v:#x}"));
                match described {
                    Some(v) => eprintln!("{version} {:<55} descriptor {v:#x}, table {ours}", b.source.to_string()),
                    None => eprintln!("{version} {:<55} not described (table {ours})", b.source.to_string()),
                }
            }
            match (described, ours) {
                (Some(v), Some(t)) if v == t => agree += 1,
                (Some(v), Some(t)) => failures.push(format!("{}: descriptor {v:#x}, table {t:#x}", b.source)),
                (Some(_), None) => {}
                (None, _) if b.expected(rt.version.major, Some(rt.space.core().arch.name())) => {
                    failures.push(format!("{} is not in the descriptor", b.source))
                }
                (None, _) => absent += 1,
            }
        }
        // The pointer globals name the same addresses as g_dacTable's entries.
        let globals = POINTER_GLOBALS
            .iter()
            .map(|(name, index)| (*name, *index(&mut table.dac.clone())))
            .chain((rt.version.major >= 10).then_some(("ExecutionManagerCodeRangeMapAddress", 0)));
        for (name, index) in globals {
            let entry = rt.space.read_ptr(rt.dac_table + 8 * index as u64).map_err(|e| e.to_string())?;
            let described = d.global(name);
            if list {
                eprintln!("{version} global {name:<48} descriptor {described:x?}, g_dacTable[{index}] {entry:#x}");
            }
            if described != Some(entry) {
                failures.push(format!("global {name}: descriptor {described:x?}, g_dacTable {entry:#x}"));
            }
            agree += 1;
        }
        if list {
            eprintln!("{version}: {agree} values agree, {absent} bound values not described by this version");
            // What the descriptor costs at every open: reading and parsing it, resolving the layout.
            let start = std::time::Instant::now();
            let reread = ContractDescriptor::read(&rt.space, d.address).expect("read again");
            let mut warnings = Vec::new();
            described::resolve(table, Some(&reread), &mut warnings);
            eprintln!("{version}: descriptor read, parsed and applied in {:?}", start.elapsed());
        }
        if failures.is_empty() { Ok(()) } else { Err(failures.join("\n")) }
    });
    let listed = listed.into_inner().unwrap();
    for v in ["9.0.22 x64", "10.0.12 x64", "10.0.12 arm64"] {
        assert!(listed.contains(v), "{v} not checked: {listed:?}");
    }
}

/// `(file, command, dotnet-dump's text or clrheap's override)` of a case.
fn expected_texts(case: &Case) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&case.texts).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some(command) = command_for(&file) else { continue };
        let override_file = case.overrides.as_ref().map(|d| d.join(&file)).filter(|f| f.exists());
        let want = match override_file {
            Some(f) => std::fs::read_to_string(f).expect("override"),
            None => without_progress(&std::fs::read_to_string(entry.path()).expect("text")),
        };
        out.push((file, command, want));
    }
    out.sort();
    out
}

fn run(session: &Session, command: &str) -> String {
    let mut out = Vec::new();
    // dumpobj reports SOS's own errors in its output, then fails.
    let _ = session.execute(command, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn open(case: &Case, scrambled: bool) -> Result<Session, String> {
    /// Turns the hook off again, even when opening panics.
    struct Unscramble;
    impl Drop for Unscramble {
        fn drop(&mut self) {
            described::scramble_tables(false);
        }
    }
    let _guard = Unscramble;
    described::scramble_tables(scrambled);
    Session::open(&case.dump, &case.options).map_err(|e| format!("open (scrambled: {scrambled}): {e:#}"))
}

/// With every described table value wrong, the 9 and 10 dumps still read right: the
/// runtime's layout equals the unscrambled one, and each command gives dotnet-dump's text
/// (where clrheap gives it with the real tables) and otherwise the same text as with
/// the real tables.
#[test]
fn scrambled_tables_still_read_the_dumps_right() {
    let identical_to_truth = std::sync::atomic::AtomicUsize::new(0);
    let dumps = std::sync::atomic::AtomicUsize::new(0);
    for_each_case("scrambled_tables_still_read_the_dumps_right", "descriptor-scrambled", |case| {
        if runtime(case)?.version.major < 9 {
            return Ok(());
        }
        let mut failures = Vec::new();
        let scrambled = open(case, true)?;
        let rt = &scrambled.heap.runtime;
        // The hook did scramble: the table this runtime started from is wrong.
        let real_table = layouts::for_runtime(rt.version.major, rt.space.core().arch).expect("a table");
        let mut table = *real_table;
        let arch = rt.space.core().arch.name();
        described::scramble(&mut table, arch);
        let bound: Vec<_> = BINDINGS.iter().filter(|b| b.expected(rt.version.major, Some(arch))).collect();
        if !bound.iter().all(|b| b.get(&table) != b.get(&rt.layout)) {
            return Err("the tables were not scrambled".into());
        }
        if !rt.warnings.iter().any(|w| w.contains("g_dacTable entry")) {
            return Err(format!("the scrambled g_dacTable indices went unnoticed: {:?}", rt.warnings));
        }
        for b in &bound {
            let want = b.get(real_table);
            if b.get(&rt.layout) != want {
                failures.push(format!("{}: {:x?}, want {want:x?}", b.source, b.get(&rt.layout)));
            }
        }
        let mut real: Option<Session> = None;
        let mut stat_right = false;
        for (file, command, want) in expected_texts(case) {
            let ours = run(&scrambled, &command);
            let right = if case.overrides.as_ref().is_some_and(|d| d.join(&file).exists()) {
                ours == want
            } else {
                compare_sos_text(&ours, &want).is_ok()
            };
            if right {
                identical_to_truth.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                stat_right |= file == "dumpheap-stat.txt";
                continue;
            }
            // Not dotnet-dump's text: it must be what the real tables give (a known gap).
            if real.is_none() {
                real = Some(open(case, false)?);
            }
            if run(real.as_ref().expect("opened"), &command) != ours {
                failures.push(format!("{command}: differs from the unscrambled output"));
            }
        }
        if !stat_right {
            failures.push("dumpheap -stat is not dotnet-dump's".into());
        }
        dumps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if failures.is_empty() { Ok(()) } else { Err(failures.join("\n")) }
    });
    let dumps = dumps.into_inner();
    eprintln!("{dumps} dumps, {} outputs identical to dotnet-dump's with scrambled tables", identical_to_truth.into_inner());
    assert!(dumps >= 3);
}

/// Damage to the descriptor of a fixture: the dump still opens, says what was wrong, and
/// `dumpheap -stat` is dotnet-dump's.
#[test]
fn a_damaged_descriptor_falls_back_to_the_tables() {
    use clrheap::fuzzing::{Fixture, open_session};
    for name in ["zoo-net9-wks-heap", "seed-net10-wks-heap"] {
        let compressed = std::fs::read(fixture_dir().join(format!("{name}.dmp.zst"))).expect("fixture");
        let mut decoder = zstd::stream::read::Decoder::new(&compressed[..]).expect("zstd");
        decoder.window_log_max(31).expect("window");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut decoder, &mut bytes).expect("decompress");
        let fixture = Fixture::new(bytes).expect("the fixture opens");
        let want = std::fs::read_to_string(fixture_dir().join(format!("{name}.expected/dumpheap-stat.txt"))).unwrap();
        // The descriptor's header and JSON, found through an undamaged open.
        let session = open_session(fixture.bytes.clone()).expect("open");
        let rt = &session.heap.runtime;
        let header = rt.descriptor.as_ref().expect("a descriptor").address;
        let json_addr = rt.space.read_ptr(header + 16).unwrap();
        let json_size = rt.space.read_u32(header + 12).unwrap() as usize;
        let json = rt.space.read_vec(json_addr, json_size).unwrap();
        drop(session);
        let at = |addr: u64| fixture.file_offset(addr).expect("the descriptor is in the fixture");
        let find = |text: &str| {
            let i = json.windows(text.len()).position(|w| w == text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            at(json_addr + i as u64)
        };
        let cases: Vec<(&str, Vec<(usize, Vec<u8>)>, &str)> = vec![
            ("garbage JSON", vec![(at(json_addr), b"garbage!".to_vec())], "cannot read the runtime's contract descriptor"),
            ("a huge JSON size", vec![(at(header + 12), vec![0xff; 4])], "implausible contract descriptor sizes"),
            ("a huge pointer count", vec![(at(header + 24), vec![0xff; 4])], "implausible contract descriptor sizes"),
            ("fields missing", vec![(find("\"BaseSize\""), b"\"BaseSizX\"".to_vec()), (find("\"OSId\""), b"\"OSIx\"".to_vec())], "lacks MethodTable.BaseSize, Thread.OSId"),
            ("an implausible global", vec![(find("Count\":[\"0xc\"") + 8, b"\"999\"".to_vec())], "global MethodDescTokenRemainderBitCount = 0x3e7"),
        ];
        for (what, patches, warning) in cases {
            let mut bytes = fixture.bytes.clone();
            for (offset, patch) in &patches {
                bytes[*offset..offset + patch.len()].copy_from_slice(patch);
            }
            let session = open_session(bytes).unwrap_or_else(|e| panic!("{name}, {what}: {e:#}"));
            let warnings = &session.heap.runtime.warnings;
            assert!(warnings.iter().any(|w| w.contains(warning)), "{name}, {what}: {warnings:?}");
            let ours = run(&session, "dumpheap -stat");
            if let Err(e) = compare_sos_text(&ours, &without_progress(&want)) {
                panic!("{name}, {what}: {e}");
            }
        }
    }
}

/// Every bound entry is one the descriptor names, once per layout value.
#[test]
fn bindings_are_distinct() {
    let mut seen = std::collections::HashSet::new();
    for b in BINDINGS {
        // `EEAllocContext.GCAllocationContext` serves the threads' and the global context.
        if b.source == Source::Field("EEAllocContext", "GCAllocationContext") {
            continue;
        }
        assert!(seen.insert(b.source), "{} bound twice", b.source);
    }
}

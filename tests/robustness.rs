//! Damaged dumps: every committed fixture, damaged by seeded pseudo-random mutations aimed
//! at the structures clrheap reads (the notes, `GcDacVars` and `g_dacTable`, the GC's
//! heap and segment records, MethodTables, handle slots, the thread store and sync block
//! table, objects, anywhere; and truncation), then opened and every command line of
//! `clrheap::fuzzing::command_lines` (each registry row's `exercise` lines) run on it.
//!
//! Each command must return (an error is fine) within [`LIMIT`], without panicking; an
//! error must say something. A failure names the fixture and the case, and the case's
//! bytes are the input of the `damaged_dump` fuzz target (`fuzz/`), so
//! `CLRHEAP_FUZZ_FIXTURE=NAME cargo fuzz run damaged_dump CASE_FILE` replays it.
//!
//! `CLRHEAP_ROBUSTNESS_CASES` sets the number of cases per fixture (default 48 in a
//! release build, 6 in a debug build, where arithmetic overflow panics too);
//! `CLRHEAP_ROBUSTNESS_SEED=N` draws another series of cases (a longer campaign by hand).
use clrheap::Session;
use clrheap::fuzzing::{Fixture, REGIONS, command_lines, mutate, open_crafted, open_session};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Longest any one command (or opening the dump) may take on a damaged dump.
const LIMIT: Duration = Duration::from_secs(10);

fn cases() -> u64 {
    std::env::var("CLRHEAP_ROBUSTNESS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 6 } else { 48 })
}

fn load(name: &str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.dmp.zst"));
    let compressed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = zstd::stream::read::Decoder::new(&compressed[..]).expect("zstd");
    decoder.window_log_max(31).expect("window");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut decoder, &mut bytes).expect("decompress");
    Fixture::new(bytes)
        .unwrap_or_else(|e| panic!("{name}: the undamaged fixture does not open: {e:#}"))
}

/// xorshift64*: the same cases on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Case `i`'s mutation records (see `clrheap::fuzzing::mutate`): 1 to 8 writes, most
/// aimed at one region (cycling through them with `i`), now and then a truncation.
fn case_input(seed: u64, i: u64) -> Vec<u8> {
    let mut rng = Rng(seed ^ (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let region = (i % REGIONS.len() as u64) as u8;
    let writes = 1 + rng.next() % 8;
    let mut input = Vec::new();
    for _ in 0..writes {
        let r = if rng.next().is_multiple_of(4) {
            (rng.next() % REGIONS.len() as u64) as u8
        } else {
            region
        };
        input.push(r);
        input.extend_from_slice(&(rng.next() as u32).to_le_bytes());
        input.push((rng.next() % 0xff) as u8);
        input.extend_from_slice(&rng.next().to_le_bytes());
    }
    if i % 16 == 15 {
        input.push(0);
        input.extend_from_slice(&(rng.next() as u32).to_le_bytes());
        input.push(0xff);
        input.extend_from_slice(&[0; 8]);
    }
    input
}

/// What the worker thread reports: a step started, or an error's message.
enum Step {
    Start(String),
    Error(String),
    Opened,
}

/// How a case's input becomes a session: byte damage ([`mutate`]) or structural damage
/// ([`clrheap::fuzzing::craft_dump`], with module files read from the fuzzing sandbox).
type Opener = fn(&Fixture, &[u8]) -> clrheap::error::Result<Session>;

fn open_damaged(fixture: &Fixture, input: &[u8]) -> clrheap::error::Result<Session> {
    open_session(mutate(fixture, input))
}

/// Runs one case: whether the damaged dump still opened, or what went wrong.
fn run_case(fixture: &'static Fixture, input: Vec<u8>) -> Result<bool, String> {
    run_case_with(fixture, input, open_damaged)
}

fn run_case_with(fixture: &'static Fixture, input: Vec<u8>, open: Opener) -> Result<bool, String> {
    let (tx, rx) = mpsc::channel::<Step>();
    let worker = std::thread::Builder::new()
        .name("damaged dump".into())
        .spawn(move || {
            let _ = tx.send(Step::Start("open".into()));
            let session = match open(fixture, &input) {
                Ok(s) => {
                    let _ = tx.send(Step::Opened);
                    s
                }
                Err(e) => {
                    let _ = tx.send(Step::Error(format!("{e:#}")));
                    return;
                }
            };
            for line in command_lines(&fixture.command_addrs()) {
                let _ = tx.send(Step::Start(line.clone()));
                if let Err(e) = session.execute(&line, &mut std::io::sink()) {
                    let _ = tx.send(Step::Error(format!("{e:#}")));
                }
            }
        })
        .expect("spawn");
    let mut current = String::from("start");
    let mut opened = false;
    loop {
        match rx.recv_timeout(LIMIT) {
            Ok(Step::Start(step)) => current = step,
            Ok(Step::Opened) => opened = true,
            Ok(Step::Error(message)) => {
                if message.trim().is_empty() {
                    return Err(format!("{current}: an error without a message"));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!("{current}: still running after {LIMIT:?}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    worker.join().map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{current}: panicked: {msg}")
    })?;
    Ok(opened)
}

/// The series of cases: the fixture's own seed, moved by `CLRHEAP_ROBUSTNESS_SEED`.
fn series(seed: u64) -> u64 {
    let extra: u64 = std::env::var("CLRHEAP_ROBUSTNESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    seed ^ extra.wrapping_mul(0xd6e8_feb8_6659_fd93)
}

fn damaged(name: &str, seed: u64) {
    let seed = series(seed);
    let fixture: &'static Fixture = Box::leak(Box::new(load(name)));
    let mut failures = Vec::new();
    let mut opened = 0;
    for i in 0..cases() {
        let input = case_input(seed, i);
        match run_case(fixture, input.clone()) {
            Ok(true) => opened += 1,
            Ok(false) => {}
            Err(e) => {
                let dir = std::env::temp_dir().join("clrheap-robustness");
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("{name}-case{i}"));
                let _ = std::fs::write(&file, &input);
                failures.push(format!("{name} case {i} (input {}): {e}", file.display()));
                if e.contains("still running") {
                    break;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Most damage leaves the dump readable: the commands, not only the opening, are tested.
    eprintln!("{name}: {opened} of {} damaged dumps opened", cases());
    assert!(
        opened * 2 >= cases(),
        "{name}: only {opened} of {} damaged dumps opened",
        cases()
    );
}

#[test]
fn damaged_zoo_net8_wks() {
    damaged("zoo-net8-wks-heap", 8);
}

#[test]
fn damaged_zoo_net9_wks() {
    damaged("zoo-net9-wks-heap", 9);
}

#[test]
fn damaged_zoo_net10_svr() {
    damaged("zoo-net10-svr-heap", 10);
}

#[test]
fn damaged_zoo_net10_datas() {
    damaged("zoo-net10-datas-full", 11);
}

#[test]
fn damaged_seed_net8_segments() {
    damaged("seed-net8-segments-heap", 12);
}

/// arm64: the `.xdata` unwinder, arm64 GC info and the arm64 `NT_PRSTATUS` under damage.
#[test]
fn damaged_zoo_arm64_wks() {
    damaged("zoo-arm64-wks-full", 13);
}

#[test]
fn damaged_seed_net10_wks() {
    damaged("seed-net10-wks-heap", 13);
}

/// A dump with no heap (a mini dump) and one with no runtime, damaged the same way.
#[test]
fn damaged_without_heap() {
    for name in ["seed-net9-wks-mini", "no-runtime-sleep"] {
        let ext = if name.starts_with("no-runtime") {
            "core.zst"
        } else {
            "dmp.zst"
        };
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(format!("{name}.{ext}"));
        let compressed = std::fs::read(&path).expect("fixture");
        let mut decoder = zstd::stream::read::Decoder::new(&compressed[..]).expect("zstd");
        decoder.window_log_max(31).expect("window");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut decoder, &mut bytes).expect("decompress");
        let mut rng = Rng(0x5eed);
        for _ in 0..cases() {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.next() % 16 {
                let at = (rng.next() % b.len() as u64) as usize;
                b[at] = rng.next() as u8;
            }
            if rng.next().is_multiple_of(8) {
                b.truncate((rng.next() % b.len() as u64) as usize);
            }
            clrheap::fuzzing::core_bytes(&b);
        }
    }
}

/// Structural damage ([`clrheap::fuzzing::craft_dump`]): notes repeated, `NT_FILE`
/// entries naming the sandbox's FIFO, directory, socket, `/proc` and `/dev` links, modules
/// that match the dump and modules that do not, pages punched out, segment and thread
/// lists and handle tables redirected, lengths changed, memory forged. Each case must
/// return within [`LIMIT`] without a panic.
#[test]
fn crafted_zoo_net8_wks() {
    let fixture: &'static Fixture = Box::leak(Box::new(load("zoo-net8-wks-heap")));
    let mut failures = Vec::new();
    let mut rng = Rng(0xc4af7ed);
    let mut opened = 0;
    for i in 0..cases() {
        let records = 1 + rng.next() % 6;
        let mut input = Vec::new();
        for _ in 0..records {
            input.extend_from_slice(&rng.next().to_le_bytes());
            input.extend_from_slice(&(rng.next() as u32).to_le_bytes());
        }
        match run_case_with(fixture, input.clone(), open_crafted) {
            Ok(o) => opened += o as u32,
            Err(e) => {
                let dir = std::env::temp_dir().join("clrheap-robustness");
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("crafted-case{i}"));
                let _ = std::fs::write(&file, &input);
                failures.push(format!("crafted case {i} (input {}): {e}", file.display()));
                if e.contains("still running") {
                    break;
                }
            }
        }
    }
    eprintln!("crafted: {opened} of {} crafted dumps opened", cases());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Every input the fuzz targets found a bug with, replayed: `tests/fuzz-regressions/TARGET/`
/// (`core_file`, `metadata`, `damaged_dump` and `crafted_dump` of `zoo-net8-wks-heap`).
#[test]
fn fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut fixture: Option<&'static Fixture> = None;
    let mut replayed = 0;
    for target in ["core_file", "metadata", "damaged_dump", "crafted_dump"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(target))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files {
            let input = std::fs::read(&file).expect("read");
            let started = std::time::Instant::now();
            match target {
                "core_file" => clrheap::fuzzing::core_bytes(&input),
                "metadata" => clrheap::fuzzing::metadata_bytes(&input),
                _ => {
                    let f = *fixture
                        .get_or_insert_with(|| Box::leak(Box::new(load("zoo-net8-wks-heap"))));
                    let open: Opener = if target == "crafted_dump" { open_crafted } else { open_damaged };
                    if let Err(e) = run_case_with(f, input, open) {
                        panic!("{}: {e}", file.display());
                    }
                }
            }
            assert!(
                started.elapsed() < LIMIT,
                "{}: took {:?}",
                file.display(),
                started.elapsed()
            );
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no fuzz regressions found under {}",
        dir.display()
    );
}

/// Generic dictionaries damaged into a chain: every argument of the i-th generic type of
/// two or more arguments is the (i+1)-th. A name is then a tree of `2^chain` nodes
/// (`2^17` here; a dump made for it can chain 32, a hang and a name of gigabytes): such a
/// name is refused past a budget of visits and length, and the commands go on.
#[test]
fn generic_dictionaries_chained() {
    let fixture: &'static Fixture = Box::leak(Box::new(load("zoo-net10-svr-heap")));
    let session = open_session(fixture.bytes.clone()).expect("open");
    let heap = &session.heap;
    let space = heap.space();
    let (objects, _) = heap.objects();
    // Every MethodTable on the heap and, transitively, among their type arguments.
    let mut mts: Vec<u64> = objects.iter().map(|o| o.mt).collect();
    let mut i = 0;
    while i < mts.len() && mts.len() < 100_000 {
        if let Ok(args) = heap.generic_args(mts[i]) {
            mts.extend(args.into_iter().filter(|t| t & 2 == 0 && *t != 0));
        }
        i += 1;
        if i == mts.len() || i % 1024 == 0 {
            mts.sort_unstable();
            mts.dedup();
            i = i.min(mts.len());
        }
    }
    mts.sort_unstable();
    mts.dedup();
    // (MethodTable, its dictionary, its argument count)
    let mut chain = Vec::new();
    for &mt in &mts {
        let Ok(args) = heap.generic_args(mt) else {
            continue;
        };
        if args.len() < 2 || args.iter().any(|t| t & 2 != 0) {
            continue;
        }
        let per_inst = space.read_ptr(mt + heap.runtime.layout.method_table.per_inst_info).unwrap();
        let num_dicts = space.read_u16(per_inst - 4).unwrap() as u64;
        let dict = space.read_ptr(per_inst + 8 * (num_dicts - 1)).unwrap();
        chain.push((mt, dict, args.len() as u64));
    }
    let visits: f64 = chain.iter().map(|c| c.2 as f64).product();
    eprintln!(
        "{} generic types chained: {visits:e} visits per name",
        chain.len()
    );
    assert!(
        visits > 1e5,
        "only {} generic types of two arguments",
        chain.len()
    );
    let first = objects.iter().find(|o| o.mt == chain[0].0).unwrap().address;
    drop(session);
    let mut bytes = fixture.bytes.clone();
    for pair in chain.windows(2) {
        let ((_, dict, n), (next, _, _)) = (pair[0], pair[1]);
        for i in 0..n {
            let at = fixture
                .file_offset(dict + 8 * i)
                .expect("the dictionary is captured");
            bytes[at..at + 8].copy_from_slice(&next.to_le_bytes());
        }
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let session = open_session(bytes).expect("open the damaged dump");
        let mt = chain[0].0;
        assert!(
            session.heap.try_type_name(mt).is_none(),
            "a name of {visits:e} nodes"
        );
        assert!(
            session.heap.dac_type_name(mt).is_err(),
            "a DAC name of {visits:e} nodes"
        );
        for line in ["dumpheap -stat".to_string(), format!("dumpobj {first:x}")] {
            let _ = session.execute(&line, &mut std::io::sink());
        }
        let _ = tx.send(());
    });
    rx.recv_timeout(LIMIT)
        .expect("naming chained generic types finishes");
}

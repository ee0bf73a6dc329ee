//! Ctrl-C during the long graph passes (issue 10): the object index, the edges, liveness
//! and the dominator tree poll the cancellation flag, end with a cancellation, and leave
//! nothing cached: the next command computes again and gets the right answer.
//!
//! The flag is process-wide, so this file holds one library test (its own test binary, no
//! other test shares the flag) and one pseudo-terminal test on a large dump.
use clrheap::dump::DumpOptions;
use clrheap::graph::ObjectId;
use clrheap::{interrupt, ErrorKind, Session};
use rexpect::session::spawn_command;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn seed() -> Session {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seed-net10-wks-heap.dmp.zst");
    Session::open(&path, &DumpOptions { dump_only: true, ..Default::default() }).expect("open fixture")
}

/// Every object's retained size.
fn retained(s: &Session) -> Vec<u64> {
    let graph = s.graph().unwrap();
    let dom = s.dominators().unwrap();
    (0..graph.len() as ObjectId).map(|id| dom.retained_size(id)).collect()
}

#[test]
fn a_cancelled_pass_is_not_cached() {
    let want = retained(&seed());
    assert!(want.iter().any(|&r| r > 0));

    let s = seed();
    // Cancelled while indexing the heap: the graph is not kept as a failure.
    interrupt::cancel();
    let e = s.graph().err().expect("the walk stops once cancelled");
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e:#}");
    interrupt::reset();
    s.graph().expect("indexed once Ctrl-C is forgotten");
    s.roots().expect("roots");

    // Cancelled in the edges / dominator pass, then in marking.
    interrupt::cancel();
    let e = s.dominators().err().expect("the dominator pass stops once cancelled");
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e:#}");
    let e = s.liveness().err().expect("marking stops once cancelled");
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e:#}");
    // A command that needs them says so and is cancelled too.
    let mut out = Vec::new();
    let e = s.execute("retained -top 3", &mut out).err().expect("retained is cancelled");
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e:#}");
    interrupt::reset();

    // Computed again, whole.
    assert_eq!(retained(&s), want, "the recomputed retained sizes");
    s.liveness().expect("liveness computed again");
    let mut out = Vec::new();
    s.execute("retained -top 3", &mut out).expect("retained after a cancellation");
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Retained Type"), "{text}");
}

/// The large dump of `CLRHEAP_BIG_DUMP` (1 GB heap: retained takes ~8 s).
fn big_dump() -> PathBuf {
    PathBuf::from(std::env::var_os("CLRHEAP_BIG_DUMP").expect("set CLRHEAP_BIG_DUMP to a large dump"))
}

/// At the prompt, Ctrl-C during `retained`'s dominator pass answers at once, and the next
/// `retained` prints what a one-shot run prints.
#[test]
#[ignore = "needs a large dump: CLRHEAP_BIG_DUMP=/work/fresh/perf/big1024.dmp cargo test --release --test cancel -- --ignored"]
fn ctrl_c_during_retained_at_the_prompt() {
    let dump = big_dump();
    let bin = env!("CARGO_BIN_EXE_clrheap");
    let one_shot = Command::new(bin).args(["analyze", "-q"]).arg(&dump).args(["-c", "retained -top 5"]).output().unwrap();
    assert!(one_shot.status.success());
    let want = String::from_utf8(one_shot.stdout).unwrap();
    let want_rows: Vec<&str> = want.lines().filter(|l| !l.trim().is_empty()).collect();

    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("analyze").arg(&dump).env("XDG_STATE_HOME", state.path()).env("TERM", "xterm");
    let mut s = spawn_command(cmd, Some(300_000)).expect("spawn clrheap in a pty");
    s.exp_string("Type 'help'").unwrap();
    for phase in ["reading the heap's references", "computing dominators"] {
        s.send_line("retained -top 5").unwrap();
        s.exp_string(phase).expect("the pass's progress bar");
        std::thread::sleep(Duration::from_millis(300));
        let pressed = Instant::now();
        s.send_control('c').unwrap();
        s.exp_string("cancelled").expect("cancelled");
        let took = pressed.elapsed();
        // ~0.05 s on an idle machine; generous for a loaded one.
        assert!(took < Duration::from_secs(2), "{phase}: cancelled after {took:?}");
        eprintln!("{phase}: cancelled after {took:?}");
    }
    s.send_line("retained -top 5").unwrap();
    for row in &want_rows {
        s.exp_string(row).expect("the same answer as a one-shot run");
    }
    s.send_line("exit").unwrap();
    s.exp_eof().unwrap();
}

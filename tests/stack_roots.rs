//! Precise stack roots against ClrMD's: the `Stack` rows of every lab dump's `roots.tsv`
//! (slot address, object, thread; and the frame's name), plus the conservative scan's
//! superset property.
mod common;

use clrheap::commands::Session;
use clrheap::dump::DumpOptions;
use clrheap::runtime::stack::{all_stack_roots, conservative_stack_roots, StackWalk};
use common::*;
use std::collections::{BTreeSet, HashSet};

type Row = (u64, u64, u32);

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or_else(|_| panic!("bad hex {s:?}"))
}

#[test]
fn stack_roots_match_clrmd() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, dump, truth) in lab_dumps("stack_roots_match_clrmd") {
        let session = Session::open(&dump, &DumpOptions::default()).expect("open dump");
        let heap = &session.heap;
        let rt = &heap.runtime;
        let types = |mt: u64| Some(heap.type_name(mt).to_string());
        let walk = StackWalk::new(rt).expect("stack walker").with_type_names(&types);
        let mut ours: BTreeSet<Row> = BTreeSet::new();
        let mut names: HashSet<(u64, u64, String)> = HashSet::new();
        for t in &heap.threads {
            let stack = match walk.thread(t) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{name}: thread {:x}: {e:#}", t.os_id));
                    continue;
                }
            };
            for r in stack.roots {
                let slot = r.slot.unwrap_or(0);
                ours.insert((slot, r.object, r.os_thread_id));
                names.insert((slot, r.object, r.method_name.unwrap_or_default()));
            }
        }
        let mut want: BTreeSet<Row> = BTreeSet::new();
        let mut want_names = HashSet::new();
        for row in read_tsv(&truth.join("roots.tsv")) {
            if row[0] != "Stack" {
                continue;
            }
            let r = (hex(&row[1]), hex(&row[2]), hex(&row[6]) as u32);
            want.insert(r);
            want_names.insert((r.0, r.1, row[8].clone()));
        }
        let missing: Vec<_> = want.difference(&ours).collect();
        let extra: Vec<_> = ours.difference(&want).collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!(
                "{name}: {} stack roots, want {}; missing {:x?}; extra {:x?}",
                ours.len(),
                want.len(),
                missing,
                extra
            ));
        }
        let wrong_names: Vec<_> = want_names.difference(&names).collect();
        if !wrong_names.is_empty() && missing.is_empty() {
            failures.push(format!("{name}: frame names differ: want {wrong_names:x?}"));
        }
        checked += 1;

        // The tolerant per-dump entry gives the same, without warnings.
        let report = all_stack_roots(rt, &heap.threads, None);
        let all: BTreeSet<Row> = report.roots.iter().map(|r| (r.slot.unwrap_or(0), r.object, r.os_thread_id)).collect();
        if all != ours {
            failures.push(format!("{name}: all_stack_roots differs from per-thread walks"));
        }
        if !report.warnings.is_empty() {
            failures.push(format!("{name}: warnings: {:?}", report.warnings));
        }

        // The conservative scan finds every precise root (slot and object).
        let starts: HashSet<u64> = {
            let (objects, _) = heap.objects();
            objects.iter().filter(|o| o.mt != rt.globals.free_mt).map(|o| o.address).collect()
        };
        assert!(!starts.is_empty(), "{name}: no objects");
        let is_object = |v: u64| starts.contains(&v);
        let mut conservative = 0;
        for t in &heap.threads {
            let cons: HashSet<(u64, u64)> = match conservative_stack_roots(rt, t, &is_object) {
                Ok(r) => {
                    conservative += r.len();
                    r.iter().map(|r| (r.slot.unwrap_or(0), r.object)).collect()
                }
                Err(_) => continue,
            };
            for r in want.iter().filter(|r| r.2 == t.os_id) {
                if !cons.contains(&(r.0, r.1)) {
                    failures.push(format!("{name}: conservative scan misses {:x} -> {:x}", r.0, r.1));
                }
            }
        }
        eprintln!("{name}: {} precise stack roots (ClrMD {}), {conservative} conservative", ours.len(), want.len());
    }
    eprintln!("stack roots checked on {checked} dumps");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! The object graph, its roots and liveness, checked against the lab's truth files:
//! `refs.tsv` (every object's references, in order), `handles.tsv`, `roots.tsv` and
//! dotnet-dump's `dumpheap -live -stat` / `-dead -stat`.
//!
//! Skipped with a notice when the lab is not unpacked, unless `CLRHEAP_REQUIRE_LAB=1`.
//! Set `CLRHEAP_EXTRA_DUMPS=/work/fresh-dumps` to run over more dumps.
mod common;

use clrheap::commands::Session;
use clrheap::dump::DumpOptions;
use std::collections::HashMap;
use std::path::Path;

fn open(dump: &Path) -> Session {
    Session::open(dump, &DumpOptions::default()).unwrap_or_else(|e| panic!("open {}: {e:#}", dump.display()))
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or_else(|_| panic!("bad hex {s:?}"))
}

#[test]
fn references_match_refs_tsv() {
    let mut failures = Vec::new();
    for (name, dump, truth) in common::lab_dumps("references_match_refs_tsv") {
        let refs_path = truth.join("refs.tsv");
        if !refs_path.exists() {
            continue;
        }
        let want: HashMap<u64, Vec<u64>> = common::read_tsv(&refs_path)
            .into_iter()
            .map(|r| (hex(&r[0]), r[1].split(',').map(hex).collect()))
            .collect();
        let session = open(&dump);
        let heap = &session.heap;
        let (objects, _) = heap.objects();
        let free = heap.runtime.globals.free_mt;
        let mut got = HashMap::new();
        for o in objects.iter().filter(|o| o.mt != free) {
            let refs = heap.references(o.address, o.mt, o.size).expect("references");
            if !refs.is_empty() {
                got.insert(o.address, refs);
            }
        }
        let mut bad = 0;
        for (obj, w) in &want {
            if got.get(obj) != Some(w) {
                if bad < 3 {
                    eprintln!("{name}: object {obj:x}: got {:x?}, want {w:x?}", got.get(obj));
                }
                bad += 1;
            }
        }
        let extra = got.keys().filter(|k| !want.contains_key(k)).count();
        eprintln!("{name}: {} objects with references, {bad} differ, {extra} extra", want.len());
        if bad > 0 || extra > 0 {
            failures.push(name);
        }
    }
    assert!(failures.is_empty(), "references differ on {failures:?}");
}

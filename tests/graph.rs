//! The object graph, its roots and liveness, checked against the lab's truth files:
//! `refs.tsv` (every object's references, in order), `handles.tsv`, `roots.tsv` and
//! dotnet-dump's `dumpheap -live -stat` / `-dead -stat`.
//!
//! Skipped with a notice when the lab is not unpacked, unless `CLRHEAP_REQUIRE_LAB=1`.
//! Set `CLRHEAP_EXTRA_DUMPS=/work/fresh-dumps` to run over more dumps.
mod common;

use clrheap::Session;
use clrheap::dump::DumpOptions;
use std::collections::HashMap;
use std::path::Path;

fn open(dump: &Path) -> Session {
    Session::open(dump, &DumpOptions::default())
        .unwrap_or_else(|e| panic!("open {}: {e:#}", dump.display()))
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or_else(|_| panic!("bad hex {s:?}"))
}

/// `refs.tsv` as object -> its references, when the truth has it.
fn read_refs(truth: &Path) -> Option<HashMap<u64, Vec<u64>>> {
    let path = truth.join("refs.tsv");
    path.exists().then(|| {
        common::read_tsv(&path)
            .into_iter()
            .map(|r| (hex(&r[0]), r[1].split(',').map(hex).collect()))
            .collect()
    })
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn references_match_refs_tsv() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("references_match_refs_tsv") {
        checks.run(&name, "refs", || {
        let Some(want) = read_refs(&truth) else {
            return Err("no ClrMD truth (refs.tsv)".into());
        };
        let session = open(&dump);
        let heap = &session.heap;
        let (objects, _) = heap.objects();
        let free = heap.runtime.globals.free_mt;
        let mut got = HashMap::new();
        for o in objects.iter().filter(|o| o.mt != free) {
            let refs = heap
                .references(o.address, o.mt, o.size)
                .expect("references");
            if !refs.is_empty() {
                got.insert(o.address, refs);
            }
        }
        let mut bad = 0;
        for (obj, w) in &want {
            if got.get(obj) != Some(w) {
                if bad < 3 {
                    eprintln!(
                        "{name}: object {obj:x}: got {:x?}, want {w:x?}",
                        got.get(obj)
                    );
                }
                bad += 1;
            }
        }
        let extra = got.keys().filter(|k| !want.contains_key(k)).count();
        eprintln!(
            "{name}: {} objects with references, {bad} differ, {extra} extra",
            want.len()
        );
        if bad > 0 || extra > 0 {
            return Err(format!("{bad} objects' references differ, {extra} extra"));
        }
        Ok(())
        });
    }
    checks.finish("references_match_refs_tsv");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn handles_match_handles_tsv() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("handles_match_handles_tsv") {
        checks.run(&name, "handles", || {
        common::truth_text(&truth.join("handles.tsv"))?;
        let want: Vec<(u64, String, bool, u64, u64)> = common::read_tsv(&truth.join("handles.tsv"))
            .into_iter()
            .map(|r| {
                (
                    hex(&r[0]),
                    r[1].clone(),
                    r[2] == "True",
                    hex(&r[3]),
                    hex(&r[5]),
                )
            })
            .collect();
        let session = open(&dump);
        let handles = session.heap.handles().expect("handles");
        let got: Vec<(u64, String, bool, u64, u64)> = handles
            .iter()
            .map(|h| {
                (
                    h.address,
                    h.kind.clrmd_name(),
                    h.is_strong_for_sos(),
                    h.object,
                    h.dependent().unwrap_or(0),
                )
            })
            .collect();
        if got == want {
            eprintln!("{name}: {} handles match", got.len());
            return Ok(());
        }
        // The oracle reads only the slots of active heaps (RESEARCH §1a): every handle it
        // lists must be ours, in the same relative order; ours may have more.
        let mut it = got.iter();
        let subsequence = want.iter().all(|w| it.any(|g| g == w));
        let from_active = handles
            .iter()
            .filter(|h| {
                got.contains(&(
                    h.address,
                    h.kind.clrmd_name(),
                    h.is_strong_for_sos(),
                    h.object,
                    h.dependent().unwrap_or(0),
                ))
            })
            .count();
        eprintln!(
            "{name}: {} handles, truth has {} (ours in truth order: {subsequence}; {from_active})",
            got.len(),
            want.len()
        );
        if !subsequence || got.len() < want.len() {
            for (g, w) in got.iter().zip(&want).filter(|(g, w)| g != w).take(3) {
                eprintln!("  got {g:x?}\n  want {w:x?}");
            }
            return Err(format!("{} handles, the truth's {}", got.len(), want.len()));
        }
        Ok(())
        });
    }
    checks.finish("handles_match_handles_tsv");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn finalizer_roots_match_roots_tsv() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("finalizer_roots_match_roots_tsv") {
        checks.run(&name, "finalizer-roots", || {
        common::truth_text(&truth.join("roots.tsv"))?;
        let want: Vec<(u64, u64)> = common::read_tsv(&truth.join("roots.tsv"))
            .into_iter()
            .filter(|r| r[0] == "FinalizerQueue")
            .map(|r| (hex(&r[1]), hex(&r[2])))
            .collect();
        let session = open(&dump);
        let got: Vec<(u64, u64)> = session
            .heap
            .finalizer_roots()
            .expect("finalizer roots")
            .iter()
            .map(|r| (r.address, r.object))
            .collect();
        if got != want {
            return Err(format!("{} finalizer roots, want {}", got.len(), want.len()));
        }
        Ok(())
        });
    }
    checks.finish("finalizer_roots_match_roots_tsv");
}

/// `MT -> (count, total size)` from a `dumpheap -stat` text (from its `Statistics:` line).
fn stat_rows(text: &str) -> HashMap<u64, (u64, u64)> {
    let num = |s: &str| s.replace(',', "").parse::<u64>().unwrap_or(0);
    text.lines()
        .skip_while(|l| !l.starts_with("Statistics:"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let mt = u64::from_str_radix(f.first()?, 16).ok()?;
            Some((mt, (num(f.get(1)?), num(f.get(2)?))))
        })
        .collect()
}

fn run(session: &Session, command: &str) -> String {
    let mut out = Vec::new();
    session
        .execute(command, &mut out)
        .unwrap_or_else(|e| panic!("{command}: {e:#}"));
    String::from_utf8(out).expect("utf-8")
}

/// dotnet-dump's `-live` uses precise stack roots; clrheap scans stacks conservatively,
/// so it may keep more objects alive, never fewer: per type, clrheap's live count is at
/// least dotnet-dump's, and live + dead is the whole heap. Where dotnet-dump reads only
/// the handle tables of active heaps (DATAS), it finds fewer live objects and the
/// per-type check does not apply. Prints, per dump, how far the two are apart.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn live_and_dead_stat_against_dotnet_dump() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("live_and_dead_stat_against_dotnet_dump") {
        if common::sos_failed(&truth, "dumpheap -live") {
            checks.no_reference(&name, "live-dead-stat", "dotnet-dump crashed on dumpheap -live (FAILED.txt)");
            continue;
        }
        checks.run(&name, "live-dead-stat", || {
        let want_live = common::truth_text(&truth.join("sos/dumpheap-live-stat.txt"))?;
        let want_dead = common::truth_text(&truth.join("sos/dumpheap-dead-stat.txt"))?;
        let session = open(&dump);
        let live_text = run(&session, "dumpheap -live -stat");
        let dead_text = run(&session, "dumpheap -dead -stat");
        let all = stat_rows(&run(&session, "dumpheap -stat"));
        let (live, dead) = (stat_rows(&live_text), stat_rows(&dead_text));
        let (want_live, want_dead) = (stat_rows(&want_live), stat_rows(&want_dead));
        let total =
            |m: &HashMap<u64, (u64, u64)>| m.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
        let (ours, theirs) = (total(&live), total(&want_live));
        let exact = common::compare_sos_text(
            &live_text,
            &std::fs::read_to_string(truth.join("sos/dumpheap-live-stat.txt")).unwrap_or_default()
                [..]
                .split_once("Statistics:")
                .map(|(_, t)| format!("Statistics:{t}"))
                .unwrap_or_default(),
        )
        .is_ok();
        let handles = open(&dump).heap.handles().map(|h| h.len()).unwrap_or(0);
        // Without ClrMD's handles.tsv (ops, oom), dotnet-dump is taken to see every handle.
        let truth_handles = if truth.join("handles.tsv").exists() {
            common::read_tsv(&truth.join("handles.tsv")).len()
        } else {
            handles
        };
        let sos_missed_handles = handles > truth_handles;
        let missing: Vec<u64> = want_live
            .iter()
            .filter(|(mt, (c, _))| live.get(mt).map_or(0, |x| x.0) < *c)
            .map(|(mt, _)| *mt)
            .collect();
        let sum_ok = all.iter().all(|(mt, (c, s))| {
            let l = live.get(mt).copied().unwrap_or((0, 0));
            let d = dead.get(mt).copied().unwrap_or((0, 0));
            l.0 + d.0 == *c && l.1 + d.1 == *s
        });
        eprintln!(
            "{name}: live {} objects / {} bytes, dotnet-dump {} / {} (+{} objects, +{} bytes){}{}; dead {} vs {}",
            ours.0,
            ours.1,
            theirs.0,
            theirs.1,
            ours.0 as i64 - theirs.0 as i64,
            ours.1 as i64 - theirs.1 as i64,
            if exact { ", identical text" } else { "" },
            if sos_missed_handles {
                ", dotnet-dump misses handles"
            } else {
                ""
            },
            total(&dead).0,
            total(&want_dead).0,
        );
        if !sum_ok || (!sos_missed_handles && !missing.is_empty()) || ours.0 < theirs.0 {
            return Err(format!(
                "live+dead == all: {sum_ok}; types with fewer live objects than dotnet-dump: {missing:x?}"
            ));
        }
        Ok(())
        });
    }
    checks.finish("live_and_dead_stat_against_dotnet_dump");
}

/// The graph's edges are the references of `refs.tsv` (as object ids, in order),
/// followed for collectible types by the LoaderAllocator object, which is the target of
/// the `WeakLong` handle to `System.Reflection.LoaderAllocator`.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn graph_edges_are_refs_plus_loader_allocator() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("graph_edges_are_refs_plus_loader_allocator") {
        checks.run(&name, "graph-edges", || {
        let Some(want) = read_refs(&truth) else {
            return Err("no ClrMD truth (refs.tsv)".into());
        };
        let session = open(&dump);
        let graph = session.graph().expect("graph");
        let edges = graph.edges(&session.heap).expect("edges");
        // The LoaderAllocator objects held by handles: the truth's, and ours (on DATAS
        // dumps the oracle misses the handle tables of inactive heaps).
        let mut la_handles: Vec<u64> = common::read_tsv(&truth.join("handles.tsv"))
            .into_iter()
            .filter(|r| r[4] == "System.Reflection.LoaderAllocator")
            .map(|r| hex(&r[3]))
            .collect();
        for h in session.heap.handles().expect("handles") {
            if let Some(id) = graph.id_of(h.object)
                && &*session.heap.type_name(graph.mt(id)) == "System.Reflection.LoaderAllocator"
            {
                la_handles.push(h.object);
            }
        }
        let mut bad = 0;
        let mut collectible = 0;
        for id in 0..graph.len() as u32 {
            let addr = graph.address(id);
            let mut expect: Vec<u64> = want.get(&addr).cloned().unwrap_or_default();
            expect.retain(|&a| graph.id_of(a).is_some());
            if let Some(la) = graph.type_of(id).loader_allocator {
                collectible += 1;
                if !la_handles.contains(&la) {
                    eprintln!(
                        "{name}: {addr:x}'s LoaderAllocator {la:x} is not a handle target {la_handles:x?}"
                    );
                    bad += 1;
                }
                expect.push(la);
            }
            let got: Vec<u64> = edges
                .references(id)
                .iter()
                .map(|&r| graph.address(r))
                .collect();
            if got != expect {
                bad += 1;
            }
        }
        eprintln!(
            "{name}: {} objects, {} edges, {} unresolved, {collectible} of collectible types, {bad} differ",
            graph.len(),
            edges.len(),
            edges.unresolved()
        );
        if bad > 0 || (name.starts_with("zoo") && collectible == 0) {
            return Err(format!("{bad} objects' edges differ, {collectible} of collectible types"));
        }
        Ok(())
        });
    }
    checks.finish("graph_edges_are_refs_plus_loader_allocator");
}

/// dotnet-dump's `-live -stat` and `-dead -stat`, whole, as clrheap's liveness predicts them
/// once dotnet-dump's three known errors are put back (README, "Where clrheap and
/// dotnet-dump disagree"): it knows no thread-static roots (9, 10), it does not follow a
/// collectible object to its LoaderAllocator (8), and under DATAS it reads only the
/// handles of the heaps active at dump time (those of `handles.tsv`). Every row of its
/// statistics (MethodTable, count, size) must then be clrheap's, and nothing more, on every
/// dump: the differences between the two tools are those errors and nothing else. (8.0.0 is
/// held to this as 8.0.33 is.)
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn live_and_dead_stat_are_dotnet_dumps_but_for_its_known_errors() {
    use clrheap::graph::ObjectId;
    use clrheap::heap::RootKind;
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("live_and_dead_stat_are_dotnet_dumps_but_for_its_known_errors") {
        if common::sos_failed(&truth, "dumpheap -live") {
            checks.no_reference(&name, "live-dead-model", "dotnet-dump failed on dumpheap -live");
            continue;
        }
        checks.run(&name, "live-dead-model", || {
            let want_live = common::truth_text(&truth.join("sos/dumpheap-live-stat.txt"))?;
            let want_dead = common::truth_text(&truth.join("sos/dumpheap-dead-stat.txt"))?;
            let session = open(&dump);
            // The handles dotnet-dump saw (ClrMD's); all of them where the truth has none
            // (dumps the oracle crashes on are not DATAS dumps).
            let known: Option<std::collections::HashSet<u64>> = truth
                .join("handles.tsv")
                .exists()
                .then(|| common::read_tsv(&truth.join("handles.tsv")).iter().map(|r| hex(&r[0])).collect());
            if known.is_none() && session.heap.runtime.gc.dynamic_adaptation_mode == Some(1) {
                return Err("a DATAS dump without ClrMD's handles.tsv".into());
            }
            let known_handle = |a: u64| known.as_ref().is_none_or(|k| k.contains(&a));
            let graph = session.graph().map_err(|e| e.to_string())?;
            let edges = graph.edges(&session.heap).map_err(|e| e.to_string())?;
            let roots = session.roots().map_err(|e| e.to_string())?;
            let seen_handle = |r: &clrheap::heap::Root| !matches!(r.kind, RootKind::Handle(_)) || known_handle(r.address);
            let model_roots: Vec<_> = roots
                .all_roots()
                .into_iter()
                .filter(|r| !matches!(r.kind, RootKind::ThreadStatic { .. }) && seen_handle(r))
                .collect();
            let handles = session.heap.handles().map_err(|e| e.to_string())?;
            let deps: Vec<(ObjectId, ObjectId)> = handles
                .iter()
                .filter(|h| h.kind == clrheap::heap::HandleKind::Dependent && known_handle(h.address))
                .filter_map(|h| Some((graph.id_of(h.object)?, graph.id_of(h.extra)?)))
                .collect();
            // Marking without the LoaderAllocator edge (the last one of a collectible object).
            let n = graph.len();
            let mut live = vec![false; n];
            let mut stack: Vec<ObjectId> = Vec::new();
            for r in &model_roots {
                if let Some(id) = graph.id_of(r.object).filter(|&id| !graph.is_free(id))
                    && !live[id as usize]
                {
                    live[id as usize] = true;
                    stack.push(id);
                }
            }
            loop {
                while let Some(id) = stack.pop() {
                    let refs = edges.references(id);
                    let refs = match graph.type_of(id).loader_allocator {
                        Some(la) if refs.last().is_some_and(|&l| graph.address(l) == la) => &refs[..refs.len() - 1],
                        _ => refs,
                    };
                    for &r in refs {
                        if !live[r as usize] {
                            live[r as usize] = true;
                            stack.push(r);
                        }
                    }
                }
                for &(p, s) in &deps {
                    if live[p as usize] && !live[s as usize] {
                        live[s as usize] = true;
                        stack.push(s);
                    }
                }
                if stack.is_empty() {
                    break;
                }
            }
            let mut model: [HashMap<u64, (u64, u64)>; 2] = [HashMap::new(), HashMap::new()];
            // Free objects are in dotnet-dump's `-dead` listing.
            for id in 0..n as ObjectId {
                let e = model[usize::from(!live[id as usize])].entry(graph.mt(id)).or_default();
                e.0 += 1;
                e.1 += graph.size(id);
            }
            let mut problems = Vec::new();
            for (which, want, got) in [("live", &want_live, &model[0]), ("dead", &want_dead, &model[1])] {
                let want = stat_rows(want);
                let mut mts: Vec<u64> = want.keys().chain(got.keys()).copied().collect();
                mts.sort_unstable();
                mts.dedup();
                for mt in mts {
                    let (w, g) = (want.get(&mt).copied().unwrap_or_default(), got.get(&mt).copied().unwrap_or_default());
                    if w != g {
                        problems.push(format!("-{which} {mt:x} {}: dotnet-dump {w:?}, predicted {g:?}", session.heap.type_name(mt)));
                    }
                }
            }
            if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
        });
    }
    checks.finish("live_and_dead_stat_are_dotnet_dumps_but_for_its_known_errors");
}

/// `dumpheap -live` in a fresh session marks by address, without the object table
/// (`graph::marks`); once the session has the table it marks over the table
/// (`graph::live`). The two live sets are the same object for object (the full listings
/// of `-live` and `-dead` are compared, with the warnings), on every lab dump. And
/// `-live -stat` in the fresh session, which takes the per-type counts the marking made
/// instead of walking the heap again, prints what the walk filtered by the table's live
/// set prints: same rows, same order (ties in size or count keep the walk's first-seen order).
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn live_set_by_address_is_the_object_tables() {
    let checks = common::Checks::new();
    for (name, dump, _) in common::lab_dumps("live_set_by_address_is_the_object_tables") {
        checks.run(&name, "live-by-address", || {
            let by_address = open(&dump);
            let counted = run(&by_address, "dumpheap -live -stat") + &run(&by_address, "dumpheap -live -stat -bycount");
            match by_address.live_view().map_err(|e| format!("{e:#}"))? {
                clrheap::graph::live::LiveView::Marks(m) if m.types().is_some() => {}
                _ => return Err("a fresh session's -live -stat did not take the marking's counts".into()),
            }
            let marks = (run(&by_address, "dumpheap -live -short"), run(&by_address, "dumpheap -dead -short"));
            let by_table = open(&dump);
            by_table.liveness().map_err(|e| format!("{e:#}"))?;
            let table = (run(&by_table, "dumpheap -live -short"), run(&by_table, "dumpheap -dead -short"));
            if marks.0 != table.0 {
                return Err("-live listings differ".into());
            }
            if marks.1 != table.1 {
                return Err("-dead listings differ".into());
            }
            let walked = run(&by_table, "dumpheap -live -stat") + &run(&by_table, "dumpheap -live -stat -bycount");
            if counted != walked {
                return Err(format!("-live -stat differs:\n--- counted while marking\n{counted}\n--- walked\n{walked}"));
            }
            let warned = |s: &Session| {
                let mut w: Vec<String> = s.warnings.take().into_iter().map(|m| m.text).collect();
                w.sort();
                w
            };
            let (a, b) = (warned(&by_address), warned(&by_table));
            if a != b {
                return Err(format!("warnings differ: {a:?} vs {b:?}"));
            }
            Ok(())
        });
    }
    checks.finish("live_set_by_address_is_the_object_tables");
}

/// The object table from one walk (the usual way) is the one from two walks (the fallback
/// when no scratch can be mapped): same objects, types, sizes and address lookups.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn one_walk_table_is_the_two_walks_table() {
    use clrheap::graph::ObjectGraph;
    let checks = common::Checks::new();
    for (name, dump, _truth) in common::lab_dumps("one_walk_table_is_the_two_walks_table") {
        checks.run(&name, "graph-table", || {
            let session = open(&dump);
            let one = ObjectGraph::build(&session.heap).map_err(|e| format!("{e:#}"))?;
            let two = ObjectGraph::build_in_two_walks(&session.heap).map_err(|e| format!("{e:#}"))?;
            if one.addresses() != two.addresses() {
                return Err("the addresses differ".into());
            }
            for id in 0..one.len() as u32 {
                let a = one.address(id);
                if one.mt(id) != two.mt(id) || one.type_index(id as u32) != two.type_index(id) || one.size(id) != two.size(id) {
                    return Err(format!("object {a:x} differs"));
                }
                if one.id_of(a) != Some(id) || one.id_of(a + 8) != two.id_of(a + 8) || one.id_of(a + 1).is_some() {
                    return Err(format!("the lookup of {a:x} differs"));
                }
            }
            Ok(())
        });
    }
    checks.finish("one_walk_table_is_the_two_walks_table");
}

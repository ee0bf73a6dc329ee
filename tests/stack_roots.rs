//! Precise stack roots against ClrMD's: the `Stack` rows of every lab dump's `roots.tsv`
//! (slot address, object, thread; and the frame's name), plus the conservative scan's
//! superset property.
mod common;

use clrheap::Session;
use clrheap::dump::DumpOptions;
use clrheap::runtime::stack::{all_stack_roots, conservative_stack_roots, StackWalk};
use common::*;
use std::collections::{BTreeSet, HashSet};

type Row = (u64, u64, u32);

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or_else(|_| panic!("bad hex {s:?}"))
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn stack_roots_match_clrmd() {
    let checks = common::Checks::new();
    for (name, dump, truth) in lab_dumps("stack_roots_match_clrmd") {
        checks.run(&name, "stack-roots", || {
        let mut failures: Vec<String> = Vec::new();
        common::truth_text(&truth.join("roots.tsv"))?;
        let session = Session::open(&dump, &DumpOptions::default()).map_err(|e| format!("open: {e:#}"))?;
        let heap = &session.heap;
        let rt = &heap.runtime;
        let types = |mt: u64| Some(heap.type_name(mt).to_string());
        let walk = StackWalk::new(rt).expect("stack walker").with_type_names(&types);
        // ClrMD reports an interior reference as the object holding it (the last object
        // starting at or before it).
        let mut starts: Vec<u64> = {
            let (objects, _) = heap.objects();
            objects.iter().filter(|o| o.mt != rt.globals.free_mt).map(|o| o.address).collect()
        };
        starts.sort_unstable();
        let holder = |v: u64| starts.partition_point(|&s| s <= v).checked_sub(1).map_or(v, |i| starts[i]);
        let mut ours: BTreeSet<Row> = BTreeSet::new();
        // Walk order, which gcroot prints in: (slot, object, thread) as reported.
        let mut ours_seq: Vec<Row> = Vec::new();
        let mut names: HashSet<(u64, u64, String)> = HashSet::new();
        // What gcroot's `Thread` sections print: frame SP, IP, name, `reg±off:`, slot.
        let mut lines: HashSet<(u64, u64, String, String, u64)> = HashSet::new();
        for t in &heap.threads {
            let stack = match walk.thread(t) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{name}: thread {:x}: {e:#}", t.os_id));
                    continue;
                }
            };
            for r in stack.roots {
                // A root held in a register: ClrMD gives it no address (the DAC reports the
                // register, not where a callee saved it); clrheap keeps the save slot.
                let in_register = r.register.is_some() && r.offset.is_none();
                let slot = if in_register { 0 } else { r.slot.unwrap_or(0) };
                let object = if r.interior { holder(r.object) } else { r.object };
                ours.insert((slot, object, r.os_thread_id));
                ours_seq.push((slot, object, r.os_thread_id));
                let reg = match (r.register, r.offset) {
                    (Some(reg), Some(off)) if off < 0 => format!("{reg}-{:x}", -(off as i64)),
                    (Some(reg), Some(off)) => format!("{reg}+{off:x}"),
                    _ => String::new(),
                };
                let method = r.method_name.unwrap_or_default();
                lines.insert((r.frame_sp, r.frame_ip, method.clone(), reg, slot));
                names.insert((slot, object, method));
            }
        }
        let mut want: BTreeSet<Row> = BTreeSet::new();
        let mut want_seq: Vec<Row> = Vec::new();
        let mut want_names = HashSet::new();
        // Interior references: the conservative scan looks for object starts only.
        let mut want_interior: HashSet<Row> = HashSet::new();
        for row in read_tsv(&truth.join("roots.tsv")) {
            if row[0] != "Stack" {
                continue;
            }
            let r = (hex(&row[1]), hex(&row[2]), hex(&row[6]) as u32);
            if row[4] == "True" {
                want_interior.insert(r);
            }
            want.insert(r);
            want_seq.push(r);
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
        // ClrMD's enumeration order (roots.tsv is in it), which decides gcroot's order.
        if missing.is_empty() && extra.is_empty() && ours_seq != want_seq {
            failures.push(format!("{name}: stack roots in another order: {ours_seq:x?}\nwant {want_seq:x?}"));
        }
        let gcroot_lines = gcroot_stack_lines(&truth);
        for (sp, ip, method, reg, slot) in gcroot_lines.iter().cloned() {
            if !lines.contains(&(sp, ip, method.clone(), reg.clone(), slot)) {
                failures.push(format!("{name}: no root for gcroot's line {sp:x} {ip:x} {method} {reg}: {slot:x}"));
            }
        }
        let wrong_names: Vec<_> = want_names.difference(&names).collect();
        if !wrong_names.is_empty() && missing.is_empty() {
            failures.push(format!("{name}: frame names differ: want {wrong_names:x?}"));
        }

        // The tolerant per-dump entry gives the same, without warnings.
        let report = all_stack_roots(rt, &heap.threads, None);
        let all: BTreeSet<Row> = report
            .roots
            .iter()
            .map(|r| (r.slot.unwrap_or(0), if r.interior { holder(r.object) } else { r.object }, r.os_thread_id))
            .collect();
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
            for r in want.iter().filter(|r| r.2 == t.os_id && !want_interior.contains(r)) {
                if !cons.contains(&(r.0, r.1)) {
                    failures.push(format!("{name}: conservative scan misses {:x} -> {:x}", r.0, r.1));
                }
            }
        }
        eprintln!(
            "{name}: {} precise stack roots (ClrMD {}), {} gcroot frame lines, {conservative} conservative",
            ours.len(),
            want.len(),
            gcroot_lines.len()
        );
        if failures.is_empty() { Ok(()) } else { Err(failures.join("\n")) }
        });
    }
    checks.finish("stack_roots_match_clrmd");
}

/// The stack lines of every `gcroot-*.txt`: `    SP IP Method` followed by `        reg-off: SLOT`.
fn gcroot_stack_lines(truth: &std::path::Path) -> Vec<(u64, u64, String, String, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(truth.join("sos")).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        if !file.starts_with("gcroot-") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let mut frame: Option<(u64, u64, String)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("    ")
                && !rest.starts_with(' ')
            {
                let mut parts = rest.splitn(3, ' ');
                frame = match (parts.next(), parts.next(), parts.next()) {
                    (Some(sp), Some(ip), Some(m)) => match (u64::from_str_radix(sp, 16), u64::from_str_radix(ip, 16)) {
                        (Ok(sp), Ok(ip)) => Some((sp, ip, m.to_string())),
                        _ => None,
                    },
                    _ => None,
                };
            } else if let Some(rest) = line.strip_prefix("        ")
                && let Some((reg, slot)) = rest.split_once(": ")
                && let Some((sp, ip, m)) = &frame
                && let Ok(slot) = u64::from_str_radix(slot.trim(), 16)
            {
                out.push((*sp, *ip, m.clone(), reg.to_string(), slot));
            }
        }
    }
    out
}

/// One walker, two views: every precise stack root the walk reports is reported by a
/// frame `clrstack -all -a` prints (a managed frame by its child SP and IP, a runtime
/// Frame by its address), and `clrstack -all -a` is dotnet-dump's text where the lab has
/// it. Run on the lab's ops, zoo and seed dumps (the threads of every kind: blocked,
/// spinning, in funclets, 40 generic frames deep, in native code behind Frames).
#[test]
fn stack_roots_are_the_frames_clrstack_shows() {
    let Some(lab) = lab_dir() else { return };
    let expected = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/threads");
    let checks = common::Checks::new();
    let mut total = 0usize;
    for scenario in ["ops", "zoo", "seed"] {
        for v in ["8", "9", "10"] {
            let name = format!("{scenario}-net{v}-wks-heap");
            let dump = lab.join("dumps").join(format!("{name}.dmp"));
            checks.run(&name, "stack-roots-in-clrstack", || {
                let session = Session::open(&dump, &DumpOptions::default()).map_err(|e| format!("open: {e:#}"))?;
                let mut out = Vec::new();
                session.execute("clrstack -all -a", &mut out).map_err(|e| format!("clrstack -all -a: {e:#}"))?;
                let text = String::from_utf8(out).map_err(|e| e.to_string())?;
                let truth = [lab.join("dumps").join(format!("{name}.truth/sos/clrstack-all-a.txt")), expected.join(&name).join("clrstack-all-a.txt")]
                    .into_iter()
                    .find(|p| p.exists())
                    .ok_or("no dotnet-dump text for clrstack -all -a")?;
                if common::truth_text(&truth)? != text {
                    return Err("clrstack -all -a differs from dotnet-dump's".into());
                }
                // The section of each thread: its frame lines.
                let mut sections: std::collections::HashMap<u32, Vec<&str>> = std::collections::HashMap::new();
                let mut current = None;
                for line in text.lines() {
                    if let Some(id) = line.strip_prefix("OS Thread Id: 0x") {
                        current = u32::from_str_radix(id.split_whitespace().next().unwrap_or(""), 16).ok();
                    } else if let Some(id) = current
                        && line.len() > 34
                        && line.as_bytes()[0].is_ascii_hexdigit()
                    {
                        sections.entry(id).or_default().push(line);
                    }
                }
                let rt = &session.heap.runtime;
                let walk = StackWalk::new(rt).map_err(|e| format!("{e:#}"))?;
                let mut missing = Vec::new();
                let mut roots = 0;
                for t in &session.heap.threads {
                    let Ok(stack) = walk.thread(t) else { continue };
                    let lines = sections.get(&t.os_id).cloned().unwrap_or_default();
                    for r in stack.roots {
                        roots += 1;
                        let shown = if r.frame_ip != 0 {
                            let head = format!("{:016X} {:016X} ", r.frame_sp, r.frame_ip);
                            lines.iter().any(|l| l.starts_with(&head))
                        } else {
                            let frame = format!(": {:016x}]", r.frame_sp);
                            lines.iter().any(|l| l.contains(&frame))
                        };
                        if !shown {
                            missing.push(format!("thread {:x}: root {:x} at {:x?} of frame {:x}/{:x}", t.os_id, r.object, r.slot, r.frame_sp, r.frame_ip));
                        }
                    }
                }
                total += roots;
                if roots == 0 {
                    return Err("no stack roots at all".into());
                }
                if missing.is_empty() { Ok(()) } else { Err(format!("{} of {roots} roots in no frame clrstack shows:\n{}", missing.len(), missing.join("\n"))) }
            });
        }
    }
    eprintln!("stack_roots_are_the_frames_clrstack_shows: {total} roots, each in a frame of clrstack -all -a");
    checks.finish("stack_roots_are_the_frames_clrstack_shows");
}

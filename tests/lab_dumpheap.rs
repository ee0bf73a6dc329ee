//! `dumpheap` and the heap walk against the real dotnet-dump and ClrMD, on every lab dump.
//!
//! Whole outputs are compared: the `-stat` and `-stat -bycount` texts, each `-mt`
//! listing dotnet-dump wrote, the full object walk (`objects.tsv`) and the per-type
//! facts (`types.tsv`).
mod common;

use clrheap::Session;
use clrheap::dump::DumpOptions;
use common::*;
use std::collections::HashMap;

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn dumpheap_texts_match_dotnet_dump() {
    let checks = Checks::new();
    for (name, dump, truth) in lab_dumps("dumpheap_texts_match_dotnet_dump") {
        let sos = truth.join("sos");
        for (command, file, check) in [
            ("dumpheap -stat", "dumpheap-stat.txt", "dumpheap-stat"),
            ("dumpheap -stat -bycount", "dumpheap-stat-bycount.txt", "dumpheap-stat-bycount"),
        ] {
            checks.run(&name, check, || {
                let want = without_progress(&truth_text(&sos.join(file))?);
                compare_sos_text(&try_command(&dump, command)?, &want)
            });
        }
        let listings: Vec<_> = std::fs::read_dir(&sos)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().to_string_lossy().to_string();
                let mt = file.strip_prefix("dumpheap-mt-")?.strip_suffix(".txt")?.to_string();
                Some((mt, e.path()))
            })
            .collect();
        checks.run(&name, "dumpheap-mt", || {
            if listings.is_empty() {
                return Err("the truth has no dumpheap-mt-*.txt listing".into());
            }
            for (mt, path) in &listings {
                let command = format!("dumpheap -mt {mt}");
                let want = without_progress(&truth_text(path)?);
                compare_sos_text(&try_command(&dump, &command)?, &want).map_err(|e| format!("{command}: {e}"))?;
            }
            Ok(())
        });
    }
    checks.finish("dumpheap_texts_match_dotnet_dump");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn walk_matches_clrmd_objects_and_types() {
    let checks = Checks::new();
    for (name, dump, truth) in lab_dumps("walk_matches_clrmd_objects_and_types") {
        checks.run(&name, "walk", || {
        if !truth.join("types.tsv").exists() {
            return Err("no ClrMD truth (types.tsv)".into());
        }
        let session = Session::open(&dump, &DumpOptions::default()).map_err(|e| format!("open: {e:#}"))?;
        let heap = &session.heap;
        // ClrMD walks by heap, then by heap_segment address.
        let mut segments: Vec<_> = heap.segments.iter().collect();
        segments.sort_by_key(|s| (s.heap, s.address));
        let mut ours = Vec::new();
        let mut sizes = clrheap::heap::SizeCache::default();
        for seg in segments {
            let warning = heap.walk_segment(seg, &mut sizes, |o| ours.push(o));
            assert!(warning.is_none(), "{name}: {}", warning.unwrap());
        }
        let objects_tsv = truth.join("objects.tsv");
        if !objects_tsv.exists() {
            // The oracle leaves objects.tsv out above 2 M objects unless asked.
            eprintln!("{name}: no objects.tsv: the walk is checked against types.tsv only");
        }
        let want = if objects_tsv.exists() { read_tsv(&objects_tsv) } else { Vec::new() };
        assert!(want.is_empty() || ours.len() == want.len(), "{name}: object count");
        for (o, w) in ours.iter().zip(&want) {
            let got = (format!("{:x}", o.address), format!("{:x}", o.mt), o.size.to_string());
            assert_eq!((&got.0, &got.1, &got.2), (&w[0], &w[1], &w[2]), "{name}: object");
        }

        // Per type: count, size and name; layout facts from the MethodTable.
        let mut per_mt: HashMap<u64, (u64, u64)> = HashMap::new();
        for o in &ours {
            let e = per_mt.entry(o.mt).or_default();
            e.0 += 1;
            e.1 += o.size;
        }
        let free = heap.runtime.globals.free_mt;
        let string = heap.runtime.globals.string_mt;
        for row in read_tsv(&truth.join("types.tsv")) {
            let mt = u64::from_str_radix(&row[0], 16).unwrap();
            let (count, size) = per_mt.get(&mt).copied().unwrap_or_default();
            assert_eq!((count.to_string(), size.to_string()), (row[1].clone(), row[2].clone()), "{name}: {mt:x} count/size");
            let ours_name = heap.type_name(mt);
            if is_unnamed(&row[10]) {
                assert!(!is_unnamed(&ours_name), "{name}: {mt:x} should be named, got {ours_name}");
            } else {
                assert_eq!(&*ours_name, row[10], "{name}: {mt:x} name");
            }
            let info = heap.method_table(mt).unwrap();
            let base = if mt == string { info.base_size - 2 } else { info.base_size };
            assert_eq!(base.to_string(), row[3], "{name}: {mt:x} base size");
            assert_eq!(info.component_size.to_string(), row[4], "{name}: {mt:x} component size");
            if mt != free {
                let flag = |b: bool| if b { "True" } else { "False" };
                assert_eq!(flag(info.is_array()), row[5], "{name}: {mt:x} is_array");
                assert_eq!(flag(info.contains_pointers()), row[6], "{name}: {mt:x} pointers");
                assert_eq!(flag(info.has_finalizer()), row[7], "{name}: {mt:x} finalizable");
                assert_eq!(format!("{:#010x}", info.token), row[8], "{name}: {mt:x} token");
                assert_eq!(format!("{:x}", info.module), row[9], "{name}: {mt:x} module");
            }
        }
        Ok(())
        });
    }
    checks.finish("walk_matches_clrmd_objects_and_types");
}

/// `dumpheap -stat` with a filter counts in its own loop (one array per segment, in
/// parallel); a listing with the same filter prints the same statistics through the
/// object-by-object printer. The two must agree row for row, first-seen order included
/// (it breaks ties between rows of equal size), on every lab dump.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn filtered_statistics_equal_the_listings() {
    let checks = Checks::new();
    for (name, dump, _truth) in lab_dumps("filtered_statistics_equal_the_listings") {
        checks.run(&name, "dumpheap-stat-filtered", || {
            for filter in ["-min 100", "-max 40", "-type String", "-gen gen2", "-gen gen0", "-gen loh", "-live", "-type Generic -min 32 -max 500"] {
                let listing = try_command(&dump, &format!("dumpheap {filter}"))?;
                let stat = try_command(&dump, &format!("dumpheap -stat {filter}"))?;
                let tail = match listing.find("Statistics:") {
                    Some(at) => &listing[at..],
                    None => "",
                };
                if tail != stat {
                    return Err(format!("dumpheap {filter}: -stat differs from the listing's statistics"));
                }
                if filter == "-min 100" && stat.is_empty() {
                    return Err("dumpheap -stat -min 100 printed nothing".into());
                }
            }
            Ok(())
        });
    }
    checks.finish("filtered_statistics_equal_the_listings");
}

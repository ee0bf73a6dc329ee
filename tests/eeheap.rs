//! `eeheap` (whole, `-gc`, `-loader`) and `dumpgcdata` against the real dotnet-dump.
//!
//! `eeheap -gc`:
//! For each `$CLRHEAP_LAB/dumps/NAME.dmp` (default lab: `~/.cache/clrheap-lab`; also the
//! directories in `CLRHEAP_EXTRA_DUMPS`) with a `NAME.truth/` directory, runs
//! `clrheap analyze NAME.dmp -c "eeheap -gc"` and compares the whole output, byte for byte,
//! with `NAME.truth/sos/eeheap-gc.txt` (what dotnet-dump printed). Without the lab the
//! test passes with a notice, unless `CLRHEAP_REQUIRE_LAB=1`.
//!
//! `eeheap`, `eeheap -loader` and `dumpgcdata` (issue 18): what `bin/sos DUMP -c eeheap`
//! and `-c dumpgcdata` printed on every lab dump, captured once into
//! `tests/expected/eeheap/NAME.eeheap.txt` and `NAME.dumpgcdata.txt`, compared whole
//! (`eeheap -loader`'s text is the whole text's part before its GC part, checked against
//! the lab's own `eeheap-loader.txt` where it has one). Fresh dumps' texts (server 8 and
//! 9, DATAS 9 and 10, segments 10, server segments 8) are in `tests/expected/eeheap/fresh/`
//! and are compared when `CLRHEAP_EXTRA_DUMPS` names the folder holding their dumps.
//! Where dotnet-dump gives no reference the test says why (and checks clrheap's answer):
//! it crashes on `dumpgcdata` with the segments GC, which publishes no statistics; on an
//! 8.0 or 9.0 server GC its DAC reads the statistics from the wrong place
//! (`dumpgcdata_on_net9_server_gc_dotnet_dump_reads_the_wrong_place`; the fresh 8.0
//! server dumps show the same negative counts).
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the captured dotnet-dump texts are.
fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/eeheap")
}

/// What clrheap prints when the GC publishes no statistics (dotnet-dump crashes there).
const NO_STATISTICS: &str = "This GC records no statistics (it publishes none of its GC_CONFIG_DRIVEN data).\n";

/// The loader part of a whole `eeheap` text: everything before the GC part's blank line.
fn loader_part(whole: &str) -> Result<&str, String> {
    whole
        .find("\n\nDATAS = ")
        .map(|i| &whole[..=i])
        .ok_or_else(|| "the expected eeheap text has no GC part".to_string())
}

/// Every dump to check: the lab's (with or without truth), and the fresh ones found in
/// `CLRHEAP_EXTRA_DUMPS`: name -> (dump, expected-text folder).
fn dumps_to_check() -> BTreeMap<String, (PathBuf, PathBuf)> {
    let mut out = BTreeMap::new();
    let mut add_dir = |dir: &Path, expected: PathBuf| {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "dmp") {
                let name = p.file_stem().unwrap().to_string_lossy().to_string();
                // Triage dumps hold no heap.
                if !name.ends_with("-triage") {
                    out.insert(name, (p, expected.clone()));
                }
            }
        }
    };
    if let Some(lab) = common::lab_dir() {
        add_dir(&lab.join("dumps"), expected_dir());
    }
    if let Some(extra) = std::env::var_os("CLRHEAP_EXTRA_DUMPS") {
        for dir in std::env::split_paths(&extra) {
            add_dir(&dir, expected_dir().join("fresh"));
        }
    }
    out
}

fn same(ours: &str, theirs: &str) -> Result<(), String> {
    if ours == theirs { Ok(()) } else { Err(first_difference(ours, theirs)) }
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn eeheap_and_dumpgcdata_match_dotnet_dump() {
    let checks = common::Checks::new();
    let dumps = dumps_to_check();
    if std::env::var("CLRHEAP_REQUIRE_LAB").as_deref() == Ok("1") {
        assert!(!dumps.is_empty(), "no lab dumps");
    }
    for (name, (dump, expected)) in &dumps {
        let text = |command: &str| common::truth_text(&expected.join(format!("{name}.{command}.txt")));
        checks.run(name, "eeheap", || same(&common::try_command(dump, "eeheap")?, &text("eeheap")?));
        checks.run(name, "eeheap-loader", || {
            let whole = text("eeheap")?;
            let theirs = loader_part(&whole)?;
            // The lab's own -loader text, where it has one, is that part.
            let lab_loader = dump.with_file_name(format!("{name}.truth/sos/eeheap-loader.txt"));
            if lab_loader.is_file() {
                same(theirs, &common::truth_text(&lab_loader)?).map_err(|e| format!("the loader part is not eeheap-loader.txt: {e}"))?;
            }
            same(&common::try_command(dump, "eeheap -loader")?, theirs)
        });
        checks.run(name, "dumpgcdata", || {
            let theirs = text("dumpgcdata")?;
            let ours = common::try_command(dump, "dumpgcdata")?;
            if theirs.contains("Segmentation fault") {
                checks.no_reference(name, "dumpgcdata", "dotnet-dump crashes (the segments GC publishes no statistics)");
                return same(&ours, NO_STATISTICS);
            }
            same(&ours, &theirs)
        });
    }
    checks.finish("eeheap_and_dumpgcdata_match_dotnet_dump");
}

/// dotnet-dump's `dumpgcdata` on the 9.0.22 server GC (`gc-zoo-net9-datas-heap`, DATAS)
/// prints what is not a statistic: negative counts, and expansion mechanisms, which only
/// the segments GC uses, on a regions GC. The 9.0 DAC reads each heap's arrays elsewhere
/// than the offsets the GC publishes in `gc_heap_field_offsets` (the 10.0 DAC reads them
/// there, and agrees with clrheap on the lab's 10.0 server dumps). clrheap reads the
/// published offsets: every count is small and non-negative, and no expansion is counted.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn dumpgcdata_on_net9_server_gc_dotnet_dump_reads_the_wrong_place() {
    let Some(lab) = common::lab_dir() else { return };
    let dump = lab.join("dumps/gc-zoo-net9-datas-heap.dmp");
    let theirs = std::fs::read_to_string(expected_dir().join("gc-zoo-net9-datas-heap.dumpgcdata.txt")).unwrap();
    let counts = |text: &str| -> Vec<(String, i64)> {
        text.lines()
            .filter_map(|l| l.rsplit_once(": "))
            .filter_map(|(k, v)| Some((k.trim().to_string(), v.parse::<i64>().ok()?)))
            .collect()
    };
    let expansions = ["reused seg with normal fit", "reused seg with best fit", "expand promoting eph", "expand with a new seg", "no memory for a new seg", "expand in next full GC"];
    let theirs = counts(&theirs);
    assert!(theirs.iter().any(|(_, v)| *v < 0), "dotnet-dump's text has no impossible count any more: {theirs:?}");
    assert!(theirs.iter().any(|(k, v)| expansions.contains(&k.as_str()) && *v != 0));
    let ours = counts(&common::run_command(&dump, "dumpgcdata"));
    assert!(!ours.is_empty());
    assert!(ours.iter().all(|(_, v)| (0..1_000_000).contains(v)), "{ours:?}");
    assert!(ours.iter().filter(|(k, _)| expansions.contains(&k.as_str())).all(|(_, v)| *v == 0));
}

/// The first line where two texts differ, for the failure message.
fn first_difference(ours: &str, theirs: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.split('\n').collect(), theirs.split('\n').collect());
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| format!("line {}: ours {:?}, dotnet-dump {:?}", i + 1, a.get(i), b.get(i)))
        .unwrap_or_else(|| "texts differ".into())
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn eeheap_gc_matches_dotnet_dump_on_lab_dumps() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("eeheap_gc_matches_dotnet_dump_on_lab_dumps") {
        checks.run(&name, "eeheap-gc", || {
            let theirs = common::truth_text(&truth.join("sos/eeheap-gc.txt"))?;
            let ours = common::try_command(&dump, "eeheap -gc")?;
            if ours != theirs {
                return Err(first_difference(&ours, &theirs));
            }
            Ok(())
        });
    }
    checks.finish("eeheap_gc_matches_dotnet_dump_on_lab_dumps");
}

/// `eeheap`'s filters against dotnet-dump: an address range (loader blocks with their
/// first or last byte in it, and the GC segments overlapping it), `-heap` and `-segment`
/// (GC part only, but every total becomes `Partial`), `-loader` with a range. Expected
/// texts: `tests/expected/eeheap/filters/DUMP.COMMAND.txt` (spaces as `_`), from
/// `bin/sos DUMP -c COMMAND`.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn eeheap_filters_match_dotnet_dump() {
    let Some(lab) = common::lab_dir() else { return };
    let dir = expected_dir().join("filters");
    let checks = common::Checks::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let (dump, command) = stem.split_once(".eeheap").unwrap();
        let command = format!("eeheap{}", command.replace('_', " "));
        checks.run(dump, &format!("eeheap-filter {command}"), || {
            let theirs = common::truth_text(&file)?;
            same(&common::try_command(&lab.join("dumps").join(format!("{dump}.dmp")), &command)?, &theirs)
        });
    }
    checks.finish("eeheap_filters_match_dotnet_dump");
}

//! `dumpobj`, `dumparray` and `dumpvc` against what the real dotnet-dump printed:
//! every `sos/dumpobj-*.txt` of the lab's truth (and of `CLRHEAP_EXTRA_DUMPS`), and the
//! targeted outputs captured with `lab/bin/sos` in `tests/expected/dumpobj/DUMP/` (the
//! file name is the command with `_` for spaces).
//!
//! One known difference is allowed, nothing else: dotnet-dump names types emitted at run
//! time `<Unloaded Type>` (or `<error>` for a generic over one); clrheap names them. The
//! rest of such a line must agree. (Thread-static fields' per-thread values are compared
//! as they are.)
mod common;

use std::path::Path;

/// Compares clrheap's output with dotnet-dump's under the rules above.
fn compare(ours: &str, want: &str) -> Result<(), String> {
    let a: Vec<&str> = ours.lines().collect();
    let b: Vec<&str> = want.lines().collect();
    for (n, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let ok = match ["<Unloaded Type>", "<error>"].iter().find_map(|p| y.find(p)) {
            Some(at) => {
                x.len() > at
                    && x[..at] == y[..at]
                    && !x[at..].starts_with('<')
                    && x[at..].trim_start().len() > 1
            }
            None => x == y,
        };
        if !ok {
            return Err(format!("line {}:\n  ours: {x:?}\n  want: {y:?}", n + 1));
        }
    }
    if a.len() != b.len() {
        return Err(format!("{} lines, want {}\n--- ours\n{ours}--- want\n{want}", a.len(), b.len()));
    }
    Ok(())
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn lab_dumpobj_truth() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("lab_dumpobj_truth") {
        let mut files: Vec<_> = std::fs::read_dir(truth.join("sos"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.starts_with("dumpobj-") && f.ends_with(".txt"))
            })
            .collect();
        files.sort();
        if files.is_empty() && common::sos_failed(&truth, "dumpobj ") {
            checks.no_reference(&name, "dumpobj", "dotnet-dump crashed on every dumpobj (FAILED.txt); tests/expected/dumpobj covers these dumps");
            continue;
        }
        checks.run(&name, "dumpobj", || {
            if files.is_empty() {
                return Err("the truth has no dumpobj-*.txt".into());
            }
            for file in &files {
                let stem = file.file_stem().unwrap().to_str().unwrap();
                let command = format!("dumpobj {}", stem.trim_start_matches("dumpobj-"));
                let ours = common::try_command(&dump, &command)?;
                let want = common::truth_text(file)?;
                compare(&ours, &want).map_err(|e| format!("{command}: {e}"))?;
            }
            Ok(())
        });
    }
    checks.finish("lab_dumpobj_truth");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn targeted_objects_match_dotnet_dump() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("targeted_objects_match_dotnet_dump: the lab is not unpacked: skipped");
        return;
    };
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/dumpobj");
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in std::fs::read_dir(&expected).unwrap().flatten() {
        let name = dir.file_name().to_string_lossy().to_string();
        let dump = lab.join("dumps").join(format!("{name}.dmp"));
        assert!(dump.exists(), "{} is missing", dump.display());
        let mut files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let command = file.file_stem().unwrap().to_str().unwrap().replace('_', " ");
            let out = common::analyze(&dump, &[&command]);
            let ours = String::from_utf8(out.stdout).unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{name}: {command}: {stderr}");
            let want = std::fs::read_to_string(&file).unwrap();
            checked += 1;
            if let Err(e) = compare(&ours, &want) {
                failures.push(format!("{name}: {command}: {e}"));
            }
        }
    }
    assert!(checked >= 30, "only {checked} expected outputs");
    assert!(failures.is_empty(), "{} of {checked} differ:\n{}", failures.len(), failures.join("\n"));
}

/// Garbage and edge addresses never panic, and name the problem as SOS does.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn bad_addresses_are_refused() {
    let Some(lab) = common::lab_dir() else { return };
    let dump = lab.join("dumps/zoo-net8-wks-heap.dmp");
    for cmd in [
        "dumpobj 0",
        "dumpobj 1",
        "dumpobj ffffffffffffffff",
        "dumpobj 7ffffffffff8",
        "dumparray ffffffffffff0000",
        "dumpvc 1 2",
        "dumpvc 7fa0763fbab0 ffffffffffffff00",
        "dumparray -start 99999999999 -length 5 7f605e41f328",
    ] {
        let out = common::analyze(&dump, &[cmd]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{cmd}: {stderr}");
    }
    let out = common::analyze(&dump, &["dumpobj 1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "<Note: this object has an invalid CLASS field>\nInvalid object\n\n"
    );
}

#[test]
fn comparison_rules() {
    assert!(compare("Name:        DocProc.Zoo.Emitted.Proxy\n", "Name:        <Unloaded Type>\n").is_ok());
    assert!(compare("Name:        <Unloaded Type>\n", "Name:        <Unloaded Type>\n").is_err());
    assert!(compare("a\n", "b\n").is_err());
    assert!(compare("        655:00007f605e80b920\n", "").is_err());
}

/// A hostile array length (0xffffffff) is printed as the array says, but `dumparray` lists
/// only the elements its memory holds (the rest of its segment), in text and JSON.
#[test]
fn a_hostile_array_length_is_bounded_by_memory() {
    use clrheap::fuzzing::{Fixture, open_session};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zoo-net8-wks-heap.dmp.zst");
    let compressed = std::fs::read(&path).unwrap();
    let mut decoder = zstd::stream::read::Decoder::new(&compressed[..]).unwrap();
    decoder.window_log_max(31).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut decoder, &mut bytes).unwrap();
    let fixture = Fixture::new(bytes.clone()).unwrap();
    // An array of references the fixture holds whole.
    let session = open_session(bytes.clone()).unwrap();
    let (objects, _) = session.heap.objects();
    let array = objects
        .iter()
        .find(|o| {
            session.heap.object(clrheap::heap::ObjectAddr(o.address)).is_some_and(|x| {
                x.array().is_ok_and(|a| a.is_sz && a.length >= 2 && a.component_size == 8)
            }) && fixture.file_offset(o.address + 8).is_some()
        })
        .expect("an array")
        .address;
    drop(session);
    let at = fixture.file_offset(array + 8).unwrap();
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let session = open_session(bytes).unwrap();
    let o = session.heap.object(clrheap::heap::ObjectAddr(array)).unwrap();
    let a = o.array().unwrap();
    assert_eq!(a.length, u32::MAX);
    let segment = session.heap.segment_of(array).unwrap();
    assert_eq!(a.capacity(), (segment.end - a.data) / 8);

    let mut out = Vec::new();
    session.execute(&format!("dumpobj {array:x}"), &mut out).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("Number of elements 4294967295"));
    for command in [format!("dumparray {array:x}"), format!("dumparray --format json {array:x}")] {
        let mut out = Vec::new();
        let _ = session.execute(&command, &mut out);
        let text = String::from_utf8_lossy(&out);
        let rows = if command.contains("json") { text.matches("\"index\"").count() } else { text.lines().count() - 6 };
        assert_eq!(rows as u64, a.capacity(), "{command}");
        let warnings = session.warnings.take();
        assert!(
            warnings.iter().any(|w| w.text.contains("says it has 4294967295 elements")),
            "{command}: no warning in {warnings:?}"
        );
    }
}

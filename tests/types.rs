//! The type-system commands (issue 17) against what the real dotnet-dump printed, whole
//! outputs:
//! - `dumpmt -md`: every `sos/dumpmt-md-*.txt` of the lab's truth (the `ops` dumps of 8,
//!   9 and 10: a plain class, an exception with an interface and inherited virtuals, a
//!   class whose constructor keeps its own slot), and the targets in
//!   `tests/expected/dumpmt/DUMP/` (captured with `lab/bin/sos`; the file name is the
//!   command with `_` for spaces): `DocProc.Infrastructure.Cache.DocumentCache` on every
//!   seed dump (8, 8.0.0, 8 segments, 9, 10, 10 server), and on the zoo dumps of 8, 9
//!   and 10 a type emitted at run time, `System.String[]` and `System.Int32[,]`.
//!
//! One difference is allowed: dotnet-dump names a type emitted at run time
//! `<Unloaded Type>`; clrheap names it (the rest of the line must agree).
mod common;

use std::path::Path;

/// Equal, but for `<Unloaded Type>` where clrheap prints a name.
fn compare(ours: &str, want: &str) -> Result<(), String> {
    let a: Vec<&str> = ours.lines().collect();
    let b: Vec<&str> = want.lines().collect();
    for (n, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let ok = match y.find("<Unloaded Type>") {
            Some(at) => x.len() > at && x[..at] == y[..at] && !x[at..].starts_with('<'),
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
fn lab_dumpmt_truth() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("lab_dumpmt_truth") {
        let mut files: Vec<_> = std::fs::read_dir(truth.join("sos"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|f| f.to_str()).is_some_and(|f| f.starts_with("dumpmt-md-")))
            .collect();
        if files.is_empty() {
            continue; // this dump's truth has no dumpmt texts
        }
        files.sort();
        checks.run(&name, "dumpmt", || {
            for file in &files {
                let stem = file.file_stem().unwrap().to_str().unwrap();
                let command = format!("dumpmt -md {}", stem.trim_start_matches("dumpmt-md-"));
                let ours = common::try_command(&dump, &command)?;
                let want = common::truth_text(file)?;
                compare(&ours, &want).map_err(|e| format!("{command}: {e}"))?;
            }
            Ok(())
        });
    }
    checks.finish("lab_dumpmt_truth");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn targeted_method_tables_match_dotnet_dump() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("targeted_method_tables_match_dotnet_dump: the lab is not unpacked: skipped");
        return;
    };
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/dumpmt");
    let checks = common::Checks::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&expected).unwrap().flatten().collect();
    dirs.sort_by_key(|d| d.file_name());
    for dir in dirs {
        let name = dir.file_name().to_string_lossy().to_string();
        let dump = lab.join("dumps").join(format!("{name}.dmp"));
        let mut files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        checks.run(&name, "dumpmt-targets", || {
            if !dump.exists() {
                return Err(format!("{} is missing", dump.display()));
            }
            for file in &files {
                let command = file.file_stem().unwrap().to_str().unwrap().replace('_', " ");
                let ours = common::try_command(&dump, &command)?;
                let want = common::truth_text(file)?;
                compare(&ours, &want).map_err(|e| format!("{command}: {e}"))?;
            }
            Ok(())
        });
    }
    checks.finish("targeted_method_tables_match_dotnet_dump");
}

#[test]
fn comparison_rules() {
    assert!(compare("Name:                DocProc.Zoo.Emitted.Proxy\n", "Name:                <Unloaded Type>\n").is_ok());
    assert!(compare("Name:                <Unloaded Type>\n", "Name:                <Unloaded Type>\n").is_err());
    assert!(compare("a\n", "a\nb\n").is_err());
}

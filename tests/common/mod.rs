//! Shared test support: finding the lab, running the binary, comparing SOS texts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The lab directory, if its dumps are unpacked. When `CLRHEAP_REQUIRE_LAB=1` (CI), a
/// missing lab fails the test instead of skipping it.
pub fn lab_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CLRHEAP_LAB")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/clrheap-lab")))?;
    if dir.join("dumps").is_dir() {
        return Some(dir);
    }
    if std::env::var("CLRHEAP_REQUIRE_LAB").as_deref() == Ok("1") {
        panic!("the lab is required (CLRHEAP_REQUIRE_LAB=1) but {} has no dumps/", dir.display());
    }
    None
}

/// Every lab dump that has a truth directory: (name, dump path, truth dir).
/// Directories named in `CLRHEAP_EXTRA_DUMPS` (colon-separated) are searched too, so the
/// same tests run over freshly made dumps.
pub fn lab_dumps(test: &str) -> Vec<(String, PathBuf, PathBuf)> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("CLRHEAP_EXTRA_DUMPS")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    match lab_dir() {
        Some(lab) => dirs.push(lab.join("dumps")),
        None => eprintln!("{test}: the lab is not unpacked (run ../shared/lab/bin/lab-setup): lab dumps skipped"),
    }
    let mut dumps: Vec<_> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten())
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dmp"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            let truth = p.with_file_name(format!("{name}.truth"));
            truth.is_dir().then_some((name, p, truth))
        })
        .collect();
    dumps.sort();
    if std::env::var("CLRHEAP_REQUIRE_LAB").as_deref() == Ok("1") {
        assert!(!dumps.is_empty(), "the lab has no dumps with truth");
    }
    dumps
}

/// Runs `clrheap analyze DUMP -c CMD...`.
pub fn analyze(dump: &Path, commands: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clrheap"));
    cmd.arg("analyze").arg(dump);
    for c in commands {
        cmd.arg("-c").arg(c);
    }
    cmd.output().expect("run clrheap")
}

/// Runs one command and returns its standard output, failing on a non-zero exit.
pub fn run_command(dump: &Path, command: &str) -> String {
    let out = analyze(dump, &[command]);
    assert!(
        out.status.success(),
        "clrheap analyze {} -c {command:?} failed: {}",
        dump.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Whether dotnet-dump printed a placeholder instead of a type name.
pub fn is_unnamed(name: &str) -> bool {
    name.contains("<unknown_type_")
        || name
            .split(['<', '>', ',', ' '])
            .any(|w| w.len() >= 2 && w.starts_with('T') && w[1..].chars().all(|c| c.is_ascii_digit()))
}

/// Compares clrheap's text with dotnet-dump's, line by line (the rule of the lab's
/// `stat-compare`). Lines must be identical, except where dotnet-dump could not name a
/// type: there the first three columns (MT, count, size) must match and clrheap's name
/// must be a real one. (`dumpgen` prints an empty name for such a type: the row is its
/// three columns and a trailing space.) Returns a description of the first difference.
pub fn compare_sos_text(ours: &str, want: &str) -> Result<(), String> {
    let a: Vec<&str> = ours.lines().collect();
    let b: Vec<&str> = want.lines().collect();
    for (n, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let empty_name = y.ends_with(' ') && y.split_whitespace().count() == 3;
        let ok = if empty_name {
            x == y || (x.len() > y.len() && x.starts_with(y) && !is_unnamed(&x[y.len()..]))
        } else if is_unnamed(y) {
            let (fx, fy): (Vec<&str>, Vec<&str>) =
                (x.split_whitespace().collect(), y.split_whitespace().collect());
            fx.len() >= 4 && fy.len() >= 4 && fx[..3] == fy[..3] && !is_unnamed(&fx[3..].join(" "))
        } else {
            x == y
        };
        if !ok {
            return Err(format!("line {}:\n  ours: {x:?}\n  want: {y:?}", n + 1));
        }
    }
    if a.len() != b.len() {
        return Err(format!("{} lines, want {}", a.len(), b.len()));
    }
    Ok(())
}

/// Reads a truth TSV file as rows of columns, without its header.
pub fn read_tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

/// dotnet-dump's text without its progress lines, which clrheap writes to standard error
/// instead: "Caching GC roots..." (and the blank line after), "Calculating live
/// objects...", and "Scanning heap: N MB / M MB..." (printed when a walk takes seconds).
pub fn without_progress(text: &str) -> String {
    let mut out = Vec::new();
    let mut skip_blank = false;
    for line in text.lines() {
        if line.starts_with("Caching GC roots")
            || line.starts_with("Subsequent runs of this command")
            || line.starts_with("Calculating live objects")
        {
            skip_blank = true;
            continue;
        }
        if line.starts_with("Scanning heap: ") {
            continue;
        }
        if skip_blank && line.is_empty() {
            skip_blank = false;
            continue;
        }
        skip_blank = false;
        out.push(line);
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The command behind an expected file's name (`dumpheap-stat.txt` -> `dumpheap -stat`),
/// for the commands clrheap answers.
pub fn command_for(file: &str) -> Option<String> {
    let stem = file.strip_suffix(".txt")?;
    Some(match stem {
        "dumpheap-stat" => "dumpheap -stat".into(),
        "dumpheap-stat-bycount" => "dumpheap -stat -bycount".into(),
        "dumpheap-live-stat" => "dumpheap -live -stat".into(),
        "dumpheap-dead-stat" => "dumpheap -dead -stat".into(),
        "eeheap-gc" => "eeheap -gc".into(),
        "gchandles" => "gchandles".into(),
        "gchandles-stat" => "gchandles -stat".into(),
        "finalizequeue" => "finalizequeue".into(),
        "syncblk" => "syncblk".into(),
        _ => {
            let (kind, arg) = stem.rsplit_once('-')?;
            match kind {
                "dumpheap-mt" => format!("dumpheap -mt {arg}"),
                "gcroot" | "objsize" | "dumpobj" | "dumpgen" => format!("{kind} {arg}"),
                _ => return None,
            }
        }
    })
}

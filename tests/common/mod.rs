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

/// `CLRHEAP_REQUIRE_LAB=1` (CI) with a test binary built without the lab (`build.rs` set
/// `cfg(no_lab)`, so its lab tests are ignored): a failure, in every test binary that
/// uses this module, rather than lab tests listed as ignored.
#[test]
fn lab_present_when_required() {
    if cfg!(no_lab) && std::env::var("CLRHEAP_REQUIRE_LAB").as_deref() == Ok("1") {
        panic!(
            "the lab is required (CLRHEAP_REQUIRE_LAB=1) but these tests were built without it: \
             unpack it in $CLRHEAP_LAB (default ~/.cache/clrheap-lab), then touch build.rs"
        );
    }
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
            let truth = with_kept_truth(&name, &truth);
            truth.is_dir().then_some((name, p, truth))
        })
        .collect();
    dumps.sort();
    if std::env::var("CLRHEAP_REQUIRE_LAB").as_deref() == Ok("1") {
        assert!(!dumps.is_empty(), "the lab has no dumps with truth");
    }
    dumps
}

/// Truth files the lab's truth directory lacks, kept in the repository
/// (`tests/truth/NAME/`, zstd-compressed, see its README): the lab's `oracle truth` made
/// none for the `ops` and `oom` dumps, where it was run without targets or crashed, and
/// made them here. When the repository keeps some for `name`, the truth directory the
/// tests see is a merge made once per test process under the cargo target's temporary
/// directory: the lab's files (its `sos/` texts win over kept ones of the same name;
/// `COMMANDS.tsv` and `FAILED.txt` are the union of both lists), plus the kept ones.
fn with_kept_truth(name: &str, lab_truth: &Path) -> PathBuf {
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/truth").join(name);
    if !kept.is_dir() || !lab_truth.is_dir() {
        return lab_truth.to_path_buf();
    }
    static MERGED: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut merged = MERGED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, dir)) = merged.iter().find(|(n, _)| n == name) {
        return dir.clone();
    }
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("truth-{}", std::process::id()));
    let dir = root.join(format!("{name}.truth"));
    merge_truth(lab_truth, &kept, &dir).unwrap_or_else(|e| panic!("merging the kept truth of {name}: {e}"));
    merged.push((name.to_string(), dir.clone()));
    dir
}

fn merge_truth(lab: &Path, kept: &Path, out: &Path) -> std::io::Result<()> {
    use std::collections::BTreeSet;
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out)?;
    for sub in ["", "sos"] {
        let (lab_dir, kept_dir, out_dir) = (lab.join(sub), kept.join(sub), out.join(sub));
        std::fs::create_dir_all(&out_dir)?;
        let mut lists: Vec<(String, BTreeSet<String>)> = Vec::new();
        let mut add_list = |file: &str, text: &str| {
            let at = match lists.iter().position(|(f, _)| f == file) {
                Some(i) => i,
                None => {
                    lists.push((file.to_string(), BTreeSet::new()));
                    lists.len() - 1
                }
            };
            lists[at].1.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_string));
        };
        for entry in std::fs::read_dir(&lab_dir).into_iter().flatten() {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().to_string();
            if entry.path().is_dir() {
                continue;
            }
            if file == "COMMANDS.tsv" || file == "FAILED.txt" {
                add_list(&file, &std::fs::read_to_string(entry.path())?);
            } else {
                std::os::unix::fs::symlink(entry.path(), out_dir.join(&file))?;
            }
        }
        for entry in std::fs::read_dir(&kept_dir).into_iter().flatten() {
            let entry = entry?;
            let Some(file) = entry.file_name().to_str().and_then(|f| f.strip_suffix(".zst")).map(str::to_string) else {
                continue;
            };
            let bytes = zstd::decode_all(std::fs::File::open(entry.path())?)?;
            if file == "COMMANDS.tsv" || file == "FAILED.txt" {
                add_list(&file, &String::from_utf8_lossy(&bytes));
            } else if !out_dir.join(&file).exists() {
                std::fs::write(out_dir.join(&file), bytes)?;
            }
        }
        for (file, lines) in lists {
            let text: String = lines.into_iter().map(|l| l + "\n").collect();
            std::fs::write(out_dir.join(file), text)?;
        }
    }
    Ok(())
}

/// Every `make-dump --gc-after` pair: `NAME.dmp` and `NAME.after.dmp` side by side, in the
/// lab's dumps and in the directories named in `CLRHEAP_EXTRA_DUMPS` (colon-separated),
/// as (name, before, after). Pairs need no truth.
pub fn gc_pairs(test: &str) -> Vec<(String, PathBuf, PathBuf)> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("CLRHEAP_EXTRA_DUMPS")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    match lab_dir() {
        Some(lab) => dirs.push(lab.join("dumps")),
        None => eprintln!("{test}: the lab is not unpacked (run ../shared/lab/bin/lab-setup): lab pairs skipped"),
    }
    let mut pairs: Vec<_> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten())
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let after = e.path();
            let name = after.file_name()?.to_str()?.strip_suffix(".after.dmp")?.to_string();
            let before = after.with_file_name(format!("{name}.dmp"));
            before.is_file().then_some((name, before, after))
        })
        .collect();
    pairs.sort();
    pairs
}

/// A command running the clrheap binary under test. `CLRHEAP_TEST_RUNNER` (words
/// separated by spaces, e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`) runs it through an
/// emulator when it was built for another architecture (`.ci/cross-arm64`).
pub fn clrheap() -> Command {
    let exe = env!("CARGO_BIN_EXE_clrheap");
    match std::env::var("CLRHEAP_TEST_RUNNER").ok().filter(|r| !r.trim().is_empty()) {
        Some(runner) => {
            let mut words = runner.split_whitespace();
            let mut cmd = Command::new(words.next().unwrap());
            cmd.args(words).arg(exe);
            cmd
        }
        None => Command::new(exe),
    }
}

/// Runs `clrheap analyze DUMP -c CMD...`.
pub fn analyze(dump: &Path, commands: &[&str]) -> Output {
    let mut cmd = clrheap();
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

/// The expected text of `command` on lab dump `dump`, under `tests/expected/SUBDIR/DUMP/`:
/// the command with spaces as `_` and any character but letters, digits, `.` and `-` as
/// `%XX`, then `.txt`.
pub fn expected_path(subdir: &str, dump: &str, command: &str) -> PathBuf {
    let mut name = String::new();
    for c in command.chars() {
        match c {
            ' ' => name.push('_'),
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '-' => name.push(c),
            _ => name.push_str(&format!("%{:02X}", c as u32)),
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected").join(subdir).join(dump).join(format!("{name}.txt"))
}

/// Runs each `(dump, check, command)` target on its lab dump (one process per command)
/// and compares the output, whatever the exit status (a command SOS fails fails in clrheap
/// too, and its text is compared all the same), with the expected text `expected` gives,
/// by `compare`. One check per dump and check name, reporting every target that differs.
pub fn check_targets<'a>(
    test: &str,
    targets: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    expected: impl Fn(&str, &str) -> PathBuf,
    compare: impl Fn(&str, &str) -> Result<(), String>,
) {
    let Some(lab) = lab_dir() else {
        eprintln!("{test}: the lab is not unpacked: skipped");
        return;
    };
    let checks = Checks::new();
    let mut groups: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
    for (dump, check, command) in targets {
        groups.entry((dump, check)).or_default().push(command);
    }
    for ((dump, check), commands) in groups {
        let path = lab.join("dumps").join(format!("{dump}.dmp"));
        checks.run(dump, check, || {
            if !path.exists() {
                return Err(format!("{} is missing", path.display()));
            }
            let mut failures = Vec::new();
            for command in &commands {
                let want = truth_text(&expected(dump, command))?;
                let ours = String::from_utf8(analyze(&path, &[command]).stdout).map_err(|e| e.to_string())?;
                if let Err(e) = compare(&ours, &want) {
                    failures.push(format!("{command}: {e}"));
                }
            }
            if failures.is_empty() { Ok(()) } else { Err(failures.join("\n")) }
        });
    }
    checks.finish(test);
}

/// One row of `tests/known-gaps.tsv`: a check that is known to fail on some lab dumps,
/// and the issue that will make it pass.
#[derive(Debug, Clone)]
pub struct Gap {
    /// Dump-name pattern (`*` matches any run of characters).
    pub dump: String,
    /// Check-name pattern (`*` globs; `*` alone: every check of the dump).
    pub check: String,
    pub issue: u32,
    pub why: String,
}

/// `*`-glob match of a whole string.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// The checked-in list of known gaps (`tests/known-gaps.tsv`): tab-separated
/// `dump-pattern  check  issue  why`, `#` comments. A malformed row fails every lab test.
pub fn known_gaps() -> &'static [Gap] {
    static GAPS: std::sync::OnceLock<Vec<Gap>> = std::sync::OnceLock::new();
    GAPS.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/known-gaps.tsv");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|(n, l)| {
                let f: Vec<&str> = l.split('\t').collect();
                let bad = || panic!("tests/known-gaps.tsv line {}: want `dump<TAB>check<TAB>issue<TAB>why`: {l:?}", n + 1);
                if f.len() != 4 || f[3].trim().is_empty() {
                    bad();
                }
                let issue = f[2].trim_start_matches('#').parse().unwrap_or_else(|_| bad());
                Gap { dump: f[0].into(), check: f[1].into(), issue, why: f[3].into() }
            })
            .collect()
    })
}

/// The known gap covering `check` on `dump`, if one is listed.
pub fn gap_for(dump: &str, check: &str) -> Option<&'static Gap> {
    known_gaps().iter().find(|g| glob(&g.dump, dump) && glob(&g.check, check))
}

/// The per-dump checks of one lab test, reconciled with the known-gaps list: a check that
/// fails and is listed is reported (on standard error) and tolerated; one that fails and is
/// not listed fails the test; one that is listed but passes fails the test too (delete its
/// row: the gap is closed). A panic inside a check counts as its failure. Never skips:
/// a check that cannot run (a truth file missing) must say so as its failure.
#[derive(Default)]
pub struct Checks {
    failures: std::sync::Mutex<Vec<String>>,
    counts: std::sync::Mutex<(usize, usize, usize)>,
}

impl Checks {
    pub fn new() -> Checks {
        Checks::default()
    }

    /// Runs one check of one dump.
    pub fn run(&self, dump: &str, check: &str, f: impl FnOnce() -> Result<(), String>) {
        let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(p) => Err(format!(
                "panicked: {}",
                p.downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| p.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
            )),
        };
        let gap = gap_for(dump, check);
        let mut counts = self.counts.lock().unwrap();
        match (result, gap) {
            (Ok(()), None) => counts.0 += 1,
            (Err(e), None) => self.failures.lock().unwrap().push(format!("{dump} × {check}: {e}")),
            (Err(e), Some(g)) => {
                counts.1 += 1;
                let first = e.lines().next().unwrap_or("");
                eprintln!("known gap {dump} × {check} (issue #{}: {}): {first}", g.issue, g.why);
            }
            (Ok(()), Some(g)) => {
                self.failures.lock().unwrap().push(format!(
                    "{dump} × {check} passes but tests/known-gaps.tsv lists it (issue #{}: {}): delete the row `{}\t{}`",
                    g.issue, g.why, g.dump, g.check
                ))
            }
        }
    }

    /// A check that has nothing to compare with because dotnet-dump itself failed on
    /// this dump (its `FAILED.txt` says so): reported, counted, not a failure.
    pub fn no_reference(&self, dump: &str, check: &str, why: &str) {
        self.counts.lock().unwrap().2 += 1;
        eprintln!("no reference {dump} × {check}: {why}");
    }

    /// Fails the test if any check failed, or a listed gap passed.
    pub fn finish(self, test: &str) {
        let (passed, gaps, unref) = *self.counts.lock().unwrap();
        let failures = self.failures.into_inner().unwrap();
        eprintln!(
            "{test}: {passed} checks passed, {gaps} known gaps, {unref} without a reference, {} failures",
            failures.len()
        );
        assert!(failures.is_empty(), "{test}:\n{}", failures.join("\n"));
    }
}

/// Like [`run_command`], as a check's result: a non-zero exit is the check's failure.
pub fn try_command(dump: &Path, command: &str) -> Result<String, String> {
    let out = analyze(dump, &[command]);
    if !out.status.success() {
        return Err(format!(
            "clrheap -c {command:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// Reads a truth file, or says it is missing (a check that cannot run is a failure, to be
/// listed as a gap, never a silent skip).
pub fn truth_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("no truth file {}: {e}", path.display()))
}

/// Whether dotnet-dump failed on a command starting with `command` for this truth
/// (the lab's `sos/FAILED.txt`).
pub fn sos_failed(truth: &Path, command: &str) -> bool {
    std::fs::read_to_string(truth.join("sos/FAILED.txt"))
        .is_ok_and(|t| t.lines().any(|l| l.starts_with(command)))
}

/// Asserts that `wanted` names distinct files and that every file one level below `root`
/// (`root/<dump>/<file>`) is one of them: no expected text is left over from a removed target.
pub fn expected_files_are_only(root: &Path, wanted: &[PathBuf]) {
    let set: std::collections::BTreeSet<&PathBuf> = wanted.iter().collect();
    assert_eq!(set.len(), wanted.len(), "two targets share an expected file");
    for dir in std::fs::read_dir(root).unwrap().flatten() {
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            assert!(set.contains(&file.path()), "{} is no target's", file.path().display());
        }
    }
}

/// Writes, for each `(dump, command, file)` whose file does not exist yet, what the real
/// dotnet-dump (`lab/bin/sos`) prints for the command on the lab dump. A command SOS fails
/// makes sos exit non-zero (and so does a crash after some output): its text is what it
/// printed all the same, so only an empty output is refused.
pub fn capture_sos_texts(targets: impl IntoIterator<Item = (String, String, PathBuf)>) {
    let lab = lab_dir().expect("the lab");
    let sos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/lab/bin/sos");
    let sos = if sos.exists() { sos } else { PathBuf::from("/work/shared/lab/bin/sos") };
    for (dump, command, file) in targets {
        if file.exists() {
            continue;
        }
        let out = Command::new(&sos)
            .arg(lab.join("dumps").join(format!("{dump}.dmp")))
            .arg("-c")
            .arg(&command)
            .output()
            .expect("run sos");
        assert!(!out.stdout.is_empty(), "sos {dump} -c {command}: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &out.stdout).unwrap();
        eprintln!("wrote {}", file.display());
    }
}

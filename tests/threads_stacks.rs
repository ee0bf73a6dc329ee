//! Threads, stacks, exceptions and the runtime's own description (issue #15) against the
//! real dotnet-dump, whole outputs byte for byte.
//!
//! The texts come from `sos-truth-more` (the lab's `DUMP.truth/sos/`, whose `COMMANDS.tsv`
//! says which commands made each file) and, for dumps whose lab truth lacks them (zoo,
//! seed) and for commands `sos-truth-more` does not run, from
//! `tests/expected/threads/DUMP/` (the same layout, captured with `lab/bin/sos` on the lab's
//! dumps). Every file whose last command is one of this issue's is a check named after the
//! file (`clrstack-all-a`, `setthread-17-pe-nested`); failures listed in
//! `tests/known-gaps.tsv` are tolerated (and must keep failing).
mod common;

use common::*;
use std::path::{Path, PathBuf};

/// The commands (canonical names) whose texts this test compares.
const COMMANDS: &[&str] = &[
    "clrthreads",
    "threads",
    "setthread",
    "registers",
    "r",
    "clrstack",
    "dumpstackobjects",
    "dso",
    "printexception",
    "pe",
    "dumpexceptions",
    "parallelstacks",
    "pstacks",
    "crashinfo",
    "eeversion",
    "threadstate",
    "ip2md",
    "runtimes",
    "modules",
    "lm",
    "clrmodules",
    "sosstatus",
];

fn expected_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/threads")
}

/// `(file, commands)` of a `COMMANDS.tsv` whose last command is one of ours.
fn cases(dir: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let Ok(text) = std::fs::read_to_string(dir.join("COMMANDS.tsv")) else { return Vec::new() };
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let file = f.next()?;
            let commands: Vec<String> = f.map(String::from).collect();
            let verb = commands.last()?.split_whitespace().next()?.trim_start_matches('!').to_ascii_lowercase();
            COMMANDS.contains(&verb.as_str()).then(|| (dir.join(file), commands))
        })
        .collect()
}

/// dotnet-dump's text with the one thing that describes dotnet-dump itself rather than
/// the dump made neutral: `runtimes` names its own cDAC library by the path it is installed
/// at (`CDac /root/.cache/clrheap-lab/dotnet-dump/libmscordaccore_universal.so ...`), which
/// clrheap, having none, prints as the file name.
fn tool_neutral(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("        CDac ").and_then(|rest| rest.split_once(' ')) {
            Some((path, rest)) => {
                out.push_str("        CDac ");
                out.push_str(path.rsplit('/').next().unwrap_or(path));
                out.push(' ');
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Runs `commands` on `dump` and compares the output with `file`.
fn compare(dump: &Path, file: &Path, commands: &[String]) -> Result<(), String> {
    let want = tool_neutral(&truth_text(file)?);
    let refs: Vec<&str> = commands.iter().map(String::as_str).collect();
    let out = analyze(dump, &refs);
    let ours = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("exited {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    if ours == want {
        return Ok(());
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), want.lines().collect());
    let n = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    Err(format!(
        "differs at line {} ({} lines, want {}):\n  ours: {:?}\n  want: {:?}",
        n + 1,
        a.len(),
        b.len(),
        a.get(n).unwrap_or(&"<end>"),
        b.get(n).unwrap_or(&"<end>")
    ))
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn threads_and_stacks_match_dotnet_dump() {
    let checks = Checks::new();
    let Some(lab) = lab_dir() else {
        eprintln!("threads_and_stacks_match_dotnet_dump: the lab is not unpacked: skipped");
        return;
    };
    let mut dumps: Vec<String> = Vec::new();
    for (name, _, truth) in lab_dumps("threads_and_stacks_match_dotnet_dump") {
        if truth.join("sos/COMMANDS.tsv").exists() {
            dumps.push(name);
        }
    }
    for d in std::fs::read_dir(expected_root()).into_iter().flatten().flatten() {
        dumps.push(d.file_name().to_string_lossy().to_string());
    }
    dumps.sort();
    dumps.dedup();
    let mut total = 0;
    for name in &dumps {
        let dump = lab.join("dumps").join(format!("{name}.dmp"));
        if !dump.exists() {
            checks.run(name, "sos-threads", || Err(format!("{} is missing", dump.display())));
            continue;
        }
        let mut all = cases(&lab.join("dumps").join(format!("{name}.truth/sos")));
        all.extend(cases(&expected_root().join(name)));
        for (file, commands) in all {
            let check = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            total += 1;
            checks.run(name, &check, || compare(&dump, &file, &commands));
        }
    }
    eprintln!("threads_and_stacks_match_dotnet_dump: {total} texts over {} dumps", dumps.len());
    checks.finish("threads_and_stacks_match_dotnet_dump");
}

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

/// dotnet-dump's (or clrheap's) text with what describes the tool itself rather than
/// the dump made neutral: `runtimes` names its own cDAC library by the path it is installed
/// at (`CDac /root/.cache/clrheap-lab/dotnet-dump/libmscordaccore_universal.so ...`), which
/// clrheap, having none, prints as the file name; `sosstatus` ends with the tool's symbol
/// cache and server, extension assemblies, host runtime and memory use — everything after
/// the symbol store's directory (the dump's folder) is cut from both texts.
fn tool_neutral(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_symbol_store = false;
    for line in text.split_inclusive('\n') {
        if line == "Current symbol store settings:\n" {
            in_symbol_store = true;
        } else if in_symbol_store && !line.starts_with("-> Directory: ") {
            break;
        }
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
    let ours = tool_neutral(&String::from_utf8_lossy(&out.stdout));
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
    // name -> (dump, its truth's sos/ folder): the lab's dumps and those of
    // CLRHEAP_EXTRA_DUMPS (fresh dumps with `sos-truth-more` texts), then the dumps that
    // only tests/expected/threads has texts for.
    let mut dumps: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    for (name, dump, truth) in lab_dumps("threads_and_stacks_match_dotnet_dump") {
        if truth.join("sos/COMMANDS.tsv").exists() {
            dumps.push((name, dump, truth.join("sos")));
        }
    }
    for d in std::fs::read_dir(expected_root()).into_iter().flatten().flatten() {
        let name = d.file_name().to_string_lossy().to_string();
        if !dumps.iter().any(|(n, _, _)| *n == name) {
            let dump = lab.join("dumps").join(format!("{name}.dmp"));
            let truth = lab.join("dumps").join(format!("{name}.truth/sos"));
            dumps.push((name, dump, truth));
        }
    }
    dumps.sort();
    let mut total = 0;
    for (name, dump, truth) in &dumps {
        let (name, dump) = (name.as_str(), dump.as_path());
        if !dump.exists() {
            checks.run(name, "sos-threads", || Err(format!("{} is missing", dump.display())));
            continue;
        }
        let mut all = cases(truth);
        all.extend(cases(&expected_root().join(name)));
        for (file, commands) in all {
            let check = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            total += 1;
            checks.run(name, &check, || compare(dump, &file, &commands));
        }
    }
    eprintln!("threads_and_stacks_match_dotnet_dump: {total} texts over {} dumps", dumps.len());
    checks.finish("threads_and_stacks_match_dotnet_dump");
}

/// `crashinfo` where dotnet-dump has no crash info to show: every dump whose truth says
/// dotnet-dump failed on `crashinfo` (`FAILED.txt`; it prints `No crash info to display`
/// and exits 1). clrheap must give the same answer as an error, and the dump shows why:
/// createdump's block records no exception record (CoreCLR records its crash info
/// nowhere; only NativeAOT's fail fast does), including in a dump the runtime wrote at
/// `Environment.FailFast` (make one with `DOTNET_DbgEnableMiniDump=1` and `scenarios ...
/// --abort`, with its `sos-truth-more` texts, under a `CLRHEAP_EXTRA_DUMPS` folder).
#[test]
fn crashinfo_without_crash_info_matches_dotnet_dump() {
    let checks = Checks::new();
    let mut total = 0;
    for (name, dump, truth) in lab_dumps("crashinfo_without_crash_info_matches_dotnet_dump") {
        let Ok(failed) = std::fs::read_to_string(truth.join("sos/FAILED.txt")) else { continue };
        if !failed.lines().any(|l| l.starts_with("crashinfo:")) {
            continue;
        }
        total += 1;
        checks.run(&name, "crashinfo", || {
            let out = analyze(&dump, &["crashinfo"]);
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || !err.contains("No crash info to display") || !out.stdout.is_empty() {
                return Err(format!("exited {:?}, stderr {:?}", out.status.code(), err.trim()));
            }
            let status = String::from_utf8_lossy(&analyze(&dump, &["sosstatus"]).stdout).to_string();
            if !status.contains("    ExceptionRecordAddress: 0000000000000000\n") {
                return Err("createdump's block records an exception: crash info expected".into());
            }
            Ok(())
        });
    }
    eprintln!("crashinfo_without_crash_info_matches_dotnet_dump: {total} dumps");
    checks.finish("crashinfo_without_crash_info_matches_dotnet_dump");
}

/// The proof behind the `modules-v` known gap: where dotnet-dump's `modules -v` says
/// `Version: <none>` for a native module and clrheap prints a version, the module's file
/// (the one the dump maps; its build id is the dump's, `BuildId:` agrees in both texts)
/// holds `@(#)Version <that text>` inside a writable `PT_LOAD` — where dotnet-dump itself
/// looks, and where it finds the same text for libcoreclr.so, whose page the dump lacks
/// just the same.
#[test]
fn modules_v_versions_are_in_the_module_files() {
    let Some(lab) = lab_dir() else { return };
    let mut proved = 0;
    // The lab's ops dumps (texts in tests/expected/threads) and any dump of
    // CLRHEAP_EXTRA_DUMPS whose truth has a `modules-v.txt`.
    let mut dumps: Vec<(String, PathBuf, PathBuf)> = ["ops-net8-wks-heap", "ops-net9-wks-heap", "ops-net10-wks-heap"]
        .iter()
        .map(|n| (n.to_string(), lab.join("dumps").join(format!("{n}.dmp")), expected_root().join(n).join("modules-v.txt")))
        .collect();
    for (name, dump, truth) in lab_dumps("modules_v_versions_are_in_the_module_files") {
        if truth.join("sos/modules-v.txt").exists() {
            dumps.push((name, dump, truth.join("sos/modules-v.txt")));
        }
    }
    for (name, dump, text) in &dumps {
        let name = name.as_str();
        let Ok(theirs) = std::fs::read_to_string(text) else { continue };
        if !dump.exists() {
            continue;
        }
        let ours = run_command(dump, "modules -v");
        let blocks = |t: &str| -> Vec<(String, String)> {
            t.split('\n')
                .fold(Vec::<(String, String)>::new(), |mut acc, l| {
                    if l.chars().next().is_some_and(|c| c.is_ascii_digit()) && l.contains(" /") {
                        acc.push((l.split_once(' ').unwrap().1.to_string(), String::new()));
                    } else if let Some(last) = acc.last_mut() {
                        last.1.push_str(l);
                        last.1.push('\n');
                    }
                    acc
                })
        };
        let (ours, theirs) = (blocks(&ours), blocks(&theirs));
        assert_eq!(ours.len(), theirs.len(), "{name}: module count");
        for ((path, o), (tpath, t)) in ours.iter().zip(&theirs) {
            assert_eq!(path, tpath, "{name}: module order");
            if o == t {
                continue;
            }
            // The only difference allowed: <none> in theirs, a version in ours.
            let text = o
                .lines()
                .find(|l| l.starts_with("                     "))
                .map(str::trim)
                .unwrap_or_else(|| panic!("{name} {path}: differs beyond the version:\n{o}\n{t}"));
            assert!(t.contains("    Version:         <none>\n"), "{name} {path}: {t}");
            let without: String = o.lines().filter(|l| !l.starts_with("    Version:") && !l.starts_with("                     ")).collect();
            let twithout: String = t.lines().filter(|l| !l.starts_with("    Version:")).collect();
            assert_eq!(without, twithout, "{name} {path}: differs beyond the version");
            let file = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let elf = goblin::elf::Elf::parse(&file).expect("an ELF module");
            let needle = format!("@(#)Version {text}\0");
            let found = elf.program_headers.iter().filter(|ph| ph.p_type == goblin::elf::program_header::PT_LOAD && ph.p_flags & 2 != 0).any(|ph| {
                let range = ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize;
                file.get(range).is_some_and(|seg| seg.windows(needle.len()).any(|w| w == needle.as_bytes()))
            });
            assert!(found, "{name} {path}: no {needle:?} in a writable segment of the file");
            proved += 1;
        }
    }
    eprintln!("modules_v_versions_are_in_the_module_files: {proved} versions dotnet-dump missed, each in its file's writable data");
}

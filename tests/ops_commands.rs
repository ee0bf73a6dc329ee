//! The "what was the application doing" commands (issue 16) against the real dotnet-dump,
//! whole outputs: every truth file of the lab's dumps whose command (`sos/COMMANDS.tsv`)
//! is one of them (`dcd`, `dcq`, `timerinfo`, `threadpool`, `threadpoolqueue`,
//! `dumpasync ...`, `dumphttp`, `dumprequests`), and `tests/expected/ops-commands/DUMP/`
//! (dotnet-dump's `dcd`, `dcq`, `timerinfo`, `threadpool` and `dumpasync` on seed and zoo dumps,
//! `dumpasync`'s filters, `taskstate` and `dumphttp`'s options on ops-net8; the file name is the command, `_`
//! for spaces; a `.sha256` file holds the SHA-256 of a long output, then its first and
//! last lines for the reader). Check names are the command's name (`dcd`, `dumpasync`...).
mod common;

use common::Checks;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The commands this test covers (the first word of a COMMANDS.tsv command).
const COMMANDS: &[&str] = &[
    "dcd",
    "dcq",
    "timerinfo",
    "threadpool",
    "threadpoolqueue",
    "dumpasync",
    "dumphttp",
    "dumprequests",
];

fn compare(ours: &str, want: &str) -> Result<(), String> {
    if ours == want {
        return Ok(());
    }
    let (o, w): (Vec<_>, Vec<_>) = (ours.lines().collect(), want.lines().collect());
    let n = o.iter().zip(&w).take_while(|(a, b)| a == b).count();
    Err(format!(
        "differs at line {} ({} lines vs {}):\n  ours: {:?}\n  want: {:?}",
        n + 1,
        o.len(),
        w.len(),
        o.get(n).unwrap_or(&"<end>"),
        w.get(n).unwrap_or(&"<end>")
    ))
}

fn sha256(text: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_string()
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn ops_commands_match_dotnet_dump() {
    let checks = Checks::new();
    for (name, dump, truth) in common::lab_dumps("ops_commands") {
        let Ok(list) = std::fs::read_to_string(truth.join("sos/COMMANDS.tsv")) else { continue };
        for row in list.lines() {
            let cols: Vec<&str> = row.split('\t').collect();
            let [file, command] = cols[..] else { continue };
            let check = command.split_whitespace().next().unwrap_or("");
            if !COMMANDS.contains(&check) {
                continue;
            }
            if common::sos_failed(&truth, command) {
                checks.no_reference(&name, check, "dotnet-dump failed");
                continue;
            }
            checks.run(&name, check, || {
                let want = common::truth_text(&truth.join("sos").join(file))?;
                let ours = common::try_command(&dump, command)?;
                compare(&ours, &want).map_err(|e| format!("{command}: {e}"))
            });
        }
    }
    checks.finish("ops_commands");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn seed_and_zoo_match_dotnet_dump() {
    let Some(lab) = common::lab_dir() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/ops-commands");
    let checks = Checks::new();
    let mut cases = 0;
    for d in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = d.file_name().to_string_lossy().to_string();
        let dump = lab.join("dumps").join(format!("{name}.dmp"));
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            let path = f.path();
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            let command = stem.replace('_', " ");
            let check = command.split_whitespace().next().unwrap_or("").to_string();
            cases += 1;
            checks.run(&name, &check, || {
                let want = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                let ours = common::try_command(&dump, &command)?;
                if path.extension().is_some_and(|x| x == "sha256") {
                    let digest = want.lines().next().unwrap_or("");
                    let got = sha256(&ours);
                    return if got == digest { Ok(()) } else { Err(format!("{command}: SHA-256 {got}, want {digest}")) };
                }
                compare(&ours, &want).map_err(|e| format!("{command}: {e}"))
            });
        }
    }
    assert!(cases >= 6, "only {cases} expected outputs");
    checks.finish("seed_and_zoo");
}

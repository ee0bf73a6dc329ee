//! The code commands of issue 17 — `dumpil`, `ehinfo` — against what the real
//! dotnet-dump printed, whole outputs, byte for byte:
//! - every `dumpil` text of the lab's truth (`sos/` of the `ops` dumps of 8, 9 and 10);
//! - [`TARGETS`]: commands chosen to cover every shape, their expected texts in
//!   `tests/expected/il/DUMP/` (the command, spaces as `_` and other characters outside
//!   `[A-Za-z0-9.-]` as `%XX`, then `.txt`), captured from `lab/bin/sos` by
//!   `cargo test --release --test il -- --ignored capture_expected_texts`.
//!
//! One field is not compared: `dumpil`'s `pImport is X` is a pointer into dotnet-dump's
//! own process (the metadata importer it opened), different at every run and in no dump.
//!
//! Beyond these targets, the same commands were compared with dotnet-dump on every
//! MethodDesc of 86 CoreLib types of ops-net8 (2,812 `dumpil`, 242 `ehinfo` texts) and of
//! ten types of ops-net9 and ops-net10 (977 and 978 `dumpil`, 136 and 136 `ehinfo`): all
//! identical.
mod common;

use std::path::{Path, PathBuf};

/// `(dump, command)`. `dumpil`: nested try/catch with a generic type's MemberRef cut at
/// SOS's 50 characters and a short branch read unsigned (`Exceptions`); `ldc.i8` and a
/// generic method's MethodSpec (`Spin`); `switch`; `.finally`; `ldc.r8`; a string longer
/// than SOS's buffer (`STRING 7000xxxx`); a filter's body; a method with no IL (an
/// internal call: SOS fails); `-i` (IL by address, tokens as numbers); an object that is
/// no DynamicMethod; not a MethodDesc; no argument; the seed's `DocumentCache.TryGet` and
/// zoo's `Run` (try/catch). `ehinfo`: JIT code with nested catches (and .NET 8's
/// duplicate clauses), the same by a code address, ReadyToRun code with finally
/// (cloned on 8 and 9), fault, catch of a named type; a filter; a tier-1 method (the
/// active version's code); a method without code; not a MethodDesc; no argument.
const TARGETS: &[(&str, &str)] = &[
    // ops, .NET 8
    ("ops-net8-wks-heap", "dumpil 00007F04527893C0"),
    ("ops-net8-wks-heap", "dumpil 00007F0452789528"),
    ("ops-net8-wks-heap", "dumpil 00007F045261C190"),
    ("ops-net8-wks-heap", "dumpil 00007F04526B01C0"),
    ("ops-net8-wks-heap", "dumpil 00007F04526125D8"),
    ("ops-net8-wks-heap", "dumpil 00007f0453b78c98"),
    ("ops-net8-wks-heap", "dumpil 00007f04526be898"),
    ("ops-net8-wks-heap", "dumpil -i 00007F04D0F8D93A"),
    ("ops-net8-wks-heap", "dumpil 7ec43e048a28"),
    ("ops-net8-wks-heap", "dumpil 1234"),
    ("ops-net8-wks-heap", "dumpil"),
    ("ops-net8-wks-heap", "ehinfo 00007F04527893C0"),
    ("ops-net8-wks-heap", "ehinfo 00007F0452633ED5"),
    ("ops-net8-wks-heap", "ehinfo 00007F0452A2ABA0"),
    ("ops-net8-wks-heap", "ehinfo 00007F04526B0060"),
    ("ops-net8-wks-heap", "ehinfo 00007F0452A2A960"),
    ("ops-net8-wks-heap", "ehinfo 00007f0453b78c98"),
    ("ops-net8-wks-heap", "ehinfo 00007f04535c6948"),
    ("ops-net8-wks-heap", "ehinfo 1234"),
    ("ops-net8-wks-heap", "ehinfo"),
    // ops, .NET 9
    ("ops-net9-wks-heap", "dumpil 00007f3af5845998"),
    ("ops-net9-wks-heap", "dumpil 00007f3af5845b78"),
    ("ops-net9-wks-heap", "dumpil 00007F3AF4665CD0"),
    ("ops-net9-wks-heap", "dumpil 00007F3AF5A26738"),
    ("ops-net9-wks-heap", "dumpil 00007F3AF6ACA1E0"),
    ("ops-net9-wks-heap", "ehinfo 00007f3af5845998"),
    ("ops-net9-wks-heap", "ehinfo 00007F3AF6ACA1E0"),
    ("ops-net9-wks-heap", "ehinfo 00007F3AF5A2A4D8"),
    ("ops-net9-wks-heap", "ehinfo 00007F3AF5A2AEA0"),
    ("ops-net9-wks-heap", "ehinfo 00007F3AF5A2A298"),
    // ops, .NET 10
    ("ops-net10-wks-heap", "dumpil 00007f0858150458"),
    ("ops-net10-wks-heap", "dumpil 00007F085815F5F0"),
    ("ops-net10-wks-heap", "dumpil 00007F0856E35B70"),
    ("ops-net10-wks-heap", "dumpil 00007F085934FB90"),
    ("ops-net10-wks-heap", "dumpil 00007F085934FC30"),
    ("ops-net10-wks-heap", "ehinfo 00007f0858150458"),
    ("ops-net10-wks-heap", "ehinfo 00007F085934FC30"),
    ("ops-net10-wks-heap", "ehinfo 00007F0858294338"),
    ("ops-net10-wks-heap", "ehinfo 00007F0858294F00"),
    ("ops-net10-wks-heap", "ehinfo 00007F08582942F8"),
    ("ops-net10-wks-heap", "ehinfo 00007F085815F9C0"),
    // seed
    ("seed-net8-wks-heap", "dumpil 00007f0e705caf10"),
    ("seed-net8-wks-heap", "ehinfo 00007f0e705caf10"),
    ("seed-net9-wks-heap", "dumpil 00007fe94f0577f0"),
    ("seed-net10-wks-heap", "dumpil 00007f86ae1a22c8"),
    ("seed-net10-wks-heap", "ehinfo 00007f86ae1a22c8"),
    // zoo
    ("zoo-net8-wks-heap", "dumpil 00007fa0763f6ed8"),
    ("zoo-net8-wks-heap", "ehinfo 00007fa0763f6ed8"),
    ("zoo-net8-wks-heap", "dumpil 00007FA0766D7318"),
    ("zoo-net10-wks-heap", "dumpil 00007fa55f13dfb0"),
    ("zoo-net10-wks-heap", "ehinfo 00007fa55f13dfb0"),
    ("zoo-net10-wks-heap", "dumpil 00007FA55F54CCB0"),
];

/// The expected file of a command.
fn expected_file(dump: &str, command: &str) -> PathBuf {
    common::expected_path("il", dump, command)
}

/// `pImport is <pointer>` with the pointer left out.
fn masked(text: &str) -> String {
    text.lines()
        .map(|l| match l.find(" pImport is ") {
            Some(at) => format!("{} pImport is ?", &l[..at]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

/// Equal, but for the pImport pointer.
fn compare(ours: &str, want: &str) -> Result<(), String> {
    let (a, b) = (masked(ours), masked(want));
    if a == b {
        return Ok(());
    }
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for (n, (x, y)) in al.iter().zip(bl.iter()).enumerate() {
        if x != y {
            return Err(format!("line {}:\n  ours: {x:?}\n  want: {y:?}", n + 1));
        }
    }
    Err(format!("{} lines, want {} (or the last line's end differs)\n--- ours\n{a}--- want\n{b}", al.len(), bl.len()))
}

/// The check name of a command (`dumpil -i X` -> `dumpil`).
fn check_of(command: &str) -> &str {
    command.split(' ').next().unwrap_or(command)
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn lab_dumpil_truth() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("lab_dumpil_truth") {
        let listing = std::fs::read_to_string(truth.join("sos/COMMANDS.tsv")).unwrap_or_default();
        let files: Vec<(String, String)> = listing
            .lines()
            .filter_map(|line| {
                let row: Vec<&str> = line.split('\t').collect();
                let (file, command) = (row.first()?, row.last()?);
                command.starts_with("dumpil ").then(|| (file.to_string(), command.to_string()))
            })
            .collect();
        if files.is_empty() {
            continue;
        }
        checks.run(&name, "dumpil", || {
            for (file, command) in &files {
                let ours = common::try_command(&dump, command)?;
                let want = common::truth_text(&truth.join("sos").join(file))?;
                compare(&ours, &want).map_err(|e| format!("{command}: {e}"))?;
            }
            Ok(())
        });
    }
    checks.finish("lab_dumpil_truth");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn il_targets_match_dotnet_dump() {
    let targets: Vec<(&str, String, &str)> =
        TARGETS.iter().map(|&(dump, command)| (dump, format!("{}-targets", check_of(command)), command)).collect();
    common::check_targets(
        "il_targets_match_dotnet_dump",
        targets.iter().map(|(d, c, cmd)| (*d, c.as_str(), *cmd)),
        expected_file,
        compare,
    );
}

/// Every expected file belongs to a target (none left over from a removed one).
#[test]
fn expected_files_are_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/il");
    let wanted: Vec<PathBuf> = TARGETS.iter().map(|(d, c)| expected_file(d, c)).collect();
    common::expected_files_are_only(&root, &wanted);
}

/// Writes the expected text of every target that has none, from the real dotnet-dump
/// (`lab/bin/sos`). Run by hand: `cargo test --release --test il -- --ignored
/// capture_expected_texts`.
#[test]
#[ignore]
fn capture_expected_texts() {
    common::capture_sos_texts(TARGETS.iter().map(|(d, c)| (d.to_string(), c.to_string(), expected_file(d, c))));
}

#[test]
fn comparison_rules() {
    assert!(compare("ilAddr is 1 pImport is 2\nx\n", "ilAddr is 1 pImport is 3\nx\n").is_ok());
    assert!(compare("ilAddr is 1 pImport is 2\nx\n", "ilAddr is 2 pImport is 2\nx\n").is_err());
    assert!(compare("a\n", "a\nb\n").is_err());
    assert!(compare("a\n", "a").is_err());
}

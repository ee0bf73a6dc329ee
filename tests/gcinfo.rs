//! `gcinfo` (issue 17) against what the real dotnet-dump printed, whole outputs, byte for
//! byte: [`TARGETS`], their expected texts in `tests/expected/gcinfo/DUMP/` (the command,
//! spaces as `_` and other characters outside `[A-Za-z0-9.-]` as `%XX`, then `.txt`),
//! captured from `lab/bin/sos` by `cargo test --release --test gcinfo -- --ignored
//! capture_expected_texts`.
//!
//! Beyond these targets, every MethodDesc with code that `dumpmt -md` lists for the heap's
//! types was compared the same way (a sweep script, by hand): identical ops-net8 1222 of
//! 1227, ops-net9 1169 of 1178, ops-net10 1189 of 1196, zoo-net8 220 of 221, zoo-net9 222
//! of 225, zoo-net10 232 of 232, seed-net8 163 of 164, seed-net9 168 of 169, seed-net10 170
//! of 170, zoo-net8.0.0 228 of 228, seed-net10-svr 170 of 170, zoo-net10-wks-nonconc-full
//! 232 of 232; and every one of the `ops` scenario module's `dumpmodule -mt` types: ops-net8
//! 536 of 538, ops-net9 533 of 537, ops-net10 544 of 544. Every difference on 8 and 9 is a
//! MethodDesc for which dotnet-dump's code header request answers "entry point
//! 0000000000000000 / unknown Jit" although its own `gcinfo` of the method's code address
//! prints the table clrheap prints ([`UNKNOWN_JIT`]; those MethodDescs start with a byte a
//! precode's type can have, 0x05, 0x90 or 0xff, which the DAC seems to take for a stub).
//! The seven on ops-net10 are `System.Net.WebHeaderCollection` methods dotnet-dump calls
//! "not a MethodDesc" (its `dumpmt -md`, `dumpmd`, `token2ee` too); clrheap reads them and
//! their ReadyToRun code, and [`web_header_collection_method_descs_are_method_descs`]
//! proves from the dump that they are MethodDescs (vtable slot, MethodDef map and the
//! code's ReadyToRun entry all lead to them).
mod common;

use std::path::{Path, PathBuf};

/// `(dump, command)`, chosen to cover every shape. Version 3 GC info (.NET 8, 9) and
/// version 4 (.NET 10, no return kind, no PSPSym); JIT and ReadyToRun code:
/// fully interruptible code with untracked frame slots and a PSPSym; partially
/// interruptible code and its safe points (version 3 numbers them one past the offset the
/// live slots are listed at, version 4 at the same offset, scratch registers included);
/// pinned and interior slots; `sp`-relative slots; a GS cookie and its valid range; a
/// parameter area; ByRef and Object return kinds; a method without a frame pointer; a
/// method with no table lines; a code address rather than a MethodDesc; a method without
/// code; not a MethodDesc; no argument.
const TARGETS: &[(&str, &str)] = &[
    // ops, .NET 8
    ("ops-net8-wks-heap", "gcinfo 00007F04527893C0"),
    ("ops-net8-wks-heap", "gcinfo 00007F0452633ED5"),
    ("ops-net8-wks-heap", "gcinfo 00007F04526B0060"),
    ("ops-net8-wks-heap", "gcinfo 00007F045256C598"),
    ("ops-net8-wks-heap", "gcinfo 00007F04535C1340"),
    ("ops-net8-wks-heap", "gcinfo 00007F04532802E8"),
    ("ops-net8-wks-heap", "gcinfo 00007F04526ED110"),
    ("ops-net8-wks-heap", "gcinfo 00007F045261C4B8"),
    ("ops-net8-wks-heap", "gcinfo 00007F0452565A58"),
    ("ops-net8-wks-heap", "gcinfo 00007F04526EC3D8"),
    ("ops-net8-wks-heap", "gcinfo 00007F0453B78C80"),
    ("ops-net8-wks-heap", "gcinfo 00007f04535c6948"),
    ("ops-net8-wks-heap", "gcinfo 1234"),
    ("ops-net8-wks-heap", "gcinfo"),
    // .NET 9
    ("ops-net9-wks-heap", "gcinfo 00007f3af5845998"),
    ("ops-net9-wks-heap", "gcinfo 00007F3AF6ACA1E0"),
    ("zoo-net9-wks-heap", "gcinfo 00007F1089ACFC40"),
    ("zoo-net9-wks-heap", "gcinfo 00007F1089B61048"),
    ("zoo-net9-wks-heap", "gcinfo 00007F1089838510"),
    ("zoo-net9-wks-heap", "gcinfo 00007F1089ADCD70"),
    ("zoo-net9-wks-heap", "gcinfo 00007F1089B69C08"),
    ("zoo-net9-wks-heap", "gcinfo 00007F10895DFD78"),
    ("zoo-net9-wks-heap", "gcinfo 00007F1089AAF1B0"),
    ("zoo-net9-wks-heap", "gcinfo 00007F1089BF7DE0"),
    ("zoo-net9-wks-heap", "gcinfo 00007F10895D9E60"),
    // .NET 10
    ("ops-net10-wks-heap", "gcinfo 00007F0858154898"),
    ("ops-net10-wks-heap", "gcinfo 00007F0857E61560"),
    ("ops-net10-wks-heap", "gcinfo 00007F0857E5B928"),
    ("ops-net10-wks-heap", "gcinfo 00007F0858B51248"),
    ("ops-net10-wks-heap", "gcinfo 00007F0858E01470"),
    ("ops-net10-wks-heap", "gcinfo 00007F0858ABCCA0"),
    ("ops-net10-wks-heap", "gcinfo 00007F0857E5D7E0"),
    ("ops-net10-wks-heap", "gcinfo 00007F0856E397B8"),
    ("ops-net10-wks-heap", "gcinfo 00007F0856E346B8"),
    ("ops-net10-wks-heap", "gcinfo 00007F0857E96FC2"),
    ("ops-net10-wks-heap", "gcinfo 00007F0859367C98"),
    ("ops-net10-wks-heap", "gcinfo 00007F0857095BDD"),
    // seed and zoo
    ("seed-net8-wks-heap", "gcinfo 00007f0e705caf10"),
    ("seed-net8-wks-heap", "gcinfo 00007F0E705CAEF8"),
    ("seed-net8-wks-heap", "gcinfo 00007F0E705CAF50"),
    ("seed-net10-wks-heap", "gcinfo 00007f86ae1a22c8"),
    ("seed-net10-wks-heap", "gcinfo 00007F86AE1A22A8"),
    ("seed-net10-wks-heap", "gcinfo 00007F86AE1A2320"),
    ("zoo-net8-wks-heap", "gcinfo 00007fa0763f6ed8"),
    ("zoo-net10-wks-heap", "gcinfo 00007fa55f13dfb0"),
    // dotnet-dump's own evidence for [`UNKNOWN_JIT`]
    ("zoo-net8-wks-heap", "gcinfo 00007FA0761796F0"),
    ("zoo-net8-wks-heap", "dumpmd 00007FA0761796F0"),
    ("zoo-net8-wks-heap", "gcinfo 00007fa0755b4b40"),
];

/// `(dump, MethodDesc, its code)`: MethodDescs for which dotnet-dump's `gcinfo` prints
/// `entry point 0000000000000000` / `unknown Jit` and stops, although its `dumpmd` says the
/// method's current code is at the address given and its `gcinfo` of that address prints
/// the method's table. clrheap prints that table for both.
const UNKNOWN_JIT: &[(&str, &str, &str)] = &[("zoo-net8-wks-heap", "00007FA0761796F0", "00007fa0755b4b40")];

/// The expected file of a command.
fn expected_file(dump: &str, command: &str) -> PathBuf {
    common::expected_path("gcinfo", dump, command)
}

/// Equal, or where they first differ.
fn compare(ours: &str, want: &str) -> Result<(), String> {
    if ours == want {
        return Ok(());
    }
    let (al, bl): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), want.lines().collect());
    for (n, (x, y)) in al.iter().zip(bl.iter()).enumerate() {
        if x != y {
            return Err(format!("line {}:\n  ours: {x:?}\n  want: {y:?}", n + 1));
        }
    }
    Err(format!("{} lines, want {} (or the last line's end differs)", al.len(), bl.len()))
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn gcinfo_targets_match_dotnet_dump() {
    let targets = TARGETS.iter().filter(|(dump, command)| {
        let unknown_jit = UNKNOWN_JIT.iter().any(|(d, md, _)| d == dump && *command == format!("gcinfo {md}"));
        command.starts_with("gcinfo") && !unknown_jit
    });
    common::check_targets(
        "gcinfo_targets_match_dotnet_dump",
        targets.map(|&(dump, command)| (dump, "gcinfo-targets", command)),
        expected_file,
        compare,
    );
}

/// [`UNKNOWN_JIT`]: dotnet-dump's `gcinfo <MethodDesc>` stops where clrheap prints the
/// table dotnet-dump prints for the method's current code (which its `dumpmd` names).
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn unknown_jit_is_dotnet_dumps_and_the_code_has_a_table() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("unknown_jit_is_dotnet_dumps_and_the_code_has_a_table: the lab is not unpacked: skipped");
        return;
    };
    let checks = common::Checks::new();
    for (dump, md, code) in UNKNOWN_JIT {
        let path = lab.join("dumps").join(format!("{dump}.dmp"));
        checks.run(dump, "gcinfo-unknown-jit", || {
            let theirs = common::truth_text(&expected_file(dump, &format!("gcinfo {md}")))?;
            if !theirs.starts_with("entry point 0000000000000000\nunknown Jit\n") {
                return Err(format!("dotnet-dump's gcinfo {md} is no longer the unknown-Jit text"));
            }
            let dumpmd = common::truth_text(&expected_file(dump, &format!("dumpmd {md}")))?;
            if !dumpmd.lines().any(|l| l.starts_with("Current CodeAddr:") && l.ends_with(&code.to_lowercase())) {
                return Err(format!("dotnet-dump's dumpmd {md} does not name the code {code}"));
            }
            let table = common::truth_text(&expected_file(dump, &format!("gcinfo {code}")))?;
            let ours = common::try_command(&path, &format!("gcinfo {md}"))?;
            compare(&ours, &table).map_err(|e| format!("gcinfo {md} vs dotnet-dump's gcinfo {code}: {e}"))
        });
    }
    checks.finish("unknown_jit_is_dotnet_dumps_and_the_code_has_a_table");
}

/// Every expected file belongs to a target (none left over from a removed one).
#[test]
fn expected_files_are_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/gcinfo");
    let wanted: Vec<PathBuf> = TARGETS.iter().map(|(d, c)| expected_file(d, c)).collect();
    common::expected_files_are_only(&root, &wanted);
}

/// Writes the expected text of every target that has none, from the real dotnet-dump
/// (`lab/bin/sos`). Run by hand: `cargo test --release --test gcinfo -- --ignored
/// capture_expected_texts`.
#[test]
#[ignore]
fn capture_expected_texts() {
    common::capture_sos_texts(TARGETS.iter().map(|(d, c)| (d.to_string(), c.to_string(), expected_file(d, c))));
}

/// The seven MethodDescs of `System.Net.WebHeaderCollection` (MethodTable 7f08592421b8 on
/// ops-net10) that dotnet-dump's `dumpmt -md` lists at these vtable slots and then calls
/// "not a MethodDesc" (its `dumpmd`, `gcinfo` and `name2ee` find nothing either), as
/// (MethodDesc, slot) from that text.
const WEB_HEADER_METHODS: &[(&str, u32)] = &[
    ("00007F0859242078", 0x07),
    ("00007F0859241F60", 0x0F),
    ("00007F0859241DB8", 0x11),
    ("00007F0859241EE8", 0x14),
    ("00007F0859241F18", 0x15),
    ("00007F0859242060", 0x18),
    ("00007F0859241CF8", 0x1C),
];

/// They are MethodDescs: each address is reached three independent ways through the
/// runtime's own tables. The MethodTable's vtable slot holds it (dotnet-dump's own listing,
/// and clrheap's); the module's MethodDef map gives it for its token (`token2ee`); and the
/// ReadyToRun image's method entry for its code maps the code back to it (`ip2md` of the
/// code clrheap's `dumpmd` names). What clrheap reads from the MethodDesc itself (token,
/// name, code) agrees with all three.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn web_header_collection_method_descs_are_method_descs() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("web_header_collection_method_descs_are_method_descs: the lab is not unpacked: skipped");
        return;
    };
    let checks = common::Checks::new();
    let dump = lab.join("dumps/ops-net10-wks-heap.dmp");
    checks.run("ops-net10-wks-heap", "gcinfo-webheadercollection", || {
        let table = common::try_command(&dump, "dumpmt -md 7f08592421b8")?;
        if !table.contains("Name:                System.Net.WebHeaderCollection\n") {
            return Err("7f08592421b8 is not WebHeaderCollection's MethodTable".into());
        }
        for &(md, slot) in WEB_HEADER_METHODS {
            let field = |text: &str, key: &str| -> Option<String> {
                text.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string())
            };
            // The vtable: clrheap's listing has the MethodDesc at dotnet-dump's slot.
            if !table.lines().any(|l| l.split_whitespace().nth(1) == Some(md) && l.split_whitespace().nth(3) == Some(&format!("{slot:016X}")[..])) {
                return Err(format!("dumpmt -md lists no {md} at slot {slot:x}"));
            }
            let dumpmd = common::try_command(&dump, &format!("dumpmd {md}"))?;
            let name = field(&dumpmd, "Method Name:").ok_or(format!("dumpmd {md}: no name"))?;
            let token = field(&dumpmd, "mdToken:").ok_or(format!("dumpmd {md}: no token"))?;
            let code = field(&dumpmd, "Current CodeAddr:").ok_or(format!("dumpmd {md}: no code"))?;
            if !token.starts_with("00000000060") {
                return Err(format!("{md}: token {token} is not a MethodDef"));
            }
            // The R2R method entry of the code: back to the same MethodDesc.
            let ip2md = common::try_command(&dump, &format!("ip2md {code}"))?;
            if field(&ip2md, "MethodDesc:").map(|m| format!("{:0>16}", m.to_uppercase())) != Some(md.to_string()) {
                return Err(format!("ip2md {code} does not name {md}: {ip2md}"));
            }
            // The module's MethodDef map: token2ee of the token gives it (dotnet-dump's
            // token2ee answers `<invalid module token>`).
            let short = token.trim_start_matches('0');
            let mapped = common::try_command(&dump, &format!("token2ee System.Net.WebHeaderCollection.dll 0x{short}"))?;
            if field(&mapped, "MethodDesc:").map(|m| format!("{:0>16}", m.to_uppercase())) != Some(md.to_string()) {
                return Err(format!("token2ee of {token} does not give {md}: {mapped}"));
            }
            if field(&mapped, "Name:") != Some(name.clone()) {
                return Err(format!("token2ee of {token} names another method than {name}: {mapped}"));
            }
        }
        Ok(())
    });
    checks.finish("web_header_collection_method_descs_are_method_descs");
}

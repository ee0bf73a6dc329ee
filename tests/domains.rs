//! The domain and module commands (issue 17) against what the real dotnet-dump printed,
//! whole outputs, byte for byte:
//! - the lab's truth texts of `dumpdomain` and `dumpmodule -mt` (`sos/` of the ops dumps of
//!   8, 9 and 10);
//! - [`TARGETS`]: commands chosen to cover every shape, their expected texts in
//!   `tests/expected/domains/DUMP/` (named as `tests/types.rs` names its files), captured
//!   once from `lab/bin/sos` by `cargo test --release --test domains -- --ignored
//!   capture_expected_texts`.
//!
//! One difference is allowed: dotnet-dump names a type emitted at run time
//! `<Unloaded Type>` (its DAC finds no `PEImage` for the module); clrheap names it, from
//! the module's in-memory metadata (the rest of the line must agree).
//!
//! `dumpalc` on .NET 10 has no dotnet-dump text to compare with: dotnet-dump crashes
//! (SIGSEGV) printing the context object's fields, after its `Name:` and `MethodTable:`
//! lines (the `dumpobj` crash on .NET 10 heap dumps of `../shared/RESEARCH.md` §1a).
//! [`dumpalc_on_net10_is_the_contexts_dumpobj`] checks there that clrheap's text starts
//! with those two lines and is, whole, `dumpobj` of the context (the object the first
//! line's MethodTable is the type of), which the dumpobj tests check against dotnet-dump.
mod common;

use clrheap::dump::DumpOptions;
use clrheap::Session;
use std::path::{Path, PathBuf};

/// `(dump, command)`: the targets. On every x64 dump of the lab with truth (seed, zoo,
/// ops, oom; 8.0.0, 8, 9, 10; workstation, server, segments; heap and full dumps):
/// `dumpdomain` (both domains, every assembly and module, dynamic assemblies on the zoo
/// dumps), `dumpmodule -mt` of the application's module (a flat image: `IsFileLayout`),
/// `dumpmodule` of CoreLib (a mapped image), `dumpassembly` of the application's;
/// on the zoo dumps `dumpmodule -mt` and `dumpassembly` of both modules emitted at run
/// time (Reflection.Emit, one of them collectible: no file, no image, `Reflection
/// IsDynamic IsInMemory`, a loader allocator of its own); `dumpmodule -mt` of
/// System.Collections (generic definitions among its TypeRefs' types) on the seed dumps
/// and two zoo dumps; `findappdomain` and `dumpalc` (8 and 9) of an application object,
/// on the zoo dumps also of an emitted type's and of a collectible type's object;
/// `dumpdomain` of each domain's address on one dump of each version; `dumpmt -md` of the
/// collectible type on zoo 8, 9, 10 (its `LoaderAllocator:` and `AssemblyLoadContext:`
/// lines, which come from the same binder walk as `dumpalc`); on seed-net8 every
/// refusal (no argument, an address that is no module, assembly, domain or object).
const TARGETS: &[(&str, &str)] = &[
    ("seed-net8-wks-heap", "dumpdomain"),
    ("seed-net8-wks-heap", "dumpmodule -mt 00007f0e7049cec8"),
    ("seed-net8-wks-heap", "dumpmodule 00007f0e6f634000"),
    ("seed-net8-wks-heap", "dumpmodule -mt 00007f0e705c8480"),
    ("seed-net8-wks-heap", "dumpassembly 00005559d5f1fa20"),
    ("seed-net8-wks-heap", "findappdomain 7ece5a00a4f8"),
    ("seed-net8-wks-heap", "dumpalc 7ece5a00a4f8"),
    ("seed-net8-wks-heap", "dumpdomain 00007f0eeec9b070"),
    ("seed-net8-wks-heap", "dumpdomain 00005559d5f67ba0"),
    ("seed-net8.0.0-wks-heap", "dumpdomain"),
    ("seed-net8.0.0-wks-heap", "dumpmodule -mt 00007f5c592bcec8"),
    ("seed-net8.0.0-wks-heap", "dumpmodule 00007f5c58434000"),
    ("seed-net8.0.0-wks-heap", "dumpmodule -mt 00007f5c5938aa00"),
    ("seed-net8.0.0-wks-heap", "dumpassembly 000055bdf348fa90"),
    ("seed-net8.0.0-wks-heap", "findappdomain 7f1c4200a398"),
    ("seed-net8.0.0-wks-heap", "dumpalc 7f1c4200a398"),
    ("seed-net8-segments-heap", "dumpdomain"),
    ("seed-net8-segments-heap", "dumpmodule -mt 00007f182a8bcec8"),
    ("seed-net8-segments-heap", "dumpmodule 00007f1829a54000"),
    ("seed-net8-segments-heap", "dumpmodule -mt 00007f182a9e8480"),
    ("seed-net8-segments-heap", "dumpassembly 000055f01da05a20"),
    ("seed-net8-segments-heap", "findappdomain 7f17f400b580"),
    ("seed-net8-segments-heap", "dumpalc 7f17f400b580"),
    ("seed-net9-wks-heap", "dumpdomain"),
    ("seed-net9-wks-heap", "dumpmodule -mt 00007fe94eeb7038"),
    ("seed-net9-wks-heap", "dumpmodule 00007fe94de64000"),
    ("seed-net9-wks-heap", "dumpmodule -mt 00007fe94f0550e0"),
    ("seed-net9-wks-heap", "dumpassembly 0000565025fa4fd0"),
    ("seed-net9-wks-heap", "findappdomain 7fa93a00a868"),
    ("seed-net9-wks-heap", "dumpalc 7fa93a00a868"),
    ("seed-net10-wks-heap", "dumpdomain"),
    ("seed-net10-wks-heap", "dumpmodule -mt 00007f86adf51a30"),
    ("seed-net10-wks-heap", "dumpmodule 00007f86ace64000"),
    ("seed-net10-wks-heap", "dumpmodule -mt 00007f86adf5fb20"),
    ("seed-net10-wks-heap", "dumpassembly 00005608076c45f0"),
    ("seed-net10-wks-heap", "findappdomain 7f7ad500ac30"),
    // No managed default context: dotnet-dump says so, without printing an object.
    ("seed-net10-wks-heap", "dumpalc 7f7ad500ac30"),
    ("seed-net10-wks-heap", "dumpdomain 00007f872c4cce00"),
    ("seed-net10-wks-heap", "dumpdomain 000056080764d390"),
    ("seed-net10-svr-heap", "dumpdomain"),
    ("seed-net10-svr-heap", "dumpmodule -mt 00007fdb57731a30"),
    ("seed-net10-svr-heap", "dumpmodule 00007fdb56644000"),
    ("seed-net10-svr-heap", "dumpmodule -mt 00007fdb5773fb20"),
    ("seed-net10-svr-heap", "dumpassembly 0000562c632209c0"),
    ("seed-net10-svr-heap", "findappdomain 7f9b440002c8"),
    ("zoo-net8-wks-heap", "dumpdomain"),
    ("zoo-net8-wks-heap", "dumpmodule -mt 00007fa0762ccec8"),
    ("zoo-net8-wks-heap", "dumpmodule 00007fa075464000"),
    ("zoo-net8-wks-heap", "dumpmodule -mt 00007fa0763f8480"),
    ("zoo-net8-wks-heap", "dumpassembly 000055c4a18b4a20"),
    ("zoo-net8-wks-heap", "dumpmodule -mt 00007fa0766a3ac0"),
    ("zoo-net8-wks-heap", "dumpassembly 000055c4a1aaeef0"),
    ("zoo-net8-wks-heap", "dumpmodule -mt 00007fa0766fc060"),
    ("zoo-net8-wks-heap", "dumpassembly 000055c4a1ab9c90"),
    ("zoo-net8-wks-heap", "findappdomain 7f605e81bb78"),
    ("zoo-net8-wks-heap", "dumpalc 7f605e81bb78"),
    ("zoo-net8-wks-heap", "findappdomain 7f605e81a748"),
    ("zoo-net8-wks-heap", "dumpalc 7f605e81a748"),
    ("zoo-net8.0.0-wks-heap", "dumpdomain"),
    ("zoo-net8.0.0-wks-heap", "dumpmodule -mt 00007fe7cf8ccec8"),
    ("zoo-net8.0.0-wks-heap", "dumpmodule 00007fe7cea44000"),
    ("zoo-net8.0.0-wks-heap", "dumpassembly 0000564c82d99a90"),
    ("zoo-net8.0.0-wks-heap", "dumpmodule -mt 00007fe7cfd35fd0"),
    ("zoo-net8.0.0-wks-heap", "dumpassembly 0000564c82f45dc0"),
    ("zoo-net8.0.0-wks-heap", "dumpmodule -mt 00007fe7cfd7c060"),
    ("zoo-net8.0.0-wks-heap", "dumpassembly 0000564c82f51eb0"),
    ("zoo-net8.0.0-wks-heap", "findappdomain 7fa722003498"),
    ("zoo-net8.0.0-wks-heap", "dumpalc 7fa722003498"),
    ("zoo-net8.0.0-wks-heap", "findappdomain 7fa722003480"),
    ("zoo-net8.0.0-wks-heap", "dumpalc 7fa722003480"),
    ("zoo-net8-segments-heap", "dumpdomain"),
    ("zoo-net8-segments-heap", "dumpmodule -mt 00007f623b8acec8"),
    ("zoo-net8-segments-heap", "dumpmodule 00007f623aa44000"),
    ("zoo-net8-segments-heap", "dumpassembly 00005639b9c31a20"),
    ("zoo-net8-segments-heap", "dumpmodule -mt 00007f623bc83ac0"),
    ("zoo-net8-segments-heap", "dumpassembly 00005639b9e32950"),
    ("zoo-net8-segments-heap", "dumpmodule -mt 00007f623bcdc060"),
    ("zoo-net8-segments-heap", "dumpassembly 00005639b9e38980"),
    ("zoo-net8-segments-heap", "findappdomain 7f620401cb98"),
    ("zoo-net8-segments-heap", "dumpalc 7f620401cb98"),
    ("zoo-net8-segments-heap", "findappdomain 7f620401b768"),
    ("zoo-net8-segments-heap", "dumpalc 7f620401b768"),
    ("zoo-net9-wks-heap", "dumpdomain"),
    ("zoo-net9-wks-heap", "dumpmodule -mt 00007f1089697038"),
    ("zoo-net9-wks-heap", "dumpmodule 00007f1088644000"),
    ("zoo-net9-wks-heap", "dumpassembly 0000555b6f25cfd0"),
    ("zoo-net9-wks-heap", "dumpmodule -mt 00007f1089a8f5d0"),
    ("zoo-net9-wks-heap", "dumpassembly 0000555b6f3282c0"),
    ("zoo-net9-wks-heap", "dumpmodule -mt 00007f1089adc010"),
    ("zoo-net9-wks-heap", "dumpassembly 0000555b6f3a4670"),
    ("zoo-net9-wks-heap", "findappdomain 7ed07281bf48"),
    ("zoo-net9-wks-heap", "dumpalc 7ed07281bf48"),
    ("zoo-net9-wks-heap", "findappdomain 7ed07281aac0"),
    ("zoo-net9-wks-heap", "dumpalc 7ed07281aac0"),
    ("zoo-net9-wks-heap", "dumpdomain 00007f1107d13770"),
    ("zoo-net9-wks-heap", "dumpdomain 0000555b6f2a5ec0"),
    ("zoo-net10-wks-heap", "dumpdomain"),
    ("zoo-net10-wks-heap", "dumpmodule -mt 00007fa55f131a30"),
    ("zoo-net10-wks-heap", "dumpmodule 00007fa55e044000"),
    ("zoo-net10-wks-heap", "dumpmodule -mt 00007fa55f13fb20"),
    ("zoo-net10-wks-heap", "dumpassembly 0000559277dd55f0"),
    ("zoo-net10-wks-heap", "dumpmodule -mt 00007fa55f51e670"),
    ("zoo-net10-wks-heap", "dumpassembly 0000559277ea0dc0"),
    ("zoo-net10-wks-heap", "dumpmodule -mt 00007fa55f56c010"),
    ("zoo-net10-wks-heap", "dumpassembly 0000559277e98fd0"),
    ("zoo-net10-wks-heap", "findappdomain 7f998581c0a8"),
    ("zoo-net10-wks-heap", "findappdomain 7f998581ac10"),
    ("zoo-net10-svr-heap", "dumpdomain"),
    ("zoo-net10-svr-heap", "dumpmodule -mt 00007f961b131a30"),
    ("zoo-net10-svr-heap", "dumpmodule 00007f961a044000"),
    ("zoo-net10-svr-heap", "dumpassembly 000056319a0fb9c0"),
    ("zoo-net10-svr-heap", "dumpmodule -mt 00007f961b51e670"),
    ("zoo-net10-svr-heap", "dumpassembly 000056319a1c0d10"),
    ("zoo-net10-svr-heap", "dumpmodule -mt 00007f961b56c010"),
    ("zoo-net10-svr-heap", "dumpassembly 000056319a1bf560"),
    ("zoo-net10-svr-heap", "findappdomain 7f5609419ca0"),
    ("zoo-net10-svr-heap", "findappdomain 7f56094199b0"),
    ("zoo-net10-wks-nonconc-full", "dumpdomain"),
    ("zoo-net10-wks-nonconc-full", "dumpmodule -mt 00007f885b721a30"),
    ("zoo-net10-wks-nonconc-full", "dumpmodule 00007f885a634000"),
    ("zoo-net10-wks-nonconc-full", "dumpassembly 000055936b0c9890"),
    ("zoo-net10-wks-nonconc-full", "dumpmodule -mt 00007f885bb0e670"),
    ("zoo-net10-wks-nonconc-full", "dumpassembly 000055936b194ef0"),
    ("zoo-net10-wks-nonconc-full", "dumpmodule -mt 00007f885bb5c010"),
    ("zoo-net10-wks-nonconc-full", "dumpassembly 000055936b1986b0"),
    ("zoo-net10-wks-nonconc-full", "findappdomain 7f7c8181c0a8"),
    ("zoo-net10-wks-nonconc-full", "findappdomain 7f7c8181ac10"),
    ("ops-net8-wks-heap", "dumpdomain"),
    ("ops-net8-wks-heap", "dumpmodule -mt 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpmodule 00007f0451854000"),
    ("ops-net8-wks-heap", "dumpassembly 000055fc355c4a90"),
    ("ops-net8-wks-heap", "findappdomain 7ec43e009948"),
    ("ops-net8-wks-heap", "dumpalc 7ec43e009948"),
    ("ops-net9-wks-heap", "dumpdomain"),
    ("ops-net9-wks-heap", "dumpmodule -mt 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpmodule 00007f3af4664000"),
    ("ops-net9-wks-heap", "dumpassembly 000055ce83c88040"),
    ("ops-net9-wks-heap", "findappdomain 7efade009cb8"),
    ("ops-net9-wks-heap", "dumpalc 7efade009cb8"),
    ("ops-net10-wks-heap", "dumpdomain"),
    ("ops-net10-wks-heap", "dumpmodule -mt 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpmodule 00007f0856e34000"),
    ("ops-net10-wks-heap", "dumpassembly 000055b83e2ed950"),
    ("ops-net10-wks-heap", "findappdomain 7efc7d00a080"),
    ("oom-net10-wks-heap", "dumpdomain"),
    ("oom-net10-wks-heap", "dumpmodule -mt 00007f3b85131a30"),
    ("oom-net10-wks-heap", "dumpmodule 00007f3b84044000"),
    ("oom-net10-wks-heap", "dumpassembly 0000556dcf473d20"),
    // A collectible type's MethodTable: its LoaderAllocator and AssemblyLoadContext lines.
    ("zoo-net8-wks-heap", "dumpmt -md 7fa0766fcff8"),
    ("zoo-net9-wks-heap", "dumpmt -md 7f1089adcda0"),
    ("zoo-net10-wks-heap", "dumpmt -md 7fa55f56cc40"),
    ("seed-net8-wks-heap", "dumpmodule"),
    ("seed-net8-wks-heap", "dumpmodule 1234"),
    ("seed-net8-wks-heap", "dumpassembly"),
    ("seed-net8-wks-heap", "dumpassembly 1234"),
    ("seed-net8-wks-heap", "dumpdomain 1234"),
    ("seed-net8-wks-heap", "findappdomain"),
    ("seed-net8-wks-heap", "findappdomain 7ece5a00a4f9"),
    ("seed-net8-wks-heap", "dumpalc"),
    ("seed-net8-wks-heap", "dumpalc 7ece5a00a4f9"),
    // `-prof`: the methods with IL in the module's dynamic IL table (an emitted module's
    // own: the zoo's `Proxy..ctor`, the collectible `Plugin`'s methods), none elsewhere;
    // with `-mt` too.
    ("zoo-net8-wks-heap", "dumpmodule -prof 00007fa0766a3ac0"),
    ("zoo-net8-wks-heap", "dumpmodule -prof 00007fa0766fc060"),
    ("zoo-net8-wks-heap", "dumpmodule -prof 00007fa0762ccec8"),
    ("zoo-net9-wks-heap", "dumpmodule -prof 00007f1089a8f5d0"),
    ("zoo-net9-wks-heap", "dumpmodule -mt -prof 00007f1089adc010"),
    ("zoo-net10-wks-heap", "dumpmodule -prof 00007fa55f51e670"),
    ("zoo-net10-wks-heap", "dumpmodule -prof 00007fa55f56c010"),
    ("ops-net10-wks-heap", "dumpmodule -prof 00007f0857f21a30"),
];

/// `dumpalc` on .NET 10 where the context has a managed instance (dotnet-dump crashes
/// printing it): `(dump, object)`: a collectible type's object, an application object.
const DUMPALC_NET10: &[(&str, &str)] = &[
    ("zoo-net10-wks-heap", "7f998581c0a8"),
    ("zoo-net10-wks-heap", "7f99854000f0"),
];

/// The expected file of a command.
fn expected_file(dump: &str, command: &str) -> PathBuf {
    common::expected_path("domains", dump, command)
}

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
    if ours.ends_with('\n') != want.ends_with('\n') && !want.is_empty() {
        return Err("the last line's end differs".into());
    }
    Ok(())
}

/// What a command prints on a session (a command SOS fails, `Fail to fill Module`, fails
/// here too: its text is compared all the same).
fn output(session: &Session, command: &str) -> Result<String, String> {
    let mut out = Vec::new();
    let _ = session.execute(command, &mut out);
    String::from_utf8(out).map_err(|e| e.to_string())
}

fn open(path: &Path) -> Result<Session, String> {
    if !path.exists() {
        return Err(format!("{} is missing", path.display()));
    }
    Session::open(path, &DumpOptions::default()).map_err(|e| format!("{e:#}"))
}

/// The check name of a command (`dumpmodule -mt X` -> `dumpmodule`; `dumpmt`'s context
/// lines are `dumpmt-alc`, apart from `tests/types.rs`'s `dumpmt` targets).
fn check_of(command: &str) -> &str {
    match command.split(' ').next().unwrap_or(command) {
        "dumpmt" => "dumpmt-alc",
        check => check,
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn lab_domain_commands_truth() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("lab_domain_commands_truth") {
        // COMMANDS.tsv (no header): a file, then the commands that made it, the last one
        // its text's.
        let listing = std::fs::read_to_string(truth.join("sos/COMMANDS.tsv")).unwrap_or_default();
        let mut by_check: std::collections::BTreeMap<&str, Vec<(String, String)>> = Default::default();
        for line in listing.lines() {
            let row: Vec<String> = line.split('\t').map(String::from).collect();
            let (Some(file), Some(command)) = (row.first(), row.last()) else { continue };
            let check = match command.split(' ').next() {
                Some("dumpdomain") => "dumpdomain",
                Some("dumpmodule") => "dumpmodule",
                _ => continue,
            };
            by_check.entry(check).or_default().push((file.clone(), command.clone()));
        }
        if by_check.is_empty() {
            continue;
        }
        let session = open(&dump);
        for (check, files) in by_check {
            checks.run(&name, check, || {
                let session = session.as_ref().map_err(Clone::clone)?;
                for (file, command) in &files {
                    let want = common::truth_text(&truth.join("sos").join(file))?;
                    compare(&output(session, command)?, &want).map_err(|e| format!("{command}: {e}"))?;
                }
                Ok(())
            });
        }
    }
    checks.finish("lab_domain_commands_truth");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn targets_match_dotnet_dump() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("targets_match_dotnet_dump: the lab is not unpacked: skipped");
        return;
    };
    let checks = common::Checks::new();
    let mut by_dump: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, Vec<&str>>> = Default::default();
    for (dump, command) in TARGETS {
        by_dump.entry(dump).or_default().entry(check_of(command)).or_default().push(command);
    }
    for (dump, groups) in by_dump {
        let session = open(&lab.join("dumps").join(format!("{dump}.dmp")));
        for (check, commands) in groups {
            checks.run(dump, &format!("{check}-targets"), || {
                let session = session.as_ref().map_err(Clone::clone)?;
                for command in &commands {
                    let want = common::truth_text(&expected_file(dump, command))?;
                    compare(&output(session, command)?, &want).map_err(|e| format!("{command}: {e}"))?;
                }
                Ok(())
            });
        }
    }
    checks.finish("targets_match_dotnet_dump");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn dumpalc_on_net10_is_the_contexts_dumpobj() {
    let Some(lab) = common::lab_dir() else { return };
    let checks = common::Checks::new();
    for (dump, object) in DUMPALC_NET10 {
        checks.run(dump, "dumpalc-net10", || {
            let session = open(&lab.join("dumps").join(format!("{dump}.dmp")))?;
            let command = format!("dumpalc {object}");
            let ours = output(&session, &command)?;
            // What dotnet-dump printed before it crashed.
            let want = common::truth_text(&expected_file(dump, &command))?;
            if !ours.starts_with(&want) || want.lines().count() != 2 {
                return Err(format!("{command}: dotnet-dump's text is not where ours starts\n--- ours\n{ours}--- want\n{want}"));
            }
            // The context is the object of that MethodTable the application's type names.
            let mt = want.lines().nth(1).and_then(|l| l.strip_prefix("MethodTable: ")).ok_or("no MethodTable line")?;
            let contexts = output(&session, &format!("dumpheap -mt {mt} -short"))?;
            let context = contexts.split_whitespace().next().ok_or("no context object")?;
            let dumpobj = output(&session, &format!("dumpobj {context}"))?;
            if ours != dumpobj {
                return Err(format!("{command}: not dumpobj {context}\n--- ours\n{ours}--- dumpobj\n{dumpobj}"));
            }
            Ok(())
        });
    }
    checks.finish("dumpalc_on_net10_is_the_contexts_dumpobj");
}

/// Every module of every lab dump (arm64 too, where dotnet-dump cannot run) against
/// ClrMD's `modules.tsv` (read through the runtime's DAC): `dumpdomain` lists exactly its
/// modules, in its order; `dumpmodule` of each shows its image base, its metadata's address
/// and size, `IsFileLayout` for a flat image, `Reflection` for a dynamic module, and its
/// file.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn modules_match_clrmd() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("modules_match_clrmd") {
        // The oom dump's truth has dotnet-dump's texts only.
        let tsv = truth.join("modules.tsv");
        if !tsv.exists() {
            continue;
        }
        let rows = common::read_tsv(&tsv);
        checks.run(&name, "dumpmodule-clrmd", || {
            let session = open(&dump)?;
            let domains = output(&session, "dumpdomain")?;
            let listed: Vec<u64> = domains
                .lines()
                .filter_map(|l| l.strip_prefix("  ")?.split_whitespace().next())
                .filter_map(|w| u64::from_str_radix(w, 16).ok())
                .collect();
            let mut want_list = Vec::new();
            for row in &rows {
                let [address, base, _size, layout, md_address, md_length, dynamic, _assembly, file] = &row[..] else {
                    return Err(format!("modules.tsv row {row:?}"));
                };
                let module = u64::from_str_radix(address, 16).map_err(|e| e.to_string())?;
                want_list.push(module);
                let text = output(&session, &format!("dumpmodule {module:x}"))?;
                let field = |label: &str| text.lines().find_map(|l| l.strip_prefix(label)).map(str::trim).unwrap_or("").to_string();
                let dynamic = dynamic == "True";
                let base = u64::from_str_radix(base, 16).map_err(|e| e.to_string())?;
                let mut want = vec![
                    ("Name:", if file.is_empty() { "Unknown Module".to_string() } else { file.clone() }),
                    ("BaseAddress:", format!("{base:016X}")),
                ];
                if base != 0 {
                    let md = u64::from_str_radix(md_address, 16).map_err(|e| e.to_string())?;
                    want.push(("MetaData start address:", format!("{md:016X} ({md_length} bytes)")));
                }
                for (label, value) in want {
                    if field(label) != value {
                        return Err(format!("dumpmodule {module:x}: {label} {:?}, ClrMD {value:?}", field(label)));
                    }
                }
                let attributes = field("Attributes:");
                let flat = base != 0 && layout == "Flat";
                if attributes.contains("Reflection") != dynamic || attributes.contains("IsFileLayout") != flat {
                    return Err(format!("dumpmodule {module:x}: attributes {attributes:?}, ClrMD {layout}, dynamic {dynamic}"));
                }
            }
            if listed != want_list {
                return Err(format!("dumpdomain lists {listed:x?}, ClrMD {want_list:x?}"));
            }
            Ok(())
        });
    }
    checks.finish("modules_match_clrmd");
}

/// Every expected file belongs to a target (none left over from a removed one).
#[test]
fn expected_files_are_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/domains");
    let wanted: Vec<PathBuf> = TARGETS
        .iter()
        .map(|(d, c)| expected_file(d, c))
        .chain(DUMPALC_NET10.iter().map(|(d, o)| expected_file(d, &format!("dumpalc {o}"))))
        .collect();
    common::expected_files_are_only(&root, &wanted);
}

/// Writes the expected text of every target that has none, from the real dotnet-dump
/// (`lab/bin/sos`). Run by hand: `cargo test --release --test domains -- --ignored
/// capture_expected_texts`.
#[test]
#[ignore]
fn capture_expected_texts() {
    // SOS's crash on .NET 10's `dumpalc` still leaves its text (see common::capture_sos_texts).
    let alc = DUMPALC_NET10.iter().map(|(d, o)| (*d, format!("dumpalc {o}")));
    let all = TARGETS.iter().map(|(d, c)| (*d, c.to_string())).chain(alc);
    common::capture_sos_texts(all.map(|(d, c)| (d.to_string(), c.clone(), expected_file(d, &c))));
}

#[test]
fn comparison_rules() {
    assert!(compare("00007f 0x02000002 DocProc.Zoo.Emitted.Proxy\n", "00007f 0x02000002 <Unloaded Type>\n").is_ok());
    assert!(compare("00007f 0x02000002 <Unloaded Type>\n", "00007f 0x02000002 <Unloaded Type>\n").is_err());
    assert!(compare("a\n", "a\nb\n").is_err());
}

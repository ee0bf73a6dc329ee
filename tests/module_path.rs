//! `--module-path`: a heap dump whose recorded module paths do not exist on this machine
//! (as when it comes from a container) reads the same once pointed at the files.
mod common;

use goblin::elf64::header::{Header, SIZEOF_EHDR};
use goblin::elf64::program_header::{ProgramHeader, PT_NOTE, SIZEOF_PHDR};

/// Rewrites, inside the dump's notes only, every occurrence of `from` with `to` (same length).
fn rename_paths(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let header = *Header::from_bytes(bytes[..SIZEOF_EHDR].try_into().unwrap());
    let start = header.e_phoff as usize;
    let phdrs = ProgramHeader::from_bytes(&bytes[start..start + header.e_phnum as usize * SIZEOF_PHDR], header.e_phnum as usize);
    let mut count = 0;
    for ph in phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
        let notes = &mut bytes[ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize];
        let hits: Vec<usize> = memchr::memmem::find_iter(notes, from).collect();
        for at in hits {
            notes[at..at + to.len()].copy_from_slice(to);
            count += 1;
        }
    }
    count
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn module_path_finds_moved_files() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("module_path_finds_moved_files: skipped: no lab");
        return;
    };
    let dump = lab.join("dumps/zoo-net8-wks-heap.dmp");
    let mut bytes = std::fs::read(&dump).unwrap();
    let lab_text = lab.to_str().unwrap().as_bytes().to_vec();
    let mut moved = lab_text.clone();
    moved[1] = b'Z'; // e.g. /root/... -> /Zoot/..., a directory that does not exist
    assert!(rename_paths(&mut bytes, &lab_text, &moved) > 10, "paths renamed");
    let moved_dump = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(moved_dump.path(), &bytes).unwrap();

    let want = common::run_command(&dump, "dumpheap -stat");
    // Without the files, the runtime cannot even be identified.
    let lost = common::analyze(moved_dump.path(), &["dumpheap -stat"]);
    assert_eq!(lost.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&lost.stderr).contains("--module-path"));
    // The library says which file is missing.
    let err = clrheap::Session::open(moved_dump.path(), &Default::default()).err().expect("refused");
    assert_eq!(err.kind(), clrheap::ErrorKind::ModuleFileMissing, "{err:?}");
    let text = format!("{:#}", anyhow::Error::from(err));
    assert!(text.contains("/Zoot/") && text.contains("libcoreclr.so"), "{text}");

    let runtime_dir = lab.join("dotnet/shared/Microsoft.NETCore.App/8.0.33");
    let app_dir = lab.join("scenarios/net8.0");
    let out = common::clrheap()
        .arg("analyze")
        .arg(moved_dump.path())
        .arg("--module-path")
        .arg(&runtime_dir)
        .arg("--module-path")
        .arg(&app_dir)
        .args(["-c", "dumpheap -stat"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
}

/// The one line for a runtime file that is not on this machine.
fn missing_message(runtime_file: &str, version: &str, searched: &str) -> String {
    format!(
        "clrheap: {runtime_file} is not on this machine{searched}, and the dump holds only part of it: pass \
         --module-path <folder holding Microsoft.NETCore.App/{version}> (a copy of the folder, or any folder above it), \
         or run `clrheap pack` on the machine where the dump was made\n"
    )
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn missing_runtime_says_what_to_pass_and_any_parent_folder_works() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("missing_runtime_says_what_to_pass_and_any_parent_folder_works: skipped: no lab");
        return;
    };
    let dump = lab.join("dumps/zoo-net8-wks-heap.dmp");
    let mut bytes = std::fs::read(&dump).unwrap();
    let lab_text = lab.to_str().unwrap().as_bytes().to_vec();
    let mut moved = lab_text.clone();
    moved[1] = b'Z';
    assert!(rename_paths(&mut bytes, &lab_text, &moved) > 10, "paths renamed");
    let moved_dump = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(moved_dump.path(), &bytes).unwrap();
    let moved_lab = String::from_utf8(moved).unwrap();
    let runtime_file = format!("{moved_lab}/dotnet/shared/Microsoft.NETCore.App/8.0.33/libcoreclr.so");

    let lost = common::analyze(moved_dump.path(), &["dumpheap -stat"]);
    assert_eq!(lost.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&lost.stderr), missing_message(&runtime_file, "8.0.33", ""));
    assert!(lost.stdout.is_empty());

    let run = |args: &[&str], env: Option<&std::path::Path>| {
        let mut cmd = common::clrheap();
        cmd.arg("analyze").arg(moved_dump.path()).args(args).args(["-c", "dumpheap -stat"]);
        cmd.env_remove("CLRHEAP_MODULE_PATH");
        if let Some(e) = env {
            cmd.env("CLRHEAP_MODULE_PATH", e);
        }
        cmd.output().unwrap()
    };
    let nowhere = run(&["--module-path", "/nonexistent"], None);
    assert_eq!(
        String::from_utf8_lossy(&nowhere.stderr),
        missing_message(&runtime_file, "8.0.33", " nor under /nonexistent")
    );

    // Any folder above the runtime's (and the app's) will do, given or from the environment.
    let want = common::run_command(&dump, "dumpheap -stat");
    let lab_arg = lab.to_str().unwrap();
    let parent = lab.parent().unwrap();
    for (args, env) in [
        (vec!["--module-path", lab_arg], None),
        (vec!["--module-path", "/nonexistent", "--module-path", parent.to_str().unwrap()], None),
        (vec![], Some(lab.as_path())),
    ] {
        let out = run(&args, env);
        assert!(out.status.success(), "{args:?} {env:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{args:?} {env:?}");
    }
}

/// The same with the lab's runtime folder really hidden (a private mount namespace, as
/// root in CI): the message names the recorded path, and a folder above a copy of the
/// runtime (here the real one, mounted elsewhere) is enough.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn hidden_runtime_folder() {
    let Some(lab) = common::lab_dir() else {
        return;
    };
    if !std::process::Command::new("unshare").args(["-m", "true"]).status().is_ok_and(|s| s.success()) {
        eprintln!("hidden_runtime_folder: skipped: unshare -m is not allowed here");
        return;
    }
    let dump = lab.join("dumps/seed-net10-wks-heap.dmp");
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("opt/dotnet");
    std::fs::create_dir_all(&copy).unwrap();
    let script = format!(
        "mount --bind '{dotnet}' '{copy}' && mount -t tmpfs none '{dotnet}' && exec \"$@\"",
        dotnet = lab.join("dotnet").display(),
        copy = copy.display()
    );
    let hidden = |args: &[&str]| {
        std::process::Command::new("unshare")
            .args(["-m", "sh", "-c", &script, "sh", env!("CARGO_BIN_EXE_clrheap"), "analyze"])
            .arg(&dump)
            .args(args)
            .args(["-c", "dumpheap -stat"])
            .env_remove("CLRHEAP_MODULE_PATH")
            .output()
            .unwrap()
    };
    let runtime_file = lab.join("dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so");
    let lost = hidden(&[]);
    assert_eq!(lost.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&lost.stderr),
        missing_message(runtime_file.to_str().unwrap(), "10.0.12", "")
    );
    let found = hidden(&["--module-path", elsewhere.path().to_str().unwrap()]);
    assert!(found.status.success(), "{}", String::from_utf8_lossy(&found.stderr));
    assert_eq!(String::from_utf8(found.stdout).unwrap(), common::run_command(&dump, "dumpheap -stat"));
}

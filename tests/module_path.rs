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

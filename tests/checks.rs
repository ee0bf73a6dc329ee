//! Heap checks and raw memory (issue 18) against the real dotnet-dump.
//!
//! - `verifyheap` on every lab dump: dotnet-dump's own text where the lab has it
//!   (`sos/verifyheap.txt`, the ops and oom dumps), else its clean-heap verdict.
//! - `tests/expected/checks/DUMP.cmds` / `DUMP.txt`: command lines (`verifyheap`,
//!   `gcwhere`, `verifyobj`, the memory commands) run on lab dumps of 8, 9 and 10
//!   (workstation, server, segments, DATAS), and what `bin/sos DUMP -c ...` printed for
//!   them, compared whole.
//! - Damage injected into a copy of `oom-net10-wks-heap` (a reference made unaligned, one
//!   pointing off the heap, a MethodTable overwritten): `verifyheap` and `verifyobj` print
//!   what dotnet-dump printed on the same damaged copies.
mod common;

use std::path::{Path, PathBuf};

fn first_difference(ours: &str, theirs: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.split('\n').collect(), theirs.split('\n').collect());
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| format!("line {}: ours {:?}, dotnet-dump {:?}", i + 1, a.get(i), b.get(i)))
        .unwrap_or_else(|| "texts differ".into())
}

fn same(ours: &str, theirs: &str) -> Result<(), String> {
    if ours == theirs { Ok(()) } else { Err(first_difference(ours, theirs)) }
}

fn run_lines(dump: &Path, lines: &[&str]) -> Result<String, String> {
    let out = common::analyze(dump, lines);
    if !out.status.success() {
        return Err(format!("clrheap exited {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr)));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn verifyheap_matches_dotnet_dump_on_lab_dumps() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("verifyheap_matches_dotnet_dump_on_lab_dumps") {
        checks.run(&name, "verifyheap", || {
            let ours = common::try_command(&dump, "verifyheap")?;
            let file = truth.join("sos/verifyheap.txt");
            if file.is_file() {
                return same(&ours, &common::truth_text(&file)?);
            }
            let lines: Vec<&str> = ours.lines().collect();
            let clean = lines.len() == 2
                && lines[0].ends_with(" objects verified, 0 errors.")
                && lines[1] == "No heap corruption detected.";
            if clean { Ok(()) } else { Err(format!("not clean: {ours}")) }
        });
    }
    checks.finish("verifyheap_matches_dotnet_dump_on_lab_dumps");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn checks_and_memory_commands_match_dotnet_dump() {
    let Some(lab) = common::lab_dir() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/checks");
    let checks = common::Checks::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cmds"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    for cmds in cases {
        let name = cmds.file_stem().unwrap().to_string_lossy().to_string();
        let dump = lab.join("dumps").join(format!("{name}.dmp"));
        checks.run(&name, "checks-memory", || {
            if !dump.is_file() {
                return Err(format!("no dump {}", dump.display()));
            }
            let text = std::fs::read_to_string(&cmds).unwrap();
            let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            let theirs = std::fs::read_to_string(cmds.with_extension("txt")).map_err(|e| e.to_string())?;
            same(&run_lines(&dump, &lines)?, &common::without_progress(&theirs))
        });
    }
    checks.finish("checks_and_memory_commands_match_dotnet_dump");
}

/// Writes 8-byte values into a copy of a core dump at target addresses (PT_LOAD mapping).
fn damage(from: &Path, to: &Path, patches: &[(u64, u64)]) {
    let mut bytes = std::fs::read(from).unwrap();
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(&bytes, 0x20) as usize, u16_at(&bytes, 0x36), u16_at(&bytes, 0x38));
    for &(addr, value) in patches {
        let offset = (0..phnum)
            .map(|i| phoff + i * phentsize)
            .filter(|&p| u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) == 1)
            .find_map(|p| {
                let (off, va, filesz) = (u64_at(&bytes, p + 8), u64_at(&bytes, p + 16), u64_at(&bytes, p + 32));
                (va <= addr && addr < va + filesz).then(|| (off + addr - va) as usize)
            })
            .expect("address in the dump");
        bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }
    std::fs::write(to, bytes).unwrap();
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn verifyheap_finds_injected_damage_as_dotnet_dump_does() {
    let Some(lab) = common::lab_dir() else { return };
    let clean = lab.join("dumps/oom-net10-wks-heap.dmp");
    if !clean.is_file() {
        panic!("the lab has no oom-net10-wks-heap.dmp");
    }
    let tmp = std::env::temp_dir().join(format!("clrheap-checks-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let lines = ["verifyheap", "verifyobj 7f3b46400328", "verifyobj 7f3b46400610", "verifyobj 7f3b464005f0"];
    let cases: [(&str, &[(u64, u64)], &str); 2] = [
        ("refs", &[(0x7f3b46400338, 0x1234), (0x7f3b46400628, 0x7f3b43c01109)], include_str!("expected/checks/damage-refs.txt")),
        ("mt", &[(0x7f3b464005f0, 0xdeadbeef00)], include_str!("expected/checks/damage-mt.txt")),
    ];
    let mut failures = Vec::new();
    for (name, patches, theirs) in cases {
        let dump = tmp.join(format!("{name}.dmp"));
        damage(&clean, &dump, patches);
        match run_lines(&dump, &lines).and_then(|ours| same(&ours, theirs)) {
            Ok(()) => {}
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        let _ = std::fs::remove_file(&dump);
    }
    let _ = std::fs::remove_dir(&tmp);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

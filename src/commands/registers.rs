//! `registers` (`r`): the current thread's registers, as dotnet-dump prints them.
//!
//! ```text
//! cs = 0x0033
//! ...
//! rax = 0xFFFFFFFFFFFFFDFC
//! ```
//!
//! dotnet-dump sees a thread's registers through ClrMD's copy of the `NT_PRSTATUS` note
//! into a Windows `CONTEXT`, and prints them in that structure's order: the segment
//! registers, `eflags`, the general registers, `rip`. That copy leaves `es` and `eflags`
//! at 0, and reads the note's `r8` and `r9` slots the other way round (its register set
//! declares R8 before R9, the kernel's `user_regs_struct` R9 first): the values printed as
//! r8 and r9 are the thread's r9 and r8. [`sos_context`] reproduces that view.
use super::output::{hex, write_json, Format};
use super::Session;
use crate::dump::ThreadRegisters;
use anyhow::{bail, Result};
use serde_json::{json, Map, Value};
use std::io::Write;

/// `(name, size in bytes, value)` of each register dotnet-dump prints, in its order.
pub fn sos_context(t: &ThreadRegisters) -> Vec<(&'static str, u8, u64)> {
    // user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi
    // orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs
    let r = &t.regs;
    vec![
        ("cs", 2, r[17] & 0xffff),
        ("ds", 2, r[23] & 0xffff),
        ("es", 2, 0),
        ("fs", 2, r[25] & 0xffff),
        ("gs", 2, r[26] & 0xffff),
        ("ss", 2, r[20] & 0xffff),
        ("eflags", 4, 0),
        ("rax", 8, r[10]),
        ("rcx", 8, r[11]),
        ("rdx", 8, r[12]),
        ("rbx", 8, r[5]),
        ("rsp", 8, r[19]),
        ("rbp", 8, r[4]),
        ("rsi", 8, r[13]),
        ("rdi", 8, r[14]),
        ("r8", 8, r[8]),
        ("r9", 8, r[9]),
        ("r10", 8, r[7]),
        ("r11", 8, r[6]),
        ("r12", 8, r[3]),
        ("r13", 8, r[2]),
        ("r14", 8, r[1]),
        ("r15", 8, r[0]),
        ("rip", 8, r[16]),
    ]
}

/// The offset of each printed register in the Windows x64 `CONTEXT` (`-v` prints it):
/// SegCs at 0x38 onwards, EFlags at 0x44, Rax at 0x78 onwards, Rip at 0xf8.
fn context_offset(name: &str) -> u32 {
    match name {
        "cs" => 56,
        "ds" => 58,
        "es" => 60,
        "fs" => 62,
        "gs" => 64,
        "ss" => 66,
        "eflags" => 68,
        "rip" => 248,
        general => {
            const ORDER: [&str; 16] =
                ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
            ORDER.iter().position(|&r| r == general).map_or(0, |i| 120 + 8 * i as u32)
        }
    }
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    if let Some(a) = args.iter().find(|a| !matches!(a.as_str(), "-v" | "--verbose")) {
        bail!("Unrecognized command or argument '{a}'");
    }
    let verbose = !args.is_empty();
    let Some(thread) = session.current_os_thread() else {
        bail!("No current thread");
    };
    if thread.arch != crate::dump::Architecture::X86_64 {
        bail!("registers: only x64 threads are printed as dotnet-dump does for now");
    }
    let regs = sos_context(thread);
    if format != Format::Text {
        let mut map = Map::new();
        for (name, _, v) in &regs {
            map.insert(name.to_string(), hex(*v));
        }
        return write_json(out, &json!({ "os_thread_id": thread.tid, "registers": Value::Object(map) }));
    }
    for (index, (name, size, v)) in regs.into_iter().enumerate() {
        if verbose {
            writeln!(out, "{name} Index = {index} Offset = {} Size = {size}", context_offset(name))?;
        }
        match size {
            2 => writeln!(out, "{name} = 0x{v:04X}")?,
            4 => writeln!(out, "{name} = 0x{v:08X}")?,
            _ => writeln!(out, "{name} = 0x{v:016X}")?,
        }
    }
    Ok(())
}

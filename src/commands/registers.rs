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
//! registers, `eflags`, the general registers, `rip` (see
//! [`crate::runtime::threads::sos_registers`] for that view's quirks).
use crate::render::output::{hex, write_json, Format};
use crate::session::Session;
use crate::runtime::threads::sos_registers;
use anyhow::{bail, Result};
use serde_json::{json, Map, Value};
use std::io::Write;
use crate::args::{CommandArgs, OptionSpec};

/// registers's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-v", "Each register's index, offset and size.").or(&["--verbose"])];

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
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    let verbose = p.flag("-v");
    let Some(thread) = session.current_os_thread() else {
        bail!("No current thread");
    };
    if thread.arch != crate::dump::Architecture::X86_64 {
        bail!("registers: only x64 threads are printed as dotnet-dump does for now");
    }
    let regs = sos_registers(thread);
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

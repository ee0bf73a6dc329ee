//! `sosstatus`: the dump, its runtime and createdump's block, as dotnet-dump describes them.
//!
//! ```text
//! Target OS: LINUX Architecture: X64 ProcessId: 27903 (0x6CFF) /root/.cache/clrheap-lab/dumps/ops-net10-wks-heap.dmp
//!     #0 .NET Core runtime 10.0.1226.42308 at 00007F08D5E00000 size 006CB000 index 79945f51...
//!     Runtime module path: .../libcoreclr.so
//!         Exports:
//!             g_dacTable: 00007F08D64CC780
//!             ...
//! SpecialDiagInfoHeader   : 00007FFFFFF10000
//!     Signature:              DIAGINFOHEADER
//!     Version:                2
//!     ExceptionRecordAddress: 0000000000000000
//!     RuntimeBaseAddress:     00007F08D5E00000
//!     Exports:
//!         ...
//! Settings:
//! ...
//! Current symbol store settings:
//! -> Directory: /root/.cache/clrheap-lab/dumps
//! ```
//!
//! Everything up to the symbol store describes the dump and is dotnet-dump's text. What
//! follows describes the tool itself (dotnet-dump's symbol cache and server, its extension
//! assemblies, the .NET that runs it, its own memory use): clrheap says the same of itself
//! — the dump's folder is where it looks for PDBs, it has no cache, no server, no
//! extensions, no host runtime.
use crate::args::{CommandArgs, OptionSpec};
use crate::commands::runtimes::{write_exports, write_runtime_line, write_settings};
use crate::dump::Architecture;
use crate::render::output::{hex, write_json, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::json;
use std::io::Write;

/// sosstatus's options.
pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    let rt = &session.heap.runtime;
    let pid = rt.process_id();
    let arch = match rt.architecture() {
        Architecture::X86_64 => "X64",
        Architecture::Arm64 => "Arm64",
    };
    let path = session.dump_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let diag = rt.special_diag_info();
    if format != Format::Text {
        return write_json(
            out,
            &json!({
                "os": "LINUX",
                "architecture": arch,
                "process_id": pid,
                "dump": path,
                "runtime_base": hex(session.heap.runtime.coreclr.base),
                "special_diag_info": diag.as_ref().map(|d| json!({
                    "address": hex(d.address),
                    "signature": d.signature,
                    "valid": d.valid,
                    "version": d.version,
                    "exception_record": hex(d.exception_record),
                    "runtime_base": hex(d.runtime_base),
                })),
            }),
        );
    }
    writeln!(out, "Target OS: LINUX Architecture: {arch} ProcessId: {pid} (0x{pid:X}) {path}")?;
    write_runtime_line(session, out, "    ")?;
    write_exports(session, out, "        ")?;
    match &diag {
        None => writeln!(out, "SpecialDiagInfoHeader   : {:016X} <NONE>", crate::runtime::images::SPECIAL_DIAG_INFO_ADDRESS)?,
        Some(d) => {
            writeln!(out, "SpecialDiagInfoHeader   : {:016X}{}", d.address, if d.valid { "" } else { " <INVALID>" })?;
            writeln!(out, "    Signature:              {}", d.signature)?;
            writeln!(out, "    Version:                {}", d.version)?;
            writeln!(out, "    ExceptionRecordAddress: {:016X}", d.exception_record)?;
            writeln!(out, "    RuntimeBaseAddress:     {:016X}", d.runtime_base)?;
            if d.valid && d.version >= 2 && d.runtime_base != 0 && d.runtime_base == session.heap.runtime.coreclr.base {
                write_exports(session, out, "    ")?;
            }
        }
    }
    write_settings(out)?;
    writeln!(out, "Current symbol store settings:")?;
    if let Some(dir) = session.dump_path.as_ref().and_then(|p| p.parent()) {
        writeln!(out, "-> Directory: {}", dir.display())?;
    }
    writeln!(out, "-> No cache, no symbol server: PDBs are read next to their modules")?;
    writeln!(out, "Extensions loaded:")?;
    writeln!(out, "-> none: clrheap {} reads the dump itself (no DAC, no SOS)", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! `runtimes`: the .NET runtime in the process, as dotnet-dump describes it.
//!
//! ```text
//! #0 .NET Core runtime 10.0.1226.42308 at 00007F08D5E00000 size 006CB000 index 79945f51...
//!     Runtime module path: /root/.cache/clrheap-lab/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so
//!     Libraries:
//!         Dac libmscordaccore.so LINUX X64 Coreclr 79945f51...
//!         Dbi libmscordbi.so LINUX X64 Coreclr 79945f51...
//!         CDac libmscordaccore_universal.so LINUX X64 None 79945f51...
//!     Exports:
//!         DotNetRuntimeInfo: <NO SYMBOL>
//!         g_dacTable: 00007F08D64CC780
//!         ...
//! Settings:
//! ...
//! ```
//!
//! The runtime module's base and size as `modules` reports them, its GNU build id (the key
//! the debugging libraries are archived under), the debugging libraries dotnet-dump would
//! use, and the runtime's diagnostic exports. dotnet-dump names its own cDAC library (for
//! runtimes that publish a contract descriptor, 9 and later) by the path it is installed
//! at; clrheap has no such library and prints its file name.
use crate::render::output::{hex, write_json, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::json;
use std::io::Write;
use crate::args::{CommandArgs, OptionSpec};

/// runtimes's options.
pub const OPTIONS: &[OptionSpec] = &[];

/// The exports dotnet-dump looks for, in its order.
const EXPORTS: [&str; 4] = ["DotNetRuntimeInfo", "g_dacTable", "DotNetRuntimeDebugHeader", "DotNetRuntimeContractDescriptor"];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    let rt = &session.heap.runtime;
    let base = rt.coreclr.base;
    let image = rt.runtime_image();
    let (size, id) = (image.size, image.build_id);
    let exports: Vec<(&str, Option<u64>)> = EXPORTS.iter().map(|&n| (n, rt.export(n))).collect();
    let cdac = rt.descriptor.is_some();
    if format != Format::Text {
        let exp: serde_json::Map<String, serde_json::Value> =
            exports.iter().map(|(n, a)| (n.to_string(), a.map_or(serde_json::Value::Null, hex))).collect();
        return write_json(
            out,
            &json!({
                "runtimes": [{
                    "id": 0,
                    "kind": ".NET Core",
                    "version": rt.version.file_version,
                    "base": hex(base),
                    "size": size,
                    "build_id": id,
                    "path": rt.coreclr.path,
                    "exports": exp,
                }]
            }),
        );
    }
    write_runtime_line(session, out, "")?;
    writeln!(out, "    Libraries:")?;
    writeln!(out, "        Dac libmscordaccore.so LINUX X64 Coreclr {id}")?;
    writeln!(out, "        Dbi libmscordbi.so LINUX X64 Coreclr {id}")?;
    if cdac {
        writeln!(out, "        CDac libmscordaccore_universal.so LINUX X64 None {id}")?;
    }
    write_exports(session, out, "    ")?;
    write_settings(out)
}

/// The runtime's identity as dotnet-dump prints it: `#0 .NET Core runtime ... index ID`
/// after `indent`, then its module's path, indented by 4 wherever the first line is.
pub fn write_runtime_line(session: &Session, out: &mut dyn Write, indent: &str) -> Result<()> {
    let rt = &session.heap.runtime;
    let base = rt.coreclr.base;
    let image = rt.runtime_image();
    let (size, id) = (image.size, image.build_id);
    writeln!(out, "{indent}#0 .NET Core runtime {} at {base:016X} size {size:08X} index {id}", rt.version.file_version)?;
    writeln!(out, "    Runtime module path: {}", rt.coreclr.path)?;
    Ok(())
}

/// The runtime module's diagnostic exports, those it lacks as `<NO SYMBOL>`.
pub fn write_exports(session: &Session, out: &mut dyn Write, indent: &str) -> Result<()> {
    writeln!(out, "{indent}Exports:")?;
    for name in EXPORTS {
        match session.heap.runtime.export(name) {
            Some(a) => writeln!(out, "{indent}    {name}: {a:016X}")?,
            None => writeln!(out, "{indent}    {name}: <NO SYMBOL>")?,
        }
    }
    Ok(())
}

/// dotnet-dump's settings block: clrheap uses neither the DAC nor the cDAC, and checks no
/// signature, so every setting is off.
pub fn write_settings(out: &mut dyn Write) -> Result<()> {
    writeln!(out, "Settings:")?;
    writeln!(out, "-> Use CDAC contract reader: False")?;
    writeln!(out, "-> Force use CDAC contract reader: False")?;
    writeln!(out, "-> DAC signature verification check enabled: False")?;
    Ok(())
}

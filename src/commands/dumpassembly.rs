//! `dumpassembly <assembly>`: an assembly's domain, name and module, as dotnet-dump (SOS's
//! native `DumpAssembly`) prints them.
//!
//! ```text
//! Parent Domain:      0000559277d5e390
//! Name:               /root/.../System.Private.CoreLib.dll
//!   Module
//!   00007fa55e044000    /root/.../System.Private.CoreLib.dll
//! ```
//!
//! An assembly emitted at run time has no name (`Unknown`) and a `Dynamic Module`. An
//! address that is not one of the AppDomain's assemblies is refused (`Fail to fill
//! Assembly`).
use crate::args::{option_list, OptionSpec, SosArgs};
use crate::args::parse_address;
use crate::render::output::{hex, write_json, Format};
use crate::render::sos::{assembly_modules, Sos};
use crate::runtime::domains::{self, Assembly};
use crate::session::Session;
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;

pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let rt = &session.heap.runtime;
    let address = p.args.first().and_then(|t| parse_address(t)).unwrap_or(0);
    if address == 0 {
        writeln!(out, "Invalid Assembly {}", args.join(" "))?;
        return Ok(());
    }
    let Some(assembly) = domains::find_assembly(rt, address)? else {
        return Sos::new(out).fail("Fail to fill Assembly\n");
    };
    if format != Format::Text {
        return write_json(out, &assembly_json(&assembly));
    }
    let mut text = format!("Parent Domain:      {:016x}\n", assembly.parent_domain);
    text.push_str(&format!("Name:               {}\n", if assembly.dynamic { "Unknown" } else { &assembly.path }));
    assembly_modules(&mut text, &assembly);
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// An assembly as JSON (also `dumpdomain`'s).
pub fn assembly_json(a: &Assembly) -> Value {
    json!({
        "assembly": hex(a.address), "parentDomain": hex(a.parent_domain), "dynamic": a.dynamic,
        "name": (!a.dynamic).then_some(&a.path), "module": hex(a.module), "moduleFile": a.module_file,
    })
}

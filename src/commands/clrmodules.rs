//! `clrmodules` (`assemblies`): the managed modules, as dotnet-dump lists them.
//!
//! ```text
//! 00007F0856E50000 00F28800 /root/.cache/clrheap-lab/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Private.CoreLib.dll
//! 0000000000000000 00000000 (Dynamic)
//! ```
//!
//! One line per module of the AppDomain's assemblies, in load order: the base and size of
//! the image the runtime loaded (mapped or flat), its path; a module emitted at run time
//! has neither and prints `(Dynamic)`.
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use crate::runtime::modules::{app_domain_modules, module_image};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;
use crate::args::{CommandArgs, OptionSpec};

/// clrmodules's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-v", "Details of each module.").or(&["--verbose"]).unsupported(), OptionSpec::valued("-n", "<regex>", "Only modules whose file name matches.").or(&["--name"]).unsupported()];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    let rt = &session.heap.runtime;
    let mut rows = Vec::new();
    for m in app_domain_modules(rt)? {
        match module_image(rt, m) {
            Ok(i) => rows.push((m, i.base, i.size as u64, i.path, i.base == 0)),
            Err(e) => eprintln!("warning: module {m:#x}: {e:#}"),
        }
    }
    if format != Format::Text {
        let records: Vec<Value> = rows
            .iter()
            .map(|(m, base, size, path, dynamic)| {
                json!({ "module": hex(*m), "base": hex(*base), "size": size, "path": path, "dynamic": dynamic })
            })
            .collect();
        return match format {
            Format::Csv => write_csv_records(out, &["module", "base", "size", "path", "dynamic"], &records),
            _ => write_json(out, &json!({ "modules": records })),
        };
    }
    for (_, base, size, path, dynamic) in &rows {
        writeln!(out, "{base:016X} {size:08X} {path}{}", if *dynamic { "(Dynamic)" } else { "" })?;
    }
    Ok(())
}

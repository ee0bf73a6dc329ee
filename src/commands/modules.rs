//! `modules` (`lm`): the process's loaded images, as dotnet-dump lists them.
//!
//! ```text
//! 000055B83B784000 00014000 /root/.cache/clrheap-lab/dotnet/dotnet
//! ...
//! Total image size: 47150080
//! ```
//!
//! Base, size and path of each image, by base address (see `dump::LoadedImage` for how
//! dotnet-dump finds them), then the sum of the sizes. With `-v`, each image's index and
//! path, then what `runtime::images` reads of it (PE layout, index, version, PDBs, build
//! id) and the runtime module's diagnostic exports.
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use crate::dump::ImageKind;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;
use crate::args::{CommandArgs, OptionSpec};
use crate::runtime::images::pdb_info_text;

/// .NET's `bool` text.
fn title(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// modules's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-v", "Details of each module.").or(&["--verbose"])];

/// The runtime exports dotnet-dump looks for, in its order.
const EXPORTS: [&str; 4] = ["DotNetRuntimeInfo", "g_dacTable", "DotNetRuntimeDebugHeader", "DotNetRuntimeContractDescriptor"];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    let rt = &session.heap.runtime;
    let images = rt.loaded_images();
    let total: u64 = images.iter().map(|i| i.size).sum();
    if format != Format::Text {
        let records: Vec<Value> = images
            .iter()
            .map(|i| {
                json!({
                    "base": hex(i.base),
                    "size": i.size,
                    "kind": match i.kind { ImageKind::Elf => "elf", ImageKind::Pe => "pe" },
                    "path": i.path,
                })
            })
            .collect();
        return match format {
            Format::Csv => write_csv_records(out, &["base", "size", "kind", "path"], &records),
            _ => write_json(out, &json!({ "modules": records, "total_size": total })),
        };
    }
    let verbose = p.flag("-v");
    for (index, i) in images.iter().enumerate() {
        if !verbose {
            writeln!(out, "{:016X} {:08X} {}", i.base, i.size, i.path)?;
            continue;
        }
        let d = rt.image_details(i);
        let none = || "<none>".to_string();
        writeln!(out, "{index} {}", i.path)?;
        writeln!(out, "    Address:         {:016X}", i.base)?;
        writeln!(out, "    ImageSize:       {:08X}", i.size)?;
        writeln!(out, "    IsPEImage:       {}", title(d.is_pe))?;
        writeln!(out, "    IsManaged:       {}", title(d.is_managed))?;
        writeln!(out, "    IsFileLayout:    {}", d.file_layout.map_or("<unknown>".to_string(), |f| title(f).to_string()))?;
        writeln!(out, "    IndexFileSize:   {}", d.index_file_size.map_or_else(none, |v| format!("{v:08X}")))?;
        writeln!(out, "    IndexTimeStamp:  {}", d.index_timestamp.map_or_else(none, |v| format!("{v:08X}")))?;
        writeln!(out, "    Version:         {}", d.version.clone().unwrap_or_else(none))?;
        if let Some(text) = d.version_text.as_deref().filter(|t| !t.is_empty()) {
            writeln!(out, "                     {text}")?;
        }
        for pdb in &d.pdbs {
            writeln!(out, "    PdbInfo:         {}", pdb_info_text(pdb))?;
        }
        let id: Option<String> = d.build_id.as_ref().filter(|b| !b.is_empty()).map(|b| b.iter().map(|x| format!("{x:02x}")).collect());
        writeln!(out, "    BuildId:         {}", id.unwrap_or_else(none))?;
        if i.base == session.heap.runtime.coreclr.base {
            let found: Vec<(&str, u64)> =
                EXPORTS.iter().filter_map(|&n| session.heap.runtime.export(n).map(|a| (n, a))).collect();
            if !found.is_empty() {
                writeln!(out, "    Exports:")?;
                for (name, addr) in found {
                    writeln!(out, "        {name}: {addr:016X}")?;
                }
            }
        }
    }
    writeln!(out, "Total image size: {total}")?;
    Ok(())
}

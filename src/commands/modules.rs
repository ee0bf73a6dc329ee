//! `modules` (`lm`): the process's loaded images, as dotnet-dump lists them.
//!
//! ```text
//! 000055B83B784000 00014000 /root/.cache/clrheap-lab/dotnet/dotnet
//! ...
//! Total image size: 47150080
//! ```
//!
//! Base, size and path of each image, by base address (see `dump::LoadedImage` for how
//! dotnet-dump finds them), then the sum of the sizes.
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use crate::dump::ImageKind;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;
use crate::args::{CommandArgs, OptionSpec};

/// modules's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-v", "Details of each module.").or(&["--verbose"]).unsupported()];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    let images = session.heap.space().loaded_images();
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
    for i in &images {
        writeln!(out, "{:016X} {:08X} {}", i.base, i.size, i.path)?;
    }
    writeln!(out, "Total image size: {total}")?;
    Ok(())
}

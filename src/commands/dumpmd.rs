//! `dumpmd <methoddesc>`: a MethodDesc as SOS's native `DumpMD` prints it (see
//! [`crate::render::methods`] for the text): its name, type, token, module, code, IL
//! address and native code versions. An address that is not a MethodDesc (not 8-byte
//! aligned, its chunk's MethodTable not a MethodTable, or its token not a MethodDef of
//! that type's module) is said to be so.
use crate::args::{option_list, parse_address, OptionSpec, SosArgs};
use crate::render::methods::{method_desc_json, method_desc_text};
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::Result;
use std::io::Write;

/// dumpmd's options (none).
pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let md = p.args.first().and_then(|t| parse_address(t)).unwrap_or(0);
    let heap = &session.heap;
    if !heap.is_method_desc(md) {
        writeln!(out, "{md:016X} is not a MethodDesc")?;
        return Ok(());
    }
    let report = heap.method_desc_report(md, None)?;
    if format != Format::Text {
        return write_json(out, &method_desc_json(&report));
    }
    out.write_all(method_desc_text(&report).as_bytes())?;
    Ok(())
}

//! `ip2md <ip>`: the MethodDesc of the managed code at an address, as SOS prints it.
//!
//! ```text
//! MethodDesc:   00007f0453b78cc8
//! Method Name:          DocProc.Ops.Ops+<>c__DisplayClass15_0.<Threads>b__8()
//! Class:                00007f0453b59768
//! MethodTable:          00007f0453b78cf8
//! mdToken:              000000000600009D
//! Module:               00007f04526bcec8
//! IsJitted:             yes
//! Current CodeAddr:     00007f045264f700
//! Version History:
//!   ILCodeVersion:      0000000000000000
//!   ReJIT ID:           0
//!   IL Addr:            00007f04d0f8ebdc
//!      CodeAddr:           00007f045264f700  (QuickJitted)
//!      NativeCodeVersion:  0000000000000000
//! Source file:  /clrheap-lab/scenarios-src/Ops.cs @ 254
//! ```
//!
//! The native code versions are listed oldest first, the default version last; the
//! source line (from the module's portable PDB, when there is one that matches) is the
//! IP's own, not adjusted for a return address. The facts come from
//! [`crate::runtime::code_versions`].
use crate::args::{option_list, OptionSpec, SosArgs};
use crate::render::output::{hex, write_json, Format};
use crate::render::methods::{method_desc_json, method_desc_text};
use crate::runtime::code_versions::method_desc_at_ip;
use crate::runtime::stack::clrstack::SourceLines;
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::json;
use std::io::Write;

/// ip2md's options (none).
pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let text_arg = p.args.first().cloned().unwrap_or_default();
    let ip = crate::args::parse_plain_hex(text_arg.trim_start_matches("0x").trim_start_matches("0X")).unwrap_or(0);
    if ip == 0 {
        bail!("{} is not IP", args.join(" "));
    }
    let rt = &session.heap.runtime;
    let Some((md, code)) = method_desc_at_ip(rt, ip) else {
        bail!("Failed to request MethodData, not in JIT code range");
    };
    let report = session.heap.method_desc_report(md, Some(&code))?;
    let lines = SourceLines::new(rt);
    let source = lines.line_of_ip(md, ip, false);
    if format != Format::Text {
        let mut record = method_desc_json(&report);
        record["ip"] = hex(ip);
        record["source_file"] = json!(source.as_ref().map(|s| s.0.clone()));
        record["line"] = json!(source.as_ref().map(|s| s.1));
        return write_json(out, &record);
    }
    let mut s = format!("MethodDesc:   {md:016x}\n");
    s.push_str(&method_desc_text(&report));
    if let Some((file, line)) = source {
        s.push_str(&format!("Source file:  {file} @ {line}\n"));
    }
    out.write_all(s.as_bytes())?;
    Ok(())
}

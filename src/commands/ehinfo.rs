//! `ehinfo <methoddesc|code address>`: the exception clauses of a method's native code as
//! SOS's native `EHInfo` prints them: the method (as `dumpmd` shows it), then each clause
//! with its kind, its protected range and its handler, as addresses and as offsets from
//! the code's start:
//!
//! ```text
//! EHHandler 0: TYPED catch()
//! Clause:  [00007f04`52633f35, 00007f04`52633f42] [65, 72]
//! Handler: [00007f04`5263408a, 00007f04`52634118] [1ba, 248]
//! ```
//!
//! JIT code's clauses come from its code header, ReadyToRun code's from its image's
//! ExceptionInfo section. A code address is taken for the method holding it; the clauses
//! are those of the method's current code. SOS names a catch type from the module's
//! metadata in its C# style, where a TypeRef prints empty (it never reads the name), and
//! marks the clauses .NET 8's JIT copies for funclets `(duplicate)`.
use crate::args::{option_list, parse_address, OptionSpec, SosArgs};
use crate::heap::methods::{EhInfo, EhKind};
use crate::render::methods::method_desc_text;
use crate::render::output::Format;
use crate::render::sos::Sos;
use crate::session::Session;
use anyhow::Result;
use std::io::Write;

/// ehinfo's options (none).
pub const OPTIONS: &[OptionSpec] = &[];

/// An address as SOS's `ehinfo` writes it: `00007f04`52633f35`.
fn split_address(a: u64) -> String {
    format!("{:08x}`{:08x}", a >> 32, a & 0xffff_ffff)
}

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let heap = &session.heap;
    let mut sos = Sos::new(out);
    let Some(addr) = p.args.first().map(|t| parse_address(t).unwrap_or(0)) else {
        // No address: SOS refuses the arguments and prints nothing of its own (the empty
        // line is dotnet-dump's, after a failed command).
        sos.put("\n")?;
        return Err(crate::error::ShownInOutput("ehinfo needs a MethodDesc or a code address".to_string()).into());
    };
    let md = if heap.is_method_desc(addr) { addr } else { heap.method_desc_at_ip(addr).unwrap_or(0) };
    if md == 0 || !heap.is_method_desc(md) {
        return sos.put(&format!("{md:016X} is not a MethodDesc\n"));
    }
    let (code, clauses) = match heap.method_eh_info(md)? {
        EhInfo::NoCode => return sos.put("No EH info available\n"),
        EhInfo::NoCodeHeader => return sos.put("Unable to get codeHeader information\n"),
        EhInfo::Clauses { code, clauses } => (code, clauses),
    };
    let report = heap.method_desc_report(md, None)?;
    let mut s = format!("MethodDesc:   {md:016x}\n");
    s.push_str(&method_desc_text(&report));
    s.push('\n');
    for (i, c) in clauses.iter().enumerate() {
        let kind = match c.kind {
            EhKind::Fault => "FAULT",
            EhKind::Finally => "FINALLY",
            EhKind::Filter => "FILTER",
            EhKind::Typed => "TYPED",
        };
        s.push_str(&format!("EHHandler {i}: {kind} "));
        if let Some(t) = &c.catch_type {
            s.push_str(&format!("catch({t}) "));
        }
        let cloned_finally =
            c.try_start == c.try_end && c.try_start == c.handler_start && c.kind == EhKind::Finally && c.duplicate;
        if cloned_finally {
            s.push_str("(cloned finally)");
        } else if c.duplicate {
            s.push_str("(duplicate)");
        }
        s.push('\n');
        let at = |o: u32| split_address(code.wrapping_add(o as u64));
        s.push_str(&format!("Clause:  [{}, {}] [{:x}, {:x}]\n", at(c.try_start), at(c.try_end), c.try_start, c.try_end));
        s.push_str(&format!(
            "Handler: [{}, {}] [{:x}, {:x}]\n",
            at(c.handler_start),
            at(c.handler_end),
            c.handler_start,
            c.handler_end
        ));
        if c.kind == EhKind::Filter {
            s.push_str(&format!("Filter: [{}] [{:x}]\n", at(c.filter), c.filter));
        }
        s.push('\n');
    }
    sos.put(&s)
}

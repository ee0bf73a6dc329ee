//! `dumpdelegate <delegate>`: what a delegate calls, as SOS's native `DumpDelegate`
//! prints it: a header, then a line per single delegate (its `_target`, the MethodDesc
//! its code belongs to, the method's name). A multicast delegate is not printed itself:
//! its invocation list's delegates are, taken from a stack, so the last one comes first
//! (and a multicast entry is expanded the same way in its turn).
//!
//! ```text
//! Target           Method           Name
//! 00007ec43e00af68 00007f0452cf1158 System.Threading.ManualResetEventSlim.Reset()
//! 00007ec43e049030 00007f0452cfd470 DocProc.Ops.Ops+<>c.<DelegatesOfEveryKind>b__4_2()
//! ```
//!
//! An address that is no object prints `Invalid object.`; an object that is not a
//! delegate, `Object of type 'T' is not a delegate.` (without a line end, as SOS).
use crate::args::{option_list, parse_address, OptionSpec, SosArgs};
use crate::heap::{Heap, ObjectAddr};
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

/// dumpdelegate's options (none).
pub const OPTIONS: &[OptionSpec] = &[];

/// Most delegates printed (a multicast delegate's entries may themselves be multicast).
const MAX_DELEGATES: usize = 1 << 20;

/// One printed line: a single delegate.
struct Entry {
    target: u64,
    method_desc: Option<u64>,
    name: String,
}

/// The single delegates under `addr`, in SOS's order (a stack: a multicast delegate's
/// entries pushed in invocation order, popped from the top).
fn entries(heap: &Heap, addr: ObjectAddr) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut stack = vec![addr];
    let mut visited = 0usize;
    while let Some(a) = stack.pop() {
        visited += 1;
        if visited > MAX_DELEGATES {
            break;
        }
        let Some(d) = heap.object(a).and_then(|o| o.delegate()) else { continue };
        if d.list_field.is_null() {
            let method_desc = heap.delegate_method(&d);
            let name = method_desc.map(|md| heap.method_desc_name(md).unwrap_or_default()).unwrap_or_default();
            out.push(Entry { target: d.target.0, method_desc, name });
        } else if d.is_multicast {
            stack.extend(d.invocation_list.iter().copied());
        }
    }
    out
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = match SosArgs::parse(args, OPTIONS, 1) {
        Ok(p) => p,
        Err(message) if message.starts_with("Incorrect argument") => {
            out.write_all(message.as_bytes())?;
            writeln!(out)?;
            return Ok(());
        }
        Err(message) => anyhow::bail!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)),
    };
    let Some(word) = p.args.first() else {
        writeln!(out, "Usage: dumpdelegate <delegate object address>\n")?;
        return Ok(());
    };
    let heap = &session.heap;
    let addr = ObjectAddr(parse_address(word).unwrap_or(0));
    let Some(object) = heap.object(addr) else {
        writeln!(out, "Invalid object.")?;
        return Ok(());
    };
    if !object.is_delegate() {
        let name = object.dac_type_name().unwrap_or_default();
        write!(out, "Object of type '{name}' is not a delegate.")?;
        return Ok(());
    }
    let list = entries(heap, addr);
    if format != Format::Text {
        let rows: Vec<_> = list
            .iter()
            .map(|e| json!({"target": e.target, "method_desc": e.method_desc, "name": e.method_desc.map(|_| e.name.clone())}))
            .collect();
        return write_json(out, &json!({"delegate": addr.0, "entries": rows}));
    }
    writeln!(out, "Target           Method           Name")?;
    for e in &list {
        match e.method_desc {
            Some(md) => writeln!(out, "{:016x} {md:016x} {}", e.target, e.name)?,
            None => writeln!(out, "{:016x} (unknown)", e.target)?,
        }
    }
    Ok(())
}

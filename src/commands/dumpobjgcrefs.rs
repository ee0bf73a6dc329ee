//! `dumpobjgcrefs <object>`: the object's non-null references in GCDesc order, each with
//! the field that holds it (`outer.inner` through struct fields; none for an array's
//! elements), its offset after the MethodTable pointer, the object it points to and that
//! object's type, as dotnet-dump prints them (the helper behind its `dumpobj -refs`); the rows come from
//! [`crate::heap::Heap::gc_refs`].
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::render::gc_refs::write_gc_refs;
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// dumpobjgcrefs has no options.
pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let text = parsed.positional.first().map(String::as_str).unwrap_or("");
    let Some(address) = parse_address(text) else {
        bail!("Invalid object address: '{text}'");
    };
    write_gc_refs(session.heap.gc_refs(address).as_deref(), out)
}

//! `dumpalc <object>`: the AssemblyLoadContext that loaded an object's type, as
//! dotnet-dump (SOS's native `DumpALC`) prints it: the managed context object, shown as
//! `dumpobj` shows it.
//!
//! The context is the one of the binder of the assembly of the object's type's module
//! (for an assembly emitted at run time, the binder of the code that emitted it: a
//! collectible `AssemblyBuilder`'s types report the context of their creator). While the
//! binder has no managed context yet, two lines say so:
//!
//! ```text
//! Name:        System.Runtime.Loader.DefaultAssemblyLoadContext
//! The managed instance of this context doesn't exist yet
//! ```
//!
//! What is not an object, or free space, is reported as `dumpobj` reports it. On .NET 10
//! heap dumps dotnet-dump crashes printing the context's fields; clrheap prints them.
use crate::args::{option_list, OptionSpec, SosArgs};
use crate::args::parse_address;
// The context is shown as dumpobj shows an object: its renderer, not a copy of it.
use crate::commands::dumpobj::print_object;
use crate::heap::ObjectAddr;
use crate::render::output::{hex, write_json, Format};
use crate::render::sos::Sos;
use crate::runtime::domains;
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let heap = &session.heap;
    let address = p.args.first().and_then(|t| parse_address(t)).unwrap_or(0);
    if address == 0 {
        return Sos::new(out).fail(&format!("Invalid parameter {}\n", args.join(" ")));
    }
    let object = heap.object(ObjectAddr(address)).filter(|o| !o.is_free());
    let Some(object) = object else {
        // Not an object, or free space: as dumpobj says it.
        return print_object(heap, address, out);
    };
    let module = object.method_table()?.module;
    let alc = domains::assembly_load_context(&heap.runtime, module)?;
    if format != Format::Text {
        return write_json(out, &json!({"object": hex(address), "assemblyLoadContext": hex(alc)}));
    }
    if alc == 0 {
        out.write_all(
            b"Name:        System.Runtime.Loader.DefaultAssemblyLoadContext\nThe managed instance of this context doesn't exist yet\n",
        )?;
        return Ok(());
    }
    print_object(heap, alc, out)
}

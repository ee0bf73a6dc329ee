//! `dumpil <methoddesc>`: a method's IL as SOS's native `DumpIL` lists it (see
//! [`crate::render::il`] for the listing):
//!
//! ```text
//! ilAddr is 00007F04D0F8D93A pImport is 00007F04526BCEC8
//! ilAddr = 00007F04D0F8D93A
//! IL_0000: ldarg.0
//! IL_0001: ldstr ""
//! IL_0006: stfld DocProc.Ops.Order::Id
//! ```
//!
//! The body is read where the method's RVA puts it in its module's image; its tokens are
//! named from the module's metadata. SOS's `pImport` is a pointer into dotnet-dump's own
//! process (the metadata importer it opened), which no dump holds: clrheap prints the
//! module's address there. With `-i` the address is the IL itself and tokens are shown
//! as numbers (`TOKEN 700002be`). A method without IL (abstract, runtime-implemented, an
//! internal call) fails as SOS's does; an object address is taken for a `DynamicMethod`,
//! whose IL clrheap does not read yet (SOS's message for an object that is not one).
use crate::args::{option_list, parse_address, OptionSpec, SosArgs};
use crate::heap::methods::MethodIl;
use crate::heap::ObjectAddr;
use crate::render::il::il_listing;
use crate::render::output::Format;
use crate::render::sos::Sos;
use crate::session::Session;
use anyhow::Result;
use std::io::Write;

pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag(
    "-i",
    "The address is the IL itself (a method body's header), not a MethodDesc: tokens print as numbers.",
)];

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let heap = &session.heap;
    let mut sos = Sos::new(out);
    let addr = p.args.first().and_then(|t| parse_address(t)).unwrap_or(0);
    if addr == 0 {
        return sos.put("Must pass a valid expression\n");
    }
    if p.has("-i") {
        return match heap.il_at(addr) {
            Some(il) => {
                sos.put(&format!("ilAddr = {addr:016X}\n"))?;
                sos.put(&il_listing(None, &il.bytes, &il.body))
            }
            None => sos.put("error decoding IL\n"),
        };
    }
    if heap.object(ObjectAddr(addr)).is_some() {
        return sos.put(&format!("Error gathering dynamic info from object at {addr:016x}.\n"));
    }
    if !heap.is_method_desc(addr) {
        return sos.put(&format!("{addr:016X} is not a MethodDesc\n"));
    }
    match heap.method_il(addr)? {
        MethodIl::NoToken => {
            sos.put("This method has no IL body (e.g. IL stubs generated for P/Invoke or Reverse P/Invoke marshaling).\n")
        }
        MethodIl::NoAddress => {
            sos.put("Unknown error in reading function IL\n")?;
            sos.fail("Unable to retrieve IL for this method (ilAddr is 0000000000000000).\n")
        }
        MethodIl::Unreadable { address, module } => {
            sos.put(&format!("ilAddr is {address:016X} pImport is {module:016X}\n"))?;
            sos.put("error decoding IL\n")
        }
        MethodIl::Body { module, dynamic, il, metadata } => {
            if dynamic {
                sos.put("Found profiler modified IL\n")?;
            }
            sos.put(&format!("ilAddr is {:016X} pImport is {module:016X}\n", il.address))?;
            sos.put(&format!("ilAddr = {:016X}\n", il.address))?;
            sos.put(&il_listing(metadata.as_deref(), &il.bytes, &il.body))
        }
    }
}

//! `findappdomain <object>`: the AppDomain an object belongs to, as dotnet-dump (SOS's
//! native `FindAppDomain`) prints it.
//!
//! ```text
//! AppDomain: 0000559277d5e390
//! Name:      clrhost
//! ID:        1
//! ```
//!
//! Every object of a .NET 8, 9 or 10 process is the AppDomain's (the one domain that
//! loads assemblies): the answer is its address, friendly name and id, for any address
//! that is an object (free space included); anything else `is not a valid object`.
use crate::args::{option_list, OptionSpec, SosArgs};
use crate::args::parse_address;
use crate::heap::ObjectAddr;
use crate::render::output::{hex, write_json, Format};
use crate::runtime::domains::{self, APP_DOMAIN_ID};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::json;
use std::io::Write;

pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let heap = &session.heap;
    let address = p.args.first().and_then(|t| parse_address(t)).unwrap_or(0);
    if address == 0 || heap.object(ObjectAddr(address)).is_none() {
        writeln!(out, "{address:016X} is not a valid object")?;
        return Ok(());
    }
    let rt = &heap.runtime;
    let Some(domain) = domains::domain(rt, domains::app_domain(rt))? else {
        bail!("the runtime has no AppDomain");
    };
    let name = if domain.name.is_empty() { "None" } else { &domain.name };
    if format != Format::Text {
        return write_json(out, &json!({"object": hex(address), "appDomain": hex(domain.address), "name": name, "id": APP_DOMAIN_ID}));
    }
    write!(out, "AppDomain: {:016x}\nName:      {name}\nID:        {APP_DOMAIN_ID}\n", domain.address)?;
    Ok(())
}

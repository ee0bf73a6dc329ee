//! `dumprequests`: ASP.NET Core's requests in progress ([`Heap::incoming_requests`]):
//! each `DefaultHttpContext`'s method, scheme, path and query, as dotnet-dump prints
//! them, or `No requests found`.
//!
//! [`Heap::incoming_requests`]: crate::heap::Heap::incoming_requests
use crate::args::{CommandArgs, OptionSpec};
use crate::render::format::{left_cell, pointer};
use crate::render::output::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// dumprequests has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// `dumprequests`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let (requests, warnings) = session.heap.incoming_requests()?;
    for w in warnings {
        session.warnings.warn(w.to_string());
    }
    if requests.is_empty() {
        writeln!(out, "No requests found")?;
        return Ok(());
    }
    // Each column as wide as its widest cell (at least its minimum), left-aligned.
    let width = |cells: &mut dyn Iterator<Item = usize>, min: usize, header: &str| {
        cells.max().unwrap_or(0).max(min).max(header.len())
    };
    let addresses: Vec<String> = requests.iter().map(|r| pointer(r.address)).collect();
    let wa = width(&mut addresses.iter().map(|s| s.len()), 7, "Address");
    let wm = width(&mut requests.iter().map(|r| r.method.chars().count()), 6, "Method");
    let ws = width(&mut requests.iter().map(|r| r.scheme.chars().count()), 6, "Scheme");
    let wu = width(&mut requests.iter().map(|r| r.url.chars().count()), 3, "Url");
    writeln!(
        out,
        "{} {} {} {}",
        left_cell("Address", wa),
        left_cell("Method", wm),
        left_cell("Scheme", ws),
        left_cell("Url", wu)
    )?;
    for (r, address) in requests.iter().zip(&addresses) {
        writeln!(
            out,
            "{} {} {} {}",
            left_cell(address, wa),
            left_cell(&r.method, wm),
            left_cell(&r.scheme, ws),
            left_cell(&r.url, wu)
        )?;
    }
    writeln!(out, "Found {} active requests", requests.len())?;
    Ok(())
}

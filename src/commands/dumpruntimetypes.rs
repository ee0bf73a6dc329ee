//! `dumpruntimetypes`: every `System.RuntimeType` object on the heap (in address
//! order), the AppDomain of its type's module, the TypeHandle it stands for
//! (`m_handle`) and that type's name, as dotnet-dump's managed command prints them:
//!
//! ```text
//!          Address           Domain               MT Type Name
//!     7f0441a00020     55fc3560cbc0     7f045261d7c8 System.String
//!     7f0441a01b28                      7f045255f0da typehandle: 7f045255f0da (SOS does not support resolving typehandle names.)
//! ```
//!
//! A handle with bit 1 set is a TypeDesc (an array of a generic parameter, a pointer,
//! a function pointer): dotnet-dump does not name those, and neither does this text.
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::ObjectAddr;
use crate::render::output::{write_json, Format};
use crate::render::table::{Cell, Column, Table};
use crate::runtime::threads::app_domain;
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;

/// dumpruntimetypes has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// One `System.RuntimeType` object.
struct Row {
    address: u64,
    /// The AppDomain of the type's module (`None` for a TypeDesc or a type not found).
    domain: Option<u64>,
    handle: u64,
    /// The type's name, or what dotnet-dump prints instead.
    name: String,
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    let Some(runtime_type) = heap.core_type("System.RuntimeType") else {
        writeln!(out, "No System.RuntimeType objects found.")?;
        return Ok(());
    };
    let domain = app_domain(&heap.runtime);
    let mut addresses = Vec::new();
    let warnings = heap.walk_clrmd_order(|o| {
        if o.mt == runtime_type {
            addresses.push(o.address);
        }
    });
    for w in warnings {
        session.warnings.warn(w.to_string());
    }
    crate::interrupt::check()?;
    // dotnet-dump lists them in address order (a collectible type's RuntimeType, on a
    // gen2 region, before the frozen segment's), whatever the heap and segment.
    addresses.sort_unstable();
    let mut names: HashMap<u64, Option<String>> = HashMap::new();
    let mut rows = Vec::new();
    for address in addresses {
        let Some(handle) = heap.object(ObjectAddr(address)).and_then(|o| o.runtime_type_handle()) else { continue };
        let row = if handle & 2 == 0 {
            let name = names
                .entry(handle)
                .or_insert_with(|| heap.is_valid_method_table(handle).then(|| heap.type_name(handle).to_string()))
                .clone();
            match name {
                Some(name) => Row { address, domain: Some(domain), handle, name },
                None => Row { address, domain: None, handle, name: format!("{handle:x}") },
            }
        } else {
            let name = format!("typehandle: {handle:x} (SOS does not support resolving typehandle names.)");
            Row { address, domain: None, handle, name }
        };
        rows.push(row);
    }
    if format != Format::Text {
        let list: Vec<_> = rows
            .iter()
            .map(|r| json!({"address": r.address, "domain": r.domain, "mt": r.handle, "type": r.name}))
            .collect();
        return write_json(out, &json!(list));
    }
    if rows.is_empty() {
        writeln!(out, "No System.RuntimeType objects found.")?;
        return Ok(());
    }
    let mut table = Table::new(&[Column::POINTER, Column::POINTER, Column::POINTER, Column::TEXT]);
    table.write_header(out, &["Address", "Domain", "MT", "Type Name"])?;
    for r in &rows {
        let domain = r.domain.map_or(Cell::Empty, Cell::Number);
        table.write_row(out, &[r.address.into(), domain, r.handle.into(), r.name.clone().into()])?;
    }
    Ok(())
}

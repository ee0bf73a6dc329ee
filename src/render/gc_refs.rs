//! An object's references as dotnet-dump's `dumpobjgcrefs` prints them (also the end of
//! `dumpobj -refs`): `GC Refs:` and a `Field Offset Object Type` table, or `GC Refs: none`.
use super::table::{Align, Cell, Column, Kind, Table};
use crate::heap::gc_refs::GcRef;
use anyhow::Result;
use std::io::Write;

/// Writes the references (`None`: not a valid object).
pub fn write_gc_refs(refs: Option<&[GcRef]>, out: &mut dyn Write) -> Result<()> {
    let Some(refs) = refs else {
        writeln!(out, "Unable to walk object references, invalid object.")?;
        return Ok(());
    };
    if refs.is_empty() {
        writeln!(out, "GC Refs: none")?;
        return Ok(());
    }
    writeln!(out, "GC Refs:")?;
    let offsets: Vec<String> = refs.iter().map(|r| format!("0x{:02x}", r.offset)).collect();
    let name_width = refs.iter().map(|r| r.field.as_deref().map_or(0, |n| n.chars().count())).max().unwrap_or(0);
    let offset_width = offsets.iter().map(String::len).max().unwrap_or(0);
    let mut table = Table::new(&[
        Column::TEXT.width(name_width),
        Column::new(Align::Right, Some(offset_width), Kind::Plain),
        Column::POINTER,
        Column::TEXT,
    ]);
    table.write_header(out, &["Field", "Offset", "Object", "Type"])?;
    for (r, offset) in refs.iter().zip(offsets) {
        let name = r.field.as_deref().map_or(Cell::Empty, Cell::from);
        let type_name = r.type_name.as_deref().unwrap_or("ERROR");
        table.write_row(out, &[name, offset.into(), r.object.into(), type_name.into()])?;
    }
    Ok(())
}

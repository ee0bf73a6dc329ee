//! `dumpobjgcrefs <object>`: the object's non-null references in GCDesc order, each with
//! the field that holds it (`outer.inner` through struct fields; none for an array's
//! elements), its offset after the MethodTable pointer, the object it points to and that
//! object's type, as dotnet-dump prints them (the helper behind its `dumpobj -refs`).
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::{Field, Heap, ObjectAddr};
use crate::render::table::{Align, Cell, Column, Kind, Table};
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// dumpobjgcrefs has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// How deep struct fields are followed (a damaged type could nest without end).
const MAX_NESTING: usize = 16;

/// The instance field of `mt` that holds `offset` (from the first byte after the
/// MethodTable pointer, or from a struct's first byte): as ClrMD chooses it, the field
/// with the largest offset not past it, the first of equals.
fn field_at(heap: &Heap, mt: u64, offset: u64) -> Option<Field> {
    let mut best: Option<Field> = None;
    for f in heap.type_fields(mt).fields.into_iter().filter(|f| !f.is_static()) {
        let at = f.desc.offset as u64;
        if at <= offset && best.as_ref().is_none_or(|b| (b.desc.offset as u64) < at) {
            best = Some(f);
        }
    }
    best
}

/// The field path naming the reference at `offset`, or `None` (an array element).
fn field_name(heap: &Heap, mt: u64, offset: u64) -> Option<String> {
    let mut field = field_at(heap, mt, offset)?;
    let mut names = vec![field.name.clone()];
    let mut rest = offset;
    for _ in 0..MAX_NESTING {
        if !field.is_value_type() {
            break;
        }
        let Some(struct_mt) = heap.field_type_mt(&field.desc) else { break };
        rest = rest.saturating_sub(field.desc.offset as u64);
        let Some(inner) = field_at(heap, struct_mt, rest) else { break };
        // A primitive's own `m_value` field would loop.
        if inner.desc == field.desc && inner.name == "m_value" {
            break;
        }
        names.push(inner.name.clone());
        field = inner;
    }
    if names.len() == 1 {
        return Some(names.remove(0));
    }
    if names.iter().all(|n| n.trim().is_empty()) {
        return None;
    }
    Some(names.iter().map(|n| if n.trim().is_empty() { "???" } else { n.as_str() }).collect::<Vec<_>>().join("."))
}

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let text = parsed.positional.first().map(String::as_str).unwrap_or("");
    let Some(address) = parse_address(text) else {
        bail!("Invalid object address: '{text}'");
    };
    let heap = &session.heap;
    let Some(object) = heap.object(ObjectAddr(address)) else {
        writeln!(out, "Unable to walk object references, invalid object.")?;
        return Ok(());
    };
    let mut refs: Vec<(u64, u64)> = Vec::new();
    // As ClrMD, no references for an object of an absurd size (a damaged length).
    if let (Ok(Some(desc)), Ok(size)) = (heap.gc_desc(object.mt()), object.size())
        && size <= i32::MAX as u64
    {
        refs = heap
            .reference_slots(address, size, &desc)
            .into_iter()
            .filter(|&(_, value)| value != 0)
            .map(|(slot, value)| (slot.saturating_sub(address).saturating_sub(8), value))
            .collect();
    }
    if refs.is_empty() {
        writeln!(out, "GC Refs: none")?;
        return Ok(());
    }
    writeln!(out, "GC Refs:")?;
    // An array's elements are no field's.
    let is_array = object.array().is_ok();
    let rows: Vec<(Option<String>, String, u64, String)> = refs
        .iter()
        .map(|&(offset, value)| {
            let type_name = heap.object_type_name(value).map_or_else(|| "ERROR".to_string(), |n| n.to_string());
            let name = if is_array { None } else { field_name(heap, object.mt(), offset) };
            (name, format!("0x{offset:02x}"), value, type_name)
        })
        .collect();
    let name_width = rows.iter().map(|r| r.0.as_deref().map_or(0, |n| n.chars().count())).max().unwrap_or(0);
    let offset_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut table = Table::new(&[
        Column::TEXT.width(name_width),
        Column::new(Align::Right, Some(offset_width), Kind::Plain),
        Column::POINTER,
        Column::TEXT,
    ]);
    table.write_header(out, &["Field", "Offset", "Object", "Type"])?;
    for (name, offset, value, type_name) in rows {
        let name = name.map_or(Cell::Empty, Cell::from);
        table.write_row(out, &[name, offset.into(), value.into(), type_name.into()])?;
    }
    Ok(())
}

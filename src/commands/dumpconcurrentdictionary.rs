//! `dumpconcurrentdictionary` (`dcd`) `<address>`: the entries of a
//! `ConcurrentDictionary<TKey, TValue>`, as dotnet-dump prints them.
//!
//! The entries come in bucket order (`_tables._buckets`, index 0 up), each bucket's
//! chain of nodes (`_next`) from its head. On .NET 8 and later a bucket is a
//! `VolatileNode` struct holding the node in `_node` (the dictionary then has a
//! `_comparerIsDefaultForClasses` field); before, the array holds the node itself.
//! A key or value prints as its value (a string in quotes, a number, `0x..` for a
//! pointer-sized integer), or as the command that shows it (`dumpobj ADDR`, `dumparray
//! ADDR`, `dumpvc MT ADDR`), cut to 100 characters.
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::managed::{FieldValue, MAX_CHAIN};
use crate::heap::Heap;
use crate::render::output::Format;
use crate::render::values::primitive_text;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// dcd has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// Longest string read for a key or value.
const MAX_STRING: usize = 1 << 20;

/// `dcd`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    let Some(text) = a.positional.first() else {
        writeln!(out, "Missing ConcurrentDictionary address...")?;
        return Ok(());
    };
    if let Some(extra) = a.positional.get(1) {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let Some(addr) = parse_address(text) else {
        writeln!(out, "Hexadecimal address expected...")?;
        return Ok(());
    };
    let heap = &session.heap;
    let Some(mt) = heap.valid_object_mt(addr) else {
        writeln!(out, "{text} is not referencing an object...")?;
        return Ok(());
    };
    let name = heap.type_name(mt);
    if !name.starts_with("System.Collections.Concurrent.ConcurrentDictionary<") {
        writeln!(out, "{text} is not a ConcurrentDictionary but an instance of {name}...")?;
        return Ok(());
    }
    writeln!(out, "{name}")?;
    let mut count = 0u64;
    match entries(heap, addr, mt, &mut |key, value| {
        count += 1;
        writeln!(out, "    -----")?;
        writeln!(out, "      Key: {}", truncate(&key, 100))?;
        writeln!(out, "    Value: {}", truncate(&value, 100))?;
        Ok(())
    }) {
        Ok(()) => {
            writeln!(out, "---------------------------------------------")?;
            writeln!(out, "{count} items")?;
        }
        Err(e) => writeln!(out, "{e}")?,
    }
    writeln!(out)?;
    Ok(())
}

/// Calls `each(key, value)` for every entry, in dotnet-dump's order.
fn entries(heap: &Heap, addr: u64, mt: u64, each: &mut dyn FnMut(String, String) -> Result<()>) -> Result<()> {
    let tables = heap.read_object_field(addr, "_tables")?;
    if tables == 0 {
        bail!("ConcurrentDictionary does not own _tables attribute");
    }
    let buckets = heap.read_object_field(tables, "_buckets")?;
    if buckets == 0 {
        bail!("ConcurrentDictionary tables does not own _buckets attribute");
    }
    let buckets = heap.array(buckets)?;
    let volatile = heap.has_instance_field(mt, "_comparerIsDefaultForClasses");
    let mut seen = 0usize;
    for i in 0..buckets.length {
        let slot = buckets.element(i);
        let mut node = if volatile {
            heap.read_struct_object_field(slot, buckets.component_mt, "_node")?
        } else {
            heap.read_reference(slot)?
        };
        while node != 0 {
            let Some(node_mt) = heap.valid_object_mt(node) else { break };
            seen += 1;
            if seen > MAX_CHAIN {
                bail!("the dictionary's buckets hold more than {MAX_CHAIN} nodes (a loop?)");
            }
            let key = value_text(heap, node, node_mt, "_key")?;
            let value = value_text(heap, node, node_mt, "_value")?;
            each(key, value)?;
            node = heap.read_object_field(node, "_next")?;
        }
    }
    Ok(())
}

/// A node's field as dotnet-dump shows it.
fn value_text(heap: &Heap, node: u64, node_mt: u64, field: &str) -> Result<String> {
    let fd = heap.instance_field(node_mt, field)?;
    let at = heap.object_field_addr(node, &fd);
    Ok(match heap.field_value(at, &fd)? {
        FieldValue::Null => "null".into(),
        FieldValue::Object { addr, mt } => {
            if mt == heap.runtime.globals.string_mt {
                format!("\"{}\"", heap.string_value(addr, MAX_STRING)?)
            } else if heap.method_table(mt)?.is_array() {
                format!("dumparray {addr:016x}")
            } else {
                format!("dumpobj {addr:016x}")
            }
        }
        FieldValue::Primitive(p) => primitive_text(p),
        FieldValue::Struct { mt: 0, .. } => "?".into(),
        FieldValue::Struct { mt, addr } => format!("dumpvc {mt:016x} {addr:016x}"),
    })
}

/// The first `max` characters of `s`, and `...` when it was longer (UTF-16 units, as C#
/// counts them).
fn truncate(s: &str, max: usize) -> String {
    let units: Vec<u16> = s.encode_utf16().collect();
    if units.len() <= max {
        return s.to_string();
    }
    String::from_utf16_lossy(&units[..max]) + "..."
}

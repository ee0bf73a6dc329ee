//! `dumpconcurrentqueue` (`dcq`) `<address>`: the items of a `ConcurrentQueue<T>`, as
//! dotnet-dump prints them.
//!
//! The queue is a chain of segments (`_head`, then `_nextSegment`), each an array of
//! `Slot` structs (`_slots`) whose `Item` holds the value. Every slot of every segment is
//! listed, as dotnet-dump lists them: for a reference type the non-null ones (a string in
//! quotes, anything else as `dumpobj 0x...`), for a simple value type every slot's value
//! (dequeued slots included), for any other struct one `dumparray` line per segment.
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::fields::et;
use crate::heap::managed::MAX_CHAIN;
use crate::heap::Heap;
use crate::render::output::Format;
use crate::render::values::primitive_text;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// dcq has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// Longest string read for an item.
const MAX_STRING: usize = 1 << 20;

/// `dcq`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    let Some(text) = a.positional.first() else {
        bail!("Missing ConcurrentQueue address...");
    };
    if let Some(extra) = a.positional.get(1) {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let Some(addr) = parse_address(text) else {
        bail!("Hexadecimal address expected...");
    };
    let heap = &session.heap;
    let Some(mt) = heap.valid_object_mt(addr) else {
        bail!("{text} is not referencing an object...");
    };
    let name = heap.type_name(mt);
    if !name.starts_with("System.Collections.Concurrent.ConcurrentQueue<") {
        bail!("{text} is not a ConcurrentQueue but an instance of {name}...");
    }
    writeln!(out, "{name}")?;
    let mut count = 0u64;
    match items(heap, addr, &mut |item| {
        count += 1;
        writeln!(out, "{count:>4} - {item}")?;
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

/// What the slots hold.
enum ItemKind {
    Reference,
    Simple(String),
    Other,
}

/// Calls `each` with every item's text, in dotnet-dump's order.
fn items(heap: &Heap, addr: u64, each: &mut dyn FnMut(String) -> Result<()>) -> Result<()> {
    let mut segment = heap.read_object_field(addr, "_head")?;
    let mut kind: Option<ItemKind> = None;
    let mut segments = 0usize;
    let mut seen = 0u64;
    while segment != 0 && heap.valid_object_mt(segment).is_some() {
        segments += 1;
        if segments > MAX_CHAIN {
            bail!("the queue has more than {MAX_CHAIN} segments (a loop?)");
        }
        let next = heap.read_object_field(segment, "_nextSegment")?;
        let slots = heap.array(heap.read_object_field(segment, "_slots")?)?;
        let k = match &kind {
            Some(k) => k,
            None => {
                let item = heap.instance_field(slots.component_mt, "Item")?;
                let k = if item.element_type == et::CLASS {
                    ItemKind::Reference
                } else {
                    match heap.field_type_name(&item) {
                        Some(n) if is_simple(&n) => ItemKind::Simple(n),
                        _ => ItemKind::Other,
                    }
                };
                kind.insert(k)
            }
        };
        let item = heap.instance_field(slots.component_mt, "Item")?;
        match k {
            ItemKind::Other => each(format!("dumparray {:016x}", slots.addr))?,
            ItemKind::Simple(type_name) => {
                for i in 0..slots.length {
                    let at = slots.element(i).wrapping_add(item.offset as u64);
                    match heap.read_primitive(at, type_name)? {
                        Some(p) => each(primitive_text(p))?,
                        None => {
                            each(format!("dumparray {:016x}", slots.addr))?;
                            break;
                        }
                    }
                }
            }
            ItemKind::Reference => {
                for i in 0..slots.length {
                    let at = slots.element(i).wrapping_add(item.offset as u64);
                    let obj = heap.read_reference(at)?;
                    if obj == 0 {
                        continue;
                    }
                    seen += 1;
                    if seen > (MAX_CHAIN as u64) << 4 {
                        bail!("the queue holds too many items");
                    }
                    let mt = heap.object_mt(obj)?;
                    if mt == heap.runtime.globals.string_mt {
                        each(format!("\"{}\"", heap.string_value(obj, MAX_STRING)?))?;
                    } else {
                        each(format!("dumpobj 0x{obj:016x}"))?;
                    }
                }
            }
        }
        segment = next;
    }
    Ok(())
}

/// The types whose values dotnet-dump prints (the others are shown as their array).
fn is_simple(name: &str) -> bool {
    matches!(
        name,
        "System.Char" | "System.Boolean" | "System.SByte" | "System.Byte" | "System.Int16" | "System.UInt16"
            | "System.Int32" | "System.UInt32" | "System.Int64" | "System.UInt64" | "System.Single"
            | "System.Double" | "System.IntPtr" | "System.UIntPtr"
    )
}

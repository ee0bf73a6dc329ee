//! `traverseheap [-xml] <filename>`: the heap's roots, objects and references written to
//! a file for the CLR Profiler, byte for byte as dotnet-dump writes it.
//!
//! The text form: a `t ID 0 NAME` line per type (numbered in the order the walk meets
//! them), an empty line, `r` and every root's address (handles, the finalizer queue,
//! stack slots: dotnet-dump's roots, so no thread-static arrays), then per object `n ID 1
//! TYPE SIZE`, `! 1 ADDRESS ID` and `o ADDRESS TYPE SIZE ` followed by ` REF` for each
//! reference. The XML form: `<gcheap>` with `<types>` (indented by the writer), then the
//! `<roots>` and `<objects>` fragments, written apart and indented from column 0, as
//! dotnet-dump's two XML writers leave them.
//!
//! Objects come in ClrMD's walk order (segments by their first object's address, across
//! heaps). An object's references are ClrMD's: only for a type with GC pointers, the
//! secondaries of the dependent handles whose primary it is, the `LoaderAllocator` object
//! of a collectible type, then the non-null slots in GCDesc order. Addresses are
//! `0x` and 16 hex digits. A type dotnet-dump cannot name (one emitted at run time) is
//! `error-reading-type-name:MT` there; clrheap writes its name.
use crate::args::{CommandArgs, OptionSpec};
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::Write;

/// traverseheap's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-xml", "Write XML instead of the CLR Profiler's text format.")];

/// An address as the file writes it.
fn hex(address: u64) -> String {
    format!("0x{address:016x}")
}

/// Text escaped for an XML attribute value, as .NET's `XmlWriter` escapes it.
fn attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

pub fn run(session: &Session, args: &[String], _format: Format, _out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.get(1) {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let filename = a.positional.first().map(String::as_str).unwrap_or("");
    if filename.trim().is_empty() {
        bail!("Output filename cannot be empty. (Parameter 'Filename')");
    }
    let xml = a.flag("-xml");
    // Created first, as dotnet-dump does, so that a bad path fails before the work.
    let file = std::fs::File::create(filename).with_context(|| format!("cannot create {filename}"))?;
    let mut file = std::io::BufWriter::new(file);

    let heap = &session.heap;
    let roots = session.roots()?;
    let root_list: Vec<(&str, u64)> = roots
        .handles
        .iter()
        .map(|r| ("handle", r.address))
        .chain(roots.finalizer.iter().map(|r| ("finalizer", r.address)))
        .chain(roots.stack.iter().map(|e| ("stack", e.root.address)))
        .collect();
    // Dependent handles by primary, stably (ClrMD's sorted list).
    let mut dependents = roots.dependent_pairs.clone();
    dependents.sort_by_key(|d| d.0);

    // The roots and objects part, written before the types are known.
    let mut body: Vec<u8> = Vec::new();
    if xml {
        if root_list.is_empty() {
            body.extend_from_slice(b"<roots />");
        } else {
            body.extend_from_slice(b"<roots>");
            for (kind, address) in &root_list {
                write!(body, "\n  <root kind=\"{kind}\" address=\"{}\" />", hex(*address))?;
            }
            body.extend_from_slice(b"\n</roots>");
        }
    } else {
        body.push(b'r');
        for (_, address) in &root_list {
            write!(body, " {}", hex(*address))?;
        }
        body.push(b'\n');
    }

    let mut types: HashMap<u64, u32> = HashMap::new();
    let mut type_order: Vec<u64> = Vec::new();
    if xml {
        body.extend_from_slice(b"\n<objects>");
    }
    let mut count = 0usize;
    let mut refs: Vec<u64> = Vec::new();
    // Writing into a Vec cannot fail: the results of write! are dropped.
    // ClrMD's heap walk: segments by their first object's address, across heaps.
    let mut segments: Vec<_> = heap.segments.iter().collect();
    segments.sort_by_key(|s| s.start);
    let mut sizes = crate::heap::SizeCache::default();
    let mut warnings = Vec::new();
    let mut visit = |o: crate::heap::HeapObject| {
        count += 1;
        let id = count;
        let type_id = *types.entry(o.mt).or_insert_with(|| {
            type_order.push(o.mt);
            type_order.len() as u32
        });
        refs.clear();
        if let Ok(Some(_)) = heap.gc_desc(o.mt) {
            let start = dependents.partition_point(|d| d.0 < o.address);
            refs.extend(dependents[start..].iter().take_while(|d| d.0 == o.address).map(|d| d.1));
            if let Ok(Some(allocator)) = heap.loader_allocator_object(o.mt) {
                refs.push(allocator);
            }
            if let Ok(more) = heap.references(o.address, o.mt, o.size) {
                refs.extend(more);
            }
        }
        if xml {
            let _ = write!(body, "\n  <object address=\"{}\" typeid=\"{type_id}\" size=\"{}\"", hex(o.address), o.size);
            if refs.is_empty() {
                body.extend_from_slice(b" />");
            } else {
                body.push(b'>');
                for r in &refs {
                    let _ = write!(body, "\n    <member address=\"{}\" />", hex(*r));
                }
                body.extend_from_slice(b"\n  </object>");
            }
        } else {
            let _ = writeln!(body, "n {id} 1 {type_id} {}", o.size);
            let _ = writeln!(body, "! 1 {} {id}", hex(o.address));
            let _ = write!(body, "o {} {type_id} {} ", hex(o.address), o.size);
            for r in &refs {
                let _ = write!(body, " {}", hex(*r));
            }
            body.push(b'\n');
        }
    };
    for seg in segments {
        if let Some(w) = heap.walk_segment(seg, &mut sizes, &mut visit) {
            warnings.push(w);
        }
    }
    crate::interrupt::check()?;
    for w in warnings {
        heap.warnings().warn(w.to_string());
    }
    if xml && count == 0 {
        body.truncate(body.len() - b"<objects>".len());
        body.extend_from_slice(b"<objects />");
    }
    if xml && count > 0 {
        body.extend_from_slice(b"\n</objects>");
    }

    let name = |mt: u64| -> String {
        heap.try_type_name(mt).map_or_else(|| format!("error-reading-type-name:{mt:x}"), |n| n.to_string())
    };
    if xml {
        file.write_all(b"<gcheap>")?;
        if type_order.is_empty() {
            file.write_all(b"\n  <types />")?;
        } else {
            file.write_all(b"\n  <types>")?;
            for (i, &mt) in type_order.iter().enumerate() {
                write!(file, "\n    <type id=\"{}\" name=\"{}\" />", i + 1, attribute(&name(mt)))?;
            }
            file.write_all(b"\n  </types>")?;
        }
        file.write_all(b"\n")?;
        file.write_all(&body)?;
        file.write_all(b"\n</gcheap>")?;
    } else {
        for (i, &mt) in type_order.iter().enumerate() {
            writeln!(file, "t {} 0 {}", i + 1, name(mt))?;
        }
        file.write_all(b"\n")?;
        file.write_all(&body)?;
    }
    file.flush().with_context(|| format!("cannot write {filename}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_escaped_as_dotnets_xml_writer_does() {
        assert_eq!(attribute("List<A&B> \"x\"\t"), "List&lt;A&amp;B&gt; &quot;x&quot;&#x9;");
        assert_eq!(hex(0x7f00), "0x0000000000007f00");
    }
}

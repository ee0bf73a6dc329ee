//! `dumpobj` (`do`), `dumparray` (`da`) and `dumpvc`: one object, array or value type
//! with its fields, byte for byte as dotnet-dump's native SOS prints them.
//!
//! Each command parses its arguments as SOS does ([`crate::args::SosArgs`] over its
//! declared options; addresses by [`args`]), gathers what it reports from
//! the object model into one record ([`record`]), and renders it as SOS's text ([`text`])
//! or as JSON/CSV ([`json`]).
//!
//! What these commands print (the rules, seen on the lab's dumps with `bin/sos`):
//! - `Name:` is the DAC's type name (generic arguments assembly-qualified:
//!   ``System.Tuple`2[[System.Int32, System.Private.CoreLib],[System.String, System.Private.CoreLib]]``),
//!   not ClrMD's. Types emitted at run time, which dotnet-dump calls `<Unloaded Type>`,
//!   get their real name.
//! - The field table: `MT Field Offset Type VT Attr Value Name`, parents' fields first.
//!   `Type` is the field type's DAC name cut to its last 17 characters behind `...` when
//!   longer than 20; when the process never loaded the field's type the MT is 0 and the
//!   type comes from the signature (`SZARRAY`, blank for a generic instantiation, the
//!   TypeDef's name for a class of the same module). Offsets are hex, +8 for instance and
//!   plain static fields of objects, raw for thread statics and inside `dumpvc`.
//! - Values: decimal integers right-aligned in 16, `%f` floats, chars in hex, IntPtrs in
//!   upper-case hex, references and structs (their address) in lower-case hex.
//! - Under `dumparray -details` every output call of the nested object is indented, also
//!   in the middle of a line (SOS indents per call, not per line).
//! - `dumparray` walks a rank-1 array from index 0 (or `-start`) whatever its lower bound,
//!   as SOS does; an array whose length is larger than its memory is listed up to what its
//!   memory holds, with a warning ([`crate::heap::Array::elements`]).
mod args;
mod json;
mod record;
mod text;

use crate::args::{OptionSpec, SosArgs};
use crate::heap::ObjectAddr;
use crate::render::gc_refs::write_gc_refs;
use crate::render::output::{hex, Format};
use crate::session::Session;
use anyhow::{Result, bail};
use args::{expression, hex_arg, size_value};
use serde_json::Value as Json;
use std::io::Write;
use text::Sos;

/// dumpobj's options (SOS's native parser: case-insensitive, before the address).
pub const DUMPOBJ_OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-nofields", "Do not print the object's fields."),
    OptionSpec::flag("-refs", "Then the objects it references (dumpobjgcrefs)."),
];

/// dumparray's options.
pub const DUMPARRAY_OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("-start", "<index>", "First element to display."),
    OptionSpec::valued("-length", "<n>", "Number of elements to display."),
    OptionSpec::flag("-details", "Print the fields of each element (value types)."),
    OptionSpec::flag("-nofields", "With -details, do not print the fields of elements."),
];

/// dumpvc takes no options.
pub const DUMPVC_OPTIONS: &[OptionSpec] = &[];

/// SOS's option parser (`GetCMDOption`), over a command's declared options.
fn parse_options(args: &[String], options: &'static [OptionSpec], max_args: usize) -> std::result::Result<SosArgs, String> {
    SosArgs::parse(args, options, max_args)
}

/// SOS's message for a bad command line, as an error.
fn parse_error(message: String) -> anyhow::Error {
    anyhow::anyhow!("{}", message.trim_end())
}

/// `dumpobj [-nofields] <address>`. JSON: the record of [`json::object`]; CSV: one row per
/// field.
pub fn run_dumpobj(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let heap = &session.heap;
    if format != Format::Text {
        let parsed = parse_options(args, DUMPOBJ_OPTIONS, 1).map_err(parse_error)?;
        let addr = expression(parsed.args.first().map(String::as_str).unwrap_or(""));
        if addr == 0 {
            bail!("Invalid parameter {}", args.join(" "));
        }
        let record = record::object(heap, addr, !parsed.has("-nofields"))?;
        return json::emit(json::object(&record)?, "fields", &json::FIELD_COLUMNS, format, out);
    }
    let mut sos = Sos::new(out);
    let parsed = match parse_options(args, DUMPOBJ_OPTIONS, 1) {
        Ok(p) => p,
        Err(msg) => return sos.fail(&msg),
    };
    let addr = expression(parsed.args.first().map(String::as_str).unwrap_or(""));
    if addr == 0 {
        return sos.fail(&format!("Invalid parameter {}\n", args.join(" ")));
    }
    let facts = record::object(heap, addr, !parsed.has("-nofields"))?;
    text::object(&mut sos, &facts)?;
    drop(sos);
    // SOS then runs its managed helper `dumpobjgcrefs` (dotnet-dump cannot: its host gives
    // native SOS no way back to managed commands, and it ends with "Unrecognized SOS
    // command 'DumpObj'"; tests/checks.rs, `dumpobj_refs_is_dumpobj_then_dumpobjgcrefs`).
    if parsed.has("-refs") && !matches!(facts, record::ObjectRecord::Invalid) {
        write_gc_refs(heap.gc_refs(addr).as_deref(), out)?;
    }
    Ok(())
}

/// SOS's `PrintObj` of `addr` (what `dumpobj <addr>` prints), for the commands that end
/// by showing an object (`dumpalc`); a failure is shown in the output, as dumpobj's.
pub(crate) fn print_object(heap: &crate::heap::Heap, addr: u64, out: &mut dyn Write) -> Result<()> {
    text::object(&mut Sos::new(out), &record::object(heap, addr, true)?)
}

/// `dumpvc <MethodTable> <address>`. JSON: the record of [`json::value_class`]; CSV: one
/// row per field.
pub fn run_dumpvc(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let heap = &session.heap;
    let text = format == Format::Text;
    let mut sos = Sos::new(out);
    let parsed = match parse_options(args, DUMPVC_OPTIONS, 2) {
        Ok(p) => p,
        Err(msg) if text => return sos.fail(&msg),
        Err(msg) => return Err(parse_error(msg)),
    };
    let usage = "Usage: dumpvc <Method Table> <Value object start addr>";
    if parsed.args.len() != 2 {
        return if text { sos.put(&format!("{usage}\n")) } else { bail!("{usage}") };
    }
    let mt = hex_arg(&parsed.args[0]);
    let addr = hex_arg(&parsed.args[1]);
    if mt == 0 || !heap.is_valid_method_table(mt) {
        return if text { sos.put("Not a managed object\n") } else { bail!("Not a managed object") };
    }
    let record = record::value_class(heap, mt, addr, true)?;
    if text {
        return text::value_class(&mut sos, &record, heap.runtime.version.major);
    }
    drop(sos);
    json::emit(json::value_class(&record)?, "fields", &json::FIELD_COLUMNS, format, out)
}

/// `dumparray [-start N] [-length N] [-details] [-nofields] <address>`. JSON: `{"address",
/// "type", "mt", "size", "rank", "length", "element_type", "element_mt", "bounds",
/// "lower_bounds", "elements": [`json::element`...]}`; CSV: one row per element.
pub fn run_dumparray(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let heap = &session.heap;
    let text = format == Format::Text;
    let mut sos = Sos::new(out);
    // A message SOS prints and goes on (text), or the command's error (JSON, CSV).
    macro_rules! stop {
        ($msg:expr) => {
            return if text { sos.put(&format!("{}\n", $msg)) } else { bail!("{}", $msg) }
        };
    }
    let parsed = match parse_options(args, DUMPARRAY_OPTIONS, 1) {
        Ok(p) => p,
        Err(msg) if text => return sos.fail(&msg),
        Err(msg) => return Err(parse_error(msg)),
    };
    let arg = parsed.args.first().map(String::as_str).unwrap_or("");
    let addr = expression(arg);
    if addr == 0 {
        return if text { sos.fail(&format!("Invalid parameter {arg}\n")) } else { bail!("Invalid parameter {arg}") };
    }
    let Some(o) = heap.object(ObjectAddr(addr)) else {
        return if text {
            sos.fail("<Note: this object has an invalid CLASS field>\nInvalid object\n")
        } else {
            bail!("Invalid object")
        };
    };
    if o.is_free() || !o.is_array() {
        stop!("Not an array, please use dumpobj instead");
    }
    let start = parsed.value("-start").map_or(0, size_value);
    let length = parsed.value("-length").map(size_value);
    let details = parsed.has("-details");
    let fields = !parsed.has("-nofields");
    let a = o.array()?;
    if a.rank != 1 && (length.is_some() || start != 0) {
        stop!("For multi-dimension array, length and start index are supported");
    }
    if start > a.length as u64 {
        stop!("Start index out of range");
    }
    let name = format!("{}[{}]", record::type_name(heap, a.element_mt), ",".repeat(a.rank as usize - 1));
    let size = o.size()?;
    let major = heap.runtime.version.major;
    let mut walk = a.elements(start, length);
    if text {
        if !details && !fields {
            sos.put("-nofields has no effect unless -details is specified\n")?;
        }
        let class = if major >= 9 { heap.canonical_mt(o.mt())? } else { o.method_table()?.ee_class };
        text::array_listing_header(&mut sos, &name, o.mt(), class, size, &a)?;
        for element in walk.by_ref() {
            let row = record::element_row(heap, &a, element, details, fields);
            text::element(&mut sos, &row, a.element_type, major)?;
        }
    } else {
        let mut r = serde_json::json!({
            "address": hex(addr),
            "type": name,
            "mt": hex(o.mt()),
            "size": size,
        });
        json::extend(&mut r, json::array(&a));
        let mut elements = Vec::new();
        for element in walk.by_ref() {
            let row = record::element_row(heap, &a, element, details, fields);
            elements.push(json::element(&row, a.element_type)?);
        }
        r["elements"] = Json::Array(elements);
        drop(sos);
        json::emit(r, "elements", &json::ELEMENT_COLUMNS, format, out)?;
    }
    if walk.truncated() {
        session.warnings.warn(format!(
            "array {addr:x} says it has {} elements but its memory holds {}: the rest are not listed",
            a.length,
            a.capacity()
        ));
    }
    Ok(())
}

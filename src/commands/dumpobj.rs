//! `dumpobj` (`do`), `dumparray` (`da`) and `dumpvc`: one object, array or value type
//! with its fields, byte for byte as dotnet-dump's native SOS prints them.
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
use crate::args::{OptionSpec, SosArgs};
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use serde_json::{json, Value};
use crate::heap::fields::{et, FieldDesc, StaticLocation};
use crate::heap::Heap;
use crate::runtime::layouts::{MTF_CATEGORY_ARRAY_MASK, MTF_IS_SZARRAY};
use anyhow::{bail, Result};
use std::io::Write;

/// Longest string SOS prints (`<String is invalid or too large to print>` beyond).
const MAX_STRING: u64 = 0x20_0000;
/// Most array rows printed (a guard on corrupt lengths; SOS has none).
const MAX_ARRAY_ROWS: u64 = 1 << 28;

/// SOS's console: every call writes the current indent first. Characters beyond ASCII
/// are dropped, as dotnet-dump's console drops them.
struct Sos<'a> {
    out: &'a mut dyn Write,
    indent: usize,
}

impl Sos<'_> {
    fn put(&mut self, text: &str) -> Result<()> {
        for _ in 0..self.indent {
            self.out.write_all(b"    ")?;
        }
        if text.is_ascii() {
            self.out.write_all(text.as_bytes())?;
        } else {
            let ascii: String = text.chars().filter(char::is_ascii).collect();
            self.out.write_all(ascii.as_bytes())?;
        }
        Ok(())
    }
}

/// A message SOS prints on its console for a failed command: written to the output
/// with the empty line dotnet-dump adds after a failed command, and reported as the
/// command's failure.
fn fail(sos: &mut Sos, message: &str) -> Result<()> {
    sos.put(message)?;
    sos.put("\n")?;
    bail!("{}", message.lines().last().unwrap_or(message).trim_end())
}

/// dumpobj's options (SOS's native parser: case-insensitive, before the address).
pub const DUMPOBJ_OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-nofields", "Do not print the object's fields."),
    OptionSpec::flag("-refs", "The objects it references.").unsupported(),
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

/// The debugger's expression evaluation of an address: hex, optional `0x`; 0 if invalid.
fn expression(text: &str) -> u64 {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    u64::from_str_radix(digits, 16).unwrap_or(0)
}

/// A size option: decimal, else an expression.
fn size_value(text: &str) -> u64 {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().unwrap_or(u64::MAX)
    } else {
        expression(text)
    }
}

/// `dumpobj [-nofields] <address>`.
pub fn run_dumpobj(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    if format != Format::Text {
        return records::dumpobj(session, args, format, out);
    }
    let mut sos = Sos { out, indent: 0 };
    let parsed = match parse_options(args, DUMPOBJ_OPTIONS, 1) {
        Ok(p) => p,
        Err(msg) => return fail(&mut sos, &msg),
    };
    let text = parsed.args.first().map(String::as_str).unwrap_or("");
    let addr = expression(text);
    if addr == 0 {
        return fail(&mut sos, &format!("Invalid parameter {}\n", args.join(" ")));
    }
    print_object(&session.heap, session, &mut sos, addr, !parsed.has("-nofields"))
}

/// What an address holds, as SOS's object checks see it.
enum ObjectKind {
    Free { size: u64 },
    Object { mt: u64 },
}

/// Checks that `addr` holds an object: an aligned address whose MethodTable is valid
/// (its EEClass points back at its canonical MethodTable).
fn classify(heap: &Heap, addr: u64) -> Option<ObjectKind> {
    if !addr.is_multiple_of(8) {
        return None;
    }
    let o = &heap.runtime.layout.object;
    let mt = heap.space().read_ptr(addr).ok()? & !o.mt_unmask;
    if mt == 0 {
        return None;
    }
    if mt == heap.runtime.globals.free_mt {
        let count = heap.space().read_u32(addr.wrapping_add(o.array_length)).ok()?;
        let size = heap.mt_size(mt).ok()?.object_size(count);
        return Some(ObjectKind::Free { size });
    }
    valid_method_table(heap, mt).then_some(ObjectKind::Object { mt })
}

fn valid_method_table(heap: &Heap, mt: u64) -> bool {
    let Ok(info) = heap.method_table(mt) else { return false };
    let Ok(canon) = heap.canonical_mt(mt) else { return false };
    let class_mt = info.ee_class.wrapping_add(heap.runtime.layout.ee_class.method_table);
    if info.ee_class == 0 || heap.space().read_ptr(class_mt).ok() != Some(canon) {
        return false;
    }
    let interface = info.flags & MTF_CATEGORY_ARRAY_MASK == MTF_CATEGORY_ARRAY_MASK;
    interface || mt == heap.runtime.globals.string_mt || (info.base_size != 0 && info.base_size % 8 == 0)
}

/// The object's size as the DAC reports it: base size plus components (an empty string
/// is 22 bytes here, where the heap walk counts 24).
fn object_size(heap: &Heap, addr: u64, mt: u64) -> Result<u64> {
    let size = heap.mt_size(mt)?;
    let length = addr.wrapping_add(heap.runtime.layout.object.array_length);
    let count = if size.component_size != 0 { heap.space().read_u32(length)? } else { 0 };
    Ok(size.base_size as u64 + size.component_size as u64 * count as u64)
}

/// A module's file as SOS names it (`Unknown Module` when it has none).
fn file_name(heap: &Heap, module: u64) -> String {
    crate::runtime::modules::module_image(&heap.runtime, module)
        .ok()
        .map(|m| m.path)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "Unknown Module".to_string())
}

fn type_name(heap: &Heap, mt: u64) -> String {
    heap.dac_type_name(mt).unwrap_or_else(|_| "<Unloaded Type>".to_string())
}

/// Facts about an array object.
struct ArrayInfo {
    rank: u32,
    count: u64,
    element: u64,
    element_type: u8,
    component_size: u64,
    /// Address of the first element.
    data: u64,
    /// How many elements the array's memory can hold (`Heap::array_capacity`): the
    /// element walk stops there, whatever the length field claims.
    capacity: u64,
    bounds: Vec<u32>,
    lower_bounds: Vec<u32>,
}

fn array_info(heap: &Heap, addr: u64, mt: u64) -> Result<ArrayInfo> {
    let info = heap.method_table(mt)?;
    let space = heap.space();
    let o = &heap.runtime.layout.object;
    let count = space.read_u32(addr.wrapping_add(o.array_length))? as u64;
    let element = space.read_ptr(mt.wrapping_add(heap.runtime.layout.method_table.per_inst_info))?;
    let sz = info.flags & MTF_IS_SZARRAY != 0;
    let rank = if sz { 1 } else { (info.base_size.saturating_sub(24) / 8).clamp(1, 32) };
    // A multi-dimensional array's bounds, then its lower bounds (u32s), follow the
    // `Array` header; its elements follow them.
    let fixed = addr.wrapping_add(o.array_data);
    let (data, bounds, lower_bounds) = if sz {
        (fixed, vec![count as u32], vec![0])
    } else {
        let mut b = Vec::new();
        let mut l = Vec::new();
        for i in 0..rank as u64 {
            b.push(space.read_u32(fixed.wrapping_add(4 * i))?);
            l.push(space.read_u32(fixed.wrapping_add(4 * (rank as u64 + i)))?);
        }
        (fixed.wrapping_add(8 * rank as u64), b, l)
    };
    let capacity = heap.array_capacity(data, info.component_size as u64);
    if count > capacity {
        heap.warnings().warn(format!(
            "the array at {addr:x} claims {count} elements, but its memory holds at most {capacity}; \
             the elements past that are not read"
        ));
    }
    Ok(ArrayInfo {
        rank,
        count,
        element,
        element_type: array_element_type(heap, element),
        component_size: info.component_size as u64,
        data,
        capacity,
        bounds,
        lower_bounds,
    })
}

/// The CorElementType the runtime records for an array's elements: the primitive's own,
/// VALUETYPE for other structs (enums included), SZARRAY/ARRAY for arrays, else CLASS.
fn array_element_type(heap: &Heap, element: u64) -> u8 {
    if element & 2 != 0 {
        return et::PTR;
    }
    let Ok(info) = heap.method_table(element) else { return et::CLASS };
    if info.is_array() {
        return if info.flags & MTF_IS_SZARRAY != 0 { et::SZARRAY } else { et::ARRAY };
    }
    if !info.is_value_type() {
        return et::CLASS;
    }
    if info.module == heap.runtime.globals.core_lib_module
        && let Ok(name) = heap.dac_type_name(element)
        && let Some(t) = primitive_element_type(&name)
    {
        return t;
    }
    et::VALUETYPE
}

fn primitive_element_type(name: &str) -> Option<u8> {
    Some(match name {
        "System.Boolean" => et::BOOLEAN,
        "System.Char" => et::CHAR,
        "System.SByte" => et::I1,
        "System.Byte" => et::U1,
        "System.Int16" => et::I2,
        "System.UInt16" => et::U2,
        "System.Int32" => et::I4,
        "System.UInt32" => et::U4,
        "System.Int64" => et::I8,
        "System.UInt64" => et::U8,
        "System.Single" => et::R4,
        "System.Double" => et::R8,
        "System.IntPtr" => et::I,
        "System.UIntPtr" => et::U,
        _ => return None,
    })
}

/// SOS's `ElementTypeName`.
fn element_type_name(t: u8) -> &'static str {
    match t {
        et::PTR => "PTR",
        et::BYREF => "BYREF",
        et::VALUETYPE => "VALUETYPE",
        et::CLASS => "CLASS",
        et::VAR => "VAR",
        et::ARRAY => "ARRAY",
        et::FNPTR => "FNPTR",
        et::SZARRAY => "SZARRAY",
        et::MVAR => "MVAR",
        _ => primitive_name(t).map_or("", |(_, n)| n),
    }
}

/// (namespace, name) of the element types that have a CoreLib type.
fn primitive_name(t: u8) -> Option<(&'static str, &'static str)> {
    Some(match t {
        0x01 => ("System", "Void"),
        et::BOOLEAN => ("System", "Boolean"),
        et::CHAR => ("System", "Char"),
        et::I1 => ("System", "SByte"),
        et::U1 => ("System", "Byte"),
        et::I2 => ("System", "Int16"),
        et::U2 => ("System", "UInt16"),
        et::I4 => ("System", "Int32"),
        et::U4 => ("System", "UInt32"),
        et::I8 => ("System", "Int64"),
        et::U8 => ("System", "UInt64"),
        et::R4 => ("System", "Single"),
        et::R8 => ("System", "Double"),
        et::STRING => ("System", "String"),
        et::TYPEDBYREF => ("System", "TypedReference"),
        et::I => ("System", "IntPtr"),
        et::U => ("System", "UIntPtr"),
        et::OBJECT => ("System", "Object"),
        _ => return None,
    })
}

/// SOS's `ComposeName_s`: `System.Int32`, or the bare element type name.
fn compose_name(t: u8) -> String {
    match primitive_name(t) {
        Some((ns, n)) => format!("{ns}.{n}"),
        None => element_type_name(t).to_string(),
    }
}

/// SOS's `FormatTypeName`: names longer than `max` keep their last `max` characters,
/// the first three turned into dots.
fn format_type_name(name: &str, max: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max {
        return name.to_string();
    }
    let tail = &chars[chars.len() - max..];
    let dots = max.min(3);
    std::iter::repeat_n('.', dots).chain(tail[dots..].iter().copied()).collect()
}

fn is_element_value_type(t: u8) -> bool {
    (et::BOOLEAN..=et::R8).contains(&t) || t == et::VALUETYPE || t == et::I || t == et::U
}

/// `PrintObj`: the object at `addr`, with its fields when `fields`.
fn print_object(heap: &Heap, session: &Session, sos: &mut Sos, addr: u64, fields: bool) -> Result<()> {
    let mt = match classify(heap, addr) {
        None => {
            return fail(sos, "<Note: this object has an invalid CLASS field>\nInvalid object\n");
        }
        Some(ObjectKind::Free { size }) => {
            sos.put("Free Object\n")?;
            sos.put(&format!("Size:        {size}(0x{size:x}) bytes\n"))?;
            return Ok(());
        }
        Some(ObjectKind::Object { mt }) => mt,
    };
    let info = heap.method_table(mt)?;
    let name = type_name(heap, mt);
    sos.put(&format!("Name:        {name}\n"))?;
    sos.put(&format!("MethodTable: {mt:016x}\n"))?;
    let size = object_size(heap, addr, mt)?;
    sos.put(&format!("Size:        {size}(0x{size:x}) bytes\n"))?;
    if name == "System.RuntimeType" {
        print_runtime_type_info(heap, sos, addr, mt)?;
    }
    if name == "System.RuntimeType+RuntimeTypeCache"
        && let Some(offset) = instance_field_offset(heap, mt, "m_runtimeType")
        && let Ok(rt) = heap.space().read_ptr(addr + offset)
    {
        match classify(heap, rt) {
            Some(ObjectKind::Object { mt: rt_mt }) => print_runtime_type_info(heap, sos, rt, rt_mt)?,
            _ => return fail(sos, "Error when reading RuntimeType field\n"),
        }
    }
    if info.is_array() {
        let a = array_info(heap, addr, mt)?;
        sos.put(&array_line(&a))?;
        if matches!(a.element_type, et::I1 | et::U1 | et::CHAR) {
            sos.put("Content:     ")?;
            let wide = a.element_type == et::CHAR;
            let n = a.count.min(128);
            let bytes = heap.space().read_vec(addr + 16, (n * if wide { 2 } else { 1 }) as usize);
            if let Ok(bytes) = bytes {
                let text: String = if wide {
                    bytes
                        .chunks_exact(2)
                        .map(|c| flatten(u16::from_le_bytes([c[0], c[1]]) as u32))
                        .collect()
                } else {
                    bytes.iter().map(|&b| flatten(b as u32)).collect()
                };
                sos.put(&text)?;
            }
            sos.put("\n")?;
        }
    } else {
        sos.put(&format!("File:        {}\n", file_name(heap, info.module)))?;
    }
    if mt == heap.runtime.globals.string_mt {
        sos.put("String:      ")?;
        sos.put(&string_content(heap, addr, size))?;
        sos.put("\n")?;
    }
    if fields {
        sos.put("Fields:\n")?;
        let counts = heap.class_field_counts(mt)?;
        if counts.instance + counts.statics > 0 {
            display_fields(heap, sos, mt, addr, false)?;
        } else {
            sos.put("None\n")?;
        }
    }
    if let Some((thread, os_id, recursion)) = session.thin_lock(addr) {
        sos.put(&format!(
            "ThinLock owner {os_id:x} ({:016X}), Recursive {recursion:x}\n",
            thread.unwrap_or(0)
        ))?;
    }
    Ok(())
}

/// The offset from the object's start of the instance field `name` (SOS's
/// `GetObjFieldOffset`).
fn instance_field_offset(heap: &Heap, mt: u64, name: &str) -> Option<u64> {
    let mut inherited = 0;
    for class in heap.parent_chain(mt).ok()? {
        let counts = heap.class_field_counts(class).ok()?;
        for fd in heap.introduced_fields(class, inherited).ok()? {
            if !fd.is_static && heap.field_name(&fd).as_deref() == Some(name) {
                return Some(fd.offset as u64 + 8);
            }
        }
        inherited = counts.instance.max(inherited);
    }
    None
}

/// The type a `System.RuntimeType` stands for (its `m_handle`).
fn print_runtime_type_info(heap: &Heap, sos: &mut Sos, addr: u64, mt: u64) -> Result<()> {
    let Some(offset) = instance_field_offset(heap, mt, "m_handle") else { return Ok(()) };
    let Ok(handle) = heap.space().read_ptr(addr + offset) else { return Ok(()) };
    if handle & 2 != 0 {
        sos.put(&format!("TypeDesc:    {:016X}\n", handle & !2))?;
    } else {
        sos.put(&format!("Type Name:   {}\n", type_name(heap, handle)))?;
        sos.put(&format!("Type MT:     {handle:016x}\n"))?;
    }
    Ok(())
}

/// SOS's `Flatten`: characters outside printable ASCII become dots.
fn flatten(c: u32) -> char {
    if (32..=126).contains(&c) {
        char::from_u32(c).unwrap_or('.')
    } else {
        '.'
    }
}

/// A string's characters as SOS prints them (up to the first NUL).
fn string_content(heap: &Heap, addr: u64, size: u64) -> String {
    let Ok(len) = heap.space().read_u32(addr.wrapping_add(heap.runtime.layout.object.string_length)) else {
        return "<Invalid Object>".to_string();
    };
    if size > MAX_STRING || len as u64 > MAX_STRING {
        return "<String is invalid or too large to print>\n".to_string();
    }
    match heap.string_value(addr, len as usize) {
        Ok(s) => s.split('\0').next().unwrap_or("").to_string(),
        Err(_) => "<Invalid Object>".to_string(),
    }
}

/// `DisplayFields`: the header, then the fields of every class from `System.Object`
/// down to `mt`. `start` is the object (or, for a value type, its data); 0 for none.
fn display_fields(heap: &Heap, sos: &mut Sos, mt: u64, start: u64, value_class: bool) -> Result<()> {
    sos.put("")?;
    sos.put(&format!(
        "{:>16} {:>8} {:>8} {:>20} {:>4} {:>8} {:>16} {}\n",
        "MT", "Field", "Offset", "Type", "VT", "Attr", "Value", "Name"
    ))?;
    let chain = heap.parent_chain(mt)?;
    let mut inherited = 0u32;
    for class in chain {
        let counts = heap.class_field_counts(class)?;
        let fields = match heap.introduced_fields(class, inherited) {
            Ok(f) => f,
            Err(_) => {
                sos.put("")?;
                sos.put("Unable to display fields\n")?;
                return Ok(());
            }
        };
        inherited = counts.instance.max(inherited);
        for fd in &fields {
            display_field(heap, sos, class, fd, start, value_class)?;
        }
    }
    Ok(())
}

fn display_field(heap: &Heap, sos: &mut Sos, class: u64, fd: &FieldDesc, start: u64, value_class: bool) -> Result<()> {
    sos.put("")?;
    let mut offset = fd.offset;
    if !(value_class || fd.is_thread_static && fd.is_static) {
        offset += 8;
    }
    let type_mt = heap.field_type_mt(fd);
    sos.put(&format!("{:016x} {:08x} {offset:>8x} ", type_mt.unwrap_or(0), fd.token()))?;
    let type_text = format_type_name(&field_type_name(heap, fd, type_mt), 20);
    sos.put(&format!("{type_text:>20} "))?;
    sos.put(&format!("{:>4} ", if is_element_value_type(fd.element_type) { "Yes" } else { "No" }))?;
    let name = heap.field_name(fd).unwrap_or_default();
    if fd.is_static && fd.is_thread_static {
        sos.put(&format!("{:>8} ", "TLstatic"))?;
        sos.put(&format!(" {name}\n"))?;
        sos.put("    Thread static values (Thread:Value)\n")?;
        sos.put("\n")?;
    } else if fd.is_static {
        sos.put(&format!("{:>8} ", "static"))?;
        match heap.static_location(class, fd) {
            StaticLocation::At(a) => {
                display_data_member(heap, sos, fd, type_mt, a, true)?;
                sos.put(&format!(" {name}\n"))?;
            }
            StaticLocation::NotAllocated => {
                display_data_member(heap, sos, fd, type_mt, 0, true)?;
                sos.put(&format!(" {name}\n"))?;
            }
            StaticLocation::Dynamic => {
                sos.put("dynamic statics NYI")?;
                sos.put(" <no information>\n")?;
            }
            StaticLocation::Unavailable => sos.put(" <no information>\n")?,
        }
    } else {
        sos.put(&format!("{:>8} ", "instance"))?;
        if start > 0 {
            let at = start + fd.offset as u64 + if value_class { 0 } else { 8 };
            display_data_member(heap, sos, fd, type_mt, at, true)?;
        } else {
            sos.put(&format!("{:>16}", " "))?;
        }
        sos.put(&format!(" {name}\n"))?;
    }
    Ok(())
}

/// The field's type as the field table names it (before cutting to 20 characters): the
/// loaded type's DAC name, else what the signature says.
fn field_type_name(heap: &Heap, fd: &FieldDesc, type_mt: Option<u64>) -> String {
    match type_mt {
        Some(t) if fd.element_type == et::VALUETYPE || fd.element_type == et::CLASS => type_name(heap, t),
        _ => {
            let sig = heap.field_sig(fd);
            let token_of_type = match &sig {
                Some(crate::metadata::SigType::Class(t)) | Some(crate::metadata::SigType::ValueType(t)) => Some(t.0),
                _ => None,
            };
            if fd.element_type == et::CLASS && let Some(token) = token_of_type {
                // SOS asks for the token as a TypeDef, whatever table it names.
                let as_typedef = token | 0x0200_0000;
                if as_typedef >> 24 == 0x02 {
                    heap.method_table(fd.enclosing_mt)
                        .ok()
                        .and_then(|i| heap.module_metadata(i.module))
                        .and_then(|md| md.type_full_name(as_typedef & 0x00ff_ffff).ok())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            } else {
                let sig_type = if type_mt.is_none() && token_of_type.is_none() {
                    sig.as_ref().map_or(fd.element_type, sig_element_type)
                } else {
                    fd.element_type
                };
                compose_name(sig_type)
            }
        }
    }
}

/// The element type a signature starts with.
fn sig_element_type(sig: &crate::metadata::SigType) -> u8 {
    use crate::metadata::SigType as S;
    match sig {
        S::Void => 0x01,
        S::Boolean => et::BOOLEAN,
        S::Char => et::CHAR,
        S::I1 => et::I1,
        S::U1 => et::U1,
        S::I2 => et::I2,
        S::U2 => et::U2,
        S::I4 => et::I4,
        S::U4 => et::U4,
        S::I8 => et::I8,
        S::U8 => et::U8,
        S::R4 => et::R4,
        S::R8 => et::R8,
        S::I => et::I,
        S::U => et::U,
        S::String => et::STRING,
        S::Object => et::OBJECT,
        S::TypedByRef => et::TYPEDBYREF,
        S::Class(_) => et::CLASS,
        S::ValueType(_) => et::VALUETYPE,
        S::SzArray(_) => et::SZARRAY,
        S::Array { .. } => et::ARRAY,
        S::GenericInst { .. } => et::GENERICINST,
        S::Var(_) => et::VAR,
        S::MVar(_) => et::MVAR,
        S::Ptr(_) => et::PTR,
        S::ByRef(_) => et::BYREF,
        S::FnPtr => et::FNPTR,
    }
}

/// Bytes SOS reads for a value of this element type (None: no fixed size).
fn element_size(t: u8) -> Option<usize> {
    match t {
        et::BOOLEAN | et::I1 | et::U1 => Some(1),
        et::CHAR | et::I2 | et::U2 => Some(2),
        et::I4 | et::U4 | et::R4 => Some(4),
        et::VALUETYPE | et::VAR | et::GENERICINST | et::MVAR => None,
        _ => Some(8),
    }
}

/// `DisplayDataMember`: the value stored at `addr` (nothing when 0), right-aligned in 16
/// when `align`.
fn display_data_member(heap: &Heap, sos: &mut Sos, fd: &FieldDesc, type_mt: Option<u64>, addr: u64, align: bool) -> Result<()> {
    if addr == 0 {
        return sos.put(&format!("{:>16}", " "));
    }
    let vt_static = fd.is_static && fd.element_type == et::VALUETYPE;
    let size = if vt_static { Some(8) } else { element_size(fd.element_type) };
    let Some(size) = size else {
        return sos.put(&if fd.element_type == et::VALUETYPE {
            format!("{addr:016x}")
        } else {
            format!("{:016x}", 0)
        });
    };
    let mut raw = [0u8; 8];
    if let Ok(bytes) = heap.space().read_vec(addr, size) {
        raw[..size].copy_from_slice(&bytes);
    }
    let v = u64::from_le_bytes(raw);
    let w = if align { 16 } else { 0 };
    let text = match fd.element_type {
        et::I1 => format!("{:>w$}", v as u8 as i8),
        et::I2 => format!("{:>w$}", v as u16 as i16),
        et::I4 => format!("{:>w$}", v as u32 as i32),
        et::I8 => format!("{:>w$}", v as i64),
        et::U1 | et::BOOLEAN => {
            if align {
                format!("{:>w$}", v as u8)
            } else {
                format!("{}", v as u8 as i8 as i32 as u32)
            }
        }
        et::U2 => format!("{:>w$}", v as u16),
        et::U4 => format!("{:>w$}", v as u32),
        et::U8 => format!("{:>w$}", v),
        et::I | et::U => format!("{v:016X}"),
        et::R4 => c_float(f32::from_bits(v as u32) as f64),
        et::R8 => c_float(f64::from_bits(v)),
        et::CHAR => format!("{:>w$x}", v as u16),
        et::VALUETYPE => {
            let _ = type_mt;
            if v != 0 { format!("{addr:016x}") } else { format!("{:016x}", 0) }
        }
        _ => format!("{v:016x}"),
    };
    sos.put(&text)
}

/// C's `%f`.
fn c_float(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan".into() } else { "nan".into() }
    } else if v.is_infinite() {
        if v < 0.0 { "-inf".into() } else { "inf".into() }
    } else {
        format!("{v:.6}")
    }
}

/// `dumpvc <MethodTable> <address>`.
pub fn run_dumpvc(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    if format != Format::Text {
        return records::dumpvc(session, args, format, out);
    }
    let heap = &session.heap;
    let mut sos = Sos { out, indent: 0 };
    let parsed = match parse_options(args, DUMPVC_OPTIONS, 2) {
        Ok(p) => p,
        Err(msg) => return fail(&mut sos, &msg),
    };
    if parsed.args.len() != 2 {
        return sos.put("Usage: dumpvc <Method Table> <Value object start addr>\n");
    }
    let mt = hex_arg(&parsed.args[0]);
    let addr = hex_arg(&parsed.args[1]);
    if mt == 0 || !valid_method_table(heap, mt) {
        return sos.put("Not a managed object\n");
    }
    print_value_class(heap, &mut sos, mt, addr, true)
}

/// SOS's hex argument: leading `0x` ignored, digits up to the first non-hex character.
fn hex_arg(text: &str) -> u64 {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let end = digits.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(digits.len());
    if end == digits.len() {
        u64::from_str_radix(&digits[..end], 16).unwrap_or(0)
    } else {
        expression(text)
    }
}

/// `PrintVC`: a value type's fields read at `addr`.
fn print_value_class(heap: &Heap, sos: &mut Sos, mt: u64, addr: u64, fields: bool) -> Result<()> {
    let info = heap.method_table(mt)?;
    sos.put(&format!("Name:        {}\n", type_name(heap, mt)))?;
    sos.put(&format!("MethodTable: {mt:016x}\n"))?;
    if heap.runtime.layout.major >= 9 {
        let canon = heap.canonical_mt(mt)?;
        if canon != mt {
            sos.put(&format!("Canonical: {canon:016x}\n"))?;
        }
    } else {
        sos.put(&format!("EEClass:     {:016x}\n", info.ee_class))?;
    }
    let size = info.base_size;
    sos.put(&format!("Size:        {size}(0x{size:x}) bytes\n"))?;
    sos.put(&format!("File:        {}\n", file_name(heap, info.module)))?;
    if fields {
        sos.put("Fields:\n")?;
        let counts = heap.class_field_counts(mt)?;
        if counts.instance + counts.statics > 0 {
            display_fields(heap, sos, mt, addr, true)?;
        }
    }
    Ok(())
}

/// `dumparray [-start N] [-length N] [-details] [-nofields] <address>`.
pub fn run_dumparray(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    if format != Format::Text {
        return records::dumparray(session, args, format, out);
    }
    let heap = &session.heap;
    let mut sos = Sos { out, indent: 0 };
    let parsed = match parse_options(
        args,
        DUMPARRAY_OPTIONS,
        1,
    ) {
        Ok(p) => p,
        Err(msg) => return fail(&mut sos, &msg),
    };
    let text = parsed.args.first().map(String::as_str).unwrap_or("");
    let addr = expression(text);
    if addr == 0 {
        return fail(&mut sos, &format!("Invalid parameter {text}\n"));
    }
    let mt = match classify(heap, addr) {
        None => return fail(&mut sos, "<Note: this object has an invalid CLASS field>\nInvalid object\n"),
        Some(ObjectKind::Free { .. }) => {
            return sos.put("Not an array, please use dumpobj instead\n");
        }
        Some(ObjectKind::Object { mt }) => mt,
    };
    let info = heap.method_table(mt)?;
    if !info.is_array() {
        return sos.put("Not an array, please use dumpobj instead\n");
    }
    let start = parsed.value("-start").map_or(0, size_value);
    let length = parsed.value("-length").map(size_value);
    let details = parsed.has("-details");
    let no_fields = parsed.has("-nofields");
    let a = array_info(heap, addr, mt)?;
    if a.rank != 1 && (length.is_some() || start != 0) {
        return sos.put("For multi-dimension array, length and start index are supported\n");
    }
    if start > a.count {
        return sos.put("Start index out of range\n");
    }
    if !details && no_fields {
        sos.put("-nofields has no effect unless -details is specified\n")?;
    }
    let element_name = type_name(heap, a.element);
    sos.put(&format!("Name:        {element_name}[{}]\n", ",".repeat(a.rank as usize - 1)))?;
    sos.put(&format!("MethodTable: {mt:016x}\n"))?;
    let class = if heap.runtime.layout.major >= 9 { heap.canonical_mt(mt)? } else { info.ee_class };
    sos.put(&format!("EEClass:     {class:016x}\n"))?;
    let size = object_size(heap, addr, mt)?;
    sos.put(&format!("Size:        {size}(0x{size:x}) bytes\n"))?;
    sos.put(&array_line(&a))?;
    sos.put(&format!("Element Methodtable: {:016x}\n", a.element))?;

    let value_type = is_element_value_type(a.element_type);
    for (indices, offset) in ElementWalk::new(&a, start, length) {
        let element_addr = a.data.wrapping_add(offset.wrapping_mul(a.component_size));
        let index_text: String = indices.iter().map(|i| format!("[{}]", *i as i32)).collect();
        let value = if value_type {
            Some(element_addr)
        } else {
            heap.space().read_ptr(element_addr).ok()
        };
        match value {
            None => {
                sos.put("Failed to read element at ")?;
                sos.put(&index_text)?;
                sos.put("\n")?;
            }
            Some(v) => {
                if v != 0 {
                    sos.put(&index_text)?;
                    sos.put(&format!(" {v:016x}\n"))?;
                } else {
                    sos.put(&index_text)?;
                    sos.put(" null\n")?;
                }
                if details {
                    sos.indent += 1;
                    let r = if value_type {
                        print_value_class(heap, &mut sos, a.element, element_addr, !no_fields)
                    } else if v != 0 {
                        print_object(heap, session, &mut sos, v, !no_fields)
                    } else {
                        Ok(())
                    };
                    sos.indent -= 1;
                    r?;
                }
            }
        }
    }
    Ok(())
}

/// The elements `dumparray` visits, as SOS walks them: (indices, element offset), from
/// `start` (rank 1) for `length` elements, row-major for more dimensions, at most
/// [`MAX_ARRAY_ROWS`].
struct ElementWalk<'a> {
    a: &'a ArrayInfo,
    bounds: Vec<u32>,
    indices: Vec<u32>,
    offset: u64,
    rows: u64,
}

impl<'a> ElementWalk<'a> {
    fn new(a: &'a ArrayInfo, start: u64, length: Option<u64>) -> ElementWalk<'a> {
        let mut bounds = a.bounds.clone();
        if a.rank == 1
            && let Some(len) = length
        {
            let limit = (len.wrapping_add(start) as u32).wrapping_sub(a.lower_bounds[0]);
            bounds[0] = bounds[0].min(limit);
        }
        let mut indices: Vec<u32> = a.lower_bounds.clone();
        if a.rank == 1 {
            indices[0] = start as u32;
        }
        let offset = offset_from_indices(&indices, &a.lower_bounds, &bounds);
        ElementWalk { a, bounds, indices, offset, rows: 0 }
    }
}

impl Iterator for ElementWalk<'_> {
    type Item = (Vec<u32>, u64);

    fn next(&mut self) -> Option<(Vec<u32>, u64)> {
        if self.rows >= MAX_ARRAY_ROWS
            || self.offset >= self.a.capacity
            || self.indices.is_empty()
            || !indices_in_range(&mut self.indices, &self.a.lower_bounds, &self.bounds)
        {
            return None;
        }
        self.rows += 1;
        let item = (self.indices.clone(), self.offset);
        let last = self.indices.len() - 1;
        self.indices[last] = self.indices[last].wrapping_add(1);
        self.offset = self.offset.wrapping_add(1);
        Some(item)
    }
}

/// The `Array:` line dumpobj and dumparray print.
fn array_line(a: &ArrayInfo) -> String {
    format!(
        "Array:       Rank {}, Number of elements {}, Type {}\n",
        a.rank,
        a.count,
        element_type_name(a.element_type)
    )
}

/// SOS's `IndicesInRange`: carries an index past its bound into the next dimension.
fn indices_in_range(indices: &mut [u32], lower: &[u32], bounds: &[u32]) -> bool {
    for i in (0..indices.len()).rev() {
        if indices[i] >= bounds[i].wrapping_add(lower[i]) {
            if i == 0 {
                return false;
            }
            indices[i] = lower[i];
            indices[i - 1] = indices[i - 1].wrapping_add(1);
        }
    }
    true
}

/// SOS's `OffsetFromIndices` (32-bit index arithmetic, as SOS does it).
fn offset_from_indices(indices: &[u32], lower: &[u32], bounds: &[u32]) -> u64 {
    let mut multiplier = 1u64;
    let mut offset = 0u64;
    for i in (0..indices.len()).rev() {
        let cur = indices[i].wrapping_sub(lower[i]) as u64;
        offset = offset.wrapping_add(cur.wrapping_mul(multiplier));
        multiplier = multiplier.wrapping_mul(bounds[i] as u64);
    }
    offset
}

/// The machine-readable forms of `dumpobj`, `dumpvc` and `dumparray`: the same facts as
/// the text, with full type names and raw values (see [`value`]). A failure the text
/// reports on SOS's console is the command's error here.
mod records {
    use super::*;

    /// The columns of a field row (CSV).
    const FIELD_COLUMNS: [&str; 10] = [
        "name", "type", "mt", "token", "offset", "is_static", "is_thread_static", "is_value_type", "value",
        "string",
    ];

    /// The columns of an array element row (CSV).
    const ELEMENT_COLUMNS: [&str; 5] = ["index", "indices", "address", "value", "string"];

    /// SOS's message for a bad command line, as an error.
    fn parse_error(message: String) -> anyhow::Error {
        anyhow::anyhow!("{}", message.trim_end())
    }

    /// `dumpobj`: JSON `{"address", "type", "mt", "size", "free", "module", "file",
    /// "string"?, "array"?, "fields"?, "thin_lock"?}`; CSV: one row per field.
    pub fn dumpobj(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
        let parsed = parse_options(args, DUMPOBJ_OPTIONS, 1)
            .map_err(parse_error)?;
        let text = parsed.args.first().map(String::as_str).unwrap_or("");
        let addr = expression(text);
        if addr == 0 {
            bail!("Invalid parameter {}", args.join(" "));
        }
        let record = object(session, addr, !parsed.has("-nofields"))?;
        emit(record, "fields", &FIELD_COLUMNS, format, out)
    }

    /// `dumpvc`: JSON `{"address", "type", "mt", "canonical_mt", "size", "module", "file",
    /// "fields"}`; CSV: one row per field.
    pub fn dumpvc(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
        let heap = &session.heap;
        let parsed = parse_options(args, DUMPVC_OPTIONS, 2).map_err(parse_error)?;
        if parsed.args.len() != 2 {
            bail!("Usage: dumpvc <Method Table> <Value object start addr>");
        }
        let mt = hex_arg(&parsed.args[0]);
        let addr = hex_arg(&parsed.args[1]);
        if mt == 0 || !valid_method_table(heap, mt) {
            bail!("Not a managed object");
        }
        emit(value_class(session, mt, addr, true)?, "fields", &FIELD_COLUMNS, format, out)
    }

    /// `dumparray`: JSON `{"address", "type", "mt", "size", "rank", "length",
    /// "element_type", "element_mt", "bounds", "lower_bounds", "elements": [{"index",
    /// "indices", "address", "value", "string"?, "object"?}]}` (`object`, with `-details`:
    /// the element as `dumpobj` or `dumpvc` records it); CSV: one row per element.
    pub fn dumparray(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
        let heap = &session.heap;
        let parsed = parse_options(
            args,
            DUMPARRAY_OPTIONS,
            1,
        )
        .map_err(parse_error)?;
        let text = parsed.args.first().map(String::as_str).unwrap_or("");
        let addr = expression(text);
        if addr == 0 {
            bail!("Invalid parameter {text}");
        }
        let mt = match classify(heap, addr) {
            None => bail!("Invalid object"),
            Some(ObjectKind::Free { .. }) => bail!("Not an array, please use dumpobj instead"),
            Some(ObjectKind::Object { mt }) => mt,
        };
        if !heap.method_table(mt)?.is_array() {
            bail!("Not an array, please use dumpobj instead");
        }
        let start = parsed.value("-start").map_or(0, size_value);
        let length = parsed.value("-length").map(size_value);
        let details = parsed.has("-details");
        let fields = !parsed.has("-nofields");
        let a = array_info(heap, addr, mt)?;
        if a.rank != 1 && (length.is_some() || start != 0) {
            bail!("For multi-dimension array, length and start index are supported");
        }
        if start > a.count {
            bail!("Start index out of range");
        }
        let mut record = json!({
            "address": hex(addr),
            "type": format!("{}[{}]", type_name(heap, a.element), ",".repeat(a.rank as usize - 1)),
            "mt": hex(mt),
            "size": object_size(heap, addr, mt)?,
        });
        extend(&mut record, array(&a));

        // The same walk as the text's.
        let value_type = is_element_value_type(a.element_type);
        let mut elements = Vec::new();
        for (indices, offset) in ElementWalk::new(&a, start, length) {
            let element_addr = a.data.wrapping_add(offset.wrapping_mul(a.component_size));
            let mut e = json!({
                "index": offset,
                "indices": indices.iter().map(|&i| i as i32).collect::<Vec<_>>(),
                "address": hex(element_addr),
            });
            let v = value(heap, a.element_type, element_addr);
            if let Some(text) = string_at(heap, a.element_type, &v) {
                e["string"] = json!(text);
            }
            if details {
                let reference = v.as_str().and_then(|t| u64::from_str_radix(&t[2..], 16).ok()).unwrap_or(0);
                if a.element_type == et::VALUETYPE {
                    e["object"] = value_class(session, a.element, element_addr, fields)?;
                } else if !value_type && reference != 0 {
                    e["object"] = object(session, reference, fields).unwrap_or(Value::Null);
                }
            }
            e["value"] = v;
            elements.push(e);
        }
        record["elements"] = Value::Array(elements);
        emit(record, "elements", &ELEMENT_COLUMNS, format, out)
    }

    /// Writes a record as JSON, or its `rows` list as CSV.
    fn emit(mut record: Value, rows: &str, columns: &[&str], format: Format, out: &mut dyn Write) -> Result<()> {
        if format == Format::Csv {
            let rows = match record.get_mut(rows).map(Value::take) {
                Some(Value::Array(rows)) => rows,
                _ => Vec::new(),
            };
            return write_csv_records(out, columns, &rows);
        }
        write_json(out, &record)
    }

    /// Adds an object's fields to another.
    fn extend(record: &mut Value, more: Value) {
        if let (Value::Object(r), Value::Object(m)) = (record, more) {
            r.extend(m);
        }
    }

    /// An array's shape.
    fn array(a: &ArrayInfo) -> Value {
        json!({
            "rank": a.rank,
            "length": a.count,
            "element_type": element_type_name(a.element_type),
            "element_mt": hex(a.element),
            "bounds": a.bounds,
            "lower_bounds": a.lower_bounds,
        })
    }

    /// The object at `addr` (dumpobj's facts), with its fields when `fields`.
    fn object(session: &Session, addr: u64, fields: bool) -> Result<Value> {
        let heap = &session.heap;
        let mt = match classify(heap, addr) {
            None => bail!("Invalid object"),
            Some(ObjectKind::Free { size }) => {
                return Ok(json!({
                    "address": hex(addr),
                    "type": "Free",
                    "mt": hex(heap.runtime.globals.free_mt),
                    "size": size,
                    "free": true,
                }));
            }
            Some(ObjectKind::Object { mt }) => mt,
        };
        let info = heap.method_table(mt)?;
        let mut record = json!({
            "address": hex(addr),
            "type": type_name(heap, mt),
            "mt": hex(mt),
            "size": object_size(heap, addr, mt)?,
            "free": false,
            "module": hex(info.module),
            "file": file_name(heap, info.module),
        });
        if info.is_array() {
            record["array"] = array(&array_info(heap, addr, mt)?);
        }
        if mt == heap.runtime.globals.string_mt {
            record["string"] = string_value(heap, addr).map_or(Value::Null, Value::String);
        }
        if fields {
            record["fields"] = Value::Array(field_records(heap, mt, addr, false)?);
        }
        if let Some((thread, os_id, recursion)) = session.thin_lock(addr) {
            record["thin_lock"] = json!({ "thread": thread.map(hex), "os_thread_id": os_id, "recursion": recursion });
        }
        Ok(record)
    }

    /// The value type `mt` stored at `addr` (dumpvc's facts).
    fn value_class(session: &Session, mt: u64, addr: u64, fields: bool) -> Result<Value> {
        let heap = &session.heap;
        let info = heap.method_table(mt)?;
        let mut record = json!({
            "address": hex(addr),
            "type": type_name(heap, mt),
            "mt": hex(mt),
            "canonical_mt": hex(heap.canonical_mt(mt)?),
            "size": info.base_size,
            "module": hex(info.module),
            "file": file_name(heap, info.module),
        });
        if fields {
            record["fields"] = Value::Array(field_records(heap, mt, addr, true)?);
        }
        Ok(record)
    }

    /// A string object's whole text (None when unreadable or too large for SOS).
    fn string_value(heap: &Heap, addr: u64) -> Option<String> {
        let len = heap.space().read_u32(addr.wrapping_add(heap.runtime.layout.object.string_length)).ok()? as u64;
        if len > MAX_STRING {
            return None;
        }
        heap.string_value(addr, len as usize).ok()
    }

    /// The text of the string a reference `v` (of element type `t`) points to, if it is one.
    fn string_at(heap: &Heap, t: u8, v: &Value) -> Option<String> {
        if !matches!(t, et::CLASS | et::STRING | et::OBJECT) {
            return None;
        }
        let target = u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()?;
        let mt = heap.space().read_ptr(target).ok()? & !heap.runtime.layout.object.mt_unmask;
        if target == 0 || mt != heap.runtime.globals.string_mt {
            return None;
        }
        string_value(heap, target)
    }

    /// Every field, parents' first (the rows of `DisplayFields`).
    fn field_records(heap: &Heap, mt: u64, start: u64, value_class: bool) -> Result<Vec<Value>> {
        let mut records = Vec::new();
        let mut inherited = 0u32;
        for class in heap.parent_chain(mt)? {
            let counts = heap.class_field_counts(class)?;
            let Ok(fields) = heap.introduced_fields(class, inherited) else {
                bail!("Unable to display fields");
            };
            inherited = counts.instance.max(inherited);
            for fd in &fields {
                records.push(field(heap, class, fd, start, value_class));
            }
        }
        Ok(records)
    }

    /// One field: `{"name", "type", "mt" (null when the type is not loaded), "token",
    /// "offset", "is_static", "is_thread_static", "is_value_type", "value", "string"?}`.
    fn field(heap: &Heap, class: u64, fd: &FieldDesc, start: u64, value_class: bool) -> Value {
        let mut offset = fd.offset;
        if !(value_class || fd.is_thread_static && fd.is_static) {
            offset += 8;
        }
        let type_mt = heap.field_type_mt(fd);
        let at = if fd.is_static && fd.is_thread_static {
            None
        } else if fd.is_static {
            match heap.static_location(class, fd) {
                StaticLocation::At(a) => Some(a),
                _ => None,
            }
        } else if start > 0 {
            Some(start + fd.offset as u64 + if value_class { 0 } else { 8 })
        } else {
            None
        };
        let vt_static = fd.is_static && fd.element_type == et::VALUETYPE;
        let v = match at {
            // A static struct's slot holds its box: shown, as SOS does, by the slot's address.
            Some(a) if vt_static => {
                let boxed = heap.space().read_ptr(a).unwrap_or(0);
                hex(if boxed != 0 { a } else { 0 })
            }
            Some(a) => value(heap, fd.element_type, a),
            None => Value::Null,
        };
        let mut record = json!({
            "name": heap.field_name(fd).unwrap_or_default(),
            "type": field_type_name(heap, fd, type_mt),
            "mt": type_mt.map(hex),
            "token": hex(fd.token() as u64),
            "offset": offset,
            "is_static": fd.is_static,
            "is_thread_static": fd.is_static && fd.is_thread_static,
            "is_value_type": is_element_value_type(fd.element_type),
        });
        if let Some(text) = string_at(heap, fd.element_type, &v) {
            record["string"] = json!(text);
        }
        record["value"] = v;
        record
    }

    /// The value of element type `t` stored at `addr`: integers as numbers, `bool` as
    /// true/false, `char` as its UTF-16 code, floats as numbers (`"nan"`, `"inf"`, `"-inf"`
    /// as strings), `IntPtr`, references and structs (their address, as the text shows
    /// them) as hex; null when it cannot be read or has no fixed size.
    fn value(heap: &Heap, t: u8, addr: u64) -> Value {
        if t == et::VALUETYPE {
            return hex(addr);
        }
        let Some(size) = element_size(t) else { return Value::Null };
        let Ok(bytes) = heap.space().read_vec(addr, size) else { return Value::Null };
        let mut raw = [0u8; 8];
        raw[..size].copy_from_slice(&bytes);
        let v = u64::from_le_bytes(raw);
        match t {
            et::BOOLEAN => json!(v as u8 != 0),
            et::I1 => json!(v as u8 as i8),
            et::I2 => json!(v as u16 as i16),
            et::I4 => json!(v as u32 as i32),
            et::I8 => json!(v as i64),
            et::U1 => json!(v as u8),
            et::U2 | et::CHAR => json!(v as u16),
            et::U4 => json!(v as u32),
            et::U8 => json!(v),
            // The shortest decimal that reads back as the same f32.
            et::R4 => float(f32::from_bits(v as u32).to_string().parse().unwrap_or(f64::NAN)),
            et::R8 => float(f64::from_bits(v)),
            _ => hex(v),
        }
    }

    fn float(v: f64) -> Value {
        if v.is_finite() { json!(v) } else { json!(c_float(v)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_cut_from_the_left() {
        assert_eq!(format_type_name("System.String", 20), "System.String");
        assert_eq!(format_type_name("DocProc.Domain.DocumentMetadata", 20), "....DocumentMetadata");
        assert_eq!(format_type_name("System.Reflection.MethodBase", 20), "...ection.MethodBase");
        assert_eq!(format_type_name("HelloThere", 5), "...re");
    }

    #[test]
    fn floats_print_as_c_does() {
        assert_eq!(c_float(3.5), "3.500000");
        assert_eq!(c_float(f64::INFINITY), "inf");
        assert_eq!(c_float(-0.0), "-0.000000");
    }
}

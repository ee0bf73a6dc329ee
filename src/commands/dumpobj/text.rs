//! The text of `dumpobj`, `dumpvc` and `dumparray`, byte for byte as dotnet-dump's native
//! SOS prints it, from the records of [`super::record`].
//!
//! SOS writes through its console one call at a time, and under `dumparray -details` every
//! call of the nested object is indented, also in the middle of a line: [`Sos::put`] is
//! one such call, and the renderers below make the calls SOS makes.
use super::record::{
    ArrayFacts, Details, ElementRow, FieldRow, FieldValue, FieldsFacts, MAX_STRING, ObjectRecord, RuntimeTypeLine,
    ValueClassFacts,
};
use crate::heap::fields::{FieldListEnd, et};
use crate::heap::value::{element_type_name, is_value_type};
use crate::heap::{Array, Value, ValueError};
use anyhow::{Result, bail};
use std::io::Write;

/// SOS's console: every call writes the current indent first. Characters beyond ASCII
/// are dropped, as dotnet-dump's console drops them.
pub struct Sos<'a> {
    out: &'a mut dyn Write,
    pub indent: usize,
}

impl<'a> Sos<'a> {
    pub fn new(out: &'a mut dyn Write) -> Sos<'a> {
        Sos { out, indent: 0 }
    }

    pub fn put(&mut self, text: &str) -> Result<()> {
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

    /// A message SOS prints on its console for a failed command: written to the output
    /// with the empty line dotnet-dump adds after a failed command, and reported as the
    /// command's failure.
    pub fn fail(&mut self, message: &str) -> Result<()> {
        self.put(message)?;
        self.put("\n")?;
        let last = message.lines().last().unwrap_or(message).trim_end();
        Err(crate::error::ShownInOutput(last.to_string()).into())
    }
}

/// `PrintObj`: an object, with its fields when the record has them.
pub fn object(sos: &mut Sos, record: &ObjectRecord) -> Result<()> {
    let o = match record {
        ObjectRecord::Invalid => return sos.fail("<Note: this object has an invalid CLASS field>\nInvalid object\n"),
        ObjectRecord::Free { size, .. } => {
            sos.put("Free Object\n")?;
            sos.put(&format!("Size:        {size}(0x{size:x}) bytes\n"))?;
            return Ok(());
        }
        ObjectRecord::Object(o) => o,
    };
    sos.put(&format!("Name:        {}\n", o.name))?;
    sos.put(&format!("MethodTable: {:016x}\n", o.mt))?;
    sos.put(&format!("Size:        {}(0x{:x}) bytes\n", o.size, o.size))?;
    match &o.runtime_type {
        Some(Ok(RuntimeTypeLine::TypeDesc(desc))) => sos.put(&format!("TypeDesc:    {desc:016X}\n"))?,
        Some(Ok(RuntimeTypeLine::Type { mt, name })) => {
            sos.put(&format!("Type Name:   {name}\n"))?;
            sos.put(&format!("Type MT:     {mt:016x}\n"))?;
        }
        Some(Err(())) => return sos.fail("Error when reading RuntimeType field\n"),
        None => {}
    }
    match &o.array {
        Some(a) => array_header(sos, a)?,
        None => sos.put(&format!("File:        {}\n", o.file))?,
    }
    if let Some(s) = &o.string {
        sos.put("String:      ")?;
        let text = match (s.length, &s.text) {
            (None, _) => "<Invalid Object>".to_string(),
            (Some(len), _) if o.size > MAX_STRING || len as u64 > MAX_STRING => {
                "<String is invalid or too large to print>\n".to_string()
            }
            (Some(_), None) => "<Invalid Object>".to_string(),
            (Some(_), Some(t)) => t.split('\0').next().unwrap_or("").to_string(),
        };
        sos.put(&text)?;
        sos.put("\n")?;
    }
    if let Some(f) = &o.fields {
        sos.put("Fields:\n")?;
        match &f.has_fields {
            Ok(true) => fields(sos, f)?,
            Ok(false) => sos.put("None\n")?,
            Err(e) => bail!("{e:#}"),
        }
    }
    if let Some(lock) = &o.thin_lock {
        sos.put(&format!(
            "ThinLock owner {:x} ({:016X}), Recursive {:x}\n",
            lock.os_thread_id,
            lock.thread.unwrap_or(0),
            lock.recursion
        ))?;
    }
    Ok(())
}

/// The `Array:` line, and a byte or char array's `Content:`.
fn array_header(sos: &mut Sos, a: &ArrayFacts) -> Result<()> {
    sos.put(&array_line(&a.shape))?;
    if let Some(content) = &a.content {
        sos.put("Content:     ")?;
        if let Some(units) = content {
            let text: String = units.iter().map(|&u| flatten(u as u32)).collect();
            sos.put(&text)?;
        }
        sos.put("\n")?;
    }
    Ok(())
}

/// The `Array:` line dumpobj and dumparray print.
pub fn array_line(a: &Array) -> String {
    format!(
        "Array:       Rank {}, Number of elements {}, Type {}\n",
        a.rank,
        a.length,
        element_type_name(a.element_type)
    )
}

/// SOS's `Flatten`: characters outside printable ASCII become dots.
fn flatten(c: u32) -> char {
    if (32..=126).contains(&c) { char::from_u32(c).unwrap_or('.') } else { '.' }
}

/// `PrintVC`: a struct's fields. `major` is the runtime's major version (the DAC of 9 and
/// later reports the canonical MethodTable where 8's reports the EEClass).
pub fn value_class(sos: &mut Sos, v: &ValueClassFacts, major: u32) -> Result<()> {
    sos.put(&format!("Name:        {}\n", v.name))?;
    sos.put(&format!("MethodTable: {:016x}\n", v.mt))?;
    if major >= 9 {
        if v.canonical_mt != v.mt {
            sos.put(&format!("Canonical: {:016x}\n", v.canonical_mt))?;
        }
    } else {
        sos.put(&format!("EEClass:     {:016x}\n", v.ee_class))?;
    }
    sos.put(&format!("Size:        {}(0x{:x}) bytes\n", v.size, v.size))?;
    sos.put(&format!("File:        {}\n", v.file))?;
    if let Some(f) = &v.fields {
        sos.put("Fields:\n")?;
        match &f.has_fields {
            Ok(true) => fields(sos, f)?,
            Ok(false) => {}
            Err(e) => bail!("{e:#}"),
        }
    }
    Ok(())
}

/// `DisplayFields`: the header, then the fields of every class from `System.Object` down.
fn fields(sos: &mut Sos, f: &FieldsFacts) -> Result<()> {
    sos.put("")?;
    sos.put(&format!(
        "{:>16} {:>8} {:>8} {:>20} {:>4} {:>8} {:>16} {}\n",
        "MT", "Field", "Offset", "Type", "VT", "Attr", "Value", "Name"
    ))?;
    for row in &f.rows {
        field(sos, row)?;
    }
    match &f.end {
        FieldListEnd::Complete => Ok(()),
        FieldListEnd::Unreadable => {
            sos.put("")?;
            sos.put("Unable to display fields\n")
        }
        FieldListEnd::Failed(e) => bail!("{e:#}"),
    }
}

fn field(sos: &mut Sos, row: &FieldRow) -> Result<()> {
    let fd = &row.field.desc;
    sos.put("")?;
    sos.put(&format!("{:016x} {:08x} {:>8x} ", row.type_mt.unwrap_or(0), fd.token(), row.offset))?;
    sos.put(&format!("{:>20} ", format_type_name(&row.type_name, 20)))?;
    sos.put(&format!("{:>4} ", if row.field.is_value_type() { "Yes" } else { "No" }))?;
    let name = &row.field.name;
    if row.field.is_thread_static() {
        sos.put(&format!("{:>8} ", "TLstatic"))?;
        sos.put(&format!(" {name}\n"))?;
        sos.put("    Thread static values (Thread:Value)\n")?;
        return sos.put("\n");
    }
    sos.put(&format!("{:>8} ", if fd.is_static { "static" } else { "instance" }))?;
    match &row.value {
        FieldValue::Read(v) => {
            sos.put(&data_member(fd.element_type, v))?;
            sos.put(&format!(" {name}\n"))
        }
        FieldValue::NoInstance | FieldValue::NotAllocated => {
            sos.put(&format!("{:>16}", " "))?;
            sos.put(&format!(" {name}\n"))
        }
        FieldValue::Dynamic => {
            sos.put("dynamic statics NYI")?;
            sos.put(" <no information>\n")
        }
        FieldValue::Unavailable => sos.put(" <no information>\n"),
        FieldValue::ThreadStatic => unreachable!("handled above"),
    }
}

/// `DisplayDataMember`: a value of element type `t`, right-aligned in 16 (an unreadable
/// one shows as 0, one without a fixed size as a zero pointer).
fn data_member(t: u8, v: &Result<Value, ValueError>) -> String {
    let v = match v {
        Ok(v) => v.raw(),
        Err(ValueError::Unreadable) => 0,
        Err(ValueError::Unsized) => return format!("{:016x}", 0),
    };
    match t {
        et::I1 => format!("{:>16}", v as u8 as i8),
        et::I2 => format!("{:>16}", v as u16 as i16),
        et::I4 => format!("{:>16}", v as u32 as i32),
        et::I8 => format!("{:>16}", v as i64),
        et::U1 | et::BOOLEAN => format!("{:>16}", v as u8),
        et::U2 => format!("{:>16}", v as u16),
        et::U4 => format!("{:>16}", v as u32),
        et::U8 => format!("{v:>16}"),
        et::I | et::U => format!("{v:016X}"),
        et::R4 => c_float(f32::from_bits(v as u32) as f64),
        et::R8 => c_float(f64::from_bits(v)),
        et::CHAR => format!("{:>16x}", v as u16),
        _ => format!("{v:016x}"),
    }
}

/// C's `%f`.
pub fn c_float(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan".into() } else { "nan".into() }
    } else if v.is_infinite() {
        if v < 0.0 { "-inf".into() } else { "inf".into() }
    } else {
        format!("{v:.6}")
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

/// `dumparray`'s header lines.
pub fn array_listing_header(sos: &mut Sos, name: &str, mt: u64, class: u64, size: u64, a: &Array) -> Result<()> {
    sos.put(&format!("Name:        {name}\n"))?;
    sos.put(&format!("MethodTable: {mt:016x}\n"))?;
    sos.put(&format!("EEClass:     {class:016x}\n"))?;
    sos.put(&format!("Size:        {size}(0x{size:x}) bytes\n"))?;
    sos.put(&array_line(a))?;
    sos.put(&format!("Element Methodtable: {:016x}\n", a.element_mt))
}

/// One element of `dumparray`: its indices and value (a struct's or primitive's address),
/// then with `-details` the element itself, indented.
pub fn element(sos: &mut Sos, row: &ElementRow, element_type: u8, major: u32) -> Result<()> {
    let index_text: String = row.element.indices.iter().map(|i| format!("[{}]", *i as i32)).collect();
    let value = if is_value_type(element_type) {
        Some(row.element.address)
    } else {
        row.value.as_ref().ok().map(|v| v.raw())
    };
    let Some(v) = value else {
        sos.put("Failed to read element at ")?;
        sos.put(&index_text)?;
        return sos.put("\n");
    };
    sos.put(&index_text)?;
    if v != 0 {
        sos.put(&format!(" {v:016x}\n"))?;
    } else {
        sos.put(" null\n")?;
    }
    if let Some(details) = &row.details {
        sos.indent += 1;
        let r = match details {
            Details::ValueClass(Ok(vc)) => value_class(sos, vc, major),
            Details::Object(Ok(o)) => object(sos, o),
            Details::ValueClass(Err(e)) | Details::Object(Err(e)) => Err(anyhow::anyhow!("{e:#}")),
        };
        sos.indent -= 1;
        r?;
    }
    Ok(())
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

    #[test]
    fn values_print_as_sos_does() {
        assert_eq!(data_member(et::I4, &Ok(Value::I4(-5))), format!("{:>16}", -5));
        assert_eq!(data_member(et::BOOLEAN, &Ok(Value::Boolean(0x30))), format!("{:>16}", 48));
        assert_eq!(data_member(et::CHAR, &Ok(Value::Char(0x41))), format!("{:>16}", "41"));
        assert_eq!(data_member(et::I, &Ok(Value::NativeInt(0xab))), "00000000000000AB");
        assert_eq!(data_member(et::R8, &Err(ValueError::Unreadable)), "0.000000");
        assert_eq!(data_member(et::VAR, &Err(ValueError::Unsized)), "0000000000000000");
        assert_eq!(data_member(et::VALUETYPE, &Ok(Value::StaticStruct { slot: 0x10, boxed: 0 })), "0000000000000000");
    }
}

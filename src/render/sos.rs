//! SOS's console and its field tables, for the native SOS commands' texts.
//!
//! SOS writes through its console one call at a time, and under `dumparray -details` every
//! call of the nested object is indented, also in the middle of a line: [`Sos::put`] is
//! one such call, and [`field_table`] makes the calls SOS's `DisplayFields` makes.
use crate::heap::field_table::{FieldRow, FieldValue, FieldsFacts};
use crate::heap::fields::{FieldListEnd, et};
use crate::heap::{Value, ValueError};
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

/// `DisplayFields`: the header, then the fields of every class from `System.Object` down.
pub fn field_table(sos: &mut Sos, f: &FieldsFacts) -> Result<()> {
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
    if let FieldValue::ThreadStatic(values) = &row.value {
        sos.put(&format!("{:>8} ", "TLstatic"))?;
        sos.put(&format!(" {name}\n"))?;
        sos.put("    Thread static values (Thread:Value)\n")?;
        for (os_id, v) in values {
            sos.put(&format!("        {os_id:x}:{}\n", data_member(fd.element_type, v).trim_start()))?;
        }
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
        FieldValue::ThreadStatic(_) => unreachable!("handled above"),
    }
}

/// `DisplayDataMember`: a value of element type `t`, right-aligned in 16 (an unreadable
/// one shows as 0, one without a fixed size as a zero pointer).
pub fn data_member(t: u8, v: &Result<Value, ValueError>) -> String {
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
pub fn format_type_name(name: &str, max: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max {
        return name.to_string();
    }
    let tail = &chars[chars.len() - max..];
    let dots = max.min(3);
    std::iter::repeat_n('.', dots).chain(tail[dots..].iter().copied()).collect()
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

/// `DisplayClassDetails`: a type's attributes, slot counts and field counts, then its
/// field table (statics with their values, instance fields without). The DAC of 9 and 10
/// reports no slot counts (ops-net9/10: `dumpclass` prints neither line).
pub fn class_details(
    sos: &mut Sos,
    d: &crate::heap::methods::ClassDetails,
    fields: &FieldsFacts,
    major: u32,
) -> Result<()> {
    let a = d.attributes;
    let mut words = String::new();
    if a & 0x20 != 0 {
        words.push_str("Interface ");
    }
    if a & 0x80 != 0 {
        words.push_str("Abstract ");
    }
    if a & 0x1000 != 0 {
        words.push_str("ComImport ");
    }
    if a & 0x100 != 0 {
        words.push_str("Sealed ");
    }
    sos.put(&format!("Class Attributes:    {a:08x}  {words}\n"))?;
    if major < 9 {
        if d.virtuals != 0 {
            sos.put(&format!("Vtable Slots:    {}\n", d.virtuals))?;
        }
        if d.vtable_slots != 0 {
            sos.put(&format!("Total Method Slots:  {}\n", d.vtable_slots))?;
        }
    }
    sos.put(&format!("NumInstanceFields:   {}\n", d.instance_fields))?;
    sos.put(&format!("NumStaticFields:     {}\n", d.static_fields))?;
    if d.thread_static_fields != 0 {
        sos.put(&format!("NumThreadStaticFields: {}\n", d.thread_static_fields))?;
    }
    if d.instance_fields + d.static_fields > 0 {
        field_table(sos, fields)?;
    }
    Ok(())
}

/// SOS's `AssemblyInfo` (`dumpassembly`, and each assembly of `dumpdomain`): the
/// assembly's module and its file.
pub fn assembly_modules(text: &mut String, assembly: &crate::runtime::domains::Assembly) {
    text.push_str("  Module\n");
    if assembly.module != 0 {
        text.push_str(&format!("  {:016x}    {}\n", assembly.module, assembly.module_file));
    }
}

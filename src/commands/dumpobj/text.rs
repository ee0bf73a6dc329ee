//! The text of `dumpobj`, `dumpvc` and `dumparray`, byte for byte as dotnet-dump's native
//! SOS prints it, from the records of [`super::record`].
//!
//! SOS writes through its console one call at a time, and under `dumparray -details` every
//! call of the nested object is indented, also in the middle of a line: [`Sos::put`] is
//! one such call, and the renderers below make the calls SOS makes.
use super::record::{ArrayFacts, Details, ElementRow, MAX_STRING, ObjectRecord, RuntimeTypeLine, ValueClassFacts};
use crate::heap::value::{element_type_name, is_value_type};
use crate::heap::Array;
use anyhow::{Result, bail};
pub use crate::render::sos::{Sos, c_float, field_table};

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
            Ok(true) => field_table(sos, f)?,
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
            Ok(true) => field_table(sos, f)?,
            Ok(false) => {}
            Err(e) => bail!("{e:#}"),
        }
    }
    Ok(())
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


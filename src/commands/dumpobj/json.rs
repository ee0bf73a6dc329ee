//! The machine-readable forms of `dumpobj`, `dumpvc` and `dumparray`, from the records of
//! [`super::record`]: the same facts as the text, with full type names and raw values
//! (see [`value`]). A failure the text reports on SOS's console is an error here.
use super::record::{
    Details, ElementRow, FieldRow, FieldValue, FieldsFacts, ObjectRecord, ValueClassFacts,
};
use super::text::c_float;
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::heap::fields::{FieldListEnd, et};
use crate::heap::value::element_type_name;
use crate::heap::{Array, Value, ValueError};
use anyhow::{Result, bail};
use serde_json::{json, Value as Json};
use std::io::Write;

/// The columns of a field row (CSV).
pub const FIELD_COLUMNS: [&str; 10] =
    ["name", "type", "mt", "token", "offset", "is_static", "is_thread_static", "is_value_type", "value", "string"];

/// The columns of an array element row (CSV).
pub const ELEMENT_COLUMNS: [&str; 5] = ["index", "indices", "address", "value", "string"];

/// Writes a record as JSON, or its `rows` list as CSV.
pub fn emit(mut record: Json, rows: &str, columns: &[&str], format: Format, out: &mut dyn Write) -> Result<()> {
    if format == Format::Csv {
        let rows = match record.get_mut(rows).map(Json::take) {
            Some(Json::Array(rows)) => rows,
            _ => Vec::new(),
        };
        return write_csv_records(out, columns, &rows);
    }
    write_json(out, &record)
}

/// An array's shape.
pub fn array(a: &Array) -> Json {
    json!({
        "rank": a.rank,
        "length": a.length,
        "element_type": element_type_name(a.element_type),
        "element_mt": hex(a.element_mt),
        "bounds": a.lengths,
        "lower_bounds": a.lower_bounds,
    })
}

/// Adds an object's members to another.
pub fn extend(record: &mut Json, more: Json) {
    if let (Json::Object(r), Json::Object(m)) = (record, more) {
        r.extend(m);
    }
}

/// `dumpobj`: `{"address", "type", "mt", "size", "free", "module", "file", "string"?,
/// "array"?, "fields"?, "thin_lock"?}`.
pub fn object(record: &ObjectRecord) -> Result<Json> {
    let o = match record {
        ObjectRecord::Invalid => bail!("Invalid object"),
        ObjectRecord::Free { address, mt, size } => {
            return Ok(json!({
                "address": hex(*address),
                "type": "Free",
                "mt": hex(*mt),
                "size": size,
                "free": true,
            }));
        }
        ObjectRecord::Object(o) => o,
    };
    let mut r = json!({
        "address": hex(o.address),
        "type": o.name,
        "mt": hex(o.mt),
        "size": o.size,
        "free": false,
        "module": hex(o.module),
        "file": o.file,
    });
    if let Some(a) = &o.array {
        r["array"] = array(&a.shape);
    }
    if let Some(s) = &o.string {
        r["string"] = s.text.clone().map_or(Json::Null, Json::String);
    }
    if let Some(f) = &o.fields {
        r["fields"] = Json::Array(fields(f)?);
    }
    if let Some(lock) = &o.thin_lock {
        r["thin_lock"] = json!({ "thread": lock.thread.map(hex), "os_thread_id": lock.os_thread_id, "recursion": lock.recursion });
    }
    Ok(r)
}

/// `dumpvc`: `{"address", "type", "mt", "canonical_mt", "size", "module", "file",
/// "fields"?}`.
pub fn value_class(v: &ValueClassFacts) -> Result<Json> {
    let mut r = json!({
        "address": hex(v.address),
        "type": v.name,
        "mt": hex(v.mt),
        "canonical_mt": hex(v.canonical_mt),
        "size": v.size,
        "module": hex(v.module),
        "file": v.file,
    });
    if let Some(f) = &v.fields {
        r["fields"] = Json::Array(fields(f)?);
    }
    Ok(r)
}

/// Every field, parents' first.
fn fields(f: &FieldsFacts) -> Result<Vec<Json>> {
    match &f.end {
        FieldListEnd::Complete => Ok(f.rows.iter().map(field).collect()),
        FieldListEnd::Unreadable => bail!("Unable to display fields"),
        FieldListEnd::Failed(e) => bail!("{e:#}"),
    }
}

/// One field: `{"name", "type", "mt" (null when the type is not loaded), "token",
/// "offset", "is_static", "is_thread_static", "is_value_type", "value", "string"?}`.
fn field(row: &FieldRow) -> Json {
    let f = &row.field;
    let mut r = json!({
        "name": f.name,
        "type": row.type_name,
        "mt": row.type_mt.map(hex),
        "token": hex(f.token() as u64),
        "offset": row.offset,
        "is_static": f.is_static(),
        "is_thread_static": f.is_thread_static(),
        "is_value_type": f.is_value_type(),
    });
    if let Some(text) = &row.string {
        r["string"] = json!(text);
    }
    r["value"] = match &row.value {
        FieldValue::Read(v) => value(f.element_type(), v),
        _ => Json::Null,
    };
    r
}

/// One element of `dumparray`: `{"index", "indices", "address", "value", "string"?,
/// "object"?}` (`object` with `-details`: the element as `dumpobj` or `dumpvc` records it;
/// null when it is not an object).
pub fn element(row: &ElementRow, element_type: u8) -> Result<Json> {
    let e = &row.element;
    let mut r = json!({
        "index": e.offset,
        "indices": e.indices.iter().map(|&i| i as i32).collect::<Vec<_>>(),
        "address": hex(e.address),
    });
    if let Some(text) = &row.string {
        r["string"] = json!(text);
    }
    match &row.details {
        Some(Details::ValueClass(v)) if element_type == et::VALUETYPE => {
            r["object"] = match v {
                Ok(v) => value_class(v)?,
                Err(e) => bail!("{e:#}"),
            };
        }
        Some(Details::Object(o)) => {
            r["object"] = o.as_ref().ok().and_then(|o| object(o).ok()).unwrap_or(Json::Null);
        }
        _ => {}
    }
    r["value"] = value(element_type, &row.value);
    Ok(r)
}

/// A value of element type `t`: integers as numbers, `bool` as true/false, `char` as its
/// UTF-16 code, floats as numbers (`"nan"`, `"inf"`, `"-inf"` as strings), `IntPtr`,
/// references and structs (their address, as the text shows them) as hex; null when it
/// cannot be read or has no fixed size.
pub fn value(t: u8, v: &Result<Value, ValueError>) -> Json {
    let Ok(v) = v else { return Json::Null };
    let raw = v.raw();
    match t {
        et::BOOLEAN => json!(raw as u8 != 0),
        et::I1 => json!(raw as u8 as i8),
        et::I2 => json!(raw as u16 as i16),
        et::I4 => json!(raw as u32 as i32),
        et::I8 => json!(raw as i64),
        et::U1 => json!(raw as u8),
        et::U2 | et::CHAR => json!(raw as u16),
        et::U4 => json!(raw as u32),
        et::U8 => json!(raw),
        // The shortest decimal that reads back as the same f32.
        et::R4 => float(f32::from_bits(raw as u32).to_string().parse().unwrap_or(f64::NAN)),
        et::R8 => float(f64::from_bits(raw)),
        _ => hex(raw),
    }
}

fn float(v: f64) -> Json {
    if v.is_finite() { json!(v) } else { json!(c_float(v)) }
}

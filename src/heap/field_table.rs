//! A type's field table as SOS's `DisplayFields` shows it (`dumpobj`, `dumpvc`,
//! `dumpclass`, `dumpmt -all`): each field's FieldDesc, type, offset and value, read
//! from an instance or, for statics, from the type's statics; gathered once here, printed
//! by [`crate::render::sos`].
use crate::heap::fields::{FieldListEnd, StaticLocation, et};
use crate::heap::{Field, FieldLocation, Heap, ObjectAddr, Value, ValueError};
use anyhow::Result;

/// Longest string SOS prints (`<String is invalid or too large to print>` beyond).
pub const MAX_STRING: u64 = 0x20_0000;
/// A type's fields with their values.
pub struct FieldsFacts {
    /// Whether the class has fields of its own or inherited instance fields (SOS prints
    /// `None` otherwise); an error when its EEClass cannot be read.
    pub has_fields: Result<bool>,
    pub rows: Vec<FieldRow>,
    pub end: FieldListEnd,
}

/// One row of the field table.
pub struct FieldRow {
    pub field: Field,
    /// The field type's MethodTable, when the process loaded it.
    pub type_mt: Option<u64>,
    /// The field type as SOS names it (`<Unloaded Type>` when it cannot).
    pub type_name: String,
    /// The offset SOS shows: from the object's address for fields of objects (statics
    /// too), the FieldDesc's own for thread statics and fields of structs.
    pub offset: u64,
    pub value: FieldValue,
    /// The text of the string a reference field points to.
    pub string: Option<String>,
}

/// A field's value, or why there is none.
pub enum FieldValue {
    Read(Result<Value, ValueError>),
    /// An instance field without an instance (`dumpvc` on address 0).
    NoInstance,
    /// A thread-static field: `(OS thread id, value)` on each thread holding one.
    ThreadStatic(Vec<(u32, Result<Value, ValueError>)>),
    /// A static field of a type whose statics are not allocated.
    NotAllocated,
    /// .NET 8 "dynamic" statics, which SOS does not show.
    Dynamic,
    /// A static field whose module keeps no statics block.
    Unavailable,
}

/// The rows of a field table: every field of the list, read from an instance whose data
/// starts at `data`.
pub fn field_table(
    heap: &Heap,
    list: crate::heap::FieldList,
    data: Option<u64>,
    value_class: bool,
    has_fields: Result<bool>,
) -> FieldsFacts {
    let rows = list
        .fields
        .into_iter()
        .map(|field| {
            let offset = if value_class || field.is_thread_static() { field.offset() as u64 } else { field.object_offset() };
            let type_mt = heap.field_type_mt(&field.desc);
            let type_name = heap
                .dac_field_type_name(&field.desc, type_mt)
                .unwrap_or_else(|| "<Unloaded Type>".to_string());
            let value = match heap.field_location(&field, data) {
                FieldLocation::At(a) => FieldValue::Read(heap.read_field_at(&field.desc, a)),
                FieldLocation::NoInstance => FieldValue::NoInstance,
                FieldLocation::ThreadStatic => FieldValue::ThreadStatic(heap.thread_static_values(&field)),
                FieldLocation::Static(StaticLocation::NotAllocated) => FieldValue::NotAllocated,
                FieldLocation::Static(StaticLocation::Dynamic) => FieldValue::Dynamic,
                FieldLocation::Static(StaticLocation::Unavailable | StaticLocation::At(_)) => FieldValue::Unavailable,
            };
            let string = match &value {
                FieldValue::Read(Ok(v)) => string_at(heap, field.element_type(), v),
                _ => None,
            };
            FieldRow { field, type_mt, type_name, offset, value, string }
        })
        .collect();
    FieldsFacts { has_fields, rows, end: list.end }
}

/// The text of the string a value of element type `t` refers to, if it is a reference
/// to a string of at most [`MAX_STRING`] units.
pub fn string_at(heap: &Heap, t: u8, v: &Value) -> Option<String> {
    if !matches!(t, et::CLASS | et::STRING | et::OBJECT) {
        return None;
    }
    let target = ObjectAddr(v.raw());
    if target.is_null() || heap.method_table_of(target).ok()? != heap.runtime.globals.string_mt {
        return None;
    }
    let len = heap.string_length(target).ok()? as u64;
    if len > MAX_STRING {
        return None;
    }
    heap.string_value(target.get(), len as usize).ok()
}


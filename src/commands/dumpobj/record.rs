//! What `dumpobj`, `dumpvc` and `dumparray` report, gathered once from the object model:
//! the text ([`super::text`]) and the machine-readable forms ([`super::json`]) render the
//! same records. A record keeps the places where SOS would stop with a message (an
//! invalid object, unreadable fields) so that each renderer can stop there its own way.
use crate::heap::fields::et;
use crate::heap::value::is_value_type;
use crate::heap::{Array, Element, Heap, ObjectAddr, ThinLock, Value, ValueError, ValueObject};
use anyhow::Result;
pub use crate::heap::field_table::{FieldRow, FieldValue, FieldsFacts, MAX_STRING};

/// Elements of a byte or char array `dumpobj` shows as `Content:`.
const CONTENT_ELEMENTS: u64 = 128;

/// `dumpobj`'s facts about an address.
pub enum ObjectRecord {
    /// Not an object (SOS: "Invalid object").
    Invalid,
    /// Free space.
    Free { address: u64, mt: u64, size: u64 },
    Object(Box<ObjectFacts>),
}

/// An object's facts.
pub struct ObjectFacts {
    pub address: u64,
    pub mt: u64,
    /// The DAC's name of the type (`<Unloaded Type>` when it has none).
    pub name: String,
    /// The DAC's size: base size plus components.
    pub size: u64,
    pub module: u64,
    /// The module's file (`Unknown Module` when it has none).
    pub file: String,
    /// For a `RuntimeType` (or its cache): the type it stands for; `Some(Err(()))` when
    /// a cache's `RuntimeType` is not an object.
    pub runtime_type: Option<Result<RuntimeTypeLine, ()>>,
    pub array: Option<ArrayFacts>,
    pub string: Option<StringFacts>,
    /// The fields, when asked for.
    pub fields: Option<FieldsFacts>,
    pub thin_lock: Option<ThinLock>,
}

/// What a `System.RuntimeType` stands for.
pub enum RuntimeTypeLine {
    TypeDesc(u64),
    Type { mt: u64, name: String },
}

/// An array's shape and, for a byte or char array, its first elements.
pub struct ArrayFacts {
    pub shape: Array,
    /// `Some` for a byte or char array: its first 128 elements (`None` when unreadable).
    pub content: Option<Option<Vec<u16>>>,
}

/// A string's length and text.
pub struct StringFacts {
    /// The length in UTF-16 units (`None` when unreadable).
    pub length: Option<u32>,
    /// The whole text, when readable and at most [`MAX_STRING`] units.
    pub text: Option<String>,
}

/// A struct's facts (`dumpvc`).
pub struct ValueClassFacts {
    pub address: u64,
    pub mt: u64,
    pub name: String,
    pub canonical_mt: u64,
    pub ee_class: u64,
    /// The MethodTable's base size.
    pub size: u64,
    pub module: u64,
    pub file: String,
    pub fields: Option<FieldsFacts>,
}

/// One element of `dumparray`.
pub struct ElementRow {
    pub element: Element,
    /// The element's value (a struct: its address).
    pub value: Result<Value, ValueError>,
    /// The text of the string a reference element points to.
    pub string: Option<String>,
    /// With `-details`: the element as `dumpvc` or `dumpobj` sees it.
    pub details: Option<Details>,
}

pub enum Details {
    ValueClass(Result<ValueClassFacts>),
    Object(Result<ObjectRecord>),
}

/// SOS's name for a type: the DAC's.
pub fn type_name(heap: &Heap, mt: u64) -> String {
    heap.dac_type_name(mt).unwrap_or_else(|_| "<Unloaded Type>".to_string())
}

/// A module's file as SOS names it.
pub fn file_name(heap: &Heap, module: u64) -> String {
    heap.module_file(module).unwrap_or_else(|| "Unknown Module".to_string())
}

/// `dumpobj`'s facts about `addr`, with its fields when `fields`.
pub fn object(heap: &Heap, addr: u64, fields: bool) -> Result<ObjectRecord> {
    let Some(o) = heap.object(ObjectAddr(addr)) else { return Ok(ObjectRecord::Invalid) };
    if o.is_free() {
        return Ok(ObjectRecord::Free { address: addr, mt: o.mt(), size: o.size()? });
    }
    let mt = o.mt();
    let info = o.method_table()?;
    let name = type_name(heap, mt);
    let size = o.size()?;
    let runtime_type = match name.as_str() {
        "System.RuntimeType" => runtime_type_line(heap, addr).map(Ok),
        "System.RuntimeType+RuntimeTypeCache" => match o.field("m_runtimeType").and_then(|f| o.read_field(&f).ok()) {
            None => None,
            Some(v) => match heap.object(ObjectAddr(v.raw())) {
                Some(rt) if !rt.is_free() => runtime_type_line(heap, v.raw()).map(Ok),
                _ => Some(Err(())),
            },
        },
        _ => None,
    };
    let array = if info.is_array() {
        let shape = o.array()?;
        let content = matches!(shape.element_type, et::I1 | et::U1 | et::CHAR)
            .then(|| shape.leading_units(heap, CONTENT_ELEMENTS).ok());
        Some(ArrayFacts { shape, content })
    } else {
        None
    };
    let string = o.is_string().then(|| {
        let length = o.string_length().ok();
        let text = length.filter(|&l| l as u64 <= MAX_STRING).and_then(|l| o.string(l as usize).ok());
        StringFacts { length, text }
    });
    let fields = fields.then(|| {
        let has_fields = heap.class_field_counts(mt).map(|c| c.instance + c.statics > 0);
        crate::heap::field_table::field_table(heap, o.fields(), Some(o.data()), false, has_fields)
    });
    Ok(ObjectRecord::Object(Box::new(ObjectFacts {
        address: addr,
        mt,
        name,
        size,
        module: info.module,
        file: file_name(heap, info.module),
        runtime_type,
        array,
        string,
        fields,
        thin_lock: o.thin_lock(),
    })))
}

/// The type a `System.RuntimeType` at `addr` stands for (its `m_handle`), if readable.
fn runtime_type_line(heap: &Heap, addr: u64) -> Option<RuntimeTypeLine> {
    let handle = heap.object(ObjectAddr(addr))?.runtime_type_handle()?;
    Some(if handle & 2 != 0 {
        RuntimeTypeLine::TypeDesc(handle & !2)
    } else {
        RuntimeTypeLine::Type { mt: handle, name: type_name(heap, handle) }
    })
}

/// `dumpvc`'s facts about the struct of type `mt` at `addr` (0: the type only).
pub fn value_class(heap: &Heap, mt: u64, addr: u64, fields: bool) -> Result<ValueClassFacts> {
    let info = heap.method_table(mt)?;
    let v = ValueObject::new(heap, mt, addr);
    let fields = fields.then(|| {
        let has_fields = heap.class_field_counts(mt).map(|c| c.instance + c.statics > 0);
        crate::heap::field_table::field_table(heap, v.fields(), (addr != 0).then_some(addr), true, has_fields)
    });
    Ok(ValueClassFacts {
        address: addr,
        mt,
        name: type_name(heap, mt),
        canonical_mt: heap.canonical_mt(mt)?,
        ee_class: info.ee_class,
        size: info.base_size as u64,
        module: info.module,
        file: file_name(heap, info.module),
        fields,
    })
}

/// One element of an array, with its details when `details` (fields when `fields`).
pub fn element_row(heap: &Heap, array: &Array, element: Element, details: bool, fields: bool) -> ElementRow {
    let value = heap.read_value(array.element_type, element.address);
    let string = value.as_ref().ok().and_then(|v| crate::heap::field_table::string_at(heap, array.element_type, v));
    let details = details
        .then(|| {
            if is_value_type(array.element_type) {
                Some(Details::ValueClass(value_class(heap, array.element_mt, element.address, fields)))
            } else {
                match value {
                    Ok(v) if v.raw() != 0 => Some(Details::Object(object(heap, v.raw(), fields))),
                    _ => None,
                }
            }
        })
        .flatten();
    ElementRow { element, value, string, details }
}

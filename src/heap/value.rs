//! Typed values of fields and array elements, and the CorElementType facts behind them.
//!
//! A field or an array element is read by its CorElementType: how many bytes it takes
//! ([`value_size`]), whether it is stored inline ([`is_value_type`]), and what it decodes
//! to ([`Value`]). A struct stored inline is not read: its value is the address of its
//! data ([`Value::Struct`]), to be looked at field by field (see
//! [`crate::heap::object::ValueObject`]). Names of element types are the runtime's
//! (`ELEMENT_TYPE_I4` is `I4`, a primitive's type is `System.Int32`), as SOS prints them.
use crate::heap::Heap;
use crate::heap::fields::et;
use crate::metadata::SigType;

/// A value read from the dump.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A `bool`'s byte: 0 is false, anything else true (SOS shows the byte).
    Boolean(u8),
    /// A UTF-16 code unit.
    Char(u16),
    I1(i8),
    U1(u8),
    I2(i16),
    U2(u16),
    I4(i32),
    U4(u32),
    I8(i64),
    U8(u64),
    R4(f32),
    R8(f64),
    /// `IntPtr` or `UIntPtr`.
    NativeInt(u64),
    /// A reference (class, string, object, array), 0 for null.
    Reference(u64),
    /// Any other pointer-sized value (pointers, function pointers, byrefs).
    Pointer(u64),
    /// A struct stored inline: the address of its data.
    Struct(u64),
    /// A static struct field: the runtime keeps it boxed, in a GC statics slot. `boxed` is
    /// the box (0 when none was allocated, or the slot is unreadable).
    StaticStruct { slot: u64, boxed: u64 },
}

/// Why a value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    /// The element type has no fixed size (a generic parameter or instantiation the
    /// FieldDesc could not resolve).
    Unsized,
    /// The bytes are not in the dump.
    Unreadable,
}

impl Value {
    /// Decodes the low [`value_size`] bytes of `raw` as a value of element type `t`
    /// (`None` for a type without a fixed size; a struct decodes to its address `raw`).
    pub fn decode(t: u8, raw: u64) -> Option<Value> {
        Some(match t {
            et::BOOLEAN => Value::Boolean(raw as u8),
            et::CHAR => Value::Char(raw as u16),
            et::I1 => Value::I1(raw as u8 as i8),
            et::U1 => Value::U1(raw as u8),
            et::I2 => Value::I2(raw as u16 as i16),
            et::U2 => Value::U2(raw as u16),
            et::I4 => Value::I4(raw as u32 as i32),
            et::U4 => Value::U4(raw as u32),
            et::I8 => Value::I8(raw as i64),
            et::U8 => Value::U8(raw),
            et::R4 => Value::R4(f32::from_bits(raw as u32)),
            et::R8 => Value::R8(f64::from_bits(raw)),
            et::I | et::U => Value::NativeInt(raw),
            et::VALUETYPE => Value::Struct(raw),
            et::CLASS | et::STRING | et::OBJECT | et::SZARRAY | et::ARRAY => Value::Reference(raw),
            _ if value_size(t).is_some() => Value::Pointer(raw),
            _ => return None,
        })
    }

    /// The value's bits as SOS reads them into a pointer-sized integer (a struct: its
    /// address; a static struct: its slot when it has a box, else 0).
    pub fn raw(self) -> u64 {
        match self {
            Value::Boolean(b) => b as u64,
            Value::Char(c) => c as u64,
            Value::I1(v) => v as u8 as u64,
            Value::U1(v) => v as u64,
            Value::I2(v) => v as u16 as u64,
            Value::U2(v) => v as u64,
            Value::I4(v) => v as u32 as u64,
            Value::U4(v) => v as u64,
            Value::I8(v) => v as u64,
            Value::U8(v) => v,
            Value::R4(v) => v.to_bits() as u64,
            Value::R8(v) => v.to_bits(),
            Value::NativeInt(v) | Value::Reference(v) | Value::Pointer(v) | Value::Struct(v) => v,
            Value::StaticStruct { slot, boxed } => {
                if boxed != 0 {
                    slot
                } else {
                    0
                }
            }
        }
    }

    /// The object a reference points to (`None` for null and for other values).
    pub fn reference(self) -> Option<u64> {
        match self {
            Value::Reference(r) if r != 0 => Some(r),
            _ => None,
        }
    }
}

impl Heap {
    /// The value of element type `t` stored at `addr` (a struct is not read: its value is
    /// `addr`).
    pub fn read_value(&self, t: u8, addr: u64) -> Result<Value, ValueError> {
        if t == et::VALUETYPE {
            return Ok(Value::Struct(addr));
        }
        let size = value_size(t).ok_or(ValueError::Unsized)?;
        let mut raw = [0u8; 8];
        self.space().read(addr, &mut raw[..size]).map_err(|_| ValueError::Unreadable)?;
        Value::decode(t, u64::from_le_bytes(raw)).ok_or(ValueError::Unsized)
    }

    /// The reference stored at `addr` (a reference field's or element's storage; 0 for
    /// null).
    pub fn read_reference(&self, addr: u64) -> anyhow::Result<u64> {
        Ok(self.space().read_ptr(addr)?)
    }

    /// A static struct field's value: the box in its GC statics `slot`.
    pub fn read_static_struct(&self, slot: u64) -> Value {
        let boxed = self.space().read_ptr(slot).unwrap_or(0);
        Value::StaticStruct { slot, boxed }
    }
}

/// Bytes a value of element type `t` takes (`None`: no fixed size, or a struct, whose size
/// is its type's).
pub fn value_size(t: u8) -> Option<usize> {
    match t {
        et::BOOLEAN | et::I1 | et::U1 => Some(1),
        et::CHAR | et::I2 | et::U2 => Some(2),
        et::I4 | et::U4 | et::R4 => Some(4),
        et::VALUETYPE | et::VAR | et::GENERICINST | et::MVAR => None,
        _ => Some(8),
    }
}

/// Whether values of element type `t` are stored inline (primitives, structs, native
/// integers) rather than as references.
pub fn is_value_type(t: u8) -> bool {
    (et::BOOLEAN..=et::R8).contains(&t) || t == et::VALUETYPE || t == et::I || t == et::U
}

/// The element type of a CoreLib primitive, by its type name.
pub fn primitive_element_type(name: &str) -> Option<u8> {
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

/// The runtime's short name of an element type (`I4`, `CLASS`, `SZARRAY`; a primitive's
/// bare type name, `Int32`), empty when it has none.
pub fn element_type_name(t: u8) -> &'static str {
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

/// (namespace, name) of the element types that stand for a CoreLib type.
pub fn primitive_name(t: u8) -> Option<(&'static str, &'static str)> {
    Some(match t {
        et::VOID => ("System", "Void"),
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

/// An element type's full name: `System.Int32` for a primitive, else its short name.
pub fn element_type_full_name(t: u8) -> String {
    match primitive_name(t) {
        Some((ns, n)) => format!("{ns}.{n}"),
        None => element_type_name(t).to_string(),
    }
}

/// The element type a signature starts with.
pub fn sig_element_type(sig: &SigType) -> u8 {
    use SigType as S;
    match sig {
        S::Void => et::VOID,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_by_element_type() {
        assert_eq!(Value::decode(et::I4, 0xffff_ffff), Some(Value::I4(-1)));
        assert_eq!(Value::decode(et::I1, 0x80), Some(Value::I1(-128)));
        assert_eq!(Value::decode(et::BOOLEAN, 0x30), Some(Value::Boolean(0x30)));
        assert_eq!(Value::decode(et::BOOLEAN, 0x30).map(Value::raw), Some(0x30));
        assert_eq!(Value::decode(et::R8, 2.5f64.to_bits()), Some(Value::R8(2.5)));
        assert_eq!(Value::decode(et::CLASS, 0x1000), Some(Value::Reference(0x1000)));
        assert_eq!(Value::decode(et::PTR, 0x1000), Some(Value::Pointer(0x1000)));
        assert_eq!(Value::decode(et::VAR, 0), None);
        assert_eq!(Value::decode(et::U2, 0x1_0001).map(Value::raw), Some(1));
        assert_eq!(Value::StaticStruct { slot: 0x10, boxed: 0 }.raw(), 0);
        assert_eq!(Value::StaticStruct { slot: 0x10, boxed: 0x20 }.raw(), 0x10);
    }

    #[test]
    fn element_type_facts() {
        assert_eq!(value_size(et::CHAR), Some(2));
        assert_eq!(value_size(et::VALUETYPE), None);
        assert_eq!(value_size(et::SZARRAY), Some(8));
        assert!(is_value_type(et::U));
        assert!(!is_value_type(et::STRING));
        assert_eq!(element_type_name(et::I4), "Int32");
        assert_eq!(element_type_name(et::SZARRAY), "SZARRAY");
        assert_eq!(element_type_full_name(et::OBJECT), "System.Object");
        assert_eq!(element_type_full_name(et::GENERICINST), "");
        assert_eq!(primitive_element_type("System.Double"), Some(et::R8));
    }
}

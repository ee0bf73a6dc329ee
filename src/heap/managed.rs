//! Managed objects read by field name: what the commands that look inside the BCL's own
//! types (`dcd`, `dcq`, `timerinfo`, `threadpool`...) need, the way ClrMD's
//! `ReadObjectField` / `ReadValueTypeField` / `ClrArray` answer it.
//!
//! A field is found by name on the object's type or its ancestors (most derived first);
//! its storage is `object + pointer + offset` for an object, `data + offset` for a struct
//! stored inline (an array element, a struct field). A field's value is classified as
//! ClrMD's helpers classify it ([`FieldValue`]): a null or live reference (with the
//! object's own type), a primitive, or a struct (its declared type and address). Every
//! lookup is cached per (MethodTable, name); every read is checked.
use crate::heap::fields::{et, FieldDesc};
use crate::heap::Heap;
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Size of an object's MethodTable pointer: instance field offsets count from after it.
const POINTER: u64 = 8;
/// Longest linked list followed by a caller of [`Heap::follow`]-style walks.
pub const MAX_CHAIN: usize = 1 << 24;

/// Per-dump cache of instance field lists.
#[derive(Default)]
pub struct ManagedCache {
    fields: Mutex<HashMap<u64, Arc<Vec<(String, FieldDesc)>>>>,
}

/// A primitive value as ClrMD reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Primitive {
    Bool(bool),
    Char(u16),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
    IntPtr(u64),
    UIntPtr(u64),
}

/// A field's value, classified the way ClrMD-based commands do.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A reference field holding null.
    Null,
    /// A reference to an object, with the object's own MethodTable.
    Object { addr: u64, mt: u64 },
    /// A primitive field (its declared type is one of the 14 simple types).
    Primitive(Primitive),
    /// A struct stored inline: its declared MethodTable (0 if not loaded) and address.
    Struct { mt: u64, addr: u64 },
}

/// A single-dimensional array.
#[derive(Debug, Clone, Copy)]
pub struct ArrayView {
    pub addr: u64,
    pub mt: u64,
    pub length: u64,
    /// The first element.
    pub data: u64,
    /// The element type's MethodTable.
    pub component_mt: u64,
    pub component_size: u64,
}

impl ArrayView {
    /// The address of element `i`.
    pub fn element(&self, i: u64) -> u64 {
        self.data.wrapping_add(i.wrapping_mul(self.component_size))
    }
}

/// The full name of the simple type a CorElementType stands for.
fn primitive_name(element_type: u8) -> Option<&'static str> {
    Some(match element_type {
        et::BOOLEAN => "System.Boolean",
        et::CHAR => "System.Char",
        et::I1 => "System.SByte",
        et::U1 => "System.Byte",
        et::I2 => "System.Int16",
        et::U2 => "System.UInt16",
        et::I4 => "System.Int32",
        et::U4 => "System.UInt32",
        et::I8 => "System.Int64",
        et::U8 => "System.UInt64",
        et::R4 => "System.Single",
        et::R8 => "System.Double",
        et::I => "System.IntPtr",
        et::U => "System.UIntPtr",
        _ => return None,
    })
}

impl Heap {
    /// The MethodTable of the object at `obj` (flag bits masked off).
    pub fn object_mt(&self, obj: u64) -> Result<u64> {
        let mt = self.space().read_ptr(obj)? & !self.runtime.layout.object.mt_unmask;
        if mt == 0 {
            bail!("{obj:x} has no MethodTable");
        }
        Ok(mt)
    }

    /// The MethodTable of the object at `obj`, if it looks like an object (its
    /// MethodTable reads as one with an EEClass).
    pub fn valid_object_mt(&self, obj: u64) -> Option<u64> {
        if obj == 0 || obj % 8 != 0 {
            return None;
        }
        let mt = self.object_mt(obj).ok()?;
        let info = self.method_table(mt).ok()?;
        (info.ee_class != 0).then_some(mt)
    }

    /// The instance fields of `mt` with their names, inherited ones first.
    pub fn instance_fields(&self, mt: u64) -> Result<Arc<Vec<(String, FieldDesc)>>> {
        if let Some(f) = self.managed.fields.lock().expect("fields").get(&mt) {
            return Ok(f.clone());
        }
        let mut list = Vec::new();
        for t in self.parent_chain(mt)? {
            let parent = self.method_table(t)?.parent;
            let inherited = match parent {
                0 => 0,
                p => self.class_field_counts(p)?.instance,
            };
            for fd in self.introduced_fields(t, inherited)? {
                if fd.is_static {
                    continue;
                }
                let name = self.field_name(&fd).unwrap_or_default();
                list.push((name, fd));
            }
        }
        let list = Arc::new(list);
        self.managed.fields.lock().expect("fields").insert(mt, list.clone());
        Ok(list)
    }

    /// The instance field `name` of `mt` (the most derived one of that name).
    pub fn instance_field(&self, mt: u64, name: &str) -> Result<FieldDesc> {
        let fields = self.instance_fields(mt)?;
        fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, fd)| *fd)
            .ok_or_else(|| anyhow!("Type '{}' does not contain a field named '{name}'", self.type_name(mt)))
    }

    /// Whether `mt` (or an ancestor) has an instance field called `name`.
    pub fn has_instance_field(&self, mt: u64, name: &str) -> bool {
        self.instance_fields(mt).is_ok_and(|f| f.iter().any(|(n, _)| n == name))
    }

    /// Where field `fd` of the object at `obj` is stored.
    pub fn object_field_addr(&self, obj: u64, fd: &FieldDesc) -> u64 {
        obj.wrapping_add(POINTER).wrapping_add(fd.offset as u64)
    }

    /// The reference held by field `name` of the object at `obj` (0 for null).
    pub fn read_object_field(&self, obj: u64, name: &str) -> Result<u64> {
        let fd = self.instance_field(self.object_mt(obj)?, name)?;
        Ok(self.space().read_ptr(self.object_field_addr(obj, &fd))?)
    }

    /// The reference held by field `name` of a struct of type `mt` stored at `data`.
    pub fn read_struct_object_field(&self, data: u64, mt: u64, name: &str) -> Result<u64> {
        let fd = self.instance_field(mt, name)?;
        Ok(self.space().read_ptr(data.wrapping_add(fd.offset as u64))?)
    }

    /// The storage of field `name` of the object at `obj`.
    pub fn field_addr(&self, obj: u64, name: &str) -> Result<u64> {
        let fd = self.instance_field(self.object_mt(obj)?, name)?;
        Ok(self.object_field_addr(obj, &fd))
    }

    /// The storage of field `name` of a struct of type `mt` stored at `data`.
    pub fn struct_field_addr(&self, data: u64, mt: u64, name: &str) -> Result<u64> {
        let fd = self.instance_field(mt, name)?;
        Ok(data.wrapping_add(fd.offset as u64))
    }

    /// Field `name` of the object at `obj`, read as an i32.
    pub fn read_i32_field(&self, obj: u64, name: &str) -> Result<i32> {
        Ok(self.space().read_u32(self.field_addr(obj, name)?)? as i32)
    }

    /// Field `name` of the object at `obj`, read as a u64.
    pub fn read_u64_field(&self, obj: u64, name: &str) -> Result<u64> {
        Ok(self.space().read_u64(self.field_addr(obj, name)?)?)
    }

    /// Field `name` of the object at `obj`, read as a bool.
    pub fn read_bool_field(&self, obj: u64, name: &str) -> Result<bool> {
        Ok(self.space().read_u8(self.field_addr(obj, name)?)? != 0)
    }

    /// The string held by field `name` of `obj`, or None for null.
    pub fn read_string_field(&self, obj: u64, name: &str, max_units: usize) -> Result<Option<String>> {
        let s = self.read_object_field(obj, name)?;
        if s == 0 {
            return Ok(None);
        }
        Ok(Some(self.string_value(s, max_units)?))
    }

    /// The name of a field's declared type, as ClrMD names it: the loaded type's name,
    /// else the primitive its CorElementType stands for.
    pub fn field_type_name(&self, fd: &FieldDesc) -> Option<String> {
        if let Some(mt) = self.field_type_mt(fd) {
            return Some(self.type_name(mt).to_string());
        }
        primitive_name(fd.element_type).map(String::from)
    }

    /// The value of field `fd` stored at `addr`, classified as ClrMD's helpers do.
    pub fn field_value(&self, addr: u64, fd: &FieldDesc) -> Result<FieldValue> {
        let space = self.space();
        if fd.element_type == et::CLASS {
            let obj = space.read_ptr(addr)?;
            if obj == 0 {
                return Ok(FieldValue::Null);
            }
            return Ok(FieldValue::Object { addr: obj, mt: self.object_mt(obj)? });
        }
        let declared = self.field_type_mt(fd);
        let name = match declared {
            Some(mt) => Some(self.type_name(mt).to_string()),
            None => primitive_name(fd.element_type).map(String::from),
        };
        if let Some(p) = name.as_deref().and_then(|n| self.read_primitive(addr, n).transpose()) {
            return Ok(FieldValue::Primitive(p?));
        }
        Ok(FieldValue::Struct { mt: declared.unwrap_or(0), addr })
    }

    /// The primitive of simple type `type_name` at `addr` (None: not a simple type).
    pub fn read_primitive(&self, addr: u64, type_name: &str) -> Result<Option<Primitive>> {
        let s = self.space();
        Ok(Some(match type_name {
            "System.Boolean" => Primitive::Bool(s.read_u8(addr)? != 0),
            "System.Char" => Primitive::Char(s.read_u16(addr)?),
            "System.SByte" => Primitive::I8(s.read_u8(addr)? as i8),
            "System.Byte" => Primitive::U8(s.read_u8(addr)?),
            "System.Int16" => Primitive::I16(s.read_u16(addr)? as i16),
            "System.UInt16" => Primitive::U16(s.read_u16(addr)?),
            "System.Int32" => Primitive::I32(s.read_u32(addr)? as i32),
            "System.UInt32" => Primitive::U32(s.read_u32(addr)?),
            "System.Int64" => Primitive::I64(s.read_u64(addr)? as i64),
            "System.UInt64" => Primitive::U64(s.read_u64(addr)?),
            "System.Single" => Primitive::F32(f32::from_bits(s.read_u32(addr)?)),
            "System.Double" => Primitive::F64(f64::from_bits(s.read_u64(addr)?)),
            "System.IntPtr" => Primitive::IntPtr(s.read_u64(addr)?),
            "System.UIntPtr" => Primitive::UIntPtr(s.read_u64(addr)?),
            _ => return Ok(None),
        }))
    }

    /// The single-dimensional array at `arr`.
    pub fn array(&self, arr: u64) -> Result<ArrayView> {
        let mt = self.object_mt(arr)?;
        let info = self.method_table(mt)?;
        if !info.is_array() {
            bail!("{arr:x} is not an array");
        }
        let o = &self.runtime.layout.object;
        let length = self.space().read_u32(arr.wrapping_add(o.array_length))? as u64;
        let component_mt = self
            .space()
            .read_ptr(mt.wrapping_add(self.runtime.layout.method_table.per_inst_info))?;
        Ok(ArrayView {
            addr: arr,
            mt,
            length,
            data: arr.wrapping_add(o.array_data),
            component_mt,
            component_size: info.component_size as u64,
        })
    }
}

/// A managed method found by code address.
#[derive(Debug, Clone)]
pub struct CodeMethod {
    /// Its MethodDesc.
    pub method_desc: u64,
    /// The MethodTable it belongs to.
    pub mt: u64,
    /// Its name (no type, no signature), as ClrMD's `ClrMethod.Name`.
    pub name: String,
}

impl Heap {
    /// The method whose jitted or ReadyToRun code holds `ip` (ClrMD's
    /// `GetMethodByInstructionPointer`, which also names a method's precode): None for
    /// another stub or native code.
    pub fn method_at(&self, ip: u64) -> Option<CodeMethod> {
        use crate::runtime::stack::codemap::{precode_method_desc, CodeMap};
        let map = CodeMap::new(&self.runtime).ok()?;
        let md = match map.lookup(ip).ok()? {
            Some(code) => code.method_desc?,
            None => precode_method_desc(&self.runtime, ip)?,
        };
        let (mt, rid) = crate::runtime::stack::names::method_desc_token(&self.runtime, md).ok()?;
        let info = self.method_table(mt).ok()?;
        if info.ee_class == 0 {
            return None;
        }
        let module = info.module;
        let meta = self.module_metadata(module)?;
        let name = meta.method(rid).ok()?.name.to_string();
        Some(CodeMethod { method_desc: md, mt, name })
    }

    /// Every object of the exact MethodTable `mt`, in heap order, and where the walk
    /// stopped short.
    pub fn objects_of_type(&self, mt: u64) -> (Vec<u64>, Vec<crate::heap::WalkWarning>) {
        let (objects, warnings) = self.objects();
        (objects.iter().filter(|o| o.mt == mt).map(|o| o.address).collect(), warnings)
    }
}

impl Heap {
    /// The reference held by static field `name` of type `mt` (0 for null); an error
    /// when the type has no such static or its statics are not allocated.
    pub fn read_static_object(&self, mt: u64, name: &str) -> Result<u64> {
        let slot = self.static_field_addr(mt, name)?;
        Ok(self.space().read_ptr(slot)?)
    }

    /// Where static field `name` of type `mt` is stored.
    pub fn static_field_addr(&self, mt: u64, name: &str) -> Result<u64> {
        let parent = self.method_table(mt)?.parent;
        let inherited = match parent {
            0 => 0,
            p => self.class_field_counts(p)?.instance,
        };
        let fd = self
            .introduced_fields(mt, inherited)?
            .into_iter()
            .find(|fd| fd.is_static && !fd.is_thread_static && self.field_name(fd).as_deref() == Some(name))
            .ok_or_else(|| anyhow!("Type '{}' has no static field named '{name}'", self.type_name(mt)))?;
        match self.static_location(mt, &fd) {
            crate::heap::fields::StaticLocation::At(a) => Ok(a),
            other => bail!("static field {name} of {} is not readable: {other:?}", self.type_name(mt)),
        }
    }
}

//! The object model: one object on the heap, asked by address.
//!
//! [`Heap::object`] checks an address the way SOS does before it trusts it (aligned, a
//! MethodTable whose EEClass points back at it, or the free-space MethodTable) and returns
//! an [`Object`]: its type, size, header, fields by name, string contents, array shape
//! ([`crate::heap::array`]), and what it is as a delegate or an exception. A struct, boxed
//! or stored inside another object or array, is a [`ValueObject`]: a MethodTable and the
//! address of its data. Fields are listed by [`Heap::type_fields`] and read as typed
//! [`Value`]s. Commands ask these and never add an offset to an address themselves: every
//! layout fact used here is in [`crate::runtime::layouts`].
//!
//! Naming: an [`ObjectAddr`] is where an object's MethodTable pointer is (what a reference
//! holds); a plain `u64` is any other address (a field's storage, an element, a header).
//! The graph layer numbers objects densely ([`crate::graph::ObjectId`]); those ids are
//! not addresses either.
use crate::heap::Heap;
use crate::heap::fields::{Field, FieldDesc, FieldList, StaticLocation, et};
use crate::heap::types::{MIN_OBJECT_SIZE, MethodTableInfo};
use crate::heap::value::{Value, ValueError};
use crate::runtime::layouts::*;
use anyhow::{Result, bail};
use std::fmt;
use std::sync::Arc;

/// Most exceptions followed down an inner-exception chain.
const MAX_INNER_EXCEPTIONS: usize = 1024;
/// Most delegates of a multicast delegate's invocation list.
const MAX_INVOCATION_LIST: usize = 1 << 16;
/// Most stack trace entries read from an exception.
const MAX_STACK_TRACE: usize = 1 << 16;

/// The address of a managed object: where its MethodTable pointer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ObjectAddr(pub u64);

impl ObjectAddr {
    pub const NULL: ObjectAddr = ObjectAddr(0);

    pub fn get(self) -> u64 {
        self.0
    }

    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

impl From<ObjectAddr> for u64 {
    fn from(a: ObjectAddr) -> u64 {
        a.0
    }
}

impl fmt::LowerHex for ObjectAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl fmt::UpperHex for ObjectAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::UpperHex::fmt(&self.0, f)
    }
}

/// The 32-bit word before an object's MethodTable pointer (`ObjHeader::m_SyncBlockValue`):
/// a thin lock, a hash code or a sync block index, and a few GC bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectHeader(pub u32);

impl ObjectHeader {
    pub fn raw(self) -> u32 {
        self.0
    }

    /// `(managed thread id, recursion level)` of the thin lock the header holds, if any
    /// (the recursion level is 0 for a lock taken once).
    pub fn thin_lock(self) -> Option<(u32, u32)> {
        if self.0 & SBLK_IS_HASH_OR_SYNCBLKINDEX != 0 {
            return None;
        }
        let thread_id = self.0 & SBLK_THIN_LOCK_THREAD_ID;
        (thread_id != 0).then_some((thread_id, (self.0 >> SBLK_THIN_LOCK_RECURSION_SHIFT) & SBLK_THIN_LOCK_RECURSION))
    }

    /// The object's sync block index (its entry in the sync block table), if it has one.
    pub fn sync_block_index(self) -> Option<u32> {
        (self.0 & SBLK_IS_HASH_OR_SYNCBLKINDEX != 0 && self.0 & SBLK_IS_HASHCODE == 0)
            .then_some(self.0 & SBLK_INDEX_MASK)
    }

    /// The hash code stored in the header, if it holds one.
    pub fn hash_code(self) -> Option<u32> {
        (self.0 & SBLK_IS_HASH_OR_SYNCBLKINDEX != 0 && self.0 & SBLK_IS_HASHCODE != 0)
            .then_some(self.0 & SBLK_INDEX_MASK)
    }

    /// Whether the object's finalizer has run (or was suppressed).
    pub fn finalizer_run(self) -> bool {
        self.0 & SBLK_FINALIZER_RUN != 0
    }
}

/// A thin lock held on an object, with its owner resolved through the thread store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThinLock {
    pub managed_thread_id: u32,
    /// The recursion level (0: taken once).
    pub recursion: u32,
    /// The owning `Thread*`, when a managed thread has that id.
    pub thread: Option<u64>,
    /// Its OS thread id (0 when the owner is not known).
    pub os_thread_id: u32,
}

/// An object on the heap (or free space), checked by [`Heap::object`].
#[derive(Clone, Copy)]
pub struct Object<'h> {
    heap: &'h Heap,
    address: ObjectAddr,
    mt: u64,
}

impl fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Object({:x}, mt {:x})", self.address, self.mt)
    }
}

/// A struct's fields at an address: boxed (the data after the box's MethodTable
/// pointer), embedded in an object or array, or a static field's storage.
#[derive(Clone, Copy)]
pub struct ValueObject<'h> {
    heap: &'h Heap,
    mt: u64,
    /// The first byte of the struct's data (0: no instance, only the type).
    data: u64,
}

/// Where a field's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldLocation {
    /// At this address.
    At(u64),
    /// An instance field, and no instance to read it from.
    NoInstance,
    /// A static field whose storage is not at hand (see [`StaticLocation`]).
    Static(StaticLocation),
    /// A thread-static field: one value per thread, not read yet.
    ThreadStatic,
}

impl Heap {
    /// The object at `addr`, if SOS would take it for one: 8-byte aligned, its
    /// MethodTable valid (see [`Heap::is_valid_method_table`]) or the free-space one.
    pub fn object(&self, addr: ObjectAddr) -> Option<Object<'_>> {
        if !addr.0.is_multiple_of(8) {
            return None;
        }
        let mt = self.method_table_of(addr).ok()?;
        if mt == 0 {
            return None;
        }
        let object = Object { heap: self, address: addr, mt };
        if mt == self.runtime.globals.free_mt {
            // Free space is taken as such only when its size can be read.
            object.size().ok()?;
            return Some(object);
        }
        self.is_valid_method_table(mt).then_some(object)
    }

    /// The MethodTable pointer of the object at `addr`, flag bits masked, unchecked.
    pub fn method_table_of(&self, addr: ObjectAddr) -> Result<u64> {
        Ok(self.space().read_ptr(addr.0)? & !self.runtime.layout.object.mt_unmask)
    }

    /// The component count of a string or array at `addr` (its length field, where the
    /// heap walk reads it), unchecked.
    pub fn component_count(&self, addr: ObjectAddr) -> Result<u32> {
        Ok(self.space().read_u32(addr.0.wrapping_add(self.runtime.layout.object.array_length))?)
    }

    /// The object's size as the heap walk counts it (at least the minimum object size),
    /// given its MethodTable; an unreadable component count counts as 0.
    pub fn object_heap_size(&self, addr: ObjectAddr, mt: u64) -> Result<u64> {
        let size = self.mt_size(mt)?;
        let count = if size.component_size != 0 { self.component_count(addr).unwrap_or(0) } else { 0 };
        Ok(size.object_size(count))
    }

    /// Whether SOS trusts `mt` as a MethodTable: its EEClass points back at its canonical
    /// MethodTable, and its base size is plausible (an interface's and a string's aside).
    pub fn is_valid_method_table(&self, mt: u64) -> bool {
        let Ok(info) = self.method_table(mt) else { return false };
        let Ok(canon) = self.canonical_mt(mt) else { return false };
        if info.ee_class == 0
            || self.space().read_ptr(info.ee_class.wrapping_add(self.runtime.layout.ee_class.method_table)).ok() != Some(canon)
        {
            return false;
        }
        let interface = info.flags & MTF_CATEGORY_ARRAY_MASK == MTF_CATEGORY_ARRAY_MASK;
        interface || mt == self.runtime.globals.string_mt || (info.base_size != 0 && info.base_size % 8 == 0)
    }

    /// The header word of the object at `addr`.
    pub fn object_header(&self, addr: ObjectAddr) -> Result<ObjectHeader> {
        let Some(at) = addr.0.checked_sub(self.runtime.layout.object.sync_block_value) else {
            bail!("no object header below {:#x}", addr.0);
        };
        Ok(ObjectHeader(self.space().read_u32(at)?))
    }

    /// The thin lock held on the object at `addr`, if its header holds one.
    pub fn thin_lock(&self, addr: ObjectAddr) -> Option<ThinLock> {
        let (managed_thread_id, recursion) = self.object_header(addr).ok()?.thin_lock()?;
        let thread = self.threads.iter().find(|t| t.managed_id == managed_thread_id);
        Some(ThinLock {
            managed_thread_id,
            recursion,
            thread: thread.map(|t| t.address),
            os_thread_id: thread.map_or(0, |t| t.os_id),
        })
    }

    /// The length of the string at `addr`, in UTF-16 units (unchecked).
    pub fn string_length(&self, addr: ObjectAddr) -> Result<u32> {
        Ok(self.space().read_u32(addr.0.wrapping_add(self.runtime.layout.object.string_length))?)
    }

    /// The length of the string object at `addr` and its first `max_units` UTF-16 units
    /// as little-endian bytes: borrowed from the dump when it holds them in one piece
    /// (no copy), else read.
    pub fn string_units(&self, addr: u64, max_units: usize) -> Result<(u32, std::borrow::Cow<'_, [u8]>)> {
        let len = self.string_length(ObjectAddr(addr))?;
        let n = (len as usize).min(max_units).saturating_mul(2);
        let first = addr.wrapping_add(self.runtime.layout.object.string_first_char);
        Ok(match self.space().core_slice(first, n) {
            Some(units) => (len, std::borrow::Cow::Borrowed(units)),
            None => {
                let mut v = vec![0u8; n];
                self.space().read(first, &mut v)?;
                (len, std::borrow::Cow::Owned(v))
            }
        })
    }

    /// The characters of the string object at `addr`, at most `max_units` UTF-16 units
    /// (unpaired surrogates become U+FFFD).
    pub fn string_value(&self, addr: u64, max_units: usize) -> Result<String> {
        let len = self.string_length(ObjectAddr(addr))? as usize;
        let n = len.min(max_units);
        let first = addr.wrapping_add(self.runtime.layout.object.string_first_char);
        let bytes = self.space().read_vec(first, n.saturating_mul(2))?;
        let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        Ok(String::from_utf16_lossy(&units))
    }

    /// A stack slot's value as an address on the heap: the value itself when it points
    /// into a heap segment, else what it points at when that does (a pointer to a heap
    /// reference); with the start of that segment.
    pub fn heap_address_through(&self, value: u64) -> Option<(u64, u64)> {
        if let Some(seg) = self.segment_of(value) {
            return Some((value, seg.start));
        }
        let target = self.space().read_u64(value).ok()?;
        Some((target, self.segment_of(target)?.start))
    }

    /// The file a module was loaded from (`None` for a module without one: emitted at run
    /// time, or unreadable).
    pub fn module_file(&self, module: u64) -> Option<String> {
        crate::runtime::modules::module_image(&self.runtime, module)
            .ok()
            .map(|m| m.path)
            .filter(|p| !p.is_empty())
    }

    /// Where a field's value is, for an instance whose data starts at `data` (after the
    /// MethodTable pointer of an object; a struct's first byte), or no instance.
    pub fn field_location(&self, field: &Field, data: Option<u64>) -> FieldLocation {
        let fd = &field.desc;
        if fd.is_static && fd.is_thread_static {
            return FieldLocation::ThreadStatic;
        }
        if fd.is_static {
            return match self.static_location(field.class, fd) {
                StaticLocation::At(a) => FieldLocation::At(a),
                other => FieldLocation::Static(other),
            };
        }
        match data {
            Some(d) => FieldLocation::At(d.wrapping_add(fd.offset as u64)),
            None => FieldLocation::NoInstance,
        }
    }

    /// The value of `field` stored at `at` (from [`Heap::field_location`]). A static
    /// struct is read as its box's slot.
    pub fn read_field_at(&self, fd: &FieldDesc, at: u64) -> Result<Value, ValueError> {
        if fd.is_static && fd.element_type == et::VALUETYPE {
            return Ok(self.read_static_struct(at));
        }
        self.read_value(fd.element_type, at)
    }

    /// The values of `N` instance fields of the object at `object`, each given as its
    /// FieldDesc and its offset from the object's address: what [`Heap::read_field_at`]
    /// answers for each (`None` where it fails), from one read of the bytes they span
    /// when the dump holds those in one piece (a scan over millions of objects reads
    /// several fields of each).
    pub fn read_instance_fields<const N: usize>(&self, object: u64, fields: [(&FieldDesc, u64); N]) -> [Option<Value>; N] {
        let one = |fd: &FieldDesc, off: u64| self.read_field_at(fd, object.wrapping_add(off)).ok();
        if fields.iter().any(|(fd, _)| fd.is_static) {
            return fields.map(|(fd, off)| one(fd, off));
        }
        let extent = |fd: &FieldDesc| crate::heap::value::value_size(fd.element_type).unwrap_or(0) as u64;
        let from = fields.iter().map(|&(_, off)| off).min().unwrap_or(0);
        let to = fields.iter().map(|&(fd, off)| off.saturating_add(extent(fd))).max().unwrap_or(0);
        let bytes = usize::try_from(to.saturating_sub(from))
            .ok()
            .and_then(|len| self.space().core_slice(object.wrapping_add(from), len));
        let Some(bytes) = bytes else {
            return fields.map(|(fd, off)| one(fd, off));
        };
        fields.map(|(fd, off)| {
            let t = fd.element_type;
            if t == et::VALUETYPE {
                return Some(Value::Struct(object.wrapping_add(off)));
            }
            let size = crate::heap::value::value_size(t)?;
            let at = (off - from) as usize;
            let mut raw = [0u8; 8];
            raw[..size].copy_from_slice(bytes.get(at..at + size)?);
            Value::decode(t, u64::from_le_bytes(raw))
        })
    }
}

impl<'h> Object<'h> {
    pub fn heap(&self) -> &'h Heap {
        self.heap
    }

    pub fn address(&self) -> ObjectAddr {
        self.address
    }

    pub fn mt(&self) -> u64 {
        self.mt
    }

    /// Whether this is free space between objects rather than an object.
    pub fn is_free(&self) -> bool {
        self.mt == self.heap.runtime.globals.free_mt
    }

    pub fn method_table(&self) -> Result<MethodTableInfo> {
        self.heap.method_table(self.mt)
    }

    /// The type's name as ClrMD (and dotnet-dump's managed commands) print it.
    pub fn type_name(&self) -> Arc<str> {
        self.heap.type_name(self.mt)
    }

    /// The type's name as the DAC (and SOS's native commands) print it.
    pub fn dac_type_name(&self) -> Result<String> {
        self.heap.dac_type_name(self.mt)
    }

    /// The object's size as the DAC reports it: the base size plus the components (an
    /// empty string is 22 bytes here, where the heap walk counts 24).
    pub fn size(&self) -> Result<u64> {
        let size = self.heap.mt_size(self.mt)?;
        let count = if size.component_size != 0 { self.heap.component_count(self.address)? } else { 0 };
        let bytes = size.base_size as u64 + size.component_size as u64 * count as u64;
        Ok(if self.is_free() { bytes.max(MIN_OBJECT_SIZE) } else { bytes })
    }

    pub fn header(&self) -> Result<ObjectHeader> {
        self.heap.object_header(self.address)
    }

    pub fn thin_lock(&self) -> Option<ThinLock> {
        self.heap.thin_lock(self.address)
    }

    pub fn is_string(&self) -> bool {
        self.mt == self.heap.runtime.globals.string_mt
    }

    pub fn is_array(&self) -> bool {
        !self.is_free() && self.method_table().is_ok_and(|i| i.is_array())
    }

    /// The length of a string, in UTF-16 units.
    pub fn string_length(&self) -> Result<u32> {
        self.heap.string_length(self.address)
    }

    /// A string's characters, at most `max_units` UTF-16 units.
    pub fn string(&self, max_units: usize) -> Result<String> {
        if !self.is_string() {
            bail!("{:x} is not a string", self.address);
        }
        self.heap.string_value(self.address.0, max_units)
    }

    /// The object's fields: every field of its type, parents' first (see
    /// [`Heap::type_fields`]).
    pub fn fields(&self) -> FieldList {
        self.heap.type_fields(self.mt)
    }

    /// The first instance field called `name`, parents' fields first (SOS's
    /// `GetObjFieldOffset`).
    pub fn field(&self, name: &str) -> Option<Field> {
        self.fields().fields.into_iter().find(|f| !f.desc.is_static && f.name == name)
    }

    /// The instance field stored at `offset` bytes from the object's address: the field
    /// starting there, else the one whose storage covers it (a byte inside a struct field).
    pub fn field_at_offset(&self, offset: u64) -> Option<Field> {
        let fields: Vec<Field> = self.fields().fields.into_iter().filter(|f| !f.desc.is_static).collect();
        if let Some(f) = fields.iter().find(|f| f.object_offset() == offset) {
            return Some(f.clone());
        }
        fields.into_iter().find(|f| {
            let size = match crate::heap::value::value_size(f.element_type()) {
                Some(n) => n as u64,
                // A struct: its boxed size less the header and MethodTable pointer.
                None => self
                    .heap
                    .field_type_mt(&f.desc)
                    .and_then(|mt| self.heap.mt_size(mt).ok())
                    .map_or(0, |s| (s.base_size as u64).saturating_sub(2 * OBJECT_DATA)),
            };
            offset > f.object_offset() && offset - f.object_offset() < size
        })
    }

    /// The first static field of the object's type (or its parents) called `name`.
    pub fn static_field(&self, name: &str) -> Option<Field> {
        self.fields().fields.into_iter().find(|f| f.desc.is_static && f.name == name)
    }

    /// The value of the static field `name` (`None` when absent, thread-static, or its
    /// storage is not allocated).
    pub fn static_field_value(&self, name: &str) -> Option<Value> {
        self.read_field(&self.static_field(name)?).ok()
    }

    /// The address of the first byte of the object's fields.
    pub fn data(&self) -> u64 {
        self.address.0.wrapping_add(OBJECT_DATA)
    }

    /// Where `field` of this object is.
    pub fn field_location(&self, field: &Field) -> FieldLocation {
        self.heap.field_location(field, Some(self.data()))
    }

    /// The value of an instance field (or a static field of its type).
    pub fn read_field(&self, field: &Field) -> Result<Value, ValueError> {
        match self.field_location(field) {
            FieldLocation::At(a) => self.heap.read_field_at(&field.desc, a),
            _ => Err(ValueError::Unreadable),
        }
    }

    /// The value of the instance field `name`.
    pub fn field_value(&self, name: &str) -> Option<Value> {
        self.read_field(&self.field(name)?).ok()
    }

    /// The object the reference field `name` points to (`None` when null or absent).
    pub fn reference_field(&self, name: &str) -> Option<ObjectAddr> {
        self.field_value(name)?.reference().map(ObjectAddr)
    }

    /// The text of the string the reference field `name` points to.
    pub fn string_field(&self, name: &str, max_units: usize) -> Option<String> {
        let s = self.heap.object(self.reference_field(name)?)?;
        s.string(max_units).ok()
    }

    /// A boxed struct's contents.
    pub fn unboxed(&self) -> ValueObject<'h> {
        ValueObject { heap: self.heap, mt: self.mt, data: self.data() }
    }

    /// What a `System.RuntimeType` stands for: its `m_handle`, a MethodTable or (bit 1
    /// set) a TypeDesc.
    pub fn runtime_type_handle(&self) -> Option<u64> {
        match self.field_value("m_handle")? {
            Value::NativeInt(h) | Value::Pointer(h) => Some(h),
            other => Some(other.raw()),
        }
    }

    /// Whether the object's type derives from `System.Delegate` (what SOS asks before it
    /// reads an object as a delegate).
    pub fn is_delegate(&self) -> bool {
        let Some(delegate) = self.heap.core_type("System.Delegate") else { return false };
        self.heap.parent_chain(self.mt).is_ok_and(|chain| chain.contains(&delegate))
    }

    /// This object as a delegate (`None` if it has no delegate fields).
    pub fn delegate(&self) -> Option<Delegate> {
        let ptr = |name: &str| self.field_value(name).map(Value::raw);
        let method_ptr = ptr("_methodPtr")?;
        let method_ptr_aux = ptr("_methodPtrAux").unwrap_or(0);
        let target = self.reference_field("_target").unwrap_or(ObjectAddr::NULL);
        let list_field = self.reference_field("_invocationList").unwrap_or(ObjectAddr::NULL);
        // `_invocationCount` is an IntPtr; SOS reads its low 32 bits as an int.
        let invocation_count = ptr("_invocationCount").unwrap_or(0) as u32 as i32;
        let mut invocation_list = Vec::new();
        let mut is_multicast = false;
        if let Some(list) = self.heap.object(list_field)
            && let Ok(array) = list.array()
            && i64::from(invocation_count) <= i64::from(array.length)
        {
            is_multicast = true;
            let count = (invocation_count.max(0) as u64).min(MAX_INVOCATION_LIST as u64);
            for i in 0..count.min(array.capacity()) {
                if let Some(a) = array.element_address(i)
                    && let Ok(v) = self.heap.read_value(array.element_type, a)
                    && let Some(d) = v.reference()
                    && self.heap.object(ObjectAddr(d)).is_some()
                {
                    invocation_list.push(ObjectAddr(d));
                }
            }
        }
        Some(Delegate { target, method_ptr, method_ptr_aux, list_field, invocation_count, is_multicast, invocation_list })
    }

    /// This object as an exception (`None` if it has no `_message` field).
    pub fn exception(&self) -> Option<ExceptionObject<'h>> {
        self.field("_message")?;
        Some(ExceptionObject { object: *self })
    }
}

impl<'h> ValueObject<'h> {
    /// A struct of type `mt` whose data starts at `data` (0: the type only).
    pub fn new(heap: &'h Heap, mt: u64, data: u64) -> ValueObject<'h> {
        ValueObject { heap, mt, data }
    }

    pub fn mt(&self) -> u64 {
        self.mt
    }

    /// The first byte of the struct's data (0 when there is no instance).
    pub fn data(&self) -> u64 {
        self.data
    }

    pub fn fields(&self) -> FieldList {
        self.heap.type_fields(self.mt)
    }

    /// Where `field` of this struct is.
    pub fn field_location(&self, field: &Field) -> FieldLocation {
        self.heap.field_location(field, (self.data != 0).then_some(self.data))
    }

    /// The value of the instance field `name`.
    pub fn field_value(&self, name: &str) -> Option<Value> {
        let field = self.fields().fields.into_iter().find(|f| !f.desc.is_static && f.name == name)?;
        match self.field_location(&field) {
            FieldLocation::At(a) => self.heap.read_field_at(&field.desc, a).ok(),
            _ => None,
        }
    }
}

/// A delegate: what it calls and on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegate {
    /// `_target`: the object the method is called on (the delegate itself for a static
    /// method called through a shuffle thunk; null for a static method).
    pub target: ObjectAddr,
    /// `_methodPtr`: the code called (often a stub or a precode).
    pub method_ptr: u64,
    /// `_methodPtrAux`: the method's code for a static method or an open delegate.
    pub method_ptr_aux: u64,
    /// `_invocationList` as it is: null for a single delegate; an `Object[]` of delegates
    /// for a multicast one (other objects for wrapper delegates).
    pub list_field: ObjectAddr,
    /// `_invocationCount` (its low 32 bits, signed, as SOS reads it).
    pub invocation_count: i32,
    /// Whether `_invocationList` is an array holding at least `_invocationCount`
    /// elements: a multicast delegate as SOS takes it.
    pub is_multicast: bool,
    /// A multicast delegate's delegates, in invocation order (the first
    /// `_invocationCount` elements that are valid objects; empty for a single one).
    pub invocation_list: Vec<ObjectAddr>,
}

impl Heap {
    /// The MethodDesc of the method at code address `ip`: managed code the code map knows
    /// (JIT-compiled or ReadyToRun), or a precode.
    pub fn method_desc_of_code(&self, ip: u64) -> Option<u64> {
        if let Some(md) = crate::runtime::precode::precode_method_desc(self.space(), ip) {
            return Some(md);
        }
        let code = crate::runtime::stack::codemap::CodeMap::new(&self.runtime).ok()?;
        code.lookup(ip).ok()??.method_desc
    }

    /// `Namespace.Type.Method(params)` for a MethodDesc, as SOS names methods.
    pub fn method_desc_name(&self, md: u64) -> Option<String> {
        use crate::runtime::stack::names;
        let cache = names::MetadataCache::default();
        let types = |mt: u64| self.try_type_name(mt).map(|n| n.to_string());
        names::method_desc_name(&self.runtime, &cache, &types, md)
    }

    /// The MethodDesc a delegate calls: through `_methodPtrAux` when set (a static method,
    /// or an open delegate, called through a shuffle thunk in `_methodPtr`), else (or
    /// when that code is no method's) `_methodPtr`, as SOS looks.
    pub fn delegate_method(&self, d: &Delegate) -> Option<u64> {
        [d.method_ptr_aux, d.method_ptr].into_iter().filter(|&p| p != 0).find_map(|p| self.method_desc_of_code(p))
    }
}

/// An exception object, read through its fields by name.
#[derive(Clone, Copy)]
pub struct ExceptionObject<'h> {
    object: Object<'h>,
}

/// One frame of an exception's recorded stack trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackTraceEntry {
    pub ip: u64,
    pub sp: u64,
    pub method_desc: u64,
}

impl<'h> ExceptionObject<'h> {
    pub fn object(&self) -> Object<'h> {
        self.object
    }

    /// `_message`, at most `max_units` UTF-16 units.
    pub fn message(&self, max_units: usize) -> Option<String> {
        self.object.string_field("_message", max_units)
    }

    /// `_innerException`.
    pub fn inner(&self) -> Option<ObjectAddr> {
        self.object.reference_field("_innerException")
    }

    /// The chain of inner exceptions, outermost first, this one excluded (loop-proof).
    pub fn inner_chain(&self) -> Vec<ObjectAddr> {
        let mut chain: Vec<ObjectAddr> = Vec::new();
        let mut cur = self.inner();
        while let Some(addr) = cur {
            if chain.len() >= MAX_INNER_EXCEPTIONS || chain.contains(&addr) || addr == self.object.address {
                break;
            }
            chain.push(addr);
            cur = self.object.heap.object(addr).and_then(|o| o.exception()).and_then(|e| e.inner());
        }
        chain
    }

    /// `_HResult`.
    pub fn hresult(&self) -> Option<i32> {
        match self.object.field_value("_HResult")? {
            Value::I4(v) => Some(v),
            _ => None,
        }
    }

    /// `_stackTraceString` (set when the exception crossed a serialization boundary or
    /// was rethrown with its trace kept).
    pub fn stack_trace_string(&self, max_units: usize) -> Option<String> {
        self.object.string_field("_stackTraceString", max_units)
    }

    /// The frames the runtime recorded as the exception unwound (`_stackTrace`): a byte
    /// array of `StackTraceElement { ip, sp, MethodDesc*, flags }` (32 bytes each) after
    /// a 16-byte header whose first word counts them (a `size_t` on 8, a `u32` on 9 and
    /// 10, where `_stackTrace` may instead be an object array whose first element is that
    /// byte array).
    pub fn stack_trace(&self) -> Vec<StackTraceEntry> {
        let heap = self.object.heap;
        let Some(mut trace) = self.object.reference_field("_stackTrace").and_then(|a| heap.object(a)) else {
            return Vec::new();
        };
        let Ok(mut array) = trace.array() else { return Vec::new() };
        if array.element_type != et::U1 && array.element_type != et::I1 {
            // An object[]: the byte array is its first element.
            let Some(first) = array
                .element_address(0)
                .and_then(|a| heap.read_value(et::CLASS, a).ok())
                .and_then(Value::reference)
                .and_then(|a| heap.object(ObjectAddr(a)))
            else {
                return Vec::new();
            };
            trace = first;
            let Ok(a) = trace.array() else { return Vec::new() };
            array = a;
        }
        let space = heap.space();
        let bytes = array.capacity();
        let Ok(count) = space.read_u32(array.data).map(u64::from) else { return Vec::new() };
        let count = count.min(bytes.saturating_sub(STACK_TRACE_HEADER) / STACK_TRACE_ELEMENT).min(MAX_STACK_TRACE as u64);
        (0..count)
            .map_while(|i| {
                let at = array.data.wrapping_add(STACK_TRACE_HEADER + i * STACK_TRACE_ELEMENT);
                let b = space.read_array::<24>(at).ok()?;
                let word = |k: usize| u64::from_le_bytes(b[k * 8..k * 8 + 8].try_into().expect("8 bytes"));
                Some(StackTraceEntry { ip: word(0), sp: word(1), method_desc: word(2) })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bits_decode() {
        // A thin lock: managed thread 5, taken twice (recursion level 1).
        let h = ObjectHeader(0x0000_0405);
        assert_eq!(h.thin_lock(), Some((5, 1)));
        assert_eq!(h.sync_block_index(), None);
        assert_eq!(h.hash_code(), None);
        // No lock.
        assert_eq!(ObjectHeader(0).thin_lock(), None);
        // A sync block index: no thin lock even though the low bits are set.
        let h = ObjectHeader(0x0800_0003);
        assert_eq!(h.thin_lock(), None);
        assert_eq!(h.sync_block_index(), Some(3));
        assert_eq!(h.hash_code(), None);
        // A hash code.
        let h = ObjectHeader(0x0c12_3456);
        assert_eq!(h.hash_code(), Some(0x0012_3456));
        assert_eq!(h.sync_block_index(), None);
        // The GC's bits do not disturb the rest.
        let h = ObjectHeader(0x4000_0007);
        assert!(h.finalizer_run());
        assert_eq!(h.thin_lock(), Some((7, 0)));
    }

    #[test]
    fn object_addresses_print_as_hex() {
        assert_eq!(format!("{:016x}", ObjectAddr(0x7f00)), "0000000000007f00");
        assert!(ObjectAddr::NULL.is_null());
        assert_eq!(u64::from(ObjectAddr(9)), 9);
    }
}

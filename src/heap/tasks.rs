//! Tasks and async state machines on the heap, chained by their continuations into
//! "async stacks": the facts `dumpasync` renders, found the way dotnet-dump's DumpAsync
//! finds them, and a task's state flags (`taskstate`).
//!
//! Every object of the heap (in ClrMD's walk order: by heap, then by `heap_segment`) that
//! is bigger than 24 bytes and derives from `System.Threading.Tasks.Task` is a frame,
//! unless it completed and completed tasks are not wanted. A frame whose type is an
//! `AsyncTaskMethodBuilder<..>+AsyncStateMachineBox<..>` is an async method: its
//! `StateMachine` field holds the compiler's state machine (a struct in release builds, a
//! class in debug ones) and `<>1__state` the await it is paused at. A frame's
//! continuations come from `m_continuationObject`, followed through the wrappers the BCL
//! puts around them (a `List<object>` of several, a task continuation's `m_task`, an
//! action's `_target`, a `ContinuationWrapper`). A frame no other frame continues to is
//! the top of a stack.
//!
//! The field listing (`dumpasync --fields`) names each field's type the way ClrMD's
//! `ClrInstanceField.Type` does ([`Heap::clrmd_field_type`]): the exact instantiation when
//! the process loaded it, else the generic definition (`Foo<T1>`), else a placeholder
//! (`Object`, MethodTable 0) for a class the process never loaded.
use crate::heap::fields::FieldDesc;
use crate::metadata::signature::et;
use crate::heap::object::ObjectAddr;
use crate::heap::{Heap, HeapObject, WalkWarning};
use crate::metadata::signature::SigType;
use anyhow::Result;
use std::collections::HashMap;
use std::sync::Arc;

/// `m_stateFlags` bits of a finished task (RanToCompletion, Faulted, Canceled).
pub const TASK_STATE_COMPLETED_MASK: i32 = 0x0160_0000;
/// The prefix of an async method's box type.
const BOX_PREFIX: &str = "System.Runtime.CompilerServices.AsyncTaskMethodBuilder<";
/// Most continuations taken from one `List<object>`.
const MAX_LIST_CONTINUATIONS: u64 = 1 << 20;
/// Longest string value read for a field.
const MAX_STRING: usize = 1 << 16;

/// A state machine inside an async method's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateMachine {
    /// Its type.
    pub mt: u64,
    /// Where it is: the struct's first byte inside the box, or the object (a class).
    pub address: u64,
    /// A struct stored in the box (release builds) rather than an object.
    pub is_value_type: bool,
}

impl StateMachine {
    /// The first byte of its fields.
    pub fn data(&self) -> u64 {
        if self.is_value_type { self.address } else { self.address.wrapping_add(8) }
    }
}

/// One task or async method on the heap: a frame of an async stack.
#[derive(Debug, Clone)]
pub struct AsyncFrame {
    pub address: u64,
    pub mt: u64,
    /// Its type's name.
    pub type_name: Arc<str>,
    /// An async method's box (`AsyncStateMachineBox`).
    pub is_state_machine: bool,
    /// The compiler's state machine, for a box.
    pub state_machine: Option<StateMachine>,
    /// `<>1__state` of the state machine (0 without one).
    pub await_state: i32,
    /// `m_stateFlags`.
    pub flags: i32,
    /// What runs when it completes, unwrapped (frames or other objects).
    pub continuations: Vec<u64>,
    /// No other frame continues to it.
    pub top_level: bool,
}

/// The frames of the heap, in walk order, and how to find one by address.
#[derive(Debug, Default)]
pub struct AsyncFrames {
    pub frames: Vec<AsyncFrame>,
    index: HashMap<u64, usize>,
    /// `Task.s_taskCompletionSentinel` (0 when unknown).
    pub sentinel: u64,
}

impl AsyncFrames {
    /// The frame at `address`, if it is one.
    pub fn get(&self, address: u64) -> Option<&AsyncFrame> {
        self.index.get(&address).map(|&i| &self.frames[i])
    }
}

/// A field's type as ClrMD's `ClrInstanceField.Type` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClrmdType {
    /// Its MethodTable (0 for ClrMD's placeholders and constructed types).
    pub mt: u64,
    pub name: String,
    /// ClrMD's element type of the field: the FieldDesc's, or for a class or struct the
    /// type's own (`STRING`, `OBJECT`, `SZARRAY`, `ARRAY`, `CLASS`, `VALUETYPE`).
    pub element_type: u8,
}

/// A field's value as dumpasync displays it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldDisplay {
    Bool(bool),
    Char(u16),
    Signed(i64),
    Unsigned(u64),
    Single(f32),
    Double(f64),
    /// A string field's text (`None`: null).
    Str(Option<String>),
    /// A pointer-sized integer or pointer, shown in hex.
    Pointer(u64),
    /// A single-dimensional array: its element type's name and length.
    Array { component: String, length: u64 },
    /// A reference: null.
    Null,
    /// A reference to an object, or a struct's address.
    Address(u64),
    Var,
    GenericInstantiation,
    MVar,
    Void,
    Unknown,
}

/// One line of dumpasync's field listing.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRow {
    /// The object referred to (0 for null), or where the value is.
    pub address: u64,
    pub type_mt: u64,
    pub type_name: String,
    pub value: FieldDisplay,
    pub name: String,
}

/// What a frame's fields are read from: an object, or a struct at an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldSource {
    Object { address: u64, mt: u64 },
    Struct { address: u64, mt: u64 },
}

/// How an async method is paused, when dumpasync can tell: the awaiter it waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Awaiting {
    /// An awaiter object.
    Object { address: u64, mt: u64, type_name: String },
    /// An awaiter struct inside the state machine.
    Struct { address: u64, mt: u64, type_name: String },
}

impl Heap {
    /// Visits every object of the heap in ClrMD's order (by heap, then by
    /// `heap_segment` address), without keeping them; returns the walk's warnings.
    pub fn walk_clrmd_order(&self, mut visit: impl FnMut(HeapObject)) -> Vec<WalkWarning> {
        let mut segments: Vec<_> = self.segments.iter().collect();
        segments.sort_by_key(|s| (s.heap, s.address));
        let mut warnings = Vec::new();
        let mut sizes = crate::heap::SizeCache::default();
        for seg in segments {
            if let Some(w) = self.walk_segment(seg, &mut sizes, &mut visit) {
                warnings.push(w);
            }
        }
        warnings
    }

    /// The tasks and async methods of the heap, chained by continuations (completed
    /// ones only if `include_completed`), and the walk's warnings. `None` when the
    /// process has no `Task` type loaded.
    pub fn async_frames(&self, include_completed: bool) -> Result<(Option<AsyncFrames>, Vec<WalkWarning>)> {
        let Some(task_mt) = self.core_type("System.Threading.Tasks.Task") else {
            return Ok((None, Vec::new()));
        };
        let sentinel = self.read_static_object(task_mt, "s_taskCompletionSentinel").unwrap_or(0);
        // The tasks bigger than 24 bytes, in walk order.
        let mut is_task: HashMap<u64, bool> = HashMap::new();
        let mut tasks = Vec::new();
        let warnings = self.walk_clrmd_order(|o| {
            if o.size > 24 && *is_task.entry(o.mt).or_insert_with(|| self.derives_from(o.mt, task_mt)) {
                tasks.push(o);
            }
        });
        crate::interrupt::check()?;
        let mut found = AsyncFrames { sentinel, ..Default::default() };
        for o in tasks {
            crate::interrupt::check()?;
            if found.index.contains_key(&o.address) {
                continue;
            }
            let Some(flags) = self.task_state_flags(o.address) else { continue };
            if !include_completed && flags & TASK_STATE_COMPLETED_MASK != 0 {
                continue;
            }
            let type_name = self.type_name(o.mt);
            let is_state_machine = is_state_machine_box(&type_name);
            let mut frame = AsyncFrame {
                address: o.address,
                mt: o.mt,
                type_name,
                is_state_machine,
                state_machine: None,
                await_state: 0,
                flags,
                continuations: Vec::new(),
                top_level: true,
            };
            if is_state_machine && let Some(sm) = self.box_state_machine(o.address, o.mt) {
                frame.await_state = self
                    .source_field(FieldSource::from(sm), "<>1__state")
                    .and_then(|(fd, at)| (fd.element_type == et::I4).then(|| self.space().read_u32(at).ok()).flatten())
                    .map_or(0, |v| v as i32);
                frame.state_machine = Some(sm);
            }
            if let Some(c) = self.valid_reference_field(o.address, "m_continuationObject") {
                let c = self.resolve_continuation(c, task_mt);
                self.add_continuation(c, task_mt, &mut frame.continuations);
            }
            found.index.insert(o.address, found.frames.len());
            found.frames.push(frame);
        }
        let continued: Vec<usize> = found
            .frames
            .iter()
            .flat_map(|f| f.continuations.iter())
            .filter_map(|c| found.index.get(c).copied())
            .collect();
        for i in continued {
            found.frames[i].top_level = false;
        }
        Ok((Some(found), warnings))
    }

    /// Whether `mt` is `base` or derives from it.
    fn derives_from(&self, mt: u64, base: u64) -> bool {
        self.parent_chain(mt).is_ok_and(|chain| chain.contains(&base))
    }

    /// A task's `m_stateFlags`, if the object at `addr` has that field.
    pub fn task_state_flags(&self, addr: u64) -> Option<i32> {
        let mt = self.object_mt(addr).ok()?;
        let fd = self.instance_field(mt, "m_stateFlags").ok()?;
        Some(self.space().read_u32(self.object_field_addr(addr, &fd)).ok()? as i32)
    }

    /// The object held by reference field `name` of the object at `addr`, if the field
    /// exists and holds a valid object.
    fn valid_reference_field(&self, addr: u64, name: &str) -> Option<u64> {
        let mt = self.object_mt(addr).ok()?;
        let fd = self.instance_field(mt, name).ok()?;
        if fd.element_type != et::CLASS {
            return None;
        }
        let r = self.space().read_ptr(self.object_field_addr(addr, &fd)).ok()?;
        self.object(ObjectAddr(r)).filter(|o| !o.is_free()).map(|_| r)
    }

    /// The state machine of an async method's box.
    fn box_state_machine(&self, addr: u64, mt: u64) -> Option<StateMachine> {
        let fd = self.instance_field(mt, "StateMachine").ok()?;
        let at = self.object_field_addr(addr, &fd);
        if fd.element_type == et::VALUETYPE {
            let ty = self.clrmd_field_type(&fd, mt)?;
            (ty.mt != 0).then_some(StateMachine { mt: ty.mt, address: at, is_value_type: true })
        } else {
            let r = self.space().read_ptr(at).ok()?;
            let o = self.object(ObjectAddr(r)).filter(|o| !o.is_free())?;
            Some(StateMachine { mt: o.mt(), address: r, is_value_type: false })
        }
    }

    /// The field `name` of a struct or object, and where its value is.
    fn source_field(&self, source: FieldSource, name: &str) -> Option<(FieldDesc, u64)> {
        let (mt, data) = source.type_and_data();
        let fd = self.instance_field(mt, name).ok()?;
        Some((fd, data.wrapping_add(fd.offset as u64)))
    }

    /// Follows a continuation object to what will actually run.
    fn resolve_continuation(&self, mut c: u64, task_mt: u64) -> u64 {
        let Ok(mt) = self.object_mt(c) else { return c };
        if self.derives_from(mt, task_mt) && is_state_machine_box(&self.type_name(mt)) {
            return c;
        }
        if let Some(t) = self.valid_reference_field(c, "m_task") {
            return t;
        }
        if let Some(a) = self.valid_reference_field(c, "m_action") {
            c = a;
        }
        if let Some(t) = self.valid_reference_field(c, "_target") {
            c = t;
            let wrapper = self
                .object_mt(c)
                .is_ok_and(|mt| &*self.type_name(mt) == "System.Runtime.CompilerServices.AsyncMethodBuilderCore+ContinuationWrapper");
            if wrapper && let Some(w) = self.valid_reference_field(c, "_continuation") {
                c = w;
                if let Some(t) = self.valid_reference_field(c, "_target") {
                    c = t;
                }
            }
        }
        c
    }

    /// Adds a continuation, or each element of a `List<object>` of them.
    fn add_continuation(&self, c: u64, task_mt: u64, out: &mut Vec<u64>) {
        let Ok(mt) = self.object_mt(c) else { return };
        let Some(name) = self.try_type_name(mt) else { return };
        if !name.starts_with("System.Collections.Generic.List<") {
            out.push(c);
            return;
        }
        let Some(items) = self.valid_reference_field(c, "_items") else { return };
        let Some(array) = self.object(ObjectAddr(items)).and_then(|o| o.array().ok()) else { return };
        if array.rank != 1 {
            return;
        }
        let n = (array.length as u64).min(array.capacity()).min(MAX_LIST_CONTINUATIONS);
        for i in 0..n {
            let Some(at) = array.element_address(i) else { break };
            let Ok(r) = self.space().read_ptr(at) else { break };
            if self.object(ObjectAddr(r)).is_some_and(|o| !o.is_free()) {
                out.push(self.resolve_continuation(r, task_mt));
            }
        }
    }

    /// How dumpasync names a frame or a continuation: its type (an async method's box
    /// by its state machine's type), a task's delegate's method, or the completion
    /// sentinel.
    pub fn async_description(&self, addr: u64, sentinel: u64) -> String {
        let Some(name) = self.object_mt(addr).ok().and_then(|mt| self.try_type_name(mt)) else {
            return String::new();
        };
        if is_state_machine_box(&name) {
            if let Some(pos) = name.find("StateMachineBox<") {
                let inner = &name[pos + "StateMachineBox<".len()..];
                return inner[..inner.len().saturating_sub(1)].to_string();
            }
            return name.to_string();
        }
        if let Some(action) = self.valid_reference_field(addr, "m_action") {
            if let Some(sig) = self.delegate_signature(action) {
                return format!("{name} {{{sig}}}");
            }
            return name.to_string();
        }
        if addr != 0 && addr == sentinel {
            return "TaskCompletionSentinel".to_string();
        }
        name.to_string()
    }

    /// The method a delegate calls, named as the DAC names methods (ClrMD's
    /// `ClrMethod.Signature`): `_methodPtr`'s, else `_methodPtrAux`'s.
    fn delegate_signature(&self, delegate: u64) -> Option<String> {
        let mt = self.object_mt(delegate).ok()?;
        let ptr = self.instance_field(mt, "_methodPtr").ok()?;
        let aux = self.instance_field(mt, "_methodPtrAux").ok()?;
        let read = |fd: &FieldDesc| self.space().read_u64(self.object_field_addr(delegate, fd)).ok();
        let p = read(&ptr)?;
        if p == 0 {
            return None;
        }
        let md = self.method_desc_of_code(p).or_else(|| {
            let a = read(&aux)?;
            (a != 0).then(|| self.method_desc_of_code(a)).flatten()
        })?;
        self.method_desc_name(md)
    }

    /// The awaiter an async method at the top of a stack is paused on, found as
    /// dumpasync finds it: `<>u__1` when the state is 0 or it is the only awaiter field,
    /// else the first awaiter field that is not null (an object) or not all zeros (a
    /// struct: the compiler clears an awaiter when done with it).
    pub fn awaited(&self, sm: &StateMachine) -> Option<Awaiting> {
        let source = FieldSource::from(*sm);
        let fields = self.instance_fields(sm.mt).ok()?;
        let awaiters: Vec<&(String, FieldDesc)> =
            fields.iter().filter(|(n, _)| n.is_empty() || n.starts_with("<>u__")).collect();
        let state = self
            .source_field(source, "<>1__state")
            .and_then(|(_, at)| self.space().read_u32(at).ok())
            .map_or(0, |v| v as i32);
        if state == 0 || awaiters.len() == 1 {
            let (_, fd) = fields.iter().find(|(n, _)| n == "<>u__1")?;
            return self.awaiter_of(source, fd, sm.mt);
        }
        for (name, fd) in fields.iter() {
            if !name.starts_with("<>u__") {
                continue;
            }
            let ty = self.clrmd_field_type(fd, sm.mt)?;
            if is_reference(ty.element_type) {
                let at = source.type_and_data().1.wrapping_add(fd.offset as u64);
                let r = self.space().read_ptr(at).ok()?;
                if r != 0 {
                    return self.awaiter_of(source, fd, sm.mt);
                }
            } else if ty.element_type == et::VALUETYPE && ty.mt != 0 {
                let at = source.type_and_data().1.wrapping_add(fd.offset as u64);
                let size = self.method_table(ty.mt).ok()?.base_size.saturating_sub(16) as usize;
                let mut bytes = vec![0u8; size.min(1 << 16)];
                self.space().read(at, &mut bytes).ok()?;
                if bytes.iter().any(|&b| b != 0) {
                    return self.awaiter_of(source, fd, sm.mt);
                }
            }
        }
        None
    }

    fn awaiter_of(&self, source: FieldSource, fd: &FieldDesc, owner: u64) -> Option<Awaiting> {
        let ty = self.clrmd_field_type(fd, owner)?;
        let at = source.type_and_data().1.wrapping_add(fd.offset as u64);
        if is_reference(ty.element_type) {
            let r = self.space().read_ptr(at).ok()?;
            let mt = self.object(ObjectAddr(r))?.mt();
            return Some(Awaiting::Object { address: r, mt, type_name: self.type_name(mt).to_string() });
        }
        if ty.element_type == et::VALUETYPE {
            return Some(Awaiting::Struct { address: at, mt: ty.mt, type_name: ty.name });
        }
        None
    }

    /// The rows of dumpasync's field listing of a state machine or task.
    pub fn async_field_rows(&self, source: FieldSource) -> Vec<FieldRow> {
        let (mt, data) = source.type_and_data();
        let Ok(fields) = self.instance_fields(mt) else { return Vec::new() };
        let mut rows = Vec::new();
        for (name, fd) in fields.iter() {
            let Some(ty) = self.clrmd_field_type(fd, mt) else { continue };
            let at = data.wrapping_add(fd.offset as u64);
            let reference = is_reference(ty.element_type);
            let address = if reference { self.space().read_ptr(at).unwrap_or(0) } else { at };
            // ClrMD shows a struct's address as if the owner were always an object.
            let struct_at = match source {
                FieldSource::Object { .. } => at,
                FieldSource::Struct { .. } => at.wrapping_add(8),
            };
            let value = self.display_value(ty.element_type, at, struct_at).unwrap_or(FieldDisplay::Unknown);
            rows.push(FieldRow { address, type_mt: ty.mt, type_name: ty.name, value, name: name.clone() });
        }
        rows
    }

    fn display_value(&self, element_type: u8, at: u64, struct_at: u64) -> Option<FieldDisplay> {
        let s = self.space();
        Some(match element_type {
            et::BOOLEAN => FieldDisplay::Bool(s.read_u8(at).ok()? != 0),
            et::CHAR => FieldDisplay::Char(s.read_u16(at).ok()?),
            et::I1 => FieldDisplay::Signed(s.read_u8(at).ok()? as i8 as i64),
            et::U1 => FieldDisplay::Unsigned(s.read_u8(at).ok()? as u64),
            et::I2 => FieldDisplay::Signed(s.read_u16(at).ok()? as i16 as i64),
            et::U2 => FieldDisplay::Unsigned(s.read_u16(at).ok()? as u64),
            et::I4 => FieldDisplay::Signed(s.read_u32(at).ok()? as i32 as i64),
            et::U4 => FieldDisplay::Unsigned(s.read_u32(at).ok()? as u64),
            et::I8 => FieldDisplay::Signed(s.read_u64(at).ok()? as i64),
            et::U8 => FieldDisplay::Unsigned(s.read_u64(at).ok()?),
            et::R4 => FieldDisplay::Single(f32::from_bits(s.read_u32(at).ok()?)),
            et::R8 => FieldDisplay::Double(f64::from_bits(s.read_u64(at).ok()?)),
            et::STRING => {
                let r = s.read_ptr(at).ok()?;
                FieldDisplay::Str(if r == 0 { None } else { self.string_value(r, MAX_STRING).ok() })
            }
            et::PTR | et::I | et::U | et::FNPTR => FieldDisplay::Pointer(s.read_u64(at).ok()?),
            et::SZARRAY => {
                let r = s.read_ptr(at).ok()?;
                if r == 0 {
                    FieldDisplay::Null
                } else {
                    let o = self.object(ObjectAddr(r))?;
                    let a = o.array().ok()?;
                    let component = self.clrmd_type_handle_name(a.element_mt);
                    FieldDisplay::Array { component, length: a.length as u64 }
                }
            }
            et::VALUETYPE => FieldDisplay::Address(struct_at),
            et::ARRAY | et::OBJECT | et::CLASS => match s.read_ptr(at).ok()? {
                0 => FieldDisplay::Null,
                r => FieldDisplay::Address(r),
            },
            et::VAR => FieldDisplay::Var,
            et::GENERICINST => FieldDisplay::GenericInstantiation,
            et::MVAR => FieldDisplay::MVar,
            et::VOID => FieldDisplay::Void,
            _ => FieldDisplay::Unknown,
        })
    }

    /// A type handle's name as ClrMD gives it (a generic definition's parameters as
    /// `T1`, `T2`...).
    fn clrmd_type_handle_name(&self, th: u64) -> String {
        if th & 2 != 0 {
            return "T".to_string();
        }
        self.clrmd_type_name(th)
    }

    /// A MethodTable's name as ClrMD gives it: the generic definition's own
    /// MethodTable (its arguments the generic parameters) as `Name<T1, T2>`.
    pub fn clrmd_type_name(&self, mt: u64) -> String {
        if let Ok(args) = self.generic_args(mt)
            && !args.is_empty()
            && args.iter().all(|&a| a & 2 != 0 && self.type_desc(a).is_ok_and(|(t, _)| t == et::VAR as u32))
            && let Ok(info) = self.method_table(mt)
            && let Some(md) = self.module_metadata(info.module)
            && let Ok(raw) = md.type_full_name(info.token & 0x00ff_ffff)
        {
            let names: Vec<String> = (1..=args.len()).map(|i| format!("T{i}")).collect();
            return crate::metadata::with_generic_args(&raw, &names);
        }
        self.type_name(mt).to_string()
    }

    /// The type of field `fd` of a type `owner` as ClrMD's `ClrInstanceField.Type` gives
    /// it: from the field's signature, a type variable taken from `owner`'s own
    /// instantiation, an instantiation the process loaded or else its generic definition,
    /// a class the process never loaded as ClrMD's `Object` placeholder. `None` when the
    /// signature cannot be read.
    pub fn clrmd_field_type(&self, fd: &FieldDesc, owner: u64) -> Option<ClrmdType> {
        let sig = self.field_sig(fd)?;
        let module = self.method_table(fd.enclosing_mt).ok()?.module;
        let ctx = self.generic_args(owner).unwrap_or_default();
        // ClrMD finds a type argument by its name among the types it has met: a generic
        // struct (never an object on the heap) is not found, and the field keeps the
        // type the runtime gave the canonical FieldDesc (`ValueTuple<__Canon, ..>`).
        if let SigType::Var(n) = sig
            && let Some(&arg) = ctx.get(n as usize)
            && arg & 2 == 0
            && self.method_table(arg).is_ok_and(|i| i.is_value_type())
            && self.generic_args(arg).is_ok_and(|a| !a.is_empty())
            && let Some(mt) = self.field_type_mt(fd)
        {
            let name = self.clrmd_type_name(mt);
            return Some(ClrmdType { mt, name, element_type: et::VALUETYPE });
        }
        let (mt, name) = self.clrmd_sig_type(&sig, module, &ctx, 0)?;
        let element_type = match fd.element_type {
            et::CLASS | et::VALUETYPE => self.clrmd_element_type(&sig, mt, &ctx),
            t => t,
        };
        Some(ClrmdType { mt, name, element_type })
    }

    /// ClrMD's element type of a class or struct field whose type is `mt`.
    fn clrmd_element_type(&self, sig: &SigType, mt: u64, ctx: &[u64]) -> u8 {
        let sig = match sig {
            SigType::Var(n) => match ctx.get(*n as usize) {
                Some(&th) if th & 2 == 0 => None,
                _ => return et::CLASS,
            },
            s => Some(s),
        };
        match sig {
            Some(SigType::String) => return et::STRING,
            Some(SigType::Object) => return et::OBJECT,
            Some(SigType::SzArray(_)) => return et::SZARRAY,
            Some(SigType::Array { .. }) => return et::ARRAY,
            _ => {}
        }
        if mt == 0 {
            return if matches!(sig, Some(SigType::ValueType(_))) { et::VALUETYPE } else { et::OBJECT };
        }
        if mt == self.runtime.globals.string_mt {
            return et::STRING;
        }
        if mt == self.runtime.globals.object_mt {
            return et::OBJECT;
        }
        match self.method_table(mt) {
            Ok(info) if info.is_array() => {
                if self.type_name(mt).ends_with("[]") {
                    et::SZARRAY
                } else {
                    et::ARRAY
                }
            }
            Ok(info) if info.is_value_type() => et::VALUETYPE,
            _ => et::CLASS,
        }
    }

    fn clrmd_sig_type(&self, sig: &SigType, module: u64, ctx: &[u64], depth: usize) -> Option<(u64, String)> {
        if depth > 32 {
            return None;
        }
        let basic = |name: &'static str| -> (u64, String) { (self.core_type(name).unwrap_or(0), name.to_string()) };
        Some(match sig {
            SigType::Boolean => basic("System.Boolean"),
            SigType::Char => basic("System.Char"),
            SigType::I1 => basic("System.SByte"),
            SigType::U1 => basic("System.Byte"),
            SigType::I2 => basic("System.Int16"),
            SigType::U2 => basic("System.UInt16"),
            SigType::I4 => basic("System.Int32"),
            SigType::U4 => basic("System.UInt32"),
            SigType::I8 => basic("System.Int64"),
            SigType::U8 => basic("System.UInt64"),
            SigType::R4 => basic("System.Single"),
            SigType::R8 => basic("System.Double"),
            SigType::I => basic("System.IntPtr"),
            SigType::U => basic("System.UIntPtr"),
            SigType::Void => basic("System.Void"),
            SigType::String => (self.runtime.globals.string_mt, "System.String".to_string()),
            SigType::Object => (self.runtime.globals.object_mt, "System.Object".to_string()),
            SigType::Class(_) | SigType::ValueType(_) => match self.resolve_sig(sig, module, ctx, depth) {
                Some(mt) if mt & 2 == 0 => (mt, self.clrmd_type_name(mt)),
                _ if matches!(sig, SigType::ValueType(_)) => basic("System.ValueType"),
                _ => (0, "Object".to_string()),
            },
            SigType::GenericInst { generic, .. } => match self.resolve_sig(sig, module, ctx, depth) {
                Some(mt) if mt & 2 == 0 => (mt, self.clrmd_type_name(mt)),
                _ => match self.resolve_sig(&SigType::Class(*generic), module, ctx, depth) {
                    Some(mt) if mt & 2 == 0 => (mt, self.clrmd_type_name(mt)),
                    _ => (0, "Object".to_string()),
                },
            },
            SigType::Var(n) => match ctx.get(*n as usize) {
                Some(&th) if th & 2 == 0 => (th, self.clrmd_type_name(th)),
                _ => (0, "T".to_string()),
            },
            SigType::SzArray(e) => {
                let (_, inner) = self.clrmd_sig_type(e, module, ctx, depth + 1).unwrap_or((0, "Void".to_string()));
                (0, format!("{inner}[]"))
            }
            SigType::Array { elem, rank, .. } => {
                let (_, inner) = self.clrmd_sig_type(elem, module, ctx, depth + 1).unwrap_or((0, "Void".to_string()));
                (0, format!("{inner}[{}]", ",".repeat((*rank as usize).saturating_sub(1))))
            }
            SigType::Ptr(e) => {
                let (_, inner) = self.clrmd_sig_type(e, module, ctx, depth + 1).unwrap_or((0, "Void".to_string()));
                (0, format!("{inner}*"))
            }
            _ => return None,
        })
    }
}

impl FieldSource {
    /// The type and the first byte of the fields.
    pub fn type_and_data(&self) -> (u64, u64) {
        match *self {
            FieldSource::Object { address, mt } => (mt, address.wrapping_add(8)),
            FieldSource::Struct { address, mt } => (mt, address),
        }
    }
}

impl From<StateMachine> for FieldSource {
    fn from(sm: StateMachine) -> FieldSource {
        if sm.is_value_type {
            FieldSource::Struct { address: sm.address, mt: sm.mt }
        } else {
            FieldSource::Object { address: sm.address, mt: sm.mt }
        }
    }
}

/// Whether ClrMD's element type is a reference.
fn is_reference(t: u8) -> bool {
    matches!(t, et::CLASS | et::STRING | et::OBJECT | et::ARRAY | et::SZARRAY)
}

/// Whether a type name is an async method's box (`AsyncTaskMethodBuilder<..>+AsyncStateMachineBox<..>`).
pub fn is_state_machine_box(name: &str) -> bool {
    name.starts_with(BOX_PREFIX) && name[BOX_PREFIX.len()..].contains("AsyncStateMachineBox")
}

/// The interesting flags of a task's state, as dumpasync lists them (`" "` for none).
pub fn describe_task_flags(flags: i32) -> String {
    const NAMES: &[(i32, &str)] = &[
        (0x10000, "Started"),
        (0x20000, "DelegateInvoked"),
        (0x40000, "Disposed"),
        (0x80000, "ExceptionObservedByParent"),
        (0x100000, "CancellationAcknowledged"),
        (0x200000, "Faulted"),
        (0x400000, "Canceled"),
        (0x800000, "WaitingOnChildren"),
        (0x1000000, "RanToCompletion"),
        (0x4000000, "CompletionReserved"),
    ];
    let set: Vec<&str> = NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| *n).collect();
    if set.is_empty() { " ".to_string() } else { set.join("|") }
}

/// A task's status (`TaskStatus`) from its state flags, as `taskstate` names it; `None`
/// for flags that make no status.
pub fn task_status(flags: u64) -> Option<&'static str> {
    Some(if flags & 0x0020_0000 != 0 {
        "Faulted"
    } else if flags & 0x0040_0000 != 0 {
        "Canceled"
    } else if flags & 0x0100_0000 != 0 {
        "RanToCompletion"
    } else if flags & 0x0080_0000 != 0 {
        "WaitingForChildrenToComplete"
    } else if flags & 0x0002_0000 != 0 {
        "Running"
    } else if flags & 0x0001_0000 != 0 {
        "WaitingToRun"
    } else if flags & 0x0200_0000 != 0 {
        "WaitingForActivation"
    } else if flags == 0 {
        "Created"
    } else {
        return None;
    })
}

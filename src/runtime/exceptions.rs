//! Exception objects as the DAC reads them for `printexception` and `dumpexceptions`: the
//! fields of the runtime's `ExceptionObject` ([`super::layouts::ExceptionLayout`]) and
//! the stack trace the runtime records while the exception propagates.
//!
//! The stack trace is a `byte[]` (on 9 and 10 possibly held as the first element of an
//! `object[]`): after the array header, a count (the first 8 bytes on 8; 4 bytes, then 4
//! more, on 9 and 10) and a pointer, then one 32-byte element per frame: `{ip, sp,
//! MethodDesc*, flags}`. The IP of a managed throw is recorded one byte back (into the
//! call).
use super::Runtime;
use anyhow::{bail, Context, Result};

/// Most stack trace elements read.
const MAX_FRAMES: u64 = 1 << 16;
const ELEMENT_SIZE: u64 = 32;
/// `_xcode` of an exception thrown by managed code (`EXCEPTION_COMPLUS`).
pub const EXCEPTION_COMPLUS: u32 = 0xe043_4352;

/// One recorded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackTraceElement {
    pub ip: u64,
    pub sp: u64,
    pub method_desc: u64,
    pub flags: u32,
}

/// An exception object's fields.
#[derive(Debug, Clone, Default)]
pub struct ExceptionObject {
    /// The `_message` string object, or 0.
    pub message: u64,
    pub inner_exception: u64,
    pub stack_trace_string: u64,
    pub hresult: u32,
    pub xcode: u32,
    /// The recorded frames; `None` when there is no stack trace array.
    pub stack_trace: Option<Vec<StackTraceElement>>,
}

/// Whether `mt` is `System.Exception` or derives from it.
pub fn is_exception_type(rt: &Runtime, mt: u64) -> bool {
    let target = rt.globals.exception_mt;
    let mut cur = mt;
    for _ in 0..64 {
        if cur == 0 {
            return false;
        }
        if cur == target {
            return true;
        }
        cur = match rt.space.read_ptr(cur.wrapping_add(rt.layout.method_table.parent)) {
            Ok(p) => p,
            Err(_) => return false,
        };
    }
    false
}

/// Reads the exception object at `addr`.
pub fn read_exception(rt: &Runtime, addr: u64) -> Result<ExceptionObject> {
    let space = &*rt.space;
    let l = &rt.layout.exception;
    let field = |off: u64| space.read_ptr(addr.wrapping_add(off)).with_context(|| format!("cannot read the exception at {addr:#x}"));
    let trace = field(l.stack_trace)?;
    Ok(ExceptionObject {
        message: field(l.message)?,
        inner_exception: field(l.inner_exception)?,
        stack_trace_string: field(l.stack_trace_string)?,
        hresult: space.read_u32(addr.wrapping_add(l.hresult))?,
        xcode: space.read_u32(addr.wrapping_add(l.xcode))?,
        stack_trace: if trace == 0 { None } else { Some(read_stack_trace(rt, trace)?) },
    })
}

/// The frames of a stack trace array.
fn read_stack_trace(rt: &Runtime, array: u64) -> Result<Vec<StackTraceElement>> {
    let space = &*rt.space;
    let o = &rt.layout.object;
    let mut array = array;
    // An object[] holds the byte[] as its first element.
    let mt = space.read_ptr(array)? & !o.mt_unmask;
    let element_type = space.read_ptr(mt.wrapping_add(rt.layout.method_table.per_inst_info)).unwrap_or(0);
    if element_type == rt.globals.object_mt {
        array = space.read_ptr(array.wrapping_add(o.array_data))?;
        if array == 0 {
            return Ok(Vec::new());
        }
    }
    let length = space.read_u32(array.wrapping_add(o.array_length))? as u64;
    if length == 0 {
        return Ok(Vec::new());
    }
    let data = array.wrapping_add(o.array_data);
    let count = if rt.version.major >= 9 { space.read_u32(data)? as u64 } else { space.read_u64(data)? };
    if count > MAX_FRAMES || count.saturating_mul(ELEMENT_SIZE) > length {
        bail!("the stack trace at {array:#x} claims {count} frames in {length} bytes");
    }
    let first = data.wrapping_add(16);
    (0..count)
        .map(|i| {
            let e = first.wrapping_add(i * ELEMENT_SIZE);
            Ok(StackTraceElement {
                ip: space.read_u64(e)?,
                sp: space.read_u64(e.wrapping_add(8))?,
                method_desc: space.read_u64(e.wrapping_add(16))?,
                flags: space.read_u32(e.wrapping_add(24))?,
            })
        })
        .collect()
}

/// HRESULTs the runtime raises for hardware faults (`MapWin32FaultToCOMPlusException`):
/// an exception with one of these was (SOS assumes) thrown by the processor, and the IPs
/// of its stack trace were not moved back into the call.
const ASYNC_HRESULTS: [u32; 7] = [0x8007_0216, 0x8013_1516, 0x8002_0012, 0x8013_1537, 0x8000_4003, 0x8000_4003, 0x8013_1541];

impl ExceptionObject {
    /// Whether SOS treats the exception as a hardware (asynchronous) one.
    pub fn is_async(&self) -> bool {
        self.xcode != EXCEPTION_COMPLUS || ASYNC_HRESULTS.contains(&self.hresult)
    }
}

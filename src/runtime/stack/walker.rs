//! The stack walk of one thread: managed frames through the code map and the unwinder,
//! native stretches through the Frame chain, and the GC slots live in each frame.
use super::codemap::{CodeInfo, CodeMap};
use super::frames::{frame_chain, frame_context, frame_method_desc, frame_roots, ExplicitFrame, FrameKinds};
use super::gcinfo::{GcInfo, SlotBase, SlotLocation};
use super::names::{method_def_name, method_desc_name, MetadataCache, TypeNamer};
use super::unwind::{is_callee_saved, unwind_frame, RegContext, REGISTER_NAMES};
use super::StackRoot;
use crate::dump::ThreadRegisters;
use crate::runtime::threads::ManagedThread;
use crate::runtime::Runtime;
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most frames (managed and explicit) walked on one thread.
const MAX_STEPS: usize = 10_000;
/// Largest GC info read for one method.
const MAX_GC_INFO: usize = 64 << 10;

/// A frame of the walk, for printing stacks (gcroot's `Thread` sections, clrstack).
///
/// A managed frame has its SP and IP and its method (`name` is `Type.Method(params)`). A
/// runtime Frame has its address as `sp`, the IP of the context the walk had when it came
/// to the Frame (the thread's own IP for a Frame below every managed frame, as the DAC's
/// walk reports it), its class name as `name`, and for a Frame that stands for a method
/// (a HelperMethodFrame's FCALL) that method in `method` and `function`.
#[derive(Debug, Clone)]
pub struct StackFrame {
    pub kind: StackFrameKind,
    pub sp: u64,
    pub ip: u64,
    pub method: Option<u64>,
    pub name: Option<String>,
    /// For a runtime Frame, the signature of the method it stands for.
    pub function: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackFrameKind {
    Managed,
    /// A runtime Frame (the `sp` is its address).
    Explicit,
}

/// The walk of one thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadStack {
    pub frames: Vec<StackFrame>,
    pub roots: Vec<StackRoot>,
    /// Problems that did not stop the walk.
    pub warnings: Vec<String>,
}

struct DecodedGcInfo {
    bytes: Vec<u8>,
    info: GcInfo,
}

/// Stack walks over one runtime; caches code lookups, GC info, metadata and names.
pub struct StackWalk<'a> {
    rt: &'a Runtime,
    code: CodeMap<'a>,
    kinds: FrameKinds,
    metadata: MetadataCache,
    gc_infos: Mutex<HashMap<u64, Arc<DecodedGcInfo>>>,
    names: Mutex<HashMap<(u64, u64, u32), Option<String>>>,
    types: Option<&'a TypeNamer<'a>>,
}

impl<'a> StackWalk<'a> {
    pub fn new(rt: &'a Runtime) -> Result<StackWalk<'a>> {
        Ok(StackWalk {
            rt,
            code: CodeMap::new(rt)?,
            kinds: FrameKinds::new(rt),
            metadata: MetadataCache::default(),
            gc_infos: Mutex::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
            types: None,
        })
    }

    /// Names method owners with `types` (e.g. a Heap's type names) instead of the
    /// built-in metadata-only namer.
    pub fn with_type_names(mut self, types: &'a TypeNamer<'a>) -> Self {
        self.types = Some(types);
        self
    }


    /// Walks one thread.
    pub fn thread(&self, thread: &ManagedThread) -> Result<ThreadStack> {
        let mut out = ThreadStack::default();
        let chain = frame_chain(self.rt, &self.kinds, thread)?;
        let regs = self.rt.space.core().threads.iter().find(|t| t.tid == thread.os_id);
        let start_sp = regs.map(|r| r.rsp()).unwrap_or(0);
        // Frames that hold references themselves. They are reported in walk order with the
        // managed frames (sorted in by address at the end).
        for f in chain.iter().filter(|f| f.address >= start_sp) {
            match frame_roots(self.rt, f) {
                Ok(roots) => {
                    for (slot, object) in roots {
                        out.roots.push(self.root(thread, Some(slot), None, None, object, false, false, f.address, 0, None, Some(f.name())));
                    }
                }
                Err(e) => out.warnings.push(format!("{} at {:#x}: {e:#}", f.name(), f.address)),
            }
        }
        let mut ctx: Option<(RegContext, bool)> = regs.map(|r| (context_of(r), true));
        // The IP of the last context, which the DAC reports for the runtime Frames it meets.
        let mut ip = regs.map(|r| r.rip()).unwrap_or(0);
        let mut sp = start_sp;
        let mut next_frame = 0usize;
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > MAX_STEPS {
                bail!("more than {MAX_STEPS} frames");
            }
            if let Some((c, active)) = ctx.take() {
                let code = match self.code.lookup(c.rip) {
                    Ok(code) => code,
                    Err(e) => {
                        out.warnings.push(format!("code lookup at {:#x}: {e:#}", c.rip));
                        None
                    }
                };
                if let Some(code) = code {
                    if c.rsp() < sp {
                        bail!("frame at {:#x} is below the previous one ({sp:#x})", c.rsp());
                    }
                    let caller = unwind_frame(&*self.rt.space, code.image_base, code.function_begin, code.unwind_info, &c, active)?;
                    let name = self.method_name(&code);
                    self.report_frame(thread, &code, &c, &caller, active, name.clone(), &mut out);
                    out.frames.push(StackFrame { kind: StackFrameKind::Managed, sp: c.rsp(), ip: c.rip, method: code.method_desc, name, function: None });
                    if caller.rsp() <= c.rsp() {
                        bail!("unwinding {:#x} did not move the stack pointer", c.rip);
                    }
                    sp = c.rsp();
                    ctx = Some((caller, false));
                    continue;
                }
                sp = sp.max(c.rsp());
                ip = c.rip;
            }
            // Native code: the next Frame above SP that resumes managed code.
            let mut resumed = None;
            while next_frame < chain.len() && resumed.is_none() {
                let f: &ExplicitFrame = &chain[next_frame];
                next_frame += 1;
                if f.address < sp {
                    continue;
                }
                let method = frame_method_desc(self.rt, f);
                let function = method.and_then(|md| self.method_desc_name(md));
                out.frames.push(StackFrame { kind: StackFrameKind::Explicit, sp: f.address, ip, method, name: Some(f.name()), function });
                if f.kind.is_none() {
                    out.warnings.push(format!("unknown Frame kind {:#x} at {:#x}", f.raw, f.address));
                }
                match frame_context(self.rt, &self.code, f) {
                    Ok(r) => resumed = r,
                    Err(e) => out.warnings.push(format!("{} at {:#x}: {e:#}", f.name(), f.address)),
                }
            }
            match resumed {
                Some(fc) => ctx = Some((fc.context, fc.active)),
                None => break,
            }
        }
        // Walk order: a Frame's roots come before those of the managed frames above it.
        // Managed frames are in increasing SP order already; the sort is stable.
        out.roots.sort_by_key(|r| r.frame_sp);
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn root(
        &self,
        thread: &ManagedThread,
        slot: Option<u64>,
        register: Option<&'static str>,
        offset: Option<i32>,
        object: u64,
        interior: bool,
        pinned: bool,
        frame_sp: u64,
        frame_ip: u64,
        method: Option<u64>,
        method_name: Option<String>,
    ) -> StackRoot {
        StackRoot {
            os_thread_id: thread.os_id,
            thread: thread.address,
            slot,
            register,
            offset,
            object,
            interior,
            pinned,
            conservative: false,
            frame_sp,
            frame_ip,
            method,
            method_name,
        }
    }

    fn gc_info(&self, addr: u64, version: u32) -> Result<Arc<DecodedGcInfo>> {
        if let Some(g) = self.gc_infos.lock().ok().and_then(|m| m.get(&addr).cloned()) {
            return Ok(g);
        }
        // The length is only known after decoding: read as much as is there, up to a cap.
        let mut len = MAX_GC_INFO;
        let bytes = loop {
            match self.rt.space.read_vec(addr, len) {
                Ok(b) => break b,
                Err(e) if len <= 64 => return Err(e.into()),
                Err(_) => len /= 2,
            }
        };
        let info = GcInfo::decode(&bytes, version)?;
        let g = Arc::new(DecodedGcInfo { bytes, info });
        if let Ok(mut m) = self.gc_infos.lock() {
            m.insert(addr, g.clone());
        }
        Ok(g)
    }

    fn method_desc_name(&self, md: u64) -> Option<String> {
        self.cached_name((md, 0, 0))
    }

    fn method_name(&self, code: &CodeInfo) -> Option<String> {
        let key = match (code.method_desc, code.module_method) {
            (Some(md), _) => (md, 0, 0),
            (None, Some((module, rid))) => (0, module, rid),
            (None, None) => return None,
        };
        self.cached_name(key)
    }

    /// A method's name, once per method: by MethodDesc `(md, 0, 0)`, or by module and
    /// MethodDef row `(0, module, rid)` for ReadyToRun code without one.
    fn cached_name(&self, key: (u64, u64, u32)) -> Option<String> {
        if let Some(n) = self.names.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return n;
        }
        let no_types = |_: u64| None;
        let types: &TypeNamer = match self.types {
            Some(t) => t,
            None => &no_types,
        };
        let name = match key {
            (md, 0, 0) => method_desc_name(self.rt, &self.metadata, types, md),
            (_, module, rid) => method_def_name(self.rt, &self.metadata, module, rid),
        };
        if let Ok(mut m) = self.names.lock() {
            m.insert(key, name.clone());
        }
        name
    }

    /// Reports the live GC slots of a managed frame. `c` is the frame's context, `caller`
    /// its caller's (for caller-SP-relative slots). Only an active frame (a thread stopped
    /// there, or an interrupted context) reports scratch registers and outgoing-area slots.
    #[allow(clippy::too_many_arguments)]
    fn report_frame(
        &self,
        thread: &ManagedThread,
        code: &CodeInfo,
        c: &RegContext,
        caller: &RegContext,
        active: bool,
        name: Option<String>,
        out: &mut ThreadStack,
    ) {
        let gc = match self.gc_info(code.gc_info, code.gc_info_version) {
            Ok(g) => g,
            Err(e) => {
                out.warnings.push(format!("GC info of the frame at {:#x}: {e:#}", c.rip));
                return;
            }
        };
        let Some(offset) = c.rip.checked_sub(code.method_start).and_then(|o| u32::try_from(o).ok()) else {
            out.warnings.push(format!("frame at {:#x}: outside its method", c.rip));
            return;
        };
        let live = match gc.info.live_slots(&gc.bytes, offset) {
            Ok(l) => l,
            Err(e) => {
                out.warnings.push(format!("GC info of the frame at {:#x}: {e:#}", c.rip));
                return;
            }
        };
        for slot in live {
            let (addr, register, off, value) = match slot.location {
                SlotLocation::Register(r) => {
                    let r = r as usize;
                    if !active && !is_callee_saved(r) {
                        continue;
                    }
                    let Some(v) = c.get(r) else { continue };
                    (c.locations[r], Some(REGISTER_NAMES[r]), None, v)
                }
                SlotLocation::Stack { base, offset } => {
                    if !active && base == SlotBase::Sp && (offset as i64) < gc.info.scratch_area as i64 {
                        continue;
                    }
                    let (base_value, register) = match base {
                        // The DAC names the caller's SP register `caller.rsp`.
                        SlotBase::CallerSp => (Some(caller.rsp()), Some("caller.rsp")),
                        SlotBase::Sp => (Some(c.rsp()), Some("rsp")),
                        SlotBase::FrameRegister => {
                            let r = gc.info.stack_base_register.unwrap_or(5) as usize & 15;
                            (c.get(r), Some(REGISTER_NAMES[r]))
                        }
                    };
                    let Some(base_value) = base_value else {
                        out.warnings.push(format!("frame at {:#x}: the stack base register is unknown", c.rip));
                        continue;
                    };
                    let addr = base_value.wrapping_add(offset as i64 as u64);
                    match self.rt.space.read_u64(addr) {
                        Ok(v) => (Some(addr), register, Some(offset), v),
                        Err(e) => {
                            out.warnings.push(format!("frame at {:#x}: slot {addr:#x}: {e}", c.rip));
                            continue;
                        }
                    }
                }
            };
            if value == 0 {
                continue;
            }
            out.roots.push(self.root(
                thread,
                addr,
                register,
                off,
                value,
                slot.interior,
                slot.pinned,
                c.rsp(),
                c.rip,
                code.method_desc,
                name.clone(),
            ));
        }
    }
}

/// The register context of an `NT_PRSTATUS` note (`user_regs_struct` order).
fn context_of(r: &ThreadRegisters) -> RegContext {
    // user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp
    const ORDER: [(usize, usize); 15] = [
        (15, 0),
        (14, 1),
        (13, 2),
        (12, 3),
        (5, 4),
        (3, 5),
        (11, 6),
        (10, 7),
        (9, 8),
        (8, 9),
        (0, 10),
        (1, 11),
        (2, 12),
        (6, 13),
        (7, 14),
    ];
    let mut c = RegContext::new(r.rip(), r.rsp());
    for (reg, index) in ORDER {
        c.set(reg, r.regs[index]);
    }
    c
}

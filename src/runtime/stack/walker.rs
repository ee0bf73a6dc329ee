//! The stack walk of one thread: managed frames through the code map and the unwinder,
//! native stretches through the Frame chain, and the GC slots live in each frame.
use super::codemap::{CodeInfo, CodeMap};
use super::frames::{frame_chain, frame_context, frame_method_desc, frame_roots, ExplicitFrame, FrameKinds};
use super::gcinfo::{GcInfo, SlotBase, SlotLocation};
use super::dac_names::DacNamer;
use super::names::{method_def_name, MetadataCache, TypeNamer};
use super::gcinfo::Encoding;
use super::unwind::{fp_register, is_callee_saved, register_name, sp_register, unwind_frame, RegContext};
use super::StackRoot;
use crate::dump::{Architecture, ThreadRegisters};
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
    /// A managed frame's code (method start, GC info, MethodDesc or ReadyToRun row).
    pub code: Option<CodeInfo>,
    /// The register context the walk had at this frame (for a runtime Frame, the context
    /// it was met with).
    pub context: Option<RegContext>,
    /// A managed frame that is the innermost of its thread or was interrupted (a
    /// fault's, a redirection's context): its IP is the instruction it stopped at, not a
    /// return address.
    pub active: bool,
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
        let start_sp = regs.map(|r| r.sp()).unwrap_or(0);
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
        let thread_context: Option<RegContext> = ctx.as_ref().map(|(c, _)| c.clone());
        // The context the walk holds at a runtime Frame: the thread's own at first, then
        // the caller's of the last managed frame.
        let mut last_context: Option<RegContext> = ctx.as_ref().map(|(c, _)| c.clone());
        // The IP of the last context, which the DAC reports for the runtime Frames it meets.
        let mut ip = regs.map(|r| r.ip()).unwrap_or(0);
        let mut sp = start_sp;
        let mut next_frame = 0usize;
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > MAX_STEPS {
                bail!("more than {MAX_STEPS} frames");
            }
            if let Some((c, active)) = ctx.take() {
                let code = match self.code.lookup(c.ip) {
                    Ok(code) => code,
                    Err(e) => {
                        out.warnings.push(format!("code lookup at {:#x}: {e:#}", c.ip));
                        None
                    }
                };
                if let Some(code) = code {
                    if c.sp() < sp {
                        bail!("frame at {:#x} is below the previous one ({sp:#x})", c.sp());
                    }
                    let caller = unwind_frame(&*self.rt.space, code.image_base, code.function_begin, code.unwind_info, &c, active)?;
                    let name = self.method_name(&code);
                    self.report_frame(thread, &code, &c, &caller, active, name.clone(), &mut out);
                    out.frames.push(StackFrame {
                        kind: StackFrameKind::Managed,
                        sp: c.sp(),
                        ip: c.ip,
                        method: code.method_desc,
                        name,
                        function: None,
                        code: Some(code.clone()),
                        context: Some(c.clone()),
                        active,
                    });
                    if caller.sp() <= c.sp() {
                        bail!("unwinding {:#x} did not move the stack pointer", c.ip);
                    }
                    sp = c.sp();
                    ctx = Some((caller, false));
                    continue;
                }
                sp = sp.max(c.sp());
                ip = c.ip;
                last_context = Some(c);
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
                out.frames.push(StackFrame {
                    kind: StackFrameKind::Explicit,
                    sp: f.address,
                    ip,
                    method,
                    name: Some(f.name()),
                    function: function.clone(),
                    code: None,
                    context: last_context.clone(),
                    active: false,
                });
                if f.kind.is_none() {
                    out.warnings.push(format!("unknown Frame kind {:#x} at {:#x}", f.raw, f.address));
                }
                match frame_context(self.rt, &self.code, f, thread_context.as_ref()) {
                    Ok(r) => resumed = r,
                    Err(e) => out.warnings.push(format!("{} at {:#x}: {e:#}", f.name(), f.address)),
                }
                // The DAC's walk meets an InlinedCallFrame of a call in progress twice: as
                // the transition out of the native code, then with the context it resumes
                // (its return address into the managed caller).
                if f.kind == Some(crate::runtime::layouts::FrameKind::InlinedCall)
                    && let Some(fc) = &resumed
                {
                    let mut c = fc.context.clone();
                    carry_registers(&mut c, last_context.as_ref());
                    out.frames.push(StackFrame {
                        kind: StackFrameKind::Explicit,
                        sp: f.address,
                        ip: fc.context.ip,
                        method,
                        name: Some(f.name()),
                        function,
                        code: None,
                        context: Some(c),
                        active: false,
                    });
                }
            }
            match resumed {
                Some(fc) => {
                    // Registers the Frame does not restore keep the values they had (they
                    // are not known, but `clrstack -r` prints them as the DAC has them).
                    let mut c = fc.context;
                    if !fc.active {
                        // A Frame that resumes a call (not an interrupted context) restores
                        // only the registers a call preserves, as the DAC's walk does.
                        for r in 0..c.regs.len() {
                            if r != sp_register(c.arch) && r != fp_register(c.arch) && !is_callee_saved(c.arch, r) {
                                c.forget(r);
                            }
                        }
                    }
                    carry_registers(&mut c, last_context.as_ref());
                    ctx = Some((c, fc.active))
                }
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
        let info = GcInfo::decode_for(&bytes, version, Encoding::of(self.rt.space.core().arch))?;
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
        let name = match key {
            (md, 0, 0) => DacNamer::new(self.rt, &self.metadata).method_desc_name(md),
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
                out.warnings.push(format!("GC info of the frame at {:#x}: {e:#}", c.ip));
                return;
            }
        };
        let Some(offset) = c.ip.checked_sub(code.method_start).and_then(|o| u32::try_from(o).ok()) else {
            out.warnings.push(format!("frame at {:#x}: outside its method", c.ip));
            return;
        };
        let live = match gc.info.frame_live_slots(&gc.bytes, offset, active) {
            Ok(l) => l,
            Err(e) => {
                out.warnings.push(format!("GC info of the frame at {:#x}: {e:#}", c.ip));
                return;
            }
        };
        let arch = c.arch;
        for slot in live {
            let (addr, register, off, value) = match slot.location {
                SlotLocation::Register(r) => {
                    let r = r as usize;
                    if !active && !is_callee_saved(arch, r) {
                        continue;
                    }
                    let Some(v) = c.get(r) else { continue };
                    (c.locations.get(r).copied().flatten(), Some(register_name(arch, r)), None, v)
                }
                SlotLocation::Stack { base, offset } => {
                    if !active && base == SlotBase::Sp && (offset as i64) < gc.info.scratch_area as i64 {
                        continue;
                    }
                    let (base_value, register) = match base {
                        // The DAC names the caller's SP register `caller.rsp` (`caller.Sp`).
                        SlotBase::CallerSp => (
                            Some(caller.sp()),
                            Some(match arch {
                                Architecture::X86_64 => "caller.rsp",
                                Architecture::Arm64 => "caller.Sp",
                            }),
                        ),
                        SlotBase::Sp => (Some(c.sp()), Some(register_name(arch, sp_register(arch)))),
                        SlotBase::FrameRegister => {
                            let r = gc.info.stack_base_register.map_or(fp_register(arch), usize::from);
                            (c.get(r), Some(register_name(arch, r)))
                        }
                    };
                    let Some(base_value) = base_value else {
                        out.warnings.push(format!("frame at {:#x}: the stack base register is unknown", c.ip));
                        continue;
                    };
                    let addr = base_value.wrapping_add(offset as i64 as u64);
                    match self.rt.space.read_u64(addr) {
                        Ok(v) => (Some(addr), register, Some(offset), v),
                        Err(e) => {
                            out.warnings.push(format!("frame at {:#x}: slot {addr:#x}: {e}", c.ip));
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
                c.sp(),
                c.ip,
                code.method_desc,
                name.clone(),
            ));
        }
    }
}

/// Gives the registers a Frame's context does not restore the values they had before it
/// (their values only: they stay unknown to the GC slot reporting).
fn carry_registers(c: &mut RegContext, prev: Option<&RegContext>) {
    let Some(prev) = prev else { return };
    for r in 0..c.regs.len() {
        if c.known & (1 << r) == 0 {
            c.regs[r] = prev.regs[r];
        }
    }
}

/// The register context of an `NT_PRSTATUS` note.
fn context_of(r: &ThreadRegisters) -> RegContext {
    match r.arch {
        Architecture::X86_64 => context_of_x64(r),
        Architecture::Arm64 => {
            // user_pt_regs: x0..x30, sp, pc: the context's register numbering.
            let mut c = RegContext::new(Architecture::Arm64, r.ip(), r.sp());
            for reg in 0..31 {
                c.set(reg, r.regs[reg]);
            }
            c
        }
    }
}

/// x64 `user_regs_struct` order, as the DAC's walk gets it from ClrMD: ClrMD's copy of the
/// note reads its r8 and r9 slots the other way round (see `commands/registers.rs`), so r8
/// holds the thread's r9 and r9 its r8. dotnet-dump's walk (and so its roots and
/// `clrstack -r`) uses that context.
fn context_of_x64(r: &ThreadRegisters) -> RegContext {
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
        (8, 8),
        (9, 9),
        (0, 10),
        (1, 11),
        (2, 12),
        (6, 13),
        (7, 14),
    ];
    let mut c = RegContext::x64(r.ip(), r.sp());
    for (reg, index) in ORDER {
        c.set(reg, r.regs[index]);
    }
    c
}

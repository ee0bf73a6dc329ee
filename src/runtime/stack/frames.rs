//! Explicit Frames: the runtime's linked list of transition records on each thread's stack
//! (`Thread.m_pFrame`, `Frame.m_Next`, ended by -1). They carry the managed context
//! across native code (an inlined P/Invoke's InlinedCallFrame, a HelperMethodFrame of an
//! FCALL on 8/9, a stub's TransitionBlock, an exception's CONTEXT), and some hold GC
//! references themselves (HelperMethodFrame_nOBJ).
//!
//! The kind of a Frame is its vtable on 8/9 (matched against `g_dacTable`'s VPTR entries)
//! and a `FrameIdentifier` value on 10 (see [`crate::runtime::layouts::FrameIdentity`]).
use super::arch::StackArch;
use super::codemap::CodeMap;
use super::unwind::{fp_register, sp_register, RegContext, RBP};
use crate::dump::Architecture;
use crate::runtime::layouts::{FrameIdentity, FrameKind};
use crate::runtime::threads::ManagedThread;
use crate::runtime::Runtime;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;

const FRAME_TOP: u64 = u64::MAX;
/// More Frames on one thread than this means a corrupt chain.
pub const MAX_FRAMES: usize = 4096;

// LazyMachState (src vm/amd64/gmscpu.h; 8.0.33 dump). x64 only (arm64 is read on 10, which
// has no HelperMethodFrames).
const MS_RIP: u64 = 0;
const MS_RSP: u64 = 8;
const MS_CAPTURE: u64 = 16;
const MS_PTRS: u64 = 64;
const MS_RET_ADDR: u64 = 112;
/// Order of the callee-saved registers in the x64 MachState arrays (as in x64's
/// `CalleeSavedRegisters`: r12, r13, r14, r15, rbx, rbp). TransitionBlocks and CONTEXTs
/// are per architecture: [`StackArch`].
const CALLEE_SAVED_ORDER: [usize; 6] = [12, 13, 14, 15, 3, RBP];
/// Steps of the frame-pointer chain followed from an uninitialised HelperMethodFrame.
const MAX_RBP_CHAIN: usize = 64;

/// One Frame of a thread's chain.
#[derive(Debug, Clone, Copy)]
pub struct ExplicitFrame {
    pub address: u64,
    pub kind: Option<FrameKind>,
    /// The raw vtable or identifier, for messages about unknown kinds.
    pub raw: u64,
}

impl ExplicitFrame {
    pub fn name(&self) -> String {
        match self.kind {
            Some(k) => k.name().to_string(),
            None => format!("Frame({:#x})", self.raw),
        }
    }
}

/// Recognises Frame kinds.
pub struct FrameKinds {
    by_vtable: HashMap<u64, FrameKind>,
    by_id: HashMap<u64, FrameKind>,
}

impl FrameKinds {
    pub fn new(rt: &Runtime) -> FrameKinds {
        let mut by_vtable = HashMap::new();
        let mut by_id = HashMap::new();
        match rt.layout.stack.frame_identity {
            FrameIdentity::Vtable(table) => {
                for &(offset, kind) in table {
                    if let Some(v) = rt.dac_vtable(offset) {
                        by_vtable.insert(v, kind);
                    }
                }
            }
            FrameIdentity::Identifier(table) => by_id.extend(table),
        }
        FrameKinds { by_vtable, by_id }
    }

    fn kind(&self, raw: u64) -> Option<FrameKind> {
        self.by_vtable.get(&raw).or_else(|| self.by_id.get(&raw)).copied()
    }
}

/// The thread's Frames, innermost first.
pub fn frame_chain(rt: &Runtime, kinds: &FrameKinds, thread: &ManagedThread) -> Result<Vec<ExplicitFrame>> {
    let space = &rt.space;
    let mut frame = space
        .read_ptr(thread.address.wrapping_add(rt.layout.stack.thread_frame))
        .context("cannot read the thread's Frame pointer")?;
    let mut out = Vec::new();
    while frame != 0 && frame != FRAME_TOP {
        if out.len() >= MAX_FRAMES {
            bail!("the Frame chain has more than {MAX_FRAMES} entries (a loop?)");
        }
        if let Some(last) = out.last().map(|f: &ExplicitFrame| f.address)
            && frame <= last
        {
            bail!("the Frame chain goes down the stack at {frame:#x}");
        }
        let raw = space.read_ptr(frame).with_context(|| format!("cannot read the Frame at {frame:#x}"))?;
        out.push(ExplicitFrame { address: frame, kind: kinds.kind(raw), raw });
        frame = space.read_ptr(frame.wrapping_add(rt.layout.stack.frame_next))?;
    }
    Ok(out)
}

/// A managed context recovered from a Frame.
pub struct FrameContext {
    pub context: RegContext,
    /// The context is a full interrupted state (scratch registers live): report the frame
    /// it leads to as an active frame.
    pub active: bool,
}

/// The managed context a Frame resumes to, if it holds one.
/// `thread_context` is the thread's own (its dump note's), for what only unwinding from the
/// leaf can recover.
pub fn frame_context(rt: &Runtime, code: &CodeMap, frame: &ExplicitFrame, thread_context: Option<&RegContext>) -> Result<Option<FrameContext>> {
    let space = &rt.space;
    let f = frame.address;
    let st = &rt.layout.stack;
    let arch = StackArch::of(space.core().arch);
    let Some(kind) = frame.kind else { return Ok(None) };
    let passive = |context| Ok(Some(FrameContext { context, active: false }));
    use FrameKind::*;
    match kind {
        InlinedCall => {
            let ra = space.read_ptr(f.wrapping_add(st.icf_caller_return_address))?;
            if ra == 0 {
                return Ok(None); // not in a P/Invoke right now
            }
            let mut c = RegContext::new(arch.arch, ra, space.read_ptr(f.wrapping_add(st.icf_call_site_sp))?);
            c.set(fp_register(arch.arch), space.read_ptr(f.wrapping_add(st.icf_callee_saved_fp))?);
            passive(c)
        }
        HelperMethod | HelperMethod1Obj | HelperMethod2Obj | HelperMethod3Obj | HelperMethodProtectObj => {
            let Some(ms_off) = st.helper_frame_machine_state.filter(|_| arch.arch == Architecture::X86_64) else {
                return Ok(None);
            };
            let ms = f + ms_off;
            if space.read_ptr(ms + MS_RET_ADDR)? != 0 {
                // Initialised: the caller's rip/rsp, and where the callee-saved registers are.
                let mut c = RegContext::x64(space.read_ptr(ms + MS_RIP)?, space.read_ptr(ms + MS_RSP)?);
                for (k, &reg) in CALLEE_SAVED_ORDER.iter().enumerate() {
                    let p = space.read_ptr(ms + MS_PTRS + 8 * k as u64)?;
                    if p != 0
                        && let Ok(v) = space.read_ptr(p)
                    {
                        c.set(reg, v);
                        c.locations[reg] = Some(p);
                    }
                }
                return passive(c);
            }
            // Not initialised (the helper never needed it): follow libcoreclr's frame
            // pointers from the captured rbp to the first return into managed code (rip,
            // rsp, rbp); the runtime unwinds the native frames instead, which also gives
            // the other callee-saved registers: so does clrheap from the thread's own
            // context with the frames' CFI, when that lands on the same managed frame.
            let mut rbp = space.read_ptr(ms + MS_CAPTURE + 8 * 5)?;
            for _ in 0..MAX_RBP_CHAIN {
                if rbp == 0 {
                    break;
                }
                let ra = space.read_ptr(rbp + 8)?;
                if code.lookup(ra).ok().flatten().is_some() {
                    let mut c = RegContext::x64(ra, rbp + 16);
                    c.set(RBP, space.read_ptr(rbp)?);
                    c.locations[RBP] = Some(rbp);
                    if let Some(leaf) = thread_context.filter(|t| t.sp() <= f)
                        && let Some(n) = super::native_unwind::unwind_to_managed(space, code, leaf.clone(), false)
                        && n.ip == c.ip
                        && n.sp() == c.sp()
                        && n.get(RBP) == c.get(RBP)
                    {
                        return passive(n);
                    }
                    return passive(c);
                }
                let next = space.read_ptr(rbp)?;
                if next <= rbp {
                    break;
                }
                rbp = next;
            }
            Ok(None)
        }
        PrestubMethod | StubDispatch | ExternalMethod | CallCountingHelper | DynamicHelper | PInvokeCalli | Multicast => {
            let tb = space.read_ptr(f.wrapping_add(st.framed_method_transition_block))?;
            if tb == 0 {
                return Ok(None);
            }
            let ra = space.read_ptr(tb.wrapping_add(st.transition_block_return_address))?;
            let mut c = RegContext::new(arch.arch, ra, tb.wrapping_add(st.transition_block_size));
            for (k, &reg) in arch.callee_saved_order.iter().enumerate() {
                let at = tb.wrapping_add(st.transition_block_callee_saved).wrapping_add(8 * k as u64);
                c.set(reg, space.read_ptr(at)?);
                c.locations[reg] = Some(at);
            }
            passive(c)
        }
        FaultingException | SoftwareException | Resumable | RedirectedThread => {
            let context = match kind {
                FaultingException => st.faulting_exception_context.map(|o| f.wrapping_add(o)),
                SoftwareException => st.software_exception_context.map(|o| f.wrapping_add(o)),
                _ => match st.resumable_context_ptr {
                    Some(o) => Some(space.read_ptr(f.wrapping_add(o))?),
                    None => None,
                },
            };
            let Some(ctx) = context.filter(|&c| c != 0) else { return Ok(None) };
            let mut c = RegContext::new(arch.arch, space.read_ptr(ctx.wrapping_add(arch.context_ip))?, 0);
            for reg in 0..arch.context_register_count {
                let at = ctx.wrapping_add(arch.context_registers + 8 * reg as u64);
                c.set(reg, space.read_ptr(at)?);
                c.locations[reg] = Some(at);
            }
            c.locations[sp_register(arch.arch)] = None;
            Ok(Some(FrameContext { context: c, active: kind != SoftwareException }))
        }
        _ => Ok(None),
    }
}

/// GC references a Frame holds itself: `(slot address, object)`.
/// Buckets of `gFCallMethods`.
const FCALL_HASH_SIZE: u64 = 127;
/// Longest bucket chain followed.
const MAX_FCALL_CHAIN: usize = 1024;

/// The MethodDesc a Frame stands for, when it names one: a HelperMethodFrame's FCALL. As
/// the DAC does, the FCALL's entry point is mapped back to its MethodDesc through the
/// runtime's FCALL hash table (`m_pMD` is only set once the frame was initialised); an
/// initialised frame's `m_pMD` is the fallback.
pub fn frame_method_desc(rt: &Runtime, frame: &ExplicitFrame) -> Option<u64> {
    use FrameKind::*;
    let st = &rt.layout.stack;
    match frame.kind? {
        HelperMethod | HelperMethod1Obj | HelperMethod2Obj | HelperMethod3Obj | HelperMethodProtectObj => {
            let ms = frame.address + st.helper_frame_machine_state?;
            let space = &rt.space;
            if let Some(index) = st.fcall_methods
                && let Ok(entry) = space.read_ptr(frame.address + st.helper_frame_fcall_entry)
                && entry != 0
                && let Ok(table) = rt.dac_global(index)
            {
                let mut node = space.read_ptr(table + 8 * (entry % FCALL_HASH_SIZE)).unwrap_or(0);
                let mut steps = 0;
                while node != 0 && steps < MAX_FCALL_CHAIN {
                    if space.read_ptr(node + 8).ok()? == entry {
                        let md = space.read_ptr(node + 16).ok()?;
                        return (md != 0).then_some(md);
                    }
                    node = space.read_ptr(node).ok()?;
                    steps += 1;
                }
            }
            if space.read_ptr(ms + MS_RET_ADDR).ok()? == 0 {
                return None; // not initialised: m_pMD is not set
            }
            let md = space.read_ptr(frame.address + st.helper_frame_method_desc).ok()?;
            (md != 0).then_some(md)
        }
        _ => None,
    }
}

pub fn frame_roots(rt: &Runtime, frame: &ExplicitFrame) -> Result<Vec<(u64, u64)>> {
    let n = match frame.kind {
        Some(FrameKind::HelperMethod1Obj) => 1,
        Some(FrameKind::HelperMethod2Obj) => 2,
        Some(FrameKind::HelperMethod3Obj) => 3,
        _ => return Ok(Vec::new()),
    };
    if rt.layout.stack.helper_frame_machine_state.is_none() {
        return Ok(Vec::new());
    }
    let space = &rt.space;
    let mut out = Vec::new();
    for k in 0..n {
        // gcPtrs[k] is the address of the protected OBJECTREF.
        let slot = space.read_ptr(frame.address + rt.layout.stack.helper_frame_gc_ptrs + 8 * k)?;
        if slot == 0 {
            continue;
        }
        let object = space.read_ptr(slot)?;
        if object != 0 {
            out.push((slot, object));
        }
    }
    Ok(out)
}

//! Stack roots: the GC references each managed thread's stack holds, found precisely the
//! way the runtime's own stack walk finds them, without the DAC.
//!
//! The walk ([`walker`]) starts from the thread's registers (`NT_PRSTATUS`) when it is
//! stopped in managed code, and otherwise from the runtime's explicit Frames ([`frames`]),
//! which carry the managed context across native code. Each managed frame is found in the
//! code map ([`codemap`]: JIT code heaps and ReadyToRun images, [`r2r`]), unwound with its
//! Windows x64 or arm64 unwind info ([`unwind`], [`unwind_arm64`]), and its live GC slots at
//! the frame's code offset are decoded from its GC info ([`gcinfo`]). What differs between
//! x64 and arm64 beyond those formats is in [`arch`]; the dump says which one it is. Method names for gcroot's frame lines come
//! from [`names`].
//!
//! [`conservative_stack_roots`] is the fallback when a walk fails: every stack word that
//! is an object's address, marked `conservative`.
//!
//! Checked against ClrMD's `roots.tsv` (kind `Stack`) on the lab dumps: see
//! `tests/stack_roots.rs` and `docs/research/stack-roots.md`.
pub mod arch;
pub mod clrstack;
pub mod codemap;
pub mod dac_names;
pub mod debuginfo;
pub mod frames;
pub mod gcinfo;
pub mod names;
pub mod native_unwind;
pub mod r2r;
pub mod unwind;
pub mod unwind_arm64;
mod walker;

pub use walker::{StackFrame, StackFrameKind, StackWalk, ThreadStack};

use super::threads::ManagedThread;
use super::Runtime;
use anyhow::{Context, Result};

/// One GC reference found on a thread's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRoot {
    pub os_thread_id: u32,
    /// The `Thread*`.
    pub thread: u64,
    /// The stack address holding the reference (`None` for a value only in a register).
    pub slot: Option<u64>,
    /// For a stack slot, the register its offset is relative to as ClrMD names it
    /// (`rbp`, `rsp`); for a register root, the register. `None` for Frame roots and
    /// caller-SP-relative slots.
    pub register: Option<&'static str>,
    /// The slot's offset from `register` (stack slots), for gcroot's `rbp-8:` lines.
    pub offset: Option<i32>,
    /// The reference itself (for an interior pointer, the address inside the object).
    pub object: u64,
    pub interior: bool,
    pub pinned: bool,
    /// Found by the conservative scan, not the precise walk.
    pub conservative: bool,
    /// SP and IP of the frame reporting the root (for a Frame root: the Frame's address, IP 0).
    pub frame_sp: u64,
    pub frame_ip: u64,
    /// The frame's MethodDesc, when known.
    pub method: Option<u64>,
    /// `Type.Method(params)` as SOS prints the frame, or the Frame class name.
    pub method_name: Option<String>,
}

/// Precise stack roots of one thread.
pub fn stack_roots(rt: &Runtime, thread: &ManagedThread) -> Result<Vec<StackRoot>> {
    Ok(StackWalk::new(rt)?.thread(thread)?.roots)
}

/// Stack roots of every thread, tolerant of damage: a thread whose walk fails gives a
/// warning (and, when `is_object` is given, its conservative roots instead).
#[derive(Debug, Default)]
pub struct StackRootsReport {
    pub roots: Vec<StackRoot>,
    pub warnings: Vec<String>,
    /// Threads whose roots come from the conservative scan.
    pub conservative_threads: Vec<u32>,
}

pub fn all_stack_roots(
    rt: &Runtime,
    threads: &[ManagedThread],
    is_object: Option<&dyn Fn(u64) -> bool>,
) -> StackRootsReport {
    let mut report = StackRootsReport::default();
    let walk = match StackWalk::new(rt) {
        Ok(w) => Some(w),
        Err(e) => {
            report.warnings.push(format!("stack walks unavailable: {e:#}"));
            None
        }
    };
    for thread in threads {
        let result = match &walk {
            Some(w) => w.thread(thread),
            None => Err(anyhow::anyhow!("no stack walker")),
        };
        match result {
            Ok(stack) => {
                report.warnings.extend(stack.warnings.into_iter().map(|w| format!("thread {:x}: {w}", thread.os_id)));
                report.roots.extend(stack.roots);
            }
            Err(e) => {
                report.warnings.push(format!("thread {:x}: stack walk failed: {e:#}", thread.os_id));
                if let Some(pred) = is_object {
                    match conservative_stack_roots(rt, thread, pred) {
                        Ok(roots) => {
                            report.conservative_threads.push(thread.os_id);
                            report.roots.extend(roots);
                        }
                        Err(e) => report.warnings.push(format!("thread {:x}: conservative scan failed: {e:#}", thread.os_id)),
                    }
                }
            }
        }
    }
    report
}

/// Largest stack scanned conservatively.
const MAX_CONSERVATIVE_STACK: u64 = 256 << 20;

/// Every 8-aligned word from the thread's SP to the end of its captured stack that
/// `is_object` accepts (an object start, typically). Over-reports: stale slots count.
/// The end is the Thread's cached stack base, or the end of the captured memory holding
/// SP when that is nearer (or the base is not plausible).
pub fn conservative_stack_roots(rt: &Runtime, thread: &ManagedThread, is_object: &dyn Fn(u64) -> bool) -> Result<Vec<StackRoot>> {
    let regs = rt
        .space
        .core()
        .threads
        .iter()
        .find(|t| t.tid == thread.os_id)
        .with_context(|| format!("no registers for thread {:x} in the dump", thread.os_id))?;
    let rsp = regs.sp() & !7;
    let captured = rt
        .space
        .core_slice_from(rsp)
        .with_context(|| format!("the stack at {rsp:#x} is not in the dump"))?;
    let base = rt.space.read_ptr(thread.address + rt.layout.stack.thread_stack_base).unwrap_or(0);
    let mut len = (captured.len() as u64).min(MAX_CONSERVATIVE_STACK);
    if base > rsp {
        len = len.min(base - rsp);
    }
    let stack = &captured[..len as usize];
    Ok(stack
        .chunks_exact(8)
        .enumerate()
        .filter_map(|(i, w)| {
            let v = u64::from_le_bytes(w.try_into().ok()?);
            is_object(v).then(|| StackRoot {
                os_thread_id: thread.os_id,
                thread: thread.address,
                slot: Some(rsp + 8 * i as u64),
                register: None,
                offset: None,
                object: v,
                interior: false,
                pinned: false,
                conservative: true,
                frame_sp: 0,
                frame_ip: 0,
                method: None,
                method_name: None,
            })
        })
        .collect())
}

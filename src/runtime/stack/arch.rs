//! The stack walk's per-architecture facts about the runtime's own structures that the
//! contract descriptor does not give as offsets: the order of the registers a
//! `TransitionBlock` saves, and the layout of a `CONTEXT`. (Offsets the descriptor
//! describes, `RangeSection.NextForDelete`, `RUNTIME_FUNCTION`'s size, `TransitionBlock`'s
//! fields, are in the runtime's [`crate::runtime::layouts::Layout`], whose per-architecture
//! defaults are in `layouts::for_runtime`.)
//!
//! Sources: the .NET 10 contract descriptors of linux-x64 and linux-arm64 10.0.12 (type
//! `CalleeSavedRegisters`), and for `CONTEXT` (not in the descriptors) the PAL's `CONTEXT`
//! of each target, checked on the lab dumps where a Frame holds one. Unwinding and GC info encoding are per architecture
//! too: [`super::unwind`], [`super::unwind_arm64`], [`super::gcinfo::Encoding`].
use super::unwind::{ARM64_FP, ARM64_LR, RBP};
use crate::dump::Architecture;

#[derive(Debug, Clone, Copy)]
pub struct StackArch {
    pub arch: Architecture,
    /// The registers saved at `TransitionBlock.CalleeSavedRegisters`, in order.
    pub callee_saved_order: &'static [usize],
    /// `CONTEXT`: the general registers in encoding order from this offset (x64: rax..r15
    /// from `Rax`; arm64: x0..x28, fp, lr, sp from `X0`), and the instruction pointer.
    pub context_registers: u64,
    pub context_register_count: usize,
    pub context_ip: u64,
}

/// x64 `CalleeSavedRegisters` order (10 descriptor: r12, r13, r14, r15, rbx, rbp).
const X64_CALLEE_SAVED: [usize; 6] = [12, 13, 14, 15, 3, RBP];
/// arm64 `CalleeSavedRegisters` order (10 descriptor: fp @0, lr @8, x19..x28 @16..88).
const ARM64_CALLEE_SAVED: [usize; 12] = [ARM64_FP, ARM64_LR, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28];

pub static X64: StackArch = StackArch {
    arch: Architecture::X86_64,
    callee_saved_order: &X64_CALLEE_SAVED,
    // The PAL's Windows-layout CONTEXT: Rax at 0x78 .. R15 at 0xf0, Rip at 0xf8.
    context_registers: 0x78,
    context_register_count: 16,
    context_ip: 0xf8,
};

pub static ARM64: StackArch = StackArch {
    arch: Architecture::Arm64,
    callee_saved_order: &ARM64_CALLEE_SAVED,
    // arm64 CONTEXT: u32 ContextFlags, u32 Cpsr, X0..X28, Fp, Lr (0xf8), Sp (0x100), Pc.
    context_registers: 8,
    context_register_count: 32,
    context_ip: 0x108,
};

impl StackArch {
    pub fn of(arch: Architecture) -> &'static StackArch {
        match arch {
            Architecture::X86_64 => &X64,
            Architecture::Arm64 => &ARM64,
        }
    }
}

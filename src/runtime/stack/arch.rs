//! The stack walk's per-architecture facts about the runtime's own structures (not its
//! versions: those are in [`crate::runtime::layouts`]): where a code range section keeps its
//! deletion link, how big a `RUNTIME_FUNCTION` is, and how the structures that carry a
//! register context across native code (`TransitionBlock`, `CONTEXT`) are laid out.
//!
//! Sources: the .NET 10 contract descriptors of linux-x64 and linux-arm64 10.0.12 (types
//! `RangeSection`, `RuntimeFunction`, `TransitionBlock`, `CalleeSavedRegisters`), and for
//! `CONTEXT` (not in the descriptors) the PAL's `CONTEXT` of each target, checked on the
//! lab dumps where a Frame holds one. Unwinding and GC info encoding are per architecture
//! too: [`super::unwind`], [`super::unwind_arm64`], [`super::gcinfo::Encoding`].
use super::unwind::{ARM64_FP, ARM64_LR, RBP};
use crate::dump::Architecture;

#[derive(Debug, Clone, Copy)]
pub struct StackArch {
    pub arch: Architecture,
    /// `RangeSection.NextForDelete` (set once the section is being deleted).
    pub range_section_next_for_delete: u64,
    /// `sizeof(RUNTIME_FUNCTION)`: x64 `{begin, end, unwind}`, arm64 `{begin, unwind}` (the
    /// end comes from the unwind data).
    pub runtime_function_size: u64,
    /// `TransitionBlock.CalleeSavedRegisters`, and the registers saved there in order.
    pub transition_block_callee_saved: u64,
    pub callee_saved_order: &'static [usize],
    /// `TransitionBlock.ReturnAddress`, and the block's size (the caller's SP is just past it).
    pub transition_block_return_address: u64,
    pub transition_block_size: u64,
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
    range_section_next_for_delete: 64,
    runtime_function_size: 12,
    transition_block_callee_saved: 48,
    callee_saved_order: &X64_CALLEE_SAVED,
    transition_block_return_address: 96,
    transition_block_size: 104,
    // The PAL's Windows-layout CONTEXT: Rax at 0x78 .. R15 at 0xf0, Rip at 0xf8.
    context_registers: 0x78,
    context_register_count: 16,
    context_ip: 0xf8,
};

pub static ARM64: StackArch = StackArch {
    arch: Architecture::Arm64,
    range_section_next_for_delete: 56,
    runtime_function_size: 8,
    transition_block_callee_saved: 0,
    callee_saved_order: &ARM64_CALLEE_SAVED,
    transition_block_return_address: 8,
    transition_block_size: 176,
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

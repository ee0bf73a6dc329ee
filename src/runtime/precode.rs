//! Precodes: the small stubs a method's callers (and delegates) jump through until, and
//! often after, the method is compiled. Each knows its MethodDesc.
//!
//! On x64 both kinds the lab's runtimes use load the MethodDesc into `r10` from their data
//! page with `mov r10, [rip+disp32]` (`4c 8b 15 disp32`): a `StubPrecode` starts with it,
//! a `FixupPrecode` has it after its `jmp [rip+disp32]` (`ff 25 disp32`). Reading the
//! instruction rather than assuming the data page's distance keeps this independent of
//! the stub page size (16 KiB on zoo-net8: the Func delegate's `_methodPtr`
//! 7fa076520870 loads 7fa0763fafd0, the MethodDesc dotnet-dump's `dumpdelegate` names).
use crate::dump::{AddressSpace, Architecture};

const MOV_R10_RIP: [u8; 3] = [0x4c, 0x8b, 0x15];
const JMP_RIP: [u8; 2] = [0xff, 0x25];

/// The MethodDesc of the precode at `addr`, if `addr` is one.
pub fn precode_method_desc(space: &AddressSpace, addr: u64) -> Option<u64> {
    if space.core().arch == Architecture::Arm64 {
        return arm64_precode_method_desc(space, addr);
    }
    if space.core().arch != Architecture::X86_64 {
        return None;
    }
    let code = space.read_array::<13>(addr).ok()?;
    let load_at = if code[0..3] == MOV_R10_RIP {
        0
    } else if code[0..2] == JMP_RIP && code[6..9] == MOV_R10_RIP {
        6
    } else {
        return None;
    };
    let disp = i32::from_le_bytes(code[load_at + 3..load_at + 7].try_into().ok()?);
    let slot = addr.wrapping_add(load_at as u64 + 7).wrapping_add_signed(disp as i64);
    space.read_ptr(slot).ok().filter(|&md| md != 0)
}

/// `br x11`.
const BR_X11: u32 = 0xd61f_0160;

/// The register and the address an arm64 `LDR Xt, <literal>` at `pc` loads from.
fn ldr_literal(insn: u32, pc: u64) -> Option<(u32, u64)> {
    if insn & 0xff00_0000 != 0x5800_0000 {
        return None;
    }
    // imm19, signed, in words.
    let imm = (((insn >> 5) & 0x7ffff) as i32) << 13 >> 13;
    Some((insn & 0x1f, pc.wrapping_add_signed(imm as i64 * 4)))
}

/// On arm64 a `StubPrecode` starts with `ldr x10, <MethodDesc>`; a `FixupPrecode` with
/// `ldr x11, <target>; br x11`, then (after a barrier on 10) `ldr x12, <MethodDesc>`. Both
/// load from their data page (16 KiB away on zoo-arm64: the Action's `_methodPtrAux`
/// 5504ebba98 loads its MethodDesc from 5504ebfaa0).
fn arm64_precode_method_desc(space: &AddressSpace, addr: u64) -> Option<u64> {
    let code = space.read_array::<16>(addr).ok()?;
    let insn = |i: usize| u32::from_le_bytes(code[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    let pc = |i: usize| addr.wrapping_add(4 * i as u64);
    let slot = match ldr_literal(insn(0), pc(0))? {
        (10, at) => at,
        (11, _) if insn(1) == BR_X11 => (2..4).find_map(|i| ldr_literal(insn(i), pc(i)).filter(|(r, _)| *r == 12))?.1,
        _ => return None,
    };
    space.read_ptr(slot).ok().filter(|&md| md != 0)
}

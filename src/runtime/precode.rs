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

/// The MethodDesc of the precode at `addr`, if `addr` is one (x64 processes only: an
/// arm64 precode is not decoded).
pub fn precode_method_desc(space: &AddressSpace, addr: u64) -> Option<u64> {
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

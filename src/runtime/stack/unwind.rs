//! Virtual unwinding of managed code, and the register context it works on.
//!
//! x64 code uses the Windows x64 `UNWIND_INFO` format, which CoreCLR uses for JIT-compiled
//! and ReadyToRun code on Linux too (managed code has no `.eh_frame`); arm64 code uses the
//! Windows arm64 `.xdata` format ([`super::unwind_arm64`]). [`unwind_frame`] picks by the
//! context's architecture.
//!
//! `UNWIND_INFO`: `u8 version | flags << 3`, `u8 prolog size`, `u8 code count`,
//! `u8 frame register | frame offset << 4`, then `count` u16 unwind codes (in reverse prolog
//! order), padded to an even count; with `UNW_FLAG_CHAININFO` a `RUNTIME_FUNCTION` of the
//! primary function follows, whose codes apply too. Unwinding applies the codes, then pops
//! the return address. Where each callee-saved register was saved is recorded: a caller's
//! GC reference kept in rbx/rbp/r12–r15 lives in that save slot.
use crate::dump::Architecture;
use anyhow::{bail, Context as _, Result};

/// x64 register names in encoding order, as the DAC names them.
pub const REGISTER_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
];
/// arm64 register names (x0..x28, fp, lr, sp), as the DAC names them.
pub const ARM64_REGISTER_NAMES: [&str; 32] = [
    "X0", "X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8", "X9", "X10", "X11", "X12", "X13", "X14", "X15", "X16",
    "X17", "X18", "X19", "X20", "X21", "X22", "X23", "X24", "X25", "X26", "X27", "X28", "Fp", "Lr", "Sp",
];
pub const RSP: usize = 4;
pub const RBP: usize = 5;
/// arm64 frame pointer (x29), link register (x30) and stack pointer.
pub const ARM64_FP: usize = 29;
pub const ARM64_LR: usize = 30;
pub const ARM64_SP: usize = 31;
/// Registers a context holds (arm64's 32; x64 uses the first 16).
pub const MAX_REGISTERS: usize = 32;

/// The name of register `reg` of `arch`, as the DAC (and gcroot) prints it.
pub fn register_name(arch: Architecture, reg: usize) -> &'static str {
    match arch {
        Architecture::X86_64 => REGISTER_NAMES.get(reg).copied().unwrap_or("?"),
        Architecture::Arm64 => ARM64_REGISTER_NAMES.get(reg).copied().unwrap_or("?"),
    }
}

/// The register number of the stack pointer.
pub fn sp_register(arch: Architecture) -> usize {
    match arch {
        Architecture::X86_64 => RSP,
        Architecture::Arm64 => ARM64_SP,
    }
}

/// The stack pointer's name (`rsp`, `Sp`).
pub fn stack_pointer_name(arch: Architecture) -> &'static str {
    register_name(arch, sp_register(arch))
}

/// The register number of the frame pointer (rbp, fp).
pub fn fp_register(arch: Architecture) -> usize {
    match arch {
        Architecture::X86_64 => RBP,
        Architecture::Arm64 => ARM64_FP,
    }
}

/// Callee-saved (non-volatile) registers whose GC references survive a call, as the
/// runtime's GC info decoder counts them: rbx, rbp, r12–r15 on x64 (System V); x19–x28 on
/// arm64 (the decoder treats fp and lr as scratch there).
pub fn is_callee_saved(arch: Architecture, reg: usize) -> bool {
    match arch {
        Architecture::X86_64 => matches!(reg, 3 | 5 | 12..=15),
        Architecture::Arm64 => (19..=28).contains(&reg),
    }
}

/// Registers whose values survive a call (callee-saved, the frame pointer, the stack
/// pointer): the ones an unwound caller context keeps.
fn is_preserved(arch: Architecture, reg: usize) -> bool {
    reg == sp_register(arch) || reg == fp_register(arch) || is_callee_saved(arch, reg)
}

/// Reads of the dumped process's memory.
pub trait Memory {
    fn read_u64(&self, addr: u64) -> Result<u64>;
    fn read_bytes(&self, addr: u64, len: usize) -> Result<Vec<u8>>;
}

impl Memory for crate::dump::AddressSpace {
    fn read_u64(&self, addr: u64) -> Result<u64> {
        Ok(crate::dump::AddressSpace::read_u64(self, addr)?)
    }
    fn read_bytes(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        Ok(self.read_vec(addr, len)?)
    }
}

/// A register context of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegContext {
    pub arch: Architecture,
    pub ip: u64,
    pub regs: [u64; MAX_REGISTERS],
    /// Bit i set: `regs[i]` is known.
    pub known: u32,
    /// Where the value of a register was saved on the stack, when known.
    pub locations: [Option<u64>; MAX_REGISTERS],
}

impl RegContext {
    pub fn new(arch: Architecture, ip: u64, sp: u64) -> Self {
        let mut c = RegContext { arch, ip, regs: [0; MAX_REGISTERS], known: 0, locations: [None; MAX_REGISTERS] };
        c.set(sp_register(arch), sp);
        c
    }
    /// An x64 context.
    pub fn x64(ip: u64, sp: u64) -> Self {
        Self::new(Architecture::X86_64, ip, sp)
    }
    pub fn sp(&self) -> u64 {
        self.regs[sp_register(self.arch)]
    }
    pub fn set_sp(&mut self, sp: u64) {
        self.set(sp_register(self.arch), sp);
    }
    pub fn get(&self, reg: usize) -> Option<u64> {
        (reg < MAX_REGISTERS && self.known & (1 << reg) != 0).then(|| self.regs[reg])
    }
    pub fn set(&mut self, reg: usize, value: u64) {
        if reg < MAX_REGISTERS {
            self.regs[reg] = value;
            self.known |= 1 << reg;
            self.locations[reg] = None;
        }
    }
    /// Forgets a register.
    pub fn forget(&mut self, reg: usize) {
        if reg < MAX_REGISTERS {
            self.known &= !(1 << reg);
            self.locations[reg] = None;
        }
    }
    /// Sets a register from a stack slot, remembering the slot.
    pub(super) fn load(&mut self, mem: &dyn Memory, reg: usize, addr: u64) -> Result<()> {
        let v = mem
            .read_u64(addr)
            .with_context(|| format!("cannot read the saved {} at {addr:#x}", register_name(self.arch, reg)))?;
        self.set(reg, v);
        if reg < MAX_REGISTERS {
            self.locations[reg] = Some(addr);
        }
        Ok(())
    }
    /// Forgets the volatile registers (they do not survive a call).
    pub fn clear_volatile(&mut self) {
        for r in 0..MAX_REGISTERS {
            if !is_preserved(self.arch, r) {
                self.forget(r);
            }
        }
    }
}

/// Unwinds one managed frame: `function_begin` is the absolute start of the
/// RUNTIME_FUNCTION holding the IP, `unwind_addr` its unwind data, `image_base` the base
/// its RVAs are relative to. `leaf` allows the IP to be in an epilog (only a thread's
/// active frame can be).
pub fn unwind_frame(
    mem: &dyn Memory,
    image_base: u64,
    function_begin: u64,
    unwind_addr: u64,
    ctx: &RegContext,
    leaf: bool,
) -> Result<RegContext> {
    match ctx.arch {
        Architecture::X86_64 => unwind_frame_x64(mem, image_base, function_begin, unwind_addr, ctx, leaf),
        Architecture::Arm64 => super::unwind_arm64::unwind_frame(mem, function_begin, unwind_addr, ctx),
    }
}

/// The size of the unwind data at `addr` (ReadyToRun GC info follows it).
pub fn unwind_info_size(mem: &dyn Memory, arch: Architecture, addr: u64) -> Result<usize> {
    Ok(match arch {
        Architecture::X86_64 => UnwindInfo::read(mem, addr)?.size,
        Architecture::Arm64 => super::unwind_arm64::Xdata::read(mem, addr)?.size,
    })
}

const UNW_FLAG_EHANDLER: u8 = 1;
const UNW_FLAG_UHANDLER: u8 = 2;
const UNW_FLAG_CHAININFO: u8 = 4;
/// More chained unwind infos than this is a loop.
const MAX_CHAIN: usize = 32;

/// A parsed `UNWIND_INFO`.
#[derive(Debug, Clone)]
pub struct UnwindInfo {
    pub version: u8,
    pub flags: u8,
    pub prolog_size: u8,
    pub frame_register: u8,
    pub frame_offset: u8,
    pub codes: Vec<u16>,
    /// The chained primary function `(begin rva, end rva, unwind rva)`.
    pub chained: Option<(u32, u32, u32)>,
    /// Bytes from the start of the UNWIND_INFO to the end of its codes and handler data
    /// (ReadyToRun GC info starts there).
    pub size: usize,
}

impl UnwindInfo {
    pub fn parse(data: &[u8]) -> Result<UnwindInfo> {
        if data.len() < 4 {
            bail!("unwind info truncated");
        }
        let version = data[0] & 7;
        let flags = data[0] >> 3;
        if !(1..=2).contains(&version) {
            bail!("unwind info version {version}");
        }
        let count = data[2] as usize;
        let codes_end = 4 + 2 * count;
        if data.len() < codes_end {
            bail!("unwind info truncated ({count} codes)");
        }
        let codes = (0..count).map(|i| u16::from_le_bytes([data[4 + 2 * i], data[5 + 2 * i]])).collect();
        let padded = 4 + 2 * ((count + 1) & !1);
        let mut chained = None;
        let mut size = codes_end;
        if flags & UNW_FLAG_CHAININFO != 0 {
            let rf = data.get(padded..padded + 12).context("chained unwind info truncated")?;
            let u = |o: usize| u32::from_le_bytes([rf[o], rf[o + 1], rf[o + 2], rf[o + 3]]);
            chained = Some((u(0), u(4), u(8)));
            size = padded + 12;
        } else if flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER) != 0 {
            // Handler RVA after the (4-aligned) codes.
            size = ((codes_end + 3) & !3) + 4;
        }
        Ok(UnwindInfo {
            version,
            flags,
            prolog_size: data[1],
            frame_register: data[3] & 0xf,
            frame_offset: data[3] >> 4,
            codes,
            chained,
            size,
        })
    }

    /// Reads and parses the UNWIND_INFO at `addr`.
    pub fn read(mem: &dyn Memory, addr: u64) -> Result<UnwindInfo> {
        let head = mem.read_bytes(addr, 4)?;
        let count = head[2] as usize;
        let len = 4 + 2 * ((count + 1) & !1) + 12;
        let data = match mem.read_bytes(addr, len) {
            Ok(d) => d,
            Err(_) => mem.read_bytes(addr, 4 + 2 * count)?,
        };
        UnwindInfo::parse(&data)
    }
}

/// Number of u16 slots an unwind code occupies.
fn code_slots(op: u8, info: u8) -> usize {
    match op {
        1 => {
            if info == 0 {
                2
            } else {
                3
            }
        }
        4 | 6 | 8 => 2,
        5 | 7 | 9 => 3,
        _ => 1,
    }
}

/// Unwinds one frame of an x64 function whose UNWIND_INFO is at `unwind_addr`.
fn unwind_frame_x64(
    mem: &dyn Memory,
    image_base: u64,
    function_begin: u64,
    unwind_addr: u64,
    ctx: &RegContext,
    leaf: bool,
) -> Result<RegContext> {
    let mut c = ctx.clone();
    if leaf && let Some(done) = unwind_epilog(mem, &c)? {
        return Ok(done);
    }
    let ip_offset = c.ip.wrapping_sub(function_begin);
    let mut info = UnwindInfo::read(mem, unwind_addr)?;
    let mut primary = true;
    for _ in 0..MAX_CHAIN {
        // Offsets of SAVE_NONVOL are from the frame register's base once SET_FPREG has run,
        // else from the SP.
        let in_prolog = primary && ip_offset < info.prolog_size as u64;
        let fp_set = info.frame_register != 0
            && info.codes.iter().any(|&k| (k >> 8) & 0xf == 3 && (!in_prolog || (k & 0xff) as u64 <= ip_offset));
        let frame_base = if fp_set {
            let fr = info.frame_register as usize;
            c.get(fr)
                .with_context(|| format!("the frame register {} is unknown", REGISTER_NAMES[fr & 15]))?
                .wrapping_sub(16 * info.frame_offset as u64)
        } else {
            c.sp()
        };
        let codes = &info.codes;
        let mut i = 0;
        while i < codes.len() {
            let code = codes[i];
            let prolog_offset = (code & 0xff) as u64;
            let op = ((code >> 8) & 0xf) as u8;
            let op_info = (code >> 12) as u8;
            let slots = code_slots(op, op_info);
            // In the primary function's prolog, codes of instructions not yet run are skipped.
            if primary && ip_offset < info.prolog_size as u64 && prolog_offset > ip_offset {
                i += slots;
                continue;
            }
            let arg16 = |k: usize| codes.get(i + k).copied().context("unwind code truncated");
            match op {
                0 => {
                    // PUSH_NONVOL
                    let rsp = c.sp();
                    c.load(mem, op_info as usize, rsp)?;
                    c.set_sp(rsp.wrapping_add(8));
                }
                1 => {
                    let size = if op_info == 0 {
                        arg16(1)? as u64 * 8
                    } else {
                        arg16(1)? as u64 | (arg16(2)? as u64) << 16
                    };
                    c.set_sp(c.sp().wrapping_add(size));
                }
                2 => c.set_sp(c.sp().wrapping_add(op_info as u64 * 8 + 8)),
                3 => {
                    // SET_FPREG: rsp = frame register - 16 * offset
                    let fr = info.frame_register as usize;
                    let v = c.get(fr).with_context(|| format!("the frame register {} is unknown", REGISTER_NAMES[fr & 15]))?;
                    c.set_sp(v.wrapping_sub(16 * info.frame_offset as u64));
                }
                4 => c.load(mem, op_info as usize, frame_base.wrapping_add(arg16(1)? as u64 * 8))?,
                5 => {
                    let off = arg16(1)? as u64 | (arg16(2)? as u64) << 16;
                    c.load(mem, op_info as usize, frame_base.wrapping_add(off))?
                }
                6..=9 => {} // XMM saves: nothing to restore for GC purposes
                10 => {
                    // PUSH_MACHFRAME: an interrupt frame (rip, cs, eflags, rsp, ss)
                    let rsp = c.sp().wrapping_add(if op_info != 0 { 8 } else { 0 });
                    let rip = mem.read_u64(rsp)?;
                    let new_rsp = mem.read_u64(rsp.wrapping_add(24))?;
                    c.set_sp(new_rsp);
                    c.ip = rip;
                    c.clear_volatile();
                    return Ok(c);
                }
                _ => bail!("unknown unwind code {op}"),
            }
            i += slots;
        }
        match info.chained {
            Some((_, _, unwind_rva)) => {
                info = UnwindInfo::read(mem, image_base.wrapping_add(unwind_rva as u64))?;
                primary = false;
            }
            None => {
                let rsp = c.sp();
                c.ip = mem.read_u64(rsp).with_context(|| format!("cannot read the return address at {rsp:#x}"))?;
                c.set_sp(rsp.wrapping_add(8));
                c.clear_volatile();
                return Ok(c);
            }
        }
    }
    bail!("chained unwind infos do not end")
}

/// If the IP is in an epilog (`add rsp`/`lea rsp` then pops then `ret`), emulates it.
fn unwind_epilog(mem: &dyn Memory, ctx: &RegContext) -> Result<Option<RegContext>> {
    // Up to 32 bytes of code, not past the IP's page (the next one may be absent).
    let to_page_end = (4096 - (ctx.ip & 0xfff)) as usize;
    let Ok(code) = mem.read_bytes(ctx.ip, to_page_end.min(32)) else {
        return Ok(None);
    };
    let mut c = ctx.clone();
    let mut p = 0usize;
    let byte = |i: usize| code.get(i).copied().unwrap_or(0);
    // add rsp, imm8 / imm32
    if byte(0) == 0x48 && byte(1) == 0x83 && byte(2) == 0xc4 {
        c.set_sp(c.sp().wrapping_add(byte(3) as i8 as i64 as u64));
        p = 4;
    } else if byte(0) == 0x48 && byte(1) == 0x81 && byte(2) == 0xc4 {
        let imm = i32::from_le_bytes([byte(3), byte(4), byte(5), byte(6)]);
        c.set_sp(c.sp().wrapping_add(imm as i64 as u64));
        p = 7;
    } else if (byte(0) & 0xf8) == 0x48 && byte(1) == 0x8d {
        // lea rsp, [reg + disp8/disp32]
        let modrm = byte(2);
        let reg = (modrm >> 3) & 7;
        let rm = (modrm & 7) as usize + if byte(0) & 1 != 0 { 8 } else { 0 };
        if reg == 4 && byte(0) & 4 == 0 && rm & 7 != 4 {
            let (disp, len) = match modrm >> 6 {
                1 => (byte(3) as i8 as i64, 4),
                2 => (i32::from_le_bytes([byte(3), byte(4), byte(5), byte(6)]) as i64, 7),
                _ => return Ok(None),
            };
            let Some(base) = c.get(rm) else { return Ok(None) };
            c.set_sp(base.wrapping_add(disp as u64));
            p = len;
        } else {
            return Ok(None);
        }
    }
    // pops, then ret
    for _ in 0..16 {
        let b = byte(p);
        let (reg, len) = if (0x58..=0x5f).contains(&b) {
            ((b - 0x58) as usize, 1)
        } else if b == 0x41 && (0x58..=0x5f).contains(&byte(p + 1)) {
            ((byte(p + 1) - 0x58) as usize + 8, 2)
        } else if b == 0xc3 || (b == 0xf3 && byte(p + 1) == 0xc3) || b == 0xc2 {
            let rsp = c.sp();
            c.ip = mem.read_u64(rsp)?;
            c.set_sp(rsp.wrapping_add(8));
            c.clear_volatile();
            return Ok(Some(c));
        } else {
            return Ok(None);
        };
        if reg == RSP {
            return Ok(None);
        }
        let rsp = c.sp();
        c.load(mem, reg, rsp)?;
        c.set_sp(rsp.wrapping_add(8));
        p += len;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct FakeMemory {
        bytes: HashMap<u64, u8>,
    }

    impl FakeMemory {
        fn put(&mut self, addr: u64, data: &[u8]) {
            for (i, b) in data.iter().enumerate() {
                self.bytes.insert(addr + i as u64, *b);
            }
        }
        fn put_u64(&mut self, addr: u64, v: u64) {
            self.put(addr, &v.to_le_bytes());
        }
    }

    impl Memory for FakeMemory {
        fn read_u64(&self, addr: u64) -> Result<u64> {
            let b = self.read_bytes(addr, 8)?;
            Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
        }
        fn read_bytes(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
            (0..len as u64)
                .map(|i| self.bytes.get(&(addr + i)).copied().context("absent"))
                .collect()
        }
    }

    fn code(offset: u8, op: u8, info: u8) -> [u8; 2] {
        [offset, op | info << 4]
    }

    /// push rbp; push rbx; sub rsp, 0x28; lea rbp, [rsp+0x20] (frame register rbp, offset 2).
    fn rbp_frame_unwind_info() -> Vec<u8> {
        let mut u = vec![1, 0x0c, 4, 5 | 2 << 4];
        u.extend(code(0x0c, 3, 0)); // SET_FPREG at 0xc
        u.extend(code(0x07, 2, 4)); // ALLOC_SMALL 0x28 at 7
        u.extend(code(0x02, 0, 3)); // PUSH rbx at 2
        u.extend(code(0x01, 0, 5)); // PUSH rbp at 1
        u
    }

    #[test]
    fn unwinds_an_rbp_frame_and_records_save_slots() {
        let mut m = FakeMemory::default();
        let base = 0x1000_0000u64;
        let func = base + 0x100;
        m.put(base + 0x800, &rbp_frame_unwind_info());
        // Entry rsp E: return address at E, rbp pushed at E-8, rbx at E-16, then 0x28 bytes.
        let e = 0x7000_0100u64;
        m.put_u64(e, 0xdead_beef);
        m.put_u64(e - 8, 0x1111);
        m.put_u64(e - 16, 0x2222);
        let rsp = e - 16 - 0x28;
        let rbp = rsp + 0x20;
        let mut ctx = RegContext::x64(func + 0x40, rsp);
        ctx.set(RBP, rbp);
        ctx.set(0, 0x99); // rax: volatile
        let up = unwind_frame(&m, base, func, base + 0x800, &ctx, false).unwrap();
        assert_eq!(up.ip, 0xdead_beef);
        assert_eq!(up.sp(), e + 8);
        assert_eq!(up.get(RBP), Some(0x1111));
        assert_eq!(up.get(3), Some(0x2222));
        assert_eq!(up.locations[RBP], Some(e - 8));
        assert_eq!(up.locations[3], Some(e - 16));
        assert_eq!(up.get(0), None, "volatile registers are dead in the caller");
    }

    #[test]
    fn prolog_skips_codes_not_yet_run() {
        let mut m = FakeMemory::default();
        let base = 0x1000_0000u64;
        let func = base + 0x100;
        m.put(base + 0x800, &rbp_frame_unwind_info());
        // Stopped at offset 1: only `push rbp` ran (a code's offset is the end of its instruction).
        let e = 0x7000_0100u64;
        m.put_u64(e, 0xabc);
        m.put_u64(e - 8, 0x1111);
        let ctx = RegContext::x64(func + 1, e - 8);
        let up = unwind_frame(&m, base, func, base + 0x800, &ctx, true).unwrap();
        assert_eq!((up.ip, up.sp(), up.get(RBP)), (0xabc, e + 8, Some(0x1111)));
    }

    #[test]
    fn leaf_epilog_is_emulated() {
        let mut m = FakeMemory::default();
        let base = 0x1000_0000u64;
        let func = base + 0x100;
        m.put(base + 0x800, &rbp_frame_unwind_info());
        // add rsp, 0x28; pop rbx; pop rbp; ret
        m.put(func + 0x50, &[0x48, 0x83, 0xc4, 0x28, 0x5b, 0x5d, 0xc3]);
        m.put(func + 0x57, &[0xcc; 32]);
        let e = 0x7000_0100u64;
        m.put_u64(e, 0x777);
        m.put_u64(e - 8, 0x1111);
        m.put_u64(e - 16, 0x2222);
        let ctx = RegContext::x64(func + 0x50, e - 16 - 0x28);
        let up = unwind_frame(&m, base, func, base + 0x800, &ctx, true).unwrap();
        assert_eq!((up.ip, up.sp(), up.get(RBP), up.get(3)), (0x777, e + 8, Some(0x1111), Some(0x2222)));
    }

    #[test]
    fn large_alloc_save_nonvol_and_chain() {
        let mut m = FakeMemory::default();
        let base = 0x1000_0000u64;
        // Primary: push r12; sub rsp, 0x1000 (ALLOC_LARGE info 0: size/8 in one slot);
        // mov [rsp+0x10], rbx (SAVE_NONVOL offset/8 = 2).
        let mut primary = vec![1, 0x10, 5, 0];
        primary.extend(code(0x10, 4, 3));
        primary.extend([2, 0]);
        primary.extend(code(0x0b, 1, 0));
        primary.extend([0x00, 0x02]); // 0x200 * 8 = 0x1000
        primary.extend(code(0x02, 0, 12));
        primary.extend([0, 0]); // padding to an even count
        m.put(base + 0x900, &primary);
        // Chained (e.g. a cold part): no codes, chain to the primary.
        let mut cold = vec![1 | (UNW_FLAG_CHAININFO << 3), 0, 0, 0];
        cold.extend(0x100u32.to_le_bytes());
        cold.extend(0x200u32.to_le_bytes());
        cold.extend(0x900u32.to_le_bytes());
        m.put(base + 0xa00, &cold);
        let rsp = 0x7000_0000u64;
        m.put_u64(rsp + 0x10, 0x3333); // saved rbx
        m.put_u64(rsp + 0x1000, 0x4444); // pushed r12
        m.put_u64(rsp + 0x1008, 0x5555); // return address
        let ctx = RegContext::x64(base + 0x3000, rsp);
        let up = unwind_frame(&m, base, base + 0x3000, base + 0xa00, &ctx, false).unwrap();
        assert_eq!(up.ip, 0x5555);
        assert_eq!(up.sp(), rsp + 0x1010);
        assert_eq!((up.get(3), up.locations[3]), (Some(0x3333), Some(rsp + 0x10)));
        assert_eq!((up.get(12), up.locations[12]), (Some(0x4444), Some(rsp + 0x1000)));
    }

    #[test]
    fn bad_unwind_info_is_an_error() {
        assert!(UnwindInfo::parse(&[]).is_err());
        assert!(UnwindInfo::parse(&[0, 0, 0, 0]).is_err(), "version 0");
        assert!(UnwindInfo::parse(&[1, 0, 3, 0, 1, 2]).is_err(), "truncated codes");
        let mut m = FakeMemory::default();
        // Unknown op 11.
        m.put(0x2000, &[1, 0, 1, 0, 0, 11, 0, 0]);
        let ctx = RegContext::x64(0x3000, 0x5000);
        assert!(unwind_frame(&m, 0, 0x3000, 0x2000, &ctx, false).is_err());
        // A frame register that is unknown.
        m.put(0x2100, &[1, 0, 1, 5, 0, 3, 0, 0]);
        assert!(unwind_frame(&m, 0, 0x3000, 0x2100, &ctx, false).is_err());
    }
}

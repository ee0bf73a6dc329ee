//! Virtual unwinding of arm64 managed code: the Windows arm64 `.xdata` unwind format,
//! which CoreCLR uses for JIT-compiled and ReadyToRun code on Linux too.
//!
//! A `RUNTIME_FUNCTION` is `{u32 begin rva, u32 unwind data rva}` (8 bytes; the low two
//! bits of the second word say "packed", which managed code never uses). The `.xdata` it
//! points to starts with a header word: function length in instructions (bits 0–17),
//! version (18–19, 0), X (20: exception data follows), E (21: one epilog, described by the
//! prolog's codes from the index in bits 22–26), epilog count (22–26), code words
//! (27–31); both counts 0 means an extension word holds them (16 and 8 bits). Then, unless
//! E, one word per epilog scope (start in instructions 0–17, first code index 22–31), then
//! the unwind codes (bytes, most recent prolog instruction first), then with X a 4-byte
//! handler RVA. ReadyToRun GC info starts right after all of that.
//!
//! Unwinding runs the codes from the prolog's start (or from an epilog's first code when
//! the IP is in that epilog), skipping those of instructions not yet run, until an `end`
//! code; then the return address is the restored `lr`. Where each register was restored
//! from is recorded, as for x64, so that a caller's GC references kept in x19–x28 are
//! found in their save slots. Written from the format as the Windows arm64 ABI documents
//! it and as the runtime's unwinder implements it (read, not copied).
use super::unwind::{Memory, RegContext, ARM64_FP, ARM64_LR};
use anyhow::{bail, Context as _, Result};

/// Longest unwind code array (255 words of 4 bytes).
const MAX_CODE_BYTES: usize = 255 * 4;
/// Most epilog scopes read (the extension allows 65535; managed methods have a handful).
const MAX_EPILOG_SCOPES: usize = 4096;

/// A parsed `.xdata` record.
#[derive(Debug, Clone)]
pub struct Xdata {
    /// Function length in bytes.
    pub function_length: u64,
    /// `(start offset in instructions, first code index)` of each epilog scope; with E, the
    /// one epilog at the end of the function (its start is computed from its codes).
    pub epilogs: Vec<(u32, usize)>,
    /// E: the single epilog's codes start at this index.
    pub single_epilog: Option<usize>,
    pub codes: Vec<u8>,
    /// Bytes from the start of the record to the end of its codes and handler RVA
    /// (ReadyToRun GC info starts there).
    pub size: usize,
}

impl Xdata {
    /// Reads the record at `addr`.
    pub fn read(mem: &dyn Memory, addr: u64) -> Result<Xdata> {
        let word = |at: u64| -> Result<u32> {
            let b = mem.read_bytes(at, 4)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let header = word(addr).context("cannot read the unwind data header")?;
        if (header >> 18) & 3 != 0 {
            bail!("arm64 unwind data version {}", (header >> 18) & 3);
        }
        let function_length = u64::from(header & 0x3ffff) * 4;
        let has_handler = header & (1 << 20) != 0;
        let single = header & (1 << 21) != 0;
        let mut epilog_count = ((header >> 22) & 0x1f) as usize;
        let mut code_words = (header >> 27) as usize;
        let mut pos = 4u64;
        if epilog_count == 0 && code_words == 0 {
            let ext = word(addr.wrapping_add(4)).context("cannot read the unwind data's extension word")?;
            epilog_count = (ext & 0xffff) as usize;
            code_words = ((ext >> 16) & 0xff) as usize;
            pos = 8;
        }
        let mut epilogs = Vec::new();
        let mut single_epilog = None;
        if single {
            single_epilog = Some(epilog_count);
        } else {
            if epilog_count > MAX_EPILOG_SCOPES {
                bail!("arm64 unwind data with {epilog_count} epilog scopes");
            }
            let raw = mem.read_bytes(addr.wrapping_add(pos), 4 * epilog_count)?;
            for w in raw.chunks_exact(4) {
                let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                epilogs.push((v & 0x3ffff, (v >> 22) as usize));
            }
            pos += 4 * epilog_count as u64;
        }
        let code_bytes = 4 * code_words;
        debug_assert!(code_bytes <= MAX_CODE_BYTES);
        let codes = mem.read_bytes(addr.wrapping_add(pos), code_bytes)?;
        let size = pos as usize + code_bytes + if has_handler { 4 } else { 0 };
        Ok(Xdata { function_length, epilogs, single_epilog, codes, size })
    }

    /// Instructions described by the codes from `index` to the next `end`.
    fn scope_size(&self, index: usize) -> usize {
        let mut i = index;
        let mut n = 0;
        while let Some(&op) = self.codes.get(i) {
            if is_end(op) {
                break;
            }
            let (len, insns) = code_size(op);
            n += insns;
            i += len;
        }
        n
    }

    /// Where unwinding starts for an IP `offset` instructions into the function: the index
    /// of the first code to run, and how many codes (instructions not yet run, or epilog
    /// instructions already run) to skip first.
    fn start(&self, offset: usize) -> (usize, usize) {
        // In the prolog: codes from 0, skipping the instructions not yet run.
        let prolog = self.scope_size(0);
        if offset < prolog {
            return (0, prolog - offset);
        }
        let length = (self.function_length / 4) as usize;
        if let Some(index) = self.single_epilog {
            // The epilog's codes plus its final `ret`.
            let size = self.scope_size(index) + 1;
            if let Some(start) = length.checked_sub(size)
                && offset >= start
                && offset < length
            {
                return (index, offset - start);
            }
        }
        for &(start, index) in &self.epilogs {
            let start = start as usize;
            if offset < start {
                break;
            }
            let size = self.scope_size(index) + 1;
            if offset < start + size {
                return (index, offset - start);
            }
        }
        (0, 0)
    }
}

/// The length in bytes of the function whose `.xdata` is at `addr` (from its header).
pub fn function_length(mem: &dyn Memory, addr: u64) -> Result<u32> {
    let b = mem.read_bytes(addr, 4).context("cannot read the unwind data header")?;
    Ok((u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & 0x3ffff) * 4)
}

fn is_end(op: u8) -> bool {
    op & 0xfe == 0xe4
}

/// `(bytes, instructions)` of the code starting with `op`.
fn code_size(op: u8) -> (usize, usize) {
    match op {
        0x00..=0xbf => (1, 1),
        0xc0..=0xdf => (2, 1),
        0xe0 => (4, 1),
        0xe2 => (2, 1),
        0xe7 => (3, 1),
        0xe1 | 0xe3..=0xe6 => (1, 1),
        0xe8..=0xf7 => (1, 0),
        0xf8..=0xfb => (2 + (op & 3) as usize, 1),
        0xfc..=0xff => (1, 1),
    }
}

/// Restores `count` x registers from consecutive slots: at `sp + offset` for a
/// non-negative offset; for a negative one (a pre-indexed save) at `sp`, then `sp -= offset`.
fn restore(c: &mut RegContext, mem: &dyn Memory, offset: i64, first: usize, count: usize) -> Result<()> {
    if first + count > 31 {
        bail!("arm64 unwind code restores x{first}..x{}", first + count - 1);
    }
    let sp = c.sp();
    let mut at = if offset >= 0 { sp.wrapping_add(offset as u64) } else { sp };
    for r in first..first + count {
        c.load(mem, r, at)?;
        at = at.wrapping_add(8);
    }
    if offset < 0 {
        c.set_sp(sp.wrapping_add(offset.unsigned_abs()));
    }
    Ok(())
}

/// Floating-point saves: only their effect on SP matters here.
fn skip_fp(c: &mut RegContext, offset: i64) {
    if offset < 0 {
        c.set_sp(c.sp().wrapping_add(offset.unsigned_abs()));
    }
}

/// Unwinds one frame of a function whose `.xdata` is at `unwind_addr` and whose
/// RUNTIME_FUNCTION starts at `function_begin`.
pub fn unwind_frame(mem: &dyn Memory, function_begin: u64, unwind_addr: u64, ctx: &RegContext) -> Result<RegContext> {
    let x = Xdata::read(mem, unwind_addr)?;
    let offset = (ctx.ip.wrapping_sub(function_begin) / 4) as usize;
    let (mut i, mut skip) = x.start(offset);
    let mut c = ctx.clone();
    let codes = &x.codes;
    while skip > 0 && i < codes.len() && !is_end(codes[i]) {
        i += code_size(codes[i]).0;
        skip -= 1;
    }
    let byte = |k: usize| codes.get(k).copied().context("arm64 unwind code truncated");
    let mut save_next = 0usize;
    while i < codes.len() {
        let op = codes[i];
        let (len, _) = code_size(op);
        if op != 0xe6 && !matches!(op, 0x20..=0x3f | 0xc8..=0xcf | 0xd8..=0xdb | 0xe7) && save_next != 0 {
            bail!("arm64 unwind code {op:#x} after save_next");
        }
        match op {
            // alloc_s: sp += 16 * x
            0x00..=0x1f => c.set_sp(c.sp().wrapping_add(16 * u64::from(op & 0x1f))),
            // save_r19r20_x: pair at [sp - z*8]!
            0x20..=0x3f => {
                restore(&mut c, mem, -8 * i64::from(op & 0x1f), 19, 2 + 2 * save_next)?;
                save_next = 0;
            }
            // save_fplr: <fp, lr> at [sp + z*8]
            0x40..=0x7f => restore(&mut c, mem, 8 * i64::from(op & 0x3f), ARM64_FP, 2)?,
            // save_fplr_x: <fp, lr> at [sp - (z+1)*8]!
            0x80..=0xbf => restore(&mut c, mem, -8 * (i64::from(op & 0x3f) + 1), ARM64_FP, 2)?,
            // alloc_m: sp += 16 * x (11 bits)
            0xc0..=0xc7 => {
                let size = (u64::from(op & 7) << 8) | u64::from(byte(i + 1)?);
                c.set_sp(c.sp().wrapping_add(16 * size));
            }
            0xc8..=0xd7 => {
                let next = byte(i + 1)?;
                let z = i64::from(next & 0x3f);
                let reg = 19 + (usize::from(op & 3) << 2) + usize::from(next >> 6);
                match op {
                    // save_regp: pair x(19+#X) at [sp + z*8]
                    0xc8..=0xcb => {
                        restore(&mut c, mem, 8 * z, reg, 2 + 2 * save_next)?;
                        save_next = 0;
                    }
                    // save_regp_x: pair at [sp - (z+1)*8]!
                    0xcc..=0xcf => {
                        restore(&mut c, mem, -8 * (z + 1), reg, 2 + 2 * save_next)?;
                        save_next = 0;
                    }
                    // save_reg: x(19+#X) at [sp + z*8]
                    0xd0..=0xd3 => restore(&mut c, mem, 8 * z, reg, 1)?,
                    // save_reg_x: x(19+#X) at [sp - (z+1)*8]! (5-bit offset, 4-bit register)
                    0xd4 | 0xd5 => {
                        let reg = 19 + (usize::from(op & 1) << 3) + usize::from(next >> 5);
                        restore(&mut c, mem, -8 * (i64::from(next & 0x1f) + 1), reg, 1)?;
                    }
                    // save_lrpair: <x(19+2*#X), lr> at [sp + z*8]
                    _ => {
                        let reg = 19 + 2 * ((usize::from(op & 1) << 2) + usize::from(next >> 6));
                        restore(&mut c, mem, 8 * z, reg, 1)?;
                        restore(&mut c, mem, 8 * z + 8, ARM64_LR, 1)?;
                    }
                }
            }
            // save_fregp / save_fregp_x / save_freg / save_freg_x: d8–d15
            0xd8..=0xde => {
                let next = byte(i + 1)?;
                match op {
                    0xda | 0xdb => skip_fp(&mut c, -8 * (i64::from(next & 0x3f) + 1)),
                    0xde => skip_fp(&mut c, -8 * (i64::from(next & 0x1f) + 1)),
                    _ => {}
                }
                if op <= 0xdb {
                    save_next = 0;
                }
            }
            0xdf => bail!("arm64 unwind code alloc_z (SVE) is not supported"),
            // alloc_l: sp += 16 * x (24 bits)
            0xe0 => {
                let size = (u64::from(byte(i + 1)?) << 16) | (u64::from(byte(i + 2)?) << 8) | u64::from(byte(i + 3)?);
                c.set_sp(c.sp().wrapping_add(16 * size));
            }
            // set_fp: mov fp, sp
            0xe1 => {
                let fp = c.get(ARM64_FP).context("the frame pointer is unknown")?;
                c.set_sp(fp);
            }
            // add_fp: add fp, sp, #x*8
            0xe2 => {
                let fp = c.get(ARM64_FP).context("the frame pointer is unknown")?;
                c.set_sp(fp.wrapping_sub(8 * u64::from(byte(i + 1)?)));
            }
            0xe3 | 0xe5 => {}
            0xe4 => break,
            0xe6 => save_next += 1,
            // save_any_reg: 0pxrrrrr ffoooooo
            0xe7 => {
                let (b1, b2) = (byte(i + 1)?, byte(i + 2)?);
                if b1 & 0x80 != 0 {
                    bail!("arm64 unwind code save_any_reg with a reserved bit");
                }
                let pair = b1 & 0x40 != 0;
                let writeback = b1 & 0x20 != 0;
                let reg = usize::from(b1 & 0x1f);
                let kind = b2 >> 6;
                if !pair && save_next != 0 {
                    bail!("arm64 unwind code save_any_reg (single) after save_next");
                }
                let scale = if writeback || pair || kind == 2 { 16 } else { 8 };
                let mut off = (i64::from(b2 & 0x3f) + i64::from(writeback)) * scale;
                if writeback {
                    off = -off;
                }
                let count = 1 + usize::from(pair) + 2 * save_next;
                match kind {
                    0 => restore(&mut c, mem, off, reg, count)?,
                    1 | 2 => skip_fp(&mut c, off),
                    _ => bail!("arm64 unwind code save_any_reg of kind {kind}"),
                }
                save_next = 0;
            }
            0xe8..=0xeb => bail!("arm64 unwind code {op:#x} (a machine frame) is not supported"),
            0xec => {}
            0xed..=0xf7 => bail!("reserved arm64 unwind code {op:#x}"),
            0xfc => {
                // pac: lr was signed; strip the authentication code (48-bit user addresses).
                if let Some(lr) = c.get(ARM64_LR)
                    && lr >> 55 & 1 == 0
                {
                    let loc = c.locations[ARM64_LR];
                    c.set(ARM64_LR, lr & ((1 << 48) - 1));
                    c.locations[ARM64_LR] = loc;
                }
            }
            0xf8..=0xfb | 0xfd..=0xff => {}
        }
        i += len;
    }
    let lr = c.get(ARM64_LR).context("the return address (lr) is unknown")?;
    c.ip = lr;
    c.clear_volatile();
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::Architecture;
    use crate::runtime::stack::unwind::ARM64_SP;
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
            (0..len as u64).map(|i| self.bytes.get(&(addr + i)).copied().context("absent")).collect()
        }
    }

    fn header(len_insns: u32, epilogs: u32, words: u32, e: bool, x: bool) -> [u8; 4] {
        (len_insns | (x as u32) << 20 | (e as u32) << 21 | epilogs << 22 | words << 27).to_le_bytes()
    }

    /// The JIT's usual frame: `stp fp, lr, [sp, #-0x30]!; stp x19, x20, [sp, #0x10];
    /// mov fp, sp` .. `ldp x19, x20, [sp, #0x10]; ldp fp, lr, [sp], #0x30; ret`.
    /// Codes (most recent first): set_fp, save_regp x19 @16, save_fplr_x -48, end.
    fn jit_frame(m: &mut FakeMemory, at: u64) {
        let mut x = header(20, 0, 2, true, false).to_vec();
        // E set: the epilog's codes start at index 1 (skipping set_fp).
        x[2] |= 1 << 6; // epilog index 1 (bits 22..26)
        x.extend([0xe1, 0xc8, 0x02, 0x85, 0xe4, 0xe3, 0xe3, 0xe3]);
        m.put(at, &x);
    }

    fn ctx(ip: u64, sp: u64) -> RegContext {
        RegContext::new(Architecture::Arm64, ip, sp)
    }

    #[test]
    fn unwinds_a_jit_frame_and_records_save_slots() {
        let mut m = FakeMemory::default();
        let (func, xdata) = (0x4000_0000u64, 0x5000_0000u64);
        jit_frame(&mut m, xdata);
        let sp = 0x7000_0000u64;
        m.put_u64(sp, 0xf0f0); // caller's fp
        m.put_u64(sp + 8, 0x1234_5678); // lr
        m.put_u64(sp + 16, 0x1919);
        m.put_u64(sp + 24, 0x2020);
        let mut c = ctx(func + 8 * 4, sp);
        c.set(ARM64_FP, sp);
        c.set(0, 0x99);
        let x = Xdata::read(&m, xdata).unwrap();
        assert_eq!((x.function_length, x.single_epilog, x.size), (80, Some(1), 12));
        let up = unwind_frame(&m, func, xdata, &c).unwrap();
        assert_eq!(up.ip, 0x1234_5678);
        assert_eq!(up.sp(), sp + 0x30);
        assert_eq!((up.get(ARM64_FP), up.locations[ARM64_FP]), (Some(0xf0f0), Some(sp)));
        assert_eq!((up.get(19), up.locations[19]), (Some(0x1919), Some(sp + 16)));
        assert_eq!(up.get(20), Some(0x2020));
        assert_eq!(up.get(0), None, "volatile registers are dead in the caller");
        assert_eq!(up.get(ARM64_SP), Some(sp + 0x30));
    }

    #[test]
    fn prolog_and_epilog_positions() {
        let mut m = FakeMemory::default();
        let (func, xdata) = (0x4000_0000u64, 0x5000_0000u64);
        jit_frame(&mut m, xdata);
        let sp0 = 0x7000_0100u64; // SP at entry
        // After the first instruction (stp fp, lr, [sp, #-0x30]!) only.
        let sp = sp0 - 0x30;
        m.put_u64(sp, 0xf0f0);
        m.put_u64(sp + 8, 0xabc);
        let up = unwind_frame(&m, func, xdata, &ctx(func + 4, sp)).unwrap();
        assert_eq!((up.ip, up.sp(), up.get(ARM64_FP), up.get(19)), (0xabc, sp0, Some(0xf0f0), None));
        // At function entry: nothing ran, lr is the return address.
        let mut c = ctx(func, sp0);
        c.set(ARM64_LR, 0xdef);
        let up = unwind_frame(&m, func, xdata, &c).unwrap();
        assert_eq!((up.ip, up.sp()), (0xdef, sp0));
        // In the epilog (3 instructions at 17..19), after `ldp x19, x20` ran: only
        // `ldp fp, lr, [sp], #0x30` is left.
        let up = unwind_frame(&m, func, xdata, &ctx(func + 18 * 4, sp)).unwrap();
        assert_eq!((up.ip, up.sp(), up.get(19)), (0xabc, sp0, None));
        // At the `ret`: everything ran, lr holds the return address.
        let mut c = ctx(func + 19 * 4, sp0);
        c.set(ARM64_LR, 0x777);
        let up = unwind_frame(&m, func, xdata, &c).unwrap();
        assert_eq!((up.ip, up.sp()), (0x777, sp0));
    }

    #[test]
    fn large_frames_scopes_and_save_next() {
        let mut m = FakeMemory::default();
        let (func, xdata) = (0x4000_0000u64, 0x5000_0000u64);
        // Two epilog scopes, extension word (counts 0 in the header), X set.
        // Codes: alloc_m 0x1000, save_fplr 0, save_regp x19 @16 + save_next (x19..x22),
        // save_r19r20_x? no: end. Prolog order (reversed): save_regp_x x19 -48 with
        // save_next, save_fplr... keep it a pure register test.
        let mut x = header(100, 0, 0, false, true).to_vec();
        x.extend((2u32 | 2 << 16).to_le_bytes()); // 2 scopes, 2 code words
        x.extend((90u32 | 0 << 22).to_le_bytes());
        x.extend((95u32 | 0 << 22).to_le_bytes());
        // alloc_m 0x100*16 = 0x1000; save_next; save_regp_x x19 pair at [sp-16]!; end
        x.extend([0xc1, 0x00, 0xe6, 0xcc, 0x01, 0xe4, 0xe3, 0xe3]);
        x.extend(0u32.to_le_bytes()); // handler rva
        m.put(xdata, &x);
        let sp = 0x7000_0000u64;
        for k in 0..4u64 {
            m.put_u64(sp + 0x1000 + 8 * k, 0x100 + k);
        }
        let mut c = ctx(func + 50 * 4, sp);
        c.set(ARM64_LR, 0x5555);
        let xd = Xdata::read(&m, xdata).unwrap();
        assert_eq!(xd.epilogs, vec![(90, 0), (95, 0)]);
        assert_eq!(xd.size, 8 + 8 + 8 + 4);
        let up = unwind_frame(&m, func, xdata, &c).unwrap();
        assert_eq!(up.sp(), sp + 0x1000 + 16);
        assert_eq!((19..23).map(|r| up.get(r).unwrap()).collect::<Vec<_>>(), vec![0x100, 0x101, 0x102, 0x103]);
        assert_eq!(up.ip, 0x5555);
        // In the second epilog after its first instruction: alloc_m is done.
        let up = unwind_frame(&m, func, xdata, &ctx(func + 96 * 4, sp + 0x1000)).unwrap_err();
        assert!(format!("{up:#}").contains("lr"), "no lr restored by these codes: {up:#}");
    }

    #[test]
    fn bad_unwind_data_is_an_error() {
        let mut m = FakeMemory::default();
        m.put(0x100, &(1u32 << 18 | 4 | 1 << 27).to_le_bytes()); // version 1
        assert!(Xdata::read(&m, 0x100).is_err());
        assert!(Xdata::read(&m, 0x200).is_err(), "absent");
        // Codes running past their words.
        let mut x = header(4, 0, 1, true, false).to_vec();
        x.extend([0xe0, 0x00, 0x00, 0x01]);
        m.put(0x300, &x);
        let c = ctx(0x1000 + 8, 0x9000);
        assert!(unwind_frame(&m, 0x1000, 0x300, &c).is_err(), "no lr");
    }
}

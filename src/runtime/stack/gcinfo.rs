//! The GcInfo decoder (x64 and arm64): which stack slots and registers hold GC references
//! at a given code offset of a method.
//!
//! GcInfo is a little-endian bit stream read least significant bit first. Variable-length
//! numbers come in chunks of `base + 1` bits whose top bit says "more follows". The layout,
//! in stream order: header (slim or fat), safe-point offsets, interruptible ranges, the
//! slot table (registers, tracked stack slots, untracked stack slots), the live state of
//! the tracked slots at each safe point, and for fully interruptible code per-64-byte-chunk
//! lifetime transitions.
//!
//! Version 3 (.NET 8 and 9) and version 4 (.NET 10) differ only in the header: version 4
//! dropped the return kind bits and the PSPSym slot. Written from the format described in
//! `docs/research/stack-roots.md` §2 and the runtime's decoder (read, not copied).
//!
//! The targets differ in a few encoding bases and in normalization ([`Encoding`]): arm64
//! code offsets and lengths count 4-byte instructions, its stack base register is encoded
//! as `reg ^ 29` (fp = 0), and an edit-and-continue frame records one more size. Safe
//! points, interruptible ranges and chunk transitions are kept normalized (bytes on x64,
//! instructions on arm64); [`GcInfo::live_slots`] normalizes the offset it is asked about.
use crate::dump::Architecture;
use anyhow::{bail, Result};

/// What differs between the targets' GcInfo encodings (`gcinfotypes.h`'s
/// `AMD64GcInfoEncoding` / `ARM64GcInfoEncoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// The target this encoding is for.
    pub arch: Architecture,
    /// Code offsets and lengths are stored `>> code_shift` (0 x64, 2 arm64).
    pub code_shift: u32,
    /// The stack base register is stored `^ this` (5 = rbp on x64, 29 = fp on arm64).
    pub stack_base_register_xor: u64,
    pub stack_base_register_encbase: u32,
    pub num_registers_encbase: u32,
    pub num_safe_points_encbase: u32,
    /// Highest register number a slot may name (15 x64; 30 = lr on arm64).
    pub max_register: u64,
    /// arm64: an edit-and-continue method also records its fixed frame size.
    pub enc_fixed_frame: bool,
    /// The stack pointer's register number (4 rsp; 31 sp).
    pub sp_register: u8,
    /// arm64: SOS's dumper names a caller-SP-relative slot relative to `sp`.
    pub dumper_caller_sp_as_sp: bool,
}

impl Encoding {
    pub const X64: Encoding = Encoding {
        arch: Architecture::X86_64,
        code_shift: 0,
        stack_base_register_xor: 5,
        stack_base_register_encbase: STACK_BASE_REGISTER_ENCBASE,
        num_registers_encbase: NUM_REGISTERS_ENCBASE,
        num_safe_points_encbase: NUM_SAFE_POINTS_ENCBASE,
        max_register: 15,
        enc_fixed_frame: false,
        sp_register: 4,
        dumper_caller_sp_as_sp: false,
    };
    pub const ARM64: Encoding = Encoding {
        arch: Architecture::Arm64,
        code_shift: 2,
        stack_base_register_xor: 29,
        stack_base_register_encbase: 2,
        num_registers_encbase: 3,
        num_safe_points_encbase: 3,
        max_register: 30,
        enc_fixed_frame: true,
        sp_register: 31,
        dumper_caller_sp_as_sp: true,
    };

    pub fn of(arch: Architecture) -> &'static Encoding {
        match arch {
            Architecture::X86_64 => &Self::X64,
            Architecture::Arm64 => &Self::ARM64,
        }
    }
}

// Encoding bases of the x64 traits (arm64 differs only where [`Encoding`] says).
const CODE_LENGTH_ENCBASE: u32 = 8;
const NORM_PROLOG_SIZE_ENCBASE: u32 = 5;
const NORM_EPILOG_SIZE_ENCBASE: u32 = 3;
const GS_COOKIE_STACK_SLOT_ENCBASE: u32 = 6;
const PSP_SYM_STACK_SLOT_ENCBASE: u32 = 6;
const GENERICS_INST_CONTEXT_STACK_SLOT_ENCBASE: u32 = 6;
const STACK_BASE_REGISTER_ENCBASE: u32 = 3;
const SIZE_OF_EDIT_AND_CONTINUE_PRESERVED_AREA_ENCBASE: u32 = 4;
const SIZE_OF_EDIT_AND_CONTINUE_FIXED_STACK_FRAME_ENCBASE: u32 = 4;
const REVERSE_PINVOKE_FRAME_ENCBASE: u32 = 6;
const SIZE_OF_STACK_AREA_ENCBASE: u32 = 3;
const NUM_SAFE_POINTS_ENCBASE: u32 = 2;
const NUM_INTERRUPTIBLE_RANGES_ENCBASE: u32 = 1;
const INTERRUPTIBLE_RANGE_DELTA1_ENCBASE: u32 = 6;
const INTERRUPTIBLE_RANGE_DELTA2_ENCBASE: u32 = 6;
const NUM_REGISTERS_ENCBASE: u32 = 2;
const NUM_STACK_SLOTS_ENCBASE: u32 = 2;
const NUM_UNTRACKED_SLOTS_ENCBASE: u32 = 1;
const REGISTER_ENCBASE: u32 = 3;
const REGISTER_DELTA_ENCBASE: u32 = 2;
const STACK_SLOT_ENCBASE: u32 = 6;
const STACK_SLOT_DELTA_ENCBASE: u32 = 4;
const POINTER_SIZE_ENCBASE: u32 = 3;
const LIVESTATE_RLE_RUN_ENCBASE: u32 = 2;
const LIVESTATE_RLE_SKIP_ENCBASE: u32 = 4;
const CHUNK_LOG2: u32 = 6;
const CHUNK_SIZE: u32 = 1 << CHUNK_LOG2;

// Header flags (fat header). 0x2 once marked a security object; no runtime of 8+ writes it.
pub const FLAG_VARARG: u32 = 0x1;
const FLAG_GS_COOKIE: u32 = 0x4;
const FLAG_PSP_SYM: u32 = 0x8;
pub const FLAG_GENERICS_CONTEXT_MASK: u32 = 0x30;
/// The generics context is a MethodTable (0x10), a MethodDesc (0x20) or `this` (0x30).
pub const FLAG_GENERICS_CONTEXT_MT: u32 = 0x10;
pub const FLAG_GENERICS_CONTEXT_MD: u32 = 0x20;
/// x64: the method wants only its leaf frame reported; arm64: it has tail calls.
pub const FLAG_REPORT_ONLY_LEAF_OR_TAILCALLS: u32 = 0x80;
const FLAG_STACK_BASE_REGISTER: u32 = 0x40;
const FLAG_EDIT_AND_CONTINUE: u32 = 0x100;
const FLAG_REVERSE_PINVOKE: u32 = 0x200;

/// More slots than this in one method means corrupt GC info.
const MAX_SLOTS: u32 = 1 << 16;
/// More safe points or ranges than this means corrupt GC info.
const MAX_SAFE_POINTS: u32 = 1 << 20;

/// A little-endian, LSB-first bit reader over a byte slice. Reading past the end is an
/// error, never a panic.
#[derive(Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// The current position in bits.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub fn skip(&mut self, bits: usize) -> Result<()> {
        match self.pos.checked_add(bits) {
            Some(p) if p <= self.data.len() * 8 => {
                self.pos = p;
                Ok(())
            }
            _ => bail!("GC info ends early (skipping {bits} bits at bit {})", self.pos),
        }
    }

    /// Reads `n` (at most 64) bits.
    pub fn read(&mut self, n: u32) -> Result<u64> {
        if n > 64 {
            bail!("GC info: a {n}-bit field");
        }
        let end = self.pos + n as usize;
        if end > self.data.len() * 8 {
            bail!("GC info ends early (reading {n} bits at bit {})", self.pos);
        }
        let mut v = 0u64;
        let mut got = 0u32;
        while got < n {
            let byte = self.data[self.pos >> 3] as u64;
            let shift = (self.pos & 7) as u32;
            let take = (8 - shift).min(n - got);
            let bits = (byte >> shift) & ((1u64 << take) - 1);
            v |= bits << got;
            got += take;
            self.pos += take as usize;
        }
        Ok(v)
    }

    pub fn bit(&mut self) -> Result<bool> {
        Ok(self.read(1)? != 0)
    }

    /// A variable-length unsigned number with chunks of `base` value bits.
    pub fn var_unsigned(&mut self, base: u32) -> Result<u64> {
        Ok(self.var_chunks(base)?.0)
    }

    /// The chunks of a variable-length number: its value bits and how many there are.
    fn var_chunks(&mut self, base: u32) -> Result<(u64, u32)> {
        let mut result = 0u64;
        let mut shift = 0u32;
        loop {
            let chunk = self.read(base + 1)?;
            if shift >= 64 {
                bail!("GC info: variable-length number too long");
            }
            result |= (chunk & ((1 << base) - 1)) << shift;
            shift += base;
            if chunk & (1 << base) == 0 {
                return Ok((result, shift));
            }
        }
    }

    /// A variable-length signed number (two's complement, sign-extended from the last chunk).
    pub fn var_signed(&mut self, base: u32) -> Result<i64> {
        let (mut result, shift) = self.var_chunks(base)?;
        if shift < 64 && result & (1 << (shift - 1)) != 0 {
            result |= u64::MAX << shift;
        }
        Ok(result as i64)
    }
}

/// What a stack slot's offset is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotBase {
    /// The caller's SP (the frame's SP after unwinding it).
    CallerSp,
    /// The frame's own SP.
    Sp,
    /// The frame's stack base register (usually rbp).
    FrameRegister,
}

/// Where a GC reference lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotLocation {
    /// Register number (x64: 0 rax, 1 rcx, ... 15 r15; arm64: 0..28 x0..x28, 29 fp, 30 lr).
    Register(u8),
    Stack { base: SlotBase, offset: i32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcSlot {
    pub location: SlotLocation,
    pub interior: bool,
    pub pinned: bool,
}

/// The decoded header and slot table of one method's GC info.
#[derive(Debug, Clone)]
pub struct GcInfo {
    pub version: u32,
    pub encoding: Encoding,
    pub slim: bool,
    pub flags: u32,
    /// In bytes.
    pub code_length: u32,
    /// Stack base register number (rbp = 5, fp = 29), when there is one.
    pub stack_base_register: Option<u8>,
    /// Size of the outgoing argument / scratch area at the bottom of the frame.
    pub scratch_area: u32,
    /// Normalized code offsets (bytes on x64, instructions on arm64).
    pub safe_points: Vec<u32>,
    /// `[start, stop)` normalized code offsets of the fully interruptible ranges.
    pub interruptible_ranges: Vec<(u32, u32)>,
    pub slots: Vec<GcSlot>,
    pub num_tracked: u32,
    /// The prolog's size in bytes, when the header records it (a GS cookie or a generics
    /// context), else 0.
    pub prolog_size: u32,
    /// The GS cookie: its caller-SP-relative offset and the `[start, end)` code range where
    /// it is valid.
    pub gs_cookie: Option<(i32, u32, u32)>,
    /// Version 3: the PSPSym's offset (x64: from the initial SP; arm64: from the caller's SP).
    pub psp_sym: Option<i32>,
    /// The generics context's caller-SP-relative offset (what it is: [`GcInfo::flags`]).
    pub generics_context: Option<i32>,
    /// Version 3: the return kind (`RT_Scalar` 0, `RT_Object` 1, ...).
    pub return_kind: Option<u32>,
    /// Bit position of the live-state data (just after the slot table).
    live_state_pos: usize,
}

impl GcInfo {
    /// Decodes the header and the slot table of x64 GC info.
    pub fn decode(data: &[u8], version: u32) -> Result<GcInfo> {
        Self::decode_for(data, version, &Encoding::X64)
    }

    /// Decodes the header and the slot table with a target's encoding.
    pub fn decode_for(data: &[u8], version: u32, enc: &Encoding) -> Result<GcInfo> {
        let mut r = BitReader::new(data);
        let slim = !r.bit()?;
        let flags = if slim {
            if r.bit()? { FLAG_STACK_BASE_REGISTER } else { 0 }
        } else {
            r.read(10)? as u32
        };
        let return_kind = if version < 4 { r.read(if slim { 2 } else { 4 })? as u32 } else { 0 };
        let norm_code_length = u32::try_from(r.var_unsigned(CODE_LENGTH_ENCBASE)?)?;
        let code_length = norm_code_length
            .checked_mul(1 << enc.code_shift)
            .ok_or_else(|| anyhow::anyhow!("GC info: code length {norm_code_length} overflows"))?;
        let return_kind = (version < 4).then_some(return_kind);
        // Code offsets as the runtime denormalizes them (u32 arithmetic, wrapping like the
        // runtime's on corrupt data).
        let denorm = |n: u64| (n as u32).wrapping_shl(enc.code_shift);
        // Stack slots are stored in 8-byte units.
        let slot = |n: i64| (n as i32).wrapping_shl(3);
        let mut prolog_size = 0;
        let mut gs_cookie = None;
        if flags & FLAG_GS_COOKIE != 0 {
            let prolog = r.var_unsigned(NORM_PROLOG_SIZE_ENCBASE)?.wrapping_add(1);
            let epilog = r.var_unsigned(NORM_EPILOG_SIZE_ENCBASE)?;
            prolog_size = denorm(prolog);
            gs_cookie = Some((0, prolog_size, denorm((norm_code_length as u64).wrapping_sub(epilog))));
        } else if flags & FLAG_GENERICS_CONTEXT_MASK != 0 {
            prolog_size = denorm(r.var_unsigned(NORM_PROLOG_SIZE_ENCBASE)?.wrapping_add(1));
        }
        if let Some(cookie) = gs_cookie.as_mut() {
            cookie.0 = slot(r.var_signed(GS_COOKIE_STACK_SLOT_ENCBASE)?);
        }
        let psp_sym = if version < 4 && flags & FLAG_PSP_SYM != 0 {
            Some(slot(r.var_signed(PSP_SYM_STACK_SLOT_ENCBASE)?))
        } else {
            None
        };
        let generics_context = if flags & FLAG_GENERICS_CONTEXT_MASK != 0 {
            Some(slot(r.var_signed(GENERICS_INST_CONTEXT_STACK_SLOT_ENCBASE)?))
        } else {
            None
        };
        let stack_base_register = if flags & FLAG_STACK_BASE_REGISTER != 0 {
            let norm = if slim { 0 } else { r.var_unsigned(enc.stack_base_register_encbase)? };
            Some(((norm ^ enc.stack_base_register_xor) & 0xff) as u8)
        } else {
            None
        };
        if flags & FLAG_EDIT_AND_CONTINUE != 0 {
            r.var_unsigned(SIZE_OF_EDIT_AND_CONTINUE_PRESERVED_AREA_ENCBASE)?;
            if enc.enc_fixed_frame {
                r.var_unsigned(SIZE_OF_EDIT_AND_CONTINUE_FIXED_STACK_FRAME_ENCBASE)?;
            }
        }
        if flags & FLAG_REVERSE_PINVOKE != 0 {
            r.var_signed(REVERSE_PINVOKE_FRAME_ENCBASE)?;
        }
        let scratch_area = if slim {
            0
        } else {
            u32::try_from(r.var_unsigned(SIZE_OF_STACK_AREA_ENCBASE)? << 3)?
        };
        let num_safe_points = u32::try_from(r.var_unsigned(enc.num_safe_points_encbase)?)?;
        let num_ranges = if slim {
            0
        } else {
            u32::try_from(r.var_unsigned(NUM_INTERRUPTIBLE_RANGES_ENCBASE)?)?
        };
        if num_safe_points > MAX_SAFE_POINTS || num_ranges > MAX_SAFE_POINTS {
            bail!("GC info: {num_safe_points} safe points, {num_ranges} ranges");
        }
        let offset_bits = ceil_log2(norm_code_length);
        let mut safe_points = Vec::new();
        for _ in 0..num_safe_points {
            safe_points.push(r.read(offset_bits)? as u32);
        }
        let mut interruptible_ranges = Vec::new();
        let mut last_stop = 0u32;
        for _ in 0..num_ranges {
            let start = last_stop.saturating_add(r.var_unsigned(INTERRUPTIBLE_RANGE_DELTA1_ENCBASE)? as u32);
            let stop = start.saturating_add((r.var_unsigned(INTERRUPTIBLE_RANGE_DELTA2_ENCBASE)? as u32).saturating_add(1));
            interruptible_ranges.push((start, stop));
            last_stop = stop;
        }
        let (slots, num_tracked) = decode_slot_table(&mut r, enc)?;
        Ok(GcInfo {
            version,
            encoding: *enc,
            slim,
            flags,
            code_length,
            stack_base_register,
            scratch_area,
            safe_points,
            interruptible_ranges,
            slots,
            num_tracked,
            prolog_size,
            gs_cookie,
            psp_sym,
            generics_context,
            return_kind,
            live_state_pos: r.pos(),
        })
    }

    /// The slots live at `offset` (a code offset from the method start), as the runtime
    /// would report them for a frame stopped there. Untracked slots are always included;
    /// tracked ones only when live. `None` means the offset is neither a safe point nor
    /// inside an interruptible range: only untracked slots are known (and reported).
    ///
    /// `offset` is where the frame will resume: for a caller, the call's return address.
    /// Version 3 (.NET 8/9) records a call's safe point one byte before its return address,
    /// version 4 (.NET 10) at the return address (both seen on every lab frame: 8/9 R2R
    /// and JIT frames match at `offset - 1`, 10 frames at `offset`; with the other rule
    /// zoo-net9 loses a root of `GC.RunFinalizers`).
    pub fn live_slots(&self, data: &[u8], offset: u32) -> Result<Vec<GcSlot>> {
        self.frame_live_slots(data, offset, true)
    }

    /// As [`GcInfo::live_slots`], for a frame that is `active` (stopped at `offset`) or a
    /// caller (resuming at `offset`, its call's return address). In a caller, fully
    /// interruptible code is read one byte before the return address on version 3, inside
    /// the call instruction, as the 8/9 runtime reads it (a register the call's return ends,
    /// `-rbx` at the return address, is still live across the call).
    pub fn frame_live_slots(&self, data: &[u8], offset: u32, active: bool) -> Result<Vec<GcSlot>> {
        let recorded = if self.version >= 4 { Some(offset) } else { offset.checked_sub(1) };
        let safe_point = recorded.and_then(|o| self.safe_point_index(o));
        let interruptible_offset = if !active && self.version < 4 { offset.saturating_sub(1) } else { offset };
        let mut live: Vec<GcSlot> =
            self.tracked_live(data, safe_point, interruptible_offset >> self.encoding.code_shift)?.into_iter().map(|i| self.slots[i]).collect();
        live.extend_from_slice(&self.slots[self.num_tracked as usize..]);
        Ok(live)
    }

    /// The safe point recorded at code offset `offset` (in bytes, as recorded: version 3
    /// records a call's return address minus one), if any.
    pub fn safe_point_index(&self, offset: u32) -> Option<usize> {
        self.safe_points.binary_search(&(offset >> self.encoding.code_shift)).ok()
    }

    /// Whether code offset `offset` (in bytes) is inside a fully interruptible range.
    pub fn is_interruptible(&self, offset: u32) -> bool {
        let denorm = |n: u32| n.wrapping_shl(self.encoding.code_shift);
        self.interruptible_ranges.iter().any(|&(start, stop)| offset >= denorm(start) && offset < denorm(stop))
    }

    /// The indices (into [`GcInfo::slots`]) of the tracked slots live, in slot order: at
    /// safe point `safe_point` from its recorded live state, otherwise at normalized code
    /// offset `norm_offset` from the fully interruptible ranges' lifetimes (none outside
    /// them).
    pub fn tracked_live(&self, data: &[u8], safe_point: Option<usize>, norm_offset: u32) -> Result<Vec<usize>> {
        let mut live = Vec::new();
        let tracked = self.num_tracked as usize;
        if tracked == 0 {
            return Ok(live);
        }
        let mut r = BitReader::new(data);
        r.set_pos(self.live_state_pos);
        let num_sp = self.safe_points.len();
        let mut bits_per_offset = 0u32;
        if num_sp > 0 && r.bit()? {
            let bits = r.var_unsigned(POINTER_SIZE_ENCBASE)?.saturating_add(1);
            if bits > 32 {
                bail!("GC info: {bits}-bit live state offsets");
            }
            bits_per_offset = bits as u32;
        }
        if let Some(index) = safe_point {
            let mut take = vec![false; tracked];
            if bits_per_offset > 0 {
                let table = r.pos();
                r.skip(index * bits_per_offset as usize)?;
                let state_offset = r.read(bits_per_offset)? as usize;
                let states = (table + num_sp * bits_per_offset as usize + 7) & !7;
                r.set_pos(states.saturating_add(state_offset));
                if r.bit()? {
                    rle_vector(&mut r, tracked, |i| take[i] = true)?;
                } else {
                    for t in take.iter_mut() {
                        *t = r.bit()?;
                    }
                }
            } else {
                r.skip(index * tracked)?;
                for t in take.iter_mut() {
                    *t = r.bit()?;
                }
            }
            live.extend(take.iter().enumerate().filter(|(_, t)| **t).map(|(i, _)| i));
        } else if !self.interruptible_ranges.is_empty() {
            r.skip(num_sp * tracked)?;
            self.interruptible_live(&mut r, norm_offset, &mut live)?;
        }
        Ok(live)
    }

    /// Fully interruptible code: the state at `offset` (normalized) from the chunk's final
    /// state and its transitions.
    fn interruptible_live(&self, r: &mut BitReader, offset: u32, live: &mut Vec<usize>) -> Result<()> {
        let tracked = self.num_tracked as usize;
        // Offset within the concatenated interruptible ranges.
        let mut total = 0u32;
        let mut pseudo = None;
        for &(start, stop) in &self.interruptible_ranges {
            if offset >= start && offset < stop {
                pseudo = Some(total.saturating_add(offset - start));
            }
            total = total.saturating_add(stop - start);
        }
        let Some(pseudo) = pseudo else {
            return Ok(()); // not interruptible here: no tracked slot is reported
        };
        let num_chunks = total.div_ceil(CHUNK_SIZE) as usize;
        let break_chunk = (pseudo / CHUNK_SIZE) as usize;
        let bits_per_pointer = r.var_unsigned(POINTER_SIZE_ENCBASE)? as u32;
        if bits_per_pointer == 0 {
            return Ok(());
        }
        if bits_per_pointer > 32 {
            bail!("GC info: {bits_per_pointer}-bit chunk pointers");
        }
        let table = r.pos();
        // The chunk holding the offset, or the nearest earlier one with data.
        let mut chunk = break_chunk;
        let pointer = loop {
            r.set_pos(table + chunk * bits_per_pointer as usize);
            let p = r.read(bits_per_pointer)? as usize;
            if p != 0 {
                break p;
            }
            if chunk == 0 {
                return Ok(());
            }
            chunk -= 1;
        };
        let chunks_start = (table + num_chunks * bits_per_pointer as usize + 7) & !7;
        r.set_pos(chunks_start + pointer - 1);
        // Which slots have lifetimes in this chunk.
        let mut could_be_live = Vec::new();
        if r.bit()? {
            rle_vector(r, tracked, |i| could_be_live.push(i))?;
        } else {
            for i in 0..tracked {
                if r.bit()? {
                    could_be_live.push(i);
                }
            }
        }
        // Their states at the end of the chunk.
        let mut final_state = Vec::with_capacity(could_be_live.len());
        for _ in 0..could_be_live.len() {
            final_state.push(r.bit()?);
        }
        let delta = pseudo % CHUNK_SIZE;
        for (k, &slot) in could_be_live.iter().enumerate() {
            let mut is_live = final_state[k];
            if chunk == break_chunk {
                // Transitions after the offset undo the final state.
                for _ in 0..CHUNK_SIZE {
                    if !r.bit()? {
                        break;
                    }
                    let t = r.read(CHUNK_LOG2)? as u32;
                    if t > delta {
                        is_live = !is_live;
                    }
                }
            }
            if is_live {
                live.push(slot);
            }
        }
        Ok(())
    }
}

/// What SOS's GC info dump reports offset by offset (its `GcInfoDumper`), in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpStep {
    /// From `offset` on, the code is (or stops being) fully interruptible.
    Interruptible { offset: u32, interruptible: bool },
    /// A call's safe point, numbered as SOS numbers it (version 3: the recorded offset + 1).
    SafePoint { offset: u32 },
    /// A slot becomes live (or dead) at `offset`; [`UNTRACKED_OFFSET`] for the untracked
    /// slots, reported once before everything else.
    Slot { offset: u32, slot: GcSlot, live: bool },
}

/// The offset the untracked slots are reported at.
pub const UNTRACKED_OFFSET: u32 = u32::MAX - 1;

/// How a dump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpOutcome {
    Complete,
    /// A register slot names the stack pointer or the frame register.
    ReportedFramePointer,
    /// A slot is relative to a frame register the method does not have.
    InvalidPointer,
    /// The bit stream could not be read to the end.
    DecoderFailed,
}

/// Longest code a dump walks offset by offset.
const MAX_DUMP_CODE_LENGTH: u32 = 1 << 20;

impl GcInfo {
    /// Every state change of the method's GC info as SOS's dumper finds it: the untracked
    /// slots, then for each code offset from 0 to the code length (included) the change of
    /// interruptibility, the safe point, and the slots that died and were born since the
    /// previous offset. At each offset the live slots are those the runtime would report
    /// there for a frame that resumes (a safe point: the call's live state) or was
    /// interrupted (an interruptible range's lifetimes; nothing elsewhere); SOS lists a set
    /// in reverse slot order, the deaths before the births.
    pub fn dump_steps(&self, data: &[u8]) -> (Vec<DumpStep>, DumpOutcome) {
        let mut steps = Vec::new();
        let tracked = self.num_tracked as usize;
        let untracked: Vec<GcSlot> = self.slots[tracked..].iter().rev().copied().collect();
        if let Err(outcome) = self.report_differences(UNTRACKED_OFFSET, &[], &untracked, &mut steps) {
            return (steps, outcome);
        }
        if self.code_length > MAX_DUMP_CODE_LENGTH {
            return (steps, DumpOutcome::DecoderFailed);
        }
        let mut last: Vec<GcSlot> = Vec::new();
        let mut was_interruptible = false;
        for offset in 0..=self.code_length {
            let interruptible = self.is_interruptible(offset);
            if interruptible != was_interruptible {
                steps.push(DumpStep::Interruptible { offset, interruptible });
                was_interruptible = interruptible;
            }
            // The dumper asks about the return address, which version 3 records minus one.
            let safe_point = self.safe_point_index(offset);
            if safe_point.is_some() {
                let numbered = if self.version < 4 { offset.wrapping_add(1) } else { offset };
                steps.push(DumpStep::SafePoint { offset: numbered });
            }
            // Outside the ranges and off a safe point nothing is reported (an aborted frame).
            let live = match self.tracked_live(data, safe_point, offset >> self.encoding.code_shift) {
                Ok(live) => live,
                Err(_) => return (steps, DumpOutcome::DecoderFailed),
            };
            let now: Vec<GcSlot> = live.iter().rev().map(|&i| self.slots[i]).collect();
            if let Err(outcome) = self.report_differences(offset, &last, &now, &mut steps) {
                return (steps, outcome);
            }
            last = now;
        }
        (steps, DumpOutcome::Complete)
    }

    /// The slots of `old` not in `now` (dead), then those of `now` not in `old` (born).
    fn report_differences(&self, offset: u32, old: &[GcSlot], now: &[GcSlot], steps: &mut Vec<DumpStep>) -> Result<(), DumpOutcome> {
        for (set, other, live) in [(old, now, false), (now, old, true)] {
            for slot in set.iter().filter(|s| !other.contains(s)) {
                let slot = self.as_dumper_sees(*slot)?;
                steps.push(DumpStep::Slot { offset, slot, live });
            }
        }
        Ok(())
    }

    /// A slot as SOS's dumper names it (it finds registers and bases back from addresses).
    fn as_dumper_sees(&self, slot: GcSlot) -> Result<GcSlot, DumpOutcome> {
        let location = match slot.location {
            SlotLocation::Register(r) if r == self.encoding.sp_register || Some(r) == self.stack_base_register => {
                return Err(DumpOutcome::ReportedFramePointer);
            }
            SlotLocation::Stack { base: SlotBase::FrameRegister, .. } if self.stack_base_register.is_none() => {
                return Err(DumpOutcome::InvalidPointer);
            }
            SlotLocation::Stack { base: SlotBase::CallerSp, offset } if self.encoding.dumper_caller_sp_as_sp => {
                SlotLocation::Stack { base: SlotBase::Sp, offset }
            }
            l => l,
        };
        Ok(GcSlot { location, ..slot })
    }
}

/// Reads an RLE-compressed bit vector of `n` bits (after its "compressed" flag), calling
/// `set` for each set bit. Runs alternate between clear and set, starting with a clear run
/// whose count has no +1; the first bit only says which of the two encoding bases the
/// clear runs use.
fn rle_vector(r: &mut BitReader, n: usize, mut set: impl FnMut(usize)) -> Result<()> {
    let (mut base, mut other) = if r.bit()? {
        (LIVESTATE_RLE_RUN_ENCBASE, LIVESTATE_RLE_SKIP_ENCBASE)
    } else {
        (LIVESTATE_RLE_SKIP_ENCBASE, LIVESTATE_RLE_RUN_ENCBASE)
    };
    let mut pos = r.var_unsigned(base)? as usize;
    std::mem::swap(&mut base, &mut other);
    let mut reporting = true;
    // Every run covers at least one bit, so n runs finish any valid vector.
    for _ in 0..=n {
        if pos >= n {
            return Ok(());
        }
        let cnt = r.var_unsigned(base)? as usize + 1;
        if reporting {
            for i in pos..pos.saturating_add(cnt).min(n) {
                set(i);
            }
        }
        pos = pos.saturating_add(cnt);
        reporting = !reporting;
        std::mem::swap(&mut base, &mut other);
    }
    bail!("GC info: RLE vector does not end")
}

fn ceil_log2(x: u32) -> u32 {
    if x <= 1 { 0 } else { 32 - (x - 1).leading_zeros() }
}

fn decode_slot_table(r: &mut BitReader, enc: &Encoding) -> Result<(Vec<GcSlot>, u32)> {
    let num_registers = if r.bit()? { r.var_unsigned(enc.num_registers_encbase)? as u32 } else { 0 };
    let (num_stack, num_untracked) = if r.bit()? {
        (
            r.var_unsigned(NUM_STACK_SLOTS_ENCBASE)? as u32,
            r.var_unsigned(NUM_UNTRACKED_SLOTS_ENCBASE)? as u32,
        )
    } else {
        (0, 0)
    };
    let total = num_registers as u64 + num_stack as u64 + num_untracked as u64;
    if total > MAX_SLOTS as u64 {
        bail!("GC info: {total} slots");
    }
    let mut slots = Vec::with_capacity(total as usize);
    let flags_of = |f: u64| (f & 1 != 0, f & 2 != 0);
    if num_registers > 0 {
        let mut reg = r.var_unsigned(REGISTER_ENCBASE)?;
        let mut flags = r.read(2)?;
        for i in 0..num_registers {
            if i > 0 {
                if flags != 0 {
                    reg = r.var_unsigned(REGISTER_ENCBASE)?;
                    flags = r.read(2)?;
                } else {
                    reg = reg.saturating_add(r.var_unsigned(REGISTER_DELTA_ENCBASE)?).saturating_add(1);
                }
            }
            if reg > enc.max_register {
                bail!("GC info: register {reg}");
            }
            let (interior, pinned) = flags_of(flags);
            slots.push(GcSlot { location: SlotLocation::Register(reg as u8), interior, pinned });
        }
    }
    for count in [num_stack, num_untracked] {
        let mut offset = 0i64;
        let mut flags = 0u64;
        for i in 0..count {
            let base = match r.read(2)? {
                0 => SlotBase::CallerSp,
                1 => SlotBase::Sp,
                2 => SlotBase::FrameRegister,
                b => bail!("GC info: stack slot base {b}"),
            };
            if i == 0 || flags != 0 {
                offset = r.var_signed(STACK_SLOT_ENCBASE)?;
                flags = r.read(2)?;
            } else {
                offset = offset.saturating_add(r.var_unsigned(STACK_SLOT_DELTA_ENCBASE)? as i64);
            }
            let byte_offset = i32::try_from(offset.saturating_mul(8)).map_err(|_| anyhow::anyhow!("GC info: stack offset {offset}"))?;
            let (interior, pinned) = flags_of(flags);
            slots.push(GcSlot { location: SlotLocation::Stack { base, offset: byte_offset }, interior, pinned });
        }
    }
    Ok((slots, num_registers + num_stack))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds bit streams LSB first, the way the encoder writes them.
    #[derive(Default)]
    pub(crate) struct BitWriter {
        bytes: Vec<u8>,
        pos: usize,
    }

    impl BitWriter {
        pub fn write(&mut self, value: u64, n: u32) {
            for i in 0..n {
                if self.pos / 8 >= self.bytes.len() {
                    self.bytes.push(0);
                }
                if value >> i & 1 != 0 {
                    self.bytes[self.pos / 8] |= 1 << (self.pos % 8);
                }
                self.pos += 1;
            }
        }
        pub fn var_unsigned(&mut self, mut v: u64, base: u32) {
            loop {
                let chunk = v & ((1 << base) - 1);
                v >>= base;
                let more = v != 0;
                self.write(chunk | if more { 1 << base } else { 0 }, base + 1);
                if !more {
                    break;
                }
            }
        }
        pub fn var_signed(&mut self, v: i64, base: u32) {
            let mut v = v;
            loop {
                let chunk = (v as u64) & ((1 << base) - 1);
                v >>= base;
                // Done when the rest is pure sign extension of the chunk's top bit.
                let sign = chunk >> (base - 1) & 1;
                let done = (v == 0 && sign == 0) || (v == -1 && sign == 1);
                self.write(chunk | if done { 0 } else { 1 << base }, base + 1);
                if done {
                    break;
                }
            }
        }
        pub fn align(&mut self) {
            self.pos = (self.pos + 7) & !7;
            while self.bytes.len() < self.pos / 8 {
                self.bytes.push(0);
            }
        }
        pub fn finish(mut self) -> Vec<u8> {
            self.bytes.extend_from_slice(&[0; 8]);
            self.bytes
        }
    }

    #[test]
    fn bit_reader_reads_lsb_first_across_bytes() {
        let data = [0b1010_1101u8, 0b0000_0011, 0xff];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read(1).unwrap(), 1);
        assert_eq!(r.read(3).unwrap(), 0b110);
        assert_eq!(r.read(6).unwrap(), 0b11_1010);
        assert_eq!(r.pos(), 10);
        assert_eq!(r.read(14).unwrap(), 0b11_1111_1100_0000);
        assert!(r.read(1).is_err(), "past the end is an error");
        assert!(r.read(65).is_err());
    }

    #[test]
    fn var_length_numbers_round_trip() {
        let mut w = BitWriter::default();
        w.var_unsigned(5, 2);
        w.var_unsigned(1000, 8);
        w.var_signed(-3, 6);
        w.var_signed(-100, 6);
        w.var_signed(31, 6);
        w.var_signed(32, 6);
        let data = w.finish();
        let mut r = BitReader::new(&data);
        assert_eq!(r.var_unsigned(2).unwrap(), 5);
        assert_eq!(r.var_unsigned(8).unwrap(), 1000);
        assert_eq!(r.var_signed(6).unwrap(), -3);
        assert_eq!(r.var_signed(6).unwrap(), -100);
        assert_eq!(r.var_signed(6).unwrap(), 31);
        assert_eq!(r.var_signed(6).unwrap(), 32);
    }

    #[test]
    fn endless_var_number_is_an_error() {
        let data = [0xffu8; 64];
        let mut r = BitReader::new(&data);
        assert!(r.var_unsigned(3).is_err());
    }

    /// A slim header (rbp frame), `code_length`, the given safe points, then the slot table.
    fn slim(version: u32, code_length: u32, safe_points: &[u32]) -> BitWriter {
        let mut w = BitWriter::default();
        w.write(0, 1); // slim
        w.write(1, 1); // rbp
        if version < 4 {
            w.write(0, 2);
        }
        w.var_unsigned(code_length as u64, CODE_LENGTH_ENCBASE);
        w.var_unsigned(safe_points.len() as u64, NUM_SAFE_POINTS_ENCBASE);
        for &s in safe_points {
            w.write(s as u64, ceil_log2(code_length));
        }
        w
    }

    /// [`slim`] with safe points 0x10 and 0x20 and its slot table: 1 register (rax,
    /// plain), 2 tracked stack slots rbp-16 and rbp-8, 1 untracked interior rbp-24 (counts
    /// first, then the entries); the live states follow.
    fn slim_three_slots(version: u32) -> BitWriter {
        let mut w = slim(version, 0x40, &[0x10, 0x20]);
        w.write(1, 1);
        w.var_unsigned(1, NUM_REGISTERS_ENCBASE);
        w.write(1, 1);
        w.var_unsigned(2, NUM_STACK_SLOTS_ENCBASE);
        w.var_unsigned(1, NUM_UNTRACKED_SLOTS_ENCBASE);
        w.var_unsigned(0, REGISTER_ENCBASE);
        w.write(0, 2);
        w.write(2, 2);
        w.var_signed(-2, STACK_SLOT_ENCBASE);
        w.write(0, 2);
        w.write(2, 2);
        w.var_unsigned(1, STACK_SLOT_DELTA_ENCBASE);
        w.write(2, 2);
        w.var_signed(-3, STACK_SLOT_ENCBASE);
        w.write(1, 2); // interior
        w
    }

    #[test]
    fn slim_header_slot_table_and_safe_point_state() {
        for version in [3, 4] {
            let mut w = slim_three_slots(version);
            // Live states: plain bit vectors, 3 tracked slots per safe point.
            w.write(0, 1);
            w.write(0b010, 3); // safe point 0x10: rbp-16 live
            w.write(0b101, 3); // safe point 0x20: rax, rbp-8 live
            let data = w.finish();
            let info = GcInfo::decode(&data, version).unwrap();
            assert!(info.slim);
            assert_eq!(info.code_length, 0x40);
            assert_eq!(info.stack_base_register, Some(5));
            assert_eq!(info.safe_points, vec![0x10, 0x20]);
            assert_eq!(info.num_tracked, 3, "{info:?}");
            let stack = |offset, interior| GcSlot {
                location: SlotLocation::Stack { base: SlotBase::FrameRegister, offset },
                interior,
                pinned: false,
            };
            assert_eq!(info.slots[1], stack(-16, false));
            assert_eq!(info.slots[2], stack(-8, false));
            assert_eq!(info.slots[3], stack(-24, true));
            // v3 records a call's safe point one byte before the return address.
            let adjust = if version < 4 { 1 } else { 0 };
            let at = |off| info.live_slots(&data, off + adjust).unwrap();
            assert_eq!(at(0x10), vec![stack(-16, false), stack(-24, true)]);
            assert_eq!(at(0x20), vec![info.slots[0], stack(-8, false), stack(-24, true)]);
            assert_eq!(at(0x30), vec![stack(-24, true)], "not a safe point: untracked only");
            assert_eq!(info.live_slots(&data, 0x10 + 1 - adjust).unwrap(), vec![stack(-24, true)], "off by one is not a safe point");
        }
    }

    /// SOS's dumper: the untracked slots first (in reverse slot order), then at each
    /// safe point the live set's changes, deaths before births, each set in reverse slot
    /// order; version 3 numbers a safe point one past its recorded offset.
    #[test]
    fn dump_steps_in_the_dumpers_order() {
        for version in [3, 4] {
            let mut w = slim_three_slots(version);
            w.write(0, 1);
            w.write(0b110, 3); // 0x10: rbp-16, rbp-8
            w.write(0b011, 3); // 0x20: rax, rbp-16
            let data = w.finish();
            let info = GcInfo::decode(&data, version).unwrap();
            let (steps, outcome) = info.dump_steps(&data);
            assert_eq!(outcome, DumpOutcome::Complete);
            let sp = |o| if version < 4 { o + 1 } else { o };
            let s = |offset, slot: usize, live| DumpStep::Slot { offset, slot: info.slots[slot], live };
            assert_eq!(
                steps,
                vec![
                    s(UNTRACKED_OFFSET, 3, true),
                    DumpStep::SafePoint { offset: sp(0x10) },
                    s(0x10, 2, true),
                    s(0x10, 1, true),
                    s(0x11, 2, false),
                    s(0x11, 1, false),
                    DumpStep::SafePoint { offset: sp(0x20) },
                    s(0x20, 1, true),
                    s(0x20, 0, true),
                    s(0x21, 1, false),
                    s(0x21, 0, false),
                ]
            );
        }
    }

    /// A register slot naming the frame register ends the dump, as SOS's does.
    #[test]
    fn dump_of_the_frame_register_ends() {
        let mut w = slim(4, 0x20, &[0x10]);
        w.write(1, 1);
        w.var_unsigned(1, NUM_REGISTERS_ENCBASE);
        w.write(0, 1);
        w.var_unsigned(5, REGISTER_ENCBASE); // rbp, the slim header's frame register
        w.write(0, 2);
        w.write(0, 1);
        w.write(1, 1);
        let data = w.finish();
        let info = GcInfo::decode(&data, 4).unwrap();
        let (steps, outcome) = info.dump_steps(&data);
        assert_eq!(outcome, DumpOutcome::ReportedFramePointer);
        assert_eq!(steps, vec![DumpStep::SafePoint { offset: 0x10 }]);
    }

    #[test]
    fn indirect_rle_live_states() {
        let mut w = slim(4, 0x100, &[0x80]);
        w.write(0, 1); // no registers
        w.write(1, 1);
        w.var_unsigned(4, NUM_STACK_SLOTS_ENCBASE);
        w.var_unsigned(0, NUM_UNTRACKED_SLOTS_ENCBASE);
        w.write(1, 2); // sp-relative
        w.var_signed(4, STACK_SLOT_ENCBASE);
        w.write(0, 2);
        for _ in 0..3 {
            w.write(1, 2);
            w.var_unsigned(1, STACK_SLOT_DELTA_ENCBASE);
        }
        w.write(1, 1); // indirect
        w.var_unsigned(1, POINTER_SIZE_ENCBASE); // 2 bits per offset
        w.write(0, 2); // offset 0 into the pool
        w.align();
        // RLE: skip 1, report 2, skip 1.
        w.write(1, 1); // compressed
        w.write(0, 1); // starts with a skip
        w.var_unsigned(1, LIVESTATE_RLE_SKIP_ENCBASE);
        w.var_unsigned(1, LIVESTATE_RLE_RUN_ENCBASE); // run of 2
        w.var_unsigned(0, LIVESTATE_RLE_SKIP_ENCBASE); // skip 1
        let data = w.finish();
        let info = GcInfo::decode(&data, 4).unwrap();
        let live = info.live_slots(&data, 0x80).unwrap();
        assert_eq!(info.live_slots(&data, 0x81).unwrap(), vec![], "v4: exact offsets only");
        let offsets: Vec<_> = live
            .iter()
            .map(|s| match s.location {
                SlotLocation::Stack { offset, .. } => offset,
                _ => 0,
            })
            .collect();
        assert_eq!(offsets, vec![40, 48]);
    }

    #[test]
    fn fully_interruptible_chunk_transitions() {
        // Fat header: code length 0x80, one range [0x10, 0x70), 2 tracked slots.
        let mut w = BitWriter::default();
        w.write(1, 1);
        w.write(FLAG_STACK_BASE_REGISTER as u64, 10);
        w.var_unsigned(0x80, CODE_LENGTH_ENCBASE);
        w.var_unsigned(0, STACK_BASE_REGISTER_ENCBASE); // rbp
        w.var_unsigned(0, SIZE_OF_STACK_AREA_ENCBASE);
        w.var_unsigned(0, NUM_SAFE_POINTS_ENCBASE);
        w.var_unsigned(1, NUM_INTERRUPTIBLE_RANGES_ENCBASE);
        w.var_unsigned(0x10, INTERRUPTIBLE_RANGE_DELTA1_ENCBASE);
        w.var_unsigned(0x60 - 1, INTERRUPTIBLE_RANGE_DELTA2_ENCBASE);
        w.write(0, 1);
        w.write(1, 1);
        w.var_unsigned(2, NUM_STACK_SLOTS_ENCBASE);
        w.var_unsigned(0, NUM_UNTRACKED_SLOTS_ENCBASE);
        w.write(2, 2);
        w.var_signed(-2, STACK_SLOT_ENCBASE);
        w.write(0, 2);
        w.write(2, 2);
        w.var_unsigned(1, STACK_SLOT_DELTA_ENCBASE);
        // 0x60 bytes = 2 chunks; pointers of 4 bits: chunk 0 at 1, chunk 1 empty (0).
        w.var_unsigned(4, POINTER_SIZE_ENCBASE);
        w.write(1, 4);
        w.write(0, 4);
        w.align();
        // Chunk 0: both could be live (plain), final states: slot0 live, slot1 dead.
        w.write(0, 1);
        w.write(0b11, 2);
        w.write(0b01, 2);
        // slot0 transitions at 8 and 40: dead on [0,8) live [8,40) dead [40,64)? final=live means
        // the transitions toggle back from the end: after the offset each one flips the state.
        w.write(1, 1);
        w.write(8, 6);
        w.write(1, 1);
        w.write(40, 6);
        w.write(0, 1);
        // slot1: one transition at 20.
        w.write(1, 1);
        w.write(20, 6);
        w.write(0, 1);
        let data = w.finish();
        let info = GcInfo::decode(&data, 4).unwrap();
        assert_eq!(info.interruptible_ranges, vec![(0x10, 0x70)]);
        let live_offsets = |off| -> Vec<i32> {
            info.live_slots(&data, off)
                .unwrap()
                .iter()
                .map(|s| match s.location {
                    SlotLocation::Stack { offset, .. } => offset,
                    _ => 0,
                })
                .collect()
        };
        // pseudo offset 0x10+4 -> 4: both transitions of slot0 are after it: live^1^1 = live;
        // slot1's transition at 20 is after it: dead^1 = live.
        assert_eq!(live_offsets(0x14), vec![-16, -8]);
        // pseudo 30: slot0: only 40 is after: dead; slot1: none after: dead.
        assert_eq!(live_offsets(0x10 + 30), Vec::<i32>::new());
        // pseudo 50: slot0 live (final), slot1 dead.
        assert_eq!(live_offsets(0x10 + 50), vec![-16]);
        // Chunk 1 has no data: the nearest earlier chunk's final state.
        assert_eq!(live_offsets(0x10 + 70), vec![-16]);
        // Outside the ranges: nothing tracked.
        assert_eq!(live_offsets(0x75), Vec::<i32>::new());
        // slot0 becomes live at pseudo 40 (0x38), as a call's result does at its return
        // address. A caller resuming at 0x38 returns from a call whose last byte is 0x37:
        // version 3 reads it there (not live yet), version 4 at the return address; a
        // frame stopped at 0x38 reads 0x38 on both.
        let at = |info: &GcInfo, active| info.frame_live_slots(&data, 0x38, active).unwrap().len();
        assert_eq!((at(&info, true), at(&info, false)), (1, 1), "v4");
        let v3 = GcInfo { version: 3, ..info.clone() };
        assert_eq!((at(&v3, true), at(&v3, false)), (1, 0), "v3: a caller reads inside its call");
    }

    /// arm64: lengths and offsets count instructions, fp (29) is the slim header's base
    /// register, and the register and safe point counts use their own bases.
    #[test]
    fn arm64_normalized_offsets_and_registers() {
        let enc = &Encoding::ARM64;
        let mut w = BitWriter::default();
        w.write(0, 1); // slim
        w.write(1, 1); // stack base register: fp
        w.var_unsigned(0x100 >> 2, CODE_LENGTH_ENCBASE);
        w.var_unsigned(2, enc.num_safe_points_encbase);
        // Safe points at the return addresses 0x40 and 0x80 (v4), in instructions.
        w.write(0x40 >> 2, 6);
        w.write(0x80 >> 2, 6);
        // x19 in a register, one tracked fp+0x10 slot.
        w.write(1, 1);
        w.var_unsigned(1, enc.num_registers_encbase);
        w.write(1, 1);
        w.var_unsigned(1, NUM_STACK_SLOTS_ENCBASE);
        w.var_unsigned(0, NUM_UNTRACKED_SLOTS_ENCBASE);
        w.var_unsigned(19, REGISTER_ENCBASE);
        w.write(0, 2);
        w.write(2, 2); // frame register relative
        w.var_signed(2, STACK_SLOT_ENCBASE);
        w.write(0, 2);
        w.write(0, 1); // plain live states
        w.write(0b01, 2); // 0x40: x19
        w.write(0b10, 2); // 0x80: fp+0x10
        let data = w.finish();
        let info = GcInfo::decode_for(&data, 4, enc).unwrap();
        assert_eq!(info.code_length, 0x100);
        assert_eq!(info.stack_base_register, Some(29));
        assert_eq!(info.safe_points, vec![0x10, 0x20]);
        assert_eq!(info.live_slots(&data, 0x40).unwrap(), vec![GcSlot { location: SlotLocation::Register(19), interior: false, pinned: false }]);
        let fp10 = GcSlot { location: SlotLocation::Stack { base: SlotBase::FrameRegister, offset: 0x10 }, interior: false, pinned: false };
        assert_eq!(info.live_slots(&data, 0x80).unwrap(), vec![fp10]);
        assert_eq!(info.live_slots(&data, 0x44).unwrap(), vec![], "not a safe point");
        // The same bytes read with x64's bases mean something else.
        assert_ne!(GcInfo::decode(&data, 4).ok().map(|i| i.code_length), Some(0x100));
    }

    /// Every single-bit change of a fat header (GS cookie, generics context, ranges, safe
    /// points, registers, stack slots, chunk lifetimes) is decoded and dumped without a
    /// panic (run in debug builds too: no unchecked arithmetic on what the bits say).
    #[test]
    fn flipped_bits_do_not_panic() {
        let mut w = BitWriter::default();
        w.write(1, 1);
        w.write((FLAG_GS_COOKIE | 0x20 | FLAG_STACK_BASE_REGISTER | FLAG_PSP_SYM) as u64, 10);
        w.write(0, 4); // return kind
        w.var_unsigned(0x90, CODE_LENGTH_ENCBASE);
        w.var_unsigned(3, NORM_PROLOG_SIZE_ENCBASE);
        w.var_unsigned(2, NORM_EPILOG_SIZE_ENCBASE);
        w.var_signed(-2, GS_COOKIE_STACK_SLOT_ENCBASE);
        w.var_signed(0, PSP_SYM_STACK_SLOT_ENCBASE);
        w.var_signed(-3, GENERICS_INST_CONTEXT_STACK_SLOT_ENCBASE);
        w.var_unsigned(0, STACK_BASE_REGISTER_ENCBASE);
        w.var_unsigned(1, SIZE_OF_STACK_AREA_ENCBASE);
        w.var_unsigned(1, NUM_SAFE_POINTS_ENCBASE);
        w.var_unsigned(1, NUM_INTERRUPTIBLE_RANGES_ENCBASE);
        w.write(0x08, 8);
        w.var_unsigned(0x10, INTERRUPTIBLE_RANGE_DELTA1_ENCBASE);
        w.var_unsigned(0x50, INTERRUPTIBLE_RANGE_DELTA2_ENCBASE);
        w.write(1, 1);
        w.var_unsigned(1, NUM_REGISTERS_ENCBASE);
        w.write(1, 1);
        w.var_unsigned(2, NUM_STACK_SLOTS_ENCBASE);
        w.var_unsigned(1, NUM_UNTRACKED_SLOTS_ENCBASE);
        w.var_unsigned(3, REGISTER_ENCBASE);
        w.write(1, 2);
        w.write(1, 2);
        w.var_signed(4, STACK_SLOT_ENCBASE);
        w.write(0, 2);
        w.write(0, 2);
        w.var_signed(2, STACK_SLOT_ENCBASE);
        w.write(2, 2);
        w.write(2, 2);
        w.var_signed(-4, STACK_SLOT_ENCBASE);
        w.write(3, 2);
        w.write(0, 1); // plain live states
        w.write(0b101, 3);
        w.var_unsigned(4, POINTER_SIZE_ENCBASE);
        w.write(1, 4);
        w.write(0, 4);
        w.align();
        w.write(0, 1);
        w.write(0b111, 3);
        w.write(0b010, 3);
        for t in [5u64, 17, 40] {
            w.write(1, 1);
            w.write(t, 6);
        }
        w.write(0, 1);
        w.write(0, 1);
        w.write(1, 1);
        w.write(9, 6);
        w.write(0, 1);
        let data = w.finish();
        let info = GcInfo::decode(&data, 3).unwrap();
        assert_eq!(info.gs_cookie, Some((-16, 4, 0x8e)));
        assert_eq!(info.generics_context, Some(-24));
        assert_eq!(info.psp_sym, Some(0));
        assert_eq!(info.prolog_size, 4);
        assert_eq!(info.dump_steps(&data).1, DumpOutcome::Complete);
        for bit in 0..(data.len() - 8) * 8 {
            let mut damaged = data.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            for (version, enc) in [(3, &Encoding::X64), (4, &Encoding::X64), (4, &Encoding::ARM64)] {
                if let Ok(info) = GcInfo::decode_for(&damaged, version, enc) {
                    if info.code_length < 4096 {
                        let _ = info.dump_steps(&damaged);
                    }
                    let _ = info.live_slots(&damaged, 0x20);
                }
            }
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        let mut seed = 0x1234_5678u64;
        for _ in 0..2000 {
            let mut data = vec![0u8; 64];
            for b in data.iter_mut() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *b = (seed >> 33) as u8;
            }
            for (version, enc) in [(3, &Encoding::X64), (4, &Encoding::X64), (4, &Encoding::ARM64)] {
                if let Ok(info) = GcInfo::decode_for(&data, version, enc) {
                    for off in [0, 1, 7, 100, info.code_length] {
                        let _ = info.live_slots(&data, off);
                    }
                    if info.code_length < 4096 {
                        let _ = info.dump_steps(&data);
                    }
                }
            }
        }
    }
}

//! A method's debug info: the JIT's map from native offsets to IL offsets (bounds) and
//! the locations of its arguments and locals (vars), as the runtime stores them
//! (`debuginfostore.cpp`; the cDAC's `DebugInfo` contract describes the encoding).
//!
//! The blob is a stream of nibble-encoded unsigned integers (3 bits of value per nibble,
//! the fourth bit saying another nibble follows, most significant group first, the low
//! nibble of a byte read first). JIT-compiled code has a leading flag byte (bit 0:
//! patchpoint info follows, bit 1: rich debug info follows, each to be skipped). Then the
//! sizes of the bounds and vars blobs, then the blobs:
//!
//! - bounds, .NET 8 and 9: a count, then per entry the native offset's delta, the IL offset
//!   + 3 and the source type, each nibble-encoded;
//! - bounds, .NET 10: a count, the bit widths (minus 1) of native deltas and IL offsets,
//!   then each entry bit-packed: 2 bits of source type, the native delta, the IL offset + 3
//!   (and a bounds size of 0xFFFFFFFF announces instrumented bounds: then the sizes of
//!   both bound sets follow);
//! - vars: a count, then per variable its native start offset, length, number (+ 4: the
//!   special numbers are negative),
//!   location kind and the kind's fields.
use super::gcinfo::BitReader;
use anyhow::{bail, Context, Result};

/// IL offsets with a meaning of their own (`ICorDebugInfo`).
pub const NO_MAPPING: u32 = 0xffff_ffff;
pub const PROLOG: u32 = 0xffff_fffe;
pub const EPILOG: u32 = 0xffff_fffd;
/// Variable numbers of the runtime's own arguments (`ICorDebugInfo::VarNumber`).
pub const VARARGS_HANDLE: u32 = 0xffff_ffff;
pub const RETURN_BUFFER: u32 = 0xffff_fffe;
pub const TYPE_CONTEXT: u32 = 0xffff_fffd;
/// `ICorDebugInfo::MAX_ILNUM` of 8, 9 and 10 (-4: below it the special variable numbers);
/// variable numbers are stored `- MAX_ILNUM`.
const MAX_ILNUM: u32 = 0xffff_fffc;
/// Most entries decoded (bounds or vars).
const MAX_ENTRIES: u32 = 1 << 20;

/// How a runtime version encodes bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundsEncoding {
    /// Each field nibble-encoded (.NET 8, 9).
    Nibbles,
    /// Bit-packed entries (.NET 10).
    BitPacked,
}

/// One native-to-IL mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub native: u32,
    pub il: u32,
    pub source: u32,
}

/// Where a variable lives over a native range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarLocation {
    /// In a register (`VLT_REG`, and `VLT_REG_FP`).
    Register(u32),
    /// The variable's address is in a register.
    RegisterByRef(u32),
    /// On the stack at `base register + offset`.
    Stack { base: u32, offset: i32 },
    /// Its address is on the stack at `base register + offset`.
    StackByRef { base: u32, offset: i32 },
    /// Split or otherwise not one place.
    Other(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarInfo {
    pub start: u32,
    pub end: u32,
    pub number: u32,
    pub location: VarLocation,
}

/// A decoded debug info blob.
#[derive(Debug, Clone, Default)]
pub struct DebugInfo {
    pub bounds: Vec<Bound>,
    pub vars: Vec<VarInfo>,
}

/// Reads nibble-encoded integers.
struct Nibbles<'a> {
    data: &'a [u8],
    /// Next nibble.
    pos: usize,
}

impl<'a> Nibbles<'a> {
    fn new(data: &'a [u8]) -> Self {
        Nibbles { data, pos: 0 }
    }

    fn nibble(&mut self) -> Result<u32> {
        let byte = *self.data.get(self.pos / 2).context("debug info ends inside a number")?;
        let n = if self.pos % 2 == 0 { byte & 0xf } else { byte >> 4 };
        self.pos += 1;
        Ok(n as u32)
    }

    fn unsigned(&mut self) -> Result<u32> {
        let mut v: u64 = 0;
        for _ in 0..12 {
            let n = self.nibble()?;
            v = (v << 3) | (n & 7) as u64;
            if n & 8 == 0 {
                return u32::try_from(v).context("a debug info number exceeds 32 bits");
            }
        }
        bail!("a debug info number does not end")
    }

    fn signed(&mut self) -> Result<i32> {
        let u = self.unsigned()?;
        let v = (u >> 1) as i32;
        Ok(if u & 1 != 0 { -v } else { v })
    }

    /// The byte after the last nibble read.
    fn next_byte(&self) -> usize {
        self.pos.div_ceil(2)
    }
}

/// Decodes a debug info blob (`data` may run past its end). `flag_byte`: the blob starts
/// with the extra-info flag byte (JIT-compiled code); `patchpoint_size`: the fixed size
/// of a `PatchpointInfo` header.
pub fn decode(data: &[u8], flag_byte: bool, encoding: BoundsEncoding) -> Result<DebugInfo> {
    let mut at = 0usize;
    if flag_byte {
        let flags = *data.first().context("empty debug info")?;
        at = 1;
        if flags & 1 != 0 {
            // PatchpointInfo: u32 size of the whole structure first.
            let size = u32_at(data, at).context("truncated patchpoint info")? as usize;
            at = at.checked_add(size).context("patchpoint info size")?;
        }
        if flags & 2 != 0 {
            let size = u32_at(data, at).context("truncated rich debug info")? as usize;
            at = at.checked_add(4 + size).context("rich debug info size")?;
        }
        if flags & !3 != 0 {
            bail!("unknown debug info flags {flags:#x}");
        }
    }
    let body = data.get(at..).context("debug info past its data")?;
    let mut header = Nibbles::new(body);
    let mut bounds_size = header.unsigned()? as usize;
    let mut skip_bounds = 0usize;
    if encoding == BoundsEncoding::BitPacked && bounds_size == 0xffff_ffff {
        bounds_size = header.unsigned()? as usize;
        skip_bounds = header.unsigned()? as usize;
    }
    let vars_size = header.unsigned()? as usize;
    let bounds_at = header.next_byte();
    let vars_at = bounds_at.checked_add(bounds_size).and_then(|v| v.checked_add(skip_bounds)).context("bounds size")?;
    let bounds_blob = body.get(bounds_at..bounds_at.checked_add(bounds_size).context("bounds size")?).context("bounds past the data")?;
    let vars_blob = body.get(vars_at..vars_at.checked_add(vars_size).context("vars size")?).context("vars past the data")?;
    let bounds = if bounds_size == 0 {
        Vec::new()
    } else {
        match encoding {
            BoundsEncoding::Nibbles => nibble_bounds(bounds_blob)?,
            BoundsEncoding::BitPacked => packed_bounds(bounds_blob)?,
        }
    };
    let vars = if vars_size == 0 { Vec::new() } else { decode_vars(vars_blob)? };
    Ok(DebugInfo { bounds, vars })
}

fn u32_at(d: &[u8], p: usize) -> Option<u32> {
    d.get(p..p.checked_add(4)?).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn nibble_bounds(blob: &[u8]) -> Result<Vec<Bound>> {
    let mut r = Nibbles::new(blob);
    let count = r.unsigned()?;
    if count > MAX_ENTRIES || count as usize > blob.len() * 2 {
        bail!("{count} bounds in {} bytes", blob.len());
    }
    let mut native = 0u32;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        native = native.wrapping_add(r.unsigned()?);
        let il = r.unsigned()?.wrapping_sub(3);
        let source = r.unsigned()?;
        out.push(Bound { native, il, source });
    }
    Ok(out)
}

fn packed_bounds(blob: &[u8]) -> Result<Vec<Bound>> {
    let mut r = Nibbles::new(blob);
    let count = r.unsigned()?;
    let native_bits = r.unsigned()?.checked_add(1).context("bounds widths")?;
    let il_bits = r.unsigned()?.checked_add(1).context("bounds widths")?;
    if native_bits > 32 || il_bits > 32 {
        bail!("bounds fields of {native_bits} and {il_bits} bits");
    }
    if count > MAX_ENTRIES || count as usize > blob.len() * 8 {
        bail!("{count} bounds in {} bytes", blob.len());
    }
    let data = blob.get(r.next_byte()..).unwrap_or_default();
    let mut bits = BitReader::new(data);
    let mut native = 0u32;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let source = bits.read(2)? as u32;
        native = native.wrapping_add(bits.read(native_bits)? as u32);
        let il = (bits.read(il_bits)? as u32).wrapping_sub(3);
        // Packed source types: bit 0 call instruction, bit 1 stack empty.
        let source = (if source & 1 != 0 { 0x10 } else { 0 }) | (if source & 2 != 0 { 0x2 } else { 0 });
        out.push(Bound { native, il, source });
    }
    Ok(out)
}

fn decode_vars(blob: &[u8]) -> Result<Vec<VarInfo>> {
    let mut r = Nibbles::new(blob);
    let count = r.unsigned()?;
    if count > MAX_ENTRIES || count as usize > blob.len() * 2 {
        bail!("{count} variables in {} bytes", blob.len());
    }
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let start = r.unsigned()?;
        let end = start.wrapping_add(r.unsigned()?);
        let number = r.unsigned()?.wrapping_add(MAX_ILNUM);
        let kind = r.unsigned()?;
        let location = match kind {
            0 | 2 => VarLocation::Register(r.unsigned()?),
            1 => VarLocation::RegisterByRef(r.unsigned()?),
            3 | 4 => {
                let base = r.unsigned()?;
                let offset = r.signed()?;
                if kind == 3 { VarLocation::Stack { base, offset } } else { VarLocation::StackByRef { base, offset } }
            }
            5 => {
                r.unsigned()?;
                r.unsigned()?;
                VarLocation::Other(kind)
            }
            6 => {
                r.unsigned()?;
                r.unsigned()?;
                r.signed()?;
                VarLocation::Other(kind)
            }
            7 => {
                r.signed()?;
                r.unsigned()?;
                r.unsigned()?;
                VarLocation::Other(kind)
            }
            8 => {
                r.unsigned()?;
                r.signed()?;
                VarLocation::Other(kind)
            }
            9 | 10 => {
                r.unsigned()?;
                VarLocation::Other(kind)
            }
            _ => bail!("unknown variable location kind {kind}"),
        };
        out.push(VarInfo { start, end, number, location });
    }
    Ok(out)
}

impl DebugInfo {
    /// The IL offset the DAC maps native offset `offset` to (`GetILOffsetsByAddress`):
    /// the first entry whose range `[native, next entry's native)` holds it, the last
    /// entry (and an epilog entry) being open-ended.
    pub fn il_offset(&self, offset: u32) -> Option<u32> {
        let n = self.bounds.len();
        (0..n).find_map(|i| {
            let b = &self.bounds[i];
            let end = if i + 1 < n { self.bounds[i + 1].native } else { 0 };
            let open = (b.il == EPILOG || i + 1 == n) && end == 0;
            (offset >= b.native && (open || offset < end)).then_some(b.il)
        })
    }

    /// The largest ordinary IL offset of the map (where SOS places an epilog).
    pub fn last_il_offset(&self) -> Option<u32> {
        self.bounds.iter().map(|b| b.il).filter(|&il| il < MAX_ILNUM).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nibble_numbers() {
        // 8 -> 09, 63 -> 7F, 64 -> 89 X0, 512 -> 89 08 (3 value bits a nibble, the low
        // nibble of a byte first).
        let mut r = Nibbles::new(&[0x09]);
        assert_eq!(r.unsigned().unwrap(), 8);
        let mut r = Nibbles::new(&[0x7F]);
        assert_eq!(r.unsigned().unwrap(), 63);
        let mut r = Nibbles::new(&[0x89, 0x00]);
        assert_eq!(r.unsigned().unwrap(), 64);
        let mut r = Nibbles::new(&[0x89, 0x08]);
        assert_eq!(r.unsigned().unwrap(), 512);
        let mut r = Nibbles::new(&[0x77]);
        assert_eq!(r.unsigned().unwrap(), 7);
        assert_eq!(r.unsigned().unwrap(), 7);
        assert!(Nibbles::new(&[0x88]).unsigned().is_err());
    }

    #[test]
    fn il_offset_ranges() {
        let d = DebugInfo {
            bounds: vec![
                Bound { native: 0, il: PROLOG, source: 0 },
                Bound { native: 10, il: 0, source: 0 },
                Bound { native: 20, il: 7, source: 0 },
                Bound { native: 30, il: EPILOG, source: 0 },
            ],
            vars: Vec::new(),
        };
        assert_eq!(d.il_offset(5), Some(PROLOG));
        assert_eq!(d.il_offset(10), Some(0));
        assert_eq!(d.il_offset(29), Some(7));
        assert_eq!(d.il_offset(99), Some(EPILOG));
        assert_eq!(d.last_il_offset(), Some(7));
    }
}

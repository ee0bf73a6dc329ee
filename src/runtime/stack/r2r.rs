//! ReadyToRun images: precompiled code (CoreLib and the framework) found through the
//! image's own tables instead of the JIT's code heaps.
//!
//! PE -> CLI header (data directory 14) -> `ManagedNativeHeader` (COR20 +0x40) ->
//! `READYTORUN_HEADER` (`'RTR'`, major/minor u16, flags, section count, sections
//! `{type, rva, size}`). Section 102 (RuntimeFunctions) is a sorted array of
//! RUNTIME_FUNCTIONs (x64: 12-byte `{begin, end, unwind}` RVAs; arm64: 8-byte `{begin,
//! unwind}`, the length in the unwind data's header); the GC info of a method starts right
//! after its unwind info. Section 103 (MethodDefEntryPoints) is a NativeArray from MethodDef row - 1 to
//! the method's first RuntimeFunction index; inverted, it names the method of a frame.
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::dump::{AddressSpace, Architecture};
use crate::metadata::{ImageLayout, PeImage};
use crate::runtime::modules::ImageInSpace;

const RTR_SIGNATURE: u32 = 0x0052_5452;
const SECTION_RUNTIME_FUNCTIONS: u32 = 102;
const SECTION_METHODDEF_ENTRY_POINTS: u32 = 103;
const SECTION_DEBUG_INFO: u32 = 105;
const SECTION_EXCEPTION_INFO: u32 = 104;
/// `READYTORUN_EXCEPTION_CLAUSE`: six u32s.
const R2R_EH_CLAUSE_SIZE: u32 = 24;
/// Most clauses read for one method.
pub const MAX_EH_CLAUSES: u32 = 4096;
/// More sections or runtime functions than this is not a real image.
const MAX_SECTIONS: u32 = 256;
const MAX_SECTION_BYTES: u32 = 256 << 20;

#[derive(Debug)]
pub struct ReadyToRunImage {
    pub base: u64,
    pub major: u16,
    pub minor: u16,
    /// `(begin, end, unwind)` RVAs, sorted by begin.
    pub functions: Vec<(u32, u32, u32)>,
    /// Runtime function index of a method's entry -> MethodDef row.
    pub entry_methods: HashMap<u32, u32>,
    /// The entry indices, sorted (to find the method owning a funclet or cold part).
    pub entries_sorted: Vec<u32>,
    /// The DebugInfo section's RVA and size (a NativeArray by entry function index).
    debug_info_section: Option<(u32, u32)>,
    /// Its bytes, read the first time a frame's source line is asked for: the stack walk
    /// for roots never needs them, and they are often only in the module file.
    debug_info: OnceLock<Option<Vec<u8>>>,
    /// The ExceptionInfo section's RVA and size: `{method RVA, clauses RVA}` pairs sorted
    /// by method, a sentinel last.
    exception_info_section: Option<(u32, u32)>,
}

/// A function found in a ReadyToRun image.
#[derive(Debug, Clone, Copy)]
pub struct R2rFunction {
    pub index: u32,
    pub begin: u64,
    pub unwind: u64,
    /// The method's entry function (itself, unless the IP is in a funclet or cold code).
    pub entry_begin: u64,
    pub entry_unwind: u64,
    /// The runtime function index of the method's entry.
    pub entry_index: u32,
    pub method_rid: Option<u32>,
}

impl ReadyToRunImage {
    pub fn read(space: &AddressSpace, base: u64) -> Result<ReadyToRunImage> {
        let pe = PeImage::parse(&ImageInSpace { space, base }, ImageLayout::Mapped)?;
        let native = pe.cli_header().managed_native_header;
        if native.rva == 0 {
            bail!("the image at {base:#x} is not ReadyToRun code");
        }
        let header = base.wrapping_add(native.rva as u64);
        if space.read_u32(header)? != RTR_SIGNATURE {
            bail!("no ReadyToRun header at {header:#x}");
        }
        let major = space.read_u16(header + 4)?;
        let minor = space.read_u16(header + 6)?;
        let count = space.read_u32(header + 12)?;
        if count > MAX_SECTIONS {
            bail!("ReadyToRun header with {count} sections");
        }
        let mut sections = HashMap::new();
        for i in 0..count as u64 {
            let s = header + 16 + 12 * i;
            sections.insert(space.read_u32(s)?, (space.read_u32(s + 4)?, space.read_u32(s + 8)?));
        }
        let read_section = |kind: u32| -> Result<Option<Vec<u8>>> {
            let Some(&(rva, size)) = sections.get(&kind) else { return Ok(None) };
            if size > MAX_SECTION_BYTES {
                bail!("ReadyToRun section {kind} of {size} bytes");
            }
            Ok(Some(space.read_vec(base + rva as u64, size as usize)?))
        };
        let raw = read_section(SECTION_RUNTIME_FUNCTIONS)?.context("no RuntimeFunctions section")?;
        let u = |c: &[u8], o: usize| u32::from_le_bytes([c[o], c[o + 1], c[o + 2], c[o + 3]]);
        let functions: Vec<(u32, u32, u32)> = match space.core().arch {
            Architecture::X86_64 => raw.chunks_exact(12).map(|c| (u(c, 0), u(c, 4), u(c, 8))).collect(),
            Architecture::Arm64 => raw
                .chunks_exact(8)
                .map(|c| {
                    let (begin, unwind) = (u(c, 0), u(c, 4));
                    // Unreadable unwind data makes the function empty: no IP is in it.
                    let length = super::unwind_arm64::function_length(space, base.wrapping_add(unwind as u64)).unwrap_or(0);
                    (begin, begin.saturating_add(length), unwind)
                })
                .collect(),
        };
        let mut entry_methods = HashMap::new();
        if let Some(data) = read_section(SECTION_METHODDEF_ENTRY_POINTS)? {
            // A damaged table only costs method names.
            if let Ok(array) = NativeArray::new(&data, 0) {
                // Every 16 elements take at least one byte: the section bounds the count.
                let count = array.count.min((data.len() as u32).saturating_mul(16));
                for index in 0..count {
                    if let Some(function) = array.get(index).ok().flatten().and_then(|off| entry_point_index(&data, off))
                        && (function as usize) < functions.len()
                    {
                        entry_methods.insert(function, index + 1);
                    }
                }
            }
        }
        let mut entries_sorted: Vec<u32> = entry_methods.keys().copied().collect();
        entries_sorted.sort_unstable();
        let debug_info_section = sections.get(&SECTION_DEBUG_INFO).copied().filter(|&(_, size)| size <= MAX_SECTION_BYTES);
        Ok(ReadyToRunImage {
            base,
            major,
            minor,
            functions,
            entry_methods,
            entries_sorted,
            debug_info_section,
            debug_info: OnceLock::new(),
            exception_info_section: sections.get(&SECTION_EXCEPTION_INFO).copied().filter(|&(_, size)| size <= MAX_SECTION_BYTES),
        })
    }

    /// GcInfo version of this image's code: 4 from ReadyToRun 11 on (.NET 10), else 3.
    pub fn gc_info_version(&self) -> u32 {
        if self.major >= 11 { 4 } else { 3 }
    }

    /// The runtime function holding `ip`.
    pub fn lookup(&self, ip: u64) -> Option<R2rFunction> {
        let rva = u32::try_from(ip.checked_sub(self.base)?).ok()?;
        let i = self.functions.partition_point(|f| f.0 <= rva).checked_sub(1)?;
        let (begin, end, unwind) = self.functions[i];
        if rva >= end {
            return None;
        }
        // The owning method's entry: the nearest entry at or before this function.
        let (entry, rid) = match self.entry_methods.get(&(i as u32)) {
            Some(&rid) => (i as u32, Some(rid)),
            None => {
                let k = self.entries_sorted.partition_point(|&e| e <= i as u32);
                match k.checked_sub(1).map(|k| self.entries_sorted[k]) {
                    Some(e) => (e, self.entry_methods.get(&e).copied()),
                    None => (i as u32, None),
                }
            }
        };
        let (entry_begin, _, entry_unwind) = self.functions.get(entry as usize).copied()?;
        Some(R2rFunction {
            index: i as u32,
            begin: self.base + begin as u64,
            unwind: self.base + unwind as u64,
            entry_begin: self.base + entry_begin as u64,
            entry_unwind: self.base + entry_unwind as u64,
            entry_index: entry,
            method_rid: rid,
        })
    }

    /// The address of the debug info of the method whose entry is runtime function
    /// `entry`: the DebugInfo array's element holds a NativeFormat number, the distance
    /// back to a shared blob, or 0 when the blob follows it.
    pub fn debug_info_address(&self, space: &AddressSpace, entry: u32) -> Option<u64> {
        let (rva, size) = self.debug_info_section?;
        let data = self
            .debug_info
            .get_or_init(|| space.read_vec(self.base.wrapping_add(rva as u64), size as usize).ok())
            .as_ref()?;
        let array = NativeArray::new(data, 0).ok()?;
        let at = array.get(entry).ok().flatten()?;
        let (look_back, next) = decode_unsigned(data, at)?;
        let pos = if look_back != 0 { at.checked_sub(look_back as usize)? } else { next };
        Some(self.base.wrapping_add(rva as u64).wrapping_add(pos as u64))
    }
}

impl ReadyToRunImage {
    /// The exception clauses of the method whose code starts at `method_rva`
    /// (`{flags, try start, try end, handler start, handler end, class token or filter}`,
    /// offsets from the method's start), found by binary search of the ExceptionInfo
    /// lookup table; empty when the method has none.
    pub fn eh_clauses(&self, space: &AddressSpace, method_rva: u32) -> Result<Vec<[u32; 6]>> {
        let Some((rva, size)) = self.exception_info_section else { return Ok(Vec::new()) };
        let entries = size / 8;
        let entry = |i: u32| -> Result<(u32, u32)> {
            let at = self.base.wrapping_add(rva as u64).wrapping_add(i as u64 * 8);
            Ok((space.read_u32(at)?, space.read_u32(at.wrapping_add(4))?))
        };
        // The last entry is a sentinel: search the ones before it.
        let (mut lo, mut hi) = (0u32, entries.saturating_sub(1));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (m, _) = entry(mid)?;
            if m < method_rva {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo + 1 >= entries || entry(lo)?.0 != method_rva {
            return Ok(Vec::new());
        }
        let (_, start) = entry(lo)?;
        let (_, end) = entry(lo + 1)?;
        let count = (end.saturating_sub(start) / R2R_EH_CLAUSE_SIZE).min(MAX_EH_CLAUSES);
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let at = self.base.wrapping_add(start as u64).wrapping_add((i * R2R_EH_CLAUSE_SIZE) as u64);
            let mut c = [0u32; 6];
            for (k, v) in c.iter_mut().enumerate() {
                *v = space.read_u32(at.wrapping_add(4 * k as u64))?;
            }
            out.push(c);
        }
        Ok(out)
    }
}

/// The NativeFormat compressed unsigned integer at `pos`: `(value, next position)`.
fn decode_unsigned(data: &[u8], pos: usize) -> Option<(u32, usize)> {
    let b = |i: usize| data.get(pos + i).map(|&x| x as u32);
    let v = b(0)?;
    Some(if v & 1 == 0 {
        (v >> 1, pos + 1)
    } else if v & 2 == 0 {
        ((v >> 2) | b(1)? << 6, pos + 2)
    } else if v & 4 == 0 {
        ((v >> 3) | b(1)? << 5 | b(2)? << 13, pos + 3)
    } else if v & 8 == 0 {
        ((v >> 4) | b(1)? << 4 | b(2)? << 12 | b(3)? << 20, pos + 4)
    } else if v & 16 == 0 {
        (b(1)? | b(2)? << 8 | b(3)? << 16 | b(4)? << 24, pos + 5)
    } else {
        return None;
    })
}

/// A MethodDefEntryPoints entry: the runtime function index (fixups are skipped).
fn entry_point_index(data: &[u8], pos: usize) -> Option<u32> {
    let (id, _) = decode_unsigned(data, pos)?;
    Some(if id & 1 != 0 { id >> 2 } else { id >> 1 })
}

/// NativeFormat's sparse array: a header `count << 2 | entry size`, block offsets for every
/// 16 elements, and per block a small binary tree of offsets.
struct NativeArray<'a> {
    data: &'a [u8],
    base: usize,
    count: u32,
    entry_size: u32,
}

const BLOCK_SIZE: u32 = 16;

impl<'a> NativeArray<'a> {
    fn new(data: &'a [u8], pos: usize) -> Result<Self> {
        let (v, base) = decode_unsigned(data, pos).context("bad NativeArray header")?;
        Ok(NativeArray { data, base, count: v >> 2, entry_size: v & 3 })
    }

    /// The offset of element `index`'s data, if present.
    fn get(&self, index: u32) -> Result<Option<usize>> {
        if index >= self.count {
            return Ok(None);
        }
        let block = (index / BLOCK_SIZE) as usize;
        let rd = |p: usize, n: usize| -> Result<u32> {
            let s = self.data.get(p..p + n).context("NativeArray out of bounds")?;
            Ok(s.iter().rev().fold(0u32, |a, &b| a << 8 | b as u32))
        };
        let rel = match self.entry_size {
            0 => rd(self.base + block, 1)?,
            1 => rd(self.base + 2 * block, 2)?,
            _ => rd(self.base + 4 * block, 4)?,
        };
        let mut offset = self.base + rel as usize;
        let mut bit = BLOCK_SIZE >> 1;
        while bit > 0 {
            let (val, next) = decode_unsigned(self.data, offset).context("bad NativeArray node")?;
            if index & bit != 0 {
                if val & 2 != 0 {
                    offset += (val >> 2) as usize;
                    bit >>= 1;
                    continue;
                }
            } else if val & 1 != 0 {
                offset = next;
                bit >>= 1;
                continue;
            }
            // A leaf: either the element (special leaf) or absent.
            if val & 3 == 0 && (val >> 2) == (index & (BLOCK_SIZE - 1)) {
                return Ok(Some(next));
            }
            return Ok(None);
        }
        Ok(Some(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_unsigned_forms() {
        assert_eq!(decode_unsigned(&[0x0a], 0), Some((5, 1)));
        assert_eq!(decode_unsigned(&[0x05, 0x02], 0), Some((1 | 2 << 6, 2)));
        assert_eq!(decode_unsigned(&[0x0b, 1, 2], 0), Some((1 | 1 << 5 | 2 << 13, 3)));
        assert_eq!(decode_unsigned(&[0x07, 1, 2, 3], 0), Some((1 << 4 | 2 << 12 | 3 << 20, 4)));
        assert_eq!(decode_unsigned(&[0x0f, 1, 0, 0, 0], 0), Some((1, 5)));
        assert_eq!(decode_unsigned(&[0x1f, 0, 0, 0, 0], 0), None);
        assert_eq!(decode_unsigned(&[0x01], 0), None, "truncated");
    }

    #[test]
    fn native_array_single_block_leaf() {
        // count 1, entry size 0; block offset byte 1 -> node at base+1.
        // Node for index 0 with bit 8, 4, 2, 1 clear: a special leaf (val & 3 == 0, val >> 2 == 0),
        // whose data follows.
        let data = [(1 << 2) << 1, 1, 0, 42 << 1];
        let a = NativeArray::new(&data, 0).unwrap();
        assert_eq!(a.count, 1);
        let off = a.get(0).unwrap().unwrap();
        assert_eq!(decode_unsigned(&data, off), Some((42, 4)));
        assert_eq!(a.get(1).unwrap(), None);
    }
}

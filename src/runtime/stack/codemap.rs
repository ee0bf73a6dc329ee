//! From an instruction pointer to the managed method it belongs to: its start, unwind info,
//! GC info and MethodDesc.
//!
//! `g_dacTable` entry 0 is `ExecutionManager::g_codeRangeMap`, a RangeSectionMap: a
//! five-level radix tree (256 entries per level, top level inline at +0, index at level L
//! = `ip >> (17 + 8 (L-1)) & 0xff`, bit 0 of interior pointers is a flag) whose leaves are
//! lists of RangeSectionFragments `{next +0, begin +8, end +16, RangeSection* +24}`.
//! A RangeSection `{begin +0, end +8, u32 flags +16, R2R module +32, heap list +40,
//! next-for-delete +64 (arm64: +56)}` is either a JIT code heap (flag 2) found through its
//! nibble map, a ReadyToRun image (R2R module set), or stubs (flag 4). Same layout on 8, 9,
//! 10 (10 descriptor; 8/9 checked on the lab dumps, `docs/research/stack-roots.md` §1.4).
//! A JIT method's code header lists its RUNTIME_FUNCTIONs (one per funclet), 12 bytes on
//! x64 and 8 on arm64, whose RVAs are relative to the section's start.
use super::arch::StackArch;
use super::r2r::ReadyToRunImage;
use crate::runtime::layouts::*;
use crate::runtime::Runtime;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const FRAGMENT_NEXT: u64 = 0;
const FRAGMENT_BEGIN: u64 = 8;
const FRAGMENT_END: u64 = 16;
const FRAGMENT_SECTION: u64 = 24;
const SECTION_BEGIN: u64 = 0;
const SECTION_FLAGS: u64 = 16;
const SECTION_R2R_MODULE: u64 = 32;
const SECTION_HEAP_LIST: u64 = 40;
const SECTION_FLAG_CODE_HEAP: u32 = 2;
const HEAP_LIST_MAP_BASE: u64 = 32;
const HEAP_LIST_HEADER_MAP: u64 = 40;
const REAL_CODE_HEADER_GC_INFO: u64 = 16;
const REAL_CODE_HEADER_METHOD_DESC: u64 = 24;
const REAL_CODE_HEADER_NUM_UNWIND: u64 = 32;
const REAL_CODE_HEADER_UNWIND: u64 = 36;
/// Code header values up to this are stub kinds (descriptor `StubCodeBlockLast`).
const STUB_CODE_BLOCK_LAST: u64 = 0xf;
/// Longest fragment list and nibble-map scan followed.
const MAX_FRAGMENTS: usize = 4096;
const MAX_NIBBLE_WORDS: u64 = 1 << 18;
const MAX_UNWIND_INFOS: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    Jit,
    ReadyToRun,
}

/// A managed method's code around an IP.
#[derive(Debug, Clone)]
pub struct CodeInfo {
    pub kind: CodeKind,
    /// Start of the method (GC info offsets are relative to it).
    pub method_start: u64,
    /// Start of the RUNTIME_FUNCTION holding the IP and its UNWIND_INFO.
    pub function_begin: u64,
    pub unwind_info: u64,
    /// Base of the RVAs in unwind data (chained infos).
    pub image_base: u64,
    pub gc_info: u64,
    pub gc_info_version: u32,
    pub method_desc: Option<u64>,
    /// ReadyToRun: the method's module and MethodDef row (naming without a MethodDesc).
    pub module_method: Option<(u64, u32)>,
}

/// Finds code; caches ReadyToRun images. Shared by the threads of one walk.
pub struct CodeMap<'a> {
    rt: &'a Runtime,
    arch: &'static StackArch,
    map: u64,
    r2r: Mutex<HashMap<u64, Option<Arc<ReadyToRunImage>>>>,
}

impl<'a> CodeMap<'a> {
    pub fn new(rt: &'a Runtime) -> Result<CodeMap<'a>> {
        let map = rt.space.read_ptr(rt.dac_table).context("cannot read g_dacTable entry 0 (the code range map)")?;
        Ok(CodeMap { rt, arch: StackArch::of(rt.space.core().arch), map, r2r: Mutex::new(HashMap::new()) })
    }

    /// The RangeSection holding `ip`.
    fn range_section(&self, ip: u64) -> Result<Option<u64>> {
        let space = &self.rt.space;
        let mut level_map = self.map;
        let mut entry = 0;
        for level in (1..=5u32).rev() {
            let index = (ip >> (17 + 8 * (level - 1))) & 0xff;
            entry = space.read_ptr(level_map + 8 * index)? & !1;
            if entry == 0 {
                return Ok(None);
            }
            level_map = entry;
        }
        let mut fragment = entry;
        for _ in 0..MAX_FRAGMENTS {
            if fragment == 0 {
                return Ok(None);
            }
            let begin = space.read_ptr(fragment + FRAGMENT_BEGIN)?;
            let end = space.read_ptr(fragment + FRAGMENT_END)?;
            if begin <= ip && ip < end {
                let section = space.read_ptr(fragment + FRAGMENT_SECTION)?;
                if section != 0 && space.read_ptr(section + self.arch.range_section_next_for_delete)? == 0 {
                    return Ok(Some(section));
                }
            }
            fragment = space.read_ptr(fragment + FRAGMENT_NEXT)? & !1;
        }
        bail!("the code range map's fragment list does not end")
    }

    /// The managed code at `ip`, or `None` when `ip` is not managed code (native code or
    /// a stub).
    pub fn lookup(&self, ip: u64) -> Result<Option<CodeInfo>> {
        let Some(section) = self.range_section(ip)? else { return Ok(None) };
        let space = &self.rt.space;
        let r2r_module = space.read_ptr(section + SECTION_R2R_MODULE)?;
        let begin = space.read_ptr(section + SECTION_BEGIN)?;
        if r2r_module != 0 {
            return self.lookup_r2r(ip, begin, r2r_module);
        }
        let flags = space.read_u32(section + SECTION_FLAGS)?;
        if flags & SECTION_FLAG_CODE_HEAP == 0 {
            return Ok(None); // stubs
        }
        let heap_list = space.read_ptr(section + SECTION_HEAP_LIST)?;
        let Some(start) = self.method_start(heap_list, ip)? else { return Ok(None) };
        let header = space.read_ptr(start.wrapping_sub(8))?;
        if header <= STUB_CODE_BLOCK_LAST {
            return Ok(None);
        }
        let n = space.read_u32(header + REAL_CODE_HEADER_NUM_UNWIND)?;
        if n > MAX_UNWIND_INFOS {
            bail!("code header {header:#x} claims {n} unwind infos");
        }
        let rva = ip.wrapping_sub(begin);
        let mut function = None;
        for i in 0..n as u64 {
            let e = header + REAL_CODE_HEADER_UNWIND + self.arch.runtime_function_size * i;
            let (fb, fe, unwind) = match self.arch.arch {
                crate::dump::Architecture::X86_64 => (space.read_u32(e)?, space.read_u32(e + 4)?, space.read_u32(e + 8)?),
                crate::dump::Architecture::Arm64 => {
                    let (fb, unwind) = (space.read_u32(e)?, space.read_u32(e + 4)?);
                    let length = super::unwind_arm64::function_length(&*self.rt.space, begin.wrapping_add(unwind as u64))?;
                    (fb, fb.saturating_add(length), unwind)
                }
            };
            if (fb as u64) <= rva && rva < fe as u64 {
                function = Some((fb, unwind));
                break;
            }
        }
        let (fb, unwind) = function.with_context(|| format!("no unwind info of the method at {start:#x} covers {ip:#x}"))?;
        Ok(Some(CodeInfo {
            kind: CodeKind::Jit,
            method_start: start,
            function_begin: begin + fb as u64,
            unwind_info: begin + unwind as u64,
            image_base: begin,
            gc_info: space.read_ptr(header + REAL_CODE_HEADER_GC_INFO)?,
            gc_info_version: self.rt.layout.stack.gc_info_version,
            method_desc: Some(space.read_ptr(header + REAL_CODE_HEADER_METHOD_DESC)?).filter(|&m| m != 0),
            module_method: None,
        }))
    }

    /// The start of the method holding `ip` in a JIT code heap, from its nibble map: one
    /// u32 per 256 code bytes, 8 nibbles, most significant first; a nibble is 1 + (method
    /// start within its 32-byte bucket) / 4. .NET 10 also stores "pointer" u32s (low nibble
    /// 9..12) in words wholly inside a method: start = map base + (v & !0xf) + ((v & 0xf) - 9) * 4.
    fn method_start(&self, heap_list: u64, ip: u64) -> Result<Option<u64>> {
        let space = &self.rt.space;
        let map_base = space.read_ptr(heap_list + HEAP_LIST_MAP_BASE)?;
        let header_map = space.read_ptr(heap_list + HEAP_LIST_HEADER_MAP)?;
        let Some(delta) = ip.checked_sub(map_base) else { return Ok(None) };
        let bucket = delta >> 5;
        let mut word = bucket >> 3;
        let mut nibble = (bucket & 7) as i64;
        for _ in 0..MAX_NIBBLE_WORDS {
            let v = space.read_u32(header_map + 4 * word)?;
            if (9..=12).contains(&(v & 0xf)) {
                return Ok(Some(map_base + (v & !0xf) as u64 + (((v & 0xf) - 9) << 2) as u64));
            }
            while nibble >= 0 {
                let n = (v >> (28 - 4 * nibble)) & 0xf;
                if n != 0 {
                    let start = map_base + ((word << 3) + nibble as u64) * 32 + ((n as u64 - 1) << 2);
                    if start <= ip {
                        return Ok(Some(start));
                    }
                }
                nibble -= 1;
            }
            if word == 0 {
                return Ok(None);
            }
            word -= 1;
            nibble = 7;
        }
        Ok(None)
    }

    fn lookup_r2r(&self, ip: u64, base: u64, module: u64) -> Result<Option<CodeInfo>> {
        let image = {
            let mut cache = self.r2r.lock().map_err(|_| anyhow::anyhow!("ReadyToRun cache poisoned"))?;
            cache
                .entry(base)
                .or_insert_with(|| ReadyToRunImage::read(&self.rt.space, base).ok().map(Arc::new))
                .clone()
        };
        let image = image.with_context(|| format!("cannot read the ReadyToRun image at {base:#x}"))?;
        let Some(f) = image.lookup(ip) else { return Ok(None) };
        // The method's GC info follows the entry function's unwind info.
        let entry_unwind_size = super::unwind::unwind_info_size(&*self.rt.space, self.arch.arch, f.entry_unwind)?;
        let method_desc = match f.method_rid {
            Some(rid) => self.method_def_to_desc(module, rid).ok().flatten(),
            None => None,
        };
        Ok(Some(CodeInfo {
            kind: CodeKind::ReadyToRun,
            method_start: f.entry_begin,
            function_begin: f.begin,
            unwind_info: f.unwind,
            image_base: base,
            gc_info: f.entry_unwind.wrapping_add(entry_unwind_size as u64),
            gc_info_version: image.gc_info_version(),
            method_desc,
            module_method: f.method_rid.map(|rid| (module, rid)),
        }))
    }

    /// `Module.m_MethodDefToDescMap[rid]`: a LookupMap `{next +0, table +8, count +16,
    /// flags mask +24}` chained through `next`.
    pub fn method_def_to_desc(&self, module: u64, rid: u32) -> Result<Option<u64>> {
        let space = &self.rt.space;
        let mut map = module + self.rt.layout.stack.module_method_def_to_desc;
        let mut index = rid as u64;
        for _ in 0..64 {
            let table = space.read_ptr(map + 8)?;
            let count = space.read_u32(map + 16)? as u64;
            if index < count {
                if table == 0 {
                    return Ok(None);
                }
                let v = space.read_ptr(table + 8 * index)? & !(METHOD_DESC_ALIGNMENT - 1);
                return Ok((v != 0).then_some(v));
            }
            index -= count;
            map = space.read_ptr(map)?;
            if map == 0 {
                return Ok(None);
            }
        }
        Ok(None)
    }
}

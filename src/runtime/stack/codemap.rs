//! From an instruction pointer to the managed method it belongs to: its start, unwind info,
//! GC info and MethodDesc.
//!
//! `g_dacTable` entry 0 is `ExecutionManager::g_codeRangeMap`, a RangeSectionMap: a
//! five-level radix tree (256 entries per level, top level inline at +0, index at level L
//! = `ip >> (17 + 8 (L-1)) & 0xff`, bit 0 of interior pointers is a flag) whose leaves are
//! lists of RangeSectionFragments `{next, begin, end, RangeSection*}`. A RangeSection
//! `{begin, end, u32 flags, R2R module, heap list, next-for-delete}` is either a JIT code
//! heap (flag 2) found through its nibble map, a ReadyToRun image (R2R module set), or
//! stubs (flag 4). A JIT method's code header lists its RUNTIME_FUNCTIONs (one per
//! funclet: `{begin, end, unwind}` on x64, `{begin, unwind}` on arm64, whose unwind data
//! gives the length), RVAs relative to the section's start. Offsets in
//! [`crate::runtime::layouts::CodeMapLayout`] (per version and architecture, from the
//! contract descriptor on 10).
use super::arch::StackArch;
use super::r2r::ReadyToRunImage;
use crate::runtime::Runtime;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SECTION_FLAG_CODE_HEAP: u32 = 2;
/// `RealCodeHeader.phdrDebugInfo` (the first field on 8, 9, 10; not in the descriptors).
const REAL_CODE_HEADER_DEBUG_INFO: u64 = 0;
/// `RealCodeHeader.phdrJitEHInfo`: the `EE_ILEXCEPTION` (clause count in the `size_t`
/// before it, 32-byte `EE_ILEXCEPTION_CLAUSE`s from +8).
const REAL_CODE_HEADER_EH_INFO: u64 = 8;
const JIT_EH_CLAUSES: u64 = 8;
const JIT_EH_CLAUSE_SIZE: u64 = 32;
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
    /// The method's debug info (JIT: `RealCodeHeader.phdrDebugInfo`), when known; for
    /// ReadyToRun code see [`CodeMap::debug_info_address`].
    pub debug_info: Option<u64>,
    /// ReadyToRun: the runtime function index of the method's entry.
    pub r2r_entry: Option<u32>,
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
        let map = rt.globals.code_range_map;
        if map == 0 {
            bail!("the code range map's address is unknown (g_dacTable entry 0 unreadable)");
        }
        let map = map.wrapping_add(rt.layout.code_map.top_level);
        Ok(CodeMap { rt, arch: StackArch::of(rt.space.core().arch), map, r2r: Mutex::new(HashMap::new()) })
    }

    /// The RangeSection holding `ip`.
    fn range_section(&self, ip: u64) -> Result<Option<u64>> {
        let space = &self.rt.space;
        let l = &self.rt.layout.code_map;
        let mut level_map = self.map;
        let mut entry = 0;
        for level in (1..=5u32).rev() {
            let index = (ip >> (17 + 8 * (level - 1))) & 0xff;
            entry = space.read_ptr(level_map.wrapping_add(8 * index))? & !1;
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
            let begin = space.read_ptr(fragment.wrapping_add(l.fragment_begin))?;
            let end = space.read_ptr(fragment.wrapping_add(l.fragment_end))?;
            if begin <= ip && ip < end {
                let section = space.read_ptr(fragment.wrapping_add(l.fragment_section))?;
                if section != 0 && space.read_ptr(section.wrapping_add(l.section_next_for_delete))? == 0 {
                    return Ok(Some(section));
                }
            }
            fragment = space.read_ptr(fragment.wrapping_add(l.fragment_next))? & !1;
        }
        bail!("the code range map's fragment list does not end")
    }

    /// The managed code at `ip`, or `None` when `ip` is not managed code (native code or
    /// a stub).
    pub fn lookup(&self, ip: u64) -> Result<Option<CodeInfo>> {
        let Some(section) = self.range_section(ip)? else { return Ok(None) };
        let space = &self.rt.space;
        let l = &self.rt.layout.code_map;
        let r2r_module = space.read_ptr(section.wrapping_add(l.section_r2r_module))?;
        let begin = space.read_ptr(section.wrapping_add(l.section_begin))?;
        if r2r_module != 0 {
            return self.lookup_r2r(ip, begin, r2r_module);
        }
        let flags = space.read_u32(section.wrapping_add(l.section_flags))?;
        if flags & SECTION_FLAG_CODE_HEAP == 0 {
            return Ok(None); // stubs
        }
        let heap_list = space.read_ptr(section.wrapping_add(l.section_heap_list))?;
        let Some(start) = self.method_start(heap_list, ip)? else { return Ok(None) };
        let header = space.read_ptr(start.wrapping_sub(8))?;
        if header <= l.stub_code_block_last {
            return Ok(None);
        }
        let n = space.read_u32(header.wrapping_add(l.code_header_num_unwind))?;
        if n > MAX_UNWIND_INFOS {
            bail!("code header {header:#x} claims {n} unwind infos");
        }
        let rva = ip.wrapping_sub(begin);
        let mut function = None;
        for i in 0..n as u64 {
            let e = header.wrapping_add(l.code_header_unwind).wrapping_add(l.runtime_function_size.wrapping_mul(i));
            let fb = space.read_u32(e.wrapping_add(l.runtime_function_begin))?;
            let unwind = space.read_u32(e.wrapping_add(l.runtime_function_unwind))?;
            let fe = match self.arch.arch {
                crate::dump::Architecture::X86_64 => space.read_u32(e.wrapping_add(l.runtime_function_end))?,
                crate::dump::Architecture::Arm64 => {
                    let length = super::unwind_arm64::function_length(&*self.rt.space, begin.wrapping_add(unwind as u64))?;
                    fb.saturating_add(length)
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
            gc_info: space.read_ptr(header.wrapping_add(l.code_header_gc_info))?,
            gc_info_version: self.rt.layout.stack.gc_info_version as u32,
            method_desc: Some(space.read_ptr(header.wrapping_add(l.code_header_method_desc))?).filter(|&m| m != 0),
            module_method: None,
            debug_info: Some(space.read_ptr(header.wrapping_add(REAL_CODE_HEADER_DEBUG_INFO))?).filter(|&d| d != 0),
            r2r_entry: None,
        }))
    }

    /// The start of the method holding `ip` in a JIT code heap, from its nibble map: one
    /// u32 per 256 code bytes, 8 nibbles, most significant first; a nibble is 1 + (method
    /// start within its 32-byte bucket) / 4. .NET 10 also stores "pointer" u32s (low nibble
    /// 9..12) in words wholly inside a method: start = map base + (v & !0xf) + ((v & 0xf) - 9) * 4.
    fn method_start(&self, heap_list: u64, ip: u64) -> Result<Option<u64>> {
        let space = &self.rt.space;
        let l = &self.rt.layout.code_map;
        let map_base = space.read_ptr(heap_list.wrapping_add(l.heap_list_map_base))?;
        let header_map = space.read_ptr(heap_list.wrapping_add(l.heap_list_header_map))?;
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

    /// Where a method's debug info is: JIT code's from its code header, ReadyToRun code's
    /// from its image's DebugInfo section (read on first use).
    pub fn debug_info_address(&self, code: &CodeInfo) -> Option<u64> {
        if code.debug_info.is_some() {
            return code.debug_info;
        }
        let entry = code.r2r_entry?;
        self.r2r_image(code.image_base).ok()?.debug_info_address(&self.rt.space, entry)
    }

    /// The exception clauses of a method's code (`{flags, try start, try end, handler
    /// start, handler end, class token or filter offset}`, offsets from the method's
    /// start): JIT code's from its code header, ReadyToRun code's from its image's
    /// ExceptionInfo section.
    pub fn eh_clauses(&self, code: &CodeInfo) -> Result<Vec<[u32; 6]>> {
        let space = &self.rt.space;
        match code.kind {
            CodeKind::ReadyToRun => {
                let image = self.r2r_image(code.image_base)?;
                let rva = u32::try_from(code.method_start.wrapping_sub(code.image_base)).context("method outside its image")?;
                image.eh_clauses(space, rva)
            }
            CodeKind::Jit => {
                let header = space.read_ptr(code.method_start.wrapping_sub(8))?;
                let eh = space.read_ptr(header.wrapping_add(REAL_CODE_HEADER_EH_INFO))?;
                if eh == 0 {
                    return Ok(Vec::new());
                }
                let count = space.read_u64(eh.wrapping_sub(8))?;
                if count > super::r2r::MAX_EH_CLAUSES as u64 {
                    bail!("EH info at {eh:#x} claims {count} clauses");
                }
                let mut out = Vec::with_capacity(count as usize);
                for i in 0..count {
                    let at = eh.wrapping_add(JIT_EH_CLAUSES).wrapping_add(i * JIT_EH_CLAUSE_SIZE);
                    let mut c = [0u32; 6];
                    for (k, v) in c.iter_mut().take(5).enumerate() {
                        *v = space.read_u32(at.wrapping_add(4 * k as u64))?;
                    }
                    c[5] = space.read_u32(at.wrapping_add(24))?;
                    out.push(c);
                }
                Ok(out)
            }
        }
    }

    /// The ReadyToRun image at `base`, read once.
    fn r2r_image(&self, base: u64) -> Result<Arc<ReadyToRunImage>> {
        let image = {
            let mut cache = self.r2r.lock().map_err(|_| anyhow::anyhow!("ReadyToRun cache poisoned"))?;
            cache
                .entry(base)
                .or_insert_with(|| ReadyToRunImage::read(&self.rt.space, base).ok().map(Arc::new))
                .clone()
        };
        image.with_context(|| format!("cannot read the ReadyToRun image at {base:#x}"))
    }

    fn lookup_r2r(&self, ip: u64, base: u64, module: u64) -> Result<Option<CodeInfo>> {
        let image = self.r2r_image(base)?;
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
            debug_info: None,
            r2r_entry: Some(f.entry_index),
        }))
    }

    /// `Module.m_MethodDefToDescMap[rid]`: a LookupMap chained through `next`
    /// ([`crate::runtime::layouts::LookupMapLayout`]).
    pub fn method_def_to_desc(&self, module: u64, rid: u32) -> Result<Option<u64>> {
        let space = &self.rt.space;
        let layout = &self.rt.layout;
        let lm = &layout.type_loader.lookup_map;
        let mut map = module.wrapping_add(layout.stack.module_method_def_to_desc);
        let mut index = rid as u64;
        for _ in 0..64 {
            let table = space.read_ptr(map.wrapping_add(lm.table))?;
            let count = space.read_u32(map.wrapping_add(lm.count))? as u64;
            if index < count {
                if table == 0 {
                    return Ok(None);
                }
                let v = space.read_ptr(table.wrapping_add(8 * index))? & !layout.method_desc.alignment.wrapping_sub(1);
                return Ok((v != 0).then_some(v));
            }
            index -= count;
            map = space.read_ptr(map.wrapping_add(lm.next))?;
            if map == 0 {
                return Ok(None);
            }
        }
        Ok(None)
    }
}

/// x64 precodes (.NET 7 and later): code `jmp [rip+disp32]` (FF 25, a FixupPrecode) or
/// `mov r10, [rip+disp32]` (4C 8B 15, a StubPrecode), the displacement reaching the data
/// page (one stub page, 16 KiB on 8-10, after the code): `FixupPrecodeData { Target,
/// MethodDesc, .. }` (the jump's operand is `Target`) or `StubPrecodeData { MethodDesc,
/// Target, Type }` (the move's operand is `MethodDesc`).
const FIXUP_PRECODE: [u8; 2] = [0xFF, 0x25];
const STUB_PRECODE: [u8; 3] = [0x4C, 0x8B, 0x15];
/// `StubPrecodeData.Type` of a plain StubPrecode (not an NDirect import or another kind).
const STUB_PRECODE_DATA_TYPE: u8 = 0x4C;
/// The farthest a precode's data is from its code.
const MAX_PRECODE_DISTANCE: i32 = 1 << 20;

/// The MethodDesc of the precode at `ip`, if `ip` starts one (the DAC's
/// `MethodDesc::GetMethodDescFromStubAddr`, speculative): what a delegate to a method not
/// compiled yet points at. x64 only; None elsewhere.
pub fn precode_method_desc(rt: &Runtime, ip: u64) -> Option<u64> {
    if rt.space.core().arch != crate::dump::Architecture::X86_64 {
        return None;
    }
    let space = &rt.space;
    let code = space.read_array::<7>(ip).ok()?;
    let operand = |len: u64, at: usize| -> Option<u64> {
        let disp = i32::from_le_bytes(code[at..at + 4].try_into().ok()?);
        if !(0..=MAX_PRECODE_DISTANCE).contains(&disp) {
            return None;
        }
        ip.checked_add(len)?.checked_add(disp as u64)
    };
    let md = if code[..2] == FIXUP_PRECODE {
        space.read_ptr(operand(6, 2)?.wrapping_add(8)).ok()?
    } else if code[..3] == STUB_PRECODE {
        let data = operand(7, 3)?;
        if space.read_u8(data.wrapping_add(16)).ok()? != STUB_PRECODE_DATA_TYPE {
            return None;
        }
        space.read_ptr(data).ok()?
    } else {
        return None;
    };
    (md != 0 && md % 8 == 0).then_some(md)
}

//! What the DAC says about a MethodDesc and its code (`GetMethodDescData`,
//! `GetReJITInformation`, `GetTieredVersions`), for `ip2md`'s text: the method's type,
//! token and module, its current code, its IL, and its native code versions with the
//! optimization tier of each.
//!
//! A method's native code versions are its default version (the code in its native code
//! slot) followed by the version nodes the code version manager made (tier 1, OSR): on 9
//! and 10 found from the MethodDesc's `CodeData` (`MethodDescCodeData.VersioningState`,
//! whose `NativeCodeVersionNode` list they are); on 8 the manager keeps them in a hash
//! table clrheap does not read, so only the default version is listed there. The tier of
//! the default version is `ReadyToRun` for code in a ReadyToRun image, `QuickJitted` for a
//! method eligible for tiering (the runtime's initial tier when call counting is on),
//! `MinOptJitted` for a method marked `NoOptimization`, `Optimized` otherwise.
use super::modules::{load_metadata, module_image, ImageInSpace};
use super::stack::codemap::{CodeInfo, CodeKind, CodeMap};
use super::stack::dac_names::mt_module_and_rid;
use super::stack::names::method_desc_token;
use super::Runtime;
use crate::metadata::PeImage;
use anyhow::Result;

/// `MethodDesc.Flags3AndTokenRemainder` (offset 0 on 8, 9 and 10).
const MD_FLAGS3: u64 = 0;
const FLAGS3_HAS_STABLE_ENTRY_POINT: u16 = 0x1000;
const FLAGS3_HAS_PRECODE: u16 = 0x2000;
const FLAGS3_ELIGIBLE_FOR_TIERING: u16 = 0x8000;
/// `MethodDesc.CodeData` (9 and 10): the `MethodDescCodeData*`.
const MD_CODE_DATA: u64 = 8;
/// `MethodDescCodeData.VersioningState`.
const CODE_DATA_VERSIONING_STATE: u64 = 0;
/// `MethodDescVersioningState.NativeCodeVersionNode` (the first node) and its
/// `MethodDesc` at 0.
const VERSIONING_STATE_FIRST_NODE: u64 = 16;
/// `NativeCodeVersionNode`: `NativeCode`, `ILVersionId`, `Next`, `m_optTier`.
const NODE_NATIVE_CODE: u64 = 0;
const NODE_IL_VERSION: u64 = 16;
const NODE_NEXT: u64 = 24;
const NODE_OPT_TIER: u64 = 36;
/// `NativeCodeVersionNode.Flags` and its `IsActiveChild` bit (9 and 10).
const NODE_FLAGS: u64 = 52;
const NODE_ACTIVE_CHILD: u32 = 0x1;
/// Most version nodes followed for one method.
const MAX_NODES: usize = 64;
/// `MethodImplAttributes.NoOptimization`, `AggressiveOptimization`.
const IMPL_NO_OPTIMIZATION: u16 = 0x0040;
const IMPL_AGGRESSIVE_OPTIMIZATION: u16 = 0x0200;
/// MethodDesc classifications with IL: plain IL and instantiated (generic) methods.
const MC_IL: u16 = 0;
const MC_INSTANTIATED: u16 = 5;
const MD_HAS_NON_VTABLE_SLOT: u16 = 0x8;
const MD_METHOD_IMPL: u16 = 0x10;
const MD_HAS_NATIVE_CODE_SLOT: u16 = 0x20;

/// `DacpTieredVersionData::OptimizationTier`, named as SOS prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizationTier {
    Unknown,
    MinOptJitted,
    Optimized,
    QuickJitted,
    OptimizedTier1,
    ReadyToRun,
    OptimizedTier1Osr,
    QuickJittedInstrumented,
    OptimizedTier1Instrumented,
}

impl OptimizationTier {
    pub fn name(self) -> &'static str {
        match self {
            OptimizationTier::Unknown => "Unknown Tier",
            OptimizationTier::MinOptJitted => "MinOptJitted",
            OptimizationTier::Optimized => "Optimized",
            OptimizationTier::QuickJitted => "QuickJitted",
            OptimizationTier::OptimizedTier1 => "OptimizedTier1",
            OptimizationTier::ReadyToRun => "ReadyToRun",
            OptimizationTier::OptimizedTier1Osr => "OptimizedTier1OSR",
            OptimizationTier::QuickJittedInstrumented => "QuickJitted + Instrumented",
            OptimizationTier::OptimizedTier1Instrumented => "OptimizedTier1 + Instrumented",
        }
    }

    /// A node's `NativeCodeVersion::OptimizationTier` as the DAC maps it.
    fn of_node(tier: u32) -> OptimizationTier {
        match tier {
            0 => OptimizationTier::QuickJitted,
            1 => OptimizationTier::OptimizedTier1,
            2 => OptimizationTier::OptimizedTier1Osr,
            3 => OptimizationTier::Optimized,
            4 => OptimizationTier::QuickJittedInstrumented,
            5 => OptimizationTier::OptimizedTier1Instrumented,
            _ => OptimizationTier::Unknown,
        }
    }
}

/// One native code version of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeCodeVersion {
    /// Its code (0 when it has none yet).
    pub code: u64,
    /// Its `NativeCodeVersionNode` (0 for the default version).
    pub node: u64,
    pub tier: OptimizationTier,
}

/// What the DAC reports about a MethodDesc.
#[derive(Debug, Clone)]
pub struct MethodDescData {
    pub method_desc: u64,
    pub method_table: u64,
    /// The EEClass of the method's type (8), its canonical MethodTable (9, 10).
    pub ee_class: Option<u64>,
    /// The MethodDef token (`0x06xxxxxx`).
    pub token: u32,
    pub module: u64,
    /// The code of the requested version (the one holding the IP asked about), `None`
    /// when it has none.
    pub native_code: Option<u64>,
    /// The method's IL (its header), 0 when it has none.
    pub il_address: u64,
    /// Whether that IL is the module's dynamic IL (a module emitted at run time keeps its
    /// methods' IL there; SOS reports it as "profiler modified IL").
    pub il_is_dynamic: bool,
    /// The native code versions, default version first.
    pub versions: Vec<NativeCodeVersion>,
}

/// The MethodDesc of the managed code holding `ip`, and that code.
pub fn method_desc_at_ip(rt: &Runtime, ip: u64) -> Option<(u64, CodeInfo)> {
    let map = CodeMap::new(rt).ok()?;
    let code = map.lookup(ip).ok()??;
    Some((code.method_desc?, code))
}

/// `GetMethodDescData` with the IP asked about, and the versions `GetTieredVersions`
/// lists for the default IL version.
pub fn method_desc_data(rt: &Runtime, md: u64, code_at_ip: Option<&CodeInfo>) -> Result<MethodDescData> {
    let space = &rt.space;
    let (mt, rid) = method_desc_token(rt, md)?;
    let module = mt_module_and_rid(rt, mt).map_or(0, |(m, _)| m);
    let info = method_desc_slots(rt, md)?;
    let flags3 = space.read_u16(md.wrapping_add(MD_FLAGS3))?;
    let meta = load_metadata(rt, module).ok();
    let method = meta.as_ref().and_then(|m| m.method(rid).ok());
    let map = CodeMap::new(rt).ok();
    let in_r2r = |code: u64| {
        code != 0
            && map
                .as_ref()
                .and_then(|m| m.lookup(code).ok().flatten())
                .is_some_and(|c| c.kind == CodeKind::ReadyToRun)
    };
    // The default version: the native code slot's code, or the stable entry point of a
    // method without a precode.
    let default_code = info.native_code.unwrap_or_else(|| {
        if flags3 & FLAGS3_HAS_STABLE_ENTRY_POINT != 0 && flags3 & FLAGS3_HAS_PRECODE == 0 {
            info.own_slot.unwrap_or(0)
        } else {
            0
        }
    });
    let eligible = flags3 & FLAGS3_ELIGIBLE_FOR_TIERING != 0;
    let tier_of = |code: u64, node_tier: Option<u32>| {
        if in_r2r(code) {
            OptimizationTier::ReadyToRun
        } else if eligible {
            match node_tier {
                Some(t) => OptimizationTier::of_node(t),
                // The initial tier: methods asking for aggressive optimization start at
                // tier 1 (8 still marks them eligible; 9 and 10 do not).
                None if method.as_ref().is_some_and(|m| m.impl_flags & IMPL_AGGRESSIVE_OPTIMIZATION != 0) => {
                    OptimizationTier::OptimizedTier1
                }
                None => OptimizationTier::QuickJitted,
            }
        } else if method.as_ref().is_some_and(|m| m.impl_flags & IMPL_NO_OPTIMIZATION != 0) {
            OptimizationTier::MinOptJitted
        } else {
            OptimizationTier::Optimized
        }
    };
    let mut versions = vec![NativeCodeVersion { code: default_code, node: 0, tier: tier_of(default_code, None) }];
    // The active version: the node marked as the active child, else the default one.
    let mut active_code = default_code;
    for node in version_nodes(rt, md) {
        let code = space.read_ptr(node.wrapping_add(NODE_NATIVE_CODE)).unwrap_or(0);
        if space.read_ptr(node.wrapping_add(NODE_IL_VERSION)).unwrap_or(0) != 0 {
            continue;
        }
        let tier = space.read_u32(node.wrapping_add(NODE_OPT_TIER)).unwrap_or(u32::MAX);
        if space.read_u32(node.wrapping_add(NODE_FLAGS)).unwrap_or(0) & NODE_ACTIVE_CHILD != 0 && code != 0 {
            active_code = code;
        }
        versions.push(NativeCodeVersion { code, node, tier: tier_of(code, Some(tier)) });
    }
    // The requested version: the one whose code holds the IP (none when no version's
    // code is that code), else the active one.
    let native_code = match code_at_ip {
        Some(c) => versions.iter().find(|v| v.code != 0 && v.code == c.method_start).map(|v| v.code),
        None => Some(active_code).filter(|&c| c != 0),
    };
    let dynamic_il = dynamic_il(rt, module, 0x0600_0000 | rid);
    let il_address = match dynamic_il {
        Some(a) => a,
        None => method
            .as_ref()
            .filter(|m| m.rva != 0 && matches!(info.flags & 7, MC_IL | MC_INSTANTIATED))
            .and_then(|m| il_address(rt, module, m.rva))
            .unwrap_or(0),
    };
    let ee_class = ee_class(rt, mt);
    Ok(MethodDescData {
        method_desc: md,
        method_table: mt,
        ee_class,
        token: 0x0600_0000 | rid,
        module,
        native_code,
        il_address,
        il_is_dynamic: dynamic_il.is_some(),
        versions,
    })
}

/// A MethodDesc's optional slots (its own entry point slot, its native code slot), for
/// IL and instantiated MethodDescs: they follow the classification's structure
/// (`MethodDesc`, or `InstantiatedMethodDesc` up to its `NumGenericArgs`).
fn method_desc_slots(rt: &Runtime, md: u64) -> Result<super::methods::MethodDescInfo> {
    let space = &rt.space;
    let l = &rt.layout.method_desc;
    let slot = space.read_u16(md.wrapping_add(l.slot))?;
    let flags = space.read_u16(md.wrapping_add(l.flags))?;
    let mut info = super::methods::MethodDescInfo { address: md, slot, flags, own_slot: None, native_code: None };
    let size = match flags & 7 {
        MC_IL => l.size,
        MC_INSTANTIATED => (rt.layout.stack.instantiated_method_desc.2 + 2).next_multiple_of(8),
        _ => return Ok(info),
    };
    let mut at = md.wrapping_add(size);
    if flags & MD_HAS_NON_VTABLE_SLOT != 0 {
        info.own_slot = space.read_ptr(at).ok();
        at = at.wrapping_add(8);
    }
    if flags & MD_METHOD_IMPL != 0 {
        at = at.wrapping_add(16);
    }
    if flags & MD_HAS_NATIVE_CODE_SLOT != 0 {
        info.native_code = space.read_ptr(at).ok().map(|c| c & !1).filter(|&c| c != 0);
    }
    Ok(info)
}

/// The version nodes of a method (9 and 10), newest first as the runtime links them.
fn version_nodes(rt: &Runtime, md: u64) -> Vec<u64> {
    let space = &rt.space;
    if rt.layout.major < 9 || rt.layout.method_desc.size < 16 {
        return Vec::new();
    }
    let Ok(code_data) = space.read_ptr(md.wrapping_add(MD_CODE_DATA)) else { return Vec::new() };
    if code_data == 0 {
        return Vec::new();
    }
    let Ok(state) = space.read_ptr(code_data.wrapping_add(CODE_DATA_VERSIONING_STATE)) else { return Vec::new() };
    // A versioning state names its MethodDesc first.
    if state == 0 || space.read_ptr(state).ok() != Some(md) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut node = space.read_ptr(state.wrapping_add(VERSIONING_STATE_FIRST_NODE)).unwrap_or(0);
    while node != 0 && out.len() < MAX_NODES {
        out.push(node);
        node = space.read_ptr(node.wrapping_add(NODE_NEXT)).unwrap_or(0);
    }
    out
}

/// Most entries of a dynamic IL table read.
const MAX_DYNAMIC_IL_ENTRIES: u64 = 1 << 16;

/// The IL a module keeps for a method in its dynamic IL table (see
/// [`crate::runtime::layouts::ModuleLayout::dynamic_il_table`]): the entry holding the
/// token, found by scanning the table (its hash is the runtime's business).
pub fn dynamic_il(rt: &Runtime, module: u64, token: u32) -> Option<u64> {
    let space = &rt.space;
    let table = space.read_ptr(module.wrapping_add(rt.layout.module.dynamic_il_table)).ok()?;
    if table == 0 {
        return None;
    }
    let entries = space.read_ptr(table).ok()?;
    let size = (space.read_u32(table.wrapping_add(8)).ok()? as u64).min(MAX_DYNAMIC_IL_ENTRIES);
    if entries == 0 {
        return None;
    }
    (0..size).find_map(|i| {
        let e = entries.wrapping_add(i * 16);
        (space.read_u32(e).ok()? == token).then(|| space.read_ptr(e.wrapping_add(8)).ok()).flatten().filter(|&a| a != 0)
    })
}

/// Where a method's IL is in the dump: its module's image base and the RVA as laid out.
fn il_address(rt: &Runtime, module: u64, rva: u32) -> Option<u64> {
    let image = module_image(rt, module).ok()?;
    if image.base == 0 {
        return None;
    }
    let src = ImageInSpace { space: &rt.space, base: image.base };
    let pe = PeImage::parse(&src, image.layout).ok()?;
    Some(image.base.wrapping_add(pe.rva_to_offset(rva, 1).ok()?))
}

/// What the DAC reports as a MethodTable's `Class`: on 8 its EEClass (through its
/// canonical MethodTable); on 9 and 10, which no longer show EEClasses, the canonical
/// MethodTable itself.
fn ee_class(rt: &Runtime, mt: u64) -> Option<u64> {
    let space = &rt.space;
    let off = rt.layout.method_table.ee_class_or_canon;
    let v = space.read_ptr(mt.wrapping_add(off)).ok()?;
    if rt.layout.major >= 9 {
        return Some(if v & 1 != 0 { v & !1 } else { mt });
    }
    if v & 1 == 0 {
        return Some(v);
    }
    let canon = v & !1;
    let c = space.read_ptr(canon.wrapping_add(off)).ok()?;
    (c & 1 == 0).then_some(c)
}

/// Bytes SOS reads at an IL address to find the size of the body (`GetILSize`).
const IL_HEADER_READ: usize = 1024;
/// Largest method body read (a fat header's code size is a `u32`; the dump's bodies are
/// far smaller).
const MAX_IL_BODY: usize = 16 << 20;

/// A method body read from the dump: its bytes (header, code, sections) and its parse.
#[derive(Debug, Clone)]
pub struct IlBody {
    pub address: u64,
    pub bytes: Vec<u8>,
    pub body: crate::metadata::il::MethodBody,
}

/// Reads the method body at `address`: its header first (as much of
/// [`IL_HEADER_READ`] bytes as the dump holds), then the whole body as the header sizes
/// it. `None` when not even the header can be read or parsed.
pub fn read_il_body(rt: &Runtime, address: u64) -> Option<IlBody> {
    let space = &rt.space;
    let run = space.readable_run(address).min(IL_HEADER_READ as u64) as usize;
    if run == 0 {
        return None;
    }
    let head = space.read_vec(address, run).ok()?;
    let body = crate::metadata::il::MethodBody::parse(&head).ok()?;
    let size = body.total_size.min(MAX_IL_BODY);
    let bytes = if size <= head.len() {
        head[..size].to_vec()
    } else {
        let have = (space.readable_run(address).min(size as u64)) as usize;
        space.read_vec(address, have).ok()?
    };
    Some(IlBody { address, bytes, body })
}

//! What `clrstack` adds to the walk's frames: the source line of a managed frame.
//!
//! The frames are the walker's ([`super::StackWalk`]): the same frames the stack roots
//! come from. A frame's line is found as SOS finds it: the frame's IP (minus 1 for every
//! frame but an innermost one that no runtime Frame precedes, since such IPs are return
//! addresses that may already belong to the next source line) is mapped to an IL offset
//! through the method's debug info (a prolog as IL offset 0, an epilog as the last IL
//! offset), and the IL offset to a line through the module's portable PDB.
use super::debuginfo::{self, BoundsEncoding, DebugInfo, EPILOG, NO_MAPPING, PROLOG};
use super::names::method_desc_token;
use super::dac_names::mt_module_and_rid;
use super::walker::StackFrame;
use crate::runtime::symbols::Symbols;
use crate::runtime::Runtime;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Largest debug info blob read.
const MAX_DEBUG_INFO: usize = 256 << 10;

/// Source lines of frames; caches debug infos and PDBs.
pub struct SourceLines<'a> {
    rt: &'a Runtime,
    code: Option<super::codemap::CodeMap<'a>>,
    symbols: Symbols,
    metadata: super::names::MetadataCache,
    debug_infos: Mutex<HashMap<u64, Option<Arc<DebugInfo>>>>,
}

impl<'a> SourceLines<'a> {
    pub fn new(rt: &'a Runtime) -> Self {
        SourceLines { rt, code: super::codemap::CodeMap::new(rt).ok(), symbols: Symbols::default(), metadata: Default::default(), debug_infos: Mutex::new(HashMap::new()) }
    }

    fn encoding(&self) -> BoundsEncoding {
        if self.rt.version.major >= 10 { BoundsEncoding::BitPacked } else { BoundsEncoding::Nibbles }
    }

    /// The decoded debug info of a frame's code (JIT-compiled code's starts with a flag
    /// byte, ReadyToRun code's does not).
    pub fn code_debug_info(&self, code: &super::codemap::CodeInfo) -> Option<Arc<DebugInfo>> {
        let addr = self.code.as_ref()?.debug_info_address(code)?;
        if code.kind == super::codemap::CodeKind::Jit {
            return self.debug_info(addr);
        }
        self.decoded(addr, false)
    }

    /// The decoded debug info at `addr` (JIT-compiled code's, with its flag byte).
    pub fn debug_info(&self, addr: u64) -> Option<Arc<DebugInfo>> {
        self.decoded(addr, true)
    }

    fn decoded(&self, addr: u64, flag_byte: bool) -> Option<Arc<DebugInfo>> {
        if let Some(d) = self.debug_infos.lock().ok()?.get(&addr) {
            return d.clone();
        }
        let mut len = MAX_DEBUG_INFO;
        let bytes = loop {
            match self.rt.space.read_vec(addr, len) {
                Ok(b) => break Some(b),
                Err(_) if len > 256 => len /= 4,
                Err(_) => break None,
            }
        };
        let decoded = bytes.and_then(|b| debuginfo::decode(&b, flag_byte, self.encoding()).ok()).map(Arc::new);
        self.debug_infos.lock().ok()?.insert(addr, decoded.clone());
        decoded
    }

    /// The IL offset of a managed frame's IP, as SOS computes it for a source line.
    pub fn il_offset(&self, frame: &StackFrame, adjust: bool) -> Option<u32> {
        let code = frame.code.as_ref()?;
        let info = self.code_debug_info(code)?;
        let mut ip = frame.ip;
        if adjust && ip > code.method_start {
            ip -= 1;
        }
        let offset = u32::try_from(ip.checked_sub(code.method_start)?).ok()?;
        match info.il_offset(offset)? {
            NO_MAPPING => None,
            PROLOG => Some(0),
            EPILOG => info.last_il_offset(),
            il => Some(il),
        }
    }

    /// The source file and line of a managed frame, when its module's PDB is found.
    pub fn line(&self, frame: &StackFrame, adjust: bool) -> Option<(String, u32)> {
        let md = frame.method?;
        let il = self.il_offset(frame, adjust)?;
        let (mt, rid) = method_desc_token(self.rt, md).ok()?;
        let (module, _) = mt_module_and_rid(self.rt, mt)?;
        self.symbols.line(self.rt, module, rid, il)
    }
}

/// `MethodDesc.m_wFlags` classification of a P/Invoke method (`mcNDirect`).
const MC_NDIRECT: u16 = 2;

impl SourceLines<'_> {
    /// The code holding `ip`, if it is managed code.
    pub fn code_at(&self, ip: u64) -> Option<super::codemap::CodeInfo> {
        self.code.as_ref()?.lookup(ip).ok().flatten()
    }

    /// The source line of an IP in method `md` (a recorded stack trace's frame), with the
    /// IP moved back one byte when `adjust` (a return address).
    pub fn line_of_ip(&self, md: u64, ip: u64, adjust: bool) -> Option<(String, u32)> {
        let code = self.code_at(ip)?;
        let frame = StackFrame {
            kind: super::walker::StackFrameKind::Managed,
            sp: 0,
            ip,
            method: Some(md),
            name: None,
            function: None,
            code: Some(code),
            context: None,
            active: false,
        };
        self.line(&frame, adjust)
    }

    /// Where the DAC says method `md`'s code starts (`NativeCodeAddr`), given an IP in
    /// it: the code's start, or all ones for a P/Invoke method (no code of its own).
    pub fn native_code_start_of(&self, md: u64, ip: u64) -> u64 {
        let flags = self.rt.space.read_u16(md.wrapping_add(6)).unwrap_or(0);
        if flags & 7 == MC_NDIRECT {
            return u64::MAX;
        }
        self.code_at(ip).map_or(u64::MAX, |c| c.method_start)
    }

    /// The DAC's name of a MethodDesc.
    pub fn method_name(&self, md: u64) -> Option<String> {
        super::dac_names::DacNamer::new(self.rt, &self.metadata).method_desc_name(md)
    }

    /// The file name of the module defining a method (`System.Private.CoreLib.dll`), as
    /// `clrstack -f` prefixes method names with it; `None` for a module without a file.
    pub fn module_file_name(&self, md: u64) -> Option<String> {
        let (mt, _) = method_desc_token(self.rt, md).ok()?;
        let (module, _) = mt_module_and_rid(self.rt, mt)?;
        let image = crate::runtime::modules::module_image(self.rt, module).ok()?;
        let name = image.path.rsplit('/').next()?.to_string();
        (!name.is_empty()).then_some(name)
    }

    /// Where the DAC says a managed frame's method code starts (`NativeCodeAddr`): the
    /// frame's code, or all ones for a P/Invoke method, which has no code of its own (its
    /// frame runs the IL stub).
    pub fn native_code_start(&self, frame: &StackFrame) -> u64 {
        let Some(md) = frame.method else { return u64::MAX };
        let flags = self.rt.space.read_u16(md.wrapping_add(6)).unwrap_or(0);
        if flags & 7 == MC_NDIRECT {
            return u64::MAX;
        }
        frame.code.as_ref().map_or(u64::MAX, |c| c.method_start)
    }
}

/// Where a variable's value was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarPlace {
    Register,
    Address(u64),
}

/// A parameter's or local's value as SOS prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarValue {
    /// Not live at the frame's IP (or unreadable): `<no data>`.
    NoData,
    /// Its value (zero-extended from its size), and where it lives when that is one place.
    Value { place: Option<VarPlace>, value: u64 },
}

/// A frame's parameters (with their names; `this` first for an instance method) and locals.
#[derive(Debug, Clone, Default)]
pub struct FrameVariables {
    pub params: Vec<(String, VarValue)>,
    pub locals: Vec<VarValue>,
}

/// `ICorDebugInfo::REGNUM_AMBIENT_SP` on x64: the SP at the method's entry.
const REGNUM_AMBIENT_SP: u32 = 17;

impl SourceLines<'_> {
    /// A managed frame's parameters and locals as the DAC presents them (`clrstack -a`):
    /// each variable is looked up in the JIT's variable info at the frame's native offset
    /// (a range holding it, or one ending exactly there); a register's value is the
    /// frame's context's, a stack slot's is read from memory, both cut to the variable's
    /// size. Parameter names come from the metadata's Param rows.
    pub fn variables(&self, frame: &StackFrame) -> Option<FrameVariables> {
        let md = frame.method?;
        let code = frame.code.as_ref()?;
        let (mt, rid) = method_desc_token(self.rt, md).ok()?;
        let (module, _) = mt_module_and_rid(self.rt, mt)?;
        let meta = self.symbols_metadata(module)?;
        let m = meta.method(rid).ok()?;
        let has_this = crate::metadata::method_has_this(m.signature);
        let params = crate::metadata::decode_method_params(m.signature).ok()?;
        let names = meta.param_names(rid).unwrap_or_default();
        let info = self.code_debug_info(code);
        let offset = u32::try_from(frame.ip.checked_sub(code.method_start)?).ok()?;
        let ctx = frame.context.as_ref()?;
        let value_type_owner = self.is_value_type(mt);
        let mut out = FrameVariables::default();
        let mut number = 0u32;
        if has_this {
            // `this` of a value type's method is a byref: 8 bytes either way.
            let _ = value_type_owner;
            out.params.push(("this".into(), self.var_value(info.as_deref(), offset, number, 8, ctx)));
            number += 1;
        }
        for (i, p) in params.iter().enumerate() {
            let name = names.iter().find(|(seq, _)| *seq as usize == i + 1).map(|(_, n)| n.to_string()).unwrap_or_default();
            let size = self.sig_size(&meta, module, p);
            out.params.push((name, self.var_value(info.as_deref(), offset, number, size, ctx)));
            number += 1;
        }
        if let Some(blob) = crate::runtime::modules::method_local_signature(self.rt, module, &meta, rid) {
            for l in crate::metadata::decode_local_signature(&blob).unwrap_or_default() {
                let size = self.sig_size(&meta, module, &l);
                out.locals.push(self.var_value(info.as_deref(), offset, number, size, ctx));
                number += 1;
            }
        }
        Some(out)
    }

    fn symbols_metadata(&self, module: u64) -> Option<Arc<crate::metadata::MetadataReader>> {
        self.metadata.get(self.rt, module)
    }

    fn is_value_type(&self, mt: u64) -> bool {
        let l = &self.rt.layout.method_table;
        self.rt
            .space
            .read_u32(mt.wrapping_add(l.flags))
            .is_ok_and(|f| f & crate::runtime::layouts::MTF_CATEGORY_ARRAY_MASK == crate::runtime::layouts::MTF_CATEGORY_VALUETYPE)
    }

    /// The byte size SOS reads a variable of this type with (0 when it cannot tell).
    fn sig_size(&self, meta: &crate::metadata::MetadataReader, module: u64, ty: &crate::metadata::SigType) -> u32 {
        use crate::metadata::{SigType as S, TableId};
        match ty {
            S::Boolean | S::I1 | S::U1 => 1,
            S::Char | S::I2 | S::U2 => 2,
            S::I4 | S::U4 | S::R4 => 4,
            S::I8 | S::U8 | S::R8 | S::I | S::U => 8,
            S::String | S::Object | S::Class(_) | S::SzArray(_) | S::Array { .. } | S::Ptr(_) | S::ByRef(_) | S::FnPtr => 8,
            S::GenericInst { is_value_type: false, .. } => 8,
            S::Var(_) | S::MVar(_) => 8,
            S::ValueType(t) => {
                let l = &self.rt.layout.type_loader;
                let mt = match t.table() {
                    Some(TableId::TypeDef) => crate::runtime::modules::lookup_map_entry(self.rt, module.wrapping_add(l.typedef_map), t.rid()),
                    Some(TableId::TypeRef) => crate::runtime::modules::lookup_map_entry(self.rt, module.wrapping_add(l.typeref_map), t.rid()),
                    _ => None,
                };
                let _ = meta;
                // The DAC reads a struct as one 8-byte location; an enum, a primitive, as
                // its underlying type.
                mt.filter(|m| m & 2 == 0).and_then(|m| self.enum_size(m)).unwrap_or(8)
            }
            _ => 0,
        }
    }

    /// The size of an enum's underlying type, when `mt` is an enum: its one instance
    /// field's (`value__`).
    fn enum_size(&self, mt: u64) -> Option<u32> {
        use crate::metadata::{SigType as S, TableId};
        let (module, rid) = mt_module_and_rid(self.rt, mt)?;
        let meta = self.metadata.get(self.rt, module)?;
        let t = meta.typedef(rid).ok()?;
        let parent = match t.extends.table() {
            Some(TableId::TypeRef) => meta.typeref_full_name(t.extends.rid()).ok()?,
            Some(TableId::TypeDef) => meta.type_full_name(t.extends.rid()).ok()?,
            _ => return None,
        };
        if parent != "System.Enum" {
            return None;
        }
        let field = meta.type_fields(rid).ok()?.into_iter().find(|&f| meta.field(f).is_ok_and(|i| !i.is_static()))?;
        Some(match meta.field_sig(field).ok()? {
            S::Boolean | S::I1 | S::U1 => 1,
            S::Char | S::I2 | S::U2 => 2,
            S::I4 | S::U4 => 4,
            _ => 8,
        })
    }

    /// A variable's value at native offset `offset` of the frame: the first of its live
    /// ranges (in the order the JIT listed them) holding the offset, both ends included,
    /// as the DAC's `ValueFromDebugInfo` picks it.
    fn var_value(&self, info: Option<&DebugInfo>, offset: u32, number: u32, size: u32, ctx: &crate::runtime::stack::unwind::RegContext) -> VarValue {
        use super::debuginfo::VarLocation as L;
        let Some(info) = info else { return VarValue::NoData };
        let Some(v) = info.vars.iter().find(|v| v.number == number && v.start <= offset && offset <= v.end) else {
            return VarValue::NoData;
        };
        let reg = |r: u32| -> Option<u64> {
            if r == REGNUM_AMBIENT_SP {
                return Some(ctx.sp());
            }
            ctx.regs.get(r as usize).copied()
        };
        let mask = |x: u64| match size {
            1 => x & 0xff,
            2 => x & 0xffff,
            4 => x & 0xffff_ffff,
            8 => x,
            _ => 0,
        };
        let read = |addr: u64| -> Option<u64> {
            let n = match size {
                1 | 2 | 4 | 8 => size as usize,
                _ => return Some(0),
            };
            let b = self.rt.space.read_vec(addr, n).ok()?;
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(&b);
            Some(u64::from_le_bytes(w))
        };
        if size == 0 {
            return VarValue::NoData;
        }
        match v.location {
            L::Register(r) => match reg(r) {
                Some(x) => VarValue::Value { place: Some(VarPlace::Register), value: mask(x) },
                None => VarValue::NoData,
            },
            L::RegisterByRef(r) => match reg(r).and_then(|a| Some((a, read(a)?))) {
                Some((a, x)) => VarValue::Value { place: Some(VarPlace::Address(a)), value: x },
                None => VarValue::NoData,
            },
            L::Stack { base, offset } => {
                let Some(b) = reg(base) else { return VarValue::NoData };
                let addr = b.wrapping_add(offset as i64 as u64);
                match read(addr) {
                    Some(x) => VarValue::Value { place: Some(VarPlace::Address(addr)), value: x },
                    None => VarValue::NoData,
                }
            }
            L::StackByRef { base, offset } => {
                let Some(b) = reg(base) else { return VarValue::NoData };
                let Some(addr) = self.rt.space.read_ptr(b.wrapping_add(offset as i64 as u64)).ok() else { return VarValue::NoData };
                match read(addr) {
                    Some(x) => VarValue::Value { place: Some(VarPlace::Address(addr)), value: x },
                    None => VarValue::NoData,
                }
            }
            L::Other(_) => VarValue::NoData,
        }
    }
}


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
    symbols: Symbols,
    debug_infos: Mutex<HashMap<u64, Option<Arc<DebugInfo>>>>,
}

impl<'a> SourceLines<'a> {
    pub fn new(rt: &'a Runtime) -> Self {
        SourceLines { rt, symbols: Symbols::default(), debug_infos: Mutex::new(HashMap::new()) }
    }

    fn encoding(&self) -> BoundsEncoding {
        if self.rt.version.major >= 10 { BoundsEncoding::BitPacked } else { BoundsEncoding::Nibbles }
    }

    /// The decoded debug info at `addr` (JIT-compiled code's, with its flag byte).
    pub fn debug_info(&self, addr: u64) -> Option<Arc<DebugInfo>> {
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
        let decoded = bytes.and_then(|b| debuginfo::decode(&b, true, self.encoding()).ok()).map(Arc::new);
        self.debug_infos.lock().ok()?.insert(addr, decoded.clone());
        decoded
    }

    /// The IL offset of a managed frame's IP, as SOS computes it for a source line.
    pub fn il_offset(&self, frame: &StackFrame, adjust: bool) -> Option<u32> {
        let code = frame.code.as_ref()?;
        let info = self.debug_info(code.debug_info?)?;
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

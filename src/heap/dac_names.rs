//! Type names in the DAC's own format, which SOS's native commands (`dumpobj`,
//! `dumpvc`, `dumparray`) print: the metadata name with its generic arity kept and the
//! instantiation appended with assembly-qualified arguments,
//! ``System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib],[System.Object, System.Private.CoreLib]]``,
//! arrays as `T[]`, `T[,]` and `T[*]` (a rank-1 array with bounds).
//!
//! (The managed commands print ClrMD's rewriting of the same names: see
//! [`Heap::type_name`].)
use crate::heap::fields::is_generic_instantiation;
use crate::heap::Heap;
use crate::heap::types::{NameBudget, check_name_len};
use crate::runtime::layouts::MTF_IS_SZARRAY;
use anyhow::{bail, Context, Result};

/// Deepest nesting of arguments and elements followed.
const MAX_DEPTH: usize = 32;

impl Heap {
    /// The DAC's name for the type of MethodTable `mt` (`Free` for free space).
    pub fn dac_type_name(&self, mt: u64) -> Result<String> {
        let mut out = String::new();
        self.append_dac_name(mt, false, &mut out, 0, &NameBudget::new())?;
        Ok(out)
    }

    fn append_dac_name(
        &self,
        th: u64,
        with_assembly: bool,
        out: &mut String,
        depth: usize,
        budget: &NameBudget,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            bail!("type nesting too deep");
        }
        budget.spend()?;
        check_name_len(out)?;
        if th & 2 != 0 {
            // A TypeDesc (pointer, byref, generic parameter, function pointer).
            match self.type_desc(th)? {
                (element_type @ (0x0f | 0x10), Some(arg)) => {
                    self.append_dac_name(arg, false, out, depth + 1, budget)?;
                    out.push(if element_type == 0x0f { '*' } else { '&' });
                }
                _ => bail!("unsupported TypeDesc {th:x}"),
            }
            return Ok(());
        }
        if th == self.runtime.globals.free_mt {
            out.push_str("Free");
            return Ok(());
        }
        let info = self.method_table(th)?;
        if info.is_array() {
            let element = self.space().read_ptr(th.wrapping_add(self.runtime.layout.method_table.per_inst_info))?;
            self.append_dac_name(element, false, out, depth + 1, budget)?;
            if info.flags & MTF_IS_SZARRAY != 0 {
                out.push_str("[]");
            } else {
                let rank = (info.base_size.saturating_sub(24) / 8).max(1) as usize;
                if rank == 1 {
                    out.push_str("[*]");
                } else {
                    out.push('[');
                    out.push_str(&",".repeat(rank - 1));
                    out.push(']');
                }
            }
        } else {
            let md = self
                .module_metadata(info.module)
                .with_context(|| format!("no metadata for module {:#x}", info.module))?;
            out.push_str(&crate::heap::types::typedef_name(&md, info.token & 0x00ff_ffff)?);
            if is_generic_instantiation(info.flags) {
                let args = self.generic_args(th)?;
                // The generic definition itself (every argument one of its own type
                // parameters, `VAR` TypeDescs) is named without arguments: ``List`1``.
                let definition = !args.is_empty()
                    && args.iter().all(|&a| a & 2 != 0 && self.type_desc(a).is_ok_and(|(e, _)| e == 0x13));
                if !args.is_empty() && !definition {
                    out.push('[');
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push('[');
                        self.append_dac_name(*a, true, out, depth + 1, budget)?;
                        out.push(']');
                    }
                    out.push(']');
                }
            }
        }
        if with_assembly {
            let module = self.element_module(th, depth)?;
            if let Some(name) = self
                .module_metadata(module)
                .and_then(|md| md.assembly_name().ok().flatten().map(str::to_string))
            {
                out.push_str(", ");
                out.push_str(&name);
            }
        }
        Ok(())
    }

    /// The module an assembly-qualified name names: an array's innermost element's.
    fn element_module(&self, th: u64, depth: usize) -> Result<u64> {
        let mut cur = th;
        for _ in depth..MAX_DEPTH {
            let info = self.method_table(cur)?;
            if !info.is_array() {
                return Ok(info.module);
            }
            cur = self.space().read_ptr(cur.wrapping_add(self.runtime.layout.method_table.per_inst_info))?;
            if cur & 2 != 0 {
                bail!("array of a TypeDesc");
            }
        }
        bail!("array nesting too deep")
    }
}

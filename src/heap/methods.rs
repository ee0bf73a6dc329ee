//! A MethodTable's methods and its module's file, for `dumpmt` and `name2ee`: the
//! runtime layer reads slots and MethodDescs ([`crate::runtime::methods`]); this names them.
use crate::heap::Heap;
use crate::runtime::methods::{method_table_slots, mt_counts};
pub use crate::runtime::methods::JitKind;
use crate::runtime::modules::module_image;
use crate::runtime::stack::names::{method_desc_name, MetadataCache};
use anyhow::Result;

/// One row of `dumpmt -md`.
#[derive(Debug, Clone)]
pub struct MethodRow {
    pub slot: u32,
    pub entry: u64,
    pub method_desc: u64,
    pub jit: JitKind,
    /// `Type.Method(params)`, `None` when it cannot be named.
    pub name: Option<String>,
}

impl Heap {
    /// Whether `mt` looks like a MethodTable: readable, and its EEClass points back to
    /// its canonical MethodTable.
    pub fn is_method_table(&self, mt: u64) -> bool {
        let Ok(info) = self.method_table(mt) else { return false };
        let Ok(canon) = self.canonical_mt(mt) else { return false };
        if info.ee_class == 0 {
            return false;
        }
        self.space()
            .read_ptr(info.ee_class.wrapping_add(self.runtime.layout.ee_class.method_table))
            .is_ok_and(|back| back == canon)
    }

    /// `NumInterfaces` of a MethodTable.
    pub fn interface_count(&self, mt: u64) -> Result<u16> {
        Ok(mt_counts(&self.runtime, mt)?.1)
    }

    /// The path of a module's file (empty for a module emitted at run time).
    pub fn module_path(&self, module: u64) -> Option<String> {
        module_image(&self.runtime, module).ok().map(|i| i.path)
    }

    /// The methods `dumpmt -md` lists for a MethodTable.
    pub fn method_rows(&self, mt: u64) -> Result<Vec<MethodRow>> {
        let meta_of = |module: u64| self.module_metadata(module);
        let info_of = |m: u64| self.method_table(m).ok().map(|i| (i.module, i.token, i.parent));
        let slots = method_table_slots(&self.runtime, mt, &meta_of, &info_of)?;
        let cache = MetadataCache::default();
        let namer = |m: u64| self.try_type_name(m).map(|n| n.to_string());
        Ok(slots
            .into_iter()
            .map(|s| MethodRow {
                slot: s.slot,
                entry: s.entry,
                method_desc: s.method_desc,
                jit: s.jit,
                name: (s.method_desc != 0).then(|| method_desc_name(&self.runtime, &cache, &namer, s.method_desc)).flatten(),
            })
            .collect())
    }
}

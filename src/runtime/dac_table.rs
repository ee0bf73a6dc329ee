//! The shape of `g_dacTable` as the dump has it.
//!
//! `g_dacTable` is an array of absolute addresses: the runtime's globals in `dacvars.h`
//! order, then a few global functions, then the vtables of the classes in `vptr_list.h`.
//! Servicing releases add globals in the middle (.NET 8.0.0 has two fewer than 8.0.33:
//! one before `gLowestFCall`, and `g_EntryAssemblyPath` at the end), so a fixed index
//! past an insertion point names the wrong global. Two anchors are found in the dump:
//!
//! - the global-function block: the first run of [`MIN_FUNCTION_RUN`] or more entries
//!   that point into `libcoreclr.so`'s executable segment. The vtables start right after
//!   it, so the Frame classes are found by their place in `vptr_list.h` from that start;
//! - `gLowestFCall` and `gHighestFCall` (8 and 9): the only two neighbouring globals that
//!   hold addresses of libcoreclr code. `gFCallMethods`, `g_pSyncTable` and
//!   `SyncBlockCache::s_pSyncBlockCache` follow them, so every global past them is taken
//!   relative to where the dump has them.
//!
//! Globals before the first insertion point (thread store, GC globals, CoreLib's
//! MethodTables) keep the layout's indices.
use crate::dump::{AddressSpace, MappedFile};
use anyhow::{Context, Result};

const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
/// Most entries looked at (every known table has fewer than 200).
const MAX_ENTRIES: usize = 1024;
/// Shortest run of code addresses taken for the global-function block (8.0: 5 entries).
const MIN_FUNCTION_RUN: usize = 3;

/// Where the parts of one dump's `g_dacTable` are.
#[derive(Debug, Clone, Default)]
pub struct DacTableShape {
    /// Entries in the table (from the symbol's size; `MAX_ENTRIES` when unknown).
    pub entries: usize,
    /// Index of the first vtable entry (just past the global functions), when found.
    pub vptr_start: Option<usize>,
    /// Index of `gLowestFCall` (followed by `gHighestFCall`), when found.
    pub fcall_range: Option<usize>,
}

impl DacTableShape {
    /// Reads the table at `table` (`entries` long when the symbol's size is known).
    pub fn read(space: &AddressSpace, coreclr: &MappedFile, table: u64, entries: Option<usize>) -> DacTableShape {
        let entries = entries.unwrap_or(MAX_ENTRIES).min(MAX_ENTRIES);
        let code = executable_ranges(space, coreclr).unwrap_or_default();
        let is_code = |v: u64| code.iter().any(|&(s, e)| s <= v && v < e);
        let mut values = Vec::with_capacity(entries);
        for i in 0..entries {
            match space.read_ptr(table.wrapping_add(8 * i as u64)) {
                Ok(v) => values.push(v),
                Err(_) => break,
            }
        }
        // The global-function block.
        let mut vptr_start = None;
        let mut functions_at = values.len();
        let mut run = 0;
        for (i, &v) in values.iter().enumerate() {
            if is_code(v) {
                run += 1;
                continue;
            }
            if run >= MIN_FUNCTION_RUN {
                vptr_start = Some(i);
                functions_at = i - run;
                break;
            }
            run = 0;
        }
        // The FCALL range: two neighbouring globals whose values are libcoreclr code.
        let held: Vec<bool> = values[..functions_at]
            .iter()
            .map(|&var| space.read_ptr(var).is_ok_and(&is_code))
            .collect();
        let pairs: Vec<usize> = (0..held.len().saturating_sub(1)).filter(|&i| held[i] && held[i + 1]).collect();
        let fcall_range = match pairs[..] {
            [i] => Some(i),
            _ => None,
        };
        DacTableShape { entries: values.len(), vptr_start, fcall_range }
    }

    /// This table's index of the global the layout places at `index` (in the table the
    /// layout was read from, whose `gLowestFCall` is at `layout_fcall_range`).
    pub fn global_index(&self, index: usize, layout_fcall_range: Option<usize>) -> usize {
        match (layout_fcall_range, self.fcall_range) {
            (Some(l), Some(d)) if index >= l => (index - l).saturating_add(d),
            _ => index,
        }
    }
}

/// `[start, end)` of each executable `PT_LOAD` of a loaded ELF object.
fn executable_ranges(space: &AddressSpace, module: &MappedFile) -> Result<Vec<(u64, u64)>> {
    let base = module.base;
    let phoff = space.read_u64(base.wrapping_add(32)).context("ELF header")?;
    let phnum = space.read_u16(base.wrapping_add(56))? as u64;
    let mut out = Vec::new();
    for i in 0..phnum.min(128) {
        let ph = base.wrapping_add(phoff).wrapping_add(i * 56);
        if space.read_u32(ph)? == PT_LOAD && space.read_u32(ph.wrapping_add(4))? & PF_X != 0 {
            let vaddr = space.read_u64(ph.wrapping_add(16))?;
            let memsz = space.read_u64(ph.wrapping_add(40))?;
            let start = base.wrapping_add(vaddr);
            out.push((start, start.saturating_add(memsz)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals_past_the_fcall_range_follow_it() {
        // 8.0.0's table has gLowestFCall at 76 where 8.0.33's (the layout's) has it at 77.
        let shape = DacTableShape { entries: 155, vptr_start: Some(95), fcall_range: Some(76) };
        assert_eq!(shape.global_index(16, Some(77)), 16); // before the insertion: unchanged
        assert_eq!(shape.global_index(79, Some(77)), 78); // gFCallMethods
        assert_eq!(shape.global_index(81, Some(77)), 80); // s_pSyncBlockCache
        // Not found in the dump, or no anchor in the layout (10): the layout's index.
        let unknown = DacTableShape { entries: 157, vptr_start: None, fcall_range: None };
        assert_eq!(unknown.global_index(81, Some(77)), 81);
        assert_eq!(shape.global_index(79, None), 79);
        // A damaged dump cannot make the index overflow.
        let far = DacTableShape { entries: 1, vptr_start: None, fcall_range: Some(usize::MAX) };
        assert_eq!(far.global_index(usize::MAX, Some(0)), usize::MAX);
    }
}

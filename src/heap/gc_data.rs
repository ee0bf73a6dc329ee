//! The GC's own statistics (`GC_CONFIG_DRIVEN`), what `dumpgcdata` prints: how many GCs
//! used each global mechanism (workstation regions GC), and per heap the interesting data
//! points, why GCs compacted, how the ephemeral segment expanded and which mechanisms
//! were enabled.
//!
//! The GC publishes the arrays in `GcDacVars` (workstation) or their offsets in its
//! `gc_heap` (server; [`crate::runtime::gc_vars::GcStatistics`]). Their lengths are the
//! DAC's (`DAC_NUM_GC_DATA_POINTS` 9, `DAC_MAX_COMPACT_REASONS_COUNT` 11,
//! `DAC_MAX_EXPAND_MECHANISMS_COUNT` 6, `DAC_MAX_GC_MECHANISM_BITS_COUNT` 2,
//! `DAC_MAX_GLOBAL_GC_MECHANISMS_COUNT` 6): the GC's own arrays are at least as long
//! (the compact reasons array of 8, 9 and 10 has 12 entries, the last not shown).
//! The segments GC (`libclrgc.so`) publishes none of them.
use super::Heap;

pub const DATA_POINTS: usize = 9;
pub const COMPACT_REASONS: usize = 11;
pub const EXPAND_MECHANISMS: usize = 6;
pub const MECHANISM_BITS: usize = 2;
pub const GLOBAL_MECHANISMS: usize = 6;

/// One heap's statistics, each a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStatistics {
    pub data_points: [u64; DATA_POINTS],
    pub compact_reasons: [u64; COMPACT_REASONS],
    pub expand_mechanisms: [u64; EXPAND_MECHANISMS],
    pub mechanism_bits: [u64; MECHANISM_BITS],
}

impl Heap {
    /// How many GCs used each global mechanism, when the GC records it.
    pub fn gc_global_mechanisms(&self) -> Option<[u64; GLOBAL_MECHANISMS]> {
        let at = self.runtime.gc.global_mechanisms;
        (at != 0).then(|| self.read_counts(at)).flatten()
    }

    /// Heap `index`'s statistics, when the GC records them and the dump holds them.
    pub fn gc_statistics(&self, index: usize) -> Option<HeapStatistics> {
        let at = self.runtime.gc.statistics_address(index)?;
        Some(HeapStatistics {
            data_points: self.read_counts(at.data_points)?,
            compact_reasons: self.read_counts(at.compact_reasons)?,
            expand_mechanisms: self.read_counts(at.expand_mechanisms)?,
            mechanism_bits: self.read_counts(at.mechanism_bits)?,
        })
    }

    fn read_counts<const N: usize>(&self, at: u64) -> Option<[u64; N]> {
        let space = self.space();
        let mut out = [0u64; N];
        for (i, v) in out.iter_mut().enumerate() {
            *v = space.read_u64(at.checked_add(8 * i as u64)?).ok()?;
        }
        Some(out)
    }
}

//! The GC's record of the last allocation it refused (`oom_history`, one per heap), what
//! `analyzeoom` prints.
//!
//! `oom_history` (the GC's `gc.h`/`gcinterface.dac.h`, the same on 8, 9 and 10 and in
//! `libclrgc.so`): `oom_reason reason` (i32) @0, `size_t alloc_size` @8, `reserved` @16,
//! `allocated` @24, `size_t gc_index` @32, `failure_get_memory fgm` (i32) @40,
//! `size_t size` @48, `size_t available_pagefile_mb` @56, `BOOL loh_p` (i32) @64. The
//! workstation GC publishes the variable's address in GcDacVars, the server GC the field's
//! offset in its `gc_heap`.
use super::Heap;

const REASON: u64 = 0;
const ALLOC_SIZE: u64 = 8;
const GC_INDEX: u64 = 32;
const FGM: u64 = 40;
const SIZE: u64 = 48;
const AVAILABLE_PAGEFILE_MB: u64 = 56;
const LOH_P: u64 = 64;

/// Why the GC refused an allocation (`oom_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomReason {
    Budget,
    CantCommit,
    CantReserve,
    Loh,
    LowMemory,
    UnproductiveFullGc,
    /// A value the GC does not define.
    Other(i32),
}

/// What the GC failed to get from the system (`failure_get_memory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryFailure {
    ReserveSegment,
    CommitSegmentBegin,
    CommitEphemeralSegment,
    GrowTable,
    CommitTable,
    Other(i32),
}

/// One heap's last refused allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OomInfo {
    /// `None` when the GC recorded only a memory failure.
    pub reason: Option<OomReason>,
    pub memory_failure: Option<MemoryFailure>,
    pub alloc_size: u64,
    pub gc_index: u64,
    /// The size the GC failed to reserve or commit.
    pub size: u64,
    pub available_pagefile_mb: u64,
    pub large_object_heap: bool,
}

impl Heap {
    /// Heap `index`'s record of its last refused allocation; `None` when it has none (or
    /// the record cannot be read).
    pub fn oom_info(&self, index: usize) -> Option<OomInfo> {
        let at = self.runtime.gc.oom_info_address(index)?;
        let space = self.space();
        let reason = space.read_i32(at.checked_add(REASON)?).ok()?;
        let fgm = space.read_i32(at.checked_add(FGM)?).ok()?;
        if reason == 0 && fgm == 0 {
            return None;
        }
        let word = |off: u64| at.checked_add(off).and_then(|a| space.read_u64(a).ok()).unwrap_or(0);
        Some(OomInfo {
            reason: match reason {
                0 => None,
                1 => Some(OomReason::Budget),
                2 => Some(OomReason::CantCommit),
                3 => Some(OomReason::CantReserve),
                4 => Some(OomReason::Loh),
                5 => Some(OomReason::LowMemory),
                6 => Some(OomReason::UnproductiveFullGc),
                other => Some(OomReason::Other(other)),
            },
            memory_failure: match fgm {
                0 => None,
                1 => Some(MemoryFailure::ReserveSegment),
                2 => Some(MemoryFailure::CommitSegmentBegin),
                3 => Some(MemoryFailure::CommitEphemeralSegment),
                4 => Some(MemoryFailure::GrowTable),
                5 => Some(MemoryFailure::CommitTable),
                other => Some(MemoryFailure::Other(other)),
            },
            alloc_size: word(ALLOC_SIZE),
            gc_index: word(GC_INDEX),
            size: word(SIZE),
            available_pagefile_mb: word(AVAILABLE_PAGEFILE_MB),
            large_object_heap: at
                .checked_add(LOH_P)
                .and_then(|a| space.read_i32(a).ok())
                .is_some_and(|v| v != 0),
        })
    }
}

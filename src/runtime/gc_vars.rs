//! `GcDacVars`: the GC's own description of where its globals are.
//!
//! Header: `u8 major` @0, `u8 minor` @1, `u64 generation_size` @8,
//! `u64 total_generation_count` @16, then one 8-byte slot per variable in the order of
//! `gcinterface.dacvars.def` — the same order on 8, 9 and 10 (GcDacVars 2.0, 2.1, 2.4),
//! for the regions GC in `libcoreclr.so` and the segments GC in `libclrgc.so` alike.
//! Most slots hold the *address* of a GC variable; workstation-only slots are null in a
//! server GC and the reverse. Per-heap fields of a server `gc_heap` and the fields of a
//! `generation` are found through offset arrays the GC publishes here, so no per-version
//! table is needed for them. Facts and their confirmation: `docs/research/gc-layouts.md`.
use crate::dump::AddressSpace;
use anyhow::{bail, Context, Result};

/// `gc_global_mechanisms` (size_t[6]; workstation regions GC only).
const GC_GLOBAL_MECHANISMS: u64 = 40;
const GENERATION_TABLE: u64 = 48;
const EPHEMERAL_HEAP_SEGMENT: u64 = 80;
const ALLOC_ALLOCATED: u64 = 120;
/// Workstation GC: the address of `gc_heap::oom_info` (an `oom_history`).
const OOM_INFO: u64 = 136;
const FINALIZE_QUEUE: u64 = 144;
const N_HEAPS: u64 = 176;
const G_HEAPS: u64 = 184;
/// The workstation GC's `GC_CONFIG_DRIVEN` statistics (`dumpgcdata`): arrays of size_t.
const INTERESTING_DATA_PER_HEAP: u64 = 200;
const COMPACT_REASONS_PER_HEAP: u64 = 208;
const EXPAND_MECHANISMS_PER_HEAP: u64 = 216;
const INTERESTING_MECHANISM_BITS_PER_HEAP: u64 = 224;
const HANDLE_TABLE_MAP: u64 = 232;
const GC_HEAP_FIELD_OFFSETS: u64 = 240;
const GENERATION_FIELD_OFFSETS: u64 = 248;
/// Only in GcDacVars 2.4 and later.
const DYNAMIC_ADAPTATION_MODE: u64 = 320;

/// Number of entries of `gc_heap_field_offsets` (`dac_gcheap_fields.h`).
const GC_HEAP_FIELD_COUNT: usize = 22;
/// Indices into `gc_heap_field_offsets`.
const HF_ALLOC_ALLOCATED: usize = 0;
const HF_EPHEMERAL_HEAP_SEGMENT: usize = 1;
const HF_FINALIZE_QUEUE: usize = 2;
const HF_OOM_INFO: usize = 3;
const HF_INTERESTING_DATA: usize = 4;
const HF_COMPACT_REASONS: usize = 5;
const HF_EXPAND_MECHANISMS: usize = 6;
const HF_MECHANISM_BITS: usize = 7;
const HF_GENERATION_TABLE: usize = 18;
const _: () = assert!(HF_GENERATION_TABLE < GC_HEAP_FIELD_COUNT);

/// The largest heap count believed: server GC uses one heap per core.
pub const MAX_HEAPS: u32 = 1024;

/// Offsets inside a `generation`.
#[derive(Debug, Clone, Copy)]
pub struct GenerationFields {
    pub alloc_context: u64,
    pub start_segment: u64,
    /// Segments GC only: where the generation starts inside the ephemeral segment.
    pub allocation_start: Option<u64>,
}

/// Offsets inside a server GC's `gc_heap`.
#[derive(Debug, Clone, Copy)]
pub struct HeapFields {
    pub alloc_allocated: u64,
    pub ephemeral_heap_segment: u64,
    pub finalize_queue: u64,
    pub generation_table: u64,
    /// Where the heap's `oom_history` is (absent when the GC publishes -1).
    pub oom_info: Option<u64>,
    /// Where the heap's `GC_CONFIG_DRIVEN` statistics are.
    pub statistics: Option<GcStatistics>,
}

/// Where one heap's `GC_CONFIG_DRIVEN` statistics are (`dumpgcdata`): the arrays
/// `interesting_data_per_heap`, `compact_reasons_per_heap`, `expand_mechanisms_per_heap`
/// and `interesting_mechanism_bits_per_heap`, of size_t. Addresses for the workstation
/// GC, offsets into its `gc_heap` for the server GC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcStatistics {
    pub data_points: u64,
    pub compact_reasons: u64,
    pub expand_mechanisms: u64,
    pub mechanism_bits: u64,
}

/// GcDacVars as read from the dump.
#[derive(Debug, Clone)]
pub struct GcDacVars {
    pub address: u64,
    pub major: u8,
    pub minor: u8,
    pub generation_size: u64,
    pub generation_count: u64,
    pub generation_fields: GenerationFields,
    pub layout: GcLayout,
    /// Address of the `HandleTableMap` structure.
    pub handle_table_map: u64,
    /// `dynamic_adaptation_mode` when published (10+, server regions GC): 1 = DATAS.
    pub dynamic_adaptation_mode: Option<i32>,
    /// The address of `gc_global_mechanisms` (0: not published; only the workstation
    /// regions GC does).
    pub global_mechanisms: u64,
}

/// Workstation GC globals, or the server GC's heap array.
#[derive(Debug, Clone)]
pub enum GcLayout {
    Workstation {
        generation_table: u64,
        ephemeral_heap_segment: u64,
        alloc_allocated: u64,
        finalize_queue: u64,
        /// Address of the `oom_history` (0: not published).
        oom_info: u64,
        /// The statistics arrays, when all four are published.
        statistics: Option<GcStatistics>,
    },
    Server {
        n_heaps: u32,
        heaps: Vec<u64>,
        fields: HeapFields,
    },
}

impl GcDacVars {
    pub fn read(space: &AddressSpace, address: u64) -> Result<GcDacVars> {
        let major = space.read_u8(address).context("cannot read GcDacVars")?;
        let minor = space.read_u8(address + 1)?;
        let generation_size = space.read_u64(address + 8)?;
        let generation_count = space.read_u64(address + 16)?;
        if major != 2 {
            bail!("GcDacVars version {major}.{minor} is not one clrheap knows (2.x)");
        }
        if generation_count != 5 || !(64..=4096).contains(&generation_size) {
            bail!(
                "GcDacVars at {address:#x} looks wrong: {generation_count} generations of {generation_size} bytes"
            );
        }
        let slot = |off: u64| space.read_ptr(address + off);
        let gen_offsets = slot(GENERATION_FIELD_OFFSETS)?;
        let gen_field = |i: u64| -> Result<Option<u64>> {
            let v = space.read_i32(gen_offsets + 4 * i)?;
            Ok((v >= 0).then_some(v as u64))
        };
        let generation_fields = GenerationFields {
            alloc_context: gen_field(0)?.context("generation has no allocation context")?,
            start_segment: gen_field(1)?.context("generation has no start segment")?,
            allocation_start: gen_field(2)?,
        };
        let field_offsets = slot(GC_HEAP_FIELD_OFFSETS)?;
        let layout = if field_offsets != 0 {
            let field = |i: usize| -> Result<u64> {
                let v = space.read_i32(field_offsets + 4 * i as u64)?;
                u64::try_from(v).with_context(|| format!("gc_heap field {i} is absent"))
            };
            let fields = HeapFields {
                alloc_allocated: field(HF_ALLOC_ALLOCATED)?,
                ephemeral_heap_segment: field(HF_EPHEMERAL_HEAP_SEGMENT)?,
                finalize_queue: field(HF_FINALIZE_QUEUE)?,
                generation_table: field(HF_GENERATION_TABLE)?,
                oom_info: field(HF_OOM_INFO).ok(),
                statistics: (|| {
                    Some(GcStatistics {
                        data_points: field(HF_INTERESTING_DATA).ok()?,
                        compact_reasons: field(HF_COMPACT_REASONS).ok()?,
                        expand_mechanisms: field(HF_EXPAND_MECHANISMS).ok()?,
                        mechanism_bits: field(HF_MECHANISM_BITS).ok()?,
                    })
                })(),
            };
            let n_heaps = space.read_i32(slot(N_HEAPS)?)?;
            if n_heaps <= 0 || n_heaps as u32 > MAX_HEAPS {
                bail!("the server GC reports {n_heaps} heaps");
            }
            let array = space.read_ptr(slot(G_HEAPS)?)?;
            let heaps = (0..n_heaps as u64)
                .map(|i| space.read_ptr(array + 8 * i))
                .collect::<crate::dump::Result<Vec<_>>>()
                .context("cannot read the server GC's heap array")?;
            GcLayout::Server {
                n_heaps: n_heaps as u32,
                heaps,
                fields,
            }
        } else {
            GcLayout::Workstation {
                generation_table: slot(GENERATION_TABLE)?,
                ephemeral_heap_segment: slot(EPHEMERAL_HEAP_SEGMENT)?,
                alloc_allocated: slot(ALLOC_ALLOCATED)?,
                finalize_queue: slot(FINALIZE_QUEUE)?,
                oom_info: slot(OOM_INFO)?,
                statistics: (|| {
                    let s = GcStatistics {
                        data_points: slot(INTERESTING_DATA_PER_HEAP).ok()?,
                        compact_reasons: slot(COMPACT_REASONS_PER_HEAP).ok()?,
                        expand_mechanisms: slot(EXPAND_MECHANISMS_PER_HEAP).ok()?,
                        mechanism_bits: slot(INTERESTING_MECHANISM_BITS_PER_HEAP).ok()?,
                    };
                    (s.data_points != 0 && s.compact_reasons != 0 && s.expand_mechanisms != 0 && s.mechanism_bits != 0)
                        .then_some(s)
                })(),
            }
        };
        let dynamic_adaptation_mode = if minor >= 4 {
            match slot(DYNAMIC_ADAPTATION_MODE)? {
                0 => None,
                var => Some(space.read_i32(var)?),
            }
        } else {
            None
        };
        Ok(GcDacVars {
            address,
            major,
            minor,
            generation_size,
            generation_count,
            generation_fields,
            layout,
            handle_table_map: slot(HANDLE_TABLE_MAP)?,
            dynamic_adaptation_mode,
            global_mechanisms: slot(GC_GLOBAL_MECHANISMS).unwrap_or(0),
        })
    }

    /// Where heap `index`'s `GC_CONFIG_DRIVEN` statistics arrays are (absolute
    /// addresses), when the GC publishes them.
    pub fn statistics_address(&self, index: usize) -> Option<GcStatistics> {
        match &self.layout {
            GcLayout::Workstation { statistics, .. } => (index == 0).then_some(*statistics).flatten(),
            GcLayout::Server { heaps, fields, .. } => {
                let heap = *heaps.get(index)?;
                let s = fields.statistics?;
                Some(GcStatistics {
                    data_points: heap.checked_add(s.data_points)?,
                    compact_reasons: heap.checked_add(s.compact_reasons)?,
                    expand_mechanisms: heap.checked_add(s.expand_mechanisms)?,
                    mechanism_bits: heap.checked_add(s.mechanism_bits)?,
                })
            }
        }
    }

    pub fn is_server(&self) -> bool {
        matches!(self.layout, GcLayout::Server { .. })
    }

    /// Where heap `index`'s `oom_history` is: the workstation GC's variable, or the
    /// field of the server GC's `gc_heap`.
    pub fn oom_info_address(&self, index: usize) -> Option<u64> {
        match &self.layout {
            GcLayout::Workstation { oom_info, .. } => (*oom_info != 0).then_some(*oom_info),
            GcLayout::Server { heaps, fields, .. } => {
                let heap = *heaps.get(index)?;
                heap.checked_add(fields.oom_info?)
            }
        }
    }

    /// Whether this GC uses regions (the default) rather than segments (`libclrgc.so`).
    pub fn is_regions(&self) -> bool {
        self.generation_fields.allocation_start.is_none()
    }
}

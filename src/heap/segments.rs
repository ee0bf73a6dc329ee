//! GC heaps, their generations and their segments (or regions).
//!
//! Each heap (one for workstation GC, `n_heaps` for server GC) has five generations:
//! gen0, gen1, gen2, LOH (3) and POH (4). Each generation's `start_segment` heads a list of
//! `heap_segment`s linked by `next`. With regions every small-object region belongs to one
//! generation's list; frozen (NonGC) segments head gen2's list of heap 0. With segments
//! (`libclrgc.so`) gen0 and gen1 live at the end of the single ephemeral segment, split by
//! each generation's `allocation_start`. Segments are returned in the order ClrMD and SOS
//! walk them: by start address, across heaps.
use crate::runtime::Runtime;
use crate::runtime::gc_vars::{GcLayout, MAX_HEAPS};
use crate::error::{Error, Result, ResultExt};
use std::collections::HashSet;

// `heap_segment` fields (same on 8, 9, 10, regions and segments; gc-layouts.md §5).
const SEG_ALLOCATED: u64 = 0;
const SEG_COMMITTED: u64 = 8;
const SEG_RESERVED: u64 = 16;
const SEG_MEM: u64 = 32;
const SEG_FLAGS: u64 = 40;
const SEG_NEXT: u64 = 48;
const SEG_FLAG_READONLY: u64 = 1;

/// Cap on segments in one list (a 1 TB heap of 4 MB regions has 262,144).
const MAX_SEGMENTS_PER_LIST: usize = 1 << 22;

pub const GENERATION_COUNT: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    Gen0,
    Gen1,
    Gen2,
    /// The segments GC's ephemeral segment: gen2, gen1 and gen0 objects.
    Ephemeral,
    Large,
    Pinned,
    Frozen,
}

/// Where an object lives, as `dumpheap -gen` and `dumpgen` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectGeneration {
    Gen0,
    Gen1,
    Gen2,
    Large,
    Pinned,
    Frozen,
}

/// A generation's state in one heap.
#[derive(Debug, Clone, Copy, Default)]
pub struct Generation {
    pub start_segment: u64,
    /// Segments GC: where the generation begins; 0 with regions.
    pub allocation_start: u64,
    pub alloc_ptr: u64,
    pub alloc_limit: u64,
}

/// One GC heap.
#[derive(Debug, Clone)]
pub struct GcHeap {
    pub index: usize,
    /// The `gc_heap*` (server GC), 0 for workstation GC.
    pub address: u64,
    pub alloc_allocated: u64,
    pub ephemeral_segment: u64,
    /// `CFinalize*`.
    pub finalize_queue: u64,
    pub generations: [Generation; GENERATION_COUNT],
}

/// A segment or region and the objects it holds.
#[derive(Debug, Clone)]
pub struct Segment {
    pub heap: usize,
    /// Address of the `heap_segment` record.
    pub address: u64,
    pub kind: SegmentKind,
    /// First object (`mem`).
    pub start: u64,
    /// End of the objects: `alloc_allocated` for the ephemeral segment, else `allocated`.
    pub end: u64,
    pub committed: u64,
    pub reserved: u64,
    pub flags: u64,
}

impl Segment {
    /// The generation of an object at `addr` in this segment, given its heap.
    pub fn generation_of(&self, addr: u64, heap: &GcHeap) -> ObjectGeneration {
        match self.kind {
            SegmentKind::Gen0 => ObjectGeneration::Gen0,
            SegmentKind::Gen1 => ObjectGeneration::Gen1,
            SegmentKind::Gen2 => ObjectGeneration::Gen2,
            SegmentKind::Frozen => ObjectGeneration::Frozen,
            SegmentKind::Large => ObjectGeneration::Large,
            SegmentKind::Pinned => ObjectGeneration::Pinned,
            SegmentKind::Ephemeral => {
                if addr >= heap.generations[0].allocation_start {
                    ObjectGeneration::Gen0
                } else if addr >= heap.generations[1].allocation_start {
                    ObjectGeneration::Gen1
                } else {
                    ObjectGeneration::Gen2
                }
            }
        }
    }

    /// Whether the committed memory of this segment contains `addr`.
    pub fn committed_contains(&self, addr: u64) -> bool {
        addr >= self.committed_start() && addr < self.committed
    }

    /// The start of the committed memory as SOS reports it.
    pub fn committed_start(&self) -> u64 {
        if self.kind == SegmentKind::Frozen {
            self.start.saturating_sub(8)
        } else if self.start & 0x1fff == 0x1000 {
            self.start - 0x1000
        } else {
            self.start & !0xfff
        }
    }
}

/// Reads every heap of the runtime's GC.
pub fn read_heaps(rt: &Runtime) -> Result<Vec<GcHeap>> {
    let space = &*rt.space;
    let gen_fields = rt.gc.generation_fields;
    let read_generations = |table: u64| -> Result<[Generation; GENERATION_COUNT]> {
        let mut gens = [Generation::default(); GENERATION_COUNT];
        for (g, out) in gens.iter_mut().enumerate() {
            let base = table.wrapping_add((g as u64).wrapping_mul(rt.gc.generation_size));
            out.start_segment = space.read_ptr(base.wrapping_add(gen_fields.start_segment))?;
            let context = base.wrapping_add(gen_fields.alloc_context);
            out.alloc_ptr = space.read_ptr(context.wrapping_add(rt.layout.alloc_context.pointer))?;
            out.alloc_limit = space.read_ptr(context.wrapping_add(rt.layout.alloc_context.limit))?;
            if let Some(off) = gen_fields.allocation_start {
                out.allocation_start = space.read_ptr(base.wrapping_add(off))?;
            }
        }
        Ok(gens)
    };
    match &rt.gc.layout {
        GcLayout::Workstation {
            generation_table,
            ephemeral_heap_segment,
            alloc_allocated,
            finalize_queue,
            ..
        } => Ok(vec![GcHeap {
            index: 0,
            address: 0,
            alloc_allocated: space.read_ptr(*alloc_allocated)?,
            ephemeral_segment: space.read_ptr(*ephemeral_heap_segment)?,
            finalize_queue: space.read_ptr(*finalize_queue)?,
            generations: read_generations(*generation_table)
                .context("cannot read the GC's generation table")?,
        }]),
        GcLayout::Server { heaps, fields, .. } => {
            if heaps.len() > MAX_HEAPS as usize {
                return Err(Error::damaged("the server GC's heap list", format!("{} heaps is more than any server GC has", heaps.len())));
            }
            heaps
                .iter()
                .enumerate()
                .map(|(index, &h)| {
                    Ok(GcHeap {
                        index,
                        address: h,
                        alloc_allocated: space.read_ptr(h.wrapping_add(fields.alloc_allocated))?,
                        ephemeral_segment: space.read_ptr(h.wrapping_add(fields.ephemeral_heap_segment))?,
                        finalize_queue: space.read_ptr(h.wrapping_add(fields.finalize_queue))?,
                        generations: read_generations(h + fields.generation_table)?,
                    })
                })
                .collect::<Result<Vec<_>>>()
                .context("cannot read a server GC heap")
        }
    }
}

/// Every segment of every heap, sorted by start address across heaps: the order in which
/// SOS's `dumpheap` and `dumpgen` walk them. (ClrMD's own enumeration, as in the oracle's
/// `objects.tsv`, orders by heap and then by `heap_segment` address.)
pub fn read_segments(rt: &Runtime, heaps: &[GcHeap]) -> Result<Vec<Segment>> {
    let space = &*rt.space;
    let regions = rt.gc.is_regions();
    let mut all = Vec::new();
    for heap in heaps {
        // A segment already read ends a list: under the segments GC gen0's and gen1's lists
        // are the tail of gen2's; a segment met twice in one list is a loop, a warning.
        let mut seen = HashSet::new();
        let mut segs = Vec::new();
        for (g, generation) in heap.generations.iter().enumerate() {
            let mut addr = generation.start_segment;
            let mut count = 0usize;
            let mut in_list = HashSet::new();
            while addr != 0 {
                if !in_list.insert(addr) {
                    space.warnings().warn(format!(
                        "the segment list of generation {g} of heap {} loops back to the segment at {addr:#x}; \
                         the list is read up to there",
                        heap.index
                    ));
                    break;
                }
                if !seen.insert(addr) {
                    break;
                }
                count += 1;
                if count > MAX_SEGMENTS_PER_LIST {
                    return Err(Error::damaged(
                        format!("generation {g} of heap {}", heap.index),
                        "too many segments (a loop?)",
                    ));
                }
                let field = |off: u64| {
                    space.read_ptr(addr.wrapping_add(off)).with_context(|| {
                        format!(
                            "cannot read the heap segment at {addr:#x} (heap {}, generation {g})",
                            heap.index
                        )
                    })
                };
                let flags = field(SEG_FLAGS)?;
                let kind = if flags & SEG_FLAG_READONLY != 0 {
                    SegmentKind::Frozen
                } else if g == 3 {
                    SegmentKind::Large
                } else if g == 4 {
                    SegmentKind::Pinned
                } else if !regions {
                    if addr == heap.ephemeral_segment {
                        SegmentKind::Ephemeral
                    } else {
                        SegmentKind::Gen2
                    }
                } else {
                    [SegmentKind::Gen0, SegmentKind::Gen1, SegmentKind::Gen2][g]
                };
                let start = field(SEG_MEM)?;
                let allocated = field(SEG_ALLOCATED)?;
                let end = if addr == heap.ephemeral_segment {
                    heap.alloc_allocated
                } else {
                    allocated
                };
                if end < start {
                    return Err(Error::damaged(
                        format!("the heap segment at {addr:#x}"),
                        format!("it ends ({end:#x}) before it starts ({start:#x})"),
                    ));
                }
                segs.push(Segment {
                    heap: heap.index,
                    address: addr,
                    kind,
                    start,
                    end,
                    committed: field(SEG_COMMITTED)?,
                    reserved: field(SEG_RESERVED)?,
                    flags,
                });
                addr = field(SEG_NEXT)?;
            }
        }
        all.extend(segs);
    }
    all.sort_by_key(|s| (s.start, s.heap, s.address));
    Ok(all)
}

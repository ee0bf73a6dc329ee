//! The heap layer: GC heaps and segments, the object walk, MethodTables and type names.
//!
//! [`Heap::open`] reads the GC's heaps, segments and allocation contexts once; the walk
//! ([`Heap::walk_segment`], [`Heap::objects`]) then yields every object in the order SOS
//! prints them. Nothing here formats output: that is the commands' job.
pub mod refs;
pub mod roots;
pub mod segments;
pub mod types;
mod walk;

pub use refs::GcDesc;
pub use roots::{Handle, HandleKind, Root, RootKind};
pub use segments::{GcHeap, Generation, ObjectGeneration, Segment, SegmentKind};
pub use types::{MethodTableInfo, MtSize};
pub use walk::{HeapObject, WalkWarning};

use crate::dump::AddressSpace;
use crate::runtime::threads::{read_alloc_context, read_threads, ManagedThread};
use crate::runtime::Runtime;
use anyhow::Result;
use std::collections::HashMap;

/// A runtime's GC heap, ready to walk.
pub struct Heap {
    pub runtime: Runtime,
    pub heaps: Vec<GcHeap>,
    pub segments: Vec<Segment>,
    pub threads: Vec<ManagedThread>,
    /// Unparsed allocation windows: `alloc_ptr -> alloc_limit`.
    pub alloc_contexts: HashMap<u64, u64>,
    types: types::TypeCache,
}

impl Heap {
    pub fn open(runtime: Runtime) -> Result<Heap> {
        let heaps = segments::read_heaps(&runtime)?;
        let segments = segments::read_segments(&runtime, &heaps)?;
        let threads = read_threads(&runtime)?;
        let mut alloc_contexts = HashMap::new();
        for t in &threads {
            if let Some((ptr, limit)) = t.alloc_context {
                alloc_contexts.insert(ptr, limit);
            }
        }
        if let Some((ptr, limit)) = read_alloc_context(&runtime, runtime.globals.global_alloc_context) {
            alloc_contexts.insert(ptr, limit);
        }
        for h in &heaps {
            let g0 = &h.generations[0];
            if g0.alloc_ptr != 0 && g0.alloc_ptr < g0.alloc_limit {
                alloc_contexts.insert(g0.alloc_ptr, g0.alloc_limit);
            }
        }
        Ok(Heap {
            runtime,
            heaps,
            segments,
            threads,
            alloc_contexts,
            types: types::TypeCache::default(),
        })
    }

    pub fn space(&self) -> &AddressSpace {
        &self.runtime.space
    }

    /// The heap a segment belongs to.
    pub fn heap_of(&self, segment: &Segment) -> &GcHeap {
        &self.heaps[segment.heap]
    }

    /// The segment holding `addr`, if any.
    pub fn segment_of(&self, addr: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| addr >= s.start && addr < s.end)
    }
}

//! The heap layer: GC heaps and segments, the object walk, MethodTables and type names,
//! and the object model.
//!
//! [`Heap::open`] reads the GC's heaps, segments and allocation contexts once; the walk
//! ([`Heap::walk_segment`], [`Heap::objects`]) then yields every object in the order SOS
//! prints them. One object is asked through the object model ([`object`], [`array`],
//! [`value`]): [`Heap::object`] gives its type, size, header, fields, array shape,
//! string contents. Nothing here formats output: that is the commands' job.
pub mod array;
pub mod dac_names;
pub mod field_table;
pub mod fields;
pub mod gc_data;
pub mod gc_refs;
pub mod http;
pub mod object;
pub mod oom;
pub mod memory;
pub mod managed;
pub mod threadpool;
pub mod timers;
pub mod methods;
pub mod parallel_stacks;
pub mod refs;
pub mod roots;
pub mod segments;
pub mod stack_objects;
pub mod statics;
pub mod tasks;
pub mod types;
pub mod value;
pub mod verify;
mod walk;

pub use array::{Array, Element};
pub use fields::{Field, FieldList, FieldListEnd};
pub use object::{Delegate, ExceptionObject, FieldLocation, Object, ObjectAddr, ObjectHeader, ThinLock, ValueObject};
pub use refs::{GcDesc, RefWindow};
pub use roots::{FinalizeQueue, Handle, HandleKind, Root, RootKind};
pub use segments::{GcHeap, Generation, ObjectGeneration, Segment, SegmentKind};
pub use types::{MethodTableInfo, MtSize};
pub use value::{Value, ValueError};
pub use walk::{HeapObject, SizeCache, WalkWarning};

use crate::dump::AddressSpace;
use crate::runtime::Runtime;
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::threads::{ManagedThread, read_alloc_context, read_threads};

/// A runtime's GC heap, ready to walk.
pub struct Heap {
    pub runtime: Runtime,
    pub heaps: Vec<GcHeap>,
    pub segments: Vec<Segment>,
    pub threads: Vec<ManagedThread>,
    /// Unparsed allocation windows `(alloc_ptr, alloc_limit)`, sorted by `alloc_ptr`.
    pub alloc_contexts: Vec<(u64, u64)>,
    types: types::TypeCache,
    loader: fields::LoaderCache,
    managed: managed::ManagedCache,
}

impl Heap {
    /// Reads the GC's heaps and segments. Fails with [`Error::NoHeap`] when the dump left
    /// the heap out (a mini or triage dump), or an error naming what is damaged.
    pub fn open(runtime: Runtime) -> Result<Heap> {
        // Missing heap bookkeeping means the dump has no heap; anything else is damage.
        let absent = |e: Error| if e.kind() == ErrorKind::Unreadable { Error::NoHeap } else { e };
        let heaps = segments::read_heaps(&runtime).map_err(absent)?;
        let segments = segments::read_segments(&runtime, &heaps).map_err(absent)?;
        let captured = |s: &&Segment| runtime.space.read_u64(s.start).is_ok();
        if !segments.is_empty()
            && !segments
                .iter()
                .filter(|s| s.end > s.start)
                .any(|s| captured(&s))
        {
            return Err(Error::NoHeap);
        }
        let threads = read_threads(&runtime);
        let mut alloc_contexts = Vec::new();
        for t in &threads {
            if let Some((ptr, limit)) = t.alloc_context {
                alloc_contexts.push((ptr, limit));
            }
        }
        if let Some((ptr, limit)) =
            read_alloc_context(&runtime, runtime.globals.global_alloc_context)
        {
            alloc_contexts.push((ptr, limit));
        }
        for h in &heaps {
            let g0 = &h.generations[0];
            if g0.alloc_ptr != 0 && g0.alloc_ptr < g0.alloc_limit {
                alloc_contexts.push((g0.alloc_ptr, g0.alloc_limit));
            }
        }
        alloc_contexts.sort_unstable();
        alloc_contexts.dedup_by_key(|c| c.0);
        clamp_alloc_contexts(&runtime, &segments, &mut alloc_contexts);
        Ok(Heap {
            runtime,
            heaps,
            segments,
            threads,
            alloc_contexts,
            types: types::TypeCache::default(),
            loader: fields::LoaderCache::default(),
            managed: managed::ManagedCache::default(),
        })
    }

    pub fn space(&self) -> &AddressSpace {
        &self.runtime.space
    }

    /// The heap a segment belongs to.
    pub fn heap_of(&self, segment: &Segment) -> &GcHeap {
        &self.heaps[segment.heap]
    }

    /// The warnings of this dump (see [`crate::warnings`]).
    pub fn warnings(&self) -> &crate::warnings::Warnings {
        self.space().warnings()
    }

    /// How many elements of `component_size` bytes fit from `data` (an array's first
    /// element) to the end of the memory the array lies in: its segment's end, and no
    /// further than memory can be read there without a gap. An array's length field
    /// larger than this is damage (0xffffffff would be four billion elements to print).
    pub fn array_capacity(&self, data: u64, component_size: u64) -> u64 {
        if component_size == 0 {
            return 0;
        }
        let mut end = data.saturating_add(self.space().readable_run(data));
        if let Some(seg) = self.segment_of(data) {
            end = end.min(seg.end);
        }
        end.saturating_sub(data) / component_size
    }

    /// Whether `mt` is the GC's free-space MethodTable (a gap between objects).
    pub fn is_free_mt(&self, mt: u64) -> bool {
        mt == self.runtime.globals.free_mt
    }

    /// The generation of the object at `addr`, from the segment whose objects hold it.
    pub fn generation_at(&self, addr: u64) -> Option<ObjectGeneration> {
        let seg = self.segment_of(addr)?;
        Some(seg.generation_of(addr, self.heap_of(seg)))
    }

    /// The segment holding `addr`, if any.
    pub fn segment_of(&self, addr: u64) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|s| addr >= s.start && addr < s.end)
    }
}

/// An allocation context is an unparsed window the walk jumps over; one that ends past
/// its segment's end would hide the rest of the segment. Such a limit is damage: it is
/// cut to the segment's end, with a warning (the objects between the window's true end
/// and the segment's end cannot be told apart from the window and are not walked).
fn clamp_alloc_contexts(runtime: &Runtime, segments: &[Segment], contexts: &mut [(u64, u64)]) {
    for (ptr, limit) in contexts.iter_mut() {
        // Segments are sorted by start.
        let i = segments.partition_point(|s| s.start <= *ptr);
        let Some(seg) = i
            .checked_sub(1)
            .map(|i| &segments[i])
            .filter(|s| *ptr < s.end)
        else {
            continue;
        };
        if *limit > seg.end {
            runtime.space.warnings().warn(format!(
                "the allocation context {:x}..{:x} ends past its segment's end {:x} (segment {:x}): \
                 the objects from {:x} to the segment's end are not walked",
                *ptr, *limit, seg.end, seg.address, *ptr
            ));
            *limit = seg.end;
        }
    }
}

//! The runtime's native heaps, as `eeheap -loader` lists them: the loader heaps of each
//! domain's `LoaderAllocator` and the JIT manager's code heaps.
//!
//! On .NET 8, 9 and 10 every domain (the `SystemDomain` and the one `AppDomain`) shares
//! the global `LoaderAllocator` the `SystemDomain` holds inline. Its heaps are
//! `LoaderHeap`s, each a list of reserved blocks (`LoaderHeapBlock`: next, address,
//! reserved size), newest first; the first block is the one being allocated from (the
//! DAC calls it the current one). The heaps listed are the DAC's
//! (`GetLoaderAllocatorHeaps`, in its order): low-frequency, high-frequency, statics (9,
//! 10), stub, executable, fixup-precode, new-stub-precode, and the virtual-call stub
//! manager's indirection-cell and cache-entry heaps. The JIT manager (`EEJitManager`)
//! keeps a list of code heaps (`HeapList`): a `LoaderCodeHeap` holds an
//! `ExplicitControlLoaderHeap` (blocks again), a `HostCodeHeap` one range
//! `[m_pBaseAddr, m_pLastAvailableCommittedAddr)`; they are told apart by their vtables,
//! as the DAC does. Layouts: [`crate::runtime::layouts::NativeHeapsLayout`] and
//! [`crate::runtime::layouts::native_heap`].
//!
//! Every list is walked loop-proof and capped at [`MAX_BLOCKS`] entries (the DAC's own
//! limit): a heap whose block list is longer, or that cannot be read to its end, is left
//! out with a warning, as the DAC fails the whole heap.
use super::layouts::native_heap as nh;
use super::Runtime;
use std::collections::HashSet;

/// The most blocks a loader heap or code heaps a JIT manager is believed to have (the
/// DAC gives up on a heap past 8,192 blocks).
pub const MAX_BLOCKS: usize = 8192;
/// The page size dotnet-dump reads a block's memory in.
const PAGE: u64 = 0x1000;

/// What a native heap is, in the order of ClrMD's `NativeHeapKind` (dotnet-dump sorts
/// the JIT manager's heaps by it and prints its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NativeHeapKind {
    Unknown,
    IndirectionCellHeap,
    LookupHeap,
    ResolveHeap,
    DispatchHeap,
    CacheEntryHeap,
    VtableHeap,
    LoaderCodeHeap,
    HostCodeHeap,
    StubHeap,
    HighFrequencyHeap,
    LowFrequencyHeap,
    ExecutableHeap,
    FixupPrecodeHeap,
    NewStubPrecodeHeap,
}

impl NativeHeapKind {
    /// The kind's name as dotnet-dump prints it.
    pub fn name(self) -> &'static str {
        match self {
            NativeHeapKind::Unknown => "Unknown",
            NativeHeapKind::IndirectionCellHeap => "IndirectionCellHeap",
            NativeHeapKind::LookupHeap => "LookupHeap",
            NativeHeapKind::ResolveHeap => "ResolveHeap",
            NativeHeapKind::DispatchHeap => "DispatchHeap",
            NativeHeapKind::CacheEntryHeap => "CacheEntryHeap",
            NativeHeapKind::VtableHeap => "VtableHeap",
            NativeHeapKind::LoaderCodeHeap => "LoaderCodeHeap",
            NativeHeapKind::HostCodeHeap => "HostCodeHeap",
            NativeHeapKind::StubHeap => "StubHeap",
            NativeHeapKind::HighFrequencyHeap => "HighFrequencyHeap",
            NativeHeapKind::LowFrequencyHeap => "LowFrequencyHeap",
            NativeHeapKind::ExecutableHeap => "ExecutableHeap",
            NativeHeapKind::FixupPrecodeHeap => "FixupPrecodeHeap",
            NativeHeapKind::NewStubPrecodeHeap => "NewStubPrecodeHeap",
        }
    }
}

/// One reserved block of a native heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeHeapBlock {
    pub kind: NativeHeapKind,
    pub start: u64,
    /// Bytes reserved (0 when the runtime's size is not believable).
    pub size: u64,
    /// Bytes the dump holds from `start` on, in whole pages, up to the first page it
    /// does not hold (what dotnet-dump calls the actual size; it may pass `size` by up to
    /// a page when `size` is not a page multiple).
    pub captured: u64,
    /// The block being allocated from (the first of its heap, or a host code heap); its
    /// uncaptured part is not counted as wasted.
    pub current: bool,
}

/// A domain and the blocks of its loader allocator's heaps, in the DAC's heap order.
#[derive(Debug, Clone)]
pub struct DomainHeaps {
    pub address: u64,
    pub blocks: Vec<NativeHeapBlock>,
}

/// The JIT manager and its code heaps' blocks, in list order.
#[derive(Debug, Clone)]
pub struct JitManagerHeaps {
    pub address: u64,
    pub blocks: Vec<NativeHeapBlock>,
}

/// Every native heap `eeheap -loader` lists, and what had to be skipped.
#[derive(Debug, Clone, Default)]
pub struct NativeHeaps {
    /// The `SystemDomain`, when set.
    pub system_domain: Option<DomainHeaps>,
    /// The `AppDomain`s (one on .NET 8+).
    pub app_domains: Vec<DomainHeaps>,
    pub jit_managers: Vec<JitManagerHeaps>,
    pub warnings: Vec<String>,
}

impl Runtime {
    /// The loader heaps of the domains and the JIT manager's code heaps.
    pub fn native_heaps(&self) -> NativeHeaps {
        let mut out = NativeHeaps::default();
        let l = &self.layout.native_heaps;
        let global = |index: usize| self.dac_global(index).and_then(|var| Ok(self.space.read_ptr(var)?)).ok();
        let system_domain = global(self.layout.dac.system_domain).filter(|&a| a != 0);
        // Every domain's loader allocator is the global one, inline in the SystemDomain.
        let allocator = system_domain.and_then(|sd| sd.checked_add(l.global_allocator));
        let blocks = match allocator {
            Some(la) => self.allocator_blocks(la, &mut out.warnings),
            None => Vec::new(),
        };
        out.system_domain = system_domain.map(|address| DomainHeaps { address, blocks: blocks.clone() });
        if let Some(address) = global(self.layout.dac.app_domain).filter(|&a| a != 0) {
            out.app_domains.push(DomainHeaps { address, blocks });
        }
        if let Some(address) = global(l.jit_manager).filter(|&a| a != 0) {
            let blocks = self.code_heap_blocks(address, &mut out.warnings);
            out.jit_managers.push(JitManagerHeaps { address, blocks });
        }
        out
    }

    /// The blocks of the loader allocator at `la`, heap by heap in the DAC's order.
    fn allocator_blocks(&self, la: u64, warnings: &mut Vec<String>) -> Vec<NativeHeapBlock> {
        let l = &self.layout.native_heaps;
        let field = |base: u64, off: u64| base.checked_add(off).and_then(|a| self.space.read_ptr(a).ok()).unwrap_or(0);
        let mut heaps = vec![
            (NativeHeapKind::LowFrequencyHeap, field(la, l.low_frequency_heap)),
            (NativeHeapKind::HighFrequencyHeap, field(la, l.high_frequency_heap)),
        ];
        if let Some(statics) = l.statics_heap {
            heaps.push((NativeHeapKind::Unknown, field(la, statics)));
        }
        heaps.extend([
            (NativeHeapKind::StubHeap, field(la, l.stub_heap)),
            (NativeHeapKind::ExecutableHeap, field(la, l.executable_heap)),
            (NativeHeapKind::FixupPrecodeHeap, field(la, l.fixup_precode_heap)),
            (NativeHeapKind::NewStubPrecodeHeap, field(la, l.new_stub_precode_heap)),
        ]);
        let manager = field(la, l.stub_manager);
        if manager != 0 {
            heaps.push((NativeHeapKind::IndirectionCellHeap, field(manager, l.indcell_heap)));
            heaps.push((NativeHeapKind::CacheEntryHeap, field(manager, l.cache_entry_heap)));
        }
        let mut out = Vec::new();
        for (kind, heap) in heaps {
            if heap == 0 {
                continue;
            }
            match self.loader_heap_blocks(heap, nh::LOADER_HEAP_FIRST_BLOCK, kind) {
                Ok(blocks) => out.extend(blocks),
                Err(why) => warnings.push(format!("{} at {heap:#x} left out: {why}", kind.name())),
            }
        }
        out
    }

    /// The blocks of the loader heap at `heap`, whose first-block pointer is at
    /// `first_field`, newest first.
    fn loader_heap_blocks(&self, heap: u64, first_field: u64, kind: NativeHeapKind) -> Result<Vec<NativeHeapBlock>, String> {
        let read = |a: u64| self.space.read_ptr(a).map_err(|e| format!("{e}"));
        let first = read(heap.checked_add(first_field).ok_or("address overflow")?)?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut block = first;
        while block != 0 {
            if !seen.insert(block) {
                // A block list that comes back on itself: the DAC stops there too.
                break;
            }
            if out.len() >= MAX_BLOCKS {
                return Err(format!("more than {MAX_BLOCKS} blocks"));
            }
            let start = read(block.wrapping_add(nh::BLOCK_ADDRESS))?;
            let size = read(block.wrapping_add(nh::BLOCK_SIZE))?;
            // ClrMD takes a negative or too large size for no size.
            let size = if size > i32::MAX as u64 { 0 } else { size };
            out.push(self.block(kind, start, size, block == first));
            block = read(block.wrapping_add(nh::BLOCK_NEXT))?;
        }
        Ok(out)
    }

    fn block(&self, kind: NativeHeapKind, start: u64, size: u64, current: bool) -> NativeHeapBlock {
        NativeHeapBlock { kind, start, size, captured: self.captured_pages(start, size), current }
    }

    /// How many bytes of whole pages, from `start`, the dump holds before its first gap,
    /// counted a page at a time until `size` is reached (dotnet-dump's reading).
    fn captured_pages(&self, start: u64, size: u64) -> u64 {
        // Pages are counted while fewer than `size` bytes are and the next page is held.
        let pages = size.div_ceil(PAGE).min(self.space.readable_run(start) / PAGE);
        pages.saturating_mul(PAGE)
    }

    /// The JIT manager's code heaps, in its list's order.
    fn code_heap_blocks(&self, manager: u64, warnings: &mut Vec<String>) -> Vec<NativeHeapBlock> {
        let l = &self.layout.native_heaps;
        let vtable = |offset: usize| self.dac_vtable(offset);
        let (loader_vt, host_vt) = (vtable(l.loader_code_heap_vtable), vtable(l.host_code_heap_vtable));
        let read = |a: u64| self.space.read_ptr(a).ok();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut node = read(manager.wrapping_add(nh::JIT_MANAGER_CODE_HEAPS)).unwrap_or(0);
        while node != 0 && seen.insert(node) {
            if seen.len() > MAX_BLOCKS || out.len() > MAX_BLOCKS {
                warnings.push(format!("the JIT manager has more than {MAX_BLOCKS} code heaps or blocks: the rest left out"));
                break;
            }
            let Some(heap) = read(node.wrapping_add(nh::HEAP_LIST_HEAP)) else {
                warnings.push(format!("code heap list node {node:#x} cannot be read: the rest left out"));
                break;
            };
            let vt = read(heap).filter(|&v| v != 0);
            if vt.is_some() && vt == loader_vt {
                let loader_heap = heap.wrapping_add(nh::LOADER_CODE_HEAP_LOADER_HEAP);
                match self.loader_heap_blocks(loader_heap, nh::EXPLICIT_HEAP_FIRST_BLOCK, NativeHeapKind::LoaderCodeHeap) {
                    Ok(blocks) => out.extend(blocks),
                    Err(why) => warnings.push(format!("LoaderCodeHeap at {heap:#x} left out: {why}")),
                }
            } else if vt.is_some() && vt == host_vt {
                let base = read(heap.wrapping_add(nh::HOST_CODE_HEAP_BASE)).unwrap_or(0);
                let end = read(heap.wrapping_add(nh::HOST_CODE_HEAP_COMMITTED_END)).unwrap_or(0);
                let size = end.checked_sub(base).filter(|&s| s <= i32::MAX as u64).unwrap_or(0);
                out.push(self.block(NativeHeapKind::HostCodeHeap, base, size, true));
            } else {
                // The DAC reports a heap it does not know with no range.
                out.push(NativeHeapBlock { kind: NativeHeapKind::Unknown, start: 0, size: 0, captured: 0, current: false });
            }
            node = read(node.wrapping_add(nh::HEAP_LIST_NEXT)).unwrap_or(0);
        }
        out
    }
}

//! Per-version knowledge of CoreCLR's data structures: the one place that says where a
//! field lives in .NET 8, 9 and 10.
//!
//! Everything here was read off real dumps of 8.0.33, 9.0.22 and 10.0.12 (linux-x64) and
//! checked against ClrMD's truth files; `docs/research/vm-layouts.md` and
//! `docs/research/gc-layouts.md` record, fact by fact, the source read and the dump that
//! confirmed it. Where the 9 and 10 contract descriptors describe a field, a test checks
//! that the descriptor agrees with the value here, so a servicing release that moves a
//! field is caught (see `runtime::tests`). GC structures are not versioned here: the GC
//! describes itself through `GcDacVars` (see [`crate::runtime::gc_vars`]).

/// Indices into `g_dacTable` (entries are absolute addresses of the runtime's globals,
/// in the order of that version's `dacvars.h`).
#[derive(Debug, Clone, Copy)]
pub struct DacTableIndices {
    /// `ThreadStore::s_pThreadStore` (-> `ThreadStore*`).
    pub thread_store: usize,
    /// `g_pFinalizerThread` (-> `Thread*`).
    pub finalizer_thread: usize,
    /// `g_heap_type` (u32: 1 workstation, 2 server).
    pub heap_type: usize,
    /// `g_gcDacGlobals` (-> `GcDacVars*`).
    pub gc_dac_globals: usize,
    /// `g_global_alloc_context` (the context itself, not a pointer).
    pub global_alloc_context: usize,
    pub object_mt: usize,
    pub string_mt: usize,
    pub array_mt: usize,
    pub exception_mt: usize,
    pub free_mt: usize,
    /// `g_pSyncTable` (-> `SyncTableEntry[]`).
    pub sync_table: usize,
    /// `g_CoreLib` (the CoreLib binder; its first field is CoreLib's `Module*`).
    pub core_lib: usize,
}

/// Where a MethodTable keeps its TypeDef token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    /// The u16 `m_wToken` at +10 (.NET 8).
    U16At10,
    /// The upper 24 bits of the u32 `MTFlags2` at +8 (.NET 9 and 10).
    UpperBitsOfFlags2,
}

/// How an EEClass stores its field counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EEClassCounts {
    /// u32s at `EEClass + u8(EEClass + 50)` in the order instance fields, methods,
    /// static fields (.NET 8's "packed fields").
    Packed,
    /// u16 fields at fixed offsets (.NET 9 and 10).
    Fixed { num_instance_fields: u64, num_static_fields: u64 },
}

/// How a thread's allocation context is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocContextPlace {
    /// `alloc_ptr` and `alloc_limit` inline in `Thread` at this offset (.NET 8).
    Inline(u64),
    /// A pointer at `Thread + pointer` to a block holding the context at `offset`.
    Indirect { pointer: u64, offset: u64 },
}

/// Where a dynamic module's in-memory metadata is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamicMetadata {
    /// `Module + offset` -> SBuffer { u32 size @0, ..., u8* data @16 } (.NET 8).
    SBuffer(u64),
    /// `Module + offset` -> { u32 size, u8 data[size] } (.NET 9 and 10).
    SizePrefixed(u64),
}

/// Where a MethodTable's loader module (the module whose LoaderAllocator owns the type) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderModulePlace {
    /// `MethodTable.Module` (+24) is the loader module (.NET 8).
    MethodTableModule,
    /// `MethodTable + aux` -> `MethodTableAuxiliaryData`, loader module at `+ offset` (.NET 9, 10).
    AuxiliaryData { aux: u64, offset: u64 },
}

/// Where the managed `LoaderAllocator` object of a collectible type is: the type's loader
/// module -> its `LoaderAllocator*` -> the long weak handle to the managed object.
/// Read off zoo-net{8,9,10}-wks-heap (the collectible `Plugin` types; the handle is the
/// `WeakLong` handle to `System.Reflection.LoaderAllocator` in handles.tsv).
#[derive(Debug, Clone, Copy)]
pub struct CollectibleLayout {
    pub loader_module: LoaderModulePlace,
    /// `Module.m_loaderAllocator` (10: descriptor `Module.LoaderAllocator`).
    pub module_loader_allocator: u64,
    /// `LoaderAllocator.m_hLoaderAllocatorObjectHandle`.
    pub object_handle: u64,
}

/// The handle table's per-version facts (gc-layouts.md §9).
#[derive(Debug, Clone, Copy)]
pub struct HandleTableLayout {
    /// `HandleTable.pSegmentList`.
    pub segment_list: u64,
    /// `TableSegment.pNextSegment`; `pHandleTable` follows it (the header is packed).
    pub segment_next: u64,
    /// The block type marking a block that holds other blocks' user data.
    pub data_block_type: u8,
}

#[derive(Debug, Clone, Copy)]
pub struct MethodTableLayout {
    pub token: TokenField,
    /// Flag bit marking a type of a collectible assembly.
    pub collectible_flag: u32,
    /// On 8, `MethodTable.Module` (+24) is the loader module; ClrMD reports the canonical
    /// MethodTable's module for generic instantiations.
    pub module_is_loader_module: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct EEClassLayout {
    pub field_desc_list: u64,
    pub counts: EEClassCounts,
    /// u8 rank of an `ArrayClass`.
    pub array_rank: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct ModuleLayout {
    /// `Module -> PEAssembly*`.
    pub pe_assembly: u64,
    /// `PEAssembly -> PEImage*`.
    pub pe_image: u64,
    /// `PEImage -> loaded PEImageLayout*`.
    pub loaded_layout: u64,
    /// `PEImage -> UTF-16 path`.
    pub image_path: u64,
    pub dynamic_metadata: DynamicMetadata,
}

#[derive(Debug, Clone, Copy)]
pub struct ThreadLayout {
    /// `ThreadStore` -> first thread's link.
    pub first_link: u64,
    /// Offset of the list link inside `Thread` (thread = link - this).
    pub link: u64,
    pub managed_id: u64,
    pub os_id: u64,
    /// `Thread.m_State` (u32 `ThreadState` flags, as `clrthreads` prints them).
    pub state: u64,
    /// `Thread.m_LastThrownObjectHandle` (a handle to the last exception thrown on the
    /// thread, 0 when none).
    pub last_thrown_object: u64,
    pub alloc_context: AllocContextPlace,
}

/// Where a type's static fields live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticsLayout {
    /// .NET 8: `Module + module_id` -> `DomainLocalModule*`. Non-GC statics are at
    /// `DomainLocalModule + field offset`; GC statics at
    /// `u64(DomainLocalModule + gc_statics) + field offset`. Generic instantiations and types of dynamic modules use "dynamic"
    /// statics instead, which SOS does not display.
    DomainLocalModule { module_id: u64, gc_statics: u64 },
    /// .NET 9 and 10: `MethodTable + aux_data` -> `MethodTableAuxiliaryData`; the
    /// `DynamicStaticsInfo` sits just before it: GC statics base at `aux + gc_statics`,
    /// non-GC at `aux + non_gc_statics` (negative offsets), low bit masked.
    DynamicStaticsInfo { aux_data: u64, gc_statics: i64, non_gc_statics: i64 },
}

/// How the type loader finds loaded types: the module's lookup maps and its table of
/// instantiated types (generic instantiations and arrays it is the loader module of).
#[derive(Debug, Clone, Copy)]
pub struct TypeLoaderLayout {
    /// `Module.m_TypeDefToMethodTableMap` (a `LookupMap`: next @0, table @8, u32 count
    /// @16, flags mask @24; entry `rid` holds the `MethodTable*`).
    pub typedef_map: u64,
    /// `Module.m_TypeRefToMethodTableMap` (resolved TypeRefs).
    pub typeref_map: u64,
    /// `Module.m_pAvailableParamTypes` (`EETypeHashTable*`: a `DacEnumerableHashTable`
    /// with buckets @16; bucket array: [0] length, [1] next, [2] end sentinel, then slots;
    /// entries: TypeHandle @0, next @8; a chain ends at an odd value).
    pub available_param_types: u64,
    /// `ParamTypeDesc.TypeArg`: the pointee of a pointer TypeDesc.
    pub param_type_arg: u64,
    pub statics: StaticsLayout,
}

/// Everything that differs between the runtime versions clrheap knows.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub major: u32,
    pub dac: DacTableIndices,
    pub method_table: MethodTableLayout,
    pub ee_class: EEClassLayout,
    pub module: ModuleLayout,
    pub thread: ThreadLayout,
    pub type_loader: TypeLoaderLayout,
    /// Offset of the `gc_alloc_context` inside `g_global_alloc_context`.
    pub global_alloc_context_offset: u64,
    pub handle_table: HandleTableLayout,
    pub collectible: CollectibleLayout,
    /// Expected `GcDacVars` major version.
    pub gc_dac_major: u8,
    /// Stack walking: Frames, code headers, GC info.
    pub stack: StackLayout,
    /// `ParamTypeDesc::m_Arg` (the pointee of a pointer or byref TypeDesc). 9 and 10: the
    /// contract descriptor's `ParamTypeDesc.TypeArg` (16). 8: +8 in that version's
    /// `typedesc.h` (no lab dump holds such a type: unverified on a dump).
    pub param_type_arg: u64,
    /// The sync block table and sync blocks (`syncblk`).
    pub sync_block: SyncBlockLayout,
}

/// `g_pSyncTable` holds `SyncTableEntry { SyncBlock* +0, Object* +8 }` (16 bytes; 9/10
/// descriptor `SyncTableEntry`, 8 the same on the zoo dump); entry 0 is unused, a free
/// entry's object has bit 0 set. A SyncBlock starts with its `AwareLock`: `u32 lockState
/// @0` (bit 0 locked, waiters from bit 6: dotnet-dump's MonitorHeld is `locked + 2 *
/// waiters`, the runtime's `GetMonitorHeldState`), `u32 m_Recursion @4`, the owner @8.
/// Read off zoo-net8/9/10 (the parked thread's lock: state 1, recursion 1, owner the
/// parked thread) and checked against dotnet-dump's `syncblk` on every lab dump.
pub const SYNC_TABLE_ENTRY_SIZE: u64 = 16;
pub const SYNC_TABLE_ENTRY_OBJECT: u64 = 8;
pub const AWARE_LOCK_STATE: u64 = 0;
pub const AWARE_LOCK_RECURSION: u64 = 4;
pub const AWARE_LOCK_HOLDER: u64 = 8;

/// How an `AwareLock` names the thread holding it (at [`AWARE_LOCK_HOLDER`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockHolder {
    /// A `Thread*` (8, 9: the parked thread's Thread on zoo-net8/9).
    ThreadPointer,
    /// The managed thread id, u32 (10: 5 on zoo-net10, the parked thread's id; its OS id
    /// follows at +16, as on 8/9).
    ManagedThreadId,
}

/// Where the sync block machinery is.
#[derive(Debug, Clone, Copy)]
pub struct SyncBlockLayout {
    /// `g_dacTable` index of `SyncBlockCache::s_pSyncBlockCache` (-> `SyncBlockCache*`):
    /// the entry right after `g_pSyncTable`'s (dacvars.h order), found on the lab dumps as
    /// the only entry whose target holds 5 (zoo: 4 sync blocks) and 2 (seed: 1) at the same
    /// offset.
    pub cache: usize,
    /// `SyncBlockCache.m_FreeSyncTableIndex` (u32): one past the last table entry ever
    /// used; dotnet-dump's "Total" is this minus 1. Followed by `m_FreeSyncTableList`
    /// (8 bytes) and `m_SyncTableSize` (u32, 250 initially) on every version.
    pub cache_free_index: u64,
    /// `SyncBlockCache.m_SyncTableSize` (u32).
    pub cache_table_size: u64,
    pub holder: LockHolder,
}

/// The kinds of explicit `Frame` the stack walker tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    InlinedCall,
    HelperMethod,
    HelperMethod1Obj,
    HelperMethod2Obj,
    HelperMethod3Obj,
    HelperMethodProtectObj,
    Resumable,
    RedirectedThread,
    FaultingException,
    SoftwareException,
    FuncEval,
    PInvokeCalli,
    Hijack,
    PrestubMethod,
    CallCountingHelper,
    StubDispatch,
    ExternalMethod,
    DynamicHelper,
    Multicast,
    ProtectByRefs,
    ProtectValueClass,
    DebuggerClassInitMark,
    DebuggerSecurityCodeMark,
    DebuggerExit,
    DebuggerU2MCatchHandler,
    ExceptionFilter,
}

impl FrameKind {
    /// The class name, as ClrMD names a frame.
    pub fn name(self) -> &'static str {
        use FrameKind::*;
        match self {
            InlinedCall => "InlinedCallFrame",
            HelperMethod => "HelperMethodFrame",
            HelperMethod1Obj => "HelperMethodFrame_1OBJ",
            HelperMethod2Obj => "HelperMethodFrame_2OBJ",
            HelperMethod3Obj => "HelperMethodFrame_3OBJ",
            HelperMethodProtectObj => "HelperMethodFrame_PROTECTOBJ",
            Resumable => "ResumableFrame",
            RedirectedThread => "RedirectedThreadFrame",
            FaultingException => "FaultingExceptionFrame",
            SoftwareException => "SoftwareExceptionFrame",
            FuncEval => "FuncEvalFrame",
            PInvokeCalli => "PInvokeCalliFrame",
            Hijack => "HijackFrame",
            PrestubMethod => "PrestubMethodFrame",
            CallCountingHelper => "CallCountingHelperFrame",
            StubDispatch => "StubDispatchFrame",
            ExternalMethod => "ExternalMethodFrame",
            DynamicHelper => "DynamicHelperFrame",
            Multicast => "MulticastFrame",
            ProtectByRefs => "ProtectByRefsFrame",
            ProtectValueClass => "ProtectValueClassFrame",
            DebuggerClassInitMark => "DebuggerClassInitMarkFrame",
            DebuggerSecurityCodeMark => "DebuggerSecurityCodeMarkFrame",
            DebuggerExit => "DebuggerExitFrame",
            DebuggerU2MCatchHandler => "DebuggerU2MCatchHandlerFrame",
            ExceptionFilter => "ExceptionFilterFrame",
        }
    }
}

/// How a `Frame`'s kind is recognised.
#[derive(Debug, Clone, Copy)]
pub enum FrameIdentity {
    /// `Frame+0` is a vtable pointer equal to the `g_dacTable` entry at this index (8, 9).
    Vtable(&'static [(usize, FrameKind)]),
    /// `Frame+0` is a `FrameIdentifier` value (10).
    Identifier(&'static [(u64, FrameKind)]),
}

/// Where the stack walker finds things. Sources: `docs/research/stack-roots.md` (checked on
/// the lab dumps with `/tmp/stackresearch/`), the 9/10 contract descriptors
/// (`lab/reference/runtime-facts-net{9,10}.json`), and for the 8/9 vtable order
/// `vptr_list.h` (relative order of the Frame classes), anchored on the indices seen in the
/// dumps.
#[derive(Debug, Clone, Copy)]
pub struct StackLayout {
    /// `Thread.m_pFrame` (8: found on the dumps; 9/10: descriptor `Thread.Frame`).
    pub thread_frame: u64,
    /// `Thread.m_CacheStackBase`, the top (highest address) of the thread's stack
    /// (observed on the lab dumps, research §1.1: the only Thread field pointing just past
    /// every thread's stack mapping; not in the descriptors).
    pub thread_stack_base: u64,
    pub frame_identity: FrameIdentity,
    /// GcInfo encoding version of JIT-compiled code (8, 9: 3; 10: 4, descriptor global
    /// `GCInfoVersion`). ReadyToRun images choose by their own major version.
    pub gc_info_version: u32,
    /// `Module.m_MethodDefToDescMap` (a LookupMap; its table at +8). 9/10: descriptor;
    /// 8: found on zoo-net8 (32 bytes after `TypeDefToMethodTableMap` at +752, as on 9/10),
    /// checked: every entry's MethodDesc token equals its row.
    pub module_method_def_to_desc: u64,
    /// `HelperMethodFrame.m_MachState` (`LazyMachState`), when the version has helper
    /// method frames (8: dump; 9: assumed the same).
    pub helper_frame_machine_state: Option<u64>,
    /// `HelperMethodFrame_nOBJ.gcPtrs[0]` (8: dump, the truth's slot address).
    pub helper_frame_gc_ptrs: u64,
    /// `HelperMethodFrame.m_pMD`, the FCALL's MethodDesc (right after the Frame base, src
    /// `frames.h`; 8: dump, zoo-net8's Monitor.Wait frame holds `Monitor.ObjWait`'s
    /// MethodDesc there, as dotnet-dump names the frame; 9: assumed the same).
    pub helper_frame_method_desc: u64,
    /// `HelperMethodFrame.m_FCallEntry`, the FCALL's entry point (8: dump, the Monitor.Wait
    /// frames of zoo-net8 hold `ObjWait`'s entry there whether or not the frame was
    /// initialised; 9: assumed the same). An uninitialised frame's `m_pMD` is garbage: the
    /// DAC maps this entry back to its MethodDesc through `gFCallMethods`.
    pub helper_frame_fcall_entry: u64,
    /// `g_dacTable` index of `gFCallMethods`, the FCALL hash table: 127 buckets of
    /// `ECHash { next +0, implementation +8, MethodDesc* +16 }`, bucket =
    /// implementation % 127 (8: 79, 9: 81, found on zoo-net8/9: the only entry whose every
    /// chained node hashes to its bucket, 69 and 54 nodes, their MethodDescs CoreLib's FCALLs).
    pub fcall_methods: Option<usize>,
    /// `FramedMethodFrame.m_pTransitionBlock` (10: descriptor; 8/9 assumed the same).
    pub framed_method_transition_block: u64,
    /// `FaultingExceptionFrame.m_ctx` (10: descriptor; unknown on 8/9).
    pub faulting_exception_context: Option<u64>,
    /// `SoftwareExceptionFrame.m_Context` (10: descriptor).
    pub software_exception_context: Option<u64>,
    /// `ResumableFrame.m_Regs` (a pointer to a CONTEXT; 10: descriptor).
    pub resumable_context_ptr: Option<u64>,
}

/// MethodDesc: `u16 Flags3AndTokenRemainder @0`, `u8 ChunkIndex @2`; the chunk is
/// `MethodDesc - ChunkIndex * 8 - 24` and holds `MethodTable* @0`, `u16
/// FlagsAndTokenRange @18`. 12 remainder bits on 8, 9, 10 (9/10 descriptor global
/// `MethodDescTokenRemainderBitCount`; 8 checked on every CoreLib MethodDesc of zoo-net8).
pub const METHOD_DESC_CHUNK_INDEX: u64 = 2;
pub const METHOD_DESC_ALIGNMENT: u64 = 8;
pub const METHOD_DESC_CHUNK_SIZE: u64 = 24;
pub const METHOD_DESC_CHUNK_TOKEN_RANGE: u64 = 18;
pub const METHOD_DESC_TOKEN_REMAINDER_BITS: u32 = 12;

/// `vptr_list.h` order of the Frame classes on 8.0 (VPTR entries of `g_dacTable`).
/// Anchored on the dump: 126 = DebuggerU2MCatchHandlerFrame (bottom of every secondary
/// thread), 130 = HelperMethodFrame_1OBJ (ClrMD's frame name for Monitor.Wait's root).
static NET8_FRAMES: [(usize, FrameKind); 25] = vptr_frames(123);
/// The same order on 9.0, anchored on 128 = DebuggerU2MCatchHandlerFrame and
/// 137 = InlinedCallFrame (both seen on zoo-net9). Kinds after InlinedCallFrame are
/// UNVERIFIED (9 added SoftwareExceptionFrame somewhere).
static NET9_FRAMES: [(usize, FrameKind); 25] = vptr_frames(125);

const fn vptr_frames(first: usize) -> [(usize, FrameKind); 25] {
    use FrameKind::*;
    let order = [
        DebuggerClassInitMark,
        DebuggerSecurityCodeMark,
        DebuggerExit,
        DebuggerU2MCatchHandler,
        FaultingException,
        FuncEval,
        HelperMethod,
        HelperMethod1Obj,
        HelperMethod2Obj,
        HelperMethod3Obj,
        HelperMethodProtectObj,
        Hijack,
        InlinedCall,
        Multicast,
        PInvokeCalli,
        PrestubMethod,
        ProtectByRefs,
        ProtectValueClass,
        Resumable,
        RedirectedThread,
        StubDispatch,
        CallCountingHelper,
        ExternalMethod,
        DynamicHelper,
        ExceptionFilter,
    ];
    let mut out = [(0usize, InlinedCall); 25];
    let mut i = 0;
    while i < 25 {
        out[i] = (first + i, order[i]);
        i += 1;
    }
    out
}

/// .NET 10 `FrameIdentifier` values (descriptor globals `*FrameIdentifier`).
static NET10_FRAMES: [(u64, FrameKind); 18] = {
    use FrameKind::*;
    [
        (1, InlinedCall),
        (2, Resumable),
        (3, RedirectedThread),
        (4, FaultingException),
        (5, SoftwareException),
        (6, FuncEval),
        (7, PInvokeCalli),
        (8, Hijack),
        (9, PrestubMethod),
        (10, CallCountingHelper),
        (11, StubDispatch),
        (12, ExternalMethod),
        (13, DynamicHelper),
        (14, ProtectValueClass),
        (15, DebuggerClassInitMark),
        (16, DebuggerExit),
        (17, DebuggerU2MCatchHandler),
        (18, ExceptionFilter),
    ]
};

// MethodTable fields that are the same on 8, 9 and 10.
pub const MT_FLAGS: u64 = 0;
pub const MT_BASE_SIZE: u64 = 4;
pub const MT_FLAGS2: u64 = 8;
pub const MT_NUM_INTERFACES: u64 = 14;
pub const MT_PARENT: u64 = 16;
pub const MT_MODULE: u64 = 24;
pub const MT_EECLASS_OR_CANON: u64 = 40;
/// PerInstInfo for generic instantiations; the element TypeHandle for arrays.
pub const MT_PER_INST_INFO: u64 = 48;

pub const MTF_HAS_COMPONENT_SIZE: u32 = 0x8000_0000;
pub const MTF_CATEGORY_ARRAY_MASK: u32 = 0x000C_0000;
pub const MTF_CATEGORY_ARRAY: u32 = 0x0008_0000;
pub const MTF_CATEGORY_VALUETYPE: u32 = 0x0004_0000;
pub const MTF_IS_SZARRAY: u32 = 0x0002_0000;
pub const MTF_HAS_FINALIZER: u32 = 0x0010_0000;
pub const MTF_CONTAINS_POINTERS: u32 = 0x0100_0000;
pub const MTF_GENERICS_MASK: u32 = 0x0000_0030;

/// Objects, the same on 8, 9 and 10 (9/10 descriptor: `Object.m_pMethTab` 0,
/// `ObjectToMethodTableUnmask` 7, `ObjectHeaderSize` 8, `SyncBlockValueToObjectOffset` 4,
/// `String.m_StringLength` 8, `m_FirstChar` 12, `Array.m_NumComponents` 8, `Array` size 16;
/// 8 the same on every lab dump). An object is `[header u32 at -4][MethodTable* (low bits
/// flags)][fields...]`; strings and arrays keep their length at +8.
pub const OBJECT_MT_FLAGS_MASK: u64 = 7;
pub const OBJECT_HEADER_OFFSET: u64 = 4;
/// Where an object's fields start (after its MethodTable pointer).
pub const OBJECT_DATA: u64 = 8;
/// `m_NumComponents` of arrays, `m_StringLength` of strings (u32).
pub const OBJECT_COMPONENT_COUNT: u64 = 8;
pub const STRING_FIRST_CHAR: u64 = 12;
/// The first element of a single-dimension array; a multi-dimensional array keeps its
/// bounds here (u32 lengths, then u32 lower bounds), its elements after them.
pub const ARRAY_DATA: u64 = 16;
/// `EEClass.m_pMethodTable`: the canonical MethodTable (9/10 descriptor
/// `EEClass.MethodTable`; 8 the same on every lab dump). SOS trusts a MethodTable whose
/// EEClass points back at it.
pub const EECLASS_METHOD_TABLE: u64 = 16;

/// An exception's recorded stack trace (`Exception._stackTrace`, a byte array, or on 9 and
/// 10 possibly an object array whose first element is it): a 16-byte header whose first
/// word counts the entries (`size_t` on 8, `u32` then a keep-alive count on 9 and 10:
/// read as a `u32` on every version), then `StackTraceElement { ip, sp, MethodDesc*,
/// flags }` entries of 32 bytes (`excep.h`, `clrex.h`).
pub const STACK_TRACE_HEADER: u64 = 16;
pub const STACK_TRACE_ELEMENT: u64 = 32;

/// The object header's bits (`syncblk.h`, the same on 8, 9 and 10; a later runtime widens
/// the thin lock's thread id to 16 bits). With `IS_HASH_OR_SYNCBLKINDEX` clear the header
/// holds a thin lock: the owner's managed thread id in the low 10 bits, the recursion level
/// in the next 6. With it set, the low 26 bits are a hash code (`IS_HASHCODE` set) or a
/// sync block index.
pub const SBLK_FINALIZER_RUN: u32 = 0x4000_0000;
pub const SBLK_SPIN_LOCK: u32 = 0x1000_0000;
pub const SBLK_IS_HASH_OR_SYNCBLKINDEX: u32 = 0x0800_0000;
pub const SBLK_IS_HASHCODE: u32 = 0x0400_0000;
pub const SBLK_INDEX_MASK: u32 = 0x03ff_ffff;
pub const SBLK_THIN_LOCK_THREAD_ID: u32 = 0x3ff;
pub const SBLK_THIN_LOCK_RECURSION_SHIFT: u32 = 10;
pub const SBLK_THIN_LOCK_RECURSION: u32 = 0x3f;

/// `PEImageLayout`: base, size, flags (bit 0: mapped by the OS loader).
pub const IMAGE_LAYOUT_BASE: u64 = 8;
pub const IMAGE_LAYOUT_SIZE: u64 = 16;
pub const IMAGE_LAYOUT_FLAGS: u64 = 20;

pub static NET8: Layout = Layout {
    major: 8,
    param_type_arg: 8,
    dac: DacTableIndices {
        thread_store: 16,
        finalizer_thread: 17,
        heap_type: 19,
        gc_dac_globals: 20,
        global_alloc_context: 36,
        object_mt: 40,
        string_mt: 43,
        array_mt: 44,
        exception_mt: 47,
        free_mt: 54,
        sync_table: 80,
        core_lib: 31,
    },
    method_table: MethodTableLayout {
        token: TokenField::U16At10,
        collectible_flag: 0x1000_0000,
        module_is_loader_module: true,
    },
    ee_class: EEClassLayout {
        field_desc_list: 24,
        counts: EEClassCounts::Packed,
        array_rank: 56,
    },
    module: ModuleLayout {
        pe_assembly: 272,
        pe_image: 8,
        loaded_layout: 120,
        image_path: 16,
        dynamic_metadata: DynamicMetadata::SBuffer(1688),
    },
    thread: ThreadLayout {
        first_link: 160,
        link: 232,
        managed_id: 32,
        os_id: 424,
        // ops-net8-wks-heap: +8 holds each thread's `clrthreads` State (2021220 ...);
        // +464 the handle to the InvalidOperationException `clrthreads` lists on the
        // two threads parked in a catch handler (managed ids 15, 16), 0 on the others.
        state: 8,
        last_thrown_object: 464,
        alloc_context: AllocContextPlace::Inline(88),
    },
    // Found on zoo-net8-wks-heap by content: the TypeDef map entry of a type's token is
    // its MethodTable (Cat, String, Point), the TypeRef map resolves scenarios.dll's
    // reference to System.String, the param-type table walks to its 14/1564 entries (its
    // `m_pModule` is the module), and DomainLocalModule statics give the values
    // dotnet-dump prints (DocumentMetadata.Authors on seed-net8, String.Empty, Thread's
    // non-GC statics on zoo-net8).
    type_loader: TypeLoaderLayout {
        typedef_map: 752,
        typeref_map: 8,
        available_param_types: 968,
        // zoo-net8-wks-heap: CoreLib's table holds `void*` with System.Void at +8.
        param_type_arg: 8,
        statics: StaticsLayout::DomainLocalModule {
            module_id: 1224,
            gc_statics: 32,
        },
    },
    global_alloc_context_offset: 0,
    handle_table: HandleTableLayout {
        segment_list: 48,
        segment_next: 1992,
        data_block_type: 11,
    },
    collectible: CollectibleLayout {
        loader_module: LoaderModulePlace::MethodTableModule,
        module_loader_allocator: 248,
        object_handle: 976,
    },
    gc_dac_major: 2,
    sync_block: SyncBlockLayout {
        cache: 81,
        cache_free_index: 180,
        cache_table_size: 192,
        holder: LockHolder::ThreadPointer,
    },
    stack: StackLayout {
        thread_frame: 16,
        thread_stack_base: 248,
        frame_identity: FrameIdentity::Vtable(&NET8_FRAMES),
        gc_info_version: 3,
        module_method_def_to_desc: 784,
        helper_frame_machine_state: Some(48),
        helper_frame_gc_ptrs: 232,
        helper_frame_method_desc: 16,
        helper_frame_fcall_entry: 40,
        fcall_methods: Some(79),
        framed_method_transition_block: 16,
        faulting_exception_context: None,
        software_exception_context: None,
        resumable_context_ptr: None,
    },
};

pub static NET9: Layout = Layout {
    major: 9,
    param_type_arg: 16,
    dac: DacTableIndices {
        thread_store: 16,
        finalizer_thread: 17,
        heap_type: 19,
        gc_dac_globals: 20,
        global_alloc_context: 40,
        object_mt: 43,
        string_mt: 46,
        array_mt: 47,
        exception_mt: 50,
        free_mt: 57,
        sync_table: 82,
        core_lib: 35,
    },
    method_table: MethodTableLayout {
        token: TokenField::UpperBitsOfFlags2,
        collectible_flag: 0x0020_0000,
        module_is_loader_module: false,
    },
    ee_class: EEClassLayout {
        field_desc_list: 24,
        counts: EEClassCounts::Fixed {
            num_instance_fields: 50,
            num_static_fields: 54,
        },
        array_rank: 72,
    },
    module: ModuleLayout {
        pe_assembly: 280,
        pe_image: 8,
        loaded_layout: 120,
        image_path: 16,
        dynamic_metadata: DynamicMetadata::SizePrefixed(1120),
    },
    thread: ThreadLayout {
        first_link: 160,
        link: 112,
        managed_id: 16,
        os_id: 296,
        // Descriptor `Thread.State`, `Thread.LastThrownObject`; ops-net{9,10}-wks-heap
        // agree with `clrthreads` (State, Exception).
        state: 0,
        last_thrown_object: 336,
        alloc_context: AllocContextPlace::Indirect {
            pointer: 32,
            offset: 0,
        },
    },
    // Maps: 9 descriptor (`Module.TypeDefToMethodTableMap` 624, `TypeRefToMethodTableMap`
    // 8); the param-type table (808) found by content on zoo-net9-wks-heap as for 8.
    // Statics: `DynamicStaticsInfo` (24 bytes) before the auxiliary data (@32), checked
    // against DocumentMetadata.Authors on seed-net9-wks-heap.
    type_loader: TypeLoaderLayout {
        typedef_map: 624,
        typeref_map: 8,
        available_param_types: 808,
        // 9 descriptor `ParamTypeDesc.TypeArg`.
        param_type_arg: 16,
        statics: StaticsLayout::DynamicStaticsInfo {
            aux_data: 32,
            gc_statics: -24,
            non_gc_statics: -16,
        },
    },
    global_alloc_context_offset: 0,
    handle_table: HandleTableLayout {
        segment_list: 48,
        segment_next: 1992,
        data_block_type: 11,
    },
    collectible: CollectibleLayout {
        loader_module: LoaderModulePlace::AuxiliaryData { aux: 32, offset: 8 },
        module_loader_allocator: 248,
        object_handle: 1128,
    },
    gc_dac_major: 2,
    sync_block: SyncBlockLayout {
        cache: 83,
        cache_free_index: 180,
        cache_table_size: 192,
        holder: LockHolder::ThreadPointer,
    },
    stack: StackLayout {
        thread_frame: 8,
        thread_stack_base: 120,
        frame_identity: FrameIdentity::Vtable(&NET9_FRAMES),
        gc_info_version: 3,
        module_method_def_to_desc: 656,
        helper_frame_machine_state: Some(48),
        helper_frame_gc_ptrs: 232,
        helper_frame_method_desc: 16,
        helper_frame_fcall_entry: 40,
        fcall_methods: Some(81),
        framed_method_transition_block: 16,
        faulting_exception_context: None,
        software_exception_context: None,
        resumable_context_ptr: None,
    },
};

pub static NET10: Layout = Layout {
    major: 10,
    param_type_arg: 16,
    dac: DacTableIndices {
        thread_store: 15,
        finalizer_thread: 16,
        heap_type: 18,
        gc_dac_globals: 19,
        global_alloc_context: 39,
        object_mt: 42,
        string_mt: 45,
        array_mt: 46,
        exception_mt: 49,
        free_mt: 56,
        sync_table: 78,
        core_lib: 34,
    },
    method_table: MethodTableLayout {
        token: TokenField::UpperBitsOfFlags2,
        collectible_flag: 0x0020_0000,
        module_is_loader_module: false,
    },
    ee_class: EEClassLayout {
        field_desc_list: 24,
        counts: EEClassCounts::Fixed {
            num_instance_fields: 50,
            num_static_fields: 54,
        },
        array_rank: 72,
    },
    module: ModuleLayout {
        pe_assembly: 216,
        pe_image: 8,
        loaded_layout: 128,
        image_path: 16,
        dynamic_metadata: DynamicMetadata::SizePrefixed(840),
    },
    thread: ThreadLayout {
        first_link: 88,
        link: 112,
        managed_id: 16,
        os_id: 296,
        // Descriptor `Thread.State`, `Thread.LastThrownObject`; ops-net{9,10}-wks-heap
        // agree with `clrthreads` (State, Exception).
        state: 0,
        last_thrown_object: 336,
        alloc_context: AllocContextPlace::Indirect {
            pointer: 32,
            offset: 8,
        },
    },
    // 10 descriptor: `Module.TypeDefToMethodTableMap` 416, `TypeRefToMethodTableMap` 8,
    // `AvailableTypeParams` 600, `MethodTable.AuxiliaryData` 32, `DynamicStaticsInfo`
    // (size 24: GCStatics @0, NonGCStatics @8), `StaticsPointerMask` ~1. Checked on
    // zoo-net10-wks-heap and seed-net10-wks-heap as for 9.
    type_loader: TypeLoaderLayout {
        typedef_map: 416,
        typeref_map: 8,
        available_param_types: 600,
        // 10 descriptor `ParamTypeDesc.TypeArg`; zoo-net10: `void*` with System.Void there.
        param_type_arg: 16,
        statics: StaticsLayout::DynamicStaticsInfo {
            aux_data: 32,
            gc_statics: -24,
            non_gc_statics: -16,
        },
    },
    global_alloc_context_offset: 8,
    handle_table: HandleTableLayout {
        segment_list: 56,
        segment_next: 1998,
        data_block_type: 12,
    },
    collectible: CollectibleLayout {
        loader_module: LoaderModulePlace::AuxiliaryData { aux: 32, offset: 8 },
        module_loader_allocator: 176,
        object_handle: 752,
    },
    gc_dac_major: 2,
    sync_block: SyncBlockLayout {
        cache: 79,
        cache_free_index: 108,
        cache_table_size: 120,
        holder: LockHolder::ManagedThreadId,
    },
    stack: StackLayout {
        thread_frame: 8,
        thread_stack_base: 120,
        frame_identity: FrameIdentity::Identifier(&NET10_FRAMES),
        gc_info_version: 4,
        module_method_def_to_desc: 448,
        helper_frame_machine_state: None,
        helper_frame_gc_ptrs: 0,
        helper_frame_method_desc: 0,
        helper_frame_fcall_entry: 0,
        fcall_methods: None,
        framed_method_transition_block: 16,
        faulting_exception_context: Some(32),
        software_exception_context: Some(288),
        resumable_context_ptr: Some(16),
    },
};

/// .NET 10 on linux-arm64: `NET10` with the `Thread` fields that sit after
/// architecture-sized members moved (10.0.12 arm64 contract descriptor: `Thread.LinkNext`
/// 152, `Thread.OSId` 336, `Thread.LastThrownObject` 376, all 40 bytes further than on
/// x64; `m_CacheStackBase`, not in the descriptor, found on seed-arm64-wks-full the way
/// research §1.1 found x64's: the one field pointing just past every thread's stack
/// mapping, 40 bytes further too). Everything
/// else the descriptor describes is the same on both (compared type by type).
pub static NET10_ARM64: Layout = Layout {
    thread: ThreadLayout {
        link: 152,
        os_id: 336,
        // Descriptor `Thread.LastThrownObject` (40 bytes further too).
        last_thrown_object: 376,
        ..NET10.thread
    },
    stack: StackLayout {
        thread_stack_base: 160,
        // descriptor `SoftwareExceptionFrame.TargetContext` (the arm64 CONTEXT is smaller).
        software_exception_context: Some(192),
        ..NET10.stack
    },
    ..NET10
};

/// The layout for a runtime major version, if clrheap knows it.
pub fn for_major(major: u32) -> Option<&'static Layout> {
    match major {
        8 => Some(&NET8),
        9 => Some(&NET9),
        10 => Some(&NET10),
        _ => None,
    }
}

/// The layout for a runtime major version in a process of `arch`, if clrheap knows it:
/// x64 for 8, 9, 10; arm64 for 10 (the only arm64 runtime with dumps to check against).
pub fn for_runtime(major: u32, arch: crate::dump::Architecture) -> Option<&'static Layout> {
    use crate::dump::Architecture;
    match (arch, major) {
        (Architecture::X86_64, _) => for_major(major),
        (Architecture::Arm64, 10) => Some(&NET10_ARM64),
        (Architecture::Arm64, _) => None,
    }
}

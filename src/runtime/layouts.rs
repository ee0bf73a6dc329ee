//! Per-version knowledge of CoreCLR's data structures: the one place that says where a
//! field lives in .NET 8, 9 and 10.
//!
//! The tables here ([`NET8`], [`NET9`], [`NET10`]) are the built-in defaults. Everything in
//! them was read off real dumps of 8.0.33, 9.0.22 and 10.0.12 (linux-x64) and checked
//! against ClrMD's truth files; `docs/research/vm-layouts.md` and
//! `docs/research/gc-layouts.md` record, fact by fact, the source read and the dump that
//! confirmed it. A runtime does not use them as they are: on 9 and 10 every value the
//! runtime's contract descriptor describes is taken from the descriptor at open
//! ([`crate::runtime::described`] lists them and builds the runtime's [`Layout`]), so a
//! servicing build that moves a field still reads right; the tables serve where the
//! descriptor is silent, and for 8, which has none. GC structures are not versioned here:
//! the GC describes itself through `GcDacVars` (see [`crate::runtime::gc_vars`]).
//!
//! Layouts are those of linux-x64. An architecture dimension would select another set of
//! defaults before the descriptor is applied (see [`for_major`]).

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
    /// `AppDomain::m_pTheAppDomain` (-> `AppDomain*`; vm-layouts.md §1).
    pub app_domain: usize,
    /// `SystemDomain::m_pSystemDomain` (-> `SystemDomain*`): the entry after `app_domain`
    /// on 8, 9 and 10 (the ops dumps' `dumpdomain` "System Domain").
    pub system_domain: usize,
    /// `g_pSuspensionThread` (-> `Thread*`, the thread suspending the runtime for a GC).
    pub gc_thread: usize,
    /// `gLowestFCall` (8, 9). Globals from here on are taken relative to where the dump
    /// has it (servicing releases insert globals before it; see
    /// [`crate::runtime::dac_table`]).
    pub fcall_range: Option<usize>,
    /// The first vtable entry, when the dump does not show where its global functions end.
    pub vptr_start: Option<usize>,
}

/// Where a MethodTable keeps its TypeDef token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    /// The u16 `m_wToken` at +10 (.NET 8).
    U16At10,
    /// The upper 24 bits of the u32 `MTFlags2` ([`MethodTableLayout::flags2`], .NET 9 and 10).
    UpperBitsOfFlags2,
}

/// How an EEClass stores its field counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EEClassCounts {
    /// u32s at `EEClass + u8(EEClass + 50)` in the order instance fields, methods,
    /// static fields (.NET 8's "packed fields").
    Packed,
    /// u16 fields at fixed offsets (.NET 9 and 10). `NumMethods` counts the class's
    /// method slots, inherited ones included (what `dumpmt` calls "Number of Methods").
    Fixed { num_instance_fields: u64, num_methods: u64, num_static_fields: u64 },
}

/// How a thread's allocation context is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocContextPlace {
    /// The `gc_alloc_context` inline in `Thread` at this offset (.NET 8).
    Inline(u64),
    /// `Thread + pointer` -> `RuntimeThreadLocals`, its allocation context at `+ context`,
    /// and inside that the `gc_alloc_context` at `+ gc_context` (10's `ee_alloc_context`
    /// wraps it; 0 on 9).
    Indirect { pointer: u64, context: u64, gc_context: u64 },
}

/// A `gc_alloc_context` (a thread's, the global one, a heap's gen0 one).
#[derive(Debug, Clone, Copy)]
pub struct AllocContextLayout {
    /// `alloc_ptr` (9/10 descriptor `GCAllocContext.Pointer`).
    pub pointer: u64,
    /// `alloc_limit` (`GCAllocContext.Limit`).
    pub limit: u64,
}

/// Where a dynamic module's in-memory metadata is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamicMetadata {
    /// `Module + module_field` -> SBuffer { u32 size @0, ..., u8* data @16 } (.NET 8).
    SBuffer { module_field: u64 },
    /// `Module + module_field` -> { u32 size @size, u8 data[size] @data } (.NET 9 and 10).
    SizePrefixed { module_field: u64, size: u64, data: u64 },
}

/// Where a MethodTable's loader module (the module whose LoaderAllocator owns the type) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderModulePlace {
    /// `MethodTable.Module` is the loader module (.NET 8).
    MethodTableModule,
    /// `MethodTable.AuxiliaryData` -> `MethodTableAuxiliaryData.LoaderModule` (.NET 9, 10).
    AuxiliaryData,
}

/// Where the managed `LoaderAllocator` object of a collectible type is: the type's loader
/// module -> its `LoaderAllocator*` -> the long weak handle to the managed object.
/// Read off zoo-net{8,9,10}-wks-heap (the collectible `Plugin` types; the handle is the
/// `WeakLong` handle to `System.Reflection.LoaderAllocator` in handles.tsv).
#[derive(Debug, Clone, Copy)]
pub struct CollectibleLayout {
    pub loader_module: LoaderModulePlace,
    /// `Module.m_loaderAllocator` (9/10 descriptor `Module.LoaderAllocator`).
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

/// MethodTable fields (the same offsets on 8, 9 and 10 but for the token).
#[derive(Debug, Clone, Copy)]
pub struct MethodTableLayout {
    /// `MTFlags` (u32; the low 16 bits are the component size under `MTF_HAS_COMPONENT_SIZE`).
    pub flags: u64,
    /// `BaseSize` (u32).
    pub base_size: u64,
    /// `MTFlags2` (u32).
    pub flags2: u64,
    pub token: TokenField,
    /// `ParentMethodTable`.
    pub parent: u64,
    /// `Module`.
    pub module: u64,
    /// `EEClassOrCanonMT`: the EEClass, or (low bit set) the canonical MethodTable.
    pub ee_class_or_canon: u64,
    /// `PerInstInfo` for generic instantiations; the element TypeHandle for arrays.
    pub per_inst_info: u64,
    /// `AuxiliaryData` (9, 10; 8's `m_pWriteableData` at the same place).
    pub aux_data: u64,
    /// `MethodTableAuxiliaryData.Flags` (u32; 8's writeable data flags at the same place).
    pub aux_flags: u64,
    /// `MethodTableAuxiliaryData.LoaderModule` (9, 10).
    pub aux_loader_module: u64,
    /// Flag bit marking a type of a collectible assembly.
    pub collectible_flag: u32,
    /// On 8, `MethodTable.Module` is the loader module; ClrMD reports the canonical
    /// MethodTable's module for generic instantiations.
    pub module_is_loader_module: bool,
    /// `NumVirtuals` (u16): the virtual slots, in chunks of 8 behind pointers that follow
    /// the MethodTable (`vtable`, the MethodTable's size).
    pub num_virtuals: u64,
    /// `NumInterfaces` (u16).
    pub num_interfaces: u64,
    /// The size of `MethodTable`: where the vtable chunk pointers start.
    pub vtable: u64,
    /// Where the non-virtual slots kept in the MethodTable are.
    pub non_virtual_slots: NonVirtualSlots,
}

/// Where a MethodTable keeps its non-virtual slots (a MethodDesc flagged
/// `HasNonVtableSlot` keeps its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonVirtualSlots {
    /// 8: `MTFlags2` (u16 at +8) bit 0x8 says there are some; they are in the first
    /// free multipurpose slot (+48, +56, then after the vtable chunk pointers), after the
    /// ones `PerInstInfo` (0x1) and `DispatchMap` (0x4) take (+56 is the interface map's
    /// under 0x2); bit 0x4000 says the slot holds the only one, else it points to them.
    Multipurpose,
    /// 9, 10: an array growing down from `AuxiliaryData + OffsetToNonVirtualSlots` (i16
    /// at +2): slot `NumVirtuals + k` at `-(k + 1) * 8`.
    BeforeAuxData,
}

#[derive(Debug, Clone, Copy)]
pub struct EEClassLayout {
    /// `EEClass.MethodTable` (the canonical MethodTable).
    pub method_table: u64,
    pub field_desc_list: u64,
    /// `EEClass.Chunks`: the first of the class's MethodDescChunks (the MethodDescs of
    /// the methods it introduces, shared by the instantiations of its canonical type).
    pub chunks: u64,
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
    /// `PEImageLayout.Base` (pointer).
    pub image_base: u64,
    /// `PEImageLayout.Size` (u32).
    pub image_size: u64,
    /// `PEImageLayout.Flags` (u32; bit 0: mapped by the OS loader).
    pub image_flags: u64,
    pub dynamic_metadata: DynamicMetadata,
    /// `Module.m_debuggerSpecificData.m_pDynamicILBlobTable`: an `SHash` of
    /// `{MethodDef token, IL address}` (16-byte entries; header `{table, u32 size}`) where
    /// a module emitted at run time keeps its methods' IL (the DAC's "profiler modified
    /// IL"). Not in the descriptors: found on zoo-net8/9/10 as the pointer whose table
    /// holds the IL address dotnet-dump prints for `DocProc.Zoo.Emitted.Proxy..ctor`.
    pub dynamic_il_table: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct ThreadLayout {
    /// `ThreadStore` -> first thread's link.
    pub first_link: u64,
    /// Offset of the list link inside `Thread` (thread = link - this).
    pub link: u64,
    pub managed_id: u64,
    pub os_id: u64,
    pub alloc_context: AllocContextPlace,
    /// `Thread.m_State` (u32; 9/10 descriptor `Thread.State`; 8: found on ops-net8, the
    /// value dotnet-dump's `clrthreads` prints for every thread).
    pub state: u64,
    /// `Thread.m_fPreemptiveGCDisabled` (u32; 9/10 descriptor; 8: ops-net8, 1 on the thread
    /// `clrthreads` calls Cooperative).
    pub preemptive_gc_disabled: u64,
    /// `Thread.m_LastThrownObjectHandle` (a handle; 9/10 descriptor `LastThrownObject`;
    /// 8: ops-net8, the handle to the exception `clrthreads` prints).
    pub last_thrown_object: u64,
    /// `Thread.m_ExceptionState.m_pCurrentTracker`, the exception being dispatched or
    /// handled (an `ExInfo`: its previous nested `ExInfo` at +0, the thrown object's handle
    /// at +8; 9/10 descriptor `Thread.ExceptionTracker`, `ExceptionInfo`); not known on 8.
    pub exception_tracker: Option<u64>,
    /// `ThreadStore.m_ThreadCount` and `m_UnstartedThreadCount`, which the background,
    /// pending and dead counts follow (i32s; 9/10 descriptor; 8: ops-net8, where
    /// `m_MaxThreadCount` sits between the first two).
    pub store_counts: (u64, u64),
    /// `Thread.m_ThreadLocalDataPtr` (9, 10): the thread's `ThreadLocalData`, whose
    /// thread-static array the GC reports as a root without a handle. `None` on 8, whose
    /// thread statics are held by strong handles (gc-zoo-net8's pair: no object the GC
    /// kept is missed without it).
    pub local_data: Option<u64>,
}

/// Thread statics on 9 and 10: each thread's `ThreadLocalData` holds an `Object[]` of its
/// (non-collectible) thread statics, one entry per type, which the GC reports as a root
/// without a handle (`ScanThreadStaticRoots` reports that one slot, nothing else of the
/// structure: in-flight data and collectible types' thread statics are handles). A type's
/// entry comes from its `ThreadStaticsInfo`, which ends where its `MethodTableAuxiliaryData`
/// starts.
#[derive(Debug, Clone, Copy)]
pub struct ThreadStaticsLayout {
    /// `ThreadLocalData.pNonCollectibleTlsArrayData` (10 descriptor
    /// `ThreadLocalData.NonCollectibleTlsArrayData`; 9 the same on its dumps).
    pub non_collectible_array: u64,
    /// `ThreadLocalData.pThread`, back to the `Thread` (0 once the thread freed its data;
    /// not in the descriptor: seen on every live thread of the 9 and 10 GC pairs).
    pub thread: u64,
    /// `sizeof(ThreadStaticsInfo)` (10 descriptor: 40).
    pub info_size: u64,
    /// `ThreadStaticsInfo.GCTlsIndex` (u32; 10 descriptor: +4; on 9's dumps
    /// `DocProc.Zoo.ZooRoots` holds 2 there, its `PerThread` storage's index in every
    /// thread's array). Read only for types with thread statics.
    pub gc_tls_index: u64,
    /// `ThreadStaticsInfo.NonGCTlsIndex` (u32; 10 descriptor: +0): the entry of a type's
    /// non-GC thread statics (an `sbyte[]` whose data holds them: a field's value at its
    /// FieldDesc offset from the array, as the GC ones from theirs). On ops-net9/10
    /// `ProcessorIdCache` has 4 there (non-collectible array entry 2).
    pub non_gc_tls_index: u64,
    /// `ThreadLocalData.cNonCollectibleTlsData` (i32: the valid index offsets of the
    /// non-collectible array, counting its two header words), `cCollectibleTlsData`,
    /// `pCollectibleTlsArrayData` (handles), `pInFlightData` (10 descriptor:
    /// `NonCollectibleTlsDataCount` 0, `CollectibleTlsDataCount` 4,
    /// `CollectibleTlsArrayData` 16, `InFlightData` 32; the same on 9's dumps).
    pub non_collectible_count: u64,
    pub collectible_count: u64,
    pub collectible_array: u64,
    pub in_flight: u64,
    /// `InFlightTLSData`: `Next`, `TlsIndex` (u32), `TLSData` (a handle to the storage of
    /// a type whose class constructor had not finished when the thread first touched its
    /// thread statics: ops-net9/10's main thread holds `ProcessorIdCache`'s there).
    pub in_flight_next: u64,
    pub in_flight_index: u64,
    pub in_flight_data: u64,
    /// .NET 8's per-thread, per-module thread statics (`None` on 9 and 10).
    pub local_block: Option<ThreadLocalBlockLayout>,
}

/// .NET 8: a `Thread`'s `ThreadLocalBlock` holds a table of `ThreadLocalModule*`, one
/// entry (8 bytes) per module index; a `ThreadLocalModule` holds a strong handle to the
/// `Object[]` whose data is the module's GC thread-static block (a field's value at its
/// FieldDesc offset there). Read off zoo-net8-wks-heap: both threads dotnet-dump lists for
/// `ZooRoots.PerThread` have the table at `Thread+0x438` (size 0x10 next), the zoo module
/// (index 1) at entry 1, its `ThreadLocalModule`'s handle at +0x10 leading to an
/// `Object[1]` holding the value dotnet-dump prints; the modules' indexes (0, 1, 2, ... in
/// `dumpdomain`'s order) sit just after `Module.m_ModuleID`.
/// Initialized on the thread means bit 0 of the class's flags byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadLocalBlockLayout {
    /// `Thread.m_ThreadLocalBlock.m_pTLMTable`.
    pub table: u64,
    /// `Thread.m_ThreadLocalBlock.m_TLMTableSize` (entries).
    pub table_size: u64,
    /// `ThreadLocalModule.m_pGCStatics` (a strong handle to an `Object[]`).
    pub gc_statics_handle: u64,
    /// `ThreadLocalModule.m_pDataBlob`: a flags byte per class of the module, at the
    /// class's index (its TypeDef's RID - 1); bit 0 set once the class's thread statics
    /// are initialized on the thread (ops-net8-wks-heap: dotnet-dump lists
    /// `CultureInfo.s_currentThreadCulture` on the threads whose byte is 5, not on those
    /// whose byte is 0 though their `ThreadLocalModule` has its GC block).
    pub class_flags: u64,
    /// `Module.m_ModuleIndex`.
    pub module_index: u64,
}

/// On 8 thread statics sit behind strong handles; the 9/10 values are unused there.
const THREAD_STATICS: ThreadStaticsLayout =
    ThreadStaticsLayout {
        non_collectible_array: 8,
        thread: 24,
        info_size: 40,
        gc_tls_index: 4,
        non_gc_tls_index: 0,
        non_collectible_count: 0,
        collectible_count: 4,
        collectible_array: 16,
        in_flight: 32,
        in_flight_next: 0,
        in_flight_index: 8,
        in_flight_data: 16,
        local_block: None,
    };
const NET8_THREAD_STATICS: ThreadStaticsLayout = ThreadStaticsLayout {
    local_block: Some(ThreadLocalBlockLayout { table: 0x438, table_size: 0x440, gc_statics_handle: 0x10, class_flags: 0x18, module_index: 1232 }),
    ..THREAD_STATICS
};

/// A `TLSIndex`: the index type in the top 8 bits (0 = an entry of the non-collectible
/// array), the offset in the low 24; the array's entry is `offset - 2` (offsets count
/// the array object's two header words: `cNonCollectibleTlsData` is 12 for a 10-entry array).
pub const TLS_INDEX_OFFSET_MASK: u32 = 0x00ff_ffff;
pub const TLS_INDEX_TYPE_SHIFT: u32 = 24;
pub const TLS_INDEX_ARRAY_BASE: u32 = 2;

/// Where a type's static fields live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticsLayout {
    /// .NET 8: `Module + module_id` -> `DomainLocalModule*`. Non-GC statics are at
    /// `DomainLocalModule + field offset`; GC statics at
    /// `u64(DomainLocalModule + gc_statics) + field offset`. Generic instantiations and types of dynamic modules use "dynamic"
    /// statics instead, which SOS does not display.
    DomainLocalModule { module_id: u64, gc_statics: u64 },
    /// .NET 9 and 10: `MethodTable.AuxiliaryData` -> `MethodTableAuxiliaryData`; the
    /// `DynamicStaticsInfo` (`info_size` bytes) sits just before it: the GC statics base
    /// at `aux - info_size + gc_statics`, the non-GC one at `aux - info_size +
    /// non_gc_statics`, each and-ed with `pointer_mask` (the low bit is a flag).
    DynamicStaticsInfo { info_size: u64, gc_statics: u64, non_gc_statics: u64, pointer_mask: u64 },
}

/// A `LookupMap` (a module's RID -> pointer maps): a chain of segments, each
/// `{next, table, u32 count, flags mask}`; entry `rid` of the chain is `table[rid]` of
/// the segment holding it, less the flag bits.
#[derive(Debug, Clone, Copy)]
pub struct LookupMapLayout {
    pub next: u64,
    pub table: u64,
    pub count: u64,
    pub supported_flags_mask: u64,
}

/// How the type loader finds loaded types: the module's lookup maps and its table of
/// instantiated types (generic instantiations and arrays it is the loader module of).
#[derive(Debug, Clone, Copy)]
pub struct TypeLoaderLayout {
    /// `Module.m_TypeDefToMethodTableMap` (entry `rid` holds the `MethodTable*`).
    pub typedef_map: u64,
    /// `Module.m_TypeRefToMethodTableMap` (resolved TypeRefs).
    pub typeref_map: u64,
    pub lookup_map: LookupMapLayout,
    /// `Module.m_pAvailableParamTypes` (`EETypeHashTable*`: a `DacEnumerableHashTable`
    /// with its buckets at `hash_buckets`; bucket array: [0] length, [1] next, [2] end
    /// sentinel, then slots; a chain ends at an odd value).
    pub available_param_types: u64,
    /// `EETypeHashTable.Buckets`.
    pub hash_buckets: u64,
    /// An entry's TypeHandle (`VolatileEntryValue`) and next entry (`VolatileEntryNextEntry`).
    pub hash_entry_value: u64,
    pub hash_entry_next: u64,
    pub statics: StaticsLayout,
}

/// How an entry of the AppDomain's assembly list leads to its module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssemblyEntry {
    /// The entry is a `DomainAssembly*` holding the `Module*` at this offset (8: +24,
    /// 9: +16).
    ModuleAt(u64),
    /// The entry is a `DomainAssembly*` whose first field is the `Assembly*`, which holds
    /// the `Module*` at this offset (10: descriptor `Assembly.Module`, +16).
    AssemblyModuleAt(u64),
}

/// The AppDomain's list of loaded assemblies, in load order (what ClrMD, and so
/// `clrmodules`, enumerates): an `ArrayList` (`u32 count @0`, then the first block inline
/// at +8: `next @0`, `u32 size @8`, entries from +16; 10 descriptor `ArrayListBase`,
/// `ArrayListBlock`). Found on zoo-net8/9/10 (the only list of the AppDomain whose
/// entries lead to every module of ClrMD's `modules.tsv`, in its order).
#[derive(Debug, Clone, Copy)]
pub struct AssemblyListLayout {
    /// `AppDomain.m_Assemblies` (10: descriptor `DomainAssemblyList`, 576; 9: 1824;
    /// 8: 2544).
    pub list: u64,
    pub entry: AssemblyEntry,
}

/// Domains, assemblies, modules and load contexts as `dumpdomain`, `dumpassembly`,
/// `dumpmodule` and `dumpalc` show them. Read off the ops dumps of 8.0.33, 9.0.22 and
/// 10.0.12 (each value the one field holding what dotnet-dump prints there: the heaps'
/// addresses, "clrhost", each assembly's module, the maps' tables) and checked on the seed
/// and zoo dumps of 8.0.0 and the other GC modes; on 9 and 10 the descriptor's values are
/// taken where it has them.
#[derive(Debug, Clone, Copy)]
pub struct DomainLayout {
    // The loader allocator every domain uses and its heaps: `NativeHeapsLayout`.
    /// `AppDomain.m_friendlyName` (-> UTF-16, NUL-terminated).
    pub friendly_name: u64,
    /// `AppDomain.m_Stage` (u32); 10 has none (the DAC reports "open").
    pub stage: Option<u64>,
    /// `Module.m_pAssembly`.
    pub module_assembly: u64,
    /// The module's `LookupMap`s whose tables `dumpmodule` prints (the TypeDef and TypeRef
    /// maps are [`TypeLoaderLayout`]'s, the MethodDef map [`StackLayout`]'s).
    pub field_def_map: u64,
    pub member_ref_map: u64,
    pub module_ref_map: u64,
    /// `PEAssembly.m_pHostAssembly` (8, 9: the binder's assembly, whose binder is at
    /// `host_binder`); `None` on 10, where `PEAssembly.m_pAssemblyBinder` is at `binder`.
    pub host_assembly: Option<u64>,
    pub host_binder: u64,
    /// `PEAssembly.m_pFallbackBinder` (8, 9: the binder of an assembly with no host
    /// assembly, one emitted at run time) or `m_pAssemblyBinder` (10).
    pub binder: u64,
    /// `AssemblyBinder.m_ptrManagedAssemblyLoadContext`: a handle to the managed
    /// `AssemblyLoadContext`, 0 while it has none.
    pub binder_alc: u64,
}

/// TypeDescs: the TypeHandles with bit 1 set (pointers, byrefs, generic variables,
/// function pointers).
#[derive(Debug, Clone, Copy)]
pub struct TypeDescLayout {
    /// `TypeDesc.TypeAndFlags` (u32; the low byte is the CorElementType).
    pub type_and_flags: u64,
    /// `ParamTypeDesc::m_Arg` (the pointee of a pointer or byref TypeDesc). 9 and 10: the
    /// contract descriptor's `ParamTypeDesc.TypeArg` (16); zoo-net10: `void*` with
    /// System.Void there. 8: +8 (zoo-net8-wks-heap: CoreLib's table holds `void*` with
    /// System.Void at +8).
    pub param_type_arg: u64,
}

/// Objects, strings and arrays.
#[derive(Debug, Clone, Copy)]
pub struct ObjectLayout {
    /// Mask of the flag bits in an object's MethodTable pointer (global
    /// `ObjectToMethodTableUnmask`: the pointer is and-ed with its complement).
    pub mt_unmask: u64,
    /// The object header's u32 (thin lock, hash code or sync block index) is this many
    /// bytes before the object (global `SyncBlockValueToObjectOffset`).
    pub sync_block_value: u64,
    /// `String.m_StringLength` (u32) and `String.m_FirstChar` (UTF-16 from here).
    pub string_length: u64,
    pub string_first_char: u64,
    /// `Array.m_NumComponents` (u32).
    pub array_length: u64,
    /// The size of `Array` (the elements of a single-dimensional array start here).
    pub array_data: u64,
}

/// MethodDescs and their chunks: `ChunkIndex` (u8) counts `alignment`-byte units from
/// the chunk's end (`MethodDesc - ChunkIndex * alignment - chunk_size` is the chunk); the
/// token is the chunk's `FlagsAndTokenRange` (u16) above the MethodDesc's
/// `Flags3AndTokenRemainder` (u16, at +0) low `token_remainder_bits`.
#[derive(Debug, Clone, Copy)]
pub struct MethodDescLayout {
    pub chunk_index: u64,
    /// Global `MethodDescAlignment`.
    pub alignment: u64,
    /// The size of `MethodDescChunk`.
    pub chunk_size: u64,
    pub chunk_method_table: u64,
    /// `MethodDescChunk.Next` (the class's next chunk), `Size` (u8: the chunk's bytes
    /// after its header, in `alignment` units, minus one) and `Count` (u8: its
    /// MethodDescs, minus one).
    pub chunk_next: u64,
    pub chunk_units: u64,
    pub chunk_count: u64,
    pub chunk_token_range: u64,
    /// Global `MethodDescTokenRemainderBitCount`.
    pub token_remainder_bits: u64,
    /// `Slot` (u16).
    pub slot: u64,
    /// `Flags` (u16): classification (low 3 bits), `HasNonVtableSlot` 0x8, `MethodImpl`
    /// 0x10, `HasNativeCodeSlot` 0x20.
    pub flags: u64,
    /// The size of `MethodDesc` (8 on 8; 16 on 9 and 10, which add `CodeData`): an IL
    /// MethodDesc's optional slots follow it (non-vtable slot, MethodImpl's two
    /// pointers, native code slot, in that order).
    pub size: u64,
}

/// The code range map (`g_dacTable` entry 0, descriptor global
/// `ExecutionManagerCodeRangeMapAddress`): a RangeSectionMap whose leaves are
/// RangeSectionFragments pointing to RangeSections; a JIT code heap's `CodeHeapListNode`
/// has a nibble map; code starts after its `RealCodeHeader*`, which lists the method's
/// RUNTIME_FUNCTIONs. Same layout on 8, 9, 10 (10 descriptor; 8/9 checked on the lab
/// dumps, `docs/research/stack-roots.md` §1.4).
#[derive(Debug, Clone, Copy)]
pub struct CodeMapLayout {
    /// `RangeSectionMap.TopLevelData` (the top level's 256 entries, inline).
    pub top_level: u64,
    pub fragment_next: u64,
    pub fragment_begin: u64,
    pub fragment_end: u64,
    pub fragment_section: u64,
    pub section_begin: u64,
    /// `RangeSection.Flags` (u32; 2: a code heap).
    pub section_flags: u64,
    pub section_r2r_module: u64,
    pub section_heap_list: u64,
    pub section_next_for_delete: u64,
    pub heap_list_map_base: u64,
    pub heap_list_header_map: u64,
    pub code_header_gc_info: u64,
    pub code_header_method_desc: u64,
    /// `RealCodeHeader.NumUnwindInfos` (u32) and the inline array of RUNTIME_FUNCTIONs.
    pub code_header_num_unwind: u64,
    pub code_header_unwind: u64,
    /// `RuntimeFunction`: its size and its u32 fields.
    pub runtime_function_size: u64,
    pub runtime_function_begin: u64,
    pub runtime_function_end: u64,
    pub runtime_function_unwind: u64,
    /// Code header values up to this are stub kinds (global `StubCodeBlockLast`).
    pub stub_code_block_last: u64,
}

/// `System.Exception`'s fields as the runtime's `ExceptionObject` mirrors them (what the
/// DAC's `DacpExceptionObjectData`, and so `printexception`, reads). 9/10: descriptor
/// `Exception`; 8: the same references, `_xcode` and `_HResult` 8 bytes further (ops-net8:
/// the InvalidOperationException's 0xe0434352 and 0x80131509 at +112 and +116).
#[derive(Debug, Clone, Copy)]
pub struct ExceptionLayout {
    pub message: u64,
    pub inner_exception: u64,
    /// `_stackTrace`: the runtime's stack trace array (a `byte[]`, or an `object[]` whose
    /// first element is it).
    pub stack_trace: u64,
    pub stack_trace_string: u64,
    /// `_xcode` (u32: the exception code; 0xe0434352 for a managed throw).
    pub xcode: u64,
    /// `_HResult` (u32).
    pub hresult: u64,
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
    pub alloc_context: AllocContextLayout,
    pub type_loader: TypeLoaderLayout,
    pub type_desc: TypeDescLayout,
    pub object: ObjectLayout,
    pub method_desc: MethodDescLayout,
    /// Offset of the `gc_alloc_context` inside `g_global_alloc_context` (10: an
    /// `ee_alloc_context`, descriptor `EEAllocContext.GCAllocationContext`).
    pub global_alloc_context_offset: u64,
    pub handle_table: HandleTableLayout,
    pub collectible: CollectibleLayout,
    /// Expected `GcDacVars` major version.
    pub gc_dac_major: u8,
    /// Stack walking: Frames, code headers, GC info.
    pub stack: StackLayout,
    pub code_map: CodeMapLayout,
    /// The sync block table and sync blocks (`syncblk`).
    pub sync_block: SyncBlockLayout,
    /// The AppDomain's assemblies (`clrmodules`).
    pub assemblies: AssemblyListLayout,
    /// Exception objects (`printexception`, `dumpexceptions`).
    pub exception: ExceptionLayout,
    /// Thread statics (9, 10).
    pub thread_statics: ThreadStaticsLayout,
    /// The loader's and the JIT's native heaps (`eeheap -loader`).
    pub native_heaps: NativeHeapsLayout,
    /// Domains, assemblies, modules, load contexts (`dumpdomain`, `dumpmodule`, `dumpalc`).
    pub domains: DomainLayout,
}

/// Where the runtime's native heaps are (`eeheap -loader`): the loader heaps of the
/// global `LoaderAllocator` (every domain's on .NET 8+) and the JIT's code heaps. Read
/// off ops-net{8,9,10}-wks-heap: each heap's block list gives, block for block, the
/// addresses and sizes dotnet-dump prints (`eeheap.txt` of their truth), and the
/// `g_dacTable` entries hold the domains' and the JIT manager's addresses it prints.
#[derive(Debug, Clone, Copy)]
pub struct NativeHeapsLayout {
    // The SystemDomain itself: `DacLayout::system_domain`.
    /// `g_dacTable` index of `ExecutionManager::m_pEEJitManager` (-> `EEJitManager*`).
    pub jit_manager: usize,
    /// `SystemDomain.m_GlobalAllocator`, the `LoaderAllocator` held inline (10:
    /// descriptor `SystemDomain.GlobalLoaderAllocator`; 8, 9: the offset whose object
    /// handle field, at `collectible.object_handle`, is null and whose heaps are the truth's).
    pub global_allocator: u64,
    /// `LoaderAllocator`'s `LoaderHeap*` fields (10: descriptor `LoaderAllocator.*Heap`
    /// for the first three).
    pub low_frequency_heap: u64,
    pub high_frequency_heap: u64,
    pub stub_heap: u64,
    /// `m_pStaticsHeap` (9, 10; dotnet-dump names it `Unknown`).
    pub statics_heap: Option<u64>,
    pub executable_heap: u64,
    pub fixup_precode_heap: u64,
    pub new_stub_precode_heap: u64,
    /// `LoaderAllocator.m_pVirtualCallStubManager`, and in it `indcell_heap` and
    /// `cache_entry_heap`.
    pub stub_manager: u64,
    pub indcell_heap: u64,
    pub cache_entry_heap: u64,
    /// Where `LoaderCodeHeap`'s and `HostCodeHeap`'s vtables are in `g_dacTable`'s vtable
    /// part (`vptr_list.h` order): a code heap is told by its vtable, as the DAC does.
    pub loader_code_heap_vtable: usize,
    pub host_code_heap_vtable: usize,
}

/// Parts of the native heaps' structures that are the same on 8, 9 and 10 (x64 and arm64).
pub mod native_heap {
    /// `LoaderHeap.m_pFirstBlock` (after the vtable); an `ExplicitControlLoaderHeap` (a
    /// `LoaderCodeHeap`'s) has no vtable, and its first block is at +0.
    pub const LOADER_HEAP_FIRST_BLOCK: u64 = 8;
    pub const EXPLICIT_HEAP_FIRST_BLOCK: u64 = 0;
    /// `LoaderHeapBlock { pNext, pVirtualAddress, dwVirtualSize }`.
    pub const BLOCK_NEXT: u64 = 0;
    pub const BLOCK_ADDRESS: u64 = 8;
    pub const BLOCK_SIZE: u64 = 16;
    /// `EEJitManager.m_pCodeHeap` (-> `HeapList`).
    pub const JIT_MANAGER_CODE_HEAPS: u64 = 16;
    /// `HeapList { hpNext @0, pHeap @8 }` (10: descriptor `CodeHeapListNode.Next`).
    pub const HEAP_LIST_NEXT: u64 = 0;
    pub const HEAP_LIST_HEAP: u64 = 8;
    /// `LoaderCodeHeap.m_LoaderHeap` (an `ExplicitControlLoaderHeap`, after the vtable).
    pub const LOADER_CODE_HEAP_LOADER_HEAP: u64 = 8;
    /// `HostCodeHeap.m_pBaseAddr` and `m_pLastAvailableCommittedAddr`.
    pub const HOST_CODE_HEAP_BASE: u64 = 24;
    pub const HOST_CODE_HEAP_COMMITTED_END: u64 = 32;
}

/// `g_pSyncTable` holds `SyncTableEntry { SyncBlock* +0, Object* +8 }` (16 bytes; 9/10
/// descriptor `SyncTableEntry`, 8 the same on the zoo dump); entry 0 is unused, a free
/// entry's object has bit 0 set. A SyncBlock starts with its `AwareLock`: `u32 lockState
/// @0` (bit 0 locked, waiters from bit 6: dotnet-dump's MonitorHeld is `locked + 2 *
/// waiters`, the runtime's `GetMonitorHeldState`), `u32 m_Recursion @4`, the owner @8.
/// Read off zoo-net8/9/10 (the parked thread's lock: state 1, recursion 1, owner the
/// parked thread) and checked against dotnet-dump's `syncblk` on every lab dump.
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
    /// The size of a `SyncTableEntry` and where its `SyncBlock*` and `Object*` are.
    pub entry_size: u64,
    pub entry_sync_block: u64,
    pub entry_object: u64,
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
    /// `Frame+0` is a vtable pointer equal to the `g_dacTable` entry this many entries
    /// into its vtable part (8, 9).
    Vtable(&'static [(usize, FrameKind)]),
    /// `Frame+0` is a `FrameIdentifier` value (10; descriptor globals `*FrameIdentifier`).
    Identifier([(u64, FrameKind); 18]),
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
    /// `Frame.Next` (the chain ends at -1).
    pub frame_next: u64,
    /// `Thread.m_CacheStackBase`, the top (highest address) of the thread's stack
    /// (observed on the lab dumps, research §1.1: the only Thread field pointing just past
    /// every thread's stack mapping; not in the descriptors).
    pub thread_stack_base: u64,
    pub frame_identity: FrameIdentity,
    /// GcInfo encoding version of JIT-compiled code (8, 9: 3; 10: 4, descriptor global
    /// `GCInfoVersion`). ReadyToRun images choose by their own major version.
    pub gc_info_version: u64,
    /// `InlinedCallFrame.CallSiteSP`, `.CallerReturnAddress`, `.CalleeSavedFP` (9/10: the
    /// 10 descriptor; 8: 32, 40, 48, read off ops-net8's socket thread, whose Frame holds
    /// one more field before them).
    pub icf_call_site_sp: u64,
    pub icf_caller_return_address: u64,
    pub icf_callee_saved_fp: u64,
    /// `TransitionBlock.ReturnAddress`, `.CalleeSavedRegisters` and its size (10
    /// descriptor; 8/9 the same).
    pub transition_block_return_address: u64,
    pub transition_block_callee_saved: u64,
    pub transition_block_size: u64,
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
    /// `InstantiatedMethodDesc`: `m_pPerInstInfo` (-> the method's type arguments),
    /// `m_wFlags2` and `m_wNumGenericArgs` (9/10: descriptor 24, 32, 34; 8: 16, 24, 26,
    /// read off ops-net8's `Recurse<__Canon>`, whose MethodDesc is 8 bytes shorter: no
    /// code data pointer).
    pub instantiated_method_desc: (u64, u64, u64),
    /// `FramedMethodFrame.m_pTransitionBlock` (10: descriptor; 8/9 assumed the same).
    pub framed_method_transition_block: u64,
    /// `FaultingExceptionFrame.m_ctx` (10: descriptor; unknown on 8/9).
    pub faulting_exception_context: Option<u64>,
    /// `SoftwareExceptionFrame.m_Context` (10: descriptor).
    pub software_exception_context: Option<u64>,
    /// `ResumableFrame.m_Regs` (a pointer to a CONTEXT; 10: descriptor).
    pub resumable_context_ptr: Option<u64>,
}

/// `vptr_list.h` order of the Frame classes on 8.0, as offsets from the first vtable entry
/// of `g_dacTable` (found in the dump: [`crate::runtime::dac_table`]). Anchored on the
/// dumps: on 8.0.33 (vtables from 97) 126 = DebuggerU2MCatchHandlerFrame (bottom of every
/// secondary thread) and 130 = HelperMethodFrame_1OBJ (ClrMD's frame name for
/// Monitor.Wait's root); on 8.0.0 (vtables from 95) the same frames at 124 and 128.
static NET8_FRAMES: [(usize, FrameKind); 25] = vptr_frames(26);
/// The same order on 9.0, anchored on 9.0.22 (vtables from 99): 128 =
/// DebuggerU2MCatchHandlerFrame and 137 = InlinedCallFrame (both seen on zoo-net9). Kinds
/// after InlinedCallFrame are UNVERIFIED (9 added SoftwareExceptionFrame somewhere).
static NET9_FRAMES: [(usize, FrameKind); 25] = vptr_frames(26);

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
const NET10_FRAMES: [(u64, FrameKind); 18] = {
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

/// MethodTable flag bits (`MTFlags`); not in the contract descriptor (its
/// RuntimeTypeSystem contract knows them by version), the same on 8, 9 and 10.
pub const MTF_HAS_COMPONENT_SIZE: u32 = 0x8000_0000;
pub const MTF_CATEGORY_ARRAY_MASK: u32 = 0x000C_0000;
pub const MTF_CATEGORY_ARRAY: u32 = 0x0008_0000;
pub const MTF_CATEGORY_VALUETYPE: u32 = 0x0004_0000;
pub const MTF_IS_SZARRAY: u32 = 0x0002_0000;
pub const MTF_HAS_FINALIZER: u32 = 0x0010_0000;
pub const MTF_CONTAINS_POINTERS: u32 = 0x0100_0000;
pub const MTF_GENERICS_MASK: u32 = 0x0000_0030;

/// Where an object's fields start: after its MethodTable pointer (FieldDesc offsets of
/// instance fields count from here; not in the descriptor, the pointer size on 8, 9, 10).
pub const OBJECT_DATA: u64 = 8;

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

/// Values the same on 8, 9 and 10.
const METHOD_TABLE: MethodTableLayout = MethodTableLayout {
    flags: 0,
    base_size: 4,
    flags2: 8,
    token: TokenField::UpperBitsOfFlags2,
    parent: 16,
    module: 24,
    ee_class_or_canon: 40,
    per_inst_info: 48,
    aux_data: 32,
    aux_flags: 0,
    aux_loader_module: 8,
    collectible_flag: 0x0020_0000,
    module_is_loader_module: false,
    num_virtuals: 12,
    num_interfaces: 14,
    vtable: 64,
    non_virtual_slots: NonVirtualSlots::BeforeAuxData,
};
const ALLOC_CONTEXT: AllocContextLayout = AllocContextLayout { pointer: 0, limit: 8 };
const LOOKUP_MAP: LookupMapLayout = LookupMapLayout {
    next: 0,
    table: 8,
    count: 16,
    supported_flags_mask: 24,
};
const OBJECT: ObjectLayout = ObjectLayout {
    mt_unmask: 7,
    sync_block_value: 4,
    string_length: 8,
    string_first_char: 12,
    array_length: 8,
    array_data: 16,
};
/// 12 token remainder bits on 8, 9, 10 (8 checked on every CoreLib MethodDesc of zoo-net8).
const METHOD_DESC: MethodDescLayout = MethodDescLayout {
    chunk_index: 2,
    alignment: 8,
    chunk_size: 24,
    chunk_method_table: 0,
    chunk_next: 8,
    chunk_units: 16,
    chunk_count: 17,
    chunk_token_range: 18,
    token_remainder_bits: 12,
    slot: 4,
    flags: 6,
    size: 16,
};
const CODE_MAP: CodeMapLayout = CodeMapLayout {
    top_level: 0,
    fragment_next: 0,
    fragment_begin: 8,
    fragment_end: 16,
    fragment_section: 24,
    section_begin: 0,
    section_flags: 16,
    section_r2r_module: 32,
    section_heap_list: 40,
    section_next_for_delete: 64,
    heap_list_map_base: 32,
    heap_list_header_map: 40,
    code_header_gc_info: 16,
    code_header_method_desc: 24,
    code_header_num_unwind: 32,
    code_header_unwind: 36,
    runtime_function_size: 12,
    runtime_function_begin: 0,
    runtime_function_end: 4,
    runtime_function_unwind: 8,
    stub_code_block_last: 0xf,
};

pub static NET8: Layout = Layout {
    major: 8,
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
        app_domain: 21,
        system_domain: 22,
        gc_thread: 18,
        // 8.0.33; 8.0.0 has it at 76 (one global fewer before it).
        fcall_range: Some(77),
        vptr_start: Some(97),
    },
    method_table: MethodTableLayout {
        token: TokenField::U16At10,
        collectible_flag: 0x1000_0000,
        module_is_loader_module: true,
        non_virtual_slots: NonVirtualSlots::Multipurpose,
        ..METHOD_TABLE
    },
    ee_class: EEClassLayout {
        method_table: 16,
        field_desc_list: 24,
        chunks: 32,
        counts: EEClassCounts::Packed,
        array_rank: 56,
    },
    module: ModuleLayout {
        pe_assembly: 272,
        pe_image: 8,
        loaded_layout: 120,
        image_path: 16,
        image_base: 8,
        image_size: 16,
        image_flags: 20,
        dynamic_metadata: DynamicMetadata::SBuffer { module_field: 1688 },
        dynamic_il_table: 1312,
    },
    thread: ThreadLayout {
        first_link: 160,
        link: 232,
        managed_id: 32,
        os_id: 424,
        alloc_context: AllocContextPlace::Inline(88),
        // ops-net8-wks-heap: +8 holds each thread's `clrthreads` State (2021220 ...);
        // +464 the handle to the InvalidOperationException `clrthreads` lists on the
        // two threads parked in a catch handler (managed ids 15, 16), 0 on the others.
        state: 8,
        preemptive_gc_disabled: 12,
        last_thrown_object: 464,
        exception_tracker: None,
        store_counts: (184, 192),
        local_data: None,
    },
    alloc_context: ALLOC_CONTEXT,
    // Found on zoo-net8-wks-heap by content: the TypeDef map entry of a type's token is
    // its MethodTable (Cat, String, Point), the TypeRef map resolves scenarios.dll's
    // reference to System.String, the param-type table walks to its 14/1564 entries (its
    // `m_pModule` is the module), and DomainLocalModule statics give the values
    // dotnet-dump prints (DocumentMetadata.Authors on seed-net8, String.Empty, Thread's
    // non-GC statics on zoo-net8).
    type_loader: TypeLoaderLayout {
        typedef_map: 752,
        typeref_map: 8,
        lookup_map: LOOKUP_MAP,
        available_param_types: 968,
        hash_buckets: 16,
        hash_entry_value: 0,
        hash_entry_next: 8,
        statics: StaticsLayout::DomainLocalModule {
            module_id: 1224,
            gc_statics: 32,
        },
    },
    // `typedesc.h` of 8 (no lab dump holds such a type: unverified on a dump).
    type_desc: TypeDescLayout { type_and_flags: 0, param_type_arg: 8 },
    object: OBJECT,
    method_desc: MethodDescLayout { size: 8, ..METHOD_DESC },
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
        entry_size: 16,
        entry_sync_block: 0,
        entry_object: 8,
    },
    exception: ExceptionLayout {
        message: 16,
        inner_exception: 32,
        stack_trace: 48,
        stack_trace_string: 64,
        xcode: 112,
        hresult: 116,
    },
    assemblies: AssemblyListLayout {
        list: 2544,
        entry: AssemblyEntry::ModuleAt(24),
    },
    stack: StackLayout {
        thread_frame: 16,
        frame_next: 8,
        thread_stack_base: 248,
        frame_identity: FrameIdentity::Vtable(&NET8_FRAMES),
        gc_info_version: 3,
        // ops-net8's socket thread: the frame holds an 8-byte field more before these
        // (the call-site SP and return address there are the managed caller's that
        // dotnet-dump prints).
        icf_call_site_sp: 32,
        icf_caller_return_address: 40,
        icf_callee_saved_fp: 48,
        transition_block_return_address: 96,
        transition_block_callee_saved: 48,
        transition_block_size: 104,
        module_method_def_to_desc: 784,
        helper_frame_machine_state: Some(48),
        helper_frame_gc_ptrs: 232,
        helper_frame_method_desc: 16,
        helper_frame_fcall_entry: 40,
        fcall_methods: Some(79),
        instantiated_method_desc: (16, 24, 26),
        framed_method_transition_block: 16,
        faulting_exception_context: None,
        software_exception_context: None,
        resumable_context_ptr: None,
    },
    code_map: CODE_MAP,
    thread_statics: NET8_THREAD_STATICS,
    native_heaps: NativeHeapsLayout {
        jit_manager: 4,
        global_allocator: 2560,
        low_frequency_heap: 912,
        high_frequency_heap: 920,
        stub_heap: 928,
        statics_heap: None,
        executable_heap: 944,
        fixup_precode_heap: 960,
        new_stub_precode_heap: 968,
        stub_manager: 2088,
        indcell_heap: 488,
        cache_entry_heap: 496,
        loader_code_heap_vtable: 56,
        host_code_heap_vtable: 57,
    },
    domains: DomainLayout {
        friendly_name: 2928,
        stage: Some(3128),
        module_assembly: 296,
        field_def_map: 816,
        member_ref_map: 72,
        module_ref_map: 40,
        host_assembly: Some(0x38),
        host_binder: 0x20,
        binder: 0x40,
        binder_alc: 224,
    },
};

pub static NET9: Layout = Layout {
    major: 9,
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
        app_domain: 21,
        system_domain: 22,
        gc_thread: 18,
        fcall_range: Some(79),
        vptr_start: Some(99),
    },
    method_table: METHOD_TABLE,
    ee_class: EEClassLayout {
        method_table: 16,
        field_desc_list: 24,
        chunks: 32,
        counts: EEClassCounts::Fixed {
            num_instance_fields: 50,
            num_methods: 52,
            num_static_fields: 54,
        },
        array_rank: 72,
    },
    module: ModuleLayout {
        pe_assembly: 280,
        pe_image: 8,
        loaded_layout: 120,
        image_path: 16,
        image_base: 8,
        image_size: 16,
        image_flags: 20,
        dynamic_metadata: DynamicMetadata::SizePrefixed { module_field: 1120, size: 0, data: 4 },
        dynamic_il_table: 1072,
    },
    thread: ThreadLayout {
        first_link: 160,
        link: 112,
        managed_id: 16,
        os_id: 296,
        alloc_context: AllocContextPlace::Indirect {
            pointer: 32,
            context: 0,
            gc_context: 0,
        },
        // Descriptor `Thread.State`, `Thread.LastThrownObject`; ops-net{9,10}-wks-heap
        // agree with `clrthreads` (State, Exception).
        state: 0,
        preemptive_gc_disabled: 4,
        last_thrown_object: 336,
        exception_tracker: Some(352),
        store_counts: (184, 188),
        // Not in 9's descriptor; found on the gc pairs: the only Thread field pointing at
        // a ThreadLocalData whose `pThread` (+24) points back, on every live thread.
        local_data: Some(928),
    },
    alloc_context: ALLOC_CONTEXT,
    // Maps: 9 descriptor (`Module.TypeDefToMethodTableMap` 624, `TypeRefToMethodTableMap`
    // 8); the param-type table (808) found by content on zoo-net9-wks-heap as for 8.
    // Statics: `DynamicStaticsInfo` (24 bytes) before the auxiliary data (@32), checked
    // against DocumentMetadata.Authors on seed-net9-wks-heap.
    type_loader: TypeLoaderLayout {
        typedef_map: 624,
        typeref_map: 8,
        lookup_map: LOOKUP_MAP,
        available_param_types: 808,
        hash_buckets: 16,
        hash_entry_value: 0,
        hash_entry_next: 8,
        statics: StaticsLayout::DynamicStaticsInfo {
            info_size: 24,
            gc_statics: 0,
            non_gc_statics: 8,
            pointer_mask: !1,
        },
    },
    type_desc: TypeDescLayout { type_and_flags: 0, param_type_arg: 16 },
    object: OBJECT,
    method_desc: METHOD_DESC,
    global_alloc_context_offset: 0,
    handle_table: HandleTableLayout {
        segment_list: 48,
        segment_next: 1992,
        data_block_type: 11,
    },
    collectible: CollectibleLayout {
        loader_module: LoaderModulePlace::AuxiliaryData,
        module_loader_allocator: 248,
        object_handle: 1128,
    },
    gc_dac_major: 2,
    sync_block: SyncBlockLayout {
        cache: 83,
        cache_free_index: 180,
        cache_table_size: 192,
        holder: LockHolder::ThreadPointer,
        entry_size: 16,
        entry_sync_block: 0,
        entry_object: 8,
    },
    exception: ExceptionLayout {
        message: 16,
        inner_exception: 32,
        stack_trace: 48,
        stack_trace_string: 64,
        xcode: 104,
        hresult: 108,
    },
    assemblies: AssemblyListLayout {
        list: 1824,
        entry: AssemblyEntry::ModuleAt(16),
    },
    stack: StackLayout {
        thread_frame: 8,
        frame_next: 8,
        thread_stack_base: 120,
        frame_identity: FrameIdentity::Vtable(&NET9_FRAMES),
        gc_info_version: 3,
        icf_call_site_sp: 24,
        icf_caller_return_address: 32,
        icf_callee_saved_fp: 40,
        transition_block_return_address: 96,
        transition_block_callee_saved: 48,
        transition_block_size: 104,
        module_method_def_to_desc: 656,
        helper_frame_machine_state: Some(48),
        helper_frame_gc_ptrs: 232,
        helper_frame_method_desc: 16,
        helper_frame_fcall_entry: 40,
        fcall_methods: Some(81),
        instantiated_method_desc: (24, 32, 34),
        framed_method_transition_block: 16,
        faulting_exception_context: None,
        software_exception_context: None,
        resumable_context_ptr: None,
    },
    code_map: CODE_MAP,
    thread_statics: THREAD_STATICS,
    native_heaps: NativeHeapsLayout {
        jit_manager: 4,
        global_allocator: 1840,
        low_frequency_heap: 1056,
        high_frequency_heap: 1064,
        stub_heap: 1080,
        statics_heap: Some(1072),
        executable_heap: 1096,
        fixup_precode_heap: 1112,
        new_stub_precode_heap: 1120,
        stub_manager: 2408,
        indcell_heap: 488,
        cache_entry_heap: 496,
        loader_code_heap_vtable: 55,
        host_code_heap_vtable: 56,
    },
    domains: DomainLayout {
        friendly_name: 2208,
        stage: Some(2408),
        module_assembly: 312,
        field_def_map: 720,
        member_ref_map: 72,
        module_ref_map: 40,
        host_assembly: Some(0x38),
        host_binder: 0x20,
        binder: 0x40,
        binder_alc: 224,
    },
};

pub static NET10: Layout = Layout {
    major: 10,
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
        app_domain: 20,
        system_domain: 21,
        gc_thread: 17,
        fcall_range: None,
        vptr_start: None,
    },
    method_table: METHOD_TABLE,
    ee_class: EEClassLayout {
        method_table: 16,
        field_desc_list: 24,
        chunks: 32,
        counts: EEClassCounts::Fixed {
            num_instance_fields: 50,
            num_methods: 52,
            num_static_fields: 54,
        },
        array_rank: 72,
    },
    module: ModuleLayout {
        pe_assembly: 216,
        pe_image: 8,
        loaded_layout: 128,
        image_path: 16,
        image_base: 8,
        image_size: 16,
        image_flags: 20,
        dynamic_metadata: DynamicMetadata::SizePrefixed { module_field: 840, size: 0, data: 4 },
        dynamic_il_table: 792,
    },
    thread: ThreadLayout {
        first_link: 88,
        link: 112,
        managed_id: 16,
        os_id: 296,
        alloc_context: AllocContextPlace::Indirect {
            pointer: 32,
            context: 0,
            gc_context: 8,
        },
        // Descriptor `Thread.State`, `Thread.LastThrownObject`; ops-net{9,10}-wks-heap
        // agree with `clrthreads` (State, Exception).
        state: 0,
        preemptive_gc_disabled: 4,
        last_thrown_object: 336,
        exception_tracker: Some(352),
        store_counts: (112, 116),
        // Descriptor `Thread.ThreadLocalDataPtr`.
        local_data: Some(568),
    },
    alloc_context: ALLOC_CONTEXT,
    // 10 descriptor: `Module.TypeDefToMethodTableMap` 416, `TypeRefToMethodTableMap` 8,
    // `AvailableTypeParams` 600, `MethodTable.AuxiliaryData` 32, `DynamicStaticsInfo`
    // (size 24: GCStatics @0, NonGCStatics @8), `StaticsPointerMask` ~1. Checked on
    // zoo-net10-wks-heap and seed-net10-wks-heap as for 9.
    type_loader: TypeLoaderLayout {
        typedef_map: 416,
        typeref_map: 8,
        lookup_map: LOOKUP_MAP,
        available_param_types: 600,
        hash_buckets: 16,
        hash_entry_value: 0,
        hash_entry_next: 8,
        statics: StaticsLayout::DynamicStaticsInfo {
            info_size: 24,
            gc_statics: 0,
            non_gc_statics: 8,
            pointer_mask: !1,
        },
    },
    type_desc: TypeDescLayout { type_and_flags: 0, param_type_arg: 16 },
    object: OBJECT,
    method_desc: METHOD_DESC,
    global_alloc_context_offset: 8,
    handle_table: HandleTableLayout {
        segment_list: 56,
        segment_next: 1998,
        data_block_type: 12,
    },
    collectible: CollectibleLayout {
        loader_module: LoaderModulePlace::AuxiliaryData,
        module_loader_allocator: 176,
        object_handle: 752,
    },
    gc_dac_major: 2,
    sync_block: SyncBlockLayout {
        cache: 79,
        cache_free_index: 108,
        cache_table_size: 120,
        holder: LockHolder::ManagedThreadId,
        entry_size: 16,
        entry_sync_block: 0,
        entry_object: 8,
    },
    exception: ExceptionLayout {
        message: 16,
        inner_exception: 32,
        stack_trace: 48,
        stack_trace_string: 64,
        xcode: 104,
        hresult: 108,
    },
    assemblies: AssemblyListLayout {
        list: 576,
        entry: AssemblyEntry::AssemblyModuleAt(16),
    },
    stack: StackLayout {
        thread_frame: 8,
        frame_next: 8,
        thread_stack_base: 120,
        frame_identity: FrameIdentity::Identifier(NET10_FRAMES),
        gc_info_version: 4,
        icf_call_site_sp: 24,
        icf_caller_return_address: 32,
        icf_callee_saved_fp: 40,
        transition_block_return_address: 96,
        transition_block_callee_saved: 48,
        transition_block_size: 104,
        module_method_def_to_desc: 448,
        helper_frame_machine_state: None,
        helper_frame_gc_ptrs: 0,
        helper_frame_method_desc: 0,
        helper_frame_fcall_entry: 0,
        fcall_methods: None,
        instantiated_method_desc: (24, 32, 34),
        framed_method_transition_block: 16,
        faulting_exception_context: Some(32),
        software_exception_context: Some(288),
        resumable_context_ptr: Some(16),
    },
    code_map: CODE_MAP,
    thread_statics: THREAD_STATICS,
    native_heaps: NativeHeapsLayout {
        jit_manager: 4,
        global_allocator: 16,
        low_frequency_heap: 688,
        high_frequency_heap: 696,
        stub_heap: 712,
        statics_heap: Some(704),
        executable_heap: 720,
        fixup_precode_heap: 736,
        new_stub_precode_heap: 744,
        stub_manager: 1808,
        indcell_heap: 408,
        cache_entry_heap: 416,
        loader_code_heap_vtable: 29,
        host_code_heap_vtable: 30,
    },
    domains: DomainLayout {
        friendly_name: 1080,
        stage: None,
        module_assembly: 248,
        field_def_map: 512,
        member_ref_map: 72,
        module_ref_map: 40,
        host_assembly: None,
        host_binder: 0,
        binder: 64,
        binder_alc: 224,
    },
};

/// .NET 10 on linux-arm64: `NET10` with what sits after architecture-sized members moved
/// (10.0.12 arm64 contract descriptor: `Thread.LinkNext` 152, `Thread.OSId` 336,
/// `Thread.LastThrownObject` 376, all 40 bytes further than on x64; `m_CacheStackBase`,
/// not in the descriptor, found on seed-arm64-wks-full the way research §1.1 found x64's:
/// the one field pointing just past every thread's stack mapping, 40 bytes further too),
/// and the structures of the architecture's own (`TransitionBlock`, `RUNTIME_FUNCTION`,
/// `RangeSection`'s tail). The rest of the descriptor's types are the same on both
/// (compared type by type). Like every table, these are defaults: the descriptor's values
/// are taken at open.
pub static NET10_ARM64: Layout = Layout {
    thread: ThreadLayout {
        link: 152,
        os_id: 336,
        // Descriptor `Thread.LastThrownObject` (40 bytes further too).
        last_thrown_object: 376,
        exception_tracker: Some(392),
        // descriptor `Thread.ThreadLocalDataPtr` on 10.0.12 arm64.
        local_data: Some(608),
        ..NET10.thread
    },
    stack: StackLayout {
        thread_stack_base: 160,
        // descriptor `SoftwareExceptionFrame.TargetContext` (the arm64 CONTEXT is smaller).
        software_exception_context: Some(192),
        // descriptor `TransitionBlock`: fp, lr and x19..x28 first, then the arguments.
        transition_block_callee_saved: 0,
        transition_block_return_address: 8,
        transition_block_size: 176,
        ..NET10.stack
    },
    // descriptor `RangeSection.NextForDelete` 56 and `RuntimeFunction` {BeginAddress 0,
    // UnwindData 4} (8 bytes; the end comes from the unwind data).
    code_map: CodeMapLayout {
        section_next_for_delete: 56,
        runtime_function_size: 8,
        runtime_function_unwind: 4,
        ..CODE_MAP
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

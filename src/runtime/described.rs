//! A runtime's [`Layout`]: the per-version tables of [`super::layouts`], with every value
//! the runtime's contract descriptor describes taken from the descriptor.
//!
//! [`BINDINGS`] is the one list of which layout value is which descriptor entry: a type's
//! field offset, a type's size (`"!"`), or a literal global. [`resolve`] starts from the
//! version's table and overwrites each bound value the descriptor holds, so a servicing
//! build that moves a field reads right; where the descriptor is silent the table stays.
//! A descriptor that is damaged never makes things worse than the table: a value out of
//! range, or an entry the lab's builds of that version have but this descriptor lacks,
//! keeps the table's value and adds a warning. The same list drives the tests: that the
//! descriptor and the tables agree on the lab's builds, and that clrheap still reads the
//! lab's 9 and 10 dumps right when every bound table value is deliberately wrong
//! ([`scramble_tables`]).
//!
//! The runtime's pointer globals (`FreeObjectMethodTable`, `ThreadStore`, ...: addresses,
//! not layout) are applied in [`super::Runtime::discover`], checked against `g_dacTable`.
use super::contract::ContractDescriptor;
use super::layouts::*;
use std::cell::Cell;

/// Largest field offset or type size taken from a descriptor (the largest clrheap uses
/// is `SoftwareExceptionFrame`'s 3,520 bytes; the largest offset any descriptor of the lab
/// publishes, `StressLogChunk.Sig2`, is 32,788).
pub const MAX_DESCRIBED_OFFSET: u64 = 1 << 16;

/// What a descriptor entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// `types.TYPE.FIELD`: a field offset.
    Field(&'static str, &'static str),
    /// `types.TYPE."!"`: the type's size.
    Size(&'static str),
    /// `globals.NAME`: a literal value.
    Global(&'static str),
}

impl Source {
    /// The entry's value in a descriptor.
    pub fn value_in(self, d: &ContractDescriptor) -> Option<u64> {
        match self {
            Source::Field(ty, field) => d.field(ty, field),
            Source::Size(ty) => d.field(ty, "!"),
            Source::Global(name) => d.global(name),
        }
    }

    fn is_offset(self) -> bool {
        !matches!(self, Source::Global(_))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Field(ty, field) => write!(f, "{ty}.{field}"),
            Source::Size(ty) => write!(f, "sizeof({ty})"),
            Source::Global(name) => write!(f, "global {name}"),
        }
    }
}

/// One layout value the contract descriptor describes.
pub struct Binding {
    pub source: Source,
    /// The first major version whose descriptor has the entry (in the lab's builds: 9.0.22
    /// and 10.0.12). From that version on, a descriptor without it is damaged.
    pub since: u32,
    /// The only architecture whose descriptor has the entry (as the descriptor's
    /// `Architecture` global names it), for an entry of an architecture-specific type.
    pub only_on: Option<&'static str>,
    /// The layout value (`None` when this version's layout has no such value: a .NET 8
    /// variant of an enum).
    target: fn(&mut Layout) -> Option<&mut u64>,
    /// Whether a described value is plausible (field offsets and sizes also stay below
    /// [`MAX_DESCRIBED_OFFSET`]).
    plausible: fn(u64) -> bool,
}

impl Binding {
    /// The value in a layout.
    pub fn get(&self, layout: &Layout) -> Option<u64> {
        let mut copy = *layout;
        (self.target)(&mut copy).map(|v| *v)
    }

    /// Whether a descriptor of runtime version `major` for `arch` (its `Architecture`
    /// global: `x64`, `arm64`) must have the entry.
    pub fn expected(&self, major: u32, arch: Option<&str>) -> bool {
        major >= self.since && self.only_on.is_none_or(|a| arch.is_none_or(|x| x == a))
    }

    /// Whether `value` may be taken from a descriptor.
    pub fn accepts(&self, value: u64) -> bool {
        (!self.source.is_offset() || value <= MAX_DESCRIBED_OFFSET) && (self.plausible)(value)
    }
}

fn any(_: u64) -> bool {
    true
}

const fn field(since: u32, ty: &'static str, name: &'static str, target: fn(&mut Layout) -> Option<&mut u64>) -> Binding {
    Binding { source: Source::Field(ty, name), since, only_on: None, target, plausible: any }
}

/// A field only one architecture's descriptor has.
const fn arch_field(
    since: u32,
    arch: &'static str,
    ty: &'static str,
    name: &'static str,
    target: fn(&mut Layout) -> Option<&mut u64>,
) -> Binding {
    Binding { source: Source::Field(ty, name), since, only_on: Some(arch), target, plausible: any }
}

const fn size(since: u32, ty: &'static str, target: fn(&mut Layout) -> Option<&mut u64>) -> Binding {
    Binding { source: Source::Size(ty), since, only_on: None, target, plausible: any }
}

const fn global(
    since: u32,
    name: &'static str,
    target: fn(&mut Layout) -> Option<&mut u64>,
    plausible: fn(u64) -> bool,
) -> Binding {
    Binding { source: Source::Global(name), since, only_on: None, target, plausible }
}

fn frame_id(l: &mut Layout, kind: FrameKind) -> Option<&mut u64> {
    match &mut l.stack.frame_identity {
        FrameIdentity::Identifier(ids) => ids.iter_mut().find(|(_, k)| *k == kind).map(|(id, _)| id),
        FrameIdentity::Vtable(_) => None,
    }
}

fn frame_identifier(v: u64) -> bool {
    v != 0 && v < 1 << 16
}

/// Every layout value a contract descriptor describes, by the descriptor's names.
pub static BINDINGS: &[Binding] = &[
    // MethodTable
    field(9, "MethodTable", "MTFlags", |l| Some(&mut l.method_table.flags)),
    field(9, "MethodTable", "BaseSize", |l| Some(&mut l.method_table.base_size)),
    field(9, "MethodTable", "MTFlags2", |l| Some(&mut l.method_table.flags2)),
    field(9, "MethodTable", "ParentMethodTable", |l| Some(&mut l.method_table.parent)),
    field(9, "MethodTable", "Module", |l| Some(&mut l.method_table.module)),
    field(9, "MethodTable", "EEClassOrCanonMT", |l| Some(&mut l.method_table.ee_class_or_canon)),
    field(9, "MethodTable", "PerInstInfo", |l| Some(&mut l.method_table.per_inst_info)),
    field(10, "MethodTable", "AuxiliaryData", |l| Some(&mut l.method_table.aux_data)),
    field(10, "MethodTableAuxiliaryData", "Flags", |l| Some(&mut l.method_table.aux_flags)),
    field(10, "MethodTableAuxiliaryData", "LoaderModule", |l| Some(&mut l.method_table.aux_loader_module)),
    size(10, "DynamicStaticsInfo", |l| match &mut l.type_loader.statics {
        StaticsLayout::DynamicStaticsInfo { info_size, .. } => Some(info_size),
        _ => None,
    }),
    field(10, "DynamicStaticsInfo", "GCStatics", |l| match &mut l.type_loader.statics {
        StaticsLayout::DynamicStaticsInfo { gc_statics, .. } => Some(gc_statics),
        _ => None,
    }),
    field(10, "DynamicStaticsInfo", "NonGCStatics", |l| match &mut l.type_loader.statics {
        StaticsLayout::DynamicStaticsInfo { non_gc_statics, .. } => Some(non_gc_statics),
        _ => None,
    }),
    global(
        10,
        "StaticsPointerMask",
        |l| match &mut l.type_loader.statics {
            StaticsLayout::DynamicStaticsInfo { pointer_mask, .. } => Some(pointer_mask),
            _ => None,
        },
        any,
    ),
    // EEClass
    field(9, "EEClass", "MethodTable", |l| Some(&mut l.ee_class.method_table)),
    field(10, "EEClass", "FieldDescList", |l| Some(&mut l.ee_class.field_desc_list)),
    field(10, "EEClass", "NumInstanceFields", |l| match &mut l.ee_class.counts {
        EEClassCounts::Fixed { num_instance_fields, .. } => Some(num_instance_fields),
        EEClassCounts::Packed => None,
    }),
    field(10, "EEClass", "NumStaticFields", |l| match &mut l.ee_class.counts {
        EEClassCounts::Fixed { num_static_fields, .. } => Some(num_static_fields),
        EEClassCounts::Packed => None,
    }),
    field(9, "EEClass", "NumMethods", |l| match &mut l.ee_class.counts {
        EEClassCounts::Fixed { num_methods, .. } => Some(num_methods),
        EEClassCounts::Packed => None,
    }),
    field(10, "EEClass", "MethodDescChunk", |l| Some(&mut l.ee_class.chunks)),
    field(9, "ArrayClass", "Rank", |l| Some(&mut l.ee_class.array_rank)),
    // TypeDesc
    field(9, "TypeDesc", "TypeAndFlags", |l| Some(&mut l.type_desc.type_and_flags)),
    field(9, "ParamTypeDesc", "TypeArg", |l| Some(&mut l.type_desc.param_type_arg)),
    // Module and its maps
    field(9, "Module", "TypeDefToMethodTableMap", |l| Some(&mut l.type_loader.typedef_map)),
    field(9, "Module", "TypeRefToMethodTableMap", |l| Some(&mut l.type_loader.typeref_map)),
    field(9, "Module", "MethodDefToDescMap", |l| Some(&mut l.stack.module_method_def_to_desc)),
    field(9, "Module", "LoaderAllocator", |l| Some(&mut l.collectible.module_loader_allocator)),
    field(9, "Module", "DynamicMetadata", |l| match &mut l.module.dynamic_metadata {
        DynamicMetadata::SizePrefixed { module_field, .. } => Some(module_field),
        DynamicMetadata::SBuffer { .. } => None,
    }),
    field(9, "DynamicMetadata", "Size", |l| match &mut l.module.dynamic_metadata {
        DynamicMetadata::SizePrefixed { size, .. } => Some(size),
        DynamicMetadata::SBuffer { .. } => None,
    }),
    field(9, "DynamicMetadata", "Data", |l| match &mut l.module.dynamic_metadata {
        DynamicMetadata::SizePrefixed { data, .. } => Some(data),
        DynamicMetadata::SBuffer { .. } => None,
    }),
    field(10, "Module", "AvailableTypeParams", |l| Some(&mut l.type_loader.available_param_types)),
    field(10, "Module", "PEAssembly", |l| Some(&mut l.module.pe_assembly)),
    field(9, "ModuleLookupMap", "TableData", |l| Some(&mut l.type_loader.lookup_map.table)),
    field(10, "ModuleLookupMap", "Next", |l| Some(&mut l.type_loader.lookup_map.next)),
    field(10, "ModuleLookupMap", "Count", |l| Some(&mut l.type_loader.lookup_map.count)),
    field(10, "ModuleLookupMap", "SupportedFlagsMask", |l| Some(&mut l.type_loader.lookup_map.supported_flags_mask)),
    field(10, "EETypeHashTable", "Buckets", |l| Some(&mut l.type_loader.hash_buckets)),
    field(10, "EETypeHashTable", "VolatileEntryValue", |l| Some(&mut l.type_loader.hash_entry_value)),
    field(10, "EETypeHashTable", "VolatileEntryNextEntry", |l| Some(&mut l.type_loader.hash_entry_next)),
    field(10, "PEAssembly", "PEImage", |l| Some(&mut l.module.pe_image)),
    field(10, "PEImage", "LoadedImageLayout", |l| Some(&mut l.module.loaded_layout)),
    field(10, "PEImageLayout", "Base", |l| Some(&mut l.module.image_base)),
    field(10, "PEImageLayout", "Size", |l| Some(&mut l.module.image_size)),
    field(10, "PEImageLayout", "Flags", |l| Some(&mut l.module.image_flags)),
    // Threads
    field(9, "ThreadStore", "FirstThreadLink", |l| Some(&mut l.thread.first_link)),
    field(9, "Thread", "LinkNext", |l| Some(&mut l.thread.link)),
    field(9, "Thread", "Id", |l| Some(&mut l.thread.managed_id)),
    field(9, "Thread", "OSId", |l| Some(&mut l.thread.os_id)),
    field(9, "Thread", "State", |l| Some(&mut l.thread.state)),
    field(9, "Thread", "LastThrownObject", |l| Some(&mut l.thread.last_thrown_object)),
    field(9, "Thread", "Frame", |l| Some(&mut l.stack.thread_frame)),
    field(9, "Thread", "RuntimeThreadLocals", |l| match &mut l.thread.alloc_context {
        AllocContextPlace::Indirect { pointer, .. } => Some(pointer),
        AllocContextPlace::Inline(_) => None,
    }),
    field(9, "RuntimeThreadLocals", "AllocContext", |l| match &mut l.thread.alloc_context {
        AllocContextPlace::Indirect { context, .. } => Some(context),
        AllocContextPlace::Inline(_) => None,
    }),
    field(10, "EEAllocContext", "GCAllocationContext", |l| match &mut l.thread.alloc_context {
        AllocContextPlace::Indirect { gc_context, .. } => Some(gc_context),
        AllocContextPlace::Inline(_) => None,
    }),
    field(10, "EEAllocContext", "GCAllocationContext", |l| Some(&mut l.global_alloc_context_offset)),
    field(9, "Thread", "PreemptiveGCDisabled", |l| Some(&mut l.thread.preemptive_gc_disabled)),
    field(9, "Thread", "ExceptionTracker", |l| l.thread.exception_tracker.as_mut()),
    field(9, "ThreadStore", "ThreadCount", |l| Some(&mut l.thread.store_counts.0)),
    field(9, "ThreadStore", "UnstartedCount", |l| Some(&mut l.thread.store_counts.1)),
    field(10, "AppDomain", "DomainAssemblyList", |l| Some(&mut l.assemblies.list)),
    // Domains, assemblies, modules, load contexts (dumpdomain, dumpmodule, dumpalc)
    field(9, "Module", "Assembly", |l| Some(&mut l.domains.module_assembly)),
    field(9, "Module", "FieldDefToDescMap", |l| Some(&mut l.domains.field_def_map)),
    field(9, "Module", "MemberRefToDescMap", |l| Some(&mut l.domains.member_ref_map)),
    field(9, "Module", "ManifestModuleReferencesMap", |l| Some(&mut l.domains.module_ref_map)),
    field(10, "AppDomain", "FriendlyName", |l| Some(&mut l.domains.friendly_name)),
    field(10, "PEAssembly", "AssemblyBinder", |l| Some(&mut l.domains.binder)),
    field(10, "AssemblyBinder", "AssemblyLoadContext", |l| Some(&mut l.domains.binder_alc)),
    field(10, "Assembly", "Module", |l| match &mut l.assemblies.entry {
        AssemblyEntry::AssemblyModuleAt(off) => Some(off),
        AssemblyEntry::ModuleAt(_) => None,
    }),
    field(9, "GCAllocContext", "Pointer", |l| Some(&mut l.alloc_context.pointer)),
    field(9, "GCAllocContext", "Limit", |l| Some(&mut l.alloc_context.limit)),
    // Thread statics (9's descriptor has none of these)
    field(10, "Thread", "ThreadLocalDataPtr", |l| l.thread.local_data.as_mut()),
    field(10, "ThreadLocalData", "NonCollectibleTlsArrayData", |l| Some(&mut l.thread_statics.non_collectible_array)),
    size(10, "ThreadStaticsInfo", |l| Some(&mut l.thread_statics.info_size)),
    field(10, "ThreadStaticsInfo", "GCTlsIndex", |l| Some(&mut l.thread_statics.gc_tls_index)),
    field(10, "ThreadStaticsInfo", "NonGCTlsIndex", |l| Some(&mut l.thread_statics.non_gc_tls_index)),
    field(10, "ThreadLocalData", "NonCollectibleTlsDataCount", |l| Some(&mut l.thread_statics.non_collectible_count)),
    field(10, "ThreadLocalData", "CollectibleTlsDataCount", |l| Some(&mut l.thread_statics.collectible_count)),
    field(10, "ThreadLocalData", "CollectibleTlsArrayData", |l| Some(&mut l.thread_statics.collectible_array)),
    field(10, "ThreadLocalData", "InFlightData", |l| Some(&mut l.thread_statics.in_flight)),
    field(10, "InFlightTLSData", "Next", |l| Some(&mut l.thread_statics.in_flight_next)),
    field(10, "InFlightTLSData", "TlsIndex", |l| Some(&mut l.thread_statics.in_flight_index)),
    field(10, "InFlightTLSData", "TLSData", |l| Some(&mut l.thread_statics.in_flight_data)),
    // Objects
    field(9, "Exception", "_message", |l| Some(&mut l.exception.message)),
    field(9, "Exception", "_innerException", |l| Some(&mut l.exception.inner_exception)),
    field(9, "Exception", "_stackTrace", |l| Some(&mut l.exception.stack_trace)),
    field(9, "Exception", "_stackTraceString", |l| Some(&mut l.exception.stack_trace_string)),
    field(9, "Exception", "_xcode", |l| Some(&mut l.exception.xcode)),
    field(9, "Exception", "_HResult", |l| Some(&mut l.exception.hresult)),
    field(9, "String", "m_StringLength", |l| Some(&mut l.object.string_length)),
    field(9, "String", "m_FirstChar", |l| Some(&mut l.object.string_first_char)),
    field(9, "Array", "m_NumComponents", |l| Some(&mut l.object.array_length)),
    size(9, "Array", |l| Some(&mut l.object.array_data)),
    global(9, "ObjectToMethodTableUnmask", |l| Some(&mut l.object.mt_unmask), |v| v < 64 && (v + 1).is_power_of_two()),
    global(9, "SyncBlockValueToObjectOffset", |l| Some(&mut l.object.sync_block_value), |v| (4..=16).contains(&v)),
    // Sync blocks
    size(9, "SyncTableEntry", |l| Some(&mut l.sync_block.entry_size)),
    field(9, "SyncTableEntry", "SyncBlock", |l| Some(&mut l.sync_block.entry_sync_block)),
    // MethodDescs
    field(9, "MethodDesc", "ChunkIndex", |l| Some(&mut l.method_desc.chunk_index)),
    size(9, "MethodDescChunk", |l| Some(&mut l.method_desc.chunk_size)),
    field(9, "MethodDescChunk", "MethodTable", |l| Some(&mut l.method_desc.chunk_method_table)),
    field(9, "MethodDescChunk", "Next", |l| Some(&mut l.method_desc.chunk_next)),
    field(9, "MethodDescChunk", "Size", |l| Some(&mut l.method_desc.chunk_units)),
    field(9, "MethodDescChunk", "Count", |l| Some(&mut l.method_desc.chunk_count)),
    field(9, "MethodDescChunk", "FlagsAndTokenRange", |l| Some(&mut l.method_desc.chunk_token_range)),
    global(9, "MethodDescAlignment", |l| Some(&mut l.method_desc.alignment), |v| v.is_power_of_two() && v <= 64),
    global(9, "MethodDescTokenRemainderBitCount", |l| Some(&mut l.method_desc.token_remainder_bits), |v| {
        (1..=24).contains(&v)
    }),
    field(9, "InstantiatedMethodDesc", "PerInstInfo", |l| Some(&mut l.stack.instantiated_method_desc.0)),
    field(9, "InstantiatedMethodDesc", "Flags2", |l| Some(&mut l.stack.instantiated_method_desc.1)),
    field(9, "InstantiatedMethodDesc", "NumGenericArgs", |l| Some(&mut l.stack.instantiated_method_desc.2)),
    // Frames
    field(10, "Frame", "Next", |l| Some(&mut l.stack.frame_next)),
    field(10, "InlinedCallFrame", "CallSiteSP", |l| Some(&mut l.stack.icf_call_site_sp)),
    field(10, "InlinedCallFrame", "CallerReturnAddress", |l| Some(&mut l.stack.icf_caller_return_address)),
    field(10, "InlinedCallFrame", "CalleeSavedFP", |l| Some(&mut l.stack.icf_callee_saved_fp)),
    field(10, "FramedMethodFrame", "TransitionBlockPtr", |l| Some(&mut l.stack.framed_method_transition_block)),
    field(10, "TransitionBlock", "ReturnAddress", |l| Some(&mut l.stack.transition_block_return_address)),
    field(10, "TransitionBlock", "CalleeSavedRegisters", |l| Some(&mut l.stack.transition_block_callee_saved)),
    size(10, "TransitionBlock", |l| Some(&mut l.stack.transition_block_size)),
    field(10, "FaultingExceptionFrame", "TargetContext", |l| l.stack.faulting_exception_context.as_mut()),
    field(10, "SoftwareExceptionFrame", "TargetContext", |l| l.stack.software_exception_context.as_mut()),
    field(10, "ResumableFrame", "TargetContextPtr", |l| l.stack.resumable_context_ptr.as_mut()),
    global(10, "GCInfoVersion", |l| Some(&mut l.stack.gc_info_version), |v| (1..=16).contains(&v)),
    global(10, "InlinedCallFrameIdentifier", |l| frame_id(l, FrameKind::InlinedCall), frame_identifier),
    global(10, "ResumableFrameIdentifier", |l| frame_id(l, FrameKind::Resumable), frame_identifier),
    global(10, "RedirectedThreadFrameIdentifier", |l| frame_id(l, FrameKind::RedirectedThread), frame_identifier),
    global(10, "FaultingExceptionFrameIdentifier", |l| frame_id(l, FrameKind::FaultingException), frame_identifier),
    global(10, "SoftwareExceptionFrameIdentifier", |l| frame_id(l, FrameKind::SoftwareException), frame_identifier),
    global(10, "FuncEvalFrameIdentifier", |l| frame_id(l, FrameKind::FuncEval), frame_identifier),
    global(10, "PInvokeCalliFrameIdentifier", |l| frame_id(l, FrameKind::PInvokeCalli), frame_identifier),
    global(10, "HijackFrameIdentifier", |l| frame_id(l, FrameKind::Hijack), frame_identifier),
    global(10, "PrestubMethodFrameIdentifier", |l| frame_id(l, FrameKind::PrestubMethod), frame_identifier),
    global(10, "CallCountingHelperFrameIdentifier", |l| frame_id(l, FrameKind::CallCountingHelper), frame_identifier),
    global(10, "StubDispatchFrameIdentifier", |l| frame_id(l, FrameKind::StubDispatch), frame_identifier),
    global(10, "ExternalMethodFrameIdentifier", |l| frame_id(l, FrameKind::ExternalMethod), frame_identifier),
    global(10, "DynamicHelperFrameIdentifier", |l| frame_id(l, FrameKind::DynamicHelper), frame_identifier),
    global(10, "ProtectValueClassFrameIdentifier", |l| frame_id(l, FrameKind::ProtectValueClass), frame_identifier),
    global(10, "DebuggerClassInitMarkFrameIdentifier", |l| frame_id(l, FrameKind::DebuggerClassInitMark), frame_identifier),
    global(10, "DebuggerExitFrameIdentifier", |l| frame_id(l, FrameKind::DebuggerExit), frame_identifier),
    global(10, "DebuggerU2MCatchHandlerFrameIdentifier", |l| frame_id(l, FrameKind::DebuggerU2MCatchHandler), frame_identifier),
    global(10, "ExceptionFilterFrameIdentifier", |l| frame_id(l, FrameKind::ExceptionFilter), frame_identifier),
    // Code map
    field(10, "RangeSectionMap", "TopLevelData", |l| Some(&mut l.code_map.top_level)),
    field(10, "RangeSectionFragment", "Next", |l| Some(&mut l.code_map.fragment_next)),
    field(10, "RangeSectionFragment", "RangeBegin", |l| Some(&mut l.code_map.fragment_begin)),
    field(10, "RangeSectionFragment", "RangeEndOpen", |l| Some(&mut l.code_map.fragment_end)),
    field(10, "RangeSectionFragment", "RangeSection", |l| Some(&mut l.code_map.fragment_section)),
    field(10, "RangeSection", "RangeBegin", |l| Some(&mut l.code_map.section_begin)),
    field(10, "RangeSection", "Flags", |l| Some(&mut l.code_map.section_flags)),
    field(10, "RangeSection", "R2RModule", |l| Some(&mut l.code_map.section_r2r_module)),
    field(10, "RangeSection", "HeapList", |l| Some(&mut l.code_map.section_heap_list)),
    field(10, "RangeSection", "NextForDelete", |l| Some(&mut l.code_map.section_next_for_delete)),
    field(10, "CodeHeapListNode", "MapBase", |l| Some(&mut l.code_map.heap_list_map_base)),
    field(10, "CodeHeapListNode", "HeaderMap", |l| Some(&mut l.code_map.heap_list_header_map)),
    field(10, "RealCodeHeader", "GCInfo", |l| Some(&mut l.code_map.code_header_gc_info)),
    field(10, "RealCodeHeader", "MethodDesc", |l| Some(&mut l.code_map.code_header_method_desc)),
    field(10, "RealCodeHeader", "NumUnwindInfos", |l| Some(&mut l.code_map.code_header_num_unwind)),
    field(10, "RealCodeHeader", "UnwindInfos", |l| Some(&mut l.code_map.code_header_unwind)),
    size(10, "RuntimeFunction", |l| Some(&mut l.code_map.runtime_function_size)),
    field(10, "RuntimeFunction", "BeginAddress", |l| Some(&mut l.code_map.runtime_function_begin)),
    // arm64's RUNTIME_FUNCTION has no end.
    arch_field(10, "x64", "RuntimeFunction", "EndAddress", |l| Some(&mut l.code_map.runtime_function_end)),
    field(10, "RuntimeFunction", "UnwindData", |l| Some(&mut l.code_map.runtime_function_unwind)),
    // The global LoaderAllocator and its loader heaps (`eeheap -loader`).
    field(10, "SystemDomain", "GlobalLoaderAllocator", |l| Some(&mut l.native_heaps.global_allocator)),
    field(10, "LoaderAllocator", "LowFrequencyHeap", |l| Some(&mut l.native_heaps.low_frequency_heap)),
    field(10, "LoaderAllocator", "HighFrequencyHeap", |l| Some(&mut l.native_heaps.high_frequency_heap)),
    field(10, "LoaderAllocator", "StubHeap", |l| Some(&mut l.native_heaps.stub_heap)),
    global(10, "StubCodeBlockLast", |l| Some(&mut l.code_map.stub_code_block_last), |v| v < 0x100),
];

/// The runtime's pointer globals the descriptor publishes (9, 10) and the `g_dacTable`
/// entry of the same global: both hold the global variable's address.
pub static POINTER_GLOBALS: &[(&str, fn(&mut DacTableIndices) -> &mut usize)] = &[
    ("FreeObjectMethodTable", |d| &mut d.free_mt),
    ("StringMethodTable", |d| &mut d.string_mt),
    ("ObjectMethodTable", |d| &mut d.object_mt),
    ("ExceptionMethodTable", |d| &mut d.exception_mt),
    ("ThreadStore", |d| &mut d.thread_store),
    ("FinalizerThread", |d| &mut d.finalizer_thread),
    ("AppDomain", |d| &mut d.app_domain),
    ("GCThread", |d| &mut d.gc_thread),
    ("SyncTableEntries", |d| &mut d.sync_table),
];

/// The layout of a runtime: `table` (the version's defaults) with every value the
/// descriptor describes taken from it. Implausible values and entries missing since
/// their version keep the table's value; each such case is named in a warning.
pub fn resolve(table: &Layout, descriptor: Option<&ContractDescriptor>, warnings: &mut Vec<String>) -> Layout {
    let mut layout = *table;
    let Some(d) = descriptor else { return layout };
    let mut missing = Vec::new();
    let mut rejected = Vec::new();
    let arch = d.string("Architecture");
    for b in BINDINGS {
        let Some(slot) = (b.target)(&mut layout) else { continue };
        match b.source.value_in(d) {
            Some(v) if b.accepts(v) => *slot = v,
            Some(v) => rejected.push(format!("{} = {v:#x}", b.source)),
            None if b.expected(table.major, arch) => missing.push(b.source.to_string()),
            None => {}
        }
    }
    if !rejected.is_empty() {
        warnings.push(format!(
            "the runtime's contract descriptor has implausible values ({}): clrheap's own {}.0 layout is used for them",
            rejected.join(", "),
            table.major
        ));
    }
    if !missing.is_empty() {
        warnings.push(format!(
            "the runtime's contract descriptor lacks {}: clrheap's own {}.0 layout is used for them",
            missing.join(", "),
            table.major
        ));
    }
    layout
}

thread_local! {
    static SCRAMBLED: Cell<bool> = const { Cell::new(false) };
}

/// Test hook: while on, runtimes opened on this thread start from tables whose values
/// bound to the descriptor (from their version on, and the `g_dacTable` indices of the
/// pointer globals) are all wrong, so only what the descriptor supplies can make them
/// read right. Off by default; per thread, so other tests are not affected.
#[doc(hidden)]
pub fn scramble_tables(on: bool) {
    SCRAMBLED.with(|s| s.set(on));
}

/// The version's table for a process of `arch`, scrambled when [`scramble_tables`] is on
/// for this thread.
pub(crate) fn table_for_open(table: &'static Layout, arch: &str) -> Layout {
    let mut layout = *table;
    if SCRAMBLED.with(Cell::get) {
        scramble(&mut layout, arch);
    }
    layout
}

/// Makes every value of a 9+ table that the descriptor of a process of `arch` describes
/// wrong (and wrong in the way that reads plausibly: a shifted offset reads a
/// neighbouring field).
pub fn scramble(layout: &mut Layout, arch: &str) {
    let major = layout.major;
    for b in BINDINGS.iter().filter(|b| b.expected(major, Some(arch))) {
        if let Some(v) = (b.target)(layout) {
            *v = v.wrapping_mul(3).wrapping_add(8);
        }
    }
    if major >= 9 {
        for (_, index) in POINTER_GLOBALS {
            let i = index(&mut layout.dac);
            *i = i.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(json: &str) -> ContractDescriptor {
        ContractDescriptor::parse(json.as_bytes(), &[]).expect("parses")
    }

    #[test]
    fn no_descriptor_keeps_the_table() {
        let mut w = Vec::new();
        let l = resolve(&NET9, None, &mut w);
        assert!(w.is_empty());
        for b in BINDINGS {
            assert_eq!(b.get(&l), b.get(&NET9), "{}", b.source);
        }
    }

    #[test]
    fn the_descriptor_wins_over_the_table() {
        let json = r#"{"types":{"MethodTable":{"BaseSize":12,"MTFlags2":[20,"uint32"]},
            "Thread":{"OSId":"0x200"}},"globals":{"MethodDescTokenRemainderBitCount":["0xd","uint8"]}}"#;
        let mut w = Vec::new();
        let l = resolve(&NET10, Some(&descriptor(json)), &mut w);
        assert_eq!(l.method_table.base_size, 12);
        assert_eq!(l.method_table.flags2, 20);
        assert_eq!(l.thread.os_id, 0x200);
        assert_eq!(l.method_desc.token_remainder_bits, 13);
        // Everything else the 10 descriptor should have is missing: the table stays.
        assert_eq!(l.method_table.flags, NET10.method_table.flags);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("lacks MethodTable.MTFlags,"), "{w:?}");
    }

    #[test]
    fn implausible_values_keep_the_table() {
        let json = r#"{"types":{"MethodTable":{"BaseSize":1099511627776,"Module":-8},
            "Array":{"!":"0x7fffffffffffffff"}},
            "globals":{"MethodDescTokenRemainderBitCount":"99","MethodDescAlignment":"12",
            "ObjectToMethodTableUnmask":"0x8","GCInfoVersion":"0"}}"#;
        let mut w = Vec::new();
        let l = resolve(&NET10, Some(&descriptor(json)), &mut w);
        assert_eq!(l.method_table.base_size, 4);
        assert_eq!(l.method_table.module, 24);
        assert_eq!(l.object.array_data, 16);
        assert_eq!(l.method_desc.token_remainder_bits, 12);
        assert_eq!(l.method_desc.alignment, 8);
        assert_eq!(l.object.mt_unmask, 7);
        assert_eq!(l.stack.gc_info_version, 4);
        let implausible = w.iter().find(|w| w.contains("implausible")).expect("a warning");
        for name in ["MethodTable.BaseSize", "MethodTable.Module", "sizeof(Array)", "GCInfoVersion"] {
            assert!(implausible.contains(name), "{name}: {implausible}");
        }
    }

    /// A descriptor with the table's value of every binding of its version, less those
    /// `leave_out` names, plus `extra` fields and JSON globals.
    fn descriptor_of(table: &Layout, leave_out: &[Source], extra: &[(&str, &str, u64)], globals: &str) -> ContractDescriptor {
        let mut types: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        let mut globals: Vec<String> = [globals.to_string()].into_iter().filter(|g| !g.is_empty()).collect();
        for b in BINDINGS.iter().filter(|b| b.since <= table.major && !leave_out.contains(&b.source)) {
            let v = b.get(table).expect("a value");
            match b.source {
                Source::Field(t, f) => types.entry(t).or_default().push(format!("\"{f}\":{v}")),
                Source::Size(t) => types.entry(t).or_default().push(format!("\"!\":{v}")),
                Source::Global(g) => globals.push(format!("\"{g}\":\"{v:#x}\"")),
            }
        }
        for (t, f, v) in extra {
            types.entry(t).or_default().push(format!("\"{f}\":{v}"));
        }
        let types: Vec<String> = types.iter().map(|(t, f)| format!("\"{t}\":{{{}}}", f.join(","))).collect();
        descriptor(&format!(r#"{{"types":{{{}}},"globals":{{{}}}}}"#, types.join(","), globals.join(",")))
    }

    #[test]
    fn entries_newer_than_the_version_are_not_missing() {
        // A 9 descriptor without 10's entries: no warning; with one of them: it is used.
        let d = descriptor_of(&NET9, &[], &[("EEClass", "FieldDescList", 32)], "");
        let mut w = Vec::new();
        let l = resolve(&NET9, Some(&d), &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(l.ee_class.field_desc_list, 32);
        assert_eq!(l.thread.os_id, NET9.thread.os_id);
    }

    #[test]
    fn entries_of_another_architecture_are_not_missing() {
        let end = Source::Field("RuntimeFunction", "EndAddress");
        for (arch, warned) in [("arm64", false), ("x64", true)] {
            let d = descriptor_of(&NET10, &[end], &[], &format!(r#""Architecture":["{arch}","string"]"#));
            assert_eq!(d.string("Architecture"), Some(arch));
            let mut w = Vec::new();
            resolve(&NET10, Some(&d), &mut w);
            assert_eq!(w.iter().any(|w| w.contains("lacks RuntimeFunction.EndAddress:")), warned, "{arch}: {w:?}");
        }
    }

    #[test]
    fn scrambling_changes_every_bound_value() {
        for table in [&NET9, &NET10] {
            let mut l = *table;
            scramble(&mut l, "x64");
            for b in BINDINGS.iter().filter(|b| b.since <= table.major) {
                assert_ne!(b.get(&l), b.get(table), "{}.0 {}", table.major, b.source);
            }
            assert_ne!(l.dac.free_mt, table.dac.free_mt);
        }
        let mut l = NET8;
        scramble(&mut l, "x64");
        assert_eq!(l.method_table.flags, NET8.method_table.flags);
        assert_eq!(l.dac.free_mt, NET8.dac.free_mt);
    }

    #[test]
    fn every_bound_value_exists_from_its_version_on() {
        for table in [&NET9, &NET10] {
            for b in BINDINGS.iter().filter(|b| b.since <= table.major) {
                assert!(b.get(table).is_some(), "{}.0 {}", table.major, b.source);
            }
        }
    }
}

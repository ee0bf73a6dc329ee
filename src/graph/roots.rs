//! Roots as dotnet-dump's root commands see them (its `RootCacheService`): every handle,
//! the finalizer queue's f-reachable objects, and the threads' stack roots found by the
//! precise stack walk, each under the text of its frame; beyond it, each live thread's
//! thread-static array (9, 10), which the GC reports as a root; and the chains from a root to
//! an object described as `gcroot` prints them (types, dependent-handle links, the
//! static field a chain hangs from).
//!
//! Gathered once per session ([`RootCache::gather`]); liveness ([`super::live`]) and the
//! dominator tree ([`RootCache::dominators`]) start from them.
use super::dominators::Dominators;
use super::gcroot::{DependentEdges, PathFinder};
use super::{ObjectGraph, ReverseEdges};
use crate::heap::statics::StaticsIndex;
use crate::heap::{GcDesc, Handle, HandleKind, Heap, Root, RootKind};
use crate::runtime::stack::StackFrameKind;
use crate::warnings::Warnings;
use anyhow::Result;
use std::sync::Arc;

/// The roots dotnet-dump's root commands use, gathered once per session (its
/// `RootCacheService`).
pub struct RootCache {
    /// Every handle in use, in handle-table order.
    pub all_handles: Vec<Handle>,
    /// The handles that are roots for dotnet-dump (ClrMD's `IsStrong`), in order.
    pub handles: Vec<Root>,
    /// The finalizer queue's f-reachable objects, heap by heap.
    pub finalizer: Vec<Root>,
    /// Stack roots, thread by thread (managed threads in thread-store order), each thread's
    /// in the order of its stack walk.
    pub stack: Vec<StackRootEntry>,
    /// Each live thread's thread-static array (9, 10; the GC's root, unknown to dotnet-dump).
    pub thread_statics: Vec<Root>,
    /// The frame lines of [`StackRootEntry::frame`].
    pub frames: Vec<String>,
    /// Dependent handles as object ids, for following and for marking `(dependent
    /// handle)` links: made on first use over the graph ([`RootCache::dependents`]), since
    /// roots gathered for `dumpheap -live` need no object table.
    dependents: std::sync::OnceLock<DependentEdges>,
    /// The same as `(primary, secondary)` addresses.
    pub dependent_pairs: Vec<(u64, u64)>,
    /// `dependent_pairs` sorted, made on first use ([`RootCache::is_dependent_link`]).
    sorted_pairs: std::sync::OnceLock<Vec<(u64, u64)>>,
}

impl RootCache {
    /// Gathers the roots of `heap` (`objects` resolves stack references: the object
    /// graph, or the object-start bitmap of [`super::marks`]); what cannot be read (a
    /// thread's stack, say) is reported to `warnings` and left out.
    pub fn gather(heap: &Heap, objects: &dyn ObjectStarts, warnings: &Warnings) -> Result<RootCache> {
        let all_handles = heap.handles()?;
        let handles = crate::heap::roots::handle_roots(&all_handles, true);
        let finalizer = heap.finalizer_roots()?;
        let (stack, frames) = stack_roots(heap, objects, warnings);
        let (thread_statics, skipped) = heap.thread_static_roots();
        for w in skipped {
            warnings.warn(w);
        }
        let pairs: Vec<(u64, u64)> = all_handles
            .iter()
            .filter(|h| h.kind == crate::heap::HandleKind::Dependent)
            .map(|h| (h.object, h.extra))
            .collect();
        Ok(RootCache {
            all_handles,
            handles,
            finalizer,
            stack,
            frames,
            thread_statics,
            dependents: std::sync::OnceLock::new(),
            dependent_pairs: pairs,
            sorted_pairs: std::sync::OnceLock::new(),
        })
    }

    /// The dependent handles as ids of `graph` (the graph of the session these roots
    /// were gathered in), made on first use.
    pub fn dependents(&self, graph: &ObjectGraph) -> &DependentEdges {
        self.dependents.get_or_init(|| DependentEdges::new(graph, &self.dependent_pairs))
    }

    /// Whether a dependent handle has primary `from` and secondary `to` (addresses):
    /// a chain's link made by a dependent handle.
    pub fn is_dependent_link(&self, from: u64, to: u64) -> bool {
        let sorted = self.sorted_pairs.get_or_init(|| {
            let mut pairs = self.dependent_pairs.clone();
            pairs.sort_unstable();
            pairs
        });
        sorted.binary_search(&(from, to)).is_ok()
    }

    /// Every root: handles, the finalizer queue, stacks, thread statics.
    pub fn all_roots(&self) -> Vec<Root> {
        let stack = self.stack.iter().map(|e| e.root);
        self.handles
            .iter()
            .chain(&self.finalizer)
            .copied()
            .chain(stack)
            .chain(self.thread_statics.iter().copied())
            .collect()
    }

    /// The dominator tree of the graph from these roots (dependent handles as edges);
    /// `Err` when Ctrl-C ended it ([`Dominators::compute`]).
    pub fn dominators(&self, graph: &ObjectGraph, edges: super::Edges) -> Result<Dominators, crate::interrupt::Cancelled> {
        self.dominators_in(graph, edges, None)
    }

    /// [`RootCache::dominators`], written straight into the index when `index` is given
    /// ([`Dominators::compute_in`]).
    pub fn dominators_in(&self, graph: &ObjectGraph, edges: super::Edges, index: Option<(&super::index::IndexDir, u64)>) -> Result<Dominators, crate::interrupt::Cancelled> {
        let ids = |a: u64| graph.id_of(a).filter(|&id| !graph.is_free(id));
        let root_ids: Vec<_> = self.all_roots().iter().filter_map(|r| ids(r.object)).collect();
        let dependents: Vec<_> = self
            .dependent_pairs
            .iter()
            .filter_map(|&(p, s)| Some((ids(p)?, ids(s)?)))
            .collect();
        Dominators::compute_in(graph, edges, &root_ids, &dependents, index)
    }
}

/// A stack root as gcroot prints it.
#[derive(Debug, Clone)]
pub struct StackRootEntry {
    /// The root; for an interior pointer, `object` is the object ClrMD attributes it to.
    pub root: Root,
    /// Index of the frame line printed above the root in [`RootCache::frames`]. Roots of
    /// one frame share it, as they share ClrMD's `ClrStackFrame`.
    pub frame: usize,
    /// The root's own line: `        rbp-8: 00007fa54c9fdc08`.
    pub line: String,
}

fn stack_root(os_thread_id: u32, address: u64, object: u64, pinned: bool, conservative: bool) -> Root {
    Root {
        kind: RootKind::Stack {
            os_thread_id,
            register: None,
            conservative,
        },
        address,
        object,
        pinned,
    }
}

/// gcroot's line for a frame: `    SP IP Method(params)` for a managed frame,
/// `    SP IP [FrameClass]  (Method(params))` for a runtime Frame (SP is its address).
fn frame_line(f: &crate::runtime::stack::StackFrame) -> String {
    let mut line = format!("    {:x}", f.sp);
    if f.ip != 0 {
        line.push_str(&format!(" {:x}", f.ip));
    }
    match f.kind {
        StackFrameKind::Managed => {
            if let Some(name) = &f.name {
                line.push(' ');
                line.push_str(name);
            }
        }
        StackFrameKind::Explicit => {
            if let Some(name) = &f.name {
                line.push_str(&format!(" [{name}] "));
            }
            if let Some(function) = &f.function {
                line.push_str(&format!(" ({function})"));
            }
        }
    }
    line
}

/// The object ClrMD attributes an interior stack reference to: the last object starting
/// at or before it on its segment. A reference outside the heap is read through once (a
/// pointer to a heap reference); one that still is not in the heap is no root.
fn interior_object(heap: &Heap, objects: &dyn ObjectStarts, value: u64) -> Option<u64> {
    let (p, segment_start) = heap.heap_address_through(value)?;
    objects.last_start_at_or_above(p, segment_start)
}

/// What the roots need to know of the heap's objects: where objects start.
pub trait ObjectStarts: Sync {
    /// Whether an object other than free space starts at `address`.
    fn is_object(&self, address: u64) -> bool;
    /// The last object start at or before `p`, if it is at or above `floor`.
    fn last_start_at_or_above(&self, p: u64, floor: u64) -> Option<u64>;
}

impl ObjectStarts for ObjectGraph {
    fn is_object(&self, address: u64) -> bool {
        self.id_of(address).is_some_and(|id| !self.is_free(id))
    }

    fn last_start_at_or_above(&self, p: u64, floor: u64) -> Option<u64> {
        let i = self.addresses().partition_point(|&a| a <= p).checked_sub(1)?;
        let a = self.addresses()[i];
        (a >= floor).then_some(a)
    }
}

/// The stack pointer of an OS thread (`rsp`, `sp` on arm64), from the dump's notes.
pub fn thread_rsp(heap: &Heap, os_thread_id: u32) -> Option<u64> {
    heap.runtime.thread_stack_pointer(os_thread_id)
}

/// The stack roots of every managed thread, as ClrMD enumerates them for gcroot: the
/// precise walk's roots in walk order, each under the line of its frame; a thread
/// whose walk fails gets the conservative scan's roots under `(conservative scan)`.
fn stack_roots(heap: &Heap, objects: &dyn ObjectStarts, warnings: &Warnings) -> (Vec<StackRootEntry>, Vec<String>) {
    let rt = &heap.runtime;
    let mut entries = Vec::new();
    let mut frames: Vec<String> = Vec::new();
    let types = |mt: u64| Some(heap.type_name(mt).to_string());
    let walk = match crate::runtime::stack::StackWalk::new(rt) {
        Ok(w) => Some(w.with_type_names(&types)),
        Err(e) => {
            warnings.warn(format!("stack walks unavailable: {e:#}"));
            None
        }
    };
    let is_object = |v: u64| objects.is_object(v);
    for thread in &heap.threads {
        let walked = match &walk {
            Some(w) => w.thread(thread),
            None => Err(anyhow::anyhow!("no stack walker")),
        };
        let stack = match walked {
            Ok(stack) => {
                for w in &stack.warnings {
                    warnings.warn(format!("thread {:x}: {w}", thread.os_id));
                }
                stack
            }
            Err(e) => {
                warnings.warn(format!("thread {:x}: stack walk failed ({e:#}); its stack is scanned conservatively", thread.os_id));
                let roots = match crate::runtime::stack::conservative_stack_roots(rt, thread, &is_object) {
                    Ok(r) => r,
                    Err(e) => {
                        warnings.warn(format!("thread {:x}: conservative scan failed: {e:#}", thread.os_id));
                        continue;
                    }
                };
                let rsp = thread_rsp(heap, thread.os_id).unwrap_or(0) & !7;
                frames.push("    (conservative scan)".to_string());
                let frame = frames.len() - 1;
                for r in roots {
                    let slot = r.slot.unwrap_or(0);
                    entries.push(StackRootEntry {
                        root: stack_root(thread.os_id, slot, r.object, false, true),
                        frame,
                        line: format!("        rsp+{:x}: {slot:016x}", slot.wrapping_sub(rsp)),
                    });
                }
                continue;
            }
        };
        // One line per frame of the walk; roots find theirs as ClrMD does (a managed
        // frame by SP and IP, a runtime Frame by its address).
        let base = frames.len();
        for f in &stack.frames {
            frames.push(frame_line(f));
        }
        for r in stack.roots {
            let found = stack.frames.iter().position(|f| match f.kind {
                StackFrameKind::Explicit => f.sp == r.frame_sp && r.frame_ip == 0,
                StackFrameKind::Managed => f.sp == r.frame_sp && f.ip == r.frame_ip,
            });
            let frame = match found {
                Some(i) => base + i,
                None => {
                    let mut line = format!("    {:x}", r.frame_sp);
                    if r.frame_ip != 0 {
                        line.push_str(&format!(" {:x}", r.frame_ip));
                    }
                    frames.push(line);
                    frames.len() - 1
                }
            };
            let object = if r.interior {
                match interior_object(heap, objects, r.object) {
                    Some(o) => o,
                    None => continue,
                }
            } else {
                r.object
            };
            let mut line = String::from("        ");
            match (r.register, r.offset) {
                (Some(reg), Some(off)) => {
                    line.push_str(reg);
                    match off.cmp(&0) {
                        std::cmp::Ordering::Greater => line.push_str(&format!("+{off:x}")),
                        std::cmp::Ordering::Less => line.push_str(&format!("-{:x}", (off as i64).unsigned_abs())),
                        std::cmp::Ordering::Equal => {}
                    }
                    line.push(':');
                }
                (Some(reg), None) => {
                    line.push_str(reg);
                    line.push(':');
                }
                _ => {}
            }
            // A register root has no address (the DAC reports 0 for it).
            let address = if r.register.is_some() && r.offset.is_none() { 0 } else { r.slot.unwrap_or(0) };
            if address != 0 {
                line.push_str(&format!(" {address:016x}"));
            }
            entries.push(StackRootEntry {
                root: stack_root(thread.os_id, address, object, r.pinned, false),
                frame,
                line,
            });
        }
    }
    (entries, frames)
}

/// The name dotnet-dump gives a handle kind in a root line.
pub fn handle_kind_name(kind: HandleKind) -> String {
    use HandleKind::*;
    match kind {
        WeakShort => "weak short handle".into(),
        WeakLong => "weak long handle".into(),
        Strong => "strong handle".into(),
        Pinned => "pinned handle".into(),
        RefCounted => "ref counted handle".into(),
        Dependent => "dependent handle".into(),
        AsyncPinned => "async pinned handle".into(),
        SizedRef => "sized ref handle".into(),
        WeakNativeCom => "weak WinRT handle".into(),
        other => other.raw().to_string(),
    }
}

/// One link of a root's chain.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PathItem {
    pub address: u64,
    pub type_name: String,
    pub dependent: bool,
    pub static_field: Option<String>,
    /// `static_field` is a thread-static field (of the root thread's thread statics).
    pub thread_static: bool,
}

/// Describes chains of objects from a root as `gcroot` prints them.
pub struct PathDescriber<'a> {
    pub heap: &'a Heap,
    pub graph: &'a ObjectGraph,
    pub roots: &'a RootCache,
    /// The statics index, built on first use (only a chain through a statics array asks).
    pub statics: &'a (dyn Fn() -> Arc<StaticsIndex> + 'a),
    /// The graph's incoming edges, when the caller has them: root searches are then
    /// pruned ([`PathFinder::pruned`]), with the same answers.
    pub reverse: Option<&'a ReverseEdges>,
}

impl PathDescriber<'_> {
    /// The first root (in gcroot's order: handles, finalizer queue, stacks, thread
    /// statics) that reaches `target`, with its chain, described as gcroot describes it
    /// (root kind text, links with static field names).
    pub fn first_root_chain(&self, target: u64) -> Option<(String, Vec<PathItem>)> {
        let (graph, roots) = (self.graph, self.roots);
        let mut finder = PathFinder::new(graph, graph.ref_source(self.heap), roots.dependents(graph), target);
        if let Some(reverse) = self.reverse {
            finder = finder.pruned(reverse);
        }
        let stack = roots.stack.iter().map(|e| &e.root);
        for root in roots.handles.iter().chain(&roots.finalizer).chain(stack).chain(&roots.thread_statics) {
            if let Some(path) = finder.path_from(root.object) {
                let kind = match root.kind {
                    RootKind::Handle(kind) => handle_kind_name(kind),
                    RootKind::FinalizerQueue { .. } => "finalizer queue".into(),
                    RootKind::Stack { os_thread_id, .. } => format!("stack of thread {os_thread_id:x}"),
                    RootKind::ThreadStatic { os_thread_id } => format!("thread-static array of thread {os_thread_id:x}"),
                };
                let thread_static = matches!(root.kind, RootKind::ThreadStatic { .. });
                return Some((kind, self.items(&path, thread_static)));
            }
        }
        None
    }

    /// The links of a chain: each object's type, and how it is reached. `thread_static`:
    /// the chain starts at a thread's thread-static array (its third link is a field's).
    pub fn items(&self, path: &[u64], thread_static: bool) -> Vec<PathItem> {
        let chains = ChainDescriber { heap: self.heap, objects: self.graph, roots: self.roots, statics: self.statics };
        chains.items(path, thread_static)
    }
}

/// What describing a chain needs to know of its objects (the object table, or the
/// object-start bitmap of [`super::marks`]).
pub trait ObjectTypes {
    /// The MethodTable of the object starting at `address` (free space included).
    fn mt_at(&self, address: u64) -> Option<u64>;
    /// The size and GCDesc of the object starting at `address`, when its type holds
    /// references.
    fn layout_at(&self, address: u64) -> Option<(u64, GcDesc)>;
}

impl ObjectTypes for ObjectGraph {
    fn mt_at(&self, address: u64) -> Option<u64> {
        self.id_of(address).map(|id| self.mt(id))
    }

    fn layout_at(&self, address: u64) -> Option<(u64, GcDesc)> {
        let id = self.id_of(address)?;
        let desc = self.type_of(id).gc_desc.clone()?;
        Some((self.size(id), desc))
    }
}

/// Describes chains of objects from a root as `gcroot` prints them, over the object
/// table or without it.
pub struct ChainDescriber<'a> {
    pub heap: &'a Heap,
    pub objects: &'a dyn ObjectTypes,
    pub roots: &'a RootCache,
    /// The statics index, built on first use (only a chain through a statics array asks).
    pub statics: &'a (dyn Fn() -> Arc<StaticsIndex> + 'a),
}

impl ChainDescriber<'_> {
    /// The links of a chain: each object's type, and how it is reached. `thread_static`:
    /// the chain starts at a thread's thread-static array (its third link is a field's).
    pub fn items(&self, path: &[u64], thread_static: bool) -> Vec<PathItem> {
        let (heap, objects, roots) = (self.heap, self.objects, self.roots);
        let first = path.first().copied().unwrap_or(0);
        let possible_static = objects.mt_at(first).is_some_and(|mt| &*heap.type_name(mt) == "System.Object[]");
        let mut prev = 0u64;
        let mut items = Vec::with_capacity(path.len());
        for (i, &obj) in path.iter().enumerate() {
            let dependent = roots.is_dependent_link(prev, obj);
            let static_field = if dependent {
                None
            } else if thread_static {
                (i == 2).then(|| self.thread_static_label(first, path[1], obj)).flatten()
            } else if i == 1 && possible_static {
                self.static_label(first, obj)
            } else {
                None
            };
            let type_name = match objects.mt_at(obj) {
                Some(mt) => heap.type_name(mt).to_string(),
                None => "<unknown type>".into(),
            };
            items.push(PathItem { address: obj, type_name, dependent, static_field, thread_static: thread_static && i == 2 });
            prev = obj;
        }
        items
    }

    /// The reference slots of an object and what each holds, in GCDesc order.
    fn slots_of(&self, object: u64) -> Vec<(u64, u64)> {
        let Some((size, desc)) = self.objects.layout_at(object) else { return Vec::new() };
        self.heap.reference_slots(object, size, &desc)
    }

    /// The thread-static field whose slot in the type's storage `storage` (the entry of a
    /// thread's thread-static array `array`) holds `obj`.
    fn thread_static_label(&self, array: u64, storage: u64, obj: u64) -> Option<String> {
        let heap = self.heap;
        let (entry, _) = self.slots_of(array).into_iter().find(|&(_, v)| v == storage)?;
        // The entry's index in the Object[].
        let elements = heap.object(crate::heap::ObjectAddr(array))?.array().ok()?;
        let entry = u32::try_from(entry.checked_sub(elements.data)? / elements.component_size.max(1) as u64).ok()?;
        let (slot, _) = self.slots_of(storage).into_iter().find(|&(_, v)| v == obj)?;
        let offset = u32::try_from(slot.checked_sub(storage)?).ok()?;
        let f = (self.statics)().thread_field_at(entry, offset)?.clone();
        Some(format!("{}.{}", heap.type_name(f.declaring_mt), f.name))
    }

    /// The static field whose slot in the statics array `array` holds `obj`.
    fn static_label(&self, array: u64, obj: u64) -> Option<String> {
        let heap = self.heap;
        let statics = (self.statics)();
        for (slot, value) in self.slots_of(array) {
            if value != obj {
                continue;
            }
            if let Some(f) = statics.field_at(slot) {
                return Some(format!("{}.{}", heap.type_name(f.declaring_mt), f.name));
            }
        }
        None
    }
}

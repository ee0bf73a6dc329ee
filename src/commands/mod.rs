//! The commands layer: SOS-compatible commands over an opened dump (parse -> query -> render).
//!
//! A [`Session`] owns the opened dump and its heap; [`Session::execute`] takes one command
//! line as dotnet-dump's `analyze` prompt does, and writes its output.
pub mod diff;
pub mod dumpgen;
pub mod dumpheap;
pub mod dumpobj;
pub mod eeheap;
pub mod finalizequeue;
pub mod format;
pub mod gchandles;
pub mod gcroot;
pub mod leaks;
pub mod names;
pub mod objsize;
pub mod syncblk;
pub mod output;
pub mod retained;

use output::Format;
use crate::dump::{open_dump, AddressSpace, DumpOptions};
use crate::graph::dominators::Dominators;
use crate::graph::live::{mark, LiveSet};
use crate::graph::ObjectGraph;
use crate::graph::gcroot::DependentEdges;
use crate::heap::statics::StaticsIndex;
use crate::heap::{Handle, Heap, Root, RootKind};
use crate::runtime::stack::StackFrameKind;
use crate::runtime::Runtime;
use anyhow::{bail, Result};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// An opened dump, ready for commands.
pub struct Session {
    pub heap: Heap,
    /// The output format of commands that do not ask for one (`--format`).
    pub format: Format,
    graph: OnceLock<Result<Arc<ObjectGraph>, String>>,
    liveness: OnceLock<Result<Liveness, String>>,
    dominators: OnceLock<Result<Arc<Dominators>, String>>,
    roots: OnceLock<Result<Arc<RootCache>, String>>,
    statics: OnceLock<Arc<StaticsIndex>>,
    roots_announced: AtomicBool,
}

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
    /// Dependent handles, for following and for marking `(dependent handle)` links.
    pub dependents: DependentEdges,
    /// The same as `(primary, secondary)` addresses.
    pub dependent_pairs: Vec<(u64, u64)>,
}

impl RootCache {
    /// Every root: handles, the finalizer queue, stacks, thread statics.
    pub fn all_roots(&self) -> Vec<Root> {
        let stack = self.stack.iter().map(|e| e.root);
        self.handles.iter().chain(&self.finalizer).copied().chain(stack).chain(self.thread_statics.iter().copied()).collect()
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

impl Session {
    pub fn open(path: &Path, options: &DumpOptions) -> Result<Session> {
        Session::from_space(Arc::new(open_dump(path, options)?))
    }

    /// A session over an address space opened by the caller.
    pub fn from_space(space: Arc<AddressSpace>) -> Result<Session> {
        let runtime = Runtime::discover(space)?;
        let heap = Heap::open(runtime)?;
        Ok(Session {
            heap,
            format: Format::Text,
            graph: OnceLock::new(),
            liveness: OnceLock::new(),
            dominators: OnceLock::new(),
            roots: OnceLock::new(),
            statics: OnceLock::new(),
            roots_announced: AtomicBool::new(false),
        })
    }

    /// Runs one command line, writing its output to `out`.
    pub fn execute(&self, line: &str, out: &mut dyn Write) -> Result<()> {
        self.execute_as(line, self.format, out)
    }

    /// Runs one command line in the given output format (a `--format` option in the
    /// line itself wins).
    pub fn execute_as(&self, line: &str, format: Format, out: &mut dyn Write) -> Result<()> {
        let mut words = split_words(line)?;
        if words.is_empty() {
            return Ok(());
        }
        let typed = words.remove(0);
        // Aliases and case variants (`DO`, `!dumpobj`) come here under one name.
        let name = names::canonical(&typed);
        let mut args = words;
        let format = output::take_format_option(&mut args)?.unwrap_or(format);
        match name.as_str() {
            "dumpheap" => dumpheap::run(self, &args, format, out),
            "dumpgen" => dumpgen::run(self, &args, format, out),
            "eeheap" => eeheap::run(self, &args, format, out),
            "dumpobj" => dumpobj::run_dumpobj(self, &args, format, out),
            "dumparray" => dumpobj::run_dumparray(self, &args, format, out),
            "dumpvc" => dumpobj::run_dumpvc(self, &args, format, out),
            "gcroot" => gcroot::run(self, &args, format, out),
            "objsize" => objsize::run(self, &args, format, out),
            "gchandles" => gchandles::run(self, &args, format, out),
            "finalizequeue" => finalizequeue::run(self, &args, format, out),
            "syncblk" => syncblk::run(self, &args, format, out),
            "retained" => retained::run(self, &args, format, out),
            "leaks" => leaks::run(self, &args, format, out),
            _ => match names::lookup(&typed) {
                Some(c) => bail!("'{}' is a dotnet-dump command clrheap does not implement yet", c.name),
                None => bail!("Unrecognized SOS command '{name}'"),
            },
        }
    }
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
fn interior_object(heap: &Heap, graph: &ObjectGraph, value: u64) -> Option<u64> {
    let (p, segment_start) = heap.heap_address_through(value)?;
    let i = graph.addresses().partition_point(|&a| a <= p).checked_sub(1)?;
    let a = graph.addresses()[i];
    (a >= segment_start).then_some(a)
}

/// Objects kept alive by the roots: handles (every handle table slot, as dotnet-dump
/// counts them), the finalizer queue's f-reachable objects, dependent handles, and a
/// conservative scan of the threads' stacks (which may keep stale objects alive).
pub struct Liveness {
    graph: Arc<ObjectGraph>,
    live: LiveSet,
}

impl Liveness {
    pub fn is_live(&self, addr: u64) -> bool {
        self.graph.id_of(addr).is_some_and(|id| self.live.contains(id))
    }

    /// Like [`Liveness::is_live`], for addresses asked in increasing order: `cursor` keeps
    /// the id after the last one found, which is usually the next object (a walk visits
    /// objects in address order, the graph numbers them in address order).
    pub fn is_live_from(&self, addr: u64, cursor: &mut usize) -> bool {
        let id = match self.graph.addresses().get(*cursor) {
            Some(&a) if a == addr => Some(*cursor as crate::graph::ObjectId),
            _ => self.graph.id_of(addr),
        };
        match id {
            Some(id) => {
                *cursor = id as usize + 1;
                self.live.contains(id)
            }
            None => false,
        }
    }

    /// Number of live objects.
    pub fn count(&self) -> usize {
        self.live.len()
    }
}

impl Session {
    /// The object graph of the heap (built on first use).
    pub fn graph(&self) -> Result<Arc<ObjectGraph>> {
        self.graph
            .get_or_init(|| ObjectGraph::build(&self.heap).map(Arc::new).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
    }

    /// The live set of the heap (built on first use).
    pub fn liveness(&self) -> Result<&Liveness> {
        self.liveness
            .get_or_init(|| {
                let graph = self.graph().map_err(|e| format!("{e:#}"))?;
                let roots = self.roots().map_err(|e| format!("{e:#}"))?;
                let live = mark(&graph, &roots.all_roots(), &roots.dependent_pairs);
                Ok(Liveness { graph, live })
            })
            .as_ref()
            .map_err(|e| anyhow::anyhow!("cannot compute live objects: {e}"))
    }

    /// The dominator tree and retained sizes (computed on first use).
    pub fn dominators(&self) -> Result<Arc<Dominators>> {
        self.dominators
            .get_or_init(|| {
                let graph = self.graph().map_err(|e| format!("{e:#}"))?;
                let roots = self.roots().map_err(|e| format!("{e:#}"))?;
                let ids = |a: u64| graph.id_of(a).filter(|&id| !graph.is_free(id));
                let root_ids: Vec<_> = roots.all_roots().iter().filter_map(|r| ids(r.object)).collect();
                let dependents: Vec<_> = roots
                    .dependent_pairs
                    .iter()
                    .filter_map(|&(p, s)| Some((ids(p)?, ids(s)?)))
                    .collect();
                Ok(Arc::new(Dominators::compute(&graph, &root_ids, &dependents)))
            })
            .clone()
            .map_err(|e| anyhow::anyhow!("cannot compute retained sizes: {e}"))
    }

    /// The roots, gathered on first use.
    pub fn roots(&self) -> Result<Arc<RootCache>> {
        self.roots
            .get_or_init(|| self.gather_roots().map(Arc::new).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
    }

    fn gather_roots(&self) -> Result<RootCache> {
        let graph = self.graph()?;
        let heap = &self.heap;
        let all_handles = heap.handles()?;
        let handles = crate::heap::roots::handle_roots(&all_handles, true);
        let finalizer = heap.finalizer_roots()?;
        let (stack, frames) = self.stack_roots(&graph);
        let (thread_statics, warnings) = heap.thread_static_roots();
        for w in warnings {
            eprintln!("warning: {w}");
        }
        let pairs: Vec<(u64, u64)> = all_handles
            .iter()
            .filter(|h| h.kind == crate::heap::HandleKind::Dependent)
            .map(|h| (h.object, h.extra))
            .collect();
        let dependents = DependentEdges::new(&graph, &pairs);
        Ok(RootCache {
            all_handles,
            handles,
            finalizer,
            stack,
            frames,
            thread_statics,
            dependents,
            dependent_pairs: pairs,
        })
    }

    /// The stack roots of every managed thread, as ClrMD enumerates them for gcroot: the
    /// precise walk's roots in walk order, each under the line of its frame; a thread
    /// whose walk fails gets the conservative scan's roots under `(conservative scan)`.
    fn stack_roots(&self, graph: &ObjectGraph) -> (Vec<StackRootEntry>, Vec<String>) {
        let heap = &self.heap;
        let rt = &heap.runtime;
        let mut entries = Vec::new();
        let mut frames: Vec<String> = Vec::new();
        let types = |mt: u64| Some(heap.type_name(mt).to_string());
        let walk = match crate::runtime::stack::StackWalk::new(rt) {
            Ok(w) => Some(w.with_type_names(&types)),
            Err(e) => {
                eprintln!("warning: stack walks unavailable: {e:#}");
                None
            }
        };
        let is_object = |v: u64| graph.id_of(v).is_some_and(|id| !graph.is_free(id));
        for thread in &heap.threads {
            let walked = match &walk {
                Some(w) => w.thread(thread),
                None => Err(anyhow::anyhow!("no stack walker")),
            };
            let stack = match walked {
                Ok(stack) => {
                    for w in &stack.warnings {
                        eprintln!("warning: thread {:x}: {w}", thread.os_id);
                    }
                    stack
                }
                Err(e) => {
                    eprintln!("warning: thread {:x}: stack walk failed ({e:#}); its stack is scanned conservatively", thread.os_id);
                    let roots = match crate::runtime::stack::conservative_stack_roots(rt, thread, &is_object) {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("warning: thread {:x}: conservative scan failed: {e:#}", thread.os_id);
                            continue;
                        }
                    };
                    let rsp = self.thread_rsp(thread.os_id).unwrap_or(0) & !7;
                    let sp_name = crate::runtime::stack::unwind::stack_pointer_name(rt.space.core().arch);
                    frames.push("    (conservative scan)".to_string());
                    let frame = frames.len() - 1;
                    for r in roots {
                        let slot = r.slot.unwrap_or(0);
                        entries.push(StackRootEntry {
                            root: stack_root(thread.os_id, slot, r.object, false, true),
                            frame,
                            line: format!("        {sp_name}+{:x}: {slot:016x}", slot.wrapping_sub(rsp)),
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
                    match interior_object(heap, graph, r.object) {
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

    /// Which static field owns which GC statics slot (built on first use, over the
    /// modules of every type on the heap).
    pub fn statics(&self) -> Arc<StaticsIndex> {
        self.statics
            .get_or_init(|| {
                let mut modules: Vec<u64> = Vec::new();
                if let Ok(graph) = self.graph() {
                    for t in graph.types() {
                        if let Ok(info) = self.heap.method_table(t.mt) {
                            modules.push(info.module);
                        }
                    }
                }
                modules.push(self.heap.runtime.globals.core_lib_module);
                modules.sort_unstable();
                modules.dedup();
                modules.retain(|&m| m != 0);
                Arc::new(self.heap.statics_index(&modules))
            })
            .clone()
    }

    /// Prints dotnet-dump's root-caching notice, once per session, on standard error.
    pub fn note_root_caching(&self) {
        if !self.roots_announced.swap(true, Ordering::Relaxed) {
            eprintln!("Caching GC roots, this may take a while.");
            eprintln!("Subsequent runs of this command will be faster.");
            eprintln!();
        }
    }

    /// The stack pointer of an OS thread, from the dump's notes.
    pub fn thread_rsp(&self, os_thread_id: u32) -> Option<u64> {
        self.heap.runtime.thread_stack_pointer(os_thread_id)
    }
}

/// One row of a per-type statistics table.
#[derive(Debug, Clone)]
pub struct StatRow {
    pub mt: u64,
    pub count: u64,
    pub size: u64,
    pub name: String,
}

/// Writes SOS's `Statistics:` table: rows in the given (first-seen) order, stably sorted
/// by total size (or count), then the `Total` line. Column widths follow the data.
pub fn render_stats(mut rows: Vec<StatRow>, by_count: bool, out: &mut dyn Write) -> Result<()> {
    if by_count {
        rows.sort_by_key(|r| r.count as i64);
    } else {
        rows.sort_by_key(|r| r.size as i64);
    }
    let mt_w = rows.iter().map(|r| format!("{:012x}", r.mt).len()).max().unwrap_or(12);
    let count_w = rows.iter().map(|r| format::thousands(r.count).len()).max().unwrap_or(0).max(5);
    let size_w = rows.iter().map(|r| format::thousands(r.size).len()).max().unwrap_or(0).max(9);
    writeln!(out, "Statistics:")?;
    writeln!(out, "{:>mt_w$} {:>count_w$} {:>size_w$} Class Name", "MT", "Count", "TotalSize")?;
    for r in &rows {
        writeln!(
            out,
            "{:>mt_w$} {:>count_w$} {:>size_w$} {}",
            format!("{:012x}", r.mt),
            format::thousands(r.count),
            format::thousands(r.size),
            r.name
        )?;
    }
    let count: u64 = rows.iter().map(|r| r.count).sum();
    let size: u64 = rows.iter().map(|r| r.size).sum();
    writeln!(out, "Total {} objects, {} bytes", format::thousands(count), format::thousands(size))?;
    Ok(())
}

/// Splits a command line into words; double quotes group words.
pub fn split_words(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        bail!("unbalanced quote in '{line}'");
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

//! A session: one opened dump, what has been computed about it so far, and how its
//! commands print.
//!
//! [`Session::open`] reads the dump, finds the runtime and opens its GC heap; the rest is
//! computed on first use and kept: the object graph, the roots (dotnet-dump's
//! `RootCacheService`), liveness, the dominator tree and the statics index. Warnings and
//! notices found along the way go to [`Session::warnings`]. Running a command line is
//! the registry's job ([`crate::registry`]; `Session::execute` is defined there).
use crate::dump::{open_dump, AddressSpace, DumpOptions};
use crate::graph::dominators::Dominators;
use crate::graph::live::{LiveView, Liveness};
use crate::graph::marks::{LiveMarks, ObjectBits};
use crate::graph::roots::{ObjectStarts, RootCache};
use crate::graph::index::{IndexDir, Part};
use crate::graph::{Edges, ObjectGraph, ReverseEdges};
use crate::heap::statics::StaticsIndex;
use crate::heap::Heap;
use crate::render::Format;
use crate::runtime::Runtime;
use crate::error::{Error, Result};
use crate::warnings::Warnings;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// A result computed once per session; a failure is kept whole and reported again
/// ([`Error::Shared`]), except a cancellation (Ctrl-C): that is not an answer, and the
/// next command computes again.
type Cached<T> = OnceLock<std::result::Result<T, Arc<Error>>>;

fn cached<T: Clone>(cell: &Cached<T>, compute: impl FnOnce() -> Result<T>) -> Result<T> {
    if let Some(kept) = cell.get() {
        return kept.clone().map_err(Error::Shared);
    }
    match compute() {
        Err(e) if e.kind() == crate::error::ErrorKind::Cancelled => Err(e),
        computed => {
            // Another thread may have filled the cell meanwhile: its answer is kept.
            cell.get_or_init(|| computed.map_err(Arc::new)).clone().map_err(Error::Shared)
        }
    }
}

/// An opened dump, ready for commands.
pub struct Session {
    pub heap: Heap,
    /// The output format of commands that do not ask for one (`--format`).
    pub format: Format,
    /// Where warnings and notices go (the shell prints them): the address space's sink,
    /// shared, so what the dump and heap layers report lands here too.
    pub warnings: Arc<Warnings>,
    /// The dump's path, made absolute (`sosstatus` names it), when opened from a file.
    pub dump_path: Option<std::path::PathBuf>,
    graph: Cached<Arc<ObjectGraph>>,
    liveness: Cached<Arc<Liveness>>,
    /// The live set by address, when no object table was needed ([`Session::live_view`]).
    marks: Cached<Arc<LiveMarks>>,
    dominators: Cached<Arc<Dominators>>,
    roots: Cached<Arc<RootCache>>,
    /// Incoming edges kept for root searches ([`Session::search_reverse_edges`]).
    search_reverse: Cached<Arc<ReverseEdges>>,
    statics: OnceLock<Arc<StaticsIndex>>,
    /// The dump's index on disk ([`crate::graph::index`]), when turned on
    /// ([`Session::use_index`]).
    index: Option<IndexDir>,
    /// The content hash of the index's object table in use (what the other parts are
    /// made over), once the graph came from the index or was written to it.
    index_parent: OnceLock<u64>,
    roots_announced: AtomicBool,
    /// Root searches run so far (`gcroot`): the first reads references from the dump,
    /// later ones build the edges once and search them.
    root_searches: AtomicUsize,
    /// The current thread (`setthread`): an index into the dump's threads.
    current_thread: AtomicUsize,
    /// What a command keeps from one line to the next, by key (the memory commands'
    /// cursor and format, as dotnet-dump's `d` remembers them).
    command_state: std::sync::Mutex<std::collections::HashMap<&'static str, Box<dyn std::any::Any + Send>>>,
}

impl Session {
    /// Opens the dump at `path`. The error tells apart a file that is no core dump, a
    /// truncated dump, a process without .NET, a runtime clrheap does not know, a dump
    /// without a heap ([`crate::error::ErrorKind`]).
    pub fn open(path: &Path, options: &DumpOptions) -> Result<Session> {
        let mut session = Session::from_space(Arc::new(open_dump(path, options)?))?;
        session.dump_path = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        Ok(session)
    }

    /// A session over an address space opened by the caller.
    pub fn from_space(space: Arc<AddressSpace>) -> Result<Session> {
        let warnings = space.shared_warnings();
        let runtime = Runtime::discover(space)?;
        let heap = Heap::open(runtime)?;
        // What the runtime found wrong with its own description of itself.
        for w in &heap.runtime.warnings {
            warnings.warn(w.clone());
        }
        Ok(Session {
            heap,
            format: Format::Text,
            warnings,
            dump_path: None,
            graph: OnceLock::new(),
            liveness: OnceLock::new(),
            marks: OnceLock::new(),
            dominators: OnceLock::new(),
            roots: OnceLock::new(),
            search_reverse: OnceLock::new(),
            statics: OnceLock::new(),
            index: None,
            index_parent: OnceLock::new(),
            roots_announced: AtomicBool::new(false),
            root_searches: AtomicUsize::new(0),
            current_thread: AtomicUsize::new(0),
            command_state: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Runs `f` on the state kept under `key` between command lines (its `Default` the
    /// first time). The session knows nothing of what the state means.
    pub fn with_command_state<T: Default + Send + 'static, R>(&self, key: &'static str, f: impl FnOnce(&mut T) -> R) -> R {
        let mut map = self.command_state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(key).or_insert_with(|| Box::new(T::default()));
        if !entry.is::<T>() {
            *entry = Box::new(T::default());
        }
        f(entry.downcast_mut::<T>().expect("the state's type was just checked"))
    }

    /// The index of the current thread among the dump's threads (`setthread`).
    pub fn current_thread(&self) -> usize {
        self.current_thread.load(Ordering::Relaxed)
    }

    /// Makes the dump's thread `index` the current thread.
    pub fn set_current_thread(&self, index: usize) {
        self.current_thread.store(index, Ordering::Relaxed);
    }

    /// The current thread's registers (`None` for a dump without threads).
    pub fn current_os_thread(&self) -> Option<&crate::dump::ThreadRegisters> {
        self.heap.space().core().threads.get(self.current_thread())
    }

    /// Keeps what the graph layer computes about the dump at `path` in its index on disk,
    /// and answers from the index what it already holds (unless `--no-index` or
    /// `CLRHEAP_NO_INDEX` turned it off, or no cache directory is known).
    pub fn use_index(&mut self, path: &Path) {
        self.index = IndexDir::for_dump(path, self.warnings.clone());
    }

    /// The index directory in use, if any.
    pub fn index_dir(&self) -> Option<&Path> {
        self.index.as_ref().map(|d| d.path())
    }

    /// The index and the object table its parts are made over, when both are in use.
    fn index_with_parent(&self) -> Option<(&IndexDir, u64)> {
        Some((self.index.as_ref()?, *self.index_parent.get()?))
    }

    /// A key for [`Session::indexed_bytes`]: `options` (a command's, as text) and which
    /// files outside the dump are read for what it lacks (`--dump-only`, `--module-path`,
    /// CLRHEAP_MODULE_PATH), since names come from their metadata.
    pub fn index_key(&self, options: &str) -> u64 {
        let space = self.heap.space();
        xxhash_rust::xxh3::xxh3_64(
            format!(
                "{options}\0files={}\0paths={:?}\0env={:?}",
                space.reads_module_files(),
                space.module_search_paths(),
                std::env::var_os("CLRHEAP_MODULE_PATH")
            )
            .as_bytes(),
        )
    }

    /// The bytes the index keeps for `part` under `key` (a hash of what they depend on
    /// besides the dump, such as a command's options), made over the object table in use
    /// (call [`Session::graph`] first). `None` without an index, when the file is
    /// missing, was made under another key, or cannot be trusted (reported; the caller
    /// computes again and [`Session::save_indexed_bytes`]).
    pub fn indexed_bytes(&self, part: Part, key: u64) -> Option<Vec<u8>> {
        let (dir, parent) = self.index_with_parent()?;
        let file = dir.open(part, parent)?;
        if file.extra()[0] != key {
            return None;
        }
        match file.section::<u8>(0, None) {
            Ok(bytes) => Some(bytes.to_vec()),
            Err(e) => {
                dir.rejected(part, &e);
                None
            }
        }
    }

    /// Keeps `bytes` in the index as `part` under `key` (see [`Session::indexed_bytes`]).
    pub fn save_indexed_bytes(&self, part: Part, key: u64, bytes: &[u8]) {
        if let (Some((dir, parent)), Some(Ok(graph))) = (self.index_with_parent(), self.graph.get()) {
            crate::graph::index::write_or_note(dir, part, parent, graph.len() as u64, [key, 0, 0, 0], &[vec![bytes]]);
        }
    }

    /// Reports bytes of `part` that passed the checks but did not hold together (they are
    /// computed again).
    pub fn reject_indexed(&self, part: Part, e: &anyhow::Error) {
        if let Some(dir) = &self.index {
            dir.rejected(part, e);
        }
    }

    /// The object graph of the heap (built on first use, or read from the index).
    pub fn graph(&self) -> Result<Arc<ObjectGraph>> {
        cached(&self.graph, || {
            let Some(dir) = &self.index else {
                return Ok(Arc::new(ObjectGraph::build(&self.heap)?));
            };
            if let Some(file) = dir.open(Part::Objects, 0) {
                match ObjectGraph::from_index(&file, &self.heap) {
                    Ok(g) => {
                        let _ = self.index_parent.set(file.content_hash());
                        return Ok(Arc::new(g));
                    }
                    Err(e) => dir.rejected(Part::Objects, &e),
                }
            }
            let mut graph = ObjectGraph::build(&self.heap)?;
            // Written, then read back mapped: the arrays become page cache.
            if graph.len() >= crate::graph::index::min_objects()
                && let Some(file) = graph.save(dir)
                && graph.use_mapped(&file).is_ok()
            {
                let _ = self.index_parent.set(file.content_hash());
            }
            Ok(Arc::new(graph))
        })
    }

    /// Gives the graph its edge arrays (built once, or read from the index).
    pub fn edges(&self) -> Result<()> {
        let graph = self.graph()?;
        if graph.built_edges().is_some() {
            return Ok(());
        }
        let Some((dir, parent)) = self.index_with_parent() else {
            graph.edges(&self.heap)?;
            return Ok(());
        };
        if let Some(file) = dir.open(Part::Edges, parent) {
            match Edges::from_index(&file, graph.len()) {
                Ok(e) => {
                    if e.unresolved() > 0 {
                        crate::graph::warn_unresolved(&self.heap, e.unresolved());
                    }
                    graph.set_edges(e);
                    return Ok(());
                }
                Err(e) => dir.rejected(Part::Edges, &e),
            }
        }
        let built = Edges::build(&graph, &self.heap)?;
        let edges = built
            .save(dir, parent, graph.len() as u64)
            .and_then(|file| Edges::from_index(&file, graph.len()).ok())
            .unwrap_or(built);
        graph.set_edges(edges);
        // The built blocks were dropped for their mapped copies.
        crate::graph::store::release_freed_memory();
        Ok(())
    }

    /// Whether the index holds the graph's edges (a root search then uses them at once).
    pub fn indexed_edges(&self) -> bool {
        self.index_with_parent().is_some_and(|(dir, _)| dir.has(Part::Edges))
    }

    /// Every object's incoming references (from the index when it holds them).
    pub fn reverse_edges(&self) -> Result<ReverseEdges> {
        self.reverse_edges_in(rayon::current_num_threads())
    }

    /// [`Session::reverse_edges`] built, when they must be, in `parts` tasks (one while
    /// the other cores work on something else: see [`Edges::reverse_into_parts`]).
    pub fn reverse_edges_in(&self, parts: usize) -> Result<ReverseEdges> {
        let graph = self.graph()?;
        let index = self.index_with_parent();
        if let Some((dir, parent)) = index
            && let Some(file) = dir.open(Part::Reverse, parent)
        {
            match ReverseEdges::from_index(&file, graph.len()) {
                Ok(r) => return Ok(r),
                Err(e) => dir.rejected(Part::Reverse, &e),
            }
        }
        self.edges()?;
        let edges = graph.built_edges().expect("edges were just built");
        // With an index, built straight into its file.
        if let Some((dir, parent)) = index
            && let Some(reverse) = ReverseEdges::build_in_index(edges, dir, parent, graph.len(), parts)
        {
            return Ok(reverse);
        }
        Ok(edges.reverse())
    }

    /// Every object's incoming references, kept for the session's root searches (a
    /// search touches only what can reach its target: [`crate::graph::gcroot::PathFinder::pruned`]).
    /// Other users take [`Session::reverse_edges`], which keeps nothing.
    pub fn search_reverse_edges(&self) -> Result<Arc<ReverseEdges>> {
        cached(&self.search_reverse, || Ok(Arc::new(self.reverse_edges()?)))
    }

    /// The roots, gathered on first use.
    pub fn roots(&self) -> Result<Arc<RootCache>> {
        cached(&self.roots, || {
            let graph = self.graph()?;
            Ok(Arc::new(RootCache::gather(&self.heap, &*graph, &self.warnings)?))
        })
    }

    /// The roots, gathered on first use with `objects` telling where objects start (for
    /// a caller without the object table: the object-start bitmap).
    pub fn roots_over(&self, objects: &dyn ObjectStarts) -> Result<Arc<RootCache>> {
        cached(&self.roots, || Ok(Arc::new(RootCache::gather(&self.heap, objects, &self.warnings)?)))
    }

    /// Whether the session has the object table (built, or read from the index).
    pub fn has_object_table(&self) -> bool {
        matches!(self.graph.get(), Some(Ok(_)))
    }

    /// Whether the index holds the object table and its edges (a graph question then
    /// starts from them at no cost).
    pub fn index_holds_edges(&self) -> bool {
        self.index.as_ref().is_some_and(|d| d.has(Part::Objects) && d.has(Part::Edges))
    }

    /// The live set of the heap (built on first use).
    pub fn liveness(&self) -> Result<Arc<Liveness>> {
        cached(&self.liveness, || {
            let graph = self.graph()?;
            // Gathered even when the index holds the answer: what they could not read is
            // reported the same way in every session.
            let roots = self.roots()?;
            let index = self.index_with_parent();
            if let Some((dir, parent)) = index
                && let Some(file) = dir.open(Part::Live, parent)
            {
                match Liveness::from_index(&file, &self.heap, graph.clone()) {
                    Ok(l) => return Ok(Arc::new(l)),
                    Err(e) => dir.rejected(Part::Live, &e),
                }
            }
            let live = Liveness::compute(&self.heap, graph, &roots)?;
            if let Some((dir, parent)) = index {
                live.save(dir, parent);
            }
            Ok(Arc::new(live))
        })
        .map_err(|e| e.context("cannot compute live objects"))
    }

    /// The live set as a heap walk asks about it. When the session has the object table
    /// already, or the index holds it, that is [`Session::liveness`] (read from the
    /// index, or marked over the table and written there); otherwise the live set is
    /// marked by address ([`crate::graph::marks`]): no object table (16 bytes an object,
    /// two heap walks) is built, and the index keeps the bitmaps (`marks.idx`, about 2
    /// bits per 8 heap bytes) for the next session.
    pub fn live_view(&self) -> Result<LiveView> {
        self.live_view_with(false)
    }

    /// [`Session::live_view`]; when it marks by address, it also counts the live
    /// objects of each type ([`crate::graph::marks::LiveMarks::types`]), for `dumpheap
    /// -live -stat` (a tenth more marking time, which other questions do not pay).
    pub fn live_view_counting_types(&self) -> Result<LiveView> {
        self.live_view_with(true)
    }

    fn live_view_with(&self, count_types: bool) -> Result<LiveView> {
        if let Some(Ok(l)) = self.liveness.get() {
            return Ok(LiveView::Table(l.clone()));
        }
        if let Some(Ok(m)) = self.marks.get() {
            return Ok(LiveView::Marks(m.clone()));
        }
        let indexed = self.index.as_ref().is_some_and(|d| d.has(Part::Objects));
        if self.graph.get().is_some() || indexed {
            return Ok(LiveView::Table(self.liveness()?));
        }
        // A live set by address kept in the index: no walk, no marking.
        if let Some(dir) = &self.index
            && let Some(file) = dir.open(Part::Marks, 0)
        {
            match ObjectBits::from_index(&file, &self.heap) {
                Ok((bits, marks, unresolved)) => {
                    return cached(&self.marks, || {
                        // Gathered as when marking: what they could not read is reported
                        // the same way in every session.
                        cached(&self.roots, || Ok(Arc::new(RootCache::gather(&self.heap, &bits, &self.warnings)?)))?;
                        if unresolved > 0 {
                            crate::graph::warn_unresolved(&self.heap, unresolved);
                        }
                        Ok(Arc::new(marks))
                    })
                    .map(LiveView::Marks)
                    .map_err(|e| e.context("cannot compute live objects"));
                }
                Err(e) => dir.rejected(Part::Marks, &e),
            }
        }
        let bits = match ObjectBits::build(&self.heap) {
            Ok(Some(bits)) => bits,
            Ok(None) => return Ok(LiveView::Table(self.liveness()?)),
            Err(e) => return Err(Error::from(e).context("cannot compute live objects")),
        };
        cached(&self.marks, || {
            let roots = cached(&self.roots, || {
                let _t = crate::progress::PhaseTimer::start("gathering the roots");
                Ok(Arc::new(RootCache::gather(&self.heap, &bits, &self.warnings)?))
            })?;
            let (marks, unresolved) = bits.mark(&roots.all_roots(), &roots.dependent_pairs, count_types);
            // A cancelled marking stopped early: its set is not the live set.
            crate::interrupt::check()?;
            if unresolved > 0 {
                crate::graph::warn_unresolved(&self.heap, unresolved);
            }
            if let Some(dir) = &self.index
                && bits.len() >= crate::graph::index::min_objects()
            {
                bits.save(dir, &marks, unresolved);
            }
            Ok(Arc::new(marks))
        })
        .map(LiveView::Marks)
        .map_err(|e| e.context("cannot compute live objects"))
    }

    /// The dominator tree and retained sizes (computed on first use).
    pub fn dominators(&self) -> Result<Arc<Dominators>> {
        cached(&self.dominators, || {
            let graph = self.graph()?;
            let roots = self.roots()?;
            let index = self.index_with_parent();
            if let Some((dir, parent)) = index
                && let Some(file) = dir.open(Part::Dominators, parent)
            {
                match Dominators::from_index(&file, graph.len()) {
                    Ok(d) => return Ok(Arc::new(d)),
                    Err(e) => dir.rejected(Part::Dominators, &e),
                }
            }
            let Some((dir, parent)) = index else {
                // Edges only for this computation: read once and freed inside it.
                let edges = Edges::build(&graph, &self.heap)?;
                return Ok(Arc::new(roots.dominators(&graph, edges)?));
            };
            // With an index the edges are kept (mapped): the computation reads them in place.
            self.edges()?;
            let edges = graph.built_edges().expect("edges were just built").share();
            let dom = roots.dominators_in(&graph, edges, Some((dir, parent)))?;
            Ok(Arc::new(dom))
        })
        .map_err(|e| e.context("cannot compute retained sizes"))
    }

    /// Which static field owns which GC statics slot (built on first use, over the
    /// modules of every type on the heap and the AppDomain's modules).
    pub fn statics(&self) -> Arc<StaticsIndex> {
        self.statics_over(|| self.graph().map(|g| g.types().iter().map(|t| t.mt).collect()).unwrap_or_default())
    }

    /// [`Session::statics`], the heap's MethodTables given by `mts` (called only when
    /// the index is built): for a caller without the object table.
    pub fn statics_over(&self, mts: impl FnOnce() -> Vec<u64>) -> Arc<StaticsIndex> {
        self.statics
            .get_or_init(|| {
                let mut modules: Vec<u64> = Vec::new();
                for mt in mts() {
                    if let Ok(info) = self.heap.method_table(mt) {
                        modules.push(info.module);
                    }
                }
                modules.push(self.heap.runtime.globals.core_lib_module);
                // And every module of the domain: a static class has no instance on the
                // heap, and its module may have none either (an emitted module).
                if let Ok(domain) = self.heap.domain_modules() {
                    modules.extend(domain);
                }
                modules.sort_unstable();
                modules.dedup();
                modules.retain(|&m| m != 0);
                Arc::new(self.heap.statics_index(&modules))
            })
            .clone()
    }

    /// Whether a root search ran before in this session (without counting one).
    pub fn searched_roots_before(&self) -> bool {
        self.root_searches.load(Ordering::Relaxed) > 0
    }

    /// Counts a root search; true when one ran before in this session (a session that
    /// searches again is worth the edge arrays: see [`crate::graph::ObjectGraph::edges`]).
    pub fn repeated_root_search(&self) -> bool {
        self.root_searches.fetch_add(1, Ordering::Relaxed) > 0
    }

    /// dotnet-dump's root-caching notice, once per session.
    pub fn note_root_caching(&self) {
        if !self.roots_announced.swap(true, Ordering::Relaxed) {
            self.warnings
                .notice("Caching GC roots, this may take a while.\nSubsequent runs of this command will be faster.\n");
        }
    }

    /// The stack pointer of an OS thread, from the dump's notes.
    pub fn thread_rsp(&self, os_thread_id: u32) -> Option<u64> {
        crate::graph::roots::thread_rsp(&self.heap, os_thread_id)
    }
}

//! `gcroot <address>`: every root from which the object can be reached, each with one
//! chain of references, as dotnet-dump prints them.
//!
//! Roots are tried in dotnet-dump's order: strong handles (handle-table order), the
//! finalizer queue's f-reachable objects, then stack roots (unless `-nostacks`). The
//! search keeps its state across roots (see [`crate::graph::gcroot`]), which decides
//! which roots count ("unique") and which chain each gets. Output:
//!
//! ```text
//! HandleTable:
//!     00007fa55cff13e8 (strong handle)
//!           -> 7f9983000028     System.Object[] $
//!           -> 7f9985401100     DocProc.Zoo.LockTarget (static variable: DocProc.Zoo.ZooRoots.Locked)
//!
//! Found 1 unique roots.
//! ```
//!
//! A chain line is the 10-space indent, `->`, the address padded to 16, the type name
//! and a last cell that is empty (hence the trailing space), `(dependent handle)` for a
//! link made by a dependent handle, or the static field for the object right after a
//! statics array. dotnet-dump labels static fields `FieldType.FieldName` and maps slots to
//! fields wrongly on .NET 8, 9 and 10; clrheap names the field that really owns the slot,
//! as `DeclaringType.FieldName`.
//!
//! Then, on .NET 9 and 10, each live thread's thread-static array, which the GC reports
//! as a root without a handle (`ScanThreadStaticRoots`) and dotnet-dump does not know:
//! an object held only by a `[ThreadStatic]` field has no root there, and one here. The
//! thread's array holds one storage object per type; the field is named on the link after
//! it:
//!
//! ```text
//! Thread statics:
//!     0000555b6f27f098 (thread statics of thread 1870)
//!           -> 7ed07280bc00     System.Object[]
//!           -> 7ed072819788     System.Object[]
//!           -> 7ed072819770     DocProc.Zoo.ThreadStaticHolder (thread static variable: DocProc.Zoo.ZooRoots.PerThread)
//! ```
//!
//! dotnet-dump's "Caching GC roots, this may take a while." progress lines (and the
//! blank line after them) go to standard error here.
//!
//! Stack roots come from the precise stack walk ([`crate::runtime::stack`]), thread by
//! thread in thread-store order, each thread's in walk order (ClrMD's order). A section
//! starts with `Thread {osid}:` when the thread changes or the previous root printed was
//! not a stack root, then the frame's line when the frame changes:
//!
//! ```text
//! Thread 660:
//!     7f5fc74cd980 7fa0f4c83f16 [HelperMethodFrame_1OBJ]  (System.Threading.Monitor.ObjWait(Int32, System.Object))
//!          00007f5fc74cd970
//!           -> 7f6060c02110     System.Object
//!
//!     7f5fc74cdb60 7fa076247469 DocProc.Zoo.Zoo.HoldOnStack()
//!         rbp-8: 00007f5fc74cdb78
//!           -> 7f6060c02048     DocProc.Zoo.StackOnly
//! ```
//!
//! A managed frame's line is `SP IP Type.Method(params)`; a runtime Frame's is its address,
//! the IP the walk had there, `[FrameClass] ` and ` (Method(params))` when it stands for a
//! method. A root's line is `reg±off:` (`caller.rsp+off` for caller-SP-relative slots, just
//! `reg:` for a value held in a register, which has no address) and the slot; a Frame's
//! root has no register part. Interior references count as the object ClrMD attributes
//! them to (the last object starting at or before them on their segment). A thread whose
//! walk fails is scanned conservatively: its roots are printed under a
//! `(conservative scan)` line with the slot as `rsp+offset` (`Sp+` on arm64; they cannot match
//! dotnet-dump, and a scan may find stale slots).
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::graph::gcroot::{Ancestors, PathFinder, SearchMemory};
use crate::graph::gcroot_cold::AddressPathFinder;
use crate::graph::marks::{ObjectBits, SearchBits};
use crate::graph::roots::{handle_kind_name, ChainDescriber, ObjectStarts, ObjectTypes, PathItem, StackRootEntry};
use crate::heap::{Root, RootKind};
use crate::render::format::thousands;
use crate::render::output::{csv_cell, hex, write_csv_row, write_json, Format};
use crate::session::Session;
use serde_json::{json, Value};
use anyhow::{bail, Result};
use std::io::Write;

/// gcroot's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-nostacks", "Do not use stack roots."),
    OptionSpec::valued("-limit", "<n>", "Stop after this many roots."),
    OptionSpec::valued("-gcgen", "<n>", "Only roots a collection of this generation would use."),
];

/// Parsed `gcroot` arguments.
#[derive(Debug, Clone, Default)]
struct Options {
    target: Option<String>,
    nostacks: bool,
    limit: Option<i32>,
    gcgen: Option<i32>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let a = CommandArgs::parse(args, OPTIONS)?;
        let int = |name: &str| -> Result<Option<i32>> {
            a.value(name)
                .map(|v| {
                    v.parse().map_err(|_| {
                        anyhow::anyhow!("Cannot parse argument '{v}' for option '{name}' as expected type 'System.Int32'.")
                    })
                })
                .transpose()
        };
        let mut words = a.positional.iter();
        let target = words.next().cloned();
        if let Some(extra) = words.next() {
            bail!("Unrecognized command or argument '{extra}'.");
        }
        Ok(Options { target, nostacks: a.flag("-nostacks"), limit: int("-limit")?, gcgen: int("-gcgen")? })
    }
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let o = Options::parse(args)?;
    let text = o.target.clone().unwrap_or_default();
    let Some(target) = parse_address(&text) else {
        bail!("Could not parse target object address: {text}");
    };
    // A first search without the object table searches by address
    // ([`crate::graph::gcroot_cold`]): building the table costs more than the search.
    let bits = if session.has_object_table() || session.searched_roots_before() || session.index_holds_edges() {
        None
    } else {
        ObjectBits::build_for_search(&session.heap)?
    };
    let (graph, roots) = match &bits {
        Some(bits) => (None, session.roots_over(bits)?),
        None => (Some(session.graph()?), session.roots()?),
    };
    let valid = match (&graph, &bits) {
        (Some(graph), _) => graph.is_object(target),
        (None, Some(bits)) => bits.is_object(target),
        (None, None) => false,
    };
    if !valid {
        session.warnings.caution(format!("{target:x} is not a valid object"));
    }
    if let Some(condemned) = o.gcgen {
        let heap = &session.heap;
        let Some(seg) = heap.segment_of(target) else {
            bail!("Address {target:x} is not in the managed heap.");
        };
        use crate::heap::ObjectGeneration::*;
        let (number, name) = match seg.generation_of(target, heap.heap_of(seg)) {
            Gen0 => (0, "Generation0"),
            Gen1 => (1, "Generation1"),
            Gen2 => (2, "Generation2"),
            Large => (3, "Large"),
            Pinned => (4, "Pinned"),
            Frozen => (5, "Frozen"),
        };
        if condemned < number {
            writeln!(out, "Object {target:x} will survive this collection:")?;
            writeln!(out, "    gen({target:x}) = {name} > {condemned} = condemned generation.")?;
            return Ok(());
        }
        if (0..=1).contains(&condemned) {
            bail!(
                "Could not gather needed data, possibly due to memory constraints in the debuggee.\n\
                 To try again, re-issue the '!findroots -gen {condemned}' command."
            );
        }
    }
    session.note_root_caching();
    let limit = o.limit.map_or(usize::MAX, |l| l.max(0) as usize);
    // The first search of a session reads references from the dump (no edge list);
    // a session that searches again builds the edges once and searches them.
    // With the index holding the edges, every search uses them.
    // With the edges, the incoming edges too: the search then touches only what can
    // reach the target (`PathFinder::pruned`).
    let mut reverse = None;
    if (session.repeated_root_search() || session.indexed_edges()) && graph.is_some() {
        session.edges()?;
        reverse = Some(session.search_reverse_edges()?);
    }
    let mut filling = None;
    let (mut finder, objects): (Finder, &dyn ObjectTypes) = match (&graph, &bits) {
        (Some(graph), _) => {
            // In the memory the last search left (pages already touched).
            let memory = session.with_command_state("gcroot", |k: &mut KeptAncestors| std::mem::take(&mut k.1));
            let mut finder = PathFinder::new(graph, graph.ref_source(&session.heap), roots.dependents(graph), target).reusing(memory);
            if let Some(reverse) = &reverse {
                let _t = crate::progress::PhaseTimer::start("gcroot: the target's ancestors");
                // The last target's ancestors are kept: a search repeated on the same
                // object does not find them again, and one of an object the last target
                // reaches starts from them (taken, so that they are changed in place).
                let kept = session.with_command_state("gcroot", |k: &mut KeptAncestors| k.0.take());
                finder = finder.pruned_after(reverse, kept);
                if let Some(a) = finder.ancestors() {
                    session.with_command_state("gcroot", |k: &mut KeptAncestors| k.0 = Some(a.clone()));
                    // Their children are filled on the other core while the search runs
                    // (it works out those it needs first itself), until it ends.
                    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let (graph, roots, until) = (graph.clone(), roots.clone(), stop.clone());
                    rayon::spawn(move || {
                        if let Some(edges) = graph.built_edges() {
                            a.fill_children(edges, roots.dependents(&graph), &until);
                        }
                    });
                    filling = Some(stop);
                }
            }
            (Finder::Table(finder), &**graph)
        }
        (None, Some(bits)) => (Finder::Address(AddressPathFinder::new(bits.search(), &roots.dependent_pairs, target)), bits),
        (None, None) => bail!("no object table and no object bitmap"),
    };
    let statics = || match &bits {
        Some(bits) => session.statics_over(|| bits.mts()),
        None => session.statics(),
    };
    let describe = ChainDescriber { heap: &session.heap, objects, roots: &roots, statics: &statics };
    let mut printer = RootPrinter { last: None, last_frame: None };
    let text = format == Format::Text;
    let mut records = Vec::new();
    let mut count = 0usize;
    let search_timer = crate::progress::PhaseTimer::start("gcroot: searching the roots");
    for root in roots.handles.iter().chain(&roots.finalizer) {
        if count >= limit {
            break;
        }
        if let Some(path) = finder.path_from(root.object) {
            let items = describe.items(&path, false);
            if text {
                printer.root(root, out)?;
                printer.path(&items, out)?;
                writeln!(out)?;
            } else {
                records.push(root_record(root, None, &items));
            }
            count += 1;
        }
    }
    if !o.nostacks {
        for entry in &roots.stack {
            if count >= limit {
                break;
            }
            if let Some(path) = finder.path_from(entry.root.object) {
                let items = describe.items(&path, false);
                if text {
                    printer.stack_root(entry, &roots.frames, out)?;
                    printer.path(&items, out)?;
                    writeln!(out)?;
                } else {
                    let frame = roots.frames.get(entry.frame).map(|f| f.trim().to_string());
                    records.push(root_record(&entry.root, Some((frame, entry.line.trim())), &items));
                }
                count += 1;
            }
        }
    }
    // Thread statics last, as the GC reports them after each thread's stack.
    for root in &roots.thread_statics {
        if count >= limit {
            break;
        }
        if let Some(path) = finder.path_from(root.object) {
            let items = describe.items(&path, true);
            if text {
                printer.root(root, out)?;
                printer.path(&items, out)?;
                writeln!(out)?;
            } else {
                records.push(root_record(root, None, &items));
            }
            count += 1;
        }
    }
    drop(search_timer);
    if let Some(stop) = filling {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if let Finder::Table(f) = finder {
        let memory = f.into_memory();
        session.with_command_state("gcroot", |k: &mut KeptAncestors| k.1 = memory);
    }
    match format {
        Format::Text => writeln!(out, "Found {} unique roots.", thousands(count as u64))?,
        Format::Json => write_json(out, &json!({ "target": hex(target), "roots": records, "unique_roots": count }))?,
        Format::Csv => {
            // One row per link of each chain: root number, its description, the object.
            write_csv_row(out, &["root", "root_kind", "root_address", "thread", "step", "address", "type", "static_field", "dependent"])?;
            for (n, r) in records.iter().enumerate() {
                for (step, link) in r["path"].as_array().into_iter().flatten().enumerate() {
                    let cells = [
                        n.to_string(),
                        csv_cell(&r["kind"]),
                        csv_cell(&r["address"]),
                        csv_cell(&r["thread"]),
                        step.to_string(),
                        csv_cell(&link["address"]),
                        csv_cell(&link["type"]),
                        csv_cell(&link["static_field"]),
                        csv_cell(&link["dependent"]),
                    ];
                    write_csv_row(out, &cells)?;
                }
            }
        }
    }
    Ok(())
}

/// The ancestors of the last target a pruned search ran for ([`Ancestors`]), and the
/// memory the last search over the table used ([`SearchMemory`]).
#[derive(Default)]
struct KeptAncestors(Option<std::sync::Arc<Ancestors>>, SearchMemory);

/// The search for root paths: over the object table, or by address without it.
enum Finder<'a> {
    Table(PathFinder<'a>),
    Address(AddressPathFinder<SearchBits<'a, 'a>>),
}

impl Finder<'_> {
    fn path_from(&mut self, start: u64) -> Option<Vec<u64>> {
        match self {
            Finder::Table(f) => f.path_from(start),
            Finder::Address(f) => f.path_from(start),
        }
    }
}

/// A root and its chain as a JSON record: `{"kind", "handle_kind"?, "address", "thread"?,
/// "frame"?, "slot"?, "conservative"?, "path": [{"address", "type", "static_field",
/// "dependent"}]}`.
fn root_record(root: &Root, stack: Option<(Option<String>, &str)>, items: &[PathItem]) -> Value {
    let path: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "address": hex(i.address),
                "type": i.type_name,
                "static_field": i.static_field,
                "thread_static": i.thread_static,
                "dependent": i.dependent,
            })
        })
        .collect();
    let mut record = json!({ "address": hex(root.address), "path": path });
    match root.kind {
        RootKind::Handle(kind) => {
            record["kind"] = json!("handle");
            record["handle_kind"] = json!(handle_kind_name(kind).trim_end_matches(" handle"));
        }
        RootKind::FinalizerQueue { .. } => record["kind"] = json!("finalizer"),
        RootKind::Stack { os_thread_id, conservative, .. } => {
            record["kind"] = json!("stack");
            record["thread"] = json!(os_thread_id);
            record["conservative"] = json!(conservative);
            if let Some((frame, slot)) = stack {
                record["frame"] = json!(frame);
                record["slot"] = json!(slot);
            }
        }
        RootKind::ThreadStatic { os_thread_id } => {
            record["kind"] = json!("thread_static");
            record["thread"] = json!(os_thread_id);
        }
    }
    record
}

struct RootPrinter {
    last: Option<Root>,
    /// The frame of the last root printed, when it was a stack root.
    last_frame: Option<usize>,
}

impl RootPrinter {
    fn root(&mut self, root: &Root, out: &mut dyn Write) -> Result<()> {
        let last_kind = self.last.map(|l| l.kind);
        match root.kind {
            RootKind::Handle(kind) => {
                if !matches!(last_kind, Some(RootKind::Handle(_))) {
                    writeln!(out, "HandleTable:")?;
                }
                writeln!(out, "    {:016x} ({})", root.address, handle_kind_name(kind))?;
            }
            RootKind::FinalizerQueue { .. } => {
                if !matches!(last_kind, Some(RootKind::FinalizerQueue { .. })) {
                    writeln!(out, "Finalizer Queue:")?;
                }
                writeln!(out, "    {:016x} (finalizer root)", root.address)?;
            }
            RootKind::ThreadStatic { os_thread_id } => {
                if !matches!(last_kind, Some(RootKind::ThreadStatic { .. })) {
                    writeln!(out, "Thread statics:")?;
                }
                writeln!(out, "    {:016x} (thread statics of thread {os_thread_id:x})", root.address)?;
            }
            // Stack roots are printed by `stack_root`.
            RootKind::Stack { .. } => {}
        }
        self.last = Some(*root);
        self.last_frame = None;
        Ok(())
    }

    /// A stack root: `Thread {osid}:` when the thread changes (or the previous root was
    /// not on a stack), the frame line when the frame changes, then the root's line.
    fn stack_root(&mut self, entry: &StackRootEntry, frames: &[String], out: &mut dyn Write) -> Result<()> {
        let RootKind::Stack { os_thread_id, .. } = entry.root.kind else {
            return self.root(&entry.root, out);
        };
        let same_thread = matches!(self.last.map(|l| l.kind),
            Some(RootKind::Stack { os_thread_id: t, .. }) if t == os_thread_id);
        if !same_thread {
            writeln!(out, "Thread {os_thread_id:x}:")?;
        }
        if !same_thread || self.last_frame != Some(entry.frame) {
            writeln!(out, "{}", frames.get(entry.frame).map_or("", String::as_str))?;
        }
        writeln!(out, "{}", entry.line)?;
        self.last = Some(entry.root);
        self.last_frame = Some(entry.frame);
        Ok(())
    }

    fn path(&self, items: &[PathItem], out: &mut dyn Write) -> Result<()> {
        for item in items {
            let extra = if item.dependent {
                "(dependent handle)".to_string()
            } else if item.thread_static {
                item.static_field.as_ref().map_or(String::new(), |f| format!("(thread static variable: {f})"))
            } else {
                item.static_field.as_ref().map_or(String::new(), |f| format!("(static variable: {f})"))
            };
            writeln!(out, "          -> {:<16} {} {extra}", format!("{:012x}", item.address), item.type_name)?;
        }
        Ok(())
    }
}



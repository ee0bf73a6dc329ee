//! `parallelstacks` (`pstacks`): every thread's call stack merged into a tree, as
//! dotnet-dump prints it (its ParallelStacks renderer, without colours).
//!
//! ```text
//!
//! ________________________________________________
//!      ~~~~ 2a20
//!         1 System.Threading.LowLevelLifoSemaphore.Wait(Int32, Boolean)
//!         2 System.Threading.ThreadPoolWorkQueue.Dispatch()
//!    3 System.Threading.PortableThreadPool+WorkerThread.WorkerThreadStart()
//!
//!
//! ==> 3 threads with 1 roots
//! ```
//!
//! Each root (an outermost frame) is printed from its innermost frames out: a leaf is
//! headed by ` ~~~~ ` and its threads' ids (at most 4 without `-a`), each frame by the
//! number of threads through it; a branch taken by fewer threads than its parent is
//! indented 5 more. The tree itself is made in the heap layer
//! ([`crate::heap::parallel_stacks`]).
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::parallel_stacks::{ParallelFrame, ParallelStack};
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;

/// parallelstacks's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("--allthreads", "Displays all threads per group instead of at most 4 by default.").or(&["-a"]),
    OptionSpec::flag("--runtime", "Displays runtime stacks in addition to managed ones.").or(&["-r"]),
];

const PADDING: usize = 5;

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    let stacks = session.heap.parallel_stacks(p.flag("--runtime"))?;
    for w in &stacks.warnings {
        eprintln!("warning: {w}");
    }
    let root = &stacks.root;
    if format != Format::Text {
        return write_json(
            out,
            &json!({
                "threads": root.thread_ids.len(),
                "roots": root.stacks.iter().map(node_json).collect::<Vec<_>>(),
            }),
        );
    }
    let limit = if p.flag("--allthreads") { None } else { Some(4) };
    let mut text = String::from("\n");
    for stack in &root.stacks {
        text.push_str("________________________________________________");
        render(stack, limit, 0, &mut text);
        text.push_str("\n\n\n");
    }
    text.push_str(&format!("==> {} threads with {} roots\n\n", root.thread_ids.len(), root.stacks.len()));
    out.write_all(text.as_bytes())?;
    Ok(())
}

fn node_json(s: &ParallelStack) -> Value {
    let f = s.frame.as_ref();
    json!({
        "frame": f.map(ParallelFrame::text),
        "signature": f.and_then(|f| f.signature.clone()),
        "thread_count": s.thread_ids.len(),
        "os_thread_ids": s.thread_ids,
        "children": s.stacks.iter().map(node_json).collect::<Vec<_>>(),
    })
}

fn thread_list(ids: &[u32], limit: Option<usize>) -> String {
    let shown = limit.map_or(ids.len(), |l| l.min(ids.len()));
    let mut s = ids[..shown].iter().map(|id| format!("{id:x}")).collect::<Vec<_>>().join(",");
    if shown < ids.len() {
        s.push_str("...");
    }
    s
}

fn render(stack: &ParallelStack, limit: Option<usize>, increment: usize, out: &mut String) {
    let align = " ".repeat(PADDING * increment);
    let frame = stack.frame.as_ref().map(ParallelFrame::text).unwrap_or_default();
    if stack.stacks.is_empty() {
        out.push_str(&format!("\n{align} ~~~~ {}", thread_list(&stack.thread_ids, limit)));
        out.push_str(&format!("\n{align}{:>PADDING$} {frame}", stack.thread_ids.len()));
        return;
    }
    if stack.stacks.len() == 1 && stack.stacks[0].thread_ids.len() != stack.thread_ids.len() {
        let child = &stack.stacks[0].thread_ids;
        let unique: Vec<u32> = {
            // `Except`: distinct, in order.
            let mut seen = Vec::new();
            for id in &stack.thread_ids {
                if !child.contains(id) && !seen.contains(id) {
                    seen.push(*id);
                }
            }
            seen
        };
        out.push_str(&format!("\n{align} ~~~~ {}", thread_list(&unique, limit)));
    }
    let mut children: Vec<&ParallelStack> = stack.stacks.iter().collect();
    children.sort_by_key(|s| s.thread_ids.len());
    for child in children {
        let next = if child.thread_ids.len() == stack.thread_ids.len() { increment } else { increment + 1 };
        render(child, limit, next, out);
    }
    out.push_str(&format!("\n{align}{:>PADDING$} {frame}", stack.thread_ids.len()));
}

//! `threadpoolqueue` (`tpq`): the thread pool's queued work items, global queue first,
//! then the per-thread queues, and a summary of tasks and work items by method, as
//! dotnet-dump prints them (the queues: [`Heap::thread_pool_queues`]).
//!
//! [`Heap::thread_pool_queues`]: crate::heap::Heap::thread_pool_queues
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::threadpool::{WorkItem, WorkItemKind};
use crate::render::output::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// threadpoolqueue has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// Counts per method name, in order of first appearance.
#[derive(Default)]
struct Tally {
    rows: Vec<(String, u32)>,
    total: u32,
}

impl Tally {
    fn add(&mut self, name: &str) {
        self.total += 1;
        match self.rows.iter_mut().find(|(n, _)| n == name) {
            Some((_, c)) => *c += 1,
            None => self.rows.push((name.to_string(), 1)),
        }
    }
}

/// `threadpoolqueue`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let (queues, warnings) = session.heap.thread_pool_queues()?;
    for w in warnings {
        session.warnings.warn(w.to_string());
    }
    let (mut tasks, mut works) = (Tally::default(), Tally::default());
    let mut show = |out: &mut dyn Write, item: &WorkItem| -> Result<()> {
        match item.kind {
            WorkItemKind::Task => {
                writeln!(out, "0x{:016X} Task | {}", item.address, item.name)?;
                tasks.add(&item.name);
            }
            WorkItemKind::Work => {
                writeln!(out, "0x{:016X} Work | {}", item.address, item.name)?;
                works.add(&item.name);
            }
            WorkItemKind::Raw => writeln!(out, "0x{:016X} {}", item.address, item.name)?,
        }
        Ok(())
    };
    writeln!(out, "global work item queue________________________________")?;
    for item in &queues.global {
        show(out, item)?;
    }
    writeln!(out)?;
    writeln!(out, "local per thread work items_____________________________________")?;
    for item in &queues.local {
        show(out, item)?;
    }
    writeln!(out)?;
    for (tally, label) in [(tasks, "Task"), (works, "Work")] {
        if tally.rows.is_empty() {
            continue;
        }
        let mut rows = tally.rows;
        rows.sort_by_key(|(_, c)| *c);
        for (name, count) in rows {
            writeln!(out, " {count:>4} {label}  {name}")?;
        }
        writeln!(out, " ----")?;
        writeln!(out, " {:>4}", tally.total)?;
        writeln!(out)?;
    }
    writeln!(out)?;
    Ok(())
}

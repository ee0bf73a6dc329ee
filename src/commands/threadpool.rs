//! `threadpool`: the managed thread pool's state, as dotnet-dump prints it on .NET 8 and
//! later (the portable pool; no IO completion pool there).
//!
//! ```text
//! Using the Portable thread pool.
//!
//! CPU utilization:  49%
//! Workers Total:    3
//! ...
//! ```
use crate::args::{CommandArgs, OptionSpec};
use crate::render::output::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// threadpool's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-ti", "Print the hill climbing log.").or(&["-hc"]).unsupported(),
    OptionSpec::flag("-wi", "Print all work items that are queued.").unsupported(),
    OptionSpec::flag("-stat", "Print a summary of queued work items grouped by type (DumpHeap -stat style).")
        .or(&["-summary"])
        .unsupported(),
];

/// `threadpool`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    // dotnet-dump prints this line where its output goes (no error status): a process
    // whose pool was never started has no `ThreadPoolInstance`.
    let Some(pool) = session.heap.thread_pool()? else {
        writeln!(out, "Failed to obtain ThreadPool data.")?;
        return Ok(());
    };
    let row = |out: &mut dyn Write, label: &str, value: String| writeln!(out, "{label:<17} {value}");
    writeln!(out, "Using the Portable thread pool.")?;
    writeln!(out)?;
    row(out, "CPU utilization:", format!("{}%", pool.cpu_utilization))?;
    row(out, "Workers Total:", (pool.active as i32 + pool.idle).to_string())?;
    row(out, "Workers Running:", pool.active.to_string())?;
    row(out, "Workers Idle:", pool.idle.to_string())?;
    row(out, "Worker Min Limit:", pool.min_threads.to_string())?;
    row(out, "Worker Max Limit:", pool.max_threads.to_string())?;
    writeln!(out)?;
    Ok(())
}

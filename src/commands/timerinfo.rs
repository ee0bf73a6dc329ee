//! `timerinfo` (`ti`): every running timer, then a summary of the distinct ones, as
//! dotnet-dump prints them.
//!
//! ```text
//! (L) 0x00007EC43E049B60 @ 1200000 ms every  1200000 ms |  00007EC43E049AB0 (System.Threading.PeriodicTimer+State) -> System.Threading.PeriodicTimer+<>c.<.ctor>b__3_0
//!
//!    9 timers
//! -----------------------------------------------
//!    1 | (L) @ 1200000 ms every  1200000 ms | 00007EC43E049AB0 (System.Threading.PeriodicTimer+State) -> ...
//! ```
//!
//! Timers come from the heap's TimerQueues ([`Heap::timers`](crate::heap::Heap::timers)),
//! ordered by period (stable; a one-shot timer's `------` last). The summary groups equal
//! lines (state address included), in order of first appearance, then by count.
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::timers::{Callback, TimerInfo};
use crate::render::output::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// timerinfo has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// `timerinfo`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let (mut timers, warnings) = match session.heap.timers() {
        Ok(t) => t,
        Err(e) => {
            writeln!(out, "{e}")?;
            return Ok(());
        }
    };
    for w in warnings {
        session.warnings.warn(w.to_string());
    }
    timers.sort_by_key(|t| t.period);
    let mut stats: Vec<(String, u32)> = Vec::new();
    for t in &timers {
        let (kind, due, period, method) = parts(t);
        writeln!(
            out,
            "({kind}) 0x{:016X} @{due:>8} ms every {period:>8} ms |  {:016X} ({}) -> {method}",
            t.address, t.state, t.state_type
        )?;
        let key = format!("({kind}) @{due:>8} ms every {period:>8} ms | {:016X} ({}) -> {method}", t.state, t.state_type);
        match stats.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => stats.push((key, 1)),
        }
    }
    writeln!(out)?;
    writeln!(out, "   {} timers", timers.len())?;
    writeln!(out, "-----------------------------------------------")?;
    stats.sort_by_key(|(_, n)| *n);
    for (key, n) in stats {
        writeln!(out, "{n:>4} | {key}")?;
    }
    Ok(())
}

/// The list kind, due time, period and method columns of a timer.
fn parts(t: &TimerInfo) -> (char, String, String, String) {
    let period = if t.period == u32::MAX { "  ------".to_string() } else { t.period.to_string() };
    let method = match &t.callback {
        Callback::None => "???".to_string(),
        Callback::Unresolved => String::new(),
        Callback::Method { type_name, method } => format!("{type_name}.{method}"),
        Callback::Other(name) => format!("<{name}>"),
    };
    (if t.short { 'S' } else { 'L' }, t.due_time.to_string(), period, method)
}

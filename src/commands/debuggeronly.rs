//! The commands that only mean something inside a live debugger or SOS's own plumbing
//! (symbol servers, DAC paths, SOS's logging, its cached state, the stress-log `hist*`
//! family, `sos`/`ext`). clrheap reads the dump itself, with no DAC, symbols or SOS host,
//! so each answers in one line what it would do and why clrheap has no need of it.
use crate::args::{CommandArgs, OptionSpec};
use crate::render::Format;
use crate::session::Session;
use anyhow::Result;
use std::io::Write;

/// Commands without options (their words are accepted and ignored).
pub const OPTIONS: &[OptionSpec] = &[];
/// `dbgout`'s option.
pub const DBGOUT_OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-off", "Disable SOS's internal debug output.")];

fn say(args: &[String], specs: &'static [OptionSpec], line: &str, out: &mut dyn Write) -> Result<()> {
    CommandArgs::parse(args, specs)?;
    writeln!(out, "{line}")?;
    Ok(())
}

macro_rules! one_line {
    ($($name:ident, $specs:expr, $text:expr;)*) => {
        $(
            pub fn $name(_session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
                say(args, $specs, $text, out)
            }
        )*
    };
}

one_line! {
    run_setsymbolserver, OPTIONS, "setsymbolserver: sets where SOS downloads symbols and modules; clrheap needs no symbols (it reads the runtime's own descriptors and the modules beside the dump).";
    run_loadsymbols, OPTIONS, "loadsymbols: downloads native symbols for every module; clrheap needs no native symbols.";
    run_setclrpath, OPTIONS, "setclrpath: sets where SOS loads the DAC and DBI from; clrheap reads the heap without the DAC.";
    run_logging, OPTIONS, "logging: turns SOS's internal diagnostic log on or off; clrheap reports what it skips as warnings on standard error.";
    run_logopen, OPTIONS, "logopen: copies the console to a file; redirect clrheap's standard output instead.";
    run_logclose, OPTIONS, "logclose: stops copying the console to a file; clrheap keeps no console log.";
    run_dbgout, DBGOUT_OPTIONS, "dbgout: sends SOS's internal tracing to the debugger's output; clrheap has no debugger to trace to.";
    run_sosflush, OPTIONS, "sosflush: resets SOS's cached state for a live target that changed; a dump does not change, so clrheap has nothing to flush.";
    run_enummem, OPTIONS, "enummem: a test of the DAC's memory enumeration for writing dumps; clrheap has no DAC and writes no dumps.";
    run_histinit, OPTIONS, "histinit: loads the GC's stress log (a checked runtime's debugging aid); release runtimes keep no stress log, and clrheap does not read it.";
    run_histstats, OPTIONS, "histstats: statistics of the GC's stress log; release runtimes keep no stress log, and clrheap does not read it.";
    run_histclear, OPTIONS, "histclear: releases what histinit loaded; clrheap loads no stress log.";
    run_histobj, OPTIONS, "histobj: an object's relocations in the GC's stress log; release runtimes keep no stress log, and clrheap does not read it.";
    run_histobjfind, OPTIONS, "histobjfind: the stress log entries naming an object; release runtimes keep no stress log, and clrheap does not read it.";
    run_histroot, OPTIONS, "histroot: a root's promotions and relocations in the GC's stress log; release runtimes keep no stress log, and clrheap does not read it.";
    run_dumplog, OPTIONS, "dumplog: writes the runtime's in-memory stress log to a file; release runtimes keep no stress log, and clrheap does not read it.";
    run_sos, OPTIONS, "sos: runs an SOS command inside a native debugger; in clrheap type the command itself.";
}

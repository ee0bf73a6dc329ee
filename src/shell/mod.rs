//! The shell around the commands: what `clrheap analyze` does once the dump is open.
//!
//! Three ways in, one dispatcher ([`run_line`]):
//! - [`run_commands`]: the `-c` commands, in order (one-shot);
//! - [`run_script`]: command lines read from standard input when it is not a terminal;
//! - [`repl::run`]: the interactive prompt (history, completion, Ctrl-C cancels the
//!   running command).
//!
//! [`run_line`] handles what belongs to the shell — `exit`, and the hidden test command
//! `sleep <ms>` — and hands everything else (`help` included) to the registry.
//!
//! Warnings and notices the session reports ([`crate::warnings`]) are printed on standard
//! error as they come ([`print_warnings`]): warnings always, notices unless `--quiet`.
//!
//! Exit status: 0 when every command succeeded, 1 when one failed, 3 (`partial`) when
//! none failed but reading the dump skipped something (see [`crate::warnings`]: a command
//! that added a warning says on standard error, after its output, that its answer is
//! incomplete). A closed output pipe (`| head`) ends the run quietly with the status so
//! far.
pub mod complete;
pub mod repl;
pub mod summary;

use crate::registry::{self, split_words};
use crate::session::Session;
use crate::warnings::Level;
use crate::interrupt;
use crate::progress::ClearsProgress;
use anyhow::{bail, Result};
use std::io::{self, BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

/// What the shell does after a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    Exit,
}

/// Whether a line is a comment (`# ...`, after any blanks): command scripts may hold them.
pub fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Runs one command line: shell commands here, the rest through `Session::execute`. A
/// comment line (`# ...`) does nothing.
pub fn run_line(session: &Session, line: &str, out: &mut dyn Write) -> Result<Next> {
    if is_comment(line) {
        return Ok(Next::Continue);
    }
    let words = split_words(line)?;
    let Some((name, args)) = words.split_first() else {
        return Ok(Next::Continue);
    };
    let command = registry::canonical(name);
    // A command that draws no bar of its own gets a spinner when it takes a while (on a
    // terminal only: see `progress`).
    let label = format!("{command}: working");
    let done = match command.as_str() {
        "exit" => return Ok(Next::Exit),
        "sleep" => crate::progress::while_working(&label, || sleep(args, out)),
        _ => crate::progress::while_working(&label, || session.execute(line, out)).map_err(anyhow::Error::from),
    };
    // The pages the command's large arrays freed stay kept for the next command of a
    // batch (`-c`, a script: it follows at once and takes them before any fresh page);
    // the interactive prompt gives them back before it waits (`repl::run_one`).
    done?;
    Ok(Next::Continue)
}

/// Prints the session's warnings and notices on standard error as they are reported:
/// warnings always, notices (dotnet-dump's "Caching GC roots ...") unless `--quiet`.
pub fn print_warnings(session: &Session) {
    session.warnings.set_listener(|m| {
        if m.level == Level::Notice && crate::progress::is_quiet() {
            return;
        }
        eprintln!("{m}");
    });
}

/// `sleep <ms>` (hidden, for tests): waits, polling for Ctrl-C as long commands do.
fn sleep(args: &[String], out: &mut dyn Write) -> Result<()> {
    let Some(ms) = args.first().and_then(|a| a.parse::<u64>().ok()) else {
        bail!("usage: sleep <milliseconds>");
    };
    let end = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < end {
        interrupt::check()?;
        std::thread::sleep(Duration::from_millis(10));
    }
    writeln!(out, "slept {ms} ms")?;
    Ok(())
}

/// Whether an error comes from writing to a closed pipe (`| head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<crate::error::Error>()
                .is_some_and(|e| e.kind() == crate::error::ErrorKind::BrokenPipe)
    }) || format!("{e:#}").contains("Broken pipe (os error 32)")
}

/// Whether the failure's message is already in the command's output (SOS's `Invalid
/// parameter zz`, see [`crate::error::ShownInOutput`]).
pub fn shown_in_output(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<crate::error::ShownInOutput>()
            || c.downcast_ref::<crate::error::Error>().is_some_and(|e| e.shown_in_output())
    })
}

/// Standard output for the non-interactive modes: buffered, and clearing the progress
/// bar before output reaches a terminal.
fn buffered_stdout() -> io::BufWriter<ClearsProgress<io::StdoutLock<'static>>> {
    let tty = io::stdout().is_terminal();
    io::BufWriter::new(ClearsProgress::new(io::stdout().lock(), tty))
}

/// Exit status of a run whose commands all succeeded but whose answers are incomplete.
pub const EXIT_PARTIAL: i32 = 3;

/// Says on standard error that `line`'s answer is incomplete when it added warnings to
/// the dump's (the warnings themselves were printed as they came).
pub fn report_incomplete(session: &Session, line: &str, warnings_before: u64) {
    let added = session.warnings.count().saturating_sub(warnings_before);
    if added > 0 {
        let s = if added == 1 { "" } else { "s" };
        eprintln!(
            "clrheap: {}: the answer is incomplete: the dump could not be read in full ({added} warning{s} above)",
            line.trim()
        );
    }
}

/// The exit status of a run: `status` as the commands left it, or [`EXIT_PARTIAL`] when
/// they all succeeded but the dump's warnings say something was skipped.
pub fn final_status(session: &Session, status: i32) -> i32 {
    if status == 0 && session.warnings.count() > 0 {
        EXIT_PARTIAL
    } else {
        status
    }
}

/// Runs a list of command lines in order (the `-c` commands, or lines read from standard
/// input); a failed command prints `clrheap: COMMAND: MESSAGE` on standard error and the
/// next one still runs. Returns the exit status.
/// `analyze --timings`: each command's wall time on standard error.
static TIMINGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns `--timings` on or off for the commands run from here on.
pub fn set_timings(on: bool) {
    TIMINGS.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn run_all<I: Iterator<Item = io::Result<String>>>(session: &Session, lines: I) -> i32 {
    run_counted(session, lines).0
}

/// [`run_all`], and how many commands (lines neither blank nor comments) it read.
fn run_counted<I: Iterator<Item = io::Result<String>>>(session: &Session, lines: I) -> (i32, usize) {
    let mut out = buffered_stdout();
    // A failure SOS prints in its output is not repeated on standard error when both go
    // to the terminal.
    let output_on_terminal = io::stdout().is_terminal() && io::stderr().is_terminal();
    let mut status = 0;
    let mut commands = 0;
    for line in lines {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                let _ = out.flush();
                eprintln!("clrheap: cannot read standard input: {e}");
                return (1, commands);
            }
        };
        if !line.trim().is_empty() && !is_comment(&line) {
            commands += 1;
            // One CSV stream holds one table: a second command's header and rows would
            // mix with the first's.
            if commands > 1 && session.format == crate::render::Format::Csv && !is_exit(&line) {
                let _ = out.flush();
                eprintln!("clrheap: {}: {ONE_CSV_TABLE}", line.trim());
                status = 1;
                continue;
            }
        }
        let warnings_before = session.warnings.count();
        let started = Instant::now();
        let result = run_line(session, &line, &mut out);
        if TIMINGS.load(std::sync::atomic::Ordering::Relaxed) && !line.trim().is_empty() && !is_comment(&line) {
            let _ = out.flush();
            eprintln!("clrheap: {}: {:.1} ms", line.trim(), started.elapsed().as_secs_f64() * 1000.0);
        }
        if let Err(e) = &result
            && is_broken_pipe(e)
        {
            return (final_status(session, status), commands);
        }
        if let Err(e) = out.flush() {
            return (flush_failed(e, final_status(session, status)), commands);
        }
        match result {
            Ok(Next::Continue) => report_incomplete(session, &line, warnings_before),
            Ok(Next::Exit) => break,
            Err(e) => {
                if !(output_on_terminal && shown_in_output(&e)) {
                    eprintln!("clrheap: {}: {e:#}", line.trim());
                }
                status = 1;
            }
        }
    }
    let status = match out.flush() {
        Ok(()) => final_status(session, status),
        Err(e) => flush_failed(e, final_status(session, status)),
    };
    (status, commands)
}

fn flush_failed(e: io::Error, status: i32) -> i32 {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return status;
    }
    eprintln!("clrheap: cannot write output: {e}");
    1
}

/// Runs the `-c` commands in order. Returns the exit status.
pub fn run_commands(session: &Session, commands: &[String]) -> i32 {
    run_all(session, commands.iter().map(|c| Ok(c.clone())))
}

/// Runs the command lines read from standard input, in order, until its end or `exit`;
/// blank lines and comments (`# ...`) are skipped. Returns the exit status: when standard
/// input held no command at all (`clrheap analyze app.dmp </dev/null`), it says so and
/// how to give commands, and exits 2 (a usage error: nothing was asked).
pub fn run_script(session: &Session) -> i32 {
    let (status, commands) = run_counted(session, io::stdin().lock().lines());
    if commands == 0 && status != 1 {
        eprintln!("{NO_COMMANDS}");
        return 2;
    }
    status
}

/// Why a second command is refused under `--format csv`.
pub const ONE_CSV_TABLE: &str =
    "--format csv writes one table per run: run one command per clrheap analyze, or use --format json (one document per command)";

fn is_exit(line: &str) -> bool {
    split_words(line).ok().and_then(|w| w.first().map(|n| registry::canonical(n) == "exit")).unwrap_or(false)
}

/// What `analyze` says when standard input held no command.
pub const NO_COMMANDS: &str = "clrheap: no command to run: standard input held none. Give commands with \
-c \"dumpheap -stat\", as lines on standard input, or run on a terminal for the prompt";

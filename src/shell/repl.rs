//! The interactive prompt: `clrheap analyze DUMP` on a terminal.
//!
//! - A summary of the dump, then the prompt `> `.
//! - History in `$XDG_STATE_HOME/clrheap/history` (or `~/.local/state/clrheap/history`),
//!   appended after each command, so it survives a killed session and several sessions.
//! - Tab completes command names, options and, after `-type`, the heap's type names.
//! - Ctrl-C at the prompt clears the line; during a command it cancels the command (which
//!   ends at its next output or poll of `interrupt::cancelled`) and returns to the prompt.
//! - A failed command prints `ERROR: message` on standard error, as dotnet-dump's prompt
//!   does, and the shell goes on.
//! - `exit`, `quit`, `q` or Ctrl-D leave.
use super::complete::ShellHelper;
use super::summary::{self, HeapCensus};
use super::{is_broken_pipe, run_line, Next};
use crate::session::Session;
use crate::interrupt::{self, InterruptibleWriter};
use crate::progress::{self, ClearsProgress};
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::Editor;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

/// The prompt, as dotnet-dump's.
pub const PROMPT: &str = "> ";

/// Where the history is kept: `$XDG_STATE_HOME/clrheap/history`, else
/// `$HOME/.local/state/clrheap/history`.
pub fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("clrheap").join("history"))
}

/// Runs the prompt until `exit` or end of input. Returns the exit status (0, or 1 when the
/// terminal could not be used).
pub fn run(session: &Session) -> i32 {
    if let Err(e) = interrupt::install_handler() {
        eprintln!("clrheap: cannot handle Ctrl-C: {e}");
    }
    let census = summary::census(session);
    println!("{}", summary::describe(session, &census));
    println!("Type 'help' for the commands, 'exit' to leave.");
    interrupt::reset();

    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .history_ignore_space(true)
        .history_ignore_dups(true)
        .and_then(|c| c.max_history_size(1000))
        .map(|c| c.build());
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("clrheap: {e}");
            return 1;
        }
    };
    let mut editor: Editor<ShellHelper<'_>, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("clrheap: cannot use the terminal: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(ShellHelper::new(Box::new(|| type_names(session, &census)))));
    let history = history_path();
    if let Some(path) = &history {
        // A missing file is a first run.
        let _ = editor.load_history(path);
    }
    loop {
        let line = match editor.readline(PROMPT) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("clrheap: cannot read the terminal: {e}");
                return 1;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if editor.add_history_entry(line.as_str()).unwrap_or(false)
            && let Some(path) = &history
        {
            save_history(&mut editor, path);
        }
        if run_one(session, &line) == Next::Exit {
            break;
        }
    }
    0
}

fn save_history(editor: &mut Editor<ShellHelper<'_>, DefaultHistory>, path: &PathBuf) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = editor.append_history(path) {
        eprintln!("clrheap: cannot save the history in {}: {e}", path.display());
    }
}

/// Runs one line at the prompt, reporting its failure or cancellation.
fn run_one(session: &Session, line: &str) -> Next {
    interrupt::reset();
    progress::output_ended();
    let stdout = io::stdout();
    let tty = stdout.is_terminal();
    let mut out = InterruptibleWriter::new(io::BufWriter::new(ClearsProgress::new(stdout.lock(), tty)));
    let warnings_before = session.warnings.count();
    let result = run_line(session, line, &mut out);
    // The prompt is about to wait: the pages the command's large arrays freed go back to
    // the system, so an idle session holds only what it keeps.
    crate::recycle::release();
    let next = match &result {
        Ok(next) => *next,
        Err(_) => Next::Continue,
    };
    match result {
        Err(e) if interrupt::is_cancelled(&e) => {
            // Drop what the command had buffered: it was cancelled.
            let (inner, _unwritten) = out.into_inner().into_parts();
            drop(inner);
            eprintln!("\ncancelled");
        }
        Err(e) if is_broken_pipe(&e) => {}
        Err(e) => {
            let _ = out.flush();
            // SOS's own failure messages (`Invalid parameter zz`) are in the output already.
            if !super::shown_in_output(&e) {
                eprintln!("ERROR: {e:#}");
            }
        }
        Ok(_) => {
            if let Err(e) = out.flush()
                && e.kind() != io::ErrorKind::BrokenPipe
            {
                eprintln!("ERROR: cannot write output: {e}");
            }
            super::report_incomplete(session, line, warnings_before);
        }
    }
    progress::output_ended();
    interrupt::reset();
    next
}

/// The names of the types on the heap, for completion after `-type`.
fn type_names(session: &Session, census: &HeapCensus) -> Vec<String> {
    census
        .types
        .keys()
        .map(|&mt| session.heap.type_name(mt).to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

//! The command registry: every command `analyze` knows, one row each ([`table::COMMANDS`]),
//! and running a command line ([`execute`], also `Session::execute`).
//!
//! A row holds the command's name and aliases (as dotnet-dump 10 spells them), usage,
//! summary, options (the command's own [`OptionSpec`] list, the one its parser reads),
//! details, examples, the lines the robustness test and fuzzers run, and what runs it.
//! Dispatch, `help` ([`help`]), the shell's tab completion, the man page, the fuzz
//! targets and the robustness test all read this one table.
//!
//! Names match case-insensitively, with or without SOS's leading `!` (`DumpHeap`,
//! `!dumpheap`, `dumpheap`). A dotnet-dump command clrheap does not answer yet has a row
//! too ([`Action::NotYet`]): it says so in one line, whichever alias was typed.
//!
//! **Adding a command**: write `src/commands/NAME.rs` with `pub const OPTIONS:
//! &[OptionSpec]` and `pub fn run(session, args, format, out)`, declare it in
//! `src/commands/mod.rs`, and give its row in `table.rs` `action: Action::Run(NAME::run)`
//! and `options: NAME::OPTIONS` (replacing its `planned(...)` row if dotnet-dump has it).
pub mod help;
pub mod table;

use crate::args::{refuse_unsupported, OptionSpec};
use crate::error::Error;
use crate::render::output::take_format_option;
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

pub use table::COMMANDS;

/// What runs a command: the session, its words after the name (`--format` taken out),
/// the output format, where to write.
pub type RunFn = fn(&Session, &[String], Format, &mut dyn Write) -> Result<()>;

/// Who answers a command.
#[derive(Clone, Copy)]
pub enum Action {
    /// clrheap runs it.
    Run(RunFn),
    /// The shell runs it (`help`, `exit`).
    Shell,
    /// dotnet-dump has it; clrheap does not answer it yet.
    NotYet,
}

/// One command.
#[derive(Clone, Copy)]
pub struct Command {
    /// The canonical name (lower case): dotnet-dump's first name for it.
    pub name: &'static str,
    /// Its other names (lower case), as dotnet-dump accepts them.
    pub aliases: &'static [&'static str],
    /// What follows the name: `<objaddr> [-nofields]`.
    pub usage: &'static str,
    /// One line for `help`.
    pub summary: &'static str,
    /// Its options: the list its parser reads.
    pub options: &'static [OptionSpec],
    /// More text for `help <command>`; may be empty.
    pub details: &'static str,
    /// Example command lines.
    pub examples: &'static [&'static str],
    /// Lines the robustness test and the fuzz targets run (`{0}`..`{4}`: see
    /// `fuzzing::command_lines`).
    pub exercise: &'static [&'static str],
    pub action: Action,
}

impl Command {
    /// Whether clrheap answers it (itself or in the shell).
    pub fn implemented(&self) -> bool {
        !matches!(self.action, Action::NotYet)
    }

    /// Its name and aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// Its options as help and completion show them: its own, then `-format` for a
    /// command clrheap runs (the registry takes that one out before the command sees its
    /// words).
    pub fn shown_options(&self) -> impl Iterator<Item = &'static OptionSpec> {
        let format = match self.action {
            Action::Run(_) => Some(&FORMAT_OPTION),
            _ => None,
        };
        self.options.iter().chain(format)
    }
}

/// `-format`, which every command clrheap runs accepts.
pub static FORMAT_OPTION: OptionSpec =
    OptionSpec::valued("-format", "<format>", "Output format: text (default), json or csv.");

/// A row for a dotnet-dump command clrheap does not answer yet.
pub const fn planned(name: &'static str, aliases: &'static [&'static str], usage: &'static str, summary: &'static str) -> Command {
    Command {
        name,
        aliases,
        usage,
        summary,
        options: &[],
        details: "",
        examples: &[],
        exercise: &[],
        action: Action::NotYet,
    }
}

/// Normalises a typed command name: no leading `!`, lower case.
pub fn normalize(name: &str) -> String {
    name.trim_start_matches('!').to_ascii_lowercase()
}

/// The row of a command name or alias, matched case-insensitively, `!` optional.
pub fn lookup(name: &str) -> Option<&'static Command> {
    let name = normalize(name);
    COMMANDS.iter().find(|c| c.names().any(|n| n == name))
}

/// The canonical name of a command or alias (`DO` -> `dumpobj`); an unknown name comes
/// back normalised.
pub fn canonical(name: &str) -> String {
    match lookup(name) {
        Some(c) => c.name.to_string(),
        None => normalize(name),
    }
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

/// Runs one command line in the given output format (a `--format` option in the line
/// itself wins), writing its output to `out`. `help` is answered here too; `exit` does
/// nothing (leaving is the shell's business). An unknown name fails with
/// [`Error::UnknownCommand`], a command clrheap does not implement yet with
/// [`Error::NotImplemented`].
pub fn execute(session: &Session, line: &str, format: Format, out: &mut dyn Write) -> crate::error::Result<()> {
    let mut words = split_words(line)?;
    if words.is_empty() {
        return Ok(());
    }
    let typed = words.remove(0);
    let Some(command) = lookup(&typed) else {
        return Err(Error::UnknownCommand(normalize(&typed)));
    };
    // Each command reports the damage it meets, even where an earlier command met it too.
    session.warnings.begin_command();
    let done = match command.action {
        Action::Run(run) => {
            let mut args = words;
            let format = take_format_option(&mut args)?.unwrap_or(format);
            refuse_unsupported(&args, command.options)?;
            if format == Format::Csv {
                // Only a table passes as CSV: a command without a CSV form is refused.
                let mut csv = crate::render::output::CsvOnly::new(out, command.name);
                run(session, &args, format, &mut csv).and_then(|()| Ok(csv.finish()?))
            } else {
                run(session, &args, format, out)
            }
        }
        Action::Shell if command.name == "help" => match words.first() {
            None => help::list(out),
            Some(name) => help::command(name, out),
        },
        Action::Shell => Ok(()),
        Action::NotYet => return Err(Error::NotImplemented(command.name)),
    };
    Ok(done?)
}

impl Session {
    /// Runs one command line, writing its output to `out` (see [`execute`]).
    pub fn execute(&self, line: &str, out: &mut dyn Write) -> crate::error::Result<()> {
        execute(self, line, self.format, out)
    }

    /// Runs one command line in the given output format (a `--format` option in the
    /// line itself wins).
    pub fn execute_as(&self, line: &str, format: Format, out: &mut dyn Write) -> crate::error::Result<()> {
        execute(self, line, format, out)
    }
}

#[cfg(test)]
mod tests;

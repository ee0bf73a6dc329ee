//! The command line: `clrheap analyze <DUMP> [-c <COMMAND>]...`, mirroring dotnet-dump,
//! plus `clrheap completions <SHELL>` and `clrheap man`.
//!
//! `analyze` runs the `-c` commands when given; otherwise it reads commands from standard
//! input when that is not a terminal, and opens the interactive prompt when it is (see
//! [`crate::shell`]).
//!
//! Exit status: 0 on success, 1 when the dump cannot be read or a command fails, 2 for
//! usage errors, 3 (`partial`) when the commands succeeded but the dump could not be read
//! in full (a warning said what was skipped). A closed output pipe (`| head`) ends the
//! run quietly.
use crate::render::Format;
use crate::session::Session;
use crate::dump::DumpOptions;
use crate::{progress, shell};
use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "clrheap",
    version,
    about = "Analyze .NET heap dumps: dumpheap, eeheap and more, without the DAC.",
    long_about = "clrheap reads Linux core dumps of .NET 8, 9 and 10 processes and answers \
dotnet-dump's heap commands (dumpheap -stat, dumpheap -type, eeheap -gc, ...) with the same \
text, without Microsoft's DAC, a symbol server or a .NET install.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Draw no progress bars (they appear only on a terminal, for long work).
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Neither read nor write the index on disk (also: CLRHEAP_NO_INDEX=1). See the
    /// README's "The index on disk".
    #[arg(long = "no-index", global = true)]
    pub no_index: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The examples `--help` ends with (and the man page's EXAMPLES).
const EXAMPLES: &str = "Examples:
  clrheap ps                                      the .NET processes on this machine
  clrheap collect -p 1234 --type heap -o app.dmp  have process 1234 write a heap dump
  clrheap analyze app.dmp                         open a prompt on the dump ('help' lists commands)
  clrheap analyze app.dmp -c \"dumpheap -stat\"     run one command and exit
  clrheap analyze app.dmp < commands.txt          run a script of commands (# starts a comment)
  clrheap diff before.dmp after.dmp --live        what grew between two dumps
  clrheap pack app.dmp                            one file that opens on any machine

Exit status: 0 success; 1 the dump cannot be read or a command failed; 2 usage error;
3 the commands succeeded but part of the dump could not be read (warnings say what).";

/// `analyze --help`'s examples.
const ANALYZE_EXAMPLES: &str = "Examples:
  clrheap analyze app.dmp
  clrheap analyze app.dmp -c \"dumpheap -stat\" -c \"dumpheap -type MyApp.Order -min 1000\"
  printf 'dumpheap -stat\\neeheap -gc\\n' | clrheap analyze app.dmp
  clrheap analyze app.dmp.packed.zst --format json -c \"dumpheap -stat\"
  clrheap analyze app.dmp --module-path /opt/dotnet -c \"eeheap -gc\"";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open a dump and run commands on it, as `dotnet-dump analyze` does.
    ///
    /// With -c, runs those commands and exits. Without, runs the command lines read from
    /// standard input when it is not a terminal, or opens an interactive prompt (history,
    /// tab completion, `help`; Ctrl-C cancels the running command; `exit` or Ctrl-D leave).
    #[command(after_help = ANALYZE_EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Compare dumps of one application. Two: per type, how many objects and bytes each
    /// holds and what changed, biggest growth first. Three or more: the owners (as `leaks`
    /// names them) and types that grow at every step, the application's types first.
    ///
    /// For example: clrheap diff before.dmp after.dmp --live --top 20;
    /// clrheap diff monday.dmp tuesday.dmp wednesday.dmp
    Diff(DiffArgs),
    /// Write one self-contained HTML report (no network): summary, leak suspects with
    /// owners and chains, a treemap of retained size, top types; with several dumps of
    /// one process (oldest first), their growth.
    ///
    /// For example: clrheap report app.dmp -o report.html
    Report(ReportArgs),
    /// List the .NET processes this user can see, as `dotnet-dump ps` does.
    ///
    /// For example: clrheap ps --verbose
    Ps(crate::ps::PsArgs),
    /// Have a running .NET process write a dump of itself, as `dotnet-dump collect` does
    /// (no .NET SDK needed).
    ///
    /// For example: clrheap collect -p 1234 --type heap -o app.dmp
    Collect(crate::collect::CollectArgs),
    /// Make a dump that opens anywhere: add the pages of the module files it needs and
    /// compress it.
    ///
    /// For example: clrheap pack app.dmp   (writes app.dmp.packed.zst)
    Pack(crate::pack::PackArgs),
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    ///
    /// For example: clrheap completions bash > ~/.local/share/bash-completion/completions/clrheap
    Completions {
        /// The shell to write the script for.
        shell: Shell,
    },
    /// Print the manual page (roff), e.g. clrheap man > clrheap.1; man ./clrheap.1
    Man,
}

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// The core dump to open (plain, or compressed with zstd).
    pub dump: PathBuf,
    /// A command to run (repeatable; run in order, then exit), e.g. -c "dumpheap -stat".
    #[arg(short = 'c', long = "command", value_name = "COMMAND")]
    pub commands: Vec<String>,
    /// A directory to search for a module file whose path recorded in the dump does not
    /// exist on this machine (repeatable). Files match by name and build id or size.
    #[arg(long = "module-path", value_name = "DIR")]
    pub module_paths: Vec<PathBuf>,
    /// Read only what the dump holds: never fall back to module files on this machine.
    #[arg(long = "dump-only")]
    pub dump_only: bool,
    /// Output format of every command: dotnet-dump's text, JSON (one document per
    /// command; JSON Lines for object listings) or CSV (one table per run: one command;
    /// a command without a table form is refused). A command's own `--format` wins.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// After each command, print on standard error how long it took (wall clock, inside
    /// the session: what a command costs once the dump is open and earlier commands ran).
    #[arg(long)]
    pub timings: bool,
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The earlier dump.
    pub before: PathBuf,
    /// The later dump.
    pub after: PathBuf,
    /// Later dumps still: with three dumps or more, the owners and types that grow at
    /// every step, ranked (live objects only).
    #[arg(value_name = "LATER")]
    pub later: Vec<PathBuf>,
    /// Count only live objects (reachable from the roots), not garbage.
    #[arg(long)]
    pub live: bool,
    /// How many types to show, biggest change first (0: every type that changed).
    #[arg(long, default_value_t = 30)]
    pub top: usize,
    /// Directories to search for module files (as for analyze).
    #[arg(long = "module-path", value_name = "DIR")]
    pub module_paths: Vec<PathBuf>,
    /// Output format: a table, JSON or CSV.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The dumps, oldest first; the last is shown in full.
    #[arg(required = true)]
    pub dumps: Vec<PathBuf>,
    /// Where to write the page.
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
    /// Directories to search for module files (as for analyze).
    #[arg(long = "module-path", value_name = "DIR")]
    pub module_paths: Vec<PathBuf>,
}

/// Runs the program and returns its exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    progress::set_quiet(cli.quiet);
    crate::graph::index::set_disabled(cli.no_index);
    match cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Diff(args) => diff(args),
        Command::Report(args) => report(args),
        Command::Ps(args) => crate::ps::run(&args),
        Command::Collect(args) => crate::collect::run(&args),
        Command::Pack(args) => crate::pack::run(&args),
        Command::Completions { shell } => {
            let mut out = io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "clrheap", &mut out);
            finish_output(out.flush())
        }
        Command::Man => {
            let mut out = io::stdout().lock();
            let written = man_page(&mut out);
            finish_output(written.and_then(|()| out.flush()))
        }
    }
}

/// The manual page: clap's sections for the command line, then the commands `analyze`
/// answers, from the registry.
fn man_page(out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(Cli::command());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    commands_section(out)?;
    crate::registry::help::man_section(out).map_err(io::Error::other)?;
    out.write_all(MAN_TAIL.as_bytes())?;
    man.render_version_section(out)
}

/// Escapes text for roff: backslashes, dashes, and a leading `.` or `'`.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) { format!("\\&{t}") } else { t }
}

/// The man page's COMMANDS: each of clrheap's commands (there is one page, so no
/// `clrheap-analyze(1)` to refer to), with its usage, description and options.
fn commands_section(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, ".SH COMMANDS")?;
    let mut cli = Cli::command();
    cli.build();
    for sub in cli.get_subcommands_mut() {
        if sub.get_name() == "help" {
            continue;
        }
        let usage = sub.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ");
        writeln!(out, ".TP")?;
        writeln!(out, "\\fB{}\\fR", roff(usage))?;
        let about = sub.get_long_about().or(sub.get_about()).map(|a| a.to_string()).unwrap_or_default();
        for (i, paragraph) in about.split("\n\n").enumerate() {
            if i > 0 {
                writeln!(out, ".IP")?;
            }
            writeln!(out, "{}", roff(&paragraph.replace('\n', " ")))?;
        }
        for arg in sub.get_arguments() {
            if arg.is_hide_set() || arg.get_id() == "help" || arg.get_id() == "quiet" || arg.get_id() == "no_index" {
                continue;
            }
            let name = match (arg.get_short(), arg.get_long()) {
                (Some(s), Some(l)) => format!("-{s}, --{l}"),
                (Some(s), None) => format!("-{s}"),
                (None, Some(l)) => format!("--{l}"),
                (None, None) => format!("<{}>", arg.get_id().as_str().to_uppercase()),
            };
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            writeln!(out, ".br")?;
            writeln!(out, "\\fB{}\\fR: {}", roff(&name), roff(&help))?;
        }
    }
    Ok(())
}

/// The man page's sections after the analyze commands: exit status, environment, files,
/// examples.
const MAN_TAIL: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Every command succeeded, on a dump read in full.
.TP
\fB1\fR
The dump cannot be read, or a command failed (an unknown command, an object not found, bad arguments to a command).
.TP
\fB2\fR
A usage error of clrheap itself (a missing dump path, an unknown option), or no command given on standard input.
.TP
\fB3\fR
Partial: every command succeeded, but something in the dump was skipped; each such thing is a \fBwarning:\fR line on standard error.
.SH ENVIRONMENT
.TP
\fBCLRHEAP_MODULE_PATH\fR
Directories (colon-separated) searched for module files, as \fB\-\-module\-path\fR.
.TP
\fBXDG_STATE_HOME\fR
Where the prompt keeps its history (\fBclrheap/history\fR; default \fB~/.local/state\fR).
.TP
\fBTMPDIR\fR
Where \fBps\fR and \fBcollect\fR look for the runtimes' diagnostics sockets (default \fB/tmp\fR).
.SH FILES
.TP
\fB~/.local/state/clrheap/history\fR
The prompt's command history.
.SH EXAMPLES
.nf
clrheap ps
clrheap collect \-p 1234 \-\-type heap \-o app.dmp
clrheap analyze app.dmp
clrheap analyze app.dmp \-c "dumpheap \-stat" \-c "eeheap \-gc"
clrheap analyze app.dmp < commands.txt
clrheap diff before.dmp after.dmp \-\-live \-\-top 20
clrheap pack app.dmp
.fi
"#;

/// Exit status after writing generated text: a closed pipe is not an error.
fn finish_output(result: io::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("clrheap: cannot write output: {e}");
            1
        }
    }
}

fn analyze(args: AnalyzeArgs) -> i32 {
    if args.format == Format::Csv && args.commands.len() > 1 {
        eprintln!("clrheap: {}", shell::ONE_CSV_TABLE);
        return 2;
    }
    let options = DumpOptions {
        module_paths: args.module_paths,
        dump_only: args.dump_only,
    };
    // The dump's warnings sink exists before the session: what opening skipped is printed
    // even when opening fails (a refused libcoreclr.so explains a missing runtime).
    let space = match crate::dump::open_dump(&args.dump, &options) {
        Ok(space) => std::sync::Arc::new(space),
        Err(e) => {
            eprintln!("clrheap: {}", naming_file(&args.dump, &anyhow::Error::from(crate::Error::from(e))));
            return 1;
        }
    };
    let warnings = space.shared_warnings();
    let mut session = match Session::from_space(space) {
        Ok(s) => s,
        Err(e) => {
            for m in warnings.take() {
                eprintln!("{m}");
            }
            // The whole chain: anyhow prints each cause.
            eprintln!("clrheap: {}", naming_file(&args.dump, &anyhow::Error::from(e)));
            return 1;
        }
    };
    session.format = args.format;
    shell::set_timings(args.timings);
    session.dump_path = Some(std::path::absolute(&args.dump).unwrap_or_else(|_| args.dump.clone()));
    session.use_index(&args.dump);
    shell::print_warnings(&session);
    if !args.commands.is_empty() {
        shell::run_commands(&session, &args.commands)
    } else if io::stdin().is_terminal() {
        shell::repl::run(&session)
    } else {
        shell::run_script(&session)
    }
}

/// An error about a dump, as one line that names the dump file (once). A missing module
/// file is named by its own message, which says what to pass: the dump is not repeated.
fn naming_file(path: &std::path::Path, e: &anyhow::Error) -> String {
    let message = format!("{e:#}");
    let name = path.display().to_string();
    let about_a_module = e
        .chain()
        .any(|c| c.downcast_ref::<crate::Error>().is_some_and(|e| e.kind() == crate::error::ErrorKind::ModuleFileMissing));
    if about_a_module || message.contains(&name) { message } else { format!("{name}: {message}") }
}

/// Opens a dump for a command line run: with its index on disk, unless turned off.
fn open_session(path: &std::path::Path, options: &DumpOptions) -> crate::error::Result<Session> {
    let mut session = Session::open(path, options)?;
    session.use_index(path);
    Ok(session)
}

fn diff(args: DiffArgs) -> i32 {
    let options = DumpOptions {
        module_paths: args.module_paths.clone(),
        ..Default::default()
    };
    if !args.later.is_empty() {
        return diff_growth(args, &options);
    }
    let open = |path: &PathBuf| -> Result<_, String> {
        let session = open_session(path, &options).map_err(|e| naming_file(path, &e.into()))?;
        shell::print_warnings(&session);
        let totals = crate::commands::diff::type_totals(&session, args.live).map_err(|e| naming_file(path, &e))?;
        let identity = crate::commands::diff::Identity::of(&session);
        Ok((totals, session.warnings.count(), identity))
    };
    let (before, after) = progress::while_working("diff: reading both dumps", || {
        rayon::join(|| open(&args.before), || open(&args.after))
    });
    let ((before, before_warnings, before_id), (after, after_warnings, after_id)) = match (before, after) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("clrheap: {e}");
            return 1;
        }
    };
    if let Some(why) = before_id.unrelated(&after_id) {
        eprintln!(
            "warning: {} and {} do not look like two dumps of one application ({why}): types are matched by name, so the changes below may mean little",
            args.before.display(),
            args.after.display()
        );
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = crate::commands::diff::render(&before, &after, args.top, args.format, &mut out)
        .and_then(|()| Ok(std::io::Write::flush(&mut out)?));
    let complete = if before_warnings + after_warnings > 0 {
        crate::shell::EXIT_PARTIAL
    } else {
        0
    };
    match result {
        Ok(()) => complete,
        Err(e) if crate::shell::is_broken_pipe(&e) => complete,
        Err(e) => {
            eprintln!("clrheap: {e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn man_page_lists_the_commands() {
        let mut out = Vec::new();
        man_page(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(".SH \"ANALYZE COMMANDS\""));
        assert!(text.contains("\\fBdumpheap\\fR"));
        assert!(text.contains(".SH COMMANDS"), "{text}");
        // One page: no references to per-command pages that do not exist.
        assert!(!text.contains("clrheap\\-analyze(1)") && !text.contains("(1)\n"), "{text}");
        // Each command with its usage and options; exit statuses; examples.
        assert!(text.contains("\\fBclrheap analyze [OPTIONS] <DUMP>\\fR"), "{text}");
        assert!(text.contains("\\fB\\-\\-module\\-path\\fR"), "{text}");
        assert!(text.contains(".SH \"EXIT STATUS\"") && text.contains("\\fB3\\fR\nPartial"), "{text}");
        assert!(text.contains(".SH EXAMPLES"), "{text}");
    }
}

/// `diff A B C...`: one growth snapshot per dump (in turn: each holds a graph), then the
/// ranking.
fn diff_growth(args: DiffArgs, options: &DumpOptions) -> i32 {
    let paths: Vec<PathBuf> = [args.before.clone(), args.after.clone()].into_iter().chain(args.later.iter().cloned()).collect();
    let mut snaps = Vec::new();
    let mut warnings = 0;
    for path in &paths {
        let snap = open_session(path, options).map_err(|e| e.context(path.display().to_string())).and_then(|session| {
            shell::print_warnings(&session);
            let s = crate::analysis::growth::snapshot(&session)?;
            warnings += session.warnings.count();
            Ok(s)
        });
        match snap {
            Ok(s) => snaps.push(s),
            Err(e) => {
                eprintln!("clrheap: {}: {e:#}", path.display());
                return 1;
            }
        }
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = crate::commands::diff::render_growth(&names, &snaps, args.top, args.format, &mut out)
        .and_then(|()| Ok(std::io::Write::flush(&mut out)?));
    let complete = if warnings > 0 { crate::shell::EXIT_PARTIAL } else { 0 };
    match result {
        Ok(()) => complete,
        Err(e) if crate::shell::is_broken_pipe(&e) => complete,
        Err(e) => {
            eprintln!("clrheap: {e:#}");
            1
        }
    }
}

fn report(args: ReportArgs) -> i32 {
    let options = DumpOptions { module_paths: args.module_paths.clone(), ..Default::default() };
    let mut sessions = Vec::new();
    for path in &args.dumps {
        match open_session(path, &options) {
            Ok(s) => {
                shell::print_warnings(&s);
                sessions.push((path.display().to_string(), s));
            }
            Err(e) => {
                eprintln!("clrheap: {}: {e:#}", path.display());
                return 1;
            }
        }
    }
    let refs: Vec<(String, &Session)> = sessions.iter().map(|(n, s)| (n.clone(), s)).collect();
    let result = std::fs::File::create(&args.output)
        .map_err(anyhow::Error::from)
        .and_then(|f| {
            let mut out = std::io::BufWriter::new(f);
            crate::commands::report::write_html(&refs, &mut out)?;
            Ok(std::io::Write::flush(&mut out)?)
        });
    for (_, s) in &sessions {
        shell::print_warnings(s);
    }
    match result {
        Ok(()) => {
            eprintln!("clrheap: wrote {}", args.output.display());
            if sessions.iter().any(|(_, s)| s.warnings.count() > 0) { crate::shell::EXIT_PARTIAL } else { 0 }
        }
        Err(e) => {
            eprintln!("clrheap: {}: {e:#}", args.output.display());
            1
        }
    }
}

//! The command line: `clrheap analyze <DUMP> [-c <COMMAND>]...`, mirroring dotnet-dump.
//!
//! Exit status: 0 on success, 1 when the dump cannot be read or a command fails, 2 for
//! usage errors. A closed output pipe (`| head`) ends the run quietly.
use crate::commands::Session;
use crate::dump::DumpOptions;
use clap::{Parser, Subcommand};
use std::io::{self, Write};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "clrheap",
    version,
    about = "Analyze .NET heap dumps: dumpheap, eeheap and more, without the DAC.",
    long_about = "clrheap reads Linux core dumps of .NET 8, 9 and 10 processes and answers \
dotnet-dump's heap commands (dumpheap -stat, dumpheap -type, eeheap -gc, ...) with the same \
text, without Microsoft's DAC, a symbol server or a .NET install."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open a dump and run commands on it, as `dotnet-dump analyze` does.
    Analyze(AnalyzeArgs),
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
    match cli.command {
        Command::Analyze(args) => analyze(args),
    }
}

fn analyze(args: AnalyzeArgs) -> i32 {
    if args.commands.is_empty() {
        eprintln!(
            "clrheap: the interactive shell is not available yet; run commands with -c, e.g. \
             clrheap analyze {} -c \"dumpheap -stat\"",
            args.dump.display()
        );
        return 2;
    }
    let options = DumpOptions {
        module_paths: args.module_paths,
        dump_only: args.dump_only,
    };
    let session = match Session::open(&args.dump, &options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("clrheap: {e:#}");
            return 1;
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut status = 0;
    for command in &args.commands {
        match session.execute(command, &mut out) {
            Ok(()) => {}
            Err(e) if is_broken_pipe(&e) => return status,
            Err(e) => {
                let _ = out.flush();
                eprintln!("clrheap: {command}: {e:#}");
                status = 1;
            }
        }
    }
    if let Err(e) = out.flush()
        && e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("clrheap: cannot write output: {e}");
            return 1;
        }
    status
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}

//! `clrheap ps`: the .NET processes this user can see, listed as `dotnet-dump ps` lists
//! them (PID, name, executable, arguments), found through their diagnostics sockets
//! ([`crate::ipc`]).
//!
//! Each process is also asked `ProcessInfo` (in parallel, half a second each): `--verbose`
//! and `--format json` add what it answers (runtime version, entry assembly,
//! architecture). A process that does not answer in time (stopped, or busy) is still
//! listed, with what `/proc` says.
use crate::ipc::{self, procfs, protocol::ProcessInfo, Endpoint};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// How long each process has to answer `ProcessInfo`.
pub const ANSWER_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Add what each runtime says about itself: its .NET version and entry assembly.
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format: dotnet-dump's table, or JSON ({"processes": [...]}).
    #[arg(long, value_enum, default_value_t = PsFormat::Text)]
    pub format: PsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PsFormat {
    Text,
    Json,
}

/// One .NET process.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    pub pid: u32,
    pub name: String,
    /// The executable (`/proc/PID/exe`), or dotnet-dump's text when it cannot be read.
    pub path: String,
    /// The command line after the executable, as dotnet-dump shows it.
    pub arguments: String,
    /// The diagnostics socket it was found by.
    pub socket: String,
    /// Whether the runtime answered `ProcessInfo` in time.
    pub answered: bool,
    /// Why it did not: `no access` (another user's process), `no answer` (timeout or
    /// closed connection).
    pub unanswered: Option<&'static str>,
    /// The command line as the runtime reports it.
    pub command_line: Option<String>,
    pub runtime_version: Option<String>,
    pub entry_assembly: Option<String>,
    pub architecture: Option<String>,
}

const ELEVATED_PATH: &str = "[Elevated process - cannot determine path]";
const NO_ARGUMENTS: &str = "[cannot determine command line arguments]";

/// What `/proc` and the runtime say about a process with a diagnostics socket.
pub fn describe(endpoint: &Endpoint, answer: Result<ProcessInfo, ipc::IpcError>) -> Process {
    let unanswered = match &answer {
        Ok(_) => None,
        Err(ipc::IpcError::Connect { source, .. }) if source.kind() == std::io::ErrorKind::PermissionDenied => {
            Some("no access")
        }
        Err(_) => Some("no answer"),
    };
    let info = answer.ok();
    let pid = endpoint.pid;
    let exe = procfs::exe(pid).ok();
    let (path, arguments) = match &exe {
        Some(exe) => {
            let args = match procfs::cmdline(pid) {
                Ok(args) => arguments_after(&args, exe),
                Err(_) => NO_ARGUMENTS.to_string(),
            };
            let args = if &args == exe { String::new() } else { args };
            (exe.clone(), args)
        }
        None => (ELEVATED_PATH.to_string(), String::new()),
    };
    let name = procfs::name(pid)
        .or_else(|| {
            let first = info.as_ref()?.command_line.split(' ').next()?.to_string();
            Some(first.rsplit('/').next().unwrap_or(&first).to_string())
        })
        .unwrap_or_default();
    Process {
        pid,
        name,
        path,
        arguments,
        socket: endpoint.socket.display().to_string(),
        answered: info.is_some(),
        unanswered,
        command_line: info.as_ref().map(|i| i.command_line.clone()),
        runtime_version: info.as_ref().and_then(|i| i.runtime_version.clone()),
        entry_assembly: info.as_ref().and_then(|i| i.entry_assembly.clone()),
        architecture: info.map(|i| i.arch),
    }
}

/// The arguments as dotnet-dump prints them: when `argv[0]` is the executable, the rest
/// joined by spaces; otherwise the whole command line with its NULs as spaces.
fn arguments_after(args: &[String], exe: &str) -> String {
    if args.len() <= 1 && args.first().is_none_or(|a| a.is_empty()) {
        return String::new();
    }
    if args.first().is_some_and(|a| a == exe) {
        args[1..].join(" ")
    } else {
        args.join(" ")
    }
}

/// Every .NET process this user can see, asked `ProcessInfo` in parallel, in
/// dotnet-dump's order (by name, then pid).
pub fn list() -> Vec<Process> {
    let endpoints = ipc::discover();
    let mut processes: Vec<Process> = std::thread::scope(|s| {
        let handles: Vec<_> = endpoints
            .iter()
            .map(|e| s.spawn(move || ipc::process_info(e, ANSWER_TIMEOUT)))
            .collect();
        endpoints
            .iter()
            .zip(handles)
            .map(|(e, h)| {
                let answer = h.join().unwrap_or_else(|_| Err(ipc::IpcError::Protocol("the query failed".into())));
                describe(e, answer)
            })
            .collect()
    });
    processes.retain(|p| p.pid != std::process::id());
    processes.sort_by(|a, b| name_order(&a.name, &b.name).then(a.pid.cmp(&b.pid)));
    processes
}

/// Names compared as .NET's culture-aware sort does for ASCII names: letters ignoring
/// case first, lower case before upper case on a tie.
fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    let fold = |s: &str| s.to_lowercase();
    let case = |s: &str| s.chars().map(|c| c.is_uppercase()).collect::<Vec<_>>();
    fold(a).cmp(&fold(b)).then_with(|| case(a).cmp(&case(b)))
}

/// Runs `clrheap ps`; returns the exit status.
pub fn run(args: &PsArgs) -> i32 {
    let processes = list();
    let stdout = std::io::stdout();
    let terminal_width = stdout.is_terminal().then(|| console::Term::stdout().size().1 as usize);
    let mut out = stdout.lock();
    let text = match args.format {
        PsFormat::Json => {
            #[derive(Serialize)]
            struct Document<'a> {
                processes: &'a [Process],
            }
            let mut s = serde_json::to_string_pretty(&Document { processes: &processes }).unwrap_or_default();
            s.push('\n');
            s
        }
        PsFormat::Text => render(&processes, args.verbose, terminal_width),
    };
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("clrheap: cannot write output: {e}");
            1
        }
    }
}

/// dotnet-dump's table: each cell padded to its column's width (at most about half the
/// terminal, keeping a cell's end when it is cut) between single spaces, a row a line,
/// then an empty line. `--verbose` adds the runtime's version and entry assembly after
/// the name.
pub fn render(processes: &[Process], verbose: bool, terminal_width: Option<usize>) -> String {
    if processes.is_empty() {
        return "No supported .NET processes were found\n".to_string();
    }
    let rows: Vec<Vec<String>> = processes
        .iter()
        .map(|p| {
            let mut row = vec![p.pid.to_string(), p.name.clone()];
            if verbose {
                let unknown = match p.unanswered {
                    Some(why) => format!("({why})"),
                    None => "?".to_string(),
                };
                row.push(p.runtime_version.clone().unwrap_or_else(|| unknown.clone()));
                row.push(p.entry_assembly.clone().unwrap_or(unknown));
            }
            row.push(p.path.clone());
            row.push(p.arguments.clone());
            row
        })
        .collect();
    let limit = match terminal_width {
        Some(w) => (w / 2).saturating_sub(16).saturating_sub(w.div_ceil(20)),
        None => usize::MAX,
    };
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| text_len(&r[c])).max().unwrap_or(0).min(limit))
        .collect();
    let mut out = String::new();
    for row in &rows {
        for (c, cell) in row.iter().enumerate() {
            out.push(' ');
            out.push_str(&fit(cell, widths[c], c == 0));
            out.push(' ');
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Length as .NET counts it (UTF-16 code units).
fn text_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// A cell of exactly `width`: padded (on the left when `right_align`), or cut keeping
/// its end.
fn fit(s: &str, width: usize, right_align: bool) -> String {
    let len = text_len(s);
    if len > width {
        let units: Vec<u16> = s.encode_utf16().collect();
        return String::from_utf16_lossy(&units[len - width..]);
    }
    let pad = " ".repeat(width - len);
    if right_align { format!("{pad}{s}") } else { format!("{s}{pad}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, name: &str, path: &str, args: &str) -> Process {
        Process {
            pid,
            name: name.into(),
            path: path.into(),
            arguments: args.into(),
            socket: String::new(),
            answered: true,
            unanswered: None,
            command_line: None,
            runtime_version: Some("10.0.12".into()),
            entry_assembly: Some("app".into()),
            architecture: None,
        }
    }

    #[test]
    fn table_as_dotnet_dump_prints_it() {
        // What dotnet-dump 10.0.750501 printed for one lab scenario (stdout redirected).
        let rows = [p(28519, "dotnet", "/lab/dotnet/dotnet", "exec --fx-version 10.0.12 /lab/scenarios.dll seed ")];
        assert_eq!(
            render(&rows, false, None),
            " 28519  dotnet  /lab/dotnet/dotnet  exec --fx-version 10.0.12 /lab/scenarios.dll seed  \n\n"
        );
        let rows = [p(7, "dotnet", "/d/dotnet", "a"), p(12345, "app", "/x", "")];
        assert_eq!(render(&rows, false, None), "     7  dotnet  /d/dotnet  a \n 12345  app     /x           \n\n");
        assert_eq!(render(&[], false, None), "No supported .NET processes were found\n");
    }

    #[test]
    fn narrow_terminal_keeps_the_ends() {
        // 80 columns: 40 - 16 - 4 = 20 at most per column.
        let rows = [p(1, "dotnet", "/a/very/long/path/to/the/dotnet", "x")];
        let text = render(&rows, false, Some(80));
        assert_eq!(text, " 1  dotnet  g/path/to/the/dotnet  x \n\n");
        // A terminal too narrow for any column still prints.
        assert!(render(&rows, false, Some(10)).starts_with("  "));
    }

    #[test]
    fn verbose_adds_version_and_entry_assembly() {
        let mut silent = p(2, "dotnet", "/d", "");
        silent.answered = false;
        silent.unanswered = Some("no answer");
        silent.runtime_version = None;
        silent.entry_assembly = None;
        let text = render(&[p(1, "dotnet", "/d", ""), silent], true, None);
        assert_eq!(
            text,
            " 1  dotnet  10.0.12      app          /d   \n 2  dotnet  (no answer)  (no answer)  /d   \n\n"
        );
    }

    #[test]
    fn arguments_after_the_executable() {
        let args: Vec<String> = ["/usr/bin/dotnet", "app.dll", "x", ""].map(String::from).to_vec();
        assert_eq!(arguments_after(&args, "/usr/bin/dotnet"), "app.dll x ");
        assert_eq!(arguments_after(&args, "/other"), "/usr/bin/dotnet app.dll x ");
        assert_eq!(arguments_after(&[String::new()], "/x"), "");
    }

    #[test]
    fn names_sort_case_insensitively() {
        let mut names = vec!["dotnet", "App", "app", "Zed", "b"];
        names.sort_by(|a, b| name_order(a, b));
        assert_eq!(names, ["app", "App", "b", "dotnet", "Zed"]);
    }
}

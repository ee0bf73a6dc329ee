//! `clrheap collect`: asks a running .NET process to write a dump of itself, as
//! `dotnet-dump collect` does: through the runtime's diagnostics channel
//! ([`crate::ipc`]); the runtime runs its own `createdump`, so no SDK is needed here.
//!
//! Same defaults as dotnet-dump: a full dump, named `core_YYYYMMDD_HHMMSS` (local time) in
//! the current directory; a relative `-o` is made absolute (the runtime has its own
//! current directory). A process in a container writes into its own file system: the dump
//! goes to its `TMPDIR` there and is then moved out through `/proc/PID/root` to the path
//! asked for.
//!
//! Standard output gets the dump's path, one line, and nothing else; what is happening
//! goes to standard error. Every failure is one line saying why: no such process, not a
//! .NET process (or its diagnostics are off), no permission, the process is stopped, the
//! runtime refused (with its error text and HRESULT).
use crate::ipc::{self, procfs, protocol::DumpType, Endpoint};
use crate::progress::Progress;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["process_id", "name"]))]
pub struct CollectArgs {
    /// The process id of the .NET process to dump.
    #[arg(short = 'p', long = "process-id", value_name = "PID")]
    pub process_id: Option<u32>,
    /// The name of the .NET process to dump (as `clrheap ps` shows it); it must be the only
    /// one of that name.
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: Option<String>,
    /// What the dump holds. `heap` is what `analyze` needs and much smaller than `full`.
    #[arg(long = "type", value_enum, default_value_t = DumpType::Full)]
    pub dump_type: DumpType,
    /// Where to write the dump (default: ./core_YYYYMMDD_HHMMSS).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Have the runtime log the dump's writing (to the target process's console).
    #[arg(long)]
    pub diag: bool,
    /// Also have the runtime write a crash report (PATH.crashreport.json).
    #[arg(long)]
    pub crashreport: bool,
    /// Then pack the dump with the module files it needs (as `clrheap pack`): PATH.packed.zst
    /// replaces PATH.
    #[arg(long)]
    pub pack: bool,
}

/// Runs `clrheap collect`; returns the exit status.
pub fn run(args: &CollectArgs) -> i32 {
    match collect(args) {
        Ok(path) => {
            println!("{}", path.display());
            0
        }
        Err(e) => {
            eprintln!("clrheap: {e:#}");
            1
        }
    }
}

fn collect(args: &CollectArgs) -> anyhow::Result<PathBuf> {
    let pid = match (args.process_id, &args.name) {
        (Some(pid), _) => pid,
        (None, Some(name)) => pid_by_name(name)?,
        (None, None) => anyhow::bail!("name a process: -p PID or -n NAME"),
    };
    let endpoint = find_endpoint(pid)?;
    let output = match &args.output {
        Some(o) => std::path::absolute(o)?,
        None => std::env::current_dir()?.join(format!("core_{}", local_timestamp())),
    };
    let dir = output.parent().unwrap_or(Path::new("/"));
    if !dir.is_dir() {
        anyhow::bail!("cannot write {}: {} is not a directory", output.display(), dir.display());
    }
    let version = match ipc::process_info(&endpoint, Duration::from_secs(2)) {
        Ok(info) => info.runtime_version.map(|v| format!(", .NET {v}")).unwrap_or_default(),
        Err(ipc::IpcError::Connect { source, .. }) => return Err(connect_error(pid, &endpoint, source)),
        Err(ipc::IpcError::Timeout(_)) => {
            eprintln!("Process {pid} has not answered within 2 s; asking for the dump anyway (Ctrl-C gives up).");
            String::new()
        }
        Err(_) => String::new(),
    };
    let contained = procfs::other_mount_namespace(pid);
    // The path the runtime writes to, in its own file system.
    let target_path = if contained {
        let tmp = procfs::tmpdir(pid).unwrap_or_else(|| "/tmp".into());
        format!("{}/clrheap-{}-{pid}.dmp", tmp.trim_end_matches('/'), local_timestamp())
    } else {
        output.display().to_string()
    };
    let written_here = if contained {
        PathBuf::from(format!("/proc/{pid}/root")).join(target_path.trim_start_matches('/'))
    } else {
        output.clone()
    };
    eprintln!(
        "Writing {} of process {pid}{version} to {}",
        args.dump_type.description(),
        output.display()
    );
    let mut flags = 0;
    if args.diag {
        flags |= ipc::protocol::FLAG_LOGGING;
    }
    if args.crashreport {
        flags |= ipc::protocol::FLAG_CRASH_REPORT;
    }
    let progress = Progress::spinner("writing the dump, MB written:");
    let mut on_tick = || -> Result<(), String> {
        if !procfs::exists(pid) {
            return Err(format!("process {pid} exited while writing the dump"));
        }
        if let Ok(m) = std::fs::metadata(&written_here) {
            progress.set_position(m.len() >> 20);
        }
        Ok(())
    };
    ipc::write_dump(&endpoint, &target_path, args.dump_type, flags, &mut on_tick)
        .map_err(|e| anyhow::anyhow!("process {pid} did not write a dump: {e}"))?;
    drop(progress);
    if contained {
        move_out(&written_here, &output)?;
        let report = PathBuf::from(format!("{}.crashreport.json", written_here.display()));
        if report.exists() {
            move_out(&report, &PathBuf::from(format!("{}.crashreport.json", output.display())))?;
        }
    }
    if !output.is_file() {
        anyhow::bail!(
            "process {pid}'s runtime reported success, but {} does not exist (run with --diag and look at the process's output)",
            output.display()
        );
    }
    let report = PathBuf::from(format!("{}.crashreport.json", output.display()));
    if args.crashreport && report.is_file() {
        eprintln!("Crash report: {}", report.display());
    }
    if args.pack {
        let packed = crate::pack::default_output(&output);
        // A process in a container mapped its files from its own file system.
        let mut options = crate::dump::DumpOptions::default();
        if contained {
            options.module_paths.push(PathBuf::from(format!("/proc/{pid}/root")));
        }
        crate::pack::pack(&output, &packed, &options)?;
        std::fs::remove_file(&output)?;
        return Ok(packed);
    }
    Ok(output)
}

/// Copies a file out of a container's file system, then removes it there.
fn move_out(from: &Path, to: &Path) -> anyhow::Result<()> {
    if std::fs::rename(from, to).is_err() {
        std::fs::copy(from, to).map_err(|e| {
            anyhow::anyhow!("the dump was written in the process's container as {}, but cannot be copied out: {e}", from.display())
        })?;
        let _ = std::fs::remove_file(from);
    }
    Ok(())
}

/// The process's diagnostics socket, or one line saying why there is none.
fn find_endpoint(pid: u32) -> anyhow::Result<Endpoint> {
    if !procfs::exists(pid) {
        anyhow::bail!("no process with id {pid} is running");
    }
    let name = procfs::name(pid).map(|n| format!(" ({n})")).unwrap_or_default();
    if let Some(state @ ('T' | 't')) = procfs::state(pid) {
        let why = if state == 'T' { "stopped (SIGSTOP)" } else { "stopped by a debugger" };
        anyhow::bail!("process {pid}{name} is {why}: it cannot write a dump until it runs again");
    }
    let Some(endpoint) = ipc::endpoint(pid) else {
        anyhow::bail!(
            "process {pid}{name} is not a .NET process, or its diagnostics are off (DOTNET_EnableDiagnostics=0): \
             no dotnet-diagnostic-{pid}-*-socket in {}",
            ipc::ipc_root().display()
        );
    };
    Ok(endpoint)
}

/// One line for a socket that cannot be connected to.
fn connect_error(pid: u32, endpoint: &Endpoint, e: std::io::Error) -> anyhow::Error {
    let name = procfs::name(pid).map(|n| format!(" ({n})")).unwrap_or_default();
    let socket = endpoint.socket.display();
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            let owner = procfs::owner(pid).map(|u| format!(" (it runs as uid {u})")).unwrap_or_default();
            anyhow::anyhow!(
                "no permission to reach process {pid}{name}{owner} through {socket}: run clrheap as the same user, or as root"
            )
        }
        std::io::ErrorKind::ConnectionRefused => anyhow::anyhow!(
            "process {pid}{name} does not listen on {socket} (its runtime is shutting down, or the socket is stale)"
        ),
        _ => anyhow::anyhow!("cannot reach process {pid}{name} through {socket}: {e}"),
    }
}

/// The one .NET process of that name.
fn pid_by_name(name: &str) -> anyhow::Result<u32> {
    let pids: Vec<u32> = ipc::discover()
        .into_iter()
        .map(|e| e.pid)
        .filter(|&pid| procfs::name(pid).as_deref() == Some(name))
        .collect();
    match pids.as_slice() {
        [pid] => Ok(*pid),
        [] => anyhow::bail!("no .NET process named {name} (clrheap ps lists them)"),
        many => anyhow::bail!(
            "{} .NET processes are named {name} ({}): choose one with -p",
            many.len(),
            many.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The local time as `YYYYMMDD_HHMMSS`, as dotnet-dump names dumps.
pub fn local_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: `localtime_r` writes only into the `tm` we pass; a zeroed `tm` is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&now, &mut tm).is_null() };
    if !ok {
        return "00000000_000000".into();
    }
    format!(
        "{:04}{:02}{:02}_{:02}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_shape() {
        let t = local_timestamp();
        assert_eq!(t.len(), 15);
        assert_eq!(&t[8..9], "_");
        assert!(t.chars().filter(|c| *c != '_').all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn missing_and_non_dotnet_processes_are_named() {
        let err = find_endpoint(u32::MAX - 1).unwrap_err().to_string();
        assert_eq!(err, format!("no process with id {} is running", u32::MAX - 1));
        let me = std::process::id();
        let err = find_endpoint(me).unwrap_err().to_string();
        assert!(err.starts_with(&format!("process {me} (")), "{err}");
        assert!(err.contains("is not a .NET process"), "{err}");
    }
}

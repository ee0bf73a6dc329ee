//! Talking to live .NET processes through the runtime's diagnostics IPC channel: the
//! transport behind `clrheap ps` and `clrheap collect` (what `dotnet-dump ps` and
//! `collect` use), without the .NET SDK.
//!
//! Every CoreCLR process (unless started with `DOTNET_EnableDiagnostics=0`) listens on a
//! Unix socket `dotnet-diagnostic-PID-KEY-socket` in its `$TMPDIR` (or `/tmp`), KEY being
//! the process's start time in clock ticks since boot (field 22 of `/proc/PID/stat`). A
//! socket whose process is gone, or whose KEY is not its process's start time (the id was
//! reused), is stale and skipped. A process in a container is reached through
//! `/proc/PID/root`, under the PID it has in its own namespace. Each connection carries
//! one request and its answer ([`protocol`]).
//!
//! This is beside the analysis layers: nothing here reads dumps.
pub mod procfs;
pub mod protocol;

use protocol::{Header, ProcessInfo, Reply, HEADER_SIZE};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// A process's diagnostics socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The process id as seen from here.
    pub pid: u32,
    /// The socket to connect to (under `/proc/PID/root` for a process in a container).
    pub socket: PathBuf,
}

/// Where this user's runtimes put their sockets: `$TMPDIR`, or `/tmp` when it is unset
/// or empty.
pub fn ipc_root() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(t) if !t.is_empty() => PathBuf::from(t),
        _ => PathBuf::from("/tmp"),
    }
}

/// Parses `dotnet-diagnostic-PID-KEY-socket` into (PID, KEY).
pub fn parse_socket_name(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix("dotnet-diagnostic-")?.strip_suffix("-socket")?;
    let (pid, key) = rest.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(key) {
        return None;
    }
    Some((pid.parse().ok()?, key.parse().ok()?))
}

/// A socket found in a directory.
#[derive(Debug, Clone)]
struct Found {
    pid: u32,
    key: u64,
    path: PathBuf,
    modified: Option<std::time::SystemTime>,
}

/// Most directory entries looked at in one socket directory (a `/tmp` can be huge).
const MAX_DIR_ENTRIES: usize = 200_000;

/// The diagnostics sockets in `dir`, of the process `only` when given.
fn sockets_in(dir: &Path, only: Option<u32>) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .take(MAX_DIR_ENTRIES)
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let (pid, key) = parse_socket_name(name.to_str()?)?;
            if only.is_some_and(|p| p != pid) {
                return None;
            }
            let meta = e.metadata().ok()?;
            meta.file_type().is_socket().then(|| Found { pid, key, path: e.path(), modified: meta.modified().ok() })
        })
        .collect()
}

/// When a process started: its start time in clock ticks since boot (the socket key) and
/// as a wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
struct Started {
    ticks: Option<u64>,
    wall: Option<std::time::SystemTime>,
}

fn started(pid: u32) -> Started {
    Started { ticks: procfs::start_time(pid), wall: procfs::start_wall_time(pid) }
}

/// Of the sockets named for one process, the live one: the one whose key is the
/// process's start time; else (a runtime that keyed it otherwise) the newest one made
/// after the process started. `None`: all are stale (left by an earlier process with the
/// same id).
fn choose(mut candidates: Vec<Found>, started: Started) -> Option<Found> {
    if let Some(t) = started.ticks
        && let Some(i) = candidates.iter().position(|f| f.key == t)
    {
        return Some(candidates.swap_remove(i));
    }
    candidates.sort_by_key(|f| std::cmp::Reverse(f.modified));
    let slack = std::time::Duration::from_secs(2);
    candidates.into_iter().find(|f| match (started.wall, f.modified) {
        (Some(start), Some(made)) => made + slack >= start,
        _ => true,
    })
}

/// The socket of one process, looked for where `dotnet-dump` looks: this user's socket
/// directory, the process's own `$TMPDIR`, and inside its container.
pub fn endpoint(pid: u32) -> Option<Endpoint> {
    if !procfs::exists(pid) {
        return None;
    }
    let start = started(pid);
    if let Some(ns_pid) = procfs::namespace_pid(pid) {
        let tmp = procfs::tmpdir(pid).unwrap_or_else(|| "/tmp".into());
        let dir = PathBuf::from(format!("/proc/{pid}/root")).join(tmp.trim_start_matches('/'));
        return choose(sockets_in(&dir, Some(ns_pid)), start).map(|f| Endpoint { pid, socket: f.path });
    }
    let mut dirs = vec![ipc_root()];
    if let Some(tmp) = procfs::tmpdir(pid) {
        dirs.push(PathBuf::from(tmp));
    }
    dirs.dedup();
    let found: Vec<Found> = dirs.iter().flat_map(|d| sockets_in(d, Some(pid))).collect();
    choose(found, start).map(|f| Endpoint { pid, socket: f.path })
}

/// Every process with a live diagnostics socket that this user can see, by pid.
pub fn discover() -> Vec<Endpoint> {
    let mut by_pid: std::collections::BTreeMap<u32, Vec<Found>> = Default::default();
    for f in sockets_in(&ipc_root(), None) {
        by_pid.entry(f.pid).or_default().push(f);
    }
    let mut out: Vec<Endpoint> = by_pid
        .into_iter()
        .filter(|(pid, _)| procfs::exists(*pid) && procfs::namespace_pid(*pid).is_none())
        .filter_map(|(pid, found)| choose(found, started(pid)).map(|f| Endpoint { pid, socket: f.path }))
        .collect();
    // Processes whose socket is elsewhere: another TMPDIR, or inside a container.
    let root = ipc_root();
    for pid in procfs::all_pids() {
        if pid == std::process::id() || out.iter().any(|e| e.pid == pid) {
            continue;
        }
        let elsewhere = procfs::namespace_pid(pid).is_some()
            || procfs::tmpdir(pid).is_some_and(|t| Path::new(&t) != root);
        if elsewhere && let Some(e) = endpoint(pid) {
            out.push(e);
        }
    }
    out.sort_by_key(|e| e.pid);
    out
}

/// Why a request got no answer.
#[derive(Debug, Error)]
pub enum IpcError {
    #[error("cannot connect to {}: {source}", .socket.display())]
    Connect { socket: PathBuf, source: std::io::Error },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the connection closed before the answer was complete")]
    Closed,
    #[error("{0}")]
    Io(std::io::Error),
    #[error("an answer that is not the diagnostics protocol: {0}")]
    Protocol(String),
    #[error("{0}")]
    Cancelled(String),
}

/// How long to wait for an answer, and what to do while waiting.
pub struct Wait<'a> {
    /// Give up after this long without the whole answer; `None`: wait as long as it takes.
    pub timeout: Option<Duration>,
    /// Called about every `tick` while waiting; an error ends the wait with it.
    pub on_tick: Option<&'a mut dyn FnMut() -> Result<(), String>>,
    pub tick: Duration,
}

impl Wait<'_> {
    pub fn at_most(timeout: Duration) -> Wait<'static> {
        Wait { timeout: Some(timeout), on_tick: None, tick: timeout }
    }
}

/// Sends one message on a new connection and reads the answer.
pub fn request(endpoint: &Endpoint, message: &[u8], wait: Wait<'_>) -> Result<Reply, IpcError> {
    let mut stream = UnixStream::connect(&endpoint.socket)
        .map_err(|source| IpcError::Connect { socket: endpoint.socket.clone(), source })?;
    let tick = wait.tick.max(Duration::from_millis(10));
    stream.set_write_timeout(Some(tick.max(Duration::from_secs(5)))).map_err(IpcError::Io)?;
    stream.write_all(message).map_err(IpcError::Io)?;
    stream.set_read_timeout(Some(tick)).map_err(IpcError::Io)?;
    let started = Instant::now();
    let mut on_tick = wait.on_tick;
    let mut read_exact = |buf: &mut [u8]| -> Result<(), IpcError> {
        let mut filled = 0;
        while filled < buf.len() {
            match stream.read(&mut buf[filled..]) {
                Ok(0) => return Err(IpcError::Closed),
                Ok(n) => filled += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if let Some(limit) = wait.timeout
                        && started.elapsed() >= limit
                    {
                        return Err(IpcError::Timeout(limit));
                    }
                    if let Some(f) = on_tick.as_mut() {
                        f().map_err(IpcError::Cancelled)?;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Err(IpcError::Closed),
                Err(e) => return Err(IpcError::Io(e)),
            }
        }
        Ok(())
    };
    let mut head = [0u8; HEADER_SIZE];
    read_exact(&mut head)?;
    let header: Header = protocol::parse_header(&head).ok_or_else(|| IpcError::Protocol("bad header".into()))?;
    let mut payload = vec![0u8; header.size as usize - HEADER_SIZE];
    read_exact(&mut payload)?;
    protocol::parse_reply(header, payload).map_err(IpcError::Protocol)
}

fn build(set: u8, id: u8, payload: &[u8]) -> Result<Vec<u8>, IpcError> {
    protocol::message(set, id, payload).ok_or_else(|| IpcError::Protocol("the request is too long for one message".into()))
}

/// Asks the runtime about its process (`ProcessInfo2`, or `ProcessInfo` on a runtime
/// that does not know it).
pub fn process_info(endpoint: &Endpoint, timeout: Duration) -> Result<ProcessInfo, IpcError> {
    for (id, v2) in [(protocol::PROCESS_INFO2, true), (protocol::PROCESS_INFO, false)] {
        let msg = build(protocol::SET_PROCESS, id, &[])?;
        match request(endpoint, &msg, Wait::at_most(timeout))? {
            Reply::Ok(payload) => {
                return protocol::parse_process_info(&payload, v2)
                    .ok_or_else(|| IpcError::Protocol("a ProcessInfo answer cut short".into()));
            }
            Reply::Error { hresult, .. } if hresult == protocol::E_UNKNOWN_COMMAND && v2 => continue,
            Reply::Error { hresult, message } => {
                return Err(IpcError::Protocol(refusal_text(hresult, message.as_deref())));
            }
        }
    }
    Err(IpcError::Protocol("the runtime knows no ProcessInfo command".into()))
}

/// Why the runtime did not write a dump.
#[derive(Debug, Error)]
pub enum DumpError {
    #[error(transparent)]
    Ipc(#[from] IpcError),
    #[error("the runtime refused: {0}")]
    Refused(String),
    #[error("this runtime cannot write crash reports (it knows only the first dump command)")]
    NoCrashReport,
}

/// Text for an error HRESULT, with the runtime's message when it sent one, on one line.
pub fn refusal_text(hresult: u32, message: Option<&str>) -> String {
    let name = protocol::hresult_name(hresult).map(|n| format!(", {n}")).unwrap_or_default();
    // createdump's text may run over several lines: keep the answer to one.
    let message = message.map(|m| m.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; "));
    match message.filter(|m| !m.is_empty()) {
        Some(m) => format!("{m} (HRESULT {hresult:#010x}{name})"),
        None => format!("HRESULT {hresult:#010x}{name}"),
    }
}

/// Asks the runtime to write a dump of its process to `path` (a path in the process's
/// own file system), and waits until it has: the newest dump command the runtime knows,
/// falling back to older ones.
pub fn write_dump(
    endpoint: &Endpoint,
    path: &str,
    dump_type: protocol::DumpType,
    flags: u32,
    on_tick: &mut dyn FnMut() -> Result<(), String>,
) -> Result<(), DumpError> {
    let commands = [protocol::DUMP_GENERATE3, protocol::DUMP_GENERATE2, protocol::DUMP_GENERATE];
    for (i, &id) in commands.iter().enumerate() {
        let last = i + 1 == commands.len();
        let payload = if id == protocol::DUMP_GENERATE {
            if flags & !protocol::FLAG_LOGGING != 0 {
                return Err(DumpError::NoCrashReport);
            }
            protocol::dump_payload(path, dump_type, flags & protocol::FLAG_LOGGING)
        } else {
            protocol::dump_payload(path, dump_type, flags)
        };
        let msg = build(protocol::SET_DUMP, id, &payload)?;
        let wait = Wait { timeout: None, on_tick: Some(&mut *on_tick), tick: Duration::from_millis(250) };
        match request(endpoint, &msg, wait)? {
            Reply::Ok(payload) => {
                let hr = protocol::Reader::new(&payload).u32().unwrap_or(0);
                return if hr == 0 { Ok(()) } else { Err(DumpError::Refused(refusal_text(hr, None))) };
            }
            Reply::Error { hresult, .. } if hresult == protocol::E_UNKNOWN_COMMAND && !last => continue,
            Reply::Error { hresult, message } => {
                return Err(DumpError::Refused(refusal_text(hresult, message.as_deref())));
            }
        }
    }
    unreachable!("the last dump command returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn socket_names() {
        assert_eq!(parse_socket_name("dotnet-diagnostic-28519-79255-socket"), Some((28519, 79255)));
        assert_eq!(parse_socket_name("dotnet-diagnostic-28519-socket"), None);
        assert_eq!(parse_socket_name("dotnet-diagnostic--1-socket"), None);
        assert_eq!(parse_socket_name("dotnet-diagnostic-1-2-3-socket"), None);
        assert_eq!(parse_socket_name("dotnet-diagnostic-1-+2-socket"), None);
        assert_eq!(parse_socket_name("clr-debug-pipe-1-2-in"), None);
    }

    #[test]
    fn stale_sockets_are_not_chosen() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |secs| Some(UNIX_EPOCH + Duration::from_secs(secs));
        let f = |key, made| Found { pid: 1, key, path: PathBuf::from(format!("/x/{key}")), modified: at(made) };
        let started = Started { ticks: Some(7), wall: at(1000) };
        // The key is the start time.
        assert_eq!(choose(vec![f(5, 2000), f(7, 1000)], started).unwrap().key, 7);
        // Otherwise: made after the process started, newest first.
        assert_eq!(choose(vec![f(5, 1500), f(6, 1600)], started).unwrap().key, 6);
        // Made before it started: left by an earlier process of that id.
        assert!(choose(vec![f(5, 900)], started).is_none());
        // Nothing known about the process: the newest.
        assert_eq!(choose(vec![f(5, 1), f(6, 2)], Started::default()).unwrap().key, 6);
    }

    /// A fake runtime: answers each connection with the next canned reply.
    fn fake_server(replies: Vec<Vec<u8>>) -> (tempfile::TempDir, Endpoint, std::thread::JoinHandle<Vec<Vec<u8>>>) {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("dotnet-diagnostic-1-1-socket");
        let listener = UnixListener::bind(&socket).unwrap();
        let handle = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for reply in replies {
                let (mut s, _) = listener.accept().unwrap();
                let mut head = [0u8; HEADER_SIZE];
                s.read_exact(&mut head).unwrap();
                let h = protocol::parse_header(&head).unwrap();
                let mut body = vec![0; h.size as usize - HEADER_SIZE];
                s.read_exact(&mut body).unwrap();
                requests.push([head.to_vec(), body].concat());
                if !reply.is_empty() {
                    s.write_all(&reply).unwrap();
                }
            }
            requests
        });
        (dir, Endpoint { pid: 1, socket }, handle)
    }

    fn error_reply(hr: u32, text: Option<&str>) -> Vec<u8> {
        let mut p = hr.to_le_bytes().to_vec();
        if let Some(t) = text {
            protocol::put_string(&mut p, t);
        }
        protocol::message(protocol::SET_SERVER, protocol::SERVER_ERROR, &p).unwrap()
    }

    #[test]
    fn process_info_falls_back_to_version_1() {
        let mut v1 = 77u64.to_le_bytes().to_vec();
        v1.extend_from_slice(&[0; 16]);
        for s in ["/usr/bin/dotnet app.dll", "Linux", "x64"] {
            protocol::put_string(&mut v1, s);
        }
        let ok = protocol::message(protocol::SET_SERVER, protocol::SERVER_OK, &v1).unwrap();
        let (_dir, ep, server) = fake_server(vec![error_reply(protocol::E_UNKNOWN_COMMAND, None), ok]);
        let info = process_info(&ep, Duration::from_secs(5)).unwrap();
        assert_eq!(info.pid, 77);
        assert_eq!(info.runtime_version, None);
        let requests = server.join().unwrap();
        assert_eq!((requests[0][16], requests[0][17]), (4, 4));
        assert_eq!((requests[1][16], requests[1][17]), (4, 0));
    }

    #[test]
    fn dump_refusal_carries_the_runtime_message() {
        let (_dir, ep, server) =
            fake_server(vec![error_reply(0x8000_4005, Some("Problem launching createdump:\n  not found\n"))]);
        let err = write_dump(&ep, "/tmp/x", protocol::DumpType::Heap, 0, &mut || Ok(())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the runtime refused: Problem launching createdump:; not found (HRESULT 0x80004005, unspecified failure)"
        );
        let req = &server.join().unwrap()[0];
        assert_eq!((req[16], req[17]), (1, 3));
    }

    #[test]
    fn dump_falls_back_and_reads_the_hresult() {
        let ok = protocol::message(protocol::SET_SERVER, protocol::SERVER_OK, &0u32.to_le_bytes()).unwrap();
        let unknown = error_reply(protocol::E_UNKNOWN_COMMAND, None);
        let (_dir, ep, server) = fake_server(vec![unknown.clone(), unknown, ok]);
        write_dump(&ep, "/tmp/x", protocol::DumpType::Full, protocol::FLAG_LOGGING, &mut || Ok(())).unwrap();
        let ids: Vec<u8> = server.join().unwrap().iter().map(|r| r[17]).collect();
        assert_eq!(ids, [3, 2, 1]);
        // The first command cannot ask for a crash report.
        let (_dir, ep, _server) = fake_server(vec![error_reply(protocol::E_UNKNOWN_COMMAND, None), error_reply(protocol::E_UNKNOWN_COMMAND, None)]);
        let err = write_dump(&ep, "/tmp/x", protocol::DumpType::Full, protocol::FLAG_CRASH_REPORT, &mut || Ok(()));
        assert!(matches!(err, Err(DumpError::NoCrashReport)));
    }

    #[test]
    fn silent_server_times_out_and_ticks_can_cancel() {
        let (_dir, ep, _server) = fake_server(vec![vec![]]);
        let msg = protocol::message(protocol::SET_PROCESS, protocol::PROCESS_INFO2, &[]).unwrap();
        let started = Instant::now();
        let err = request(&ep, &msg, Wait::at_most(Duration::from_millis(200))).unwrap_err();
        assert!(matches!(err, IpcError::Timeout(_) | IpcError::Closed), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn connecting_to_nothing_fails() {
        let dir = tempfile::tempdir().unwrap();
        let ep = Endpoint { pid: 1, socket: dir.path().join("dotnet-diagnostic-1-1-socket") };
        let msg = protocol::message(protocol::SET_PROCESS, protocol::PROCESS_INFO2, &[]).unwrap();
        assert!(matches!(request(&ep, &msg, Wait::at_most(Duration::from_millis(100))), Err(IpcError::Connect { .. })));
    }
}

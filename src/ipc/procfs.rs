//! What `/proc` says about a process: its name, executable, command line, start time,
//! owner, state, PID namespace and `TMPDIR`.
//!
//! Every read may fail (the process exited, or belongs to another user); callers get
//! `None` or an error and decide what to show.
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Longest `comm` the kernel keeps (`TASK_COMM_LEN` - 1): a name this long may be cut.
const COMM_MAX: usize = 15;
/// Most bytes read of `/proc/PID/cmdline` or `environ`.
const MAX_PROC_FILE: u64 = 1 << 20;

fn proc_dir(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}"))
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    fs::File::open(path)?.take(MAX_PROC_FILE).read_to_end(&mut out)?;
    Ok(out)
}

/// Whether a process with this id exists (in this PID namespace).
pub fn exists(pid: u32) -> bool {
    proc_dir(pid).join("stat").exists()
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces and
/// parentheses): `[0]` is the state, `[19]` the start time.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(proc_dir(pid).join("stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// When the process started, in clock ticks since boot: the disambiguation key of the
/// runtime's diagnostics socket on Linux.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// When the process started, as a wall-clock time (boot time plus its start time in
/// clock ticks), to the second.
pub fn start_wall_time(pid: u32) -> Option<std::time::SystemTime> {
    let ticks = start_time(pid)?;
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let boot: u64 = stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok().filter(|&t| t > 0)?;
    let secs = boot.checked_add(ticks / per_second)?;
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
}

/// The process state letter (`R`, `S`, `T` for stopped, `t` for traced, `Z`, ...).
pub fn state(pid: u32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// The user id owning the process.
pub fn owner(pid: u32) -> Option<u32> {
    fs::metadata(proc_dir(pid)).ok().map(|m| m.uid())
}

/// This process's own user id.
pub fn own_uid() -> Option<u32> {
    fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// The arguments from `/proc/PID/cmdline`, split at NULs (the trailing empty piece kept, as
/// a NUL-terminated list splits).
pub fn cmdline(pid: u32) -> std::io::Result<Vec<String>> {
    let raw = read_capped(&proc_dir(pid).join("cmdline"))?;
    Ok(String::from_utf8_lossy(&raw).split('\0').map(str::to_string).collect())
}

/// The executable's path (`/proc/PID/exe`); fails for another user's process without
/// ptrace rights.
pub fn exe(pid: u32) -> std::io::Result<String> {
    Ok(fs::read_link(proc_dir(pid).join("exe"))?.to_string_lossy().into_owned())
}

/// The process name as .NET's `Process.ProcessName` gives it: `comm`, or when the kernel
/// cut that to 15 bytes, the file name of the first argument that starts with it.
pub fn name(pid: u32) -> Option<String> {
    let comm = fs::read_to_string(proc_dir(pid).join("comm")).ok()?;
    let comm = comm.strip_suffix('\n').unwrap_or(&comm).to_string();
    if comm.len() < COMM_MAX {
        return Some(comm);
    }
    let args = cmdline(pid).unwrap_or_default();
    let untruncated = args
        .iter()
        .take(2)
        .map(|a| a.rsplit('/').next().unwrap_or(a))
        .find(|base| base.len() > comm.len() && base.starts_with(&comm));
    Some(untruncated.map(str::to_string).unwrap_or(comm))
}

/// The innermost PID of `NSpid` in `/proc/PID/status` when the process lives in another
/// PID namespace (a container), else `None`.
pub fn namespace_pid(pid: u32) -> Option<u32> {
    let status = fs::read_to_string(proc_dir(pid).join("status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    let ids: Vec<&str> = line.split_whitespace().collect();
    if ids.len() < 2 {
        return None;
    }
    ids.last()?.parse().ok()
}

/// The process's `TMPDIR`, when its environment is readable and sets one.
pub fn tmpdir(pid: u32) -> Option<String> {
    let raw = read_capped(&proc_dir(pid).join("environ")).ok()?;
    raw.split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(b"TMPDIR="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .filter(|v| !v.is_empty())
}

/// Whether the process sees another file system than this one (another mount namespace):
/// then paths it writes are under `/proc/PID/root` from here.
pub fn other_mount_namespace(pid: u32) -> bool {
    match (fs::read_link("/proc/self/ns/mnt"), fs::read_link(proc_dir(pid).join("ns/mnt"))) {
        (Ok(a), Ok(b)) => a != b,
        _ => false,
    }
}

/// The process ids in `/proc`.
pub fn all_pids() -> Vec<u32> {
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(exists(me));
        assert!(start_time(me).is_some_and(|t| t > 0));
        let started = start_wall_time(me).unwrap();
        let age = std::time::SystemTime::now().duration_since(started).unwrap();
        assert!(age < std::time::Duration::from_secs(24 * 3600), "{age:?}");
        // Its state is whatever the kernel (or an emulator: qemu-user writes its own
        // /proc/self/stat) says at that moment: only that there is one.
        assert!(state(me).is_some());
        assert_eq!(owner(me), own_uid());
        assert!(!exe(me).unwrap().is_empty());
        assert!(!name(me).unwrap().is_empty());
        assert!(!other_mount_namespace(me));
        assert!(all_pids().contains(&me));
    }
}

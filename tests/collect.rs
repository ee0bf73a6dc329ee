//! `clrheap ps` and `clrheap collect` against live processes on the lab's runtimes: the
//! `zoo` scenario is started on .NET 8, 9 and 10 (as the lab's make-dump starts it), `ps`
//! must list each with its runtime version, `collect --type heap` must write a dump that
//! `analyze` reads with `dumpheap -stat` identical to the real dotnet-dump's on the same
//! file, and `collect --pack` must give a dump that answers the same without any file.
//!
//! Needs the lab (`CLRHEAP_LAB`) and the right to let the runtime's createdump attach to
//! its process (CI runs as root). `CLRHEAP_COLLECT_RUNTIMES` (e.g. `10`) narrows the
//! runtimes tried.
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scenario process, killed when dropped.
struct Scenario {
    child: Child,
    pid: u32,
    version: String,
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The newest runtime of a major version in the lab: (version, its folder).
fn runtime(lab: &Path, major: &str) -> Option<(String, PathBuf)> {
    let shared = lab.join("dotnet/shared/Microsoft.NETCore.App");
    let mut versions: Vec<(Vec<u32>, String)> = std::fs::read_dir(&shared)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.to_string();
            v.starts_with(&format!("{major}.")).then(|| (v.split('.').filter_map(|p| p.parse().ok()).collect(), v))
        })
        .collect();
    versions.sort();
    let (_, v) = versions.pop()?;
    let dir = shared.join(&v);
    Some((v, dir))
}

fn lab_env(cmd: &mut Command, lab: &Path) {
    cmd.env("DOTNET_ROOT", lab.join("dotnet"))
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        .env("DOTNET_NOLOGO", "1");
}

/// Starts `zoo` on the newest runtime of `major` and waits for its READY line.
fn start_zoo(lab: &Path, major: &str) -> Scenario {
    let (version, _) = runtime(lab, major).unwrap_or_else(|| panic!("no .NET {major} runtime in the lab"));
    let app = lab.join(format!("scenarios/net{major}.0/scenarios.dll"));
    let mut cmd = Command::new(lab.join("dotnet/dotnet"));
    cmd.args(["exec", "--fx-version", &version])
        .arg(&app)
        // The scenario exits after --wait seconds; the test kills it when done. On a loaded
        // machine the test has taken over 120 s (the sockets were gone by `collect`).
        .args(["zoo", "--wait", "900"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    lab_env(&mut cmd, lab);
    let mut child = cmd.spawn().expect("start the scenario");
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("READY") {
                let _ = tx.send(());
            }
        }
    });
    let scenario = Scenario { child, pid, version };
    rx.recv_timeout(Duration::from_secs(60)).expect("the scenario printed READY");
    scenario
}

fn clrheap(args: &[&str]) -> Output {
    common::clrheap().args(args).output().expect("run clrheap")
}

fn stdout_of(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// What the lab's real dotnet-dump prints for a command (as the lab's `bin/sos` runs it).
fn dotnet_dump(lab: &Path, dump: &Path, command: &str) -> String {
    let mut cmd = Command::new(lab.join("dotnet/dotnet"));
    cmd.arg(lab.join("dotnet-dump/dotnet-dump.dll"))
        .arg("analyze")
        .arg(dump)
        .args(["-c", command])
        .env("DOTNET_ROLL_FORWARD", "LatestMajor")
        .stdin(Stdio::null());
    lab_env(&mut cmd, lab);
    let out = cmd.output().expect("run dotnet-dump");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.first().is_some_and(|l| l.starts_with("Loading core dump: ")) {
        lines.remove(0);
    }
    if let Some(end) = lines.iter().position(|l| l.starts_with("Ready to process analysis commands")) {
        lines.truncate(end);
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn ps_and_collect_on_live_processes() {
    let Some(lab) = common::lab_dir() else {
        eprintln!("ps_and_collect_on_live_processes: skipped: the lab is not unpacked");
        return;
    };
    let started = Instant::now();
    let majors: Vec<String> = std::env::var("CLRHEAP_COLLECT_RUNTIMES")
        .unwrap_or_else(|_| "8 9 10".into())
        .split_whitespace()
        .map(String::from)
        .collect();
    let scenarios: Vec<Scenario> = std::thread::scope(|s| {
        let handles: Vec<_> = majors.iter().map(|m| s.spawn(|| start_zoo(&lab, m))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let dir = tempfile::tempdir().unwrap();

    let listing = stdout_of(&clrheap(&["ps", "--format", "json"]), "ps --format json");
    let listing: serde_json::Value = serde_json::from_str(&listing).unwrap();
    let text = stdout_of(&clrheap(&["ps"]), "ps");
    for s in &scenarios {
        let row = listing["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pid"] == s.pid)
            .unwrap_or_else(|| panic!("ps lists {}: {listing}", s.pid));
        assert_eq!(row["runtime_version"], s.version.as_str());
        assert_eq!(row["entry_assembly"], "scenarios");
        assert_eq!(row["name"], "dotnet");
        assert!(text.lines().any(|l| l.trim_start().starts_with(&format!("{}  dotnet  ", s.pid))), "{text}");
    }

    // The runtime's refusal (createdump cannot create the file) comes back as one line.
    let first = scenarios[0].pid.to_string();
    let out = clrheap(&["collect", "-p", &first, "--type", "mini", "-o", "/proc/no-such-file.dmp"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.lines().filter(|l| !l.starts_with("Writing ")).collect::<Vec<_>>();
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(err[0].contains("the runtime refused: ") && err[0].contains("HRESULT 0x"), "{err:?}");

    for s in &scenarios {
        let dump = dir.path().join(format!("zoo-{}.dmp", s.version));
        let dump_text = dump.to_str().unwrap();
        let pid = s.pid.to_string();
        let out = clrheap(&["collect", "-p", &pid, "--type", "heap", "-o", dump_text]);
        assert_eq!(stdout_of(&out, "collect"), format!("{dump_text}\n"));
        let ours = common::run_command(&dump, "dumpheap -stat");
        let want = dotnet_dump(&lab, &dump, "dumpheap -stat");
        if let Err(e) = common::compare_sos_text(&ours, &want) {
            panic!(".NET {}: dumpheap -stat differs from dotnet-dump's: {e}", s.version);
        }
        std::fs::remove_file(&dump).unwrap();

        // Packed in the same step: the same answer from the dump alone.
        let packed_from = dir.path().join(format!("zoo-{}-p.dmp", s.version));
        let out = clrheap(&["collect", "-p", &pid, "--type", "heap", "--pack", "-o", packed_from.to_str().unwrap()]);
        let packed = PathBuf::from(stdout_of(&out, "collect --pack").trim_end());
        assert_eq!(packed, PathBuf::from(format!("{}.packed.zst", packed_from.display())));
        assert!(!packed_from.exists(), "the unpacked dump is replaced by the packed one");
        let alone = clrheap(&["analyze", packed.to_str().unwrap(), "--dump-only", "-c", "dumpheap -stat"]);
        let alone = stdout_of(&alone, "analyze --dump-only on the packed dump");
        if let Err(e) = common::compare_sos_text(&alone, &want) {
            panic!(".NET {}: the packed dump alone differs from dotnet-dump's: {e}", s.version);
        }
    }
    eprintln!("ps_and_collect_on_live_processes: {:?}", started.elapsed());
}

#[test]
fn collect_says_why_not() {
    // A process that is not .NET (this test), and one that does not exist.
    let me = std::process::id().to_string();
    let out = clrheap(&["collect", "-p", &me]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a .NET process"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = clrheap(&["collect", "-p", "4000000000"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "clrheap: no process with id 4000000000 is running\n");

    let out = clrheap(&["collect", "-n", "no-such-process-name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("clrheap: no .NET process named no-such-process-name"));

    // Neither -p nor -n is a usage error.
    assert_eq!(clrheap(&["collect"]).status.code(), Some(2));
    assert_eq!(clrheap(&["collect", "-p", "1", "-n", "x"]).status.code(), Some(2));
}

/// A process in a container (its own PID and mount namespaces, its own /tmp, its runtime
/// at a path that is an empty folder from here): `ps` finds it through /proc/PID/root,
/// `collect` moves its dump out, and `--pack` reads its files through /proc/PID/root.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn collect_from_a_container() {
    let Some(lab) = common::lab_dir() else {
        return;
    };
    if !Command::new("unshare").args(["-p", "-m", "--fork", "true"]).status().is_ok_and(|s| s.success()) {
        eprintln!("collect_from_a_container: skipped: unshare -p -m is not allowed here");
        return;
    }
    let (version, _) = runtime(&lab, "10").expect("a .NET 10 runtime in the lab");
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = outside.path().join("dotnet");
    std::fs::create_dir_all(&root).unwrap();
    let script = format!(
        // `mkdir -p`: when the checkout (and so `root`) is under /tmp, the container's
        // own /tmp hides it; the folder is made again there.
        "mount -t tmpfs none /tmp && mkdir -p '{root}' && mount --bind '{lab_dotnet}' '{root}' && DOTNET_ROOT='{root}' exec '{root}/dotnet' \
         exec --fx-version {version} '{app}' zoo --wait 120",
        lab_dotnet = lab.join("dotnet").display(),
        root = root.display(),
        app = lab.join("scenarios/net10.0/scenarios.dll").display(),
    );
    let mut container = Command::new("unshare")
        .args(["-p", "-m", "--fork", "--mount-proc", "--kill-child", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut line = String::new();
    BufReader::new(container.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _guard = Kill(&mut container);
    assert!(line.starts_with("READY 1"), "{line}");

    let listing: serde_json::Value =
        serde_json::from_str(&stdout_of(&clrheap(&["ps", "--format", "json"]), "ps")).unwrap();
    let row = listing["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"].as_str().is_some_and(|p| p.starts_with(root.to_str().unwrap())))
        .unwrap_or_else(|| panic!("ps lists the contained process: {listing}"));
    assert!(row["socket"].as_str().unwrap().contains("/root/tmp/dotnet-diagnostic-1-"), "{row}");
    let pid = row["pid"].to_string();

    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("ct.dmp");
    let out = clrheap(&["collect", "-p", &pid, "--type", "heap", "-o", dump.to_str().unwrap()]);
    assert_eq!(stdout_of(&out, "collect"), format!("{}\n", dump.display()));
    // Its runtime is not at the recorded path from here...
    let lost = common::analyze(&dump, &["dumpheap -stat"]);
    assert!(String::from_utf8_lossy(&lost.stderr).contains("is not on this machine"), "{lost:?}");
    // ...but it is in the container's file system while the container lives.
    let proc_root = format!("/proc/{pid}/root");
    let found = stdout_of(
        &clrheap(&["analyze", dump.to_str().unwrap(), "--module-path", &proc_root, "-c", "dumpheap -stat"]),
        "analyze --module-path /proc/PID/root",
    );
    // The same dump, packed from the container's files, answers alone exactly as above.
    let repacked = dir.path().join("ct.packed.zst");
    stdout_of(
        &clrheap(&["pack", dump.to_str().unwrap(), "--module-path", &proc_root, "-o", repacked.to_str().unwrap()]),
        "pack --module-path /proc/PID/root",
    );
    let alone = stdout_of(
        &clrheap(&["analyze", repacked.to_str().unwrap(), "--dump-only", "-c", "dumpheap -stat"]),
        "the packed dump alone",
    );
    assert_eq!(alone, found);
    // `collect --pack` in one step: a second dump of the running process (it may have
    // allocated in between, so only that it opens alone with a whole heap is compared).
    let packed = dir.path().join("ct2.dmp");
    let out = clrheap(&["collect", "-p", &pid, "--type", "heap", "--pack", "-o", packed.to_str().unwrap()]);
    let packed = stdout_of(&out, "collect --pack");
    let alone = stdout_of(
        &clrheap(&["analyze", packed.trim_end(), "--dump-only", "-c", "dumpheap -stat"]),
        "the packed dump alone",
    );
    assert!(alone.lines().last().is_some_and(|l| l.starts_with("Total ")), "{alone}");
}

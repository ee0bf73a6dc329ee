//! The shell, driven through the real binary: the interactive prompt in a pseudo-terminal
//! (history, tab completion, Ctrl-C, errors), `-c` commands, commands on standard input,
//! exit statuses, a closed output pipe, `--version`, completions and the manual page.
//!
//! Every run opens the committed fixture (decompressing ~100 MB), so runs are few and each
//! checks several things.
use rexpect::session::{spawn_command, PtySession};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_clrheap");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zoo-net8-wks-heap.dmp.zst")
}

/// `clrheap analyze FIXTURE` in a pseudo-terminal, with its history in `state`.
fn spawn_repl(state: &Path) -> PtySession {
    let mut cmd = Command::new(BIN);
    cmd.arg("analyze").arg("--dump-only").arg(fixture()).env("XDG_STATE_HOME", state).env("TERM", "xterm");
    let mut session = spawn_command(cmd, Some(30_000)).expect("spawn clrheap in a pty");
    session.exp_string(".NET 8.0.33").expect("summary: runtime");
    session.exp_string("heap dump").expect("summary: dump kind");
    session.exp_string("5,365 objects").expect("summary: object count");
    session.exp_string("> ").expect("prompt");
    session
}

/// Waits for the shell to end and returns how it ended (`Exited(Pid(..), 0)`).
fn exit_status(session: &mut PtySession) -> String {
    session.exp_eof().expect("the shell ends");
    format!("{:?}", session.process().wait().expect("wait"))
}

fn assert_exited_0(status: String) {
    assert!(status.starts_with("Exited(") && status.ends_with(", 0)"), "{status}");
}

/// Types keys at the prompt (no Enter).
fn type_keys(session: &mut PtySession, keys: &str) {
    session.send(keys).unwrap();
    session.flush().unwrap();
}

#[test]
fn interactive_session() {
    let state = tempfile::tempdir().unwrap();
    let mut s = spawn_repl(state.path());

    // Tab completes a command name; the completed command runs.
    type_keys(&mut s, "dumphe");
    type_keys(&mut s, "\t");
    s.exp_string("dumpheap ").expect("command name completed");
    s.send_line("-stat").unwrap();
    s.exp_string("Total 5,445 objects, 8,607,812 bytes").expect("dumpheap -stat output");
    s.exp_string("> ").unwrap();

    // Tab completes a type name after -type.
    type_keys(&mut s, "dumpheap -stat -type System.Collections.Generic.List<System.Str");
    type_keys(&mut s, "\t");
    s.exp_string("List<System.String> ").expect("type name completed");
    s.send_line("").unwrap();
    s.exp_string("Total 2 objects, 64 bytes").expect("filtered statistics");
    s.exp_string("> ").unwrap();

    // A command that takes a while shows a spinner on the terminal (stderr), then its
    // output; off a terminal nothing of it appears (the -c tests check stderr is empty).
    s.send_line("sleep 1500").unwrap();
    s.exp_string("sleep: working").expect("a spinner for slow work");
    s.exp_string("slept 1500 ms").expect("the command's output");
    s.exp_string("> ").unwrap();

    // Ctrl-C cancels the running command, not the shell.
    s.send_line("sleep 60000").unwrap();
    s.exp_string("sleep 60000").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pressed = Instant::now();
    s.send_control('c').unwrap();
    s.exp_string("cancelled").expect("the command was cancelled");
    s.exp_string("> ").expect("back at the prompt");
    assert!(pressed.elapsed() < Duration::from_secs(10), "cancelled promptly");

    // An error is one line and the shell goes on; aliases and case work.
    s.send_line("bogus -x").unwrap();
    s.exp_string("ERROR: Unrecognized SOS command 'bogus'").unwrap();
    s.exp_string("> ").unwrap();
    s.send_line("dumpheap -min nine").unwrap();
    s.exp_string("ERROR: Cannot parse argument 'nine' for option '-min'").unwrap();
    s.exp_string("> ").unwrap();
    s.send_line("Help DumpHeap").unwrap();
    s.exp_string("dumpheap - Displays a list of all managed objects.").unwrap();
    s.exp_string("  > dumpheap -stat").expect("an example");
    s.exp_string("> ").unwrap();
    // A failure SOS prints in its output (`Invalid parameter`) is not repeated as ERROR.
    s.send_line("dumpobj zz").unwrap();
    s.exp_string("Invalid parameter zz").unwrap();
    let after = s.exp_string("> ").unwrap();
    assert!(!after.contains("ERROR"), "printed once: {after:?}");
    // A comment line does nothing.
    s.send_line("# a comment").unwrap();
    let after = s.exp_string("> ").unwrap();
    assert!(!after.contains("ERROR"), "comment: {after:?}");
    s.send_line("!DUMPHEAP -stat -type DocProc.Zoo.Dog").unwrap();
    s.exp_string("209     6,688 DocProc.Zoo.Dog").unwrap();
    s.exp_string("> ").unwrap();
    s.send_line("exit").unwrap();
    assert_exited_0(exit_status(&mut s));

    // The history was written, and the next session finds it (Up recalls `exit`).
    let history = std::fs::read_to_string(state.path().join("clrheap/history")).expect("history file");
    for line in ["dumpheap -stat", "sleep 60000", "bogus -x", "exit"] {
        assert!(history.lines().any(|l| l == line), "{line:?} in history:\n{history}");
    }
    let mut s = spawn_repl(state.path());
    type_keys(&mut s, "\x1b[A");
    s.exp_string("exit").expect("history recalled");
    type_keys(&mut s, "\x15"); // Ctrl-U: clear the line
    s.send_control('d').unwrap();
    assert_exited_0(exit_status(&mut s));
}

fn analyze(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("analyze").arg("--dump-only").arg(fixture()).args(args);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn one_shot_commands() {
    // Several -c in order, aliases and case-insensitive names; standard input is ignored.
    let out = analyze(&["-c", "help", "-c", "!DumpHeap -stat", "-c", "dumpheap -short -type DocProc.Zoo.Cat"], Some("bogus\n"));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let help = stdout.find("dumpheap ").expect("help");
    let stat = stdout.find("Total 5,445 objects").expect("stat");
    assert!(help < stat);
    assert_eq!(stdout[stat..].lines().skip(1).count(), 2, "two Cat addresses: {stdout}");

    // A failing command: one line on stderr, the next command still runs, exit status 1.
    let out = analyze(&["-c", "nosuch", "-c", "dumpheap -stat -type DocProc.Zoo.Cat"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "clrheap: nosuch: Unrecognized SOS command 'nosuch'\n");
    assert!(text(&out.stdout).contains("Total 2 objects"));

    // Notices (dotnet-dump's root-caching lines) go to stderr, once; `-q` silences them.
    // An object that is not there is a warning, which `-q` keeps.
    let cat = stdout[stat..].lines().nth(1).expect("a Cat").trim().to_string();
    let gcroot = format!("gcroot {cat}");
    let out = analyze(&["-c", &gcroot, "-c", &gcroot], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr).matches("Caching GC roots, this may take a while.").count(), 1, "{}", text(&out.stderr));
    let mut cmd = Command::new(BIN);
    let out = cmd.args(["-q", "analyze", "--dump-only"]).arg(fixture()).args(["-c", &gcroot, "-c", "gcroot 10"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "warning: 10 is not a valid object\n");
    assert_eq!(text(&out.stdout), text(&analyze(&["-c", &gcroot, "-c", "gcroot 10"], None).stdout));
}

#[test]
fn timings_go_to_stderr_one_line_per_command() {
    let plain = analyze(&["-c", "dumpheap -stat -type Cat", "-c", "eeversion"], None);
    let timed = analyze(&["--timings", "-c", "dumpheap -stat -type Cat", "-c", "eeversion"], None);
    assert_eq!(timed.status.code(), Some(0), "{}", text(&timed.stderr));
    assert_eq!(timed.stdout, plain.stdout, "--timings changes no output");
    let lines: Vec<String> = text(&timed.stderr).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, command) in lines.iter().zip(["dumpheap -stat -type Cat", "eeversion"]) {
        let ms = line
            .strip_prefix(&format!("clrheap: {command}: "))
            .and_then(|rest| rest.strip_suffix(" ms"))
            .unwrap_or_else(|| panic!("{line:?}"));
        assert!(ms.parse::<f64>().is_ok_and(|v| v >= 0.0), "{line:?}");
    }
}

#[test]
fn commands_on_standard_input() {
    let out = analyze(&[], Some("dumpheap -stat -type DocProc.Zoo.Cat\n\nDumpHeap -stat -type DocProc.Zoo.Dog\n"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let cat = stdout.find("DocProc.Zoo.Cat").expect("first command");
    let dog = stdout.find("DocProc.Zoo.Dog").expect("second command");
    assert!(cat < dog);
    assert!(!stdout.contains(".NET 8"), "no summary outside the prompt: {stdout}");

    // An error does not stop the script; `exit` does; the status says a command failed.
    let out = analyze(&[], Some("nosuch 0\nhelp dumpheap\nexit\ndumpheap -stat\n"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "clrheap: nosuch 0: Unrecognized SOS command 'nosuch'\n");
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("dumpheap - "), "{stdout}");
    assert!(!stdout.contains("Statistics:"), "nothing after exit: {stdout}");
}

#[test]
fn scripts_comments_and_empty_input() {
    // `# comment` lines (indented too) are skipped in a script; commands around them run.
    let script = "# what the seed holds\ndumpheap -stat -type DocProc.Zoo.Cat\n   # indented\n\nexit # not reached\n";
    let out = analyze(&[], Some(script));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Total 2 objects"), "{}", text(&out.stdout));

    // No command at all on standard input (`</dev/null`, a script of comments): one line
    // saying how to give commands, and the usage status, not a silent success.
    for input in ["", "\n# only a comment\n"] {
        let out = analyze(&[], Some(input));
        assert_eq!(out.status.code(), Some(2), "{input:?}");
        assert!(out.stdout.is_empty());
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("clrheap: no command to run") && stderr.contains("-c \"dumpheap -stat\""), "{stderr}");
    }

    // A failure SOS prints in its output goes to standard output as dotnet-dump prints
    // it; standard error (not the terminal here) still says which command failed, once.
    let out = analyze(&["-c", "dumpobj zz"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "Invalid parameter zz\n\n");
    assert_eq!(text(&out.stderr), "clrheap: dumpobj zz: Invalid parameter zz\n");

    // A command's failure is one line, the command named once (not `eeheap: eeheap:`).
    let out = analyze(&["-c", "eeheap -gc -heap 99", "-c", "dumpheap -typ Foo"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(lines[0], "clrheap: eeheap -gc -heap 99: No GC heap with index of 99");
    assert!(lines[1].starts_with("clrheap: dumpheap -typ Foo: Unknown option: -typ (valid options: -stat, -type,"), "{stderr}");
}

#[test]
fn help_has_examples_and_exit_statuses() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Examples:\n  clrheap ps"), "{help}");
    assert!(help.contains("clrheap analyze app.dmp -c \"dumpheap -stat\""), "{help}");
    assert!(help.contains("Exit status: 0 success"), "{help}");
    let out = Command::new(BIN).args(["analyze", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(help.contains("Examples:\n  clrheap analyze app.dmp\n"), "{help}");
}

#[test]
fn usage_errors_exit_2_and_bad_dumps_exit_1() {
    for args in [&["analyze"][..], &["analyze", "x.dmp", "--bogus"], &["completions", "tcsh"], &[]] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
    let out = Command::new(BIN).args(["analyze", "/nonexistent/x.dmp"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).lines().count(), 1);
}

/// `clrheap ... | head -1` in bash with pipefail: clrheap's own status, and its stderr.
fn through_head(clrheap: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let err = dir.path().join("stderr");
    let script = format!("set -o pipefail; {clrheap} 2>'{}' | head -1", err.display());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("CLRHEAP", BIN)
        .env("FIXTURE", fixture())
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    (code, text(&out.stdout), std::fs::read_to_string(err).unwrap())
}

#[test]
fn closed_pipe_ends_quietly() {
    // The whole listing is about 270 KB: far more than a pipe holds.
    let (code, stdout, stderr) = through_head(r#""$CLRHEAP" analyze "$FIXTURE" -c dumpheap -c "dumpheap -stat""#);
    assert_eq!((code, stderr.as_str()), (0, ""), "-c");
    assert_eq!(stdout.trim_end(), "         Address               MT           Size");
    let (code, stdout, stderr) = through_head(r#"printf 'dumpheap\ndumpheap\n' | "$CLRHEAP" analyze "$FIXTURE""#);
    assert_eq!((code, stderr.as_str()), (0, ""), "stdin");
    assert_eq!(stdout.lines().count(), 1);
}

#[test]
fn version_completions_and_manual() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), format!("clrheap {}\n", env!("CARGO_PKG_VERSION")));
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef clrheap"), ("fish", "complete -c clrheap -n")] {
        let out = Command::new(BIN).args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("analyze") && script.contains("quiet"), "{shell}");
    }
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = text(&out.stdout);
    assert!(page.starts_with(".ie") || page.contains(".TH clrheap 1"), "{page}");
    assert!(page.contains(".TH clrheap 1") && page.contains("analyze") && page.contains("completions"));
    // The commands analyze answers, from the registry.
    assert!(page.contains(".SH \"ANALYZE COMMANDS\"") && page.contains("\\fBdumpheap\\fR"), "{page}");
    // One page: it names no others (`clrheap-analyze(1)` does not exist); it has each
    // command's usage, the exit statuses and examples.
    assert!(!page.contains("(1)"), "{page}");
    assert!(page.contains("\\fBclrheap collect [OPTIONS]"), "{page}");
    assert!(page.contains(".SH \"EXIT STATUS\"") && page.contains(".SH EXAMPLES"), "{page}");
}

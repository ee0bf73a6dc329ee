//! Progress bars for long work, on standard error, only for a person watching.
//!
//! ```no_run
//! use clrheap::progress::Progress;
//! let segments = [1u64, 2, 3];
//! let progress = Progress::new("walking the heap", segments.len() as u64);
//! for _s in &segments {
//!     // ... work ...
//!     progress.inc(1);
//! }
//! progress.finish();
//! ```
//!
//! A bar is drawn only when standard error is a terminal, `--quiet` was not given
//! ([`set_quiet`]), and the work has already taken [`DELAY`]: quick work never flickers,
//! and pipes, files and tests see nothing. Dropping a [`Progress`] clears it.
//!
//! Command output and a bar share the terminal: a writer wrapped in [`ClearsProgress`]
//! (the shell wraps standard output in one when it is a terminal) clears the visible bar
//! before its first byte, and no bar is drawn after output began until [`output_ended`].
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long work runs before its bar appears.
pub const DELAY: Duration = Duration::from_millis(400);

static QUIET: AtomicBool = AtomicBool::new(false);
/// Set while command output is being written to the terminal.
static OUTPUT_STARTED: AtomicBool = AtomicBool::new(false);
/// The bar on screen, if any.
static VISIBLE: Mutex<Option<ProgressBar>> = Mutex::new(None);
/// How many bars exist (drawn or waiting for [`DELAY`]): [`while_working`]'s spinner
/// steps aside for a bar of the work inside it.
static BARS: AtomicUsize = AtomicUsize::new(0);

/// Silences every progress bar (the global `--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::SeqCst);
}

/// Whether `--quiet` was given.
pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether bars may be drawn: standard error is a terminal and `--quiet` was not given.
pub fn enabled() -> bool {
    !QUIET.load(Ordering::Relaxed) && io::stderr().is_terminal()
}

/// Clears the bar on screen, if any, and keeps bars off until [`output_ended`].
pub fn output_started() {
    if OUTPUT_STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Some(bar) = VISIBLE.lock().ok().and_then(|mut v| v.take()) {
        bar.finish_and_clear();
    }
}

/// Allows bars again (the shell calls this after each command).
pub fn output_ended() {
    OUTPUT_STARTED.store(false, Ordering::SeqCst);
}

/// Long work's progress: a bar when the total is known, a spinner when it is not.
pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    shown: AtomicBool,
    /// The label and the process's CPU use at the start, kept when `CLRHEAP_PHASES`
    /// asks for each step's time ([`phases`]).
    phase: Option<(String, Usage)>,
}

/// The whole process's CPU time (all threads) and minor page faults so far.
#[derive(Clone, Copy, Default)]
pub struct Usage {
    user_ms: u64,
    sys_ms: u64,
    faults: u64,
    /// Bytes of large blocks served from recycled pages and from fresh ones
    /// ([`crate::recycle::stats`]).
    recycled: (u64, u64),
}

impl Usage {
    pub fn now() -> Usage {
        #[cfg(unix)]
        {
            // SAFETY: getrusage fills the struct it is given.
            let mut r: libc::rusage = unsafe { std::mem::zeroed() };
            if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) } == 0 {
                let ms = |t: libc::timeval| (t.tv_sec as u64).saturating_mul(1000).saturating_add(t.tv_usec as u64 / 1000);
                return Usage { user_ms: ms(r.ru_utime), sys_ms: ms(r.ru_stime), faults: r.ru_minflt as u64, recycled: crate::recycle::stats() };
            }
        }
        Usage::default()
    }

    /// What was used since `start`, as printed after a phase's wall time.
    pub fn since(start: Usage) -> String {
        let now = Usage::now();
        let mb = |now: u64, then: u64| now.saturating_sub(then) >> 20;
        format!(
            "user {} ms, sys {} ms, {} page faults, large blocks {} MB recycled + {} MB fresh",
            now.user_ms.saturating_sub(start.user_ms),
            now.sys_ms.saturating_sub(start.sys_ms),
            now.faults.saturating_sub(start.faults),
            mb(now.recycled.0, start.recycled.0),
            mb(now.recycled.1, start.recycled.1)
        )
    }
}

/// Whether `CLRHEAP_PHASES` is set: each step with progress then prints its label, wall
/// time and the process's CPU time and page faults meanwhile (all threads: steps that
/// overlap count each other's) on standard error when it ends (for profiling; never
/// drawn as a bar).
pub fn phases() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("CLRHEAP_PHASES").is_some_and(|v| !v.is_empty()))
}

/// The parts of a step done on one thread: with `CLRHEAP_PHASES` set ([`phases`]),
/// [`PartClock::part`] prints each part's wall time and the thread's CPU time (the
/// steadier figure under load). A profiling aid; nothing is measured otherwise.
pub struct PartClock {
    wall: Instant,
    cpu: Duration,
}

impl PartClock {
    pub fn start() -> PartClock {
        PartClock { wall: Instant::now(), cpu: if phases() { thread_cpu_time() } else { Duration::ZERO } }
    }

    /// Prints the part since the last one (or the start) and starts the next.
    pub fn part(&mut self, label: &str) {
        if phases() {
            let cpu = thread_cpu_time();
            eprintln!(
                "phase:   {label}: {} ms ({} ms CPU)",
                self.wall.elapsed().as_millis(),
                cpu.saturating_sub(self.cpu).as_millis()
            );
            *self = PartClock { wall: Instant::now(), cpu };
        }
    }
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes one timespec through a valid pointer.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0 {
            return Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32);
        }
    }
    Duration::ZERO
}

impl Progress {
    /// A bar for `total` units of work (bytes, segments, objects...).
    pub fn new(label: &str, total: u64) -> Progress {
        Progress::create(label, Some(total))
    }

    /// A spinner for work of unknown size; call [`Progress::inc`] as it advances.
    pub fn spinner(label: &str) -> Progress {
        Progress::create(label, None)
    }

    /// Progress that never draws (for callers that pass one down unconditionally).
    pub fn hidden() -> Progress {
        Progress {
            bar: None,
            start: Instant::now(),
            shown: AtomicBool::new(false),
            phase: None,
        }
    }

    fn create(label: &str, total: Option<u64>) -> Progress {
        let phase = phases().then(|| (label.to_string(), Usage::now()));
        if !enabled() {
            let mut hidden = Progress::hidden();
            hidden.phase = phase;
            return hidden;
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        let style = match total {
            Some(_) => ProgressStyle::with_template("{msg} [{bar:30}] {percent:>3}% ({elapsed})")
                .map(|s| s.progress_chars("=> ")),
            None => ProgressStyle::with_template("{msg} {spinner} {pos} ({elapsed})"),
        };
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.set_message(label.to_string());
        BARS.fetch_add(1, Ordering::SeqCst);
        Progress {
            bar: Some(bar),
            start: Instant::now(),
            shown: AtomicBool::new(false),
            phase,
        }
    }

    /// Advances by `delta` units, drawing the bar once the work has taken [`DELAY`].
    #[inline]
    pub fn inc(&self, delta: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(delta);
            self.maybe_show(bar);
        }
    }

    /// Sets the position to `pos` units.
    pub fn set_position(&self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
            self.maybe_show(bar);
        }
    }

    /// Redraws (a spinner turns), showing the bar once the work has taken [`DELAY`].
    fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.tick();
            self.maybe_show(bar);
        }
    }

    /// Clears the bar for good (another one took its place).
    fn retire(&self) {
        if let Some(bar) = &self.bar {
            if self.shown.load(Ordering::Relaxed) {
                bar.finish_and_clear();
            }
            self.shown.store(true, Ordering::Relaxed);
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
    }

    fn maybe_show(&self, bar: &ProgressBar) {
        if self.shown.load(Ordering::Relaxed)
            || OUTPUT_STARTED.load(Ordering::Relaxed)
            || self.start.elapsed() < DELAY
        {
            return;
        }
        self.shown.store(true, Ordering::Relaxed);
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(mut visible) = VISIBLE.lock() {
            *visible = Some(bar.clone());
        }
    }

    /// Ends the work and clears the bar.
    pub fn finish(self) {
        // Drop does it.
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((label, usage)) = self.phase.take() {
            eprintln!("phase: {label}: {} ms ({})", self.start.elapsed().as_millis(), Usage::since(usage));
        }
        if let Some(bar) = self.bar.take() {
            BARS.fetch_sub(1, Ordering::SeqCst);
            if self.shown.load(Ordering::Relaxed)
                && let Ok(mut visible) = VISIBLE.lock()
            {
                *visible = None;
            }
            bar.finish_and_clear();
        }
    }
}

/// Runs `work`, which draws no bar of its own (building the object graph, retained
/// sizes, a command as a whole), under a spinner saying `label` and the time spent. The
/// spinner shows as bars do (a terminal, not `--quiet`, after [`DELAY`], before output),
/// and steps aside for good when a bar of the work inside appears. Ctrl-C during work
/// that cannot stop midway says so on the spinner until the work ends.
pub fn while_working<T>(label: &str, work: impl FnOnce() -> T) -> T {
    if !enabled() {
        if phases() {
            let start = Instant::now();
            let t = work();
            eprintln!("phase: {label}: {} ms", start.elapsed().as_millis());
            return t;
        }
        return work();
    }
    let bars_before = BARS.load(Ordering::SeqCst);
    let spinner = Progress::spinner(label);
    if let Some(bar) = &spinner.bar
        && let Ok(style) = ProgressStyle::with_template("{msg} {spinner} ({elapsed})")
    {
        bar.set_style(style);
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let ticker = scope.spawn(|| {
            let mut cancelling = false;
            loop {
                // Woken early when the work ends: quick commands wait for nothing.
                std::thread::park_timeout(Duration::from_millis(100));
                if done.load(Ordering::SeqCst) {
                    break;
                }
                if BARS.load(Ordering::SeqCst) > bars_before + 1 {
                    spinner.retire();
                    continue;
                }
                if !cancelling && crate::interrupt::cancelled() {
                    cancelling = true;
                    if let Some(bar) = &spinner.bar {
                        bar.set_message(format!("cancelling ({label} must end first)"));
                    }
                }
                spinner.tick();
            }
        });
        let result = work();
        done.store(true, Ordering::SeqCst);
        ticker.thread().unpark();
        result
    })
}

/// A writer that clears the progress bar before its first byte reaches the terminal.
pub struct ClearsProgress<W: Write> {
    inner: W,
    active: bool,
}

impl<W: Write> ClearsProgress<W> {
    /// `active`: whether the output shares the terminal with the bars (standard output is
    /// a terminal). When it does not, bars stay up while output is written.
    pub fn new(inner: W, active: bool) -> Self {
        ClearsProgress { inner, active }
    }
}

impl<W: Write> Write for ClearsProgress<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.active {
            output_started();
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_progress_accepts_calls() {
        let p = Progress::hidden();
        p.inc(5);
        p.set_position(10);
        p.finish();
        // Tests do not run on a terminal: no bar is created.
        set_quiet(true);
        let p = Progress::new("work", 10);
        assert!(p.bar.is_none());
        set_quiet(false);
        // Off a terminal the work simply runs.
        assert_eq!(while_working("adding", || 2 + 2), 4);
    }
}

/// The calling thread's CPU time (user and system), for [`PhaseTimer`].
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given and nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// A step without progress of its own (part of a command) timed for `CLRHEAP_PHASES`:
/// when it is dropped, prints its label, wall time and the thread's CPU time on standard
/// error. Does nothing (reads no clock) when [`phases`] is off.
pub struct PhaseTimer {
    started: Option<(&'static str, Instant, Duration, Usage)>,
}

impl PhaseTimer {
    pub fn start(label: &'static str) -> PhaseTimer {
        PhaseTimer { started: phases().then(|| (label, Instant::now(), thread_cpu(), Usage::now())) }
    }
}

impl Drop for PhaseTimer {
    fn drop(&mut self) {
        if let Some((label, wall, cpu, usage)) = self.started.take() {
            let cpu = thread_cpu().saturating_sub(cpu);
            eprintln!("phase: {label}: {:.1} ms (thread cpu {:.1} ms; process {})", wall.elapsed().as_secs_f64() * 1e3, cpu.as_secs_f64() * 1e3, Usage::since(usage));
        }
    }
}


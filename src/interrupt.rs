//! Ctrl-C: cancel the running command, not the program.
//!
//! The interactive shell calls [`install_handler`] once; from then on SIGINT only sets a
//! flag. Long work polls [`cancelled`] (or `check()?`, which turns the flag into a
//! [`Cancelled`] error) at convenient points — once per segment, once per thousand
//! objects — and output written through an [`InterruptibleWriter`] fails as soon as the
//! flag is set, so a command that prints a lot stops at its next write. The shell calls
//! [`reset`] before each command and [`is_cancelled`] to tell a cancellation from a
//! failure.
//!
//! Without the handler (one-shot runs), Ctrl-C ends the process as usual and
//! [`cancelled`] is always false.
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// The error a cancelled command ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Makes SIGINT (Ctrl-C) set the cancellation flag instead of ending the process.
/// Safe to call more than once; fails only if another handler was installed first.
pub fn install_handler() -> Result<(), ctrlc::Error> {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    ctrlc::set_handler(|| CANCELLED.store(true, Ordering::SeqCst))
}

/// Whether Ctrl-C was pressed since the last [`reset`].
#[inline]
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::Relaxed)
}

/// `Err(Cancelled)` once Ctrl-C was pressed: `interrupt::check()?` in a loop.
#[inline]
pub fn check() -> Result<(), Cancelled> {
    if cancelled() { Err(Cancelled) } else { Ok(()) }
}

/// Clears the flag (the shell does this before each command).
pub fn reset() {
    CANCELLED.store(false, Ordering::SeqCst);
}

/// Sets the flag as Ctrl-C would (for tests and for callers that cancel themselves).
pub fn cancel() {
    CANCELLED.store(true, Ordering::SeqCst);
}

/// Whether an error chain comes from a cancellation: a [`Cancelled`] anywhere in it, or an
/// I/O error carrying one (what [`InterruptibleWriter`] returns).
pub fn is_cancelled(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.is::<Cancelled>()
            || e.downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<Cancelled>())
            || e.downcast_ref::<crate::error::Error>()
                .is_some_and(|e| e.kind() == crate::error::ErrorKind::Cancelled)
    })
}

/// A writer that fails with an I/O error wrapping [`Cancelled`] once Ctrl-C was pressed.
///
/// The error's kind is `Other`, not `Interrupted`: `write_all` retries `Interrupted`
/// forever.
pub struct InterruptibleWriter<W: Write> {
    inner: W,
}

impl<W: Write> InterruptibleWriter<W> {
    pub fn new(inner: W) -> Self {
        InterruptibleWriter { inner }
    }

    /// The wrapped writer, given back.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// The wrapped writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    fn check(&self) -> io::Result<()> {
        if cancelled() { Err(io::Error::other(Cancelled)) } else { Ok(()) }
    }
}

impl<W: Write> Write for InterruptibleWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
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
    fn writer_stops_once_cancelled() {
        reset();
        let mut w = InterruptibleWriter::new(Vec::new());
        writeln!(w, "before").unwrap();
        cancel();
        let err = writeln!(w, "after").unwrap_err();
        reset();
        assert_eq!(w.get_mut().as_slice(), b"before\n");
        assert!(is_cancelled(&anyhow::Error::from(err)));
        assert!(is_cancelled(&anyhow::Error::from(Cancelled).context("dumpheap")));
        assert!(!is_cancelled(&anyhow::anyhow!("object not found")));
    }
}

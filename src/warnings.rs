//! Warnings: what a layer skipped or cut short because the dump did not allow more.
//!
//! A dump is untrusted input, and clrheap answers from as much of it as it can read: a
//! segment whose walk stopped, an allocation context clamped to its segment, a thread
//! list cut at a bad link, a module file refused because it is not the file the process
//! mapped. Each of those is a warning here, never a silent loss.
//!
//! Every [`AddressSpace`](crate::dump::AddressSpace) owns one [`Warnings`], so every
//! layer above the dump reaches it (`space.warnings()`). A warning is printed to standard
//! error (`warning: ...`) the first time its text is seen and counted; the shell compares
//! [`Warnings::count`] before and after a command to tell a complete answer from a
//! partial one (exit status 3).
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Distinct warnings kept (and printed); beyond this they are only counted.
const MAX_KEPT: usize = 4096;

/// A thread-safe, de-duplicating collector of warnings.
#[derive(Default)]
pub struct Warnings {
    kept: Mutex<Kept>,
    /// Warnings recorded, repeats of a kept text not included.
    count: AtomicU64,
    quiet: AtomicBool,
}

#[derive(Default)]
struct Kept {
    seen: HashSet<String>,
    order: Vec<String>,
    dropped: bool,
}

impl Warnings {
    pub fn new() -> Warnings {
        Warnings::default()
    }

    /// Records a warning and prints it to standard error, unless the same text was
    /// recorded before.
    pub fn warn(&self, message: impl Into<String>) {
        let message = message.into();
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if kept.seen.contains(&message) {
            return;
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let quiet = self.quiet.load(Ordering::Relaxed);
        if kept.order.len() >= MAX_KEPT {
            if !kept.dropped && !quiet {
                eprintln!("warning: more than {MAX_KEPT} warnings; the rest are only counted");
            }
            kept.dropped = true;
            return;
        }
        if !quiet {
            eprintln!("warning: {message}");
        }
        kept.seen.insert(message.clone());
        kept.order.push(message);
    }

    /// How many warnings were recorded so far (each distinct text once).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The warnings kept so far, in the order they came.
    pub fn messages(&self) -> Vec<String> {
        self.kept.lock().map(|k| k.order.clone()).unwrap_or_default()
    }

    /// Stops printing warnings (they are still recorded and counted): for the fuzzing
    /// harness, which damages thousands of dumps.
    pub fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_count_once() {
        let w = Warnings::new();
        w.set_quiet(true);
        w.warn("a");
        w.warn("b");
        w.warn("a");
        assert_eq!(w.count(), 2);
        assert_eq!(w.messages(), ["a", "b"]);
    }

    #[test]
    fn beyond_the_cap_only_counted() {
        let w = Warnings::new();
        w.set_quiet(true);
        for i in 0..MAX_KEPT + 10 {
            w.warn(format!("w{i}"));
        }
        assert_eq!(w.count(), (MAX_KEPT + 10) as u64);
        assert_eq!(w.messages().len(), MAX_KEPT);
    }
}

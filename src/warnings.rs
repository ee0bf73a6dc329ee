//! Warnings and notices as values: library code reports what it had to skip or guess
//! (a thread whose stack could not be walked, a segment whose walk stopped early, a module
//! file refused because it is not the file the process mapped) and what a long step is
//! about to do ("Caching GC roots"), and the caller decides how to show them. The library
//! never prints.
//!
//! One [`Warnings`] sink serves a whole dump: the address space owns it
//! ([`crate::dump::AddressSpace::warnings`]), so the dump and heap layers report into it,
//! and the session shares it ([`crate::Session::warnings`]). It keeps the messages until
//! [`Warnings::take`], or hands each to a listener as it comes
//! ([`Warnings::set_listener`]): the shell prints warnings on standard error, and notices
//! too unless `--quiet`.
//!
//! A dump is untrusted input, so a warning is reported once per text and command
//! ([`Warnings::begin_command`]) however often the damage is met, and at most [`MAX_KEPT`] distinct warnings are kept; every one is
//! counted ([`Warnings::count`]): the shell's exit status 3 (`partial`) comes from it.
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Distinct warnings reported (to the listener, or kept); beyond this they are only
/// counted.
pub const MAX_KEPT: usize = 4096;

/// How much a message matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something was skipped, guessed or could not be read: the answer may be incomplete.
    Warning,
    /// What a long step is doing (dotnet-dump's "Caching GC roots, this may take a while.").
    Notice,
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

impl fmt::Display for Message {
    /// A warning as `warning: TEXT`, a notice as its text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            Level::Warning => write!(f, "warning: {}", self.text),
            Level::Notice => f.write_str(&self.text),
        }
    }
}

type Listener = Box<dyn Fn(&Message) + Send + Sync>;

/// Where library code reports warnings and notices.
#[derive(Default)]
pub struct Warnings {
    kept: Mutex<Kept>,
    listener: OnceLock<Listener>,
    /// Warnings reported (each text once).
    count: AtomicU64,
}

#[derive(Default)]
struct Kept {
    messages: Vec<Message>,
    /// The texts of the warnings seen (at most [`MAX_KEPT`]).
    seen: HashSet<String>,
    /// Whether warnings beyond [`MAX_KEPT`] were dropped (said once).
    dropped: bool,
}

impl Warnings {
    pub fn new() -> Warnings {
        Warnings::default()
    }

    /// Reports a warning, unless the same text was reported before: something in the
    /// dump was skipped, guessed or could not be read ([`Warnings::count`]s it).
    pub fn warn(&self, text: impl Into<String>) {
        self.warning(text.into(), true);
    }

    /// Reports a warning about what was asked, not about the dump (dotnet-dump's
    /// "Warning: 10 is not a valid object"): shown as a warning, not counted, since the
    /// answer is as complete as the dump allows.
    pub fn caution(&self, text: impl Into<String>) {
        self.warning(text.into(), false);
    }

    fn warning(&self, text: String, counted: bool) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.seen.contains(&text) {
            return;
        }
        if counted {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        if kept.seen.len() >= MAX_KEPT {
            if kept.dropped {
                return;
            }
            kept.dropped = true;
            drop(kept);
            self.push(Message {
                level: Level::Warning,
                text: format!("more than {MAX_KEPT} warnings: the rest are only counted"),
            });
            return;
        }
        kept.seen.insert(text.clone());
        drop(kept);
        self.push(Message { level: Level::Warning, text });
    }

    /// Reports a notice.
    pub fn notice(&self, text: impl Into<String>) {
        self.push(Message { level: Level::Notice, text: text.into() });
    }

    fn push(&self, message: Message) {
        match self.listener.get() {
            Some(listener) => listener(&message),
            None => self.kept.lock().unwrap_or_else(|e| e.into_inner()).messages.push(message),
        }
    }

    /// Starts a command: a warning reported before is reported again (and counted) when
    /// this command meets the same damage, so each answer says it is incomplete.
    pub fn begin_command(&self) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.seen.clear();
        kept.dropped = false;
    }

    /// The messages kept so far (none once a listener is set), in the order reported.
    pub fn take(&self) -> Vec<Message> {
        std::mem::take(&mut self.kept.lock().unwrap_or_else(|e| e.into_inner()).messages)
    }

    /// How many warnings were reported so far (each text once per command; notices and cautions not
    /// counted).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Hands every later message to `listener` as it is reported, instead of keeping it
    /// (the messages kept so far go to it first). Only the first listener set counts.
    pub fn set_listener(&self, listener: impl Fn(&Message) + Send + Sync + 'static) {
        if self.listener.set(Box::new(listener)).is_ok() {
            for m in self.take() {
                if let Some(l) = self.listener.get() {
                    l(&m);
                }
            }
        }
    }
}

impl fmt::Debug for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Warnings")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn kept_then_listened() {
        let w = Warnings::new();
        w.warn("thread 1a: no stack");
        w.notice("Caching GC roots");
        let kept = w.take();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].to_string(), "warning: thread 1a: no stack");
        assert_eq!(kept[1].to_string(), "Caching GC roots");
        assert!(w.take().is_empty());
        w.warn("early");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        w.set_listener(move |m| s.lock().unwrap().push(m.to_string()));
        w.warn("late");
        assert_eq!(*seen.lock().unwrap(), ["warning: early", "warning: late"]);
        assert!(w.take().is_empty());
    }

    #[test]
    fn repeats_count_once() {
        let w = Warnings::new();
        w.warn("a");
        w.warn("b");
        w.warn("a");
        w.notice("n");
        assert_eq!(w.count(), 2);
        let texts: Vec<String> = w.take().into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["a", "b", "n"]);
    }

    #[test]
    fn beyond_the_cap_only_counted() {
        let w = Warnings::new();
        for i in 0..MAX_KEPT + 10 {
            w.warn(format!("w{i}"));
        }
        assert_eq!(w.count(), (MAX_KEPT + 10) as u64);
        // The kept ones and one line saying the rest were dropped.
        assert_eq!(w.take().len(), MAX_KEPT + 1);
    }
}

//! Warnings and notices as values: library code reports what it had to skip or guess
//! (a thread whose stack could not be walked, a segment whose walk stopped early) and
//! what a long step is about to do ("Caching GC roots"), and the caller decides how to
//! show them. The library never prints.
//!
//! A [`Warnings`] sink keeps the messages until [`Warnings::take`], or hands each to a
//! listener as it comes ([`Warnings::set_listener`]): the shell prints warnings on
//! standard error, and notices too unless `--quiet`.
use std::fmt;
use std::sync::{Mutex, OnceLock};

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
    kept: Mutex<Vec<Message>>,
    listener: OnceLock<Listener>,
}

impl Warnings {
    pub fn new() -> Warnings {
        Warnings::default()
    }

    /// Reports a warning.
    pub fn warn(&self, text: impl Into<String>) {
        self.push(Message { level: Level::Warning, text: text.into() });
    }

    /// Reports a notice.
    pub fn notice(&self, text: impl Into<String>) {
        self.push(Message { level: Level::Notice, text: text.into() });
    }

    fn push(&self, message: Message) {
        match self.listener.get() {
            Some(listener) => listener(&message),
            None => self.kept.lock().unwrap_or_else(|e| e.into_inner()).push(message),
        }
    }

    /// The messages kept so far (none once a listener is set), in the order reported.
    pub fn take(&self) -> Vec<Message> {
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner()))
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
        f.debug_struct("Warnings").field("kept", &self.kept).finish_non_exhaustive()
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
}

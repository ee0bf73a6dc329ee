//! The library's error: what opening a dump or running a command can fail with, as a
//! value a caller can tell apart ([`Error::kind`]) without reading messages.
//!
//! The layers below return their own typed errors where a caller must tell cases apart
//! ([`DumpError`] for the dump, [`Error`] from [`crate::runtime::Runtime::discover`] and
//! [`crate::heap::Heap::open`]); inside a layer, work that can only fail with "this part
//! of the dump is damaged" may carry a message chain (`anyhow`), which becomes
//! [`Error::Other`] at the surface with its chain and its kind kept.
use crate::dump::DumpError;
use std::fmt;
use std::sync::Arc;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is not an ELF core dump of a process clrheap reads.
    NotACore,
    /// The dump is shorter than its headers say.
    Truncated,
    /// A file could not be read.
    Io,
    /// A structure of the dump is damaged.
    Damaged,
    /// Memory the answer needs is not in the dump.
    Unreadable,
    /// Memory the dump left out maps a file that is not on this machine.
    ModuleFileMissing,
    /// The process ran no .NET runtime clrheap reads.
    NoRuntime,
    /// A .NET version clrheap does not know.
    UnknownRuntime,
    /// The dump holds no GC heap (a mini or triage dump).
    NoHeap,
    /// No command has that name.
    UnknownCommand,
    /// A dotnet-dump command clrheap does not implement yet.
    NotImplemented,
    /// Ctrl-C.
    Cancelled,
    /// The output was closed (`| head`).
    BrokenPipe,
    /// Anything else (a command refusing its arguments, say).
    Other,
}

/// An error of the library's surface (`Session::open`, `Session::execute`, ...).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotACore(String),
    #[error("{0}")]
    Truncated(String),
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: the dump is damaged ({detail})")]
    Damaged { what: String, detail: String },
    #[error("memory at {addr:#x} ({len} bytes) is not in the dump{}", note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default())]
    Unreadable { addr: u64, len: usize, note: Option<String> },
    /// `path` is not on this machine (or may not be read: `--dump-only`), and the dump
    /// holds only part of it: memory at `addr` cannot be read.
    #[error("{message}")]
    ModuleFileMissing { path: String, addr: u64, message: String },
    #[error("{0}")]
    NoRuntime(String),
    #[error("{0}")]
    UnknownRuntime(String),
    #[error(
        "this dump holds no GC heap (a mini or triage dump?): capture a heap or full dump \
         (dotnet-dump collect --type Heap, or createdump --withheap)"
    )]
    NoHeap,
    #[error("Unrecognized SOS command '{0}'")]
    UnknownCommand(String),
    #[error("'{0}' is a dotnet-dump command clrheap does not implement yet")]
    NotImplemented(&'static str),
    /// `message`, because of `source`.
    #[error("{message}")]
    Context {
        message: String,
        #[source]
        source: Box<Error>,
    },
    /// One failure reported again (a session caches what it could not compute).
    #[error(transparent)]
    Shared(Arc<Error>),
    /// A failure with a message chain, and the kind found in it.
    #[error(transparent)]
    Other(Box<Other>),
}

/// The payload of [`Error::Other`].
pub struct Other {
    kind: ErrorKind,
    error: anyhow::Error,
}

impl fmt::Debug for Other {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl fmt::Display for Other {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole chain, as `{:#}` prints it: the causes are part of the message here,
        // because `source` cannot hand out anyhow's chain.
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Other {}

/// A command's failure whose message is already in its output (SOS prints some failures
/// on its console, and dotnet-dump shows nothing more): see [`Error::shown_in_output`].
#[derive(Debug)]
pub struct ShownInOutput(pub String);

impl fmt::Display for ShownInOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShownInOutput {}

/// A result of the library's surface.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What kind of failure this is (through any context and sharing).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotACore(_) => ErrorKind::NotACore,
            Error::Truncated(_) => ErrorKind::Truncated,
            Error::Io { .. } => ErrorKind::Io,
            Error::Damaged { .. } => ErrorKind::Damaged,
            Error::Unreadable { .. } => ErrorKind::Unreadable,
            Error::ModuleFileMissing { .. } => ErrorKind::ModuleFileMissing,
            Error::NoRuntime(_) => ErrorKind::NoRuntime,
            Error::UnknownRuntime(_) => ErrorKind::UnknownRuntime,
            Error::NoHeap => ErrorKind::NoHeap,
            Error::UnknownCommand(_) => ErrorKind::UnknownCommand,
            Error::NotImplemented(_) => ErrorKind::NotImplemented,
            Error::Context { source, .. } => source.kind(),
            Error::Shared(e) => e.kind(),
            Error::Other(o) => o.kind,
        }
    }

    /// Whether the command already wrote this failure's message to its output, as SOS
    /// does (`Invalid parameter zz`): a shell that shows the output does not print it twice.
    pub fn shown_in_output(&self) -> bool {
        match self {
            Error::Context { source, .. } => source.shown_in_output(),
            Error::Shared(e) => e.shown_in_output(),
            Error::Other(o) => o.error.chain().any(|c| c.is::<ShownInOutput>()),
            _ => false,
        }
    }

    /// This error, explained by `message` first.
    pub fn context(self, message: impl Into<String>) -> Error {
        Error::Context { message: message.into(), source: Box::new(self) }
    }

    /// A damaged structure.
    pub fn damaged(what: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Damaged { what: what.into(), detail: detail.into() }
    }
}

/// `.context(...)` for results of the library's own errors (as anyhow's `Context`).
pub trait ResultExt<T> {
    /// The error explained by `message` first.
    fn context(self, message: impl Into<String>) -> Result<T>;
    /// The error explained by `message()` first (built only on failure).
    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, message: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().context(message))
    }

    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|e| e.into().context(message()))
    }
}

impl From<DumpError> for Error {
    fn from(e: DumpError) -> Error {
        match e {
            DumpError::Io { path, source } => Error::Io { path, source },
            DumpError::NotACore(m) => Error::NotACore(m),
            DumpError::Truncated(m) => Error::Truncated(m),
            DumpError::Damaged { what, detail } => Error::Damaged { what: what.to_string(), detail },
            DumpError::Absent { addr, len, note } => Error::Unreadable { addr, len, note },
            DumpError::ModuleFileMissing { addr, len, path } => {
                let message = DumpError::ModuleFileMissing { addr, len, path: path.clone() }.to_string();
                Error::ModuleFileMissing { path, addr, message }
            }
        }
    }
}

/// The kind of one link of a chain.
fn kind_of(e: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    if let Some(e) = e.downcast_ref::<Error>() {
        return Some(e.kind());
    }
    if let Some(e) = e.downcast_ref::<DumpError>() {
        return Some(match e {
            DumpError::Io { .. } => ErrorKind::Io,
            DumpError::NotACore(_) => ErrorKind::NotACore,
            DumpError::Truncated(_) => ErrorKind::Truncated,
            DumpError::Damaged { .. } => ErrorKind::Damaged,
            DumpError::Absent { .. } => ErrorKind::Unreadable,
            DumpError::ModuleFileMissing { .. } => ErrorKind::ModuleFileMissing,
        });
    }
    if e.is::<crate::interrupt::Cancelled>() {
        return Some(ErrorKind::Cancelled);
    }
    let io = e.downcast_ref::<std::io::Error>()?;
    if io.get_ref().is_some_and(|inner| inner.is::<crate::interrupt::Cancelled>()) {
        return Some(ErrorKind::Cancelled);
    }
    (io.kind() == std::io::ErrorKind::BrokenPipe).then_some(ErrorKind::BrokenPipe)
}

impl From<anyhow::Error> for Error {
    /// Keeps the chain; the kind is that of the first link that has one (a cancellation
    /// or a closed pipe wins: they end the command whatever it was doing).
    fn from(e: anyhow::Error) -> Error {
        let e = match e.downcast::<Error>() {
            Ok(inner) => return inner,
            Err(e) => e,
        };
        let kinds: Vec<ErrorKind> = e.chain().filter_map(kind_of).collect();
        let kind = kinds
            .iter()
            .copied()
            .find(|k| matches!(k, ErrorKind::Cancelled | ErrorKind::BrokenPipe))
            .or(kinds.first().copied())
            .unwrap_or(ErrorKind::Other);
        Error::Other(Box::new(Other { kind, error: e }))
    }
}

impl From<crate::interrupt::Cancelled> for Error {
    /// Ctrl-C ended the work.
    fn from(e: crate::interrupt::Cancelled) -> Error {
        Error::from(anyhow::Error::from(e))
    }
}

impl From<std::io::Error> for Error {
    /// A failed write of a command's output.
    fn from(e: std::io::Error) -> Error {
        Error::from(anyhow::Error::from(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_survive_context_sharing_and_chains() {
        let e = Error::from(DumpError::Absent { addr: 0x1000, len: 8, note: None });
        assert_eq!(e.kind(), ErrorKind::Unreadable);
        let e = e.context("cannot read the GC's generation table");
        assert_eq!(e.kind(), ErrorKind::Unreadable);
        assert_eq!(
            format!("{:#}", anyhow::Error::from(e)),
            "cannot read the GC's generation table: memory at 0x1000 (8 bytes) is not in the dump"
        );
        let shared = Error::Shared(Arc::new(Error::NoHeap));
        assert_eq!(shared.kind(), ErrorKind::NoHeap);
        let chained = anyhow::Error::from(DumpError::Absent { addr: 0x10, len: 4, note: None }).context("reading a field");
        let e = Error::from(chained);
        assert_eq!(e.kind(), ErrorKind::Unreadable);
        assert_eq!(e.to_string(), "reading a field: memory at 0x10 (4 bytes) is not in the dump");
        let cancelled = anyhow::Error::from(std::io::Error::other(crate::interrupt::Cancelled)).context("dumpheap");
        assert_eq!(Error::from(cancelled).kind(), ErrorKind::Cancelled);
        let pipe = Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(pipe.kind(), ErrorKind::BrokenPipe);
        assert_eq!(Error::from(anyhow::anyhow!("Invalid MethodTable: 0")).kind(), ErrorKind::Other);
        let round = Error::from(anyhow::Error::from(Error::NotImplemented("clrstack")));
        assert!(matches!(round, Error::NotImplemented("clrstack")));
    }
}

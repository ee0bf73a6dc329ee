//! clrheap: read .NET (CoreCLR) heaps out of Linux core dumps without the DAC.
//!
//! Layers, bottom to top (each module's doc comment says more):
//! - [`dump`]: the ELF core file, its address space, and the module files it maps.
//! - [`runtime`]: locating CoreCLR's data in that address space (exports, contract
//!   descriptor, `g_dacTable`, `GcDacVars`) and the per-version layouts.
//! - [`metadata`]: ECMA-335 metadata of managed modules (type and field names).
//! - [`heap`]: GC heaps, segments/regions, the object walk, MethodTables and type names,
//!   object references (GCDesc) and roots (handles, finalizer queue).
//! - [`graph`]: the indexed object graph (dense ids, CSR edges), roots, liveness,
//!   dominators.
//! - [`analysis`]: leak analyses over the graph and the session's caches: the owner of a
//!   suspect in the user's terms, leak and waste patterns (for `leaks` and `report`).
//! - [`session`]: one opened dump and what has been computed about it.
//! - [`args`] and [`render`]: how commands read their words and print (text, JSON, CSV).
//! - [`commands`]: SOS-compatible commands (parse -> query -> render), one file each.
//! - [`registry`]: the table of every command, dispatch and `help`.
//! - [`shell`]: `analyze`'s prompt, `-c` and standard-input modes around the commands.
//!
//! Shared by every layer: [`interrupt`] (Ctrl-C cancels the running command),
//! [`progress`] (progress bars on a terminal) and [`warnings`] (what library code reports
//! instead of printing: one sink per dump), and [`recycle`] (the binary's allocator, which
//! hands the pages of a freed large array to the next one).
//!
//! Beside the layers, for live processes and for moving dumps: [`ipc`] (the runtime's
//! diagnostics channel), [`ps`] and [`collect`] (list .NET processes, have one write a
//! dump), [`pack`] (a dump with the module pages it needs, to open anywhere).
pub mod args;
pub mod commands;
pub mod dump;
pub mod error;
pub mod analysis;
pub mod graph;
pub mod heap;
pub mod interrupt;
pub mod metadata;
pub mod progress;
pub mod recycle;
pub mod registry;
pub mod render;
pub mod runtime;
pub mod session;
pub mod shell;
pub mod warnings;
#[cfg(test)]
mod test_rng;

pub use error::{Error, ErrorKind};
pub use session::Session;

pub mod cli;
pub mod collect;
pub mod ipc;
pub mod pack;
pub mod ps;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

//! clrheap: read .NET (CoreCLR) heaps out of Linux core dumps without the DAC.
//!
//! Layers, bottom to top (each module's doc comment says more):
//! - [`dump`]: the ELF core file, its address space, and the module files it maps.
//! - [`runtime`]: locating CoreCLR's data in that address space (exports, contract
//!   descriptor, `g_dacTable`, `GcDacVars`) and the per-version layouts.
//! - [`metadata`]: ECMA-335 metadata of managed modules (type and field names).
//! - [`heap`]: GC heaps, segments/regions, the object walk, MethodTables and type names,
//!   object references (GCDesc) and roots (handles, finalizer queue).
//! - [`graph`]: the indexed object graph (dense ids, CSR edges) and liveness.
//! - [`commands`]: SOS-compatible commands (parse -> query -> render).
//! - [`shell`]: `analyze`'s prompt, `-c` and standard-input modes around the commands.
//!
//! Shared by every layer: [`interrupt`] (Ctrl-C cancels the running command),
//! [`progress`] (progress bars on a terminal) and [`warnings`] (what reading a dump
//! skipped, one collector per dump).
pub mod commands;
pub mod interrupt;
pub mod warnings;
pub mod progress;
pub mod shell;
pub mod dump;
pub mod heap;
pub mod graph;
pub mod metadata;
pub mod runtime;

pub mod cli;
#[doc(hidden)]
pub mod fuzzing;

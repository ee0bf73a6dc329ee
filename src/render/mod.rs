//! The renderer: how commands print, in dotnet-dump's text, JSON or CSV.
//!
//! - [`format`]: numbers and cells as dotnet-dump prints them (`1,234`, `0x18 (24)`).
//! - [`output`]: the output [`Format`], JSON documents and lines, CSV rows and records.
//! - [`stats`]: per-type statistics tables (SOS's `Statistics:` table and its records).
//! - [`objects`]: object listings as `dumpheap` prints them (address, MT, size; then
//!   statistics), shared by every command that lists objects (`objsize`, `finalizequeue`).
//! - [`table`]: the column table of dotnet-dump's managed commands (widths, alignment,
//!   cut text), for `gcheapstat`, `sizestats`, `listnearobj`.
//! - [`methods`]: a MethodDesc as `dumpmd` and `ip2md` print it.
//! - [`sos`]: SOS's console (one output call at a time) and its field tables.
//! - [`columns`]: clrheap's own tables (`retained`, `diff`) as dotnet-dump lays tables
//!   out: right-aligned columns, the type name last and unpadded.
//! - [`gc_refs`]: an object's references as `dumpobjgcrefs` (and `dumpobj -refs`) prints them.
//! - [`values`]: field values as ClrMD-based commands print them (`True`, `0x44`).
//!
//! Nothing here reads the dump: rows come in as values (type names included, or through
//! the heap's name cache).
pub mod columns;
pub mod format;
pub mod il;
pub mod gc_refs;
pub mod methods;
pub mod objects;
pub mod output;
pub mod sos;
pub mod stats;
pub mod table;
pub mod values;

pub use output::Format;

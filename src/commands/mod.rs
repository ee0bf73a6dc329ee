//! The commands: one file each, SOS-compatible (parse -> query -> render) or clrheap's own.
//!
//! A command is `pub fn run(session, args, format, out)` plus `pub const OPTIONS`, the
//! option list its parser reads; the registry ([`crate::registry`]) names it and runs it.
//! Commands depend on the session and the layers below (graph, heap, render, args), never
//! on each other.
pub mod debuggeronly;
pub mod diff;
pub mod dumpconcurrentdictionary;
pub mod dumpconcurrentqueue;
pub mod dumpgen;
pub mod dumpheap;
pub mod dumpmt;
pub mod dumpobj;
pub mod eeheap;
pub mod finalizequeue;
pub mod gchandles;
pub mod gcroot;
pub mod gcwhere;
pub mod leaks;
pub mod objsize;
pub mod readmemory;
pub mod retained;
pub mod syncblk;
pub mod verifyheap;
pub mod threadpool;
pub mod threadpoolqueue;
pub mod timerinfo;

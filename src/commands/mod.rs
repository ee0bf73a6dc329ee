//! The commands: one file each, SOS-compatible (parse -> query -> render) or clrheap's own.
//!
//! A command is `pub fn run(session, args, format, out)` plus `pub const OPTIONS`, the
//! option list its parser reads; the registry ([`crate::registry`]) names it and runs it.
//! Commands depend on the session and the layers below (graph, heap, render, args), never
//! on each other.
pub mod clrmodules;
pub mod clrstack;
pub mod clrthreads;
pub mod debuggeronly;
pub mod diff;
pub mod dumpconcurrentdictionary;
pub mod dumpconcurrentqueue;
pub mod dumpexceptions;
pub mod dumpgen;
pub mod dumpheap;
pub mod dumpmt;
pub mod dumpobj;
pub mod dumpstackobjects;
pub mod eeheap;
pub mod eeversion;
pub mod finalizequeue;
pub mod gchandles;
pub mod gcroot;
pub mod gcwhere;
pub mod leaks;
pub mod ip2md;
pub mod modules;
pub mod objsize;
pub mod parallelstacks;
pub mod printexception;
pub mod readmemory;
pub mod registers;
pub mod report;
pub mod retained;
pub mod runtimes;
pub mod syncblk;
pub mod threadpool;
pub mod threadpoolqueue;
pub mod threads;
pub mod threadstate;
pub mod timerinfo;
pub mod verifyheap;

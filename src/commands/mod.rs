//! The commands: one file each, SOS-compatible (parse -> query -> render) or clrheap's own.
//!
//! A command is `pub fn run(session, args, format, out)` plus `pub const OPTIONS`, the
//! option list its parser reads; the registry ([`crate::registry`]) names it and runs it.
//! Commands depend on the session and the layers below (graph, heap, render, args), never
//! on each other.
pub mod analyzeoom;
pub mod clrmodules;
pub mod clrstack;
pub mod clrthreads;
pub mod crashinfo;
pub mod debuggeronly;
pub mod dumpclass;
pub mod diff;
pub mod dumpasync;
pub mod dumpconcurrentdictionary;
pub mod dumpconcurrentqueue;
pub mod dumpdelegate;
pub mod dumpexceptions;
pub mod dumphttp;
pub mod dumpgen;
pub mod dumpheap;
pub mod dumpmd;
pub mod dumpmt;
pub mod dumprequests;
pub mod dumpobj;
pub mod dumpobjgcrefs;
pub mod dumpruntimetypes;
pub mod dumpsig;
pub mod dumpstackobjects;
pub mod eeheap;
pub mod eeversion;
pub mod ephrefs;
pub mod ephtoloh;
pub mod finalizequeue;
pub mod gchandles;
pub mod gcheapstat;
pub mod gcroot;
pub mod gcwhere;
pub mod leaks;
pub mod listnearobj;
pub mod ip2md;
pub mod modules;
pub mod name2ee;
pub mod objsize;
pub mod parallelstacks;
pub mod pathto;
pub mod printexception;
pub mod readmemory;
pub mod registers;
pub mod report;
pub mod retained;
pub mod runtimes;
pub mod sizestats;
pub mod sosstatus;
pub mod syncblk;
pub mod taskstate;
pub mod threadpool;
pub mod threadpoolqueue;
pub mod threads;
pub mod threadstate;
pub mod timerinfo;
pub mod token2ee;
pub mod verifyheap;

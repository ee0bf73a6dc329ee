//! The dump layer: a Linux ELF core file and the process address space it describes.
//!
//! A core dump (`ET_CORE`, as written by the kernel, `createdump` or `dotnet-dump collect`)
//! holds `PT_LOAD` segments — memory of the process at dump time — and notes: `NT_FILE`
//! (which files were mapped where), `NT_PRSTATUS` (one per thread: its registers),
//! `NT_AUXV`. Only the first `p_filesz` bytes of a segment are in the file; the rest of
//! `p_memsz` was not captured and reads as *absent*, never as zero.
//!
//! Heap dumps leave out pages of file-backed mappings (parts of `libcoreclr.so`, most of
//! the managed assemblies). [`AddressSpace`] reads such pages from the mapped file itself
//! (the path recorded in `NT_FILE`, or a file of that name found below a `--module-path`
//! folder: [`module_search`]),
//! applying the shared object's relative relocations (`R_X86_64_RELATIVE`,
//! `R_AARCH64_RELATIVE`) so that pointers in its writable data read as they did in the
//! process.
//!
//! x86-64 and arm64 cores are read alike on any host; [`CoreFile::arch`] says which one a
//! dump is, for the layers above that care (registers, unwinding, GC info).
//!
//! Every read is bounds-checked and fails with an error naming the address.
mod address_space;
mod elf_core;
mod module_file;
pub mod module_search;
mod modules;
mod open;
pub mod rewrite;

pub use address_space::{AddressSpace, MappedFile, Recording, PAGE_SIZE};
pub(crate) use address_space::prefetch;
pub use elf_core::{Architecture, CoreFile, ThreadRegisters};
pub use modules::{ImageKind, LoadedImage};
pub use open::{open_dump, Backing, DumpOptions};

use thiserror::Error;

/// What can go wrong reading a dump.
#[derive(Debug, Error)]
pub enum DumpError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    NotACore(String),
    /// The file is shorter than its own headers say.
    #[error("{0}")]
    Truncated(String),
    #[error("{what}: the dump is damaged ({detail})")]
    Damaged { what: &'static str, detail: String },
    #[error("memory at {addr:#x} ({len} bytes) is not in the dump{}", note_suffix(.note))]
    Absent {
        addr: u64,
        len: usize,
        note: Option<String>,
    },
    /// Memory the dump left out, in a mapping of a file that is not on this machine.
    #[error(
        "memory at {addr:#x} ({len} bytes) is not in the dump, and {path}, which it maps, is not on this machine \
         (--module-path DIR searches DIR for it)"
    )]
    ModuleFileMissing { addr: u64, len: usize, path: String },
}

fn note_suffix(note: &Option<String>) -> String {
    match note {
        Some(n) => format!(" ({n})"),
        None => String::new(),
    }
}

pub type Result<T> = std::result::Result<T, DumpError>;

//! The `clrheap` binary: parse the command line, run, print the error chain, exit.

/// Large blocks' pages recycled from one phase's arrays to the next's (see
/// `clrheap::recycle`).
#[global_allocator]
static GLOBAL: clrheap::recycle::Recycler = clrheap::recycle::Recycler;

fn main() {
    std::process::exit(clrheap::cli::main());
}

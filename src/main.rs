//! The `clrheap` binary: parse the command line, run, print the error chain, exit.
fn main() {
    std::process::exit(clrheap::cli::main());
}

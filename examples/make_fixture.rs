//! Makes a self-contained test fixture from a heap dump: runs the given commands with
//! file reads recorded, then writes the dump plus every page that was read from a mapped
//! file (CoreLib's metadata, libcoreclr's data), so the copy reads the same anywhere.
//!
//!     cargo run --release --example make_fixture -- IN.dmp OUT.dmp "dumpheap -stat" ...
use clrheap::commands::Session;
use clrheap::dump::{open_dump, rewrite, DumpOptions};
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, commands @ ..] = args.as_slice() else {
        anyhow::bail!("usage: make_fixture IN.dmp OUT.dmp COMMAND...");
    };
    let mut space = open_dump(input.as_ref(), &DumpOptions::default())?;
    space.record_file_reads();
    let space = Arc::new(space);
    let session = Session::from_space(space.clone())?;
    for c in commands {
        if let Err(e) = session.execute(c, &mut std::io::sink()) {
            eprintln!("{c}: {e:#}");
        }
    }
    let pages = space.file_pages_read();
    let mut out = std::io::BufWriter::new(std::fs::File::create(output)?);
    rewrite::write_with_pages(&space, &pages, &mut out)?;
    eprintln!("{} pages added", pages.len());
    Ok(())
}

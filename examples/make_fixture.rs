//! Makes a small self-contained test fixture from a dump: runs the given commands while
//! recording every page they read, then writes a dump of just those pages and the notes,
//! so the fixture answers those commands exactly as the whole dump did, anywhere.
//!
//!     cargo run --release --example make_fixture -- IN.dmp OUT.dmp "dumpheap -stat" ...
use clrheap::Session;
use clrheap::dump::{open_dump, rewrite, DumpOptions, Recording};
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, commands @ ..] = args.as_slice() else {
        anyhow::bail!("usage: make_fixture IN.dmp OUT.dmp COMMAND...");
    };
    let mut space = open_dump(input.as_ref(), &DumpOptions::default())?;
    space.record_reads(Recording::AllPages);
    let space = Arc::new(space);
    let session = Session::from_space(space.clone())?;
    for c in commands {
        if let Err(e) = session.execute(c, &mut std::io::sink()) {
            eprintln!("{c}: {e:#}");
        }
    }
    let pages = space.pages_read();
    let mut out = std::io::BufWriter::new(std::fs::File::create(output)?);
    rewrite::write_subset(&space, &pages, &mut out)?;
    eprintln!("{} pages ({} MB) kept", pages.len(), (pages.len() * 4096) >> 20);
    Ok(())
}

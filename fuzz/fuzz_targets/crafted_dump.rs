//! A real dump (a committed fixture, `CLRHEAP_FUZZ_FIXTURE` names which; default the .NET 8
//! workstation one) damaged in its structure where the input says
//! (`clrheap::fuzzing::craft_dump`: notes repeated, `NT_FILE` entries naming FIFOs, links to
//! `/proc`, matching and mismatching modules in a sandbox directory, pages punched out,
//! segment and thread lists and handle tables redirected, memory forged), then opened with
//! module files read from the sandbox only, and every command run on it.
#![no_main]
use clrheap::fuzzing::{Fixture, crafted_dump};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let name =
            std::env::var("CLRHEAP_FUZZ_FIXTURE").unwrap_or_else(|_| "zoo-net8-wks-heap".into());
        let path = format!("{}/../fixtures/{name}.dmp.zst", env!("CARGO_MANIFEST_DIR"));
        let compressed = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut decoder = zstd::stream::read::Decoder::new(&compressed[..]).expect("zstd");
        decoder.window_log_max(31).expect("window");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut decoder, &mut bytes).expect("decompress");
        Fixture::new(bytes).expect("the fixture opens")
    })
}

fuzz_target!(|data: &[u8]| {
    crafted_dump(fixture(), data);
});

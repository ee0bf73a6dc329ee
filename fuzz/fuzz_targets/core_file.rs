//! Arbitrary bytes as an ELF core: parse, read the address space, look for a runtime.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    clrheap::fuzzing::core_bytes(data);
});

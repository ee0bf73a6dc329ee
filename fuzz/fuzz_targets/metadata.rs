//! Arbitrary bytes as ECMA-335 metadata, as a PE image and as signatures.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    clrheap::fuzzing::metadata_bytes(data);
});

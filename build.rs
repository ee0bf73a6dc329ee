//! Tells the tests whether the lab is unpacked (`$CLRHEAP_LAB`, default
//! `~/.cache/clrheap-lab`, holding `dumps/`). Without it the lab tests are compiled as
//! ignored (`cfg(no_lab)`), so `cargo test` lists them as `ignored, the lab is not
//! unpacked` instead of passing without checking anything. `CLRHEAP_REQUIRE_LAB=1` is
//! read by the tests, not here (switching it must not rebuild the crate): a test binary
//! built without the lab then fails (`tests/common`).
//!
//! The check runs again when `CLRHEAP_LAB` or `HOME` change, and when the lab's `dumps/`
//! changes or goes away; a lab unpacked after the tests were built is noticed on the
//! next build after `touch build.rs` (or run the ignored tests: `cargo test -- --ignored`).
use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["CLRHEAP_LAB", "HOME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(no_lab)");
    let lab = std::env::var_os("CLRHEAP_LAB")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/clrheap-lab")));
    let dumps = lab.map(|l| l.join("dumps"));
    match dumps {
        Some(d) if d.is_dir() => println!("cargo::rerun-if-changed={}", d.display()),
        _ => println!("cargo::rustc-cfg=no_lab"),
    }
}

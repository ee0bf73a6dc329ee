//! `eeheap -gc` against the real dotnet-dump, on every lab dump that has a truth.
//!
//! For each `$CLRHEAP_LAB/dumps/NAME.dmp` (default lab: `~/.cache/clrheap-lab`; also the
//! directories in `CLRHEAP_EXTRA_DUMPS`) with a `NAME.truth/` directory, runs
//! `clrheap analyze NAME.dmp -c "eeheap -gc"` and compares the whole output, byte for byte,
//! with `NAME.truth/sos/eeheap-gc.txt` (what dotnet-dump printed). Without the lab the
//! test passes with a notice, unless `CLRHEAP_REQUIRE_LAB=1`.
mod common;

/// The first line where two texts differ, for the failure message.
fn first_difference(ours: &str, theirs: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.split('\n').collect(), theirs.split('\n').collect());
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| format!("line {}: ours {:?}, dotnet-dump {:?}", i + 1, a.get(i), b.get(i)))
        .unwrap_or_else(|| "texts differ".into())
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn eeheap_gc_matches_dotnet_dump_on_lab_dumps() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("eeheap_gc_matches_dotnet_dump_on_lab_dumps") {
        checks.run(&name, "eeheap-gc", || {
            let theirs = common::truth_text(&truth.join("sos/eeheap-gc.txt"))?;
            let ours = common::try_command(&dump, "eeheap -gc")?;
            if ours != theirs {
                return Err(first_difference(&ours, &theirs));
            }
            Ok(())
        });
    }
    checks.finish("eeheap_gc_matches_dotnet_dump_on_lab_dumps");
}

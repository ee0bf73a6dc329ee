//! `pathto <source> <target>`: one chain of references from an object to another, as
//! dotnet-dump finds it (ClrMD's `GCRoot.FindPathFrom`, `graph::gcroot::PathFinder`) and
//! prints it (gcroot's chain lines, a dependent handle's link marked; no static-field
//! labels, which dotnet-dump's pathto does not look up).
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::graph::gcroot::PathFinder;
use crate::heap::ObjectAddr;
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// pathto has no options.
pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let word = |i: usize| parsed.positional.get(i).map(String::as_str).unwrap_or("");
    // dotnet-dump names the value it failed to parse, which is then 0.
    let Some(source) = parse_address(word(0)) else {
        bail!("Could not parse argument 'source': 0");
    };
    let Some(target) = parse_address(word(1)) else {
        bail!("Could not parse argument 'target': 0");
    };
    let heap = &session.heap;
    if heap.object(ObjectAddr(source)).is_none() {
        writeln!(out, "Source address {source:x} is not a valid object.")?;
        return Ok(());
    }
    // dotnet-dump means to warn about an invalid target but checks the source again.
    let graph = session.graph()?;
    let roots = session.roots()?;
    session.note_root_caching();
    let mut finder = PathFinder::new(&graph, graph.ref_source(&session.heap), roots.dependents(&graph), target);
    let Some(path) = finder.path_from(source) else {
        writeln!(out, "Could not find a path from {source:x} to {target:x}")?;
        return Ok(());
    };
    let mut previous = 0u64;
    for &address in &path {
        let type_name = heap.object_type_name(address).map(|n| n.to_string()).unwrap_or_default();
        let extra = if roots.dependents(&graph).is_link(previous, address) { "(dependent handle)" } else { "" };
        writeln!(out, "          -> {:<16} {type_name} {extra}", format!("{address:012x}"))?;
        previous = address;
    }
    Ok(())
}

//! `analyzeoom`: each GC heap's record of the last allocation the GC refused (reason,
//! what it failed to reserve or commit, how much), as dotnet-dump prints it; "There was
//! no managed OOM due to allocations on the GC heap" when no heap has one.
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::oom::{MemoryFailure, OomInfo, OomReason};
use crate::render::format::thousands;
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

/// analyzeoom has no options.
pub const OPTIONS: &[OptionSpec] = &[];

fn reason_text(reason: Option<OomReason>) -> String {
    match reason {
        Some(OomReason::Budget | OomReason::CantReserve) => "OOM was due to an internal .Net error, likely a bug in the GC".into(),
        Some(OomReason::CantCommit) => "Didn't have enough memory to commit".into(),
        Some(OomReason::Loh) => "Didn't have enough memory to allocate an LOH segment".into(),
        Some(OomReason::LowMemory) => "Low on memory during GC".into(),
        Some(OomReason::UnproductiveFullGc) => "Could not do a full GC".into(),
        // dotnet-dump prints the enum's name or number.
        Some(OomReason::Other(n)) => n.to_string(),
        None => "None".into(),
    }
}

fn failure_text(failure: MemoryFailure) -> String {
    match failure {
        MemoryFailure::ReserveSegment => "Failed to reserve memory".into(),
        MemoryFailure::CommitSegmentBegin => "Didn't have enough memory to commit beginning of the segment".into(),
        MemoryFailure::CommitEphemeralSegment => "Didn't have enough memory to commit the new ephemeral segment".into(),
        MemoryFailure::GrowTable => "Didn't have enough memory to grow the internal GC data structures".into(),
        MemoryFailure::CommitTable => "Didn't have enough memory to commit the internal GC data structures".into(),
        MemoryFailure::Other(n) => n.to_string(),
    }
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    CommandArgs::parse(args, OPTIONS)?;
    let heap = &session.heap;
    let records: Vec<(usize, OomInfo)> =
        heap.heaps.iter().filter_map(|h| heap.oom_info(h.index).map(|o| (h.index, o))).collect();
    if format != Format::Text {
        let rows: Vec<_> = records
            .iter()
            .map(|(index, o)| {
                json!({
                    "heap": index,
                    "reason": reason_text(o.reason),
                    "memory_failure": o.memory_failure.map(failure_text),
                    "large_object_heap": o.large_object_heap,
                    "alloc_size": o.alloc_size,
                    "size": o.size,
                    "gc_index": o.gc_index,
                    "available_pagefile_mb": o.available_pagefile_mb,
                })
            })
            .collect();
        return write_json(out, &json!({ "ooms": rows }));
    }
    for (_, oom) in &records {
        writeln!(out, "{}", reason_text(oom.reason))?;
        if let Some(failure) = oom.memory_failure {
            let heap_name = if oom.large_object_heap { "LOH" } else { "SOH" };
            writeln!(out, "Details: {heap_name} {} {} bytes", failure_text(failure), thousands(oom.size))?;
            if oom.available_pagefile_mb != 0 {
                writeln!(out, " - on GC entry available commit space was {} MB", thousands(oom.available_pagefile_mb))?;
            }
        }
    }
    if records.is_empty() {
        writeln!(out, "There was no managed OOM due to allocations on the GC heap")?;
    }
    Ok(())
}

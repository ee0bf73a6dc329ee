//! `eeversion`: the runtime's version and GC mode, as SOS prints them.
//!
//! ```text
//! 10.0.1226.42308
//! 10.0.1226.42308 @Commit: 95017c711e6afc1085133d440e42b4bd78155701
//! Workstation mode
//! SOS Version: 10.0.15.501 @Commit: ad724c4b85e7ae775e42f393c6e95a7557a57954
//! ```
//!
//! The first line is the runtime's file version, the second the whole version string the
//! runtime embeds (`@(#)Version ...`), then the GC mode (`Server mode with N gc heaps`, and
//! `DATAS <mode> ` when the GC adapts its heap count), then the version of the SOS whose
//! text clrheap reproduces (dotnet-dump 10.0.750501's).
use crate::render::output::{write_json, Format};
use crate::session::Session;
use crate::runtime::gc_vars::GcLayout;
use anyhow::Result;
use serde_json::json;
use std::io::Write;
use crate::args::OptionSpec;

/// eeversion's options.
pub const OPTIONS: &[OptionSpec] = &[];

/// The SOS clrheap's texts follow (the `SOS Version:` line of dotnet-dump 10.0.750501).
pub const SOS_VERSION: &str = "10.0.15.501 @Commit: ad724c4b85e7ae775e42f393c6e95a7557a57954";

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    // dotnet-dump ignores words after `eeversion`; an option word is refused here, so a
    // mistyped command is not silently taken for another.
    crate::args::CommandArgs::parse(args, OPTIONS)?;
    let rt = &session.heap.runtime;
    let v = &rt.version;
    let heaps = match &rt.gc.layout {
        GcLayout::Workstation { .. } => None,
        GcLayout::Server { n_heaps, .. } => Some(*n_heaps),
    };
    if format != Format::Text {
        return write_json(
            out,
            &json!({
                "file_version": v.file_version,
                "commit": v.commit,
                "server_gc": heaps.is_some(),
                "gc_heaps": heaps.unwrap_or(1),
                "dynamic_adaptation_mode": rt.gc.dynamic_adaptation_mode,
            }),
        );
    }
    writeln!(out, "{}", v.file_version)?;
    if v.commit.is_empty() {
        writeln!(out, "{}", v.file_version)?;
    } else {
        writeln!(out, "{} @Commit: {}", v.file_version, v.commit)?;
    }
    match heaps {
        None => writeln!(out, "Workstation mode")?,
        Some(n) => {
            writeln!(out, "Server mode with {n} gc heaps")?;
            if let Some(mode) = rt.gc.dynamic_adaptation_mode {
                writeln!(out, "DATAS {mode} ")?;
            }
        }
    }
    writeln!(out, "SOS Version: {SOS_VERSION}")?;
    Ok(())
}

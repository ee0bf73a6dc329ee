//! `leaks`: clrheap's own leak report for one dump.
//!
//! The analyses are in [`crate::analysis`]; this command renders them. First one line per
//! cause — its owner in the user's terms, the pattern, what it costs — leaks (what the
//! heap keeps and will keep) before waste (bytes spent for nothing), each biggest first;
//! then each cause's evidence: what it holds by type, its other holders, and how it is
//! rooted (the full chain with `-chain`; always in JSON).
use crate::analysis::{self, Context, Finding};
use crate::args::{CommandArgs, OptionSpec};
use crate::graph::roots::{PathDescriber, PathItem};
use crate::render::format::thousands;
use crate::render::output::{Format, hex, write_json};
use crate::session::Session;
use anyhow::{Result, bail};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::Write;

/// Types listed per cause.
const TYPES_SHOWN: usize = 8;

/// leaks's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("-top", "<n>", "How many causes to report (default 10)."),
    OptionSpec::flag("-chain", "Print each cause's full root chain."),
];

/// A finding with its root chain, ready to render.
#[derive(Serialize, Deserialize)]
pub struct Described {
    pub finding: Finding,
    pub address: Option<u64>,
    pub type_name: Option<String>,
    pub retained: Option<u64>,
    pub root: Option<(String, Vec<PathItem>)>,
}

/// The findings of `session`'s dump, `top` of them, with their root chains.
pub fn describe(session: &Session, top: usize) -> Result<(Context<'_>, Vec<Described>)> {
    let ctx = analysis::timed("leaks: context", || Context::new(session))?;
    let mut findings = analysis::timed("leaks: find_all", || analysis::find_all(&ctx))?;
    findings.truncate(top);
    // Each finding's root chain is a search of its own: on every core.
    let statics_index = || session.statics();
    let described = analysis::timed("leaks: root chains", || findings
        .into_par_iter()
        .map(|f| {
            let describer = PathDescriber {
                heap: &session.heap,
                graph: &ctx.graph,
                roots: &ctx.roots,
                statics: &statics_index,
                reverse: Some(&ctx.reverse),
            };
            let id = f.object;
            Described {
                address: id.map(|i| ctx.graph.address(i)),
                type_name: id.map(|i| ctx.type_name(i).to_string()),
                retained: id.map(|i| ctx.dom.retained_size(i)),
                root: id.and_then(|i| describer.first_root_chain(ctx.graph.address(i))),
                finding: f,
            }
        })
        .collect());
    Ok((ctx, described))
}

/// What `leaks` renders: the live heap's size and the findings described.
#[derive(Serialize, Deserialize)]
pub struct Report {
    pub live_bytes: u64,
    pub live_objects: usize,
    pub described: Vec<Described>,
}

/// The findings of `session`'s dump, `top` of them: from the index when it holds them
/// for the same `top` over the same object table, else computed (and kept in the index).
/// The graph and the roots are read in every case: what they could not read is reported
/// the same way in every session.
pub fn report(session: &Session, top: usize) -> Result<Report> {
    use crate::graph::index::Part;
    analysis::timed("leaks: object table", || session.graph())?;
    analysis::timed("leaks: roots", || session.roots())?;
    // What changes the findings besides the dump: `-top`, and the files read beside it.
    let key = session.index_key(&format!("top={top}"));
    if let Some(bytes) = session.indexed_bytes(Part::Findings, key) {
        match serde_json::from_slice::<Report>(&bytes) {
            Ok(r) => return Ok(r),
            Err(e) => session.reject_indexed(Part::Findings, &anyhow::Error::from(e)),
        }
    }
    let (ctx, described) = describe(session, top)?;
    let report = Report { live_bytes: ctx.live_bytes, live_objects: ctx.dom.reachable(), described };
    drop(ctx);
    if let Ok(bytes) = serde_json::to_vec(&report) {
        session.save_indexed_bytes(Part::Findings, key, &bytes);
    }
    Ok(report)
}

/// One finding as JSON.
pub fn to_json(d: &Described, live_bytes: u64) -> Value {
    let f = &d.finding;
    json!({
        "patterns": f.patterns,
        "owner": f.owner,
        "owner_key": f.owner_key,
        "also_held_by": f.also_held_by,
        "summary": f.summary,
        "bytes": f.bytes,
        "share_per_mille": f.bytes.saturating_mul(1000) / live_bytes.max(1),
        "address": d.address.map(hex),
        "type": d.type_name,
        "retained_size": d.retained,
        "objects_held_directly": f.objects_held_directly,
        "contents": f.contents,
        "details": f.details,
        "root": d.root.as_ref().map(|(kind, path)| json!({
            "kind": kind,
            "path": path.iter().map(|p| json!({
                "address": hex(p.address), "type": p.type_name, "static_field": p.static_field, "thread_static": p.thread_static,
            })).collect::<Vec<_>>(),
        })),
    })
}

/// The one line of a cause: owner, what happens, cost.
pub fn headline(f: &Finding, live_bytes: u64) -> String {
    let verb = if f.is_waste() { "wastes" } else { "keeps" };
    let share = f.bytes as f64 * 100.0 / live_bytes.max(1) as f64;
    let who = match &f.owner {
        Some(o) => format!("{o}: "),
        None => format!("{}: ", f.patterns.first().map_or("", |p| p.label())),
    };
    format!(
        "{who}{}; {verb} {} bytes ({share:.1}%)",
        f.summary,
        thousands(f.bytes)
    )
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("leaks takes no argument: {extra}");
    }
    let top: usize = match a.value("-top") {
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("-top takes a number"))?,
        None => 10,
    };
    let chain = a.flag("-chain");
    let Report { live_bytes, live_objects, described } = report(session, top)?;
    if format != Format::Text {
        let (waste, leaks): (Vec<&Described>, Vec<&Described>) =
            described.iter().partition(|d| d.finding.is_waste());
        return write_json(
            out,
            &json!({
                "live_bytes": live_bytes,
                "live_objects": live_objects,
                "suspects": leaks.iter().map(|d| to_json(d, live_bytes)).collect::<Vec<_>>(),
                "waste": waste.iter().map(|d| to_json(d, live_bytes)).collect::<Vec<_>>(),
            }),
        );
    }
    writeln!(
        out,
        "Live heap: {} bytes in {} objects.",
        thousands(live_bytes),
        thousands(live_objects as u64)
    )?;
    if described.is_empty() {
        writeln!(out, "No leak suspect and no waste found.")?;
        return Ok(());
    }
    let mut section = None;
    for (n, d) in described.iter().enumerate() {
        let waste = d.finding.is_waste();
        if section != Some(waste) {
            writeln!(out)?;
            writeln!(
                out,
                "{}",
                if waste {
                    "Waste:"
                } else {
                    "Leak suspects, biggest first:"
                }
            )?;
            section = Some(waste);
        }
        writeln!(out, "{:>3}. {}", n + 1, headline(&d.finding, live_bytes))?;
    }
    for (n, d) in described.iter().enumerate() {
        let f = &d.finding;
        writeln!(out)?;
        writeln!(
            out,
            "#{} {}",
            n + 1,
            f.owner
                .as_deref()
                .unwrap_or(f.patterns.first().map_or("", |p| p.label()))
        )?;
        writeln!(
            out,
            "   found as: {}",
            f.patterns
                .iter()
                .map(|p| p.label())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        for h in &f.also_held_by {
            writeln!(out, "   also held by {h}")?;
        }
        if let (Some(addr), Some(t)) = (d.address, &d.type_name) {
            match (f.objects_held_directly, d.retained) {
                (Some(held), Some(r)) => {
                    // The rows below are everything it keeps alive, by type; `held` of
                    // those objects hang from it directly (the rest from them).
                    let total: u64 = f.contents.iter().map(|c| c.count).sum();
                    writeln!(
                        out,
                        "   {addr:x} {t} keeps alive {} bytes in {} objects ({} of them held directly), by type:",
                        thousands(r),
                        thousands(total),
                        thousands(held as u64)
                    )?
                }
                _ => writeln!(out, "   {addr:x} {t}")?,
            }
        }
        for c in f.contents.iter().take(TYPES_SHOWN) {
            writeln!(
                out,
                "   {:>12} x {} ({} bytes)",
                thousands(c.count),
                c.type_name,
                thousands(c.size)
            )?;
        }
        if f.contents.len() > TYPES_SHOWN {
            writeln!(
                out,
                "   ({} more types; --format json lists them)",
                f.contents.len() - TYPES_SHOWN
            )?;
        }
        for line in &f.details {
            writeln!(out, "   {line}")?;
        }
        if let Some((kind, path)) = &d.root {
            let field = path
                .iter()
                .find(|p| p.static_field.is_some())
                .and_then(|p| p.static_field.as_deref());
            let from = match field {
                Some(s) => format!("rooted through the static field {s}, from a {kind}"),
                None => format!("rooted from a {kind}"),
            };
            if chain {
                writeln!(out, "   {from}:")?;
                for p in path {
                    writeln!(out, "      -> {:x} {}", p.address, p.type_name)?;
                }
            } else {
                writeln!(out, "   {from} ({} links; -chain prints them)", path.len())?;
            }
        }
    }
    Ok(())
}

//! `clrheap diff OLD NEW`: what grew between two dumps of the same application.
//!
//! Types are matched by name (MethodTable addresses differ from one process to the
//! next): for each type, the object count and total size in each dump and the change,
//! biggest growth first. With `live`, only objects the roots keep alive are counted —
//! garbage waiting for the next collection is not a leak.
use crate::render::format::thousands;
use crate::render::output::{write_csv_records, write_json, Format};
use crate::session::Session;
use anyhow::Result;
use crate::render::columns::write_columns;
use comfy_table::{presets, CellAlignment, Table};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;

/// Per type name: (count, total size).
type TypeTotals = HashMap<String, (u64, u64)>;

/// Counts and sizes per type name of one dump's heap (its live objects with `live`).
pub fn type_totals(session: &Session, live: bool) -> Result<TypeTotals> {
    let heap = &session.heap;
    let liveness = if live { Some(session.liveness()?) } else { None };
    let liveness = liveness.as_deref();
    let free = heap.runtime.globals.free_mt;
    let per_mt: Vec<HashMap<u64, (u64, u64)>> = heap
        .segments
        .par_iter()
        .map(|seg| {
            let mut sizes = crate::heap::SizeCache::default();
            let mut counts: HashMap<u64, (u64, u64)> = HashMap::new();
            let mut cursor = 0usize;
            heap.walk_segment(seg, &mut sizes, |o| {
                if o.mt == free || liveness.is_some_and(|l| !l.is_live_from(o.address, &mut cursor)) {
                    return;
                }
                let e = counts.entry(o.mt).or_default();
                e.0 += 1;
                e.1 += o.size;
            });
            counts
        })
        .collect();
    let mut totals = TypeTotals::new();
    for counts in per_mt {
        for (mt, (count, size)) in counts {
            let e = totals.entry(heap.type_name(mt).to_string()).or_default();
            e.0 += count;
            e.1 += size;
        }
    }
    Ok(totals)
}

/// What says which application and runtime a dump is of: the runtime's version, and the
/// names of the managed assemblies mapped from outside the runtime's own folder (the
/// application's).
pub struct Identity {
    runtime: String,
    app: std::collections::BTreeSet<String>,
}

impl Identity {
    pub fn of(session: &Session) -> Identity {
        let runtime = &session.heap.runtime;
        let folder = |p: &str| p.rsplit_once('/').map(|(dir, _)| dir.to_string()).unwrap_or_default();
        let runtime_dir = runtime.mapped_file_paths().find(|p| p.ends_with("/libcoreclr.so")).map(folder);
        let app = runtime
            .mapped_file_paths()
            .filter(|p| p.ends_with(".dll") && runtime_dir.as_deref() != Some(folder(p).as_str()))
            .filter_map(|p| p.rsplit('/').next().map(str::to_string))
            .collect();
        Identity { runtime: runtime.version.to_string(), app }
    }

    /// Why two dumps look unrelated (different runtimes, no application assembly in
    /// common), or None.
    pub fn unrelated(&self, other: &Identity) -> Option<String> {
        let mut why = Vec::new();
        if !self.app.is_empty() && !other.app.is_empty() && self.app.is_disjoint(&other.app) {
            let names = |a: &std::collections::BTreeSet<String>| a.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            why.push(format!("different applications: {} and {}", names(&self.app), names(&other.app)));
        }
        if self.runtime != other.runtime {
            why.push(format!("different runtimes: .NET {} and .NET {}", self.runtime, other.runtime));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// One type's change.
struct Row {
    name: String,
    before: (u64, u64),
    after: (u64, u64),
}

impl Row {
    fn size_change(&self) -> i64 {
        self.after.1 as i64 - self.before.1 as i64
    }
    fn count_change(&self) -> i64 {
        self.after.0 as i64 - self.before.0 as i64
    }
}

/// Writes the comparison of `before` and `after`: the `top` types whose size changed
/// most (grown first; `top` 0 means all that changed).
pub fn render(before: &TypeTotals, after: &TypeTotals, top: usize, format: Format, out: &mut dyn Write) -> Result<()> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    let mut rows: Vec<Row> = names
        .into_iter()
        .map(|n| Row {
            name: n.clone(),
            before: before.get(n).copied().unwrap_or_default(),
            after: after.get(n).copied().unwrap_or_default(),
        })
        .filter(|r| r.before != r.after)
        .collect();
    rows.sort_by(|a, b| b.size_change().cmp(&a.size_change()).then_with(|| a.name.cmp(&b.name)));
    if top > 0 {
        rows.truncate(top);
    }
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "type": r.name,
                "count_before": r.before.0,
                "count_after": r.after.0,
                "count_change": r.count_change(),
                "size_before": r.before.1,
                "size_after": r.after.1,
                "size_change": r.size_change(),
            })
        })
        .collect();
    let total = |t: &TypeTotals| t.values().fold((0u64, 0u64), |a, v| (a.0 + v.0, a.1 + v.1));
    let (b, a) = (total(before), total(after));
    match format {
        Format::Json => write_json(
            out,
            &json!({
                "types": records,
                "objects_before": b.0, "objects_after": a.0,
                "bytes_before": b.1, "bytes_after": a.1,
            }),
        ),
        Format::Csv => write_csv_records(
            out,
            &["type", "count_before", "count_after", "count_change", "size_before", "size_after", "size_change"],
            &records,
        ),
        Format::Text => {
            let signed = |v: i64| if v > 0 { format!("+{}", thousands(v as u64)) } else if v < 0 { format!("-{}", thousands(v.unsigned_abs())) } else { "0".into() };
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        thousands(r.after.0),
                        signed(r.count_change()),
                        thousands(r.after.1),
                        signed(r.size_change()),
                        r.name.clone(),
                    ]
                })
                .collect();
            write_columns(out, &["Count", "Change", "Size", "Change", "Type"], &cells)?;
            writeln!(
                out,
                "Total: {} objects ({}), {} bytes ({})",
                thousands(a.0),
                signed(a.0 as i64 - b.0 as i64),
                thousands(a.1),
                signed(a.1 as i64 - b.1 as i64)
            )?;
            Ok(())
        }
    }
}

/// `diff A B C...` (three dumps or more): the owners and types that grow at every step,
/// ranked (see [`crate::analysis::growth`]); `top` types (0: all).
pub fn render_growth(
    names: &[String],
    snaps: &[crate::analysis::growth::Snapshot],
    top: usize,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    use crate::analysis::names::short_type_name;
    let (mut types, owners) = crate::analysis::growth::compare(snaps);
    if top > 0 {
        types.truncate(top);
    }
    let steps = |v: &[u64]| v.iter().map(|&x| thousands(x)).collect::<Vec<_>>().join(" -> ");
    match format {
        Format::Json => write_json(
            out,
            &json!({
                "dumps": names,
                "live_bytes": snaps.iter().map(|s| s.live_bytes).collect::<Vec<_>>(),
                "live_objects": snaps.iter().map(|s| s.live_objects).collect::<Vec<_>>(),
                "owners": owners,
                "types": types,
            }),
        ),
        Format::Csv => {
            let records: Vec<Value> = types
                .iter()
                .map(|t| {
                    json!({
                        "type": t.name,
                        "counts": t.counts.iter().map(u64::to_string).collect::<Vec<_>>().join(" "),
                        "count_growth": t.count_growth,
                        "size_growth": t.size_growth,
                        "retained_growth": t.retained_growth,
                        "application": t.application,
                        "inside": t.inside,
                    })
                })
                .collect();
            write_csv_records(out, &["type", "counts", "count_growth", "size_growth", "retained_growth", "application", "inside"], &records)
        }
        Format::Text => {
            writeln!(out, "Live heap: {} bytes", steps(&snaps.iter().map(|s| s.live_bytes).collect::<Vec<_>>()))?;
            writeln!(out)?;
            if owners.is_empty() {
                writeln!(out, "No owner grows at every step.")?;
            } else {
                writeln!(out, "Owners growing at every step (as `leaks` names them), biggest growth first:")?;
                for (i, o) in owners.iter().enumerate() {
                    writeln!(out, "{:>3}. {}: {}", i + 1, o.owner, o.summary)?;
                    writeln!(out, "     bytes: {} (+{})", steps(&o.bytes), thousands(o.growth))?;
                }
            }
            writeln!(out)?;
            if types.is_empty() {
                writeln!(out, "No type grows at every step.")?;
                return Ok(());
            }
            writeln!(out, "Types growing at every step: the application's first (where a fix goes), then those inside them, then the framework's:")?;
            let mut table = Table::new();
            table.load_style(presets::ASCII_MARKDOWN);
            table.set_header(vec!["Count", "Growth", "Bytes", "Keeps alive", "Type"]);
            for t in &types {
                let name = match &t.inside {
                    Some(i) => format!("{} (inside {})", t.name, short_type_name(i)),
                    None => t.name.clone(),
                };
                table.add_row(vec![
                    steps(&t.counts),
                    format!("+{}", thousands(t.count_growth)),
                    format!("+{}", thousands(t.size_growth)),
                    if t.application { format!("+{}", thousands(t.retained_growth)) } else { String::new() },
                    name,
                ]);
            }
            for c in 0..4 {
                if let Some(col) = table.column_mut(c) {
                    col.set_cell_alignment(CellAlignment::Right);
                }
            }
            writeln!(out, "{table}")?;
            Ok(())
        }
    }
}

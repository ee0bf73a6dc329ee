//! `dumpheap`: list objects and per-type statistics.
use super::format::thousands;
use super::Session;
use anyhow::Result;
use std::collections::HashMap;
use std::io::Write;

pub fn run(session: &Session, _args: &[String], out: &mut dyn Write) -> Result<()> {
    let heap = &session.heap;
    let (objects, warnings) = heap.objects();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let mut order: Vec<u64> = Vec::new();
    let mut stats: HashMap<u64, (u64, u64)> = HashMap::new();
    for o in &objects {
        let e = stats.entry(o.mt).or_insert_with(|| {
            order.push(o.mt);
            (0, 0)
        });
        e.0 += 1;
        e.1 += o.size;
    }
    let mut rows: Vec<(u64, u64, u64)> = order.iter().map(|mt| (*mt, stats[mt].0, stats[mt].1)).collect();
    rows.sort_by_key(|r| r.2);
    let count_w = rows.iter().map(|r| thousands(r.1).len()).max().unwrap_or(0).max(5);
    let size_w = rows.iter().map(|r| thousands(r.2).len()).max().unwrap_or(0).max(9);
    writeln!(out, "Statistics:")?;
    writeln!(out, "{:>12} {:>count_w$} {:>size_w$} Class Name", "MT", "Count", "TotalSize")?;
    for (mt, count, size) in &rows {
        writeln!(out, "{:12x} {:>count_w$} {:>size_w$} {}", mt, thousands(*count), thousands(*size), heap.type_name(*mt))?;
    }
    let total: u64 = rows.iter().map(|r| r.2).sum();
    writeln!(out, "Total {} objects, {} bytes", thousands(objects.len() as u64), thousands(total))?;
    Ok(())
}

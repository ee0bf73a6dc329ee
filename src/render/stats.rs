//! Per-type statistics tables: SOS's managed `Statistics:` table (`dumpheap -stat`,
//! `objsize`, `finalizequeue`), the native one (`dumpgen`, `gchandles`), and the same rows
//! as records for JSON and CSV.
use super::format::thousands;
use super::output::{stat_record, write_csv_records};
use anyhow::Result;
use serde_json::Value;
use std::io::Write;

/// One row of a per-type statistics table.
#[derive(Debug, Clone)]
pub struct StatRow {
    pub mt: u64,
    pub count: u64,
    pub size: u64,
    pub name: String,
}

/// Sorts rows as SOS does: stably by total size (or count), so that ties keep their
/// first-seen order.
pub fn sort_rows(rows: &mut [StatRow], by_count: bool) {
    if by_count {
        rows.sort_by_key(|r| r.count as i64);
    } else {
        rows.sort_by_key(|r| r.size as i64);
    }
}

/// Writes SOS's `Statistics:` table: rows in the given (first-seen) order, stably sorted
/// by total size (or count), then the `Total` line. Column widths follow the data.
pub fn render_stats(mut rows: Vec<StatRow>, by_count: bool, out: &mut dyn Write) -> Result<()> {
    sort_rows(&mut rows, by_count);
    let mt_w = rows.iter().map(|r| format!("{:012x}", r.mt).len()).max().unwrap_or(12);
    let count_w = rows.iter().map(|r| thousands(r.count).len()).max().unwrap_or(0).max(5);
    let size_w = rows.iter().map(|r| thousands(r.size).len()).max().unwrap_or(0).max(9);
    writeln!(out, "Statistics:")?;
    writeln!(out, "{:>mt_w$} {:>count_w$} {:>size_w$} Class Name", "MT", "Count", "TotalSize")?;
    for r in &rows {
        writeln!(
            out,
            "{:>mt_w$} {:>count_w$} {:>size_w$} {}",
            format!("{:012x}", r.mt),
            thousands(r.count),
            thousands(r.size),
            r.name
        )?;
    }
    let count: u64 = rows.iter().map(|r| r.count).sum();
    let size: u64 = rows.iter().map(|r| r.size).sum();
    writeln!(out, "Total {} objects, {} bytes", thousands(count), thousands(size))?;
    Ok(())
}

/// Writes SOS's native statistics rows (`dumpgen`, `gchandles`): MT in 16 hex digits,
/// count in 8 and size in 12 columns, plain numbers, in the order given. The caller
/// writes the header and total lines, which differ between the two.
pub fn render_native_rows(rows: &[StatRow], out: &mut dyn Write) -> Result<()> {
    for r in rows {
        writeln!(out, "{:016x} {:>8} {:>12} {}", r.mt, r.count, r.size, r.name)?;
    }
    Ok(())
}

/// The columns of a statistics record (CSV).
pub const STAT_COLUMNS: [&str; 4] = ["mt", "count", "total_size", "type"];

/// The rows as records: `{"mt", "count", "total_size", "type"}`.
pub fn stat_records(rows: &[StatRow]) -> Vec<Value> {
    rows.iter().map(|r| stat_record(r.mt, r.count, r.size, &r.name)).collect()
}

/// The rows as CSV: a header, then one row each.
pub fn write_stat_csv(rows: &[StatRow], out: &mut dyn Write) -> Result<()> {
    write_csv_records(out, &STAT_COLUMNS, &stat_records(rows))
}

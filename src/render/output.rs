//! Machine-readable output: JSON and CSV beside dotnet-dump's text.
//!
//! Conventions, the same for every command:
//! - field names are `snake_case` and stable; integers are raw numbers (no separators);
//!   addresses and MethodTables are `0x`-prefixed lowercase hex strings;
//! - JSON: one document per command, except object listings, which are JSON Lines
//!   (one object per line, then one line with the summary) because they can be huge;
//! - CSV: a header row, then one row per record (RFC 4180 quoting).
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;

/// How a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// dotnet-dump's text, byte for byte.
    #[default]
    Text,
    Json,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format> {
        match text.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => bail!("unknown format '{other}': use text, json or csv"),
        }
    }
}

/// Removes a `-format X`, `--format X` or `--format=X` option from a command's words.
pub fn take_format_option(args: &mut Vec<String>) -> Result<Option<Format>> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if let Some(v) = a.strip_prefix("--format=").or_else(|| a.strip_prefix("-format=")) {
            found = Some(Format::parse(v)?);
            args.remove(i);
        } else if a == "--format" || a == "-format" {
            let Some(v) = args.get(i + 1) else {
                bail!("{a} needs a value: text, json or csv");
            };
            found = Some(Format::parse(v)?);
            args.drain(i..i + 2);
        } else {
            i += 1;
        }
    }
    Ok(found)
}

/// `0x`-prefixed lowercase hex, as every machine-readable address is written.
pub fn hex(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

/// Writes one JSON document on its own line.
pub fn write_json(out: &mut dyn Write, value: &Value) -> Result<()> {
    // As an io::Error, so that a closed pipe is recognised as one.
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Writes one CSV row, quoting fields that need it.
pub fn write_csv_row<S: AsRef<str>>(out: &mut dyn Write, fields: &[S]) -> Result<()> {
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&f.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(f);
        }
    }
    writeln!(out, "{line}")?;
    Ok(())
}

/// A CSV cell for a JSON value: strings as they are, numbers as digits, null empty.
pub fn csv_cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Writes records (JSON objects with the same keys) as CSV with the given columns.
pub fn write_csv_records(out: &mut dyn Write, columns: &[&str], records: &[Value]) -> Result<()> {
    write_csv_row(out, columns)?;
    for r in records {
        let cells: Vec<String> = columns.iter().map(|c| csv_cell(&r[*c])).collect();
        write_csv_row(out, &cells)?;
    }
    Ok(())
}

/// A per-type statistics record.
pub fn stat_record(mt: u64, count: u64, size: u64, name: &str) -> Value {
    json!({ "mt": hex(mt), "count": count, "total_size": size, "type": name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_when_needed() {
        let mut out = Vec::new();
        write_csv_row(&mut out, &["a", "b,c", "say \"hi\""]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,\"b,c\",\"say \"\"hi\"\"\"\n");
    }

    #[test]
    fn format_option_is_taken_out() {
        let mut args: Vec<String> = ["-stat", "--format", "json", "-type", "X"].iter().map(|s| s.to_string()).collect();
        assert_eq!(take_format_option(&mut args).unwrap(), Some(Format::Json));
        assert_eq!(args, ["-stat", "-type", "X"]);
        let mut args = vec!["-format=csv".to_string()];
        assert_eq!(take_format_option(&mut args).unwrap(), Some(Format::Csv));
        assert!(args.is_empty());
        assert!(take_format_option(&mut vec!["--format".into(), "xml".into()]).is_err());
    }
}

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

/// The output of a command run with `--format csv`, checked to be CSV: its first line
/// must be a header row (comma-separated column names). A command that has no CSV form
/// (it prints a JSON report, or only text) is refused with [`NoCsv`] before anything it
/// wrote reaches the output. The first line is held until it is complete; the rest
/// passes through. Call [`CsvOnly::finish`] when the command is done.
pub struct CsvOnly<'a> {
    out: &'a mut dyn Write,
    command: &'static str,
    /// The first line, until it is complete and checked.
    pending: Option<Vec<u8>>,
}

/// A command asked for CSV has none.
#[derive(Debug)]
pub struct NoCsv(pub &'static str);

impl std::fmt::Display for NoCsv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} has no CSV form: use --format json or text", self.0)
    }
}

impl std::error::Error for NoCsv {}

impl<'a> CsvOnly<'a> {
    pub fn new(out: &'a mut dyn Write, command: &'static str) -> CsvOnly<'a> {
        CsvOnly { out, command, pending: Some(Vec::new()) }
    }

    /// Checks and writes what is still held (a first line without its newline).
    pub fn finish(mut self) -> std::io::Result<()> {
        if let Some(held) = self.pending.take()
            && !held.is_empty()
        {
            self.check(&held)?;
            self.out.write_all(&held)?;
        }
        Ok(())
    }

    fn check(&self, line: &[u8]) -> std::io::Result<()> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let header = !line.is_empty()
            && line
                .split(|&b| b == b',')
                .all(|name| !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_'));
        if header { Ok(()) } else { Err(std::io::Error::other(NoCsv(self.command))) }
    }
}

impl Write for CsvOnly<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(held) = &mut self.pending else {
            return self.out.write(buf);
        };
        held.extend_from_slice(buf);
        if let Some(end) = held.iter().position(|&b| b == b'\n') {
            let held = self.pending.take().unwrap_or_default();
            self.check(&held[..end])?;
            self.out.write_all(&held)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
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
    fn csv_only_lets_tables_through_and_refuses_the_rest() {
        let mut out = Vec::new();
        let mut csv = CsvOnly::new(&mut out, "x");
        csv.write_all(b"mt,count,total_").unwrap();
        csv.write_all(b"size,type\n0x1,2,3,A\n").unwrap();
        csv.finish().unwrap();
        assert_eq!(out, b"mt,count,total_size,type\n0x1,2,3,A\n");
        for refused in [&b"{\"suspects\":[]}\n"[..], b"Address  Heap\n", b"   0 timers"] {
            let mut out = Vec::new();
            let mut csv = CsvOnly::new(&mut out, "leaks");
            let written = csv.write_all(refused).and_then(|()| csv.finish());
            let e = written.expect_err("refused");
            assert_eq!(e.to_string(), "leaks has no CSV form: use --format json or text");
            assert!(out.is_empty(), "nothing written");
        }
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

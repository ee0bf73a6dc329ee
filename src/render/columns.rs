//! Tables as dotnet-dump prints them: each column right-aligned to its widest cell,
//! one space apart, and the last one (a type name, often long) unpadded, so that a long
//! name makes only its own row long instead of padding every row to it.
use anyhow::Result;
use std::io::Write;

/// Writes `header` and `rows` (each as long as `header`). Every column but the last is
/// right-aligned to its widest cell; the last is written as it is.
pub fn write_columns(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let last = header.len().saturating_sub(1);
    let widths: Vec<usize> = (0..last)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (c, cell) in cells.enumerate() {
            if c > 0 {
                text.push(' ');
            }
            match widths.get(c) {
                Some(&w) => text.push_str(&format!("{cell:>w$}")),
                None => text.push_str(cell),
            }
        }
        text
    };
    writeln!(out, "{}", line(&mut header.iter().copied()))?;
    for r in rows {
        writeln!(out, "{}", line(&mut r.iter().map(String::as_str)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_pad_nothing() {
        let long = "System.Collections.Concurrent.ConcurrentDictionary<System.String, Some.Very.Long.Type.Name>+Node[]";
        let rows = vec![
            vec!["7f00".to_string(), "1,234".to_string(), long.to_string()],
            vec!["7f0000001".to_string(), "5".to_string(), "System.String".to_string()],
        ];
        let mut out = Vec::new();
        write_columns(&mut out, &["Address", "Size", "Type"], &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!("  Address  Size Type\n     7f00 1,234 {long}\n7f0000001     5 System.String\n")
        );
        // No line ends in blanks; the short row is as short as its own name.
        assert!(text.lines().all(|l| !l.ends_with(' ')));
        assert_eq!(text.lines().nth(2).unwrap().len(), "7f0000001     5 System.String".len());
    }
}

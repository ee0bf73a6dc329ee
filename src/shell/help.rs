//! `help` and `help <command>`, written from the command table.
use crate::commands::names::{self, CommandInfo, COMMANDS};
use anyhow::{bail, Result};
use comfy_table::Table;
use std::io::Write;

/// `help`: the commands clrheap runs, one line each, then the ones still to come.
pub fn list(out: &mut dyn Write) -> Result<()> {
    let label = |c: &CommandInfo| {
        let mut s = c.name.to_string();
        for a in c.aliases {
            s.push_str(", ");
            s.push_str(a);
        }
        s
    };
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    for c in COMMANDS.iter().filter(|c| c.implemented) {
        table.add_row(vec![label(c), c.summary.to_string()]);
    }
    // Names flush left, two spaces before the summaries.
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == 0 { 2 } else { 0 }));
    }
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    let planned: Vec<&str> = COMMANDS.iter().filter(|c| !c.implemented).map(|c| c.name).collect();
    if !planned.is_empty() {
        writeln!(out)?;
        let mut line = String::from("Known dotnet-dump commands not implemented yet:");
        for (i, name) in planned.iter().enumerate() {
            let word = format!(" {name}{}", if i + 1 == planned.len() { "." } else { "," });
            if line.len() + word.len() > 80 {
                writeln!(out, "{line}")?;
                line = String::from(" ");
            }
            line.push_str(&word);
        }
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Names are case-insensitive and may start with '!'. 'help <command>' tells more."
    )?;
    Ok(())
}

/// `help <command>`: usage, options, details and examples.
pub fn command(name: &str, out: &mut dyn Write) -> Result<()> {
    let Some(c) = names::lookup(name) else {
        bail!("no help for '{}': no such command (type 'help' for the list)", names::normalize(name));
    };
    writeln!(out, "{} - {}", c.name, c.summary)?;
    if !c.implemented {
        writeln!(out, "(not implemented in clrheap yet)")?;
    }
    writeln!(out)?;
    writeln!(out, "Usage: {} {}", c.name, c.usage)?;
    if !c.aliases.is_empty() {
        writeln!(out, "Aliases: {}", c.aliases.join(", "))?;
    }
    if !c.options.is_empty() {
        writeln!(out)?;
        writeln!(out, "Options:")?;
        let width = c.options.iter().map(|(o, _)| o.len()).max().unwrap_or(0);
        for (option, text) in c.options {
            writeln!(out, "  {option:<width$}  {text}")?;
        }
    }
    if !c.details.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", c.details)?;
    }
    writeln!(out)?;
    writeln!(out, "Example{}:", if c.examples.len() > 1 { "s" } else { "" })?;
    for e in c.examples {
        writeln!(out, "  > {e}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_texts() {
        let mut out = Vec::new();
        list(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().any(|l| l.starts_with("dumpheap ") && l.contains("managed objects")));
        assert!(text.contains("not implemented yet"));
        let mut out = Vec::new();
        command("!DumpHeap", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("dumpheap - "));
        assert!(text.contains("  -stat"));
        assert!(text.contains("  > dumpheap -stat"));
        assert!(command("nosuch", &mut Vec::new()).is_err());
    }
}

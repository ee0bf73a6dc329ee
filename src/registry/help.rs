//! `help`, `help <command>` and the man page's command section, written from the
//! registry's table.
use super::{lookup, normalize, Command, COMMANDS};
use anyhow::{bail, Result};
use comfy_table::Table;
use std::io::Write;

/// `help`: the commands clrheap runs, one line each, then the ones still to come.
pub fn list(out: &mut dyn Write) -> Result<()> {
    let label = |c: &Command| {
        let mut s = c.name.to_string();
        for a in c.aliases {
            s.push_str(", ");
            s.push_str(a);
        }
        s
    };
    let mut table = Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    for c in COMMANDS.iter().filter(|c| c.implemented()) {
        table.add_row(vec![label(c), c.summary.to_string()]);
    }
    // Names flush left, two spaces before the summaries.
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == 0 { 2 } else { 0 }));
    }
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    let planned: Vec<&str> = COMMANDS.iter().filter(|c| !c.implemented()).map(|c| c.name).collect();
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
    let Some(c) = lookup(name) else {
        bail!("no help for '{}': no such command (type 'help' for the list)", normalize(name));
    };
    writeln!(out, "{} - {}", c.name, c.summary)?;
    if !c.implemented() {
        writeln!(out, "(a dotnet-dump command clrheap does not implement yet)")?;
    }
    writeln!(out)?;
    writeln!(out, "Usage: {} {}", c.name, c.usage)?;
    if !c.aliases.is_empty() {
        writeln!(out, "Aliases: {}", c.aliases.join(", "))?;
    }
    let options: Vec<(String, String)> = c.shown_options().map(|o| (option_label(o), option_help(o))).collect();
    if !options.is_empty() {
        writeln!(out)?;
        writeln!(out, "Options:")?;
        let width = options.iter().map(|(o, _)| o.len()).max().unwrap_or(0);
        for (option, text) in &options {
            writeln!(out, "  {option:<width$}  {text}")?;
        }
    }
    if !c.details.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", c.details)?;
    }
    if !c.examples.is_empty() {
        writeln!(out)?;
        writeln!(out, "Example{}:", if c.examples.len() > 1 { "s" } else { "" })?;
        for e in c.examples {
            writeln!(out, "  > {e}")?;
        }
    }
    Ok(())
}

/// An option's help line, `(not supported by clrheap yet)` for one clrheap refuses.
fn option_help(o: &crate::args::OptionSpec) -> String {
    if o.supported { o.help.to_string() } else { format!("{} (not supported by clrheap yet)", o.help) }
}

/// An option as help shows it: `-stat, -summary`, `-mt <mt>`.
fn option_label(o: &crate::args::OptionSpec) -> String {
    let mut label = o.names().collect::<Vec<_>>().join(", ");
    if let Some(v) = o.value {
        label.push(' ');
        label.push_str(v);
    }
    label
}

/// Escapes text for roff: backslashes, and a leading `.` or `'`.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) { format!("\\&{t}") } else { t }
}

/// The man page's section on `analyze`'s commands (roff): each command clrheap runs with
/// its aliases, usage, summary and options, then the dotnet-dump commands still to come.
pub fn man_section(out: &mut dyn Write) -> Result<()> {
    writeln!(out, ".SH \"ANALYZE COMMANDS\"")?;
    writeln!(out, "Commands of the \\fBanalyze\\fR prompt, \\fB-c\\fR and standard input, as dotnet-dump names them \
                   (case-insensitive, an optional leading \\fB!\\fR).")?;
    for c in COMMANDS.iter().filter(|c| c.implemented()) {
        writeln!(out, ".TP")?;
        let mut names = format!("\\fB{}\\fR", roff(c.name));
        for a in c.aliases {
            names.push_str(&format!(", \\fB{}\\fR", roff(a)));
        }
        if !c.usage.is_empty() {
            names.push(' ');
            names.push_str(&roff(c.usage));
        }
        writeln!(out, "{names}")?;
        writeln!(out, "{}", roff(c.summary))?;
        for o in c.shown_options() {
            writeln!(out, ".br")?;
            writeln!(out, "\\fB{}\\fR: {}", roff(&option_label(o)), roff(&option_help(o)))?;
        }
    }
    let planned: Vec<&str> = COMMANDS.iter().filter(|c| !c.implemented()).map(|c| c.name).collect();
    if !planned.is_empty() {
        writeln!(out, ".PP")?;
        writeln!(out, "dotnet-dump commands clrheap does not implement yet: {}.", roff(&planned.join(", ")))?;
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
        // The list of commands still to come, while there are any (none since gcinfo).
        let planned = COMMANDS.iter().any(|c| !c.implemented());
        assert_eq!(text.contains("not implemented yet"), planned);
        let mut out = Vec::new();
        command("!DumpHeap", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("dumpheap - "));
        assert!(text.contains("  -stat"));
        assert!(text.contains("  > dumpheap -stat"));
        assert!(text.contains("  -format <format>"));
        assert!(command("nosuch", &mut Vec::new()).is_err());
        let mut out = Vec::new();
        command("objsize", &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("  -stat, -summary"));
        let mut out = Vec::new();
        man_section(&mut out).unwrap();
        let roff = String::from_utf8(out).unwrap();
        assert!(roff.contains("\\fBdumpobj\\fR, \\fBdo\\fR"));
        assert!(roff.contains("clrstack"));
    }
}

//! Tab completion for the interactive shell: command names (first word), a command's
//! options (a word starting with `-`), command names after `help`, and type names after
//! `-type`.
//!
//! Type names complete one namespace at a time, as paths do: `System.Coll<Tab>` gives
//! `System.Collections.`, and a name that holds a space (`Dictionary<System.String,
//! System.Int32>`) is inserted in double quotes.
use crate::registry::{self, COMMANDS};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Where type names come from: called once, on the first completion after `-type`.
pub type TypeSource<'a> = Box<dyn Fn() -> Vec<String> + 'a>;

/// The shell's rustyline helper.
pub struct ShellHelper<'a> {
    type_source: TypeSource<'a>,
    types: OnceLock<Vec<String>>,
}

impl<'a> ShellHelper<'a> {
    pub fn new(type_source: TypeSource<'a>) -> Self {
        ShellHelper {
            type_source,
            types: OnceLock::new(),
        }
    }

    fn types(&self) -> &[String] {
        self.types.get_or_init(|| {
            let mut names = (self.type_source)();
            names.sort();
            names.dedup();
            names
        })
    }

    /// Completions for the text before the cursor: (start of the replaced word, candidates).
    pub fn candidates(&self, line: &str) -> (usize, Vec<Pair>) {
        let start = word_start(line);
        let word = &line[start..];
        let before: Vec<&str> = line[..start].split_whitespace().collect();
        let Some(first) = before.first() else {
            return (start, complete_command(word));
        };
        let command = registry::lookup(first);
        let previous = before.last().copied().unwrap_or("");
        if previous.eq_ignore_ascii_case("-type")
            && command.is_some_and(|c| c.options.iter().any(|o| o.name == "-type"))
            && command.is_some_and(|c| c.name != "gchandles")
        {
            return (start, complete_type(word, self.types()));
        }
        if command.is_some_and(|c| c.name == "help") && before.len() == 1 {
            return (start, complete_command(word));
        }
        if word.starts_with('-')
            && let Some(c) = command
        {
            let lower = word.to_ascii_lowercase();
            let options = c
                .shown_options()
                .flat_map(|o| o.names())
                .filter(|o| o.to_ascii_lowercase().starts_with(&lower))
                .map(|o| pair(o, format!("{o} ")))
                .collect();
            return (start, options);
        }
        (start, Vec::new())
    }
}

/// Where the word under the cursor starts: after the last space outside double quotes.
fn word_start(line: &str) -> usize {
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => start = i + c.len_utf8(),
            _ => {}
        }
    }
    start
}

fn pair(display: &str, replacement: String) -> Pair {
    Pair {
        display: display.to_string(),
        replacement,
    }
}

/// Names and aliases of the commands clrheap answers starting with `word`
/// (case-insensitive, `!` kept).
fn complete_command(word: &str) -> Vec<Pair> {
    let bang = if word.starts_with('!') { "!" } else { "" };
    let typed = registry::normalize(word);
    let mut out: Vec<Pair> = COMMANDS
        .iter()
        .filter(|c| c.implemented())
        .flat_map(|c| c.names())
        .filter(|n| n.starts_with(&typed))
        .map(|n| pair(n, format!("{bang}{n} ")))
        .collect();
    out.sort_by(|a, b| a.display.cmp(&b.display));
    out
}

/// Type names starting with `word` (case-sensitive, as `dumpheap -type` matches), one
/// namespace level at a time.
fn complete_type(word: &str, types: &[String]) -> Vec<Pair> {
    let typed = word.trim_start_matches('"');
    let mut seen = BTreeSet::new();
    for name in types.iter().filter(|n| n.starts_with(typed)) {
        seen.insert(next_level(name, typed.len()));
    }
    seen.into_iter()
        .map(|c| {
            let partial = c.ends_with(['.', '<']);
            let replacement = if c.contains(' ') || word.starts_with('"') {
                if partial { format!("\"{c}") } else { format!("\"{c}\" ") }
            } else if partial {
                c.to_string()
            } else {
                format!("{c} ")
            };
            pair(c, replacement)
        })
        .collect()
}

/// `name` completed from `typed` characters to the end of the next level: the next
/// namespace (`System.Collections.`), the generic type before its arguments
/// (`System.Collections.Generic.List<`), or the whole name. Inside generic arguments,
/// the whole name.
fn next_level(name: &str, typed: usize) -> &str {
    if name[..typed].contains('<') {
        return name;
    }
    let rest = &name[typed..];
    let outer = rest.find(['<', '[', '+']).unwrap_or(rest.len());
    if let Some(dot) = rest[..outer].find('.') {
        return &name[..typed + dot + 1];
    }
    if outer > 0 && rest[outer..].starts_with('<') {
        return &name[..typed + outer + 1];
    }
    name
}

impl Completer for ShellHelper<'_> {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(self.candidates(&line[..pos]))
    }
}

impl Hinter for ShellHelper<'_> {
    type Hint = String;
}

impl Highlighter for ShellHelper<'_> {}

impl Validator for ShellHelper<'_> {}

impl Helper for ShellHelper<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ShellHelper<'static> {
        ShellHelper::new(Box::new(|| {
            [
                "System.String",
                "System.Collections.Generic.List<System.String>",
                "System.Collections.Generic.Dictionary<System.String, System.Int32>",
                "System.Collections.Hashtable",
                "DocProc.Zoo.Emitted.Proxy[]",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        }))
    }

    fn replacements(line: &str) -> Vec<String> {
        helper().candidates(line).1.into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn command_names() {
        assert_eq!(replacements("dumphe"), ["dumpheap "]);
        assert_eq!(replacements("!DumpHe"), ["!dumpheap "]);
        assert!(replacements("dump").contains(&"dumpobj ".to_string()));
        assert_eq!(replacements("help dumpge"), ["dumpgen "]);
        assert_eq!(helper().candidates("help dumpge").0, 5);
    }

    #[test]
    fn options() {
        assert_eq!(replacements("dumpheap -sta"), ["-stat "]);
        assert_eq!(replacements("dumpheap -st"), ["-stat ", "-strings "]);
        assert_eq!(replacements("DumpHeap -S"), ["-stat ", "-segment ", "-strings ", "-short "]);
        assert!(replacements("nosuch -s").is_empty());
    }

    #[test]
    fn type_names() {
        assert_eq!(replacements("dumpheap -type System.Coll"), ["System.Collections."]);
        assert_eq!(
            replacements("dumpheap -stat -type System.Collections.Generic."),
            ["System.Collections.Generic.Dictionary<", "System.Collections.Generic.List<"]
        );
        assert_eq!(
            replacements("dumpheap -type System.Collections.Generic.Dictionary<"),
            ["\"System.Collections.Generic.Dictionary<System.String, System.Int32>\" "]
        );
        assert_eq!(replacements("dumpheap -type System.Collections.H"), ["System.Collections.Hashtable "]);
        assert_eq!(replacements("dumpheap -type Doc"), ["DocProc."]);
        assert_eq!(replacements("dumpheap -type System.S"), ["System.String "]);
        assert_eq!(replacements("dumpgen gen0 -type \"System.St"), ["\"System.String\" "]);
    }
}

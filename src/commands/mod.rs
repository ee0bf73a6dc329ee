//! The commands layer: SOS-compatible commands over an opened dump (parse -> query -> render).
//!
//! A [`Session`] owns the opened dump and its heap; [`Session::execute`] takes one command
//! line as dotnet-dump's `analyze` prompt does, and writes its output.
pub mod dumpheap;
pub mod format;

use crate::dump::{open_dump, DumpOptions};
use crate::heap::Heap;
use crate::runtime::Runtime;
use anyhow::{bail, Result};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// An opened dump, ready for commands.
pub struct Session {
    pub heap: Heap,
}

impl Session {
    pub fn open(path: &Path, options: &DumpOptions) -> Result<Session> {
        let space = Arc::new(open_dump(path, options)?);
        let runtime = Runtime::discover(space)?;
        let heap = Heap::open(runtime)?;
        Ok(Session { heap })
    }

    /// Runs one command line, writing its output to `out`.
    pub fn execute(&self, line: &str, out: &mut dyn Write) -> Result<()> {
        let words = split_words(line)?;
        let Some((name, args)) = words.split_first() else {
            return Ok(());
        };
        let name = name.trim_start_matches('!').to_ascii_lowercase();
        match name.as_str() {
            "dumpheap" => dumpheap::run(self, args, out),
            _ => bail!("unknown command '{name}'"),
        }
    }
}

/// Splits a command line into words; double quotes group words.
pub fn split_words(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        bail!("unbalanced quote in '{line}'");
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

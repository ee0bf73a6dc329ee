//! `dumpasync`: async "stacks" — tasks and async methods chained by their continuations
//! ([`Heap::async_frames`]) — as dotnet-dump prints them: each stack from the frame
//! nothing continues to, its continuations indented below it (the last one first), an
//! async method paused at the top of a stack preceded by the awaiter it waits on;
//! `--coalesce` merges the stacks by frame, `--stats` counts frames by type.
//!
//! ```text
//! STACK 1
//! 00007ec43e00aee8 00007f0452cf9438 ( ) System.Threading.Tasks.Task<System.Int32>
//!   00007ec43e067058 00007f0453b75a38 (1) DocProc.Ops.Ops+<ChargeAsync>d__13
//! ```
//!
//! [`Heap::async_frames`]: crate::heap::Heap::async_frames
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::tasks::{
    describe_task_flags, AsyncFrame, AsyncFrames, Awaiting, FieldDisplay, FieldSource,
    TASK_STATE_COMPLETED_MASK,
};
use crate::heap::managed::Primitive;
use crate::heap::Heap;
use crate::render::values::primitive_text;
use crate::render::output::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::io::Write;

/// dotnet-dump 10's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::valued("--address", "<address>", "Only show stacks that include the object with the specified address.")
        .or(&["-addr"]),
    OptionSpec::valued(
        "--methodtable",
        "<mt>",
        "Only show stacks that include objects with the specified method table.",
    )
    .or(&["-mt"]),
    OptionSpec::valued(
        "--type",
        "<name>",
        "Only show stacks that include objects whose type includes the specified name in its name.",
    ),
    OptionSpec::flag("--tasks", "Include stacks that contain only non-state machine task objects.").or(&["-t"]),
    OptionSpec::flag("--completed", "Include completed tasks in stacks.").or(&["-c"]),
    OptionSpec::flag("--fields", "Show state machine fields for every async stack frame that has them.").or(&["-f"]),
    OptionSpec::flag("--stats", "Summarize all async frames found rather than showing detailed stacks."),
    OptionSpec::flag("--coalesce", "Coalesce stacks and portions of stacks that are the same."),
];

/// Indentation per level.
const TAB: usize = 2;
/// Deepest stack rendered (a continuation cycle would otherwise never end).
const MAX_FRAMES_PER_STACK: usize = 1 << 20;
/// Deepest level of coalesced stacks (each level is a recursion).
const MAX_COALESCED_DEPTH: usize = 4096;

/// The options, parsed.
struct Options {
    address: Option<u64>,
    mt: Option<u64>,
    type_name: Option<String>,
    tasks: bool,
    completed: bool,
    fields: bool,
}

impl Options {
    /// Whether an object matches the user's criteria.
    fn include(&self, address: u64, mt: u64, name: Option<&str>) -> bool {
        if self.address.is_some_and(|a| a != address) {
            return false;
        }
        if self.mt.is_some_and(|m| m != mt) {
            return false;
        }
        if let (Some(want), Some(name)) = (&self.type_name, name)
            && !name.contains(want.as_str())
        {
            return false;
        }
        true
    }
}

/// `dumpasync`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let address = |name: &str| -> Result<Option<u64>> {
        match a.value(name) {
            None => Ok(None),
            Some(text) => match parse_address(text) {
                Some(v) => Ok(Some(v)),
                None => bail!("Invalid address: '{text}'"),
            },
        }
    };
    let opts = Options {
        address: address("--address")?,
        mt: address("--methodtable")?,
        type_name: a.value("--type").map(str::to_string),
        tasks: a.flag("--tasks"),
        completed: a.flag("--completed"),
        fields: a.flag("--fields"),
    };
    let heap = &session.heap;
    let (frames, warnings) = heap.async_frames(opts.completed)?;
    for w in warnings {
        session.warnings.warn(w.to_string());
    }
    let Some(frames) = frames else { bail!("Unable to find required type.") };
    let r = Renderer { heap, frames: &frames, opts: &opts };
    if a.flag("--stats") {
        r.stats(out)
    } else if a.flag("--coalesce") {
        r.coalesced(out)
    } else {
        r.stacks(out)
    }
}

struct Renderer<'a> {
    heap: &'a Heap,
    frames: &'a AsyncFrames,
    opts: &'a Options,
}

impl Renderer<'_> {
    fn describe(&self, addr: u64) -> String {
        self.heap.async_description(addr, self.frames.sentinel)
    }

    fn include(&self, f: &AsyncFrame) -> bool {
        self.opts.include(f.address, f.mt, Some(&f.type_name))
    }

    /// Whether the stack from `top` holds a frame the user asked for and (without
    /// `--tasks`) an async method.
    fn should_include_stack(&self, top: &AsyncFrame) -> bool {
        let (mut saw_include, mut saw_state_machine) = (false, self.opts.tasks);
        let mut stack = vec![top];
        let mut visited = 0usize;
        while let Some(f) = stack.pop() {
            visited += 1;
            if visited > MAX_FRAMES_PER_STACK {
                return false;
            }
            saw_include |= self.include(f);
            saw_state_machine |= f.is_state_machine;
            if saw_include && saw_state_machine {
                return true;
            }
            stack.extend(f.continuations.iter().filter_map(|c| self.frames.get(*c)));
        }
        false
    }

    /// `--stats`: one line per frame description, most frequent first.
    fn stats(&self, out: &mut dyn Write) -> Result<()> {
        let mut counts: Vec<(String, u64, usize)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for f in &self.frames.frames {
            if !self.include(f) || (!self.opts.tasks && !f.is_state_machine) {
                continue;
            }
            let d = self.describe(f.address);
            match index.get(&d) {
                Some(&i) => counts[i].2 += 1,
                None => {
                    index.insert(d.clone(), counts.len());
                    counts.push((d, f.mt, 1));
                }
            }
        }
        counts.sort_by(|a, b| b.2.cmp(&a.2));
        writeln!(out, "{:<16} {:<8} Type", "MT", "Count")?;
        for (d, mt, n) in counts {
            writeln!(out, "{mt:016x} {:<8} {d}", crate::render::format::thousands(n as u64))?;
        }
        Ok(())
    }

    /// `--coalesce`: stacks merged where their frames describe alike.
    fn coalesced(&self, out: &mut dyn Write) -> Result<()> {
        let starts: Vec<u64> = self
            .frames
            .frames
            .iter()
            .filter(|f| f.top_level && self.should_include_stack(f))
            .map(|f| f.address)
            .collect();
        if !starts.is_empty() {
            let mut budget = MAX_FRAMES_PER_STACK;
            self.level(out, &starts, 0, &mut budget)?;
        }
        Ok(())
    }

    fn level(&self, out: &mut dyn Write, objects: &[u64], depth: usize, budget: &mut usize) -> Result<()> {
        crate::interrupt::check()?;
        if depth > MAX_COALESCED_DEPTH {
            bail!("the async stacks are more than {MAX_COALESCED_DEPTH} frames deep (a continuation cycle?)");
        }
        let mut groups: Vec<(String, Vec<u64>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for &o in objects {
            let mut key = self.describe(o);
            if let Some(f) = self.frames.get(o)
                && f.is_state_machine
            {
                key = format!("({}) {key}", f.await_state);
            }
            match index.get(&key) {
                Some(&i) => groups[i].1.push(o),
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push((key, vec![o]));
                }
            }
        }
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()));
        for (n, (key, members)) in groups.iter().enumerate() {
            if *budget == 0 {
                bail!("the async stacks do not end (a continuation cycle?)");
            }
            *budget -= 1;
            if depth == 0 {
                writeln!(out, "STACKS {}", n + 1)?;
            }
            let mt = self.heap.object_mt(members[0]).unwrap_or(0);
            writeln!(out, "{}[{}] {mt:016x} {key}", tabs(depth), members.len())?;
            let next: Vec<u64> = members
                .iter()
                .filter_map(|m| self.frames.get(*m))
                .flat_map(|f| f.continuations.iter().copied())
                .collect();
            if !next.is_empty() {
                self.level(out, &next, depth + 1, budget)?;
            }
            if depth == 0 {
                writeln!(out)?;
            }
        }
        Ok(())
    }

    /// The default view: every stack, frame by frame.
    fn stacks(&self, out: &mut dyn Write) -> Result<()> {
        let mut id = 0;
        for top in &self.frames.frames {
            crate::interrupt::check()?;
            if !top.top_level || !self.should_include_stack(top) {
                continue;
            }
            id += 1;
            writeln!(out, "STACK {id}")?;
            let mut depth = 0;
            if top.is_state_machine
                && top.await_state >= 0
                && top.flags & TASK_STATE_COMPLETED_MASK == 0
                && let Some(sm) = &top.state_machine
                && let Some(awaiting) = self.heap.awaited(sm)
            {
                match awaiting {
                    Awaiting::Object { address, mt, type_name } => {
                        writeln!(out, "<< Awaiting: {address:016x} {mt:016x}{type_name} >>")?
                    }
                    Awaiting::Struct { address, mt, type_name } => {
                        writeln!(out, "<< Awaiting: {address:016x} {mt:016x} {type_name} >>")?
                    }
                }
                depth += 1;
            }
            let mut stack: Vec<(&AsyncFrame, usize)> = vec![(top, depth)];
            let mut rendered = 0usize;
            while let Some((f, depth)) = stack.pop() {
                rendered += 1;
                if rendered > MAX_FRAMES_PER_STACK {
                    bail!("the async stack from {:016x} does not end (a continuation cycle?)", top.address);
                }
                let state = if f.is_state_machine {
                    format!("({})", f.await_state)
                } else {
                    format!("({})", describe_task_flags(f.flags))
                };
                writeln!(out, "{}{:016x} {:016x} {state} {}", tabs(depth), f.address, f.mt, self.describe(f.address))?;
                if self.opts.fields {
                    let source = match f.state_machine {
                        Some(sm) => FieldSource::from(sm),
                        None => FieldSource::Object { address: f.address, mt: f.mt },
                    };
                    self.fields(out, source, depth + 4)?;
                }
                for &c in &f.continuations {
                    match self.frames.get(c) {
                        Some(next) => stack.push((next, depth + 1)),
                        None => {
                            let state = self.heap.task_state_flags(c).map(describe_task_flags).unwrap_or_default();
                            let mt = self.heap.object_mt(c).unwrap_or(0);
                            writeln!(out, "{}{c:016x} {mt:016x} ({state}) {}", tabs(depth + 1), self.describe(c))?;
                        }
                    }
                }
            }
            writeln!(out)?;
        }
        Ok(())
    }

    /// The field listing of a state machine or task.
    fn fields(&self, out: &mut dyn Write, source: FieldSource, depth: usize) -> Result<()> {
        let pad = tabs(depth);
        writeln!(out, "{pad}{:>16} {:>16} {:<32} {:>16} Name", "Address", "MT", "Type", "Value")?;
        for row in self.heap.async_field_rows(source) {
            writeln!(
                out,
                "{pad}{:016x} {:016x} {:<32} {:>16} {}",
                row.address,
                row.type_mt,
                truncate(&row.type_name, 32),
                truncate(&display(&row.value), 16),
                row.name
            )?;
        }
        Ok(())
    }
}

/// A field's value as ClrMD's `ToString` shows it.
fn display(v: &FieldDisplay) -> String {
    match v {
        FieldDisplay::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
        FieldDisplay::Char(c) => {
            if (32..127).contains(c) {
                format!("'{}'", char::from(*c as u8))
            } else {
                format!("'\\u{c:04X}'")
            }
        }
        FieldDisplay::Signed(v) => v.to_string(),
        FieldDisplay::Unsigned(v) => v.to_string(),
        FieldDisplay::Single(v) => primitive_text(Primitive::F32(*v)),
        FieldDisplay::Double(v) => primitive_text(Primitive::F64(*v)),
        FieldDisplay::Str(s) => format!("\"{}\"", s.as_deref().unwrap_or("")),
        FieldDisplay::Pointer(p) => format!("{p:016x}"),
        FieldDisplay::Array { component, length } => format!("{component}[{length}]"),
        FieldDisplay::Null => "null".to_string(),
        FieldDisplay::Address(a) => format!("{a:016x}"),
        FieldDisplay::Var => "(var)".to_string(),
        FieldDisplay::GenericInstantiation => "(generic instantiation)".to_string(),
        FieldDisplay::MVar => "(mvar)".to_string(),
        FieldDisplay::Void => "(void)".to_string(),
        FieldDisplay::Unknown => "(unknown)".to_string(),
    }
}

/// `...` and the last `max - 3` characters of a longer text.
fn truncate(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let tail: String = s.chars().skip(n - (max - 3)).collect();
    format!("...{tail}")
}

fn tabs(depth: usize) -> String {
    " ".repeat(depth * TAB)
}

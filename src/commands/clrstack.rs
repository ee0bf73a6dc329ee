//! `clrstack [-a] [-p] [-l] [-f] [-r] [-all] [-n]`: managed stacks as SOS prints them.
//!
//! ```text
//! OS Thread Id: 0x6d7f (17)
//!         Child SP               IP Call Site
//! 00007EFC2F7F9E78 00007f08d67c3f16 [InlinedCallFrame: 00007efc2f7f9e78] 
//! 00007EFC2F7F9E60 00007F085708903E System.Threading.Monitor.Wait(System.Object, Int32)
//! 00007EFC2F7F9F90 00007F0857E9512D DocProc.Ops.Ops.Hold(System.Exception) [/clrheap-lab/scenarios-src/Ops.cs @ 284]
//! ```
//!
//! The frames are the stack walk's (the same walk the stack roots come from): a managed
//! frame prints its SP, its IP (upper case) and its method as the DAC names it, with the
//! source line when its module's portable PDB is found; a runtime Frame prints its
//! address, the IP the walk had there (lower case) and `[FrameClass: address] ` with the
//! method it stands for, if any. `-all` walks every managed thread (a header without the
//! debugger's thread number), otherwise the current thread (`setthread`). `-f` prefixes
//! methods with their module's file name, adds the offset into the method (`+ 94`) and
//! leaves the IP of runtime Frames blank; `-r` prints each frame's registers; `-p`, `-l`
//! and `-a` print parameters, locals or both; `-n` leaves out source lines.
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use crate::runtime::stack::clrstack::{FrameVariables, SourceLines, VarPlace, VarValue};
use crate::runtime::stack::{StackFrame, StackFrameKind, StackWalk};
use crate::runtime::threads::ManagedThread;
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::io::Write;
use crate::args::{option_list, OptionSpec, SosArgs};

/// clrstack's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-a", "Parameters and locals of each frame."),
    OptionSpec::flag("-all", "Every managed thread."),
    OptionSpec::flag("-p", "Parameters of each frame."),
    OptionSpec::flag("-l", "Locals of each frame."),
    OptionSpec::flag("-f", "Module names, offsets into methods; runtime Frames without an IP."),
    OptionSpec::flag("-r", "The registers of each frame."),
    OptionSpec::flag("-n", "No source lines."),
    OptionSpec::valued("-c", "<n>", "At most this many frames."),
    OptionSpec::flag("-i", "ICorDebug's view of the stack.").unsupported(),
    OptionSpec::flag("-gc", "GC references of each frame.").unsupported(),
];

#[derive(Debug, Default)]
struct Options {
    params: bool,
    locals: bool,
    full: bool,
    registers: bool,
    all_threads: bool,
    no_lines: bool,
    /// Stop after this many frames (`-c`), 0: all.
    count: usize,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let p = SosArgs::parse(args, OPTIONS, 2)
            .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
        let all = p.has("-a");
        let count = match p.value("-c") {
            Some(v) => v.parse().map_err(|_| anyhow::anyhow!("Invalid value for option -c: {v}"))?,
            None => 0,
        };
        Ok(Options {
            params: all || p.has("-p"),
            locals: all || p.has("-l"),
            full: p.has("-f"),
            registers: p.has("-r"),
            all_threads: p.has("-all"),
            no_lines: p.has("-n"),
            count,
        })
    }
}

/// One frame as printed.
struct Row {
    sp: u64,
    ip: u64,
    managed: bool,
    text: String,
    source: Option<(String, u32)>,
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let o = Options::parse(args)?;
    let heap = &session.heap;
    let rt = &heap.runtime;
    let walk = StackWalk::new(rt)?;
    let lines = SourceLines::new(rt);
    let os_threads = heap.runtime.os_threads();
    let threads: Vec<(&ManagedThread, Option<usize>)> = if o.all_threads {
        heap.threads.iter().filter(|t| t.os_id != 0).map(|t| (t, None)).collect()
    } else {
        let Some(cur) = session.current_os_thread() else { bail!("No current thread") };
        match heap.threads.iter().find(|t| t.os_id == cur.tid) {
            Some(t) => vec![(t, Some(session.current_thread()))],
            None => {
                if format == Format::Text {
                    writeln!(out, "OS Thread Id: 0x{:x} ({})", cur.tid, session.current_thread())?;
                    writeln!(out, "Unable to walk the managed stack. The current thread is likely not a ")?;
                    writeln!(out, "managed thread. You can run clrthreads to get a list of managed threads in")?;
                    writeln!(out, "the process")?;
                    writeln!(out, "Failed to start stack walk: 80070057")?;
                    return Ok(());
                }
                bail!("thread 0x{:x} is not a managed thread", cur.tid);
            }
        }
    };
    let _ = os_threads;
    let mut records: Vec<Value> = Vec::new();
    for (thread, index) in threads {
        let stack = walk.thread(thread)?;
        for w in &stack.warnings {
            eprintln!("warning: thread {:x}: {w}", thread.os_id);
        }
        if format != Format::Text {
            for (n, r) in rows(&stack.frames, &lines, &o).iter().enumerate() {
                records.push(json!({
                    "os_thread_id": thread.os_id,
                    "index": n,
                    "sp": hex(r.sp),
                    "ip": hex(r.ip),
                    "kind": if r.managed { "managed" } else { "frame" },
                    "name": r.text,
                    "source_file": r.source.as_ref().map(|s| s.0.clone()),
                    "line": r.source.as_ref().map(|s| s.1),
                }));
            }
            continue;
        }
        match index {
            Some(i) => writeln!(out, "OS Thread Id: 0x{:x} ({i})", thread.os_id)?,
            None => writeln!(out, "OS Thread Id: 0x{:x}", thread.os_id)?,
        }
        writeln!(out, "        Child SP               IP Call Site")?;
        let rows = rows(&stack.frames, &lines, &o);
        for (n, (r, f)) in rows.iter().zip(&stack.frames).enumerate() {
            if o.count != 0 && n >= o.count {
                break;
            }
            let ip = if r.managed {
                format!("{:016X}", r.ip)
            } else if o.full {
                " ".repeat(16)
            } else {
                format!("{:016x}", r.ip)
            };
            let mut text = r.text.clone();
            if let Some((file, line)) = &r.source {
                text.push_str(&format!(" [{file} @ {line}]"));
            }
            writeln!(out, "{:016X} {ip} {text}", r.sp)?;
            if r.managed && (o.params || o.locals) {
                write_variables(out, lines.variables(f).unwrap_or_default(), &o)?;
            }
            if o.registers {
                write_registers(out, f)?;
            }
        }
    }
    if format != Format::Text {
        return match format {
            Format::Csv => write_csv_records(out, &["os_thread_id", "index", "sp", "ip", "kind", "name", "source_file", "line"], &records),
            _ => write_json(out, &json!({ "frames": records })),
        };
    }
    Ok(())
}

/// The frames' lines: method names (with `-f`, module-qualified with the offset into the
/// method) and source lines.
fn rows(frames: &[StackFrame], lines: &SourceLines, o: &Options) -> Vec<Row> {
    let mut managed = 0usize;
    let mut internal = 0usize;
    let mut out = Vec::with_capacity(frames.len());
    for f in frames {
        let module = |md: Option<u64>| {
            if !o.full {
                return String::new();
            }
            md.and_then(|md| lines.module_file_name(md)).map(|m| format!("{m}!")).unwrap_or_default()
        };
        match f.kind {
            StackFrameKind::Managed => {
                let adjust = managed > 0 || internal > 0;
                managed += 1;
                let mut text = match &f.name {
                    Some(n) => format!("{}{n}", module(f.method)),
                    None => "<unknown>".to_string(),
                };
                if o.full && f.name.is_some() {
                    // dotnet-dump prints the 64-bit difference as a 32-bit signed number.
                    let disp = f.ip.wrapping_sub(lines.native_code_start(f));
                    if disp != 0 {
                        text.push_str(&format!(" + {}", disp as u32 as i32));
                    }
                }
                let source = if o.no_lines { None } else { lines.line(f, adjust) };
                out.push(Row { sp: f.sp, ip: f.ip, managed: true, text, source });
            }
            StackFrameKind::Explicit => {
                internal += 1;
                let mut text = format!("[{}: {:016x}] ", f.name.as_deref().unwrap_or("Frame"), f.sp);
                if let Some(func) = &f.function {
                    text.push_str(&module(f.method));
                    text.push_str(func);
                }
                out.push(Row { sp: f.sp, ip: f.ip, managed: false, text, source: None });
            }
        }
    }
    out
}

/// SOS's parameters and locals block (`-p`, `-l`, `-a`), then a blank line.
fn write_variables(out: &mut dyn Write, vars: FrameVariables, o: &Options) -> Result<()> {
    let value = |v: &VarValue| match v {
        VarValue::NoData => "<no data>".to_string(),
        VarValue::Value { value, .. } => format!("0x{value:016x}"),
    };
    let place = |v: &VarValue| match v {
        VarValue::Value { place: Some(VarPlace::Register), .. } => Some("<CLR reg>".to_string()),
        VarValue::Value { place: Some(VarPlace::Address(a)), .. } => Some(format!("0x{a:016X}")),
        _ => None,
    };
    if o.params {
        for (i, (name, v)) in vars.params.iter().enumerate() {
            if i == 0 {
                writeln!(out, "    PARAMETERS:")?;
            }
            let mut line = String::from("        ");
            if !name.is_empty() {
                line.push_str(name);
                line.push(' ');
            }
            let at = place(v);
            if let Some(p) = &at {
                line.push_str(&format!("({p}) "));
            }
            if !name.is_empty() || at.is_some() {
                line.push_str("= ");
            }
            line.push_str(&value(v));
            writeln!(out, "{line}")?;
        }
    }
    if o.locals {
        for (i, v) in vars.locals.iter().enumerate() {
            if i == 0 {
                writeln!(out, "    LOCALS:")?;
            }
            let mut line = String::from("        ");
            if let Some(p) = place(v) {
                line.push_str(&p);
                line.push_str(" = ");
            }
            line.push_str(&value(v));
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// SOS's `-r` block: the frame's register context, three registers a line.
fn write_registers(out: &mut dyn Write, f: &StackFrame) -> Result<()> {
    let Some(c) = &f.context else { return Ok(()) };
    let r = |i: usize| c.regs[i];
    if c.arch == crate::dump::Architecture::Arm64 {
        let mut text = String::from("   ");
        for i in 0..29 {
            if i < 10 {
                text.push(' ');
            }
            text.push_str(&format!(" x{i}={:016x}", r(i)));
            if i % 3 == 2 {
                text.push_str("\n   ");
            }
        }
        writeln!(out, "{text}  fp={:016x}", r(29))?;
        writeln!(out, "     lr={:016x}  sp={:016x}  pc={:016x}", r(30), c.sp(), c.ip)?;
        writeln!(out, "           cpsr={:08x}        fpcr={:08x}        fpsr={:08x}", 0, 0, 0)?;
        return Ok(());
    }
    let rows: [&[(&str, u64)]; 6] = [
        &[("rsp", c.sp()), ("rbp", r(5)), ("rip", c.ip)],
        &[("rax", r(0)), ("rbx", r(3)), ("rcx", r(1))],
        &[("rdx", r(2)), ("rsi", r(6)), ("rdi", r(7))],
        &[("r8", r(8)), ("r9", r(9)), ("r10", r(10))],
        &[("r11", r(11)), ("r12", r(12)), ("r13", r(13))],
        &[("r14", r(14)), ("r15", r(15))],
    ];
    for row in rows {
        let mut line = String::from("   ");
        for (name, v) in row {
            line.push_str(&format!(" {name:>3}={v:016x}"));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

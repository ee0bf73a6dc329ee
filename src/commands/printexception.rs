//! `printexception` (`pe`) `[-nested] [-lines] [<address>]`: an exception as SOS prints it.
//!
//! ```text
//! Exception object: 00007efc7d0757c0
//! Exception type:   System.InvalidOperationException
//! Message:          inventory is negative
//! InnerException:   <none>
//! StackTrace (generated):
//!     SP               IP               Function
//!     00007EFC2F7FDB70 00007F0857E75B8F scenarios.dll!DocProc.Ops.Ops.Fail(Int32)+0x5f
//!
//! StackTraceString: <none>
//! HResult: 80131509
//! ```
//!
//! Without an address, the current thread's last thrown exception. The stack trace is the
//! one the runtime recorded while the exception propagated: each frame's SP, IP (as
//! recorded: one byte into the call for a managed throw), module and method, and the
//! offset into the method; `-lines` adds source lines. With `-nested`, the exceptions the
//! current thread's handling is nested in follow (`Nested exception ----...`).
use crate::render::output::{hex, write_json, Format};
use crate::session::Session;
use crate::runtime::exceptions::{is_exception_type, read_exception, ExceptionObject};
use crate::runtime::stack::clrstack::SourceLines;
use crate::runtime::threads::{nested_exceptions, thread_details};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;
use crate::args::{option_list, OptionSpec, SosArgs};

/// printexception's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-nested", "Also the exceptions the current thread's handling is nested in."),
    OptionSpec::flag("-lines", "Source lines of the stack trace.").or(&["-l"]),
];

#[derive(Default)]
struct Options {
    nested: bool,
    lines: bool,
    address: Option<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    Ok(Options { nested: p.has("-nested"), lines: p.has("-lines"), address: p.args.first().cloned() })
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let o = parse(args)?;
    let heap = &session.heap;
    let rt = &heap.runtime;
    let lines = SourceLines::new(rt);
    let current = session.current_os_thread().and_then(|t| heap.threads.iter().find(|m| m.os_id == t.tid));
    let mut text = String::new();
    let mut records: Vec<Value> = Vec::new();
    let address = match &o.address {
        Some(a) => {
            let v = u64::from_str_radix(a.trim_start_matches("0x").trim_start_matches("0X"), 16).unwrap_or(0);
            if v == 0 {
                anyhow::bail!("Invalid exception object {}", args.join(" "));
            }
            v
        }
        None => match current {
            None => {
                text.push_str("The current thread is unmanaged\n");
                0
            }
            Some(t) => {
                let d = thread_details(rt, t)?;
                if d.last_thrown == 0 {
                    text.push_str("There is no current managed exception on this thread\n");
                }
                d.last_thrown
            }
        },
    };
    if address != 0 {
        format_exception(session, &lines, address, o.lines, &mut text, &mut records);
    }
    if o.address.is_some() || current.is_some() {
        match current {
            None => text.push_str("The current thread is unmanaged\n"),
            Some(t) => {
                let nested = nested_exceptions(rt, t);
                if !nested.is_empty() {
                    if !o.nested {
                        text.push_str("There are nested exceptions on this thread. Run with -nested for details\n");
                    } else {
                        for obj in nested {
                            text.push_str("\nNested exception -------------------------------------------------------------\n");
                            format_exception(session, &lines, obj, o.lines, &mut text, &mut records);
                        }
                    }
                }
            }
        }
    }
    if format != Format::Text {
        return write_json(out, &json!({ "exceptions": records }));
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// SOS's `FormatException`.
fn format_exception(session: &Session, lines: &SourceLines, addr: u64, with_lines: bool, text: &mut String, records: &mut Vec<Value>) {
    let heap = &session.heap;
    let rt = &heap.runtime;
    let Some(mt) = heap.object_mt(addr).ok().filter(|&mt| heap.method_table(mt).is_ok()) else {
        text.push_str(&format!("Invalid exception object: {addr:016x}\n"));
        return;
    };
    if !is_exception_type(rt, mt) {
        text.push_str("Not a valid exception object\n");
        return;
    }
    let e = match read_exception(rt, addr) {
        Ok(e) => e,
        Err(err) => {
            text.push_str(&format!("Invalid exception object: {addr:016x}\n"));
            eprintln!("warning: {err:#}");
            return;
        }
    };
    let type_name = heap.try_type_name(mt).map(|n| n.to_string());
    text.push_str(&format!("Exception object: {addr:016x}\n"));
    text.push_str(&format!("Exception type:   {}\n", type_name.as_deref().unwrap_or("<Unknown>")));
    let message = string_of(session, e.message);
    text.push_str(&format!("Message:          {}\n", message.as_deref().unwrap_or("<none>")));
    text.push_str("InnerException:   ");
    if e.inner_exception != 0 {
        match heap.object_mt(e.inner_exception).ok() {
            Some(imt) => text.push_str(&format!(
                "{}, Use printexception {:016X} to see more.\n",
                heap.type_name(imt),
                e.inner_exception
            )),
            None => text.push_str("<invalid MethodTable of inner exception>"),
        }
    } else {
        text.push_str("<none>\n");
    }
    text.push_str("StackTrace (generated):\n");
    let frames = stack_trace_lines(session, lines, &e, with_lines);
    match &e.stack_trace {
        Some(t) if !t.is_empty() => {
            text.push_str("    SP               IP               Function\n");
            for l in &frames {
                text.push_str(l);
                text.push('\n');
            }
            text.push('\n');
        }
        Some(_) => text.push_str("<Not Available>\n"),
        None => text.push_str("<none>\n"),
    }
    let trace_string = string_of(session, e.stack_trace_string);
    text.push_str("StackTraceString: ");
    match &trace_string {
        Some(s) => {
            text.push_str(s);
            text.push_str("\n\n");
        }
        None => text.push_str("<none>\n"),
    }
    text.push_str(&format!("HResult: {:x}\n", e.hresult));
    records.push(json!({
        "address": hex(addr),
        "type": type_name,
        "message": message,
        "inner_exception": (e.inner_exception != 0).then(|| hex(e.inner_exception)),
        "stack_trace": frames.iter().map(|l| l.trim()).collect::<Vec<_>>(),
        "stack_trace_string": trace_string,
        "hresult": e.hresult,
    }));
}

/// The lines of the recorded stack trace, as SOS's `FormatGeneratedException` writes them.
fn stack_trace_lines(session: &Session, lines: &SourceLines, e: &ExceptionObject, with_lines: bool) -> Vec<String> {
    let asynchronous = e.is_async();
    let mut out = Vec::new();
    for (i, el) in e.stack_trace.iter().flatten().enumerate() {
        // A hardware exception's IPs were not moved back into the call: SOS adds 1.
        let ip = if asynchronous { el.ip.wrapping_add(1) } else { el.ip };
        if !session.heap.method_desc_readable(el.method_desc) {
            continue;
        }
        let mut line = format!("    {:016X} {ip:016X} ", el.sp);
        match lines.module_file_name(el.method_desc) {
            Some(m) => line.push_str(&m),
            None => line.push_str("UNKNOWN"),
        }
        line.push('!');
        line.push_str(&lines.method_name(el.method_desc).unwrap_or_else(|| "UNKNOWN".into()));
        let disp = ip.wrapping_sub(lines.native_code_start_of(el.method_desc, ip));
        if disp != 0 {
            line.push_str(&format!("+{disp:#x}"));
        }
        if with_lines && let Some((file, n)) = lines.line_of_ip(el.method_desc, ip, !asynchronous || i > 0) {
            line.push_str(&format!(" [{file} @ {n}]"));
        }
        out.push(line);
    }
    out
}

/// The text of a string object (SOS's `StringObjectContent`), `None` for a null reference.
fn string_of(session: &Session, addr: u64) -> Option<String> {
    if addr == 0 {
        return None;
    }
    Some(session.heap.string_value(addr, 1 << 20).unwrap_or_default())
}

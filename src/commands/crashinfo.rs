//! `crashinfo`: the crash details a runtime recorded for the dump it had written.
//!
//! Only a NativeAOT process records them (a JSON text its fail fast leaves behind, found
//! through createdump's block; see `runtime::images::crash_info`). A CoreCLR process that
//! crashes — an unhandled exception, `Environment.FailFast` — has createdump write the dump
//! but records nothing in it, so on every dump of the lab, crashed or not, the answer is
//! dotnet-dump's error, `No crash info to display`.
//!
//! ```text
//! CrashReason:        EnvironmentFailFast
//! ThreadId:           1A2B
//! HResult:            80131623
//! ...
//! ** Current Exception **
//! ```
use crate::args::{CommandArgs, OptionSpec};
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::Value;
use std::io::Write;

/// crashinfo's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::valued(
    "-e",
    "<scheme>",
    "How to search modules for NativeAOT crash info: None (default), EntryPointModule, EntryPointAndEntryPointDllModule, All.",
)
.or(&["--moduleEnumerationScheme"])];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = CommandArgs::parse(args, OPTIONS)?;
    if let Some(a) = p.positional.first() {
        bail!("Unrecognized command or argument '{a}'");
    }
    if let Some(scheme) = p.value("-e")
        && !["none", "entrypointmodule", "entrypointanddllmodule", "entrypointandentrypointdllmodule", "all"]
            .contains(&scheme.to_ascii_lowercase().as_str())
    {
        bail!("Invalid module enumeration scheme '{scheme}'");
    }
    // The module search (-e) looks for NativeAOT's DotNetRuntimeDebugHeader export, which
    // a CoreCLR process has in no module: it finds nothing more than the record does.
    let Some(info) = session.heap.runtime.crash_info() else {
        bail!("No crash info to display");
    };
    if format != Format::Text {
        return write_json(out, &info.json);
    }
    let j = &info.json;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let hex = |v: &Value, k: &str| {
        v.get(k).and_then(Value::as_str).and_then(|s| s.strip_prefix("0x")).and_then(|s| u64::from_str_radix(s, 16).ok()).unwrap_or(0)
    };
    let reason = match j.get("reason").and_then(Value::as_i64).unwrap_or(0) {
        1 => "UnhandledException".to_string(),
        2 => "EnvironmentFailFast".to_string(),
        3 => "InternalFailFast".to_string(),
        0 => "Unknown".to_string(),
        n => n.to_string(),
    };
    let runtime_type = match j.get("runtime_type").and_then(Value::as_i64).unwrap_or(0) {
        0 => "Unknown".to_string(),
        1 => "Desktop".to_string(),
        2 => "NetCore".to_string(),
        3 => "SingleFile".to_string(),
        4 => "NativeAOT".to_string(),
        5 => "Other".to_string(),
        n => n.to_string(),
    };
    let thread = hex(j, "thread");
    writeln!(out, "CrashReason:        {reason}")?;
    writeln!(out, "ThreadId:           {thread:04X}")?;
    writeln!(out, "HResult:            {:04X}", info.hresult)?;
    writeln!(out, "RuntimeType:        {runtime_type}")?;
    writeln!(out, "RuntimeBaseAddress: {:016X}", hex(j, "runtime_base"))?;
    writeln!(out, "RuntimeVersion:     {}", text(j, "runtime_version"))?;
    writeln!(out, "Message:            {}", text(j, "message"))?;
    let exception = j.get("exception").filter(|e| e.is_object());
    let images = session.heap.runtime.loaded_images();
    let print = |out: &mut dyn Write, e: &Value, indent: &str| -> Result<()> { print_exception(out, e, indent, &images, 0) };
    writeln!(out)?;
    writeln!(out, "** Current Exception **")?;
    writeln!(out)?;
    if let Some(e) = exception {
        writeln!(out, "-----------------------------------------------")?;
        print(out, e, "")?;
    }
    writeln!(out)?;
    writeln!(out, "** Thread {thread} Exception **")?;
    writeln!(out)?;
    if let Some(e) = exception {
        writeln!(out, "-----------------------------------------------")?;
        print(out, e, "")?;
    }
    writeln!(out)?;
    writeln!(out, "** Nested Exceptions **")?;
    writeln!(out)?;
    let mut nested = Vec::new();
    if let Some(e) = exception {
        flatten(e, &mut nested, 0);
    }
    for e in nested {
        writeln!(out, "-----------------------------------------------")?;
        print(out, e, "")?;
    }
    Ok(())
}

/// Most levels of inner exceptions followed (the JSON is the dump's: it may nest without end).
const MAX_DEPTH: usize = 64;

fn inner(e: &Value) -> impl Iterator<Item = &Value> {
    e.get("inner").and_then(Value::as_array).into_iter().flatten().filter(|i| i.is_object())
}

fn flatten<'a>(e: &'a Value, into: &mut Vec<&'a Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    into.push(e);
    for i in inner(e) {
        flatten(i, into, depth + 1);
    }
}

fn print_exception(out: &mut dyn Write, e: &Value, indent: &str, images: &[crate::dump::LoadedImage], depth: usize) -> Result<()> {
    let hex = |v: &Value, k: &str| {
        v.get(k).and_then(Value::as_str).and_then(|s| s.strip_prefix("0x")).and_then(|s| u64::from_str_radix(s, 16).ok()).unwrap_or(0)
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    writeln!(out, "{indent}Exception object:   {:016X}", hex(e, "address"))?;
    writeln!(out, "{indent}Exception type:     {}", text(e, "type"))?;
    writeln!(out, "{indent}HResult:            {:08X}", hex(e, "hr"))?;
    writeln!(out, "{indent}Message:            {}", text(e, "message"))?;
    let frames: Vec<&Value> = e.get("stack").and_then(Value::as_array).into_iter().flatten().collect();
    if !frames.is_empty() {
        writeln!(out, "{indent}StackTrace:")?;
        writeln!(out, "{indent}    IP               Function")?;
        for f in frames {
            let module = hex(f, "module");
            let name = images
                .iter()
                .find(|i| module != 0 && i.base == module)
                .map(|i| {
                    let file = i.path.rsplit('/').next().unwrap_or(&i.path);
                    file.rsplit_once('.').map_or(file, |(stem, _)| stem).to_string()
                })
                .unwrap_or_else(|| "<unknown_module>".to_string());
            let method = f.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).unwrap_or("<unknown>");
            writeln!(out, "{indent}    {:016X} {name}!{method} + 0x{:X}", hex(f, "ip"), hex(f, "offset"))?;
        }
    }
    if depth < MAX_DEPTH && inner(e).next().is_some() {
        writeln!(out, "{indent}InnerExceptions:")?;
        let deeper = format!("{indent}    ");
        for i in inner(e) {
            writeln!(out, "{indent}-----------------------------------------------")?;
            print_exception(out, i, &deeper, images, depth + 1)?;
        }
    }
    Ok(())
}

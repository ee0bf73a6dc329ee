//! `dumpmt [-md] <mt>`: a MethodTable as dotnet-dump (SOS's native `DumpMT`) prints it.
//!
//! ```text
//! Parent:              00007f0856e347b0
//! Module:              00007F0857F21A30
//! Name:                DocProc.Ops.Order
//! mdToken:             0000000002000027
//! File:                /root/.cache/clrheap-lab/scenarios/net10.0/scenarios.dll
//! AssemblyLoadContext: Default ALC - The managed instance of this context doesn't exist yet.
//! BaseSize:            0x38
//! Has GC Pointers:     true
//! Number of Methods:   5
//! Number of IFaces in IFaceMap: 0
//! --------------------------------------
//! MethodDesc Table
//!            Entry       MethodDesc    JIT Slot             Name
//! 00007F0857E20000 00007F0856E34710   NONE 0000000000000000 System.Object.Finalize()
//! ```
//!
//! `AssemblyLoadContext:` is the managed context of the binder that loaded the type's
//! module (`dumpalc`), and a collectible type has a `LoaderAllocator:` line before it.
//!
//! With `-all`, the method list and then, after `Additional Details`, the class's
//! details as `dumpclass` prints them.
//!
//! On 8 an `EEClass:` line follows `Parent:`; on 9 and 10 a generic instantiation has a
//! `Canonical:` line instead (its canonical MethodTable). "Number of Methods" counts the
//! rows of the method list: the vtable slots, then the type's methods that keep their
//! own slot. JIT is `JIT` for code from the JIT, `PreJIT` for ReadyToRun code, `NONE`
//! when the method has no code yet. Unlike dotnet-dump, types emitted at run time are
//! named (from the module's in-memory metadata).
use crate::args::{option_list, parse_address, OptionSpec, SosArgs};
use crate::heap::field_table::field_table;
use crate::heap::methods::JitKind;
use crate::render::sos::{class_details, Sos};
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use anyhow::{bail, Result};
use serde_json::json;
use std::io::Write;

pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-md", "Also list the MethodTable's methods (entry point, MethodDesc, JIT state, slot, name)."),
    OptionSpec::flag("-all", "Also the method list and the class details (as dumpclass prints them)."),
];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let all = parsed.has("-all");
    let list_methods = parsed.has("-md") || all;
    let Some(text) = parsed.args.first() else {
        writeln!(out, "Missing MethodTable address")?;
        return Ok(());
    };
    let Some(original) = parse_address(text) else { bail!("invalid MethodTable address: {text}") };
    let mt = original & !3;
    let heap = &session.heap;
    if !heap.is_method_table(mt) {
        writeln!(out, "{original:016X} is not a MethodTable\n")?;
        return Ok(());
    }
    if mt == heap.runtime.globals.free_mt {
        writeln!(out, "Free MethodTable")?;
        return Ok(());
    }
    let info = heap.method_table(mt)?;
    // The DAC's name, as SOS prints it (`List`1[[System.String, System.Private.CoreLib]]`).
    let name: std::sync::Arc<str> = heap.dac_type_name(mt).map(Into::into).unwrap_or_else(|_| heap.type_name(mt));
    let file = heap.module_path(info.module).filter(|p| !p.is_empty()).unwrap_or_else(|| "Unknown Module".into());
    let interfaces = heap.interface_count(mt)?;
    let rows = heap.method_rows(mt)?;
    let canonical = heap.canonical_mt(mt)?;
    if format != Format::Text {
        let methods: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({"entry": hex(r.entry), "methodDesc": hex(r.method_desc), "jit": jit_text(r.jit),
                       "slot": r.slot, "name": r.name})
            })
            .collect();
        let record = json!({
            "methodTable": hex(mt), "parent": hex(info.parent), "eeClass": hex(info.ee_class),
            "canonical": hex(canonical), "module": hex(info.module), "name": &*name,
            "token": hex(info.token as u64), "file": file, "baseSize": info.base_size,
            "componentSize": info.component_size, "containsPointers": info.contains_pointers(),
            "methods": rows.len(), "interfaces": interfaces,
        });
        return match format {
            Format::Json => {
                let mut record = record;
                if list_methods {
                    record["methodList"] = json!(methods);
                }
                write_json(out, &record)
            }
            _ if list_methods => write_csv_records(out, &["entry", "methodDesc", "jit", "slot", "name"], &methods),
            _ => write_csv_records(
                out,
                &["methodTable", "parent", "eeClass", "canonical", "module", "name", "token", "file", "baseSize",
                  "componentSize", "containsPointers", "methods", "interfaces"],
                &[record],
            ),
        };
    }
    let row = |out: &mut dyn Write, label: &str, value: &str| writeln!(out, "{label:<20} {value}");
    row(out, "Parent:", &format!("{:016x}", info.parent))?;
    if heap.runtime.version.major < 9 {
        row(out, "EEClass:", &format!("{:016X}", info.ee_class))?;
    } else if canonical != mt {
        row(out, "Canonical:", &format!("{canonical:016x}"))?;
    }
    row(out, "Module:", &format!("{:016X}", info.module))?;
    row(out, "Name:", &name)?;
    row(out, "mdToken:", &format!("{:016X}", info.token))?;
    row(out, "File:", &file)?;
    // A collectible type's managed LoaderAllocator, then the managed context its module's
    // binder has (the default context's text while it has none).
    if let Ok(Some(allocator)) = heap.loader_allocator_object(mt) {
        row(out, "LoaderAllocator:", &format!("{allocator:016X}"))?;
    }
    match crate::runtime::domains::assembly_load_context(&heap.runtime, info.module) {
        Ok(alc) if alc != 0 => row(out, "AssemblyLoadContext:", &format!("{alc:016X}"))?,
        _ => row(out, "AssemblyLoadContext:", "Default ALC - The managed instance of this context doesn't exist yet.")?,
    }
    // The DAC reports a string's base size without its terminator (0x14 where the
    // MethodTable holds 0x16).
    let base_size = if mt == heap.runtime.globals.string_mt { info.base_size.saturating_sub(2) } else { info.base_size };
    row(out, "BaseSize:", &format!("{base_size:#x}"))?;
    if info.component_size != 0 {
        row(out, "ComponentSize:", &format!("{:#x}", info.component_size))?;
    }
    row(out, "Has GC Pointers:", if info.contains_pointers() { "true" } else { "false" })?;
    row(out, "Number of Methods:", &rows.len().to_string())?;
    writeln!(out, "Number of IFaces in IFaceMap: {interfaces}")?;
    if list_methods {
        writeln!(out, "--------------------------------------")?;
        writeln!(out, "MethodDesc Table")?;
        writeln!(out, "{:>16} {:>16} {:>6} {:<16} Name", "Entry", "MethodDesc", "JIT", "Slot")?;
        for r in &rows {
            crate::interrupt::check()?;
            writeln!(
                out,
                "{:016X} {:016X} {:>6} {:016X} {}",
                r.entry,
                r.method_desc,
                jit_text(r.jit),
                r.slot,
                r.name.as_deref().unwrap_or("<unknown method>")
            )?;
        }
    }
    if all {
        writeln!(out, "--------------------------------------")?;
        writeln!(out, "Additional Details")?;
        let details = heap.class_details(mt)?;
        let has_fields = Ok(details.instance_fields + details.static_fields > 0);
        let fields = field_table(heap, heap.type_fields(mt), None, false, has_fields);
        class_details(&mut Sos::new(out), &details, &fields, heap.runtime.version.major)?;
    }
    Ok(())
}

fn jit_text(kind: JitKind) -> &'static str {
    match kind {
        JitKind::None => "NONE",
        JitKind::Jit => "JIT",
        JitKind::PreJit => "PreJIT",
    }
}

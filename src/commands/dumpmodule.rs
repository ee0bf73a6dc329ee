//! `dumpmodule [-mt] <module>`: a module as dotnet-dump (SOS's native `DumpModule`)
//! prints it.
//!
//! ```text
//! Name: /root/.cache/clrheap-lab/scenarios/net10.0/scenarios.dll
//! Attributes:              PEFile IsFileLayout
//! Assembly:                000055b83e2ed950
//! BaseAddress:             00007F08D66E3000
//! LoaderHeap:              00007F08D64CCE10
//! TypeDefToMethodTableMap: 00007F0857EF78B8
//! ...
//! MetaData start address:  00007F08D66E6354 (25476 bytes)
//! ```
//!
//! The attributes: `PEFile` for a module loaded from an image, `Reflection IsDynamic
//! IsInMemory` for one emitted at run time, `IsFileLayout` when the image is a flat copy
//! of the file (an application's own assembly) rather than mapped by sections (the
//! framework's). `LoaderHeap` is the module's loader allocator; the maps are the tables of
//! the module's lookup maps (`FileReferencesMap` is always 0: the DAC never fills it).
//! With `-mt`, the types the module defines that are loaded (TypeDef map order) and the
//! types its TypeRefs resolved to, each with its token; like dotnet-dump, the TypeRef rows
//! show their row number as a TypeDef token (`0x02000001`). Unlike dotnet-dump, which
//! calls them `<Unloaded Type>`, the types of a dynamic module are named.
use crate::args::{option_list, OptionSpec, SosArgs};
use crate::args::parse_address;
use crate::render::output::{hex, write_json, Format};
use crate::render::sos::Sos;
use crate::runtime::domains::{find_module, Module};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-mt", "Also list the types the module defines and the types it references, loaded ones."),
    OptionSpec::flag("-prof", "Also list the methods whose IL was replaced (a profiler's, or an emitted module's own IL)."),
];

/// A TypeDef token of row `rid`.
const TYPE_DEF: u32 = 0x0200_0000;

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let mut sos = Sos::new(out);
    let Some(text) = p.args.first() else {
        return sos.fail("Usage: DumpModule [-mt] <Module Address>\n");
    };
    let address = parse_address(text).unwrap_or(0);
    let rt = &session.heap.runtime;
    let Some(module) = find_module(rt, address)? else {
        return sos.fail(&format!("Fail to fill Module {address:016X}\n"));
    };
    let types = if p.has("-mt") { Some(type_rows(session, &module)) } else { None };
    if format != Format::Text {
        let rows = |rows: &[(u64, u32, String)]| -> Vec<serde_json::Value> {
            rows.iter().map(|(mt, token, name)| json!({"methodTable": hex(*mt), "token": hex(*token as u64), "name": name})).collect()
        };
        let mut record = json!({
            "module": hex(module.address), "name": file_name(&module), "assembly": hex(module.assembly),
            "dynamic": module.dynamic, "inMemory": module.in_memory, "fileLayout": module.file_layout,
            "baseAddress": hex(module.base), "loaderHeap": hex(module.loader_allocator),
            "typeDefToMethodTableMap": hex(module.typedef_map), "typeRefToMethodTableMap": hex(module.typeref_map),
            "methodDefToDescMap": hex(module.method_def_map), "fieldDefToDescMap": hex(module.field_def_map),
            "memberRefToDescMap": hex(module.member_ref_map), "assemblyReferencesMap": hex(module.module_ref_map),
            "metadataAddress": module.metadata.map(|m| hex(m.0)), "metadataSize": module.metadata.map(|m| m.1),
        });
        if let Some((defined, referenced)) = &types {
            record["typesDefined"] = json!(rows(defined));
            record["typesReferenced"] = json!(rows(referenced));
        }
        return write_json(out, &record);
    }
    let mut text = String::new();
    text.push_str(&format!("Name: {}\n", file_name(&module)));
    text.push_str("Attributes:              ");
    text.push_str(if module.dynamic { "Reflection " } else { "PEFile " });
    if module.dynamic {
        text.push_str("IsDynamic ");
    }
    if module.in_memory {
        text.push_str("IsInMemory ");
    }
    if module.file_layout {
        text.push_str("IsFileLayout ");
    }
    text.push('\n');
    let line = |text: &mut String, label: &str, v: u64| text.push_str(&format!("{label:<25}{v:016X}\n"));
    text.push_str(&format!("{:<25}{:016x}\n", "Assembly:", module.assembly));
    line(&mut text, "BaseAddress:", module.base);
    line(&mut text, "LoaderHeap:", module.loader_allocator);
    line(&mut text, "TypeDefToMethodTableMap:", module.typedef_map);
    line(&mut text, "TypeRefToMethodTableMap:", module.typeref_map);
    line(&mut text, "MethodDefToDescMap:", module.method_def_map);
    line(&mut text, "FieldDefToDescMap:", module.field_def_map);
    line(&mut text, "MemberRefToDescMap:", module.member_ref_map);
    line(&mut text, "FileReferencesMap:", 0);
    line(&mut text, "AssemblyReferencesMap:", module.module_ref_map);
    if let (true, Some((start, size))) = (module.base != 0, module.metadata) {
        text.push_str(&format!("MetaData start address:  {start:016X} ({size} bytes)\n"));
    }
    if let Some((defined, referenced)) = &types {
        let rule = "------------------------------------------------------------------------------\n";
        text.push_str("\nTypes defined in this module\n\n");
        text.push_str(&format!("{:>16} {:>16} Name\n", "MT", "TypeDef"));
        text.push_str(rule);
        for (mt, token, name) in defined {
            text.push_str(&format!("{mt:016x} 0x{token:08x} {name}\n"));
        }
        text.push_str("\nTypes referenced in this module\n\n");
        text.push_str(&format!("{:>16}   {:>16} Name\n", "MT", "TypeRef"));
        text.push_str(rule);
        for (mt, token, name) in referenced {
            text.push_str(&format!("{mt:016x} 0x{token:08x} {name}\n"));
        }
    }
    if p.has("-prof") {
        // The methods with IL in the module's dynamic IL table (SOS's "profiler modified
        // IL"; an emitted module keeps all its methods' IL there).
        let methods = session.heap.profiler_modified_methods(module.address);
        if methods.is_empty() {
            text.push_str("\nThis module has no methods with profiler modified IL.\n");
        } else {
            text.push_str("\nMethods in this module with profiler modified IL:\n");
            for (md, name) in methods {
                text.push_str(&format!("MethodDesc: {md:016x} Name: {} (IL Modified)\n", name.as_deref().unwrap_or("UNKNOWN")));
            }
        }
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `Name:`: the image's path; a dynamic module has none.
fn file_name(module: &Module) -> &str {
    if module.path.is_empty() { "Unknown Module" } else { &module.path }
}

/// The rows of `-mt`: `(MethodTable, token, name)` of the loaded TypeDefs, then of the
/// resolved TypeRefs (their TypeHandles' MethodTables).
type Rows = Vec<(u64, u32, String)>;

fn type_rows(session: &Session, module: &Module) -> (Rows, Rows) {
    let heap = &session.heap;
    let name = |mt: u64| heap.dac_type_name(mt).unwrap_or_else(|_| heap.type_name(mt).to_string());
    let rows = |entries: Vec<(u32, u64)>| -> Rows {
        entries
            .into_iter()
            .map(|(rid, th)| {
                // A TypeRef may resolve to a TypeDesc (low bits set): its MethodTable is
                // what the DAC shows, none for most; the entry is kept as the DAC keeps it.
                let mt = if th & 2 != 0 { 0 } else { th };
                (mt, TYPE_DEF | rid, if mt == 0 { String::new() } else { name(mt) })
            })
            .collect()
    };
    let (defined, referenced) = module.type_map_entries(&heap.runtime);
    (rows(defined), rows(referenced))
}

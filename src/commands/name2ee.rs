//! `name2ee <module|*> <type or type.member>` (or `module!name`): the loaded types of a
//! module whose name holds the text, or a type's method or field, as dotnet-dump 10's
//! managed `name2ee` prints them.
//!
//! ```text
//! Module:      00007f0e7049cec8
//! Assembly:    scenarios.dll
//! Token:       0000000002000022
//! MethodTable: 00007f0e7070da10
//! Name:        DocProc.Infrastructure.Cache.DocumentCacheEntry
//! -----------------------
//! Token:       0000000002000023
//! MethodTable: 00007f0e705caf60
//! Name:        DocProc.Infrastructure.Cache.DocumentCache
//! --------------------------------------
//!
//! Scanned 9 modules which had no matches.
//! ```
//!
//! Its rules, which are dotnet-dump's: a module matches by file name (with or without its
//! extension) or path, ignoring case; `*` is every module, in load order. Only types with
//! a MethodTable (a `TypeDefToMethodTableMap` entry) are looked at, in token order. A
//! type matches when its name *contains* the text, ignoring case (`DocumentCache` finds
//! `DocumentCacheEntry` too); otherwise, split at the last `.` (`..ctor` kept whole), a
//! type whose name contains the first part is searched for a method (its method table's
//! slots that have an entry point), then an instance field, then a static field named
//! exactly like the second.
//! `/` in the text stands for `+`. Unlike dotnet-dump, types emitted at run time are named.
use crate::args::{CommandArgs, OptionSpec};
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

/// name2ee's options (none; its words are the module and the name).
pub const OPTIONS: &[OptionSpec] = &[];

const USAGE: &str = "Usage: !name2ee module_name item_name
  or   !name2ee module_name!item_name
       use * for module_name to search all loaded modules
Examples: !name2ee  mscorlib.dll System.String.ToString
          !name2ee *!System.String
";

/// What matched in a type.
enum Match {
    Type,
    Method { md: u64, signature: String },
    Field(String),
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let words: Vec<&str> = parsed.positional.iter().map(|s| s.as_str()).filter(|s| !s.is_empty()).collect();
    let (module_name, item) = match words.as_slice() {
        [one] => match one.find('!') {
            Some(bang) if bang > 0 && bang != one.len() - 1 && !one[bang + 1..].contains('!') => {
                (&one[..bang], &one[bang + 1..])
            }
            _ => return Ok(out.write_all(USAGE.as_bytes())?),
        },
        [m, i] => (*m, *i),
        _ => return Ok(out.write_all(USAGE.as_bytes())?),
    };
    let heap = &session.heap;
    let wildcard = module_name == "*";
    let name = item.replace('/', "+");
    let mut text = String::new();
    let mut records = Vec::new();
    let mut matches = 0usize;
    let mut unmatched = 0usize;
    for module in heap.domain_modules()? {
        crate::interrupt::check()?;
        if !wildcard && !heap.module_name_matches(module, module_name) {
            continue;
        }
        let file = heap.module_file_name(module);
        let header = |text: &mut String, matches: usize| {
            if matches > 0 {
                text.push_str("--------------------------------------\n");
            }
            text.push_str(&format!("Module:      {module:016x}\nAssembly:    {file}\n"));
        };
        let mut found = false;
        for (token, mt) in heap.type_def_method_tables(module) {
            crate::interrupt::check()?;
            if !heap.is_method_table(mt) {
                continue;
            }
            let Some(type_name) = heap.try_type_name(mt) else { continue };
            let Some(m) = match_type(session, mt, &type_name, &name) else { continue };
            if found {
                text.push_str("-----------------------\n");
            } else {
                header(&mut text, matches);
            }
            found = true;
            let type_info = format!("Token:       {token:016x}\nMethodTable: {mt:016x}\nName:        {type_name}\n");
            match &m {
                Match::Type => text.push_str(&type_info),
                Match::Method { md, signature } => {
                    let report = heap.method_desc_report(*md, None).ok();
                    let token = report.as_ref().map_or(0, |r| r.data.token);
                    text.push_str(&format!("Token:       {token:016x}\nMethodDesc:  {md:016x}\nName:        {signature}\n"));
                    let code = report.and_then(|r| r.data.native_code).unwrap_or(u64::MAX);
                    text.push_str(&format!("JITTED Code Address: {code:016x}\n"));
                    records.push(json!({"module": format!("{module:016x}"), "assembly": file, "method_token": format!("{token:08x}"),
                        "method_desc": format!("{md:016x}"), "name": signature, "code": format!("{code:016x}")}));
                }
                Match::Field(field) => {
                    text.push_str(&format!("Field {field} (mdToken token) of\n"));
                    text.push_str(&type_info);
                }
            }
            if !matches!(m, Match::Method { .. }) {
                records.push(json!({"module": format!("{module:016x}"), "assembly": file, "token": format!("{token:08x}"),
                    "method_table": format!("{mt:016x}"), "name": &*type_name,
                    "field": if let Match::Field(f) = &m { Some(f.clone()) } else { None }}));
            }
            matches += 1;
        }
        if !found {
            if wildcard {
                unmatched += 1;
            } else {
                header(&mut text, matches);
                matches += 1;
            }
        }
    }
    if wildcard && unmatched > 0 {
        if matches > 0 {
            text.push_str("--------------------------------------\n");
        }
        text.push_str(&format!("\nScanned {unmatched} module{} which had no matches.\n", if unmatched == 1 { "" } else { "s" }));
    }
    if matches == 0 && unmatched == 0 {
        text.push_str(&format!("Failed to find module matching '{module_name}'.\n"));
    }
    if format != Format::Text {
        return write_json(out, &json!({ "matches": records }));
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

/// A method's short name from its DAC signature: `Type.Name(params)` -> `Name`, with
/// `..ctor` giving `.ctor`.
fn method_short_name(signature: &str) -> &str {
    let head = match signature.find('(') {
        Some(p) => &signature[..p],
        None => signature,
    };
    match head.rfind('.') {
        Some(dot) => {
            let start = if dot > 0 && head.as_bytes()[dot - 1] == b'.' { dot } else { dot + 1 };
            &head[start..]
        }
        None => head,
    }
}

fn match_type(session: &Session, mt: u64, type_name: &str, name: &str) -> Option<Match> {
    if contains_ignore_case(type_name, name) {
        return Some(Match::Type);
    }
    let mut dot = name.rfind('.')?;
    if dot == 0 {
        return None;
    }
    if name.as_bytes()[dot - 1] == b'.' {
        dot -= 1;
    }
    let (type_part, member) = (&name[..dot], &name[dot + 1..]);
    if !contains_ignore_case(type_name, type_part) {
        return None;
    }
    let heap = &session.heap;
    if let Ok(rows) = heap.method_rows(mt) {
        for row in rows {
            let Some(signature) = row.name else { continue };
            // ClrMD finds a slot's MethodDesc from its entry point: a slot without one
            // (9 and 10 fill slots when a method is first called) has no method for it.
            if row.method_desc != 0 && row.entry != 0 && method_short_name(&signature) == member {
                return Some(Match::Method { md: row.method_desc, signature });
            }
        }
    }
    let fields = heap.type_fields(mt);
    let instance = fields.fields.iter().filter(|f| !f.is_static());
    let statics = fields.fields.iter().filter(|f| f.is_static());
    instance.chain(statics).find(|f| f.name == member).map(|f| Match::Field(f.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(method_short_name("A.B.C..ctor()"), ".ctor");
        assert_eq!(method_short_name("A.B.C.TryGet(System.String, X ByRef)"), "TryGet");
    }
}

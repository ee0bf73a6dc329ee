//! `token2ee <module|*> <token>`: what a TypeDef, TypeRef, MethodDef or FieldDef token of
//! a module stands for, as dotnet-dump 10's managed `token2ee` prints it.
//!
//! ```text
//! Module:      00007f0e7049cec8
//! Assembly:    scenarios.dll
//! Token:       0600004d
//! MethodDesc:  00007f0e705caf10
//! Name:        DocProc.Infrastructure.Cache.DocumentCache.TryGet(System.String, DocProc.Domain.DocumentMetadata ByRef)
//! JITTED Code Address: ffffffffffffffff
//! ```
//!
//! Its rules, which are dotnet-dump's: modules match as for `name2ee`; a type token is
//! looked up in the module's `TypeDefToMethodTableMap` (a TypeRef never is: it prints as
//! not loaded); a method or field token among the methods (method table slots) and
//! fields of the module's loaded types, in token order. With `*`, only the modules where
//! the token was found are shown, the others counted.
use crate::args::{CommandArgs, OptionSpec};
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

/// token2ee's options (none; its words are the module and the token).
pub const OPTIONS: &[OptionSpec] = &[];

const USAGE: &str = "Usage: !token2ee module_name mdToken
       You can pass * for module_name to search all modules.
";

enum Found {
    Type { mt: u64, name: String },
    Method { md: u64, signature: String },
    Field(String),
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let [module_name, token_text] = parsed.positional.as_slice() else {
        return Ok(out.write_all(USAGE.as_bytes())?);
    };
    let digits = token_text.strip_prefix("0x").or_else(|| token_text.strip_prefix("0X")).unwrap_or(token_text);
    let Some(token) = (!digits.is_empty()).then(|| u32::from_str_radix(digits, 16).ok()).flatten() else {
        out.write_all(format!("Invalid token: {token_text}\n{USAGE}").as_bytes())?;
        return Ok(());
    };
    if module_name.is_empty() {
        return Ok(out.write_all(USAGE.as_bytes())?);
    }
    if !matches!(token >> 24, 0x02 | 0x01 | 0x06 | 0x04) {
        out.write_all(b"This token type is not supported\n")?;
        return Ok(());
    }
    let heap = &session.heap;
    let wildcard = module_name == "*";
    let mut text = String::new();
    let mut records = Vec::new();
    let (mut matches, mut unmatched, mut any) = (0usize, 0usize, false);
    for module in heap.domain_modules()? {
        crate::interrupt::check()?;
        if !wildcard && !heap.module_name_matches(module, module_name) {
            continue;
        }
        any = true;
        let found = find(session, module, token);
        if found.is_none() && wildcard {
            unmatched += 1;
            continue;
        }
        if matches > 0 {
            text.push_str("--------------------------------------\n");
        }
        let file = heap.module_file_name(module);
        text.push_str(&format!("Module:      {module:016x}\nAssembly:    {file}\nToken:       {token:08x}\n"));
        match &found {
            Some(Found::Type { mt, name }) => text.push_str(&format!("MethodTable: {mt:016x}\nName:        {name}\n")),
            None if token >> 24 <= 0x02 => {
                text.push_str("MethodTable: <not loaded yet>\nEEClass:     <not loaded yet>\nName:        <unknown>\n")
            }
            Some(Found::Method { md, signature }) => {
                let code = heap.method_native_code(*md).unwrap_or(u64::MAX);
                text.push_str(&format!("MethodDesc:  {md:016x}\nName:        {signature}\nJITTED Code Address: {code:016x}\n"));
            }
            Some(Found::Field(name)) => text.push_str(&format!("Field name:  {name}\n")),
            None => text.push_str("<invalid module token>\n"),
        }
        records.push(json!({
            "module": format!("{module:016x}"), "assembly": file, "token": format!("{token:08x}"),
            "methodTable": if let Some(Found::Type { mt, .. }) = &found { Some(format!("{mt:016x}")) } else { None },
            "methodDesc": if let Some(Found::Method { md, .. }) = &found { Some(format!("{md:016x}")) } else { None },
            "name": match &found {
                Some(Found::Type { name, .. }) | Some(Found::Field(name)) => Some(name.clone()),
                Some(Found::Method { signature, .. }) => Some(signature.clone()),
                None => None,
            },
        }));
        matches += 1;
    }
    if wildcard && unmatched > 0 {
        if matches > 0 {
            text.push_str("--------------------------------------\n");
        }
        text.push_str(&format!("\nScanned {unmatched} module{} which had no matches.\n", if unmatched == 1 { "" } else { "s" }));
    }
    if !any {
        text.push_str("Failed to request module list.\n");
    }
    if format != Format::Text {
        return write_json(out, &json!({ "matches": records }));
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// What `token` stands for among the module's loaded types.
fn find(session: &Session, module: u64, token: u32) -> Option<Found> {
    let heap = &session.heap;
    let types = heap.type_def_method_tables(module);
    match token >> 24 {
        0x02 => {
            let (_, mt) = types.into_iter().find(|&(t, _)| t == token)?;
            let name = heap.try_type_name(mt).map(|n| n.to_string()).unwrap_or_else(|| "<unknown>".into());
            Some(Found::Type { mt, name })
        }
        0x06 => types.into_iter().filter(|&(_, mt)| heap.is_method_table(mt)).find_map(|(_, mt)| {
            let rows = heap.method_rows(mt).ok()?;
            rows.into_iter().find_map(|r| {
                (r.method_desc != 0 && heap.method_desc_token(r.method_desc) == Some(token))
                    .then(|| Found::Method { md: r.method_desc, signature: r.name.unwrap_or_else(|| "<unknown>".into()) })
            })
        }),
        0x04 => types.into_iter().filter(|&(_, mt)| heap.is_method_table(mt)).find_map(|(_, mt)| {
            let fields = heap.type_fields(mt).fields;
            let instance = fields.iter().filter(|f| !f.is_static());
            let statics = fields.iter().filter(|f| f.is_static());
            instance.chain(statics).find(|f| f.desc.token() == token).map(|f| Found::Field(f.name.clone()))
        }),
        _ => None,
    }
}

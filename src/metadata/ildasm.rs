//! Tokens and signatures named the way SOS's IL disassembler (`dumpil`) names them: the
//! ILDasm style (`class [System.Runtime]System.Exception`, `!0`, `valuetype X`), with the
//! fixed name buffers SOS reads them into (a type or member name is cut at 48 characters,
//! a TypeRef parent of a member at 49, a TypeSpec parent at 50), and the texts it prints
//! for what it cannot name.
//!
//! Signatures are walked over their raw bytes (not [`super::SigType`]) because the text
//! shows what `SigType` leaves out: array bounds, custom modifiers, `pinned`.
use super::signature::read_compressed_u32;
use super::{MetadataReader, TableId};

/// `PPFormatFlags` bits SOS passes.
pub mod format {
    pub const NAMESPACE: u32 = 0x001;
    pub const ASSEMBLY: u32 = 0x004;
    pub const SIGNATURE: u32 = 0x008;
    pub const ANGLE_BRACKETS: u32 = 0x040;
    pub const SLASH_SEP: u32 = 0x100;
    pub const KW_IN_NAMES: u32 = 0x200;
    /// `FormatILDasm`, what `dumpil` uses.
    pub const ILDASM: u32 = 0x3ff;
    /// `FormatCSharp`, what `ehinfo` names catch types with.
    pub const CSHARP: u32 = 0x04b;
}

/// Deepest nesting of types followed (a damaged signature could nest without end).
const MAX_DEPTH: usize = 64;
/// Longest name kept (SOS's `MAX_CLASSNAME_LENGTH` buffers).
const MAX_NAME: usize = 2048;

/// `szStdNamePrefix`: the prefix of a made-up name for a nameless row, by table.
fn std_name_prefix(table: u8) -> &'static str {
    match table {
        0x00 => "MO",
        0x01 => "TR",
        0x02 => "TD",
        0x04 => "FD",
        0x06 => "MD",
        0x08 => "PA",
        0x09 => "II",
        0x0a => "MR",
        0x0c => "CA",
        0x0e => "PE",
        0x11 => "SG",
        0x14 => "EV",
        0x17 => "PR",
        0x1a => "MOR",
        0x1b => "TS",
        0x20 => "AS",
        0x23 => "AR",
        0x26 => "FL",
        0x27 => "ET",
        0x28 => "MAR",
        _ => "",
    }
}

/// The first `n` characters of `s`.
fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// `Namespace.Name` as `GetTypeDefProps` and `GetTypeRefProps` give it.
fn joined(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}.{name}")
    }
}

/// Whether a token names an existing row (`IsValidToken`).
fn is_valid(meta: &MetadataReader, token: u32) -> bool {
    let rid = token & 0x00ff_ffff;
    match TableId::from_u8((token >> 24) as u8) {
        Some(t) => rid >= 1 && rid <= meta.rows(t),
        None => false,
    }
}

fn typedef_name(meta: &MetadataReader, rid: u32) -> Option<String> {
    let t = meta.typedef(rid).ok()?;
    Some(joined(t.namespace, t.name))
}

fn typeref_name(meta: &MetadataReader, rid: u32) -> Option<String> {
    let t = meta.typeref(rid).ok()?;
    Some(joined(t.namespace, t.name))
}

/// `PrettyPrintClass`: a TypeDef, TypeRef, TypeSpec or resolution scope token.
pub fn pretty_print_class(meta: &MetadataReader, token: u32, flags: u32, out: &mut String) {
    print_class(meta, token, flags, out, 0);
}

fn print_class(meta: &MetadataReader, token: u32, flags: u32, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH || out.len() > MAX_NAME * 4 {
        return;
    }
    if token == 0 {
        out.push_str("[*]");
        return;
    }
    if !is_valid(meta, token) {
        out.push_str(&format!(" [ERROR: INVALID TOKEN 0x{token:08X}] "));
        return;
    }
    let rid = token & 0x00ff_ffff;
    match (token >> 24) as u8 {
        0x01 | 0x02 => {
            let is_ref = token >> 24 == 0x01;
            let mut encloser = 0u32;
            let mut name = String::new();
            if is_ref {
                if flags & format::ASSEMBLY != 0 {
                    match meta.typeref(rid) {
                        Ok(t) => {
                            encloser = t.resolution_scope.0;
                            name = joined(t.namespace, t.name);
                        }
                        Err(_) => {
                            out.push_str(&format!(" [ERROR: Invalid TypeRef record 0x{token:08X}] "));
                            return;
                        }
                    }
                }
                // Without the assembly flag SOS never reads the name: its buffer is left
                // as it was, which prints as nothing.
            } else {
                match meta.typedef(rid) {
                    Ok(t) => {
                        name = joined(t.namespace, t.name);
                        // IsTdNested: a nested visibility.
                        if t.flags & 0x7 >= 2 {
                            encloser = meta.enclosing_type(rid).map_or(0x0200_0000, |e| 0x0200_0000 | e);
                        }
                    }
                    Err(_) => {
                        out.push_str(&format!(" [ERROR: Invalid TypeDef record 0x{token:08X}] "));
                        return;
                    }
                }
            }
            if flags & format::NAMESPACE == 0 {
                encloser = 0x0200_0000;
                if let Some(dot) = name.rfind('.') {
                    name = name[dot + 1..].to_string();
                }
            }
            if name.is_empty() && (is_ref && flags & format::ASSEMBLY != 0 || !is_ref) {
                name = format!("${}${:X}", std_name_prefix((token >> 24) as u8), rid);
            }
            if encloser == 0 || encloser & 0x00ff_ffff != 0 {
                let kind = (encloser >> 24) as u8;
                if kind == 0x01 || kind == 0x02 {
                    print_class(meta, encloser, flags, out, depth + 1);
                    out.push(if flags & format::SLASH_SEP != 0 { '/' } else { '+' });
                } else if flags & format::ASSEMBLY != 0 {
                    print_class(meta, encloser, flags, out, depth + 1);
                }
            }
            out.push_str(&name);
        }
        0x23 => {
            if let Ok(a) = meta.assembly_ref(rid) {
                out.push('[');
                out.push_str(a.name);
                out.push(']');
            }
        }
        0x20 => {
            if let Ok(Some(a)) = meta.assembly() {
                out.push('[');
                out.push_str(a.name);
                out.push(']');
            }
        }
        0x1a => {
            if let Ok(name) = meta.cell(TableId::ModuleRef, rid, 0).and_then(|i| meta.string(i)) {
                out.push_str("[.module ");
                out.push_str(name);
                out.push(']');
            }
        }
        0x1b => match meta.typespec_blob(rid) {
            Ok(blob) => {
                print_type(meta, blob, 0, flags, out, depth + 1);
            }
            Err(_) => out.push_str(&format!(" [ERROR: Invalid token 0x{token:08X}] ")),
        },
        0x00 => {}
        _ => out.push_str(&format!(" [ERROR: INVALID TOKEN TYPE 0x{token:08X}] ")),
    }
}

/// A compressed TypeDefOrRef token (`CorSigUncompressToken`).
fn read_token(blob: &[u8], pos: &mut usize) -> Option<u32> {
    let v = read_compressed_u32(blob, pos)?;
    let table = [0x0200_0000u32, 0x0100_0000, 0x1b00_0000, 0x7200_0000][(v & 3) as usize];
    Some(table | (v >> 2))
}

/// A compressed signed integer (`CorSigUncompressSignedInt`).
fn read_signed(blob: &[u8], pos: &mut usize) -> Option<i32> {
    let start = *pos;
    let v = read_compressed_u32(blob, pos)?;
    let bits = match *pos - start {
        1 => 6,
        2 => 13,
        _ => 28,
    };
    let magnitude = (v >> 1) as i32;
    Some(if v & 1 != 0 { magnitude - (1 << bits) } else { magnitude })
}

/// `PrettyPrintType`: the type at `pos` of a signature, appended to `out`; returns the
/// position after what it read.
pub fn pretty_print_type(meta: &MetadataReader, blob: &[u8], pos: usize, flags: u32, out: &mut String) -> usize {
    print_type(meta, blob, pos, flags, out, 0)
}

fn print_type(meta: &MetadataReader, blob: &[u8], mut pos: usize, flags: u32, out: &mut String, depth: usize) -> usize {
    if depth > MAX_DEPTH || out.len() > MAX_NAME * 4 {
        return blob.len();
    }
    // Suffixes (`[]`, `&`, `*`, ` pinned`), each put before those already there.
    let mut appendix = String::new();
    loop {
        let Some(&typ) = blob.get(pos) else { break };
        pos += 1;
        let word = match typ {
            0x01 => "void",
            0x02 => "bool",
            0x03 => "char",
            0x04 => "int8",
            0x05 => "uint8",
            0x06 => "int16",
            0x07 => "uint16",
            0x08 => "int32",
            0x09 => "uint32",
            0x0a => "int64",
            0x0b => "uint64",
            0x0c => "float32",
            0x0d => "float64",
            0x19 => "native uint",
            0x18 => "native int",
            0x1c => "object",
            0x0e => "string",
            0x16 => "typedref",
            _ => "",
        };
        if !word.is_empty() {
            out.push_str(word);
            break;
        }
        match typ {
            0x11 | 0x12 => {
                if flags & format::KW_IN_NAMES != 0 {
                    out.push_str(if typ == 0x11 { "valuetype " } else { "class " });
                }
                match read_token(blob, &mut pos) {
                    Some(tk) if tk & 0x00ff_ffff != 0 => print_class(meta, tk, flags, out, depth + 1),
                    Some(_) => out.push_str("[ERROR! NIL TOKEN]"),
                    None => pos = blob.len(),
                }
                break;
            }
            0x1d => {
                appendix.insert_str(0, "[]");
                continue;
            }
            0x14 => {
                pos = print_type(meta, blob, pos, flags, out, depth + 1);
                let Some(rank) = read_compressed_u32(blob, &mut pos) else { break };
                if rank == 0 {
                    out.push_str("[BAD: RANK == 0!]");
                    break;
                }
                let rank = rank.min(64) as usize;
                let mut sizes = vec![0i64; rank];
                let mut lower = vec![0i64; rank];
                let num_sizes = read_compressed_u32(blob, &mut pos).unwrap_or(0) as usize;
                for i in 0..num_sizes {
                    let v = read_compressed_u32(blob, &mut pos).unwrap_or(0) as i32 as i64;
                    if let Some(s) = sizes.get_mut(i) {
                        *s = v;
                    }
                }
                let num_lower = read_compressed_u32(blob, &mut pos).unwrap_or(0) as usize;
                for i in 0..num_lower {
                    let v = read_signed(blob, &mut pos).unwrap_or(0) as i64;
                    if let Some(l) = lower.get_mut(i) {
                        *l = v;
                    }
                }
                out.push('[');
                if rank == 1 && num_sizes == 0 && num_lower == 0 {
                    out.push_str("...");
                } else {
                    for i in 0..rank {
                        if i < num_sizes && lower[i] == 0 {
                            out.push_str(&(sizes[i] as i32).to_string());
                        } else if i < num_lower {
                            out.push_str(&(lower[i] as i32).to_string());
                            out.push_str("...");
                            if i < num_sizes {
                                out.push_str(&((lower[i] + sizes[i] - 1) as i32).to_string());
                            }
                        }
                        if i + 1 < rank {
                            out.push(',');
                        }
                    }
                }
                out.push(']');
                break;
            }
            0x13 | 0x1e => {
                out.push_str(if typ == 0x13 { "!" } else { "!!" });
                let n = read_compressed_u32(blob, &mut pos).unwrap_or(0);
                out.push_str(&(n as i32).to_string());
                break;
            }
            0x1b => {
                // SOS prints a placeholder and does not read the method signature.
                out.push_str("method METHOD");
                break;
            }
            0x15 => {
                pos = print_type(meta, blob, pos, flags, out, depth + 1);
                if flags & format::SIGNATURE == 0 {
                    break;
                }
                let angle = flags & format::ANGLE_BRACKETS != 0;
                out.push_str(if angle { "<" } else { "[" });
                let n = read_compressed_u32(blob, &mut pos).unwrap_or(0);
                for i in 0..n {
                    if pos >= blob.len() {
                        break;
                    }
                    if i > 0 {
                        out.push(',');
                    }
                    pos = print_type(meta, blob, pos, flags, out, depth + 1);
                }
                out.push_str(if angle { ">" } else { "]" });
                break;
            }
            0x45 | 0x0f | 0x10 => {
                appendix.insert_str(0, [" pinned", "*", "&"][match typ {
                    0x45 => 0,
                    0x0f => 1,
                    _ => 2,
                }]);
                continue;
            }
            0x1f | 0x20 => {
                out.push_str(if typ == 0x1f { " mod req " } else { " mod opt " });
                match read_token(blob, &mut pos) {
                    Some(tk) if tk & 0x00ff_ffff != 0 => print_class(meta, tk, flags, out, depth + 1),
                    Some(_) => out.push_str("[ERROR! NIL TOKEN]"),
                    None => pos = blob.len(),
                }
                continue;
            }
            _ => {
                if typ != 0 {
                    out.push_str(&format!("/* UNKNOWN TYPE (0x{typ:X})*/"));
                }
                break;
            }
        }
    }
    out.push_str(&appendix);
    pos
}

/// The position after the type at `pos` (`SigParser::SkipExactlyOne`).
fn skip_type(blob: &[u8], mut pos: usize, depth: usize) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    loop {
        let typ = *blob.get(pos)?;
        pos += 1;
        match typ {
            0x01..=0x0e | 0x16 | 0x18 | 0x19 | 0x1c => return Some(pos),
            0x11 | 0x12 => {
                read_compressed_u32(blob, &mut pos)?;
                return Some(pos);
            }
            0x0f | 0x10 | 0x1d | 0x45 | 0x41 => continue,
            0x1f | 0x20 => {
                read_compressed_u32(blob, &mut pos)?;
                continue;
            }
            0x13 | 0x1e => {
                read_compressed_u32(blob, &mut pos)?;
                return Some(pos);
            }
            0x14 => {
                pos = skip_type(blob, pos, depth + 1)?;
                read_compressed_u32(blob, &mut pos)?;
                let n = read_compressed_u32(blob, &mut pos)?;
                for _ in 0..n.min(blob.len() as u32) {
                    read_compressed_u32(blob, &mut pos)?;
                }
                let n = read_compressed_u32(blob, &mut pos)?;
                for _ in 0..n.min(blob.len() as u32) {
                    read_compressed_u32(blob, &mut pos)?;
                }
                return Some(pos);
            }
            0x15 => {
                pos = skip_type(blob, pos, depth + 1)?;
                let n = read_compressed_u32(blob, &mut pos)?;
                for _ in 0..n.min(blob.len() as u32) {
                    pos = skip_type(blob, pos, depth + 1)?;
                }
                return Some(pos);
            }
            0x1b => {
                let callconv = *blob.get(pos)?;
                pos += 1;
                if callconv & 0x10 != 0 {
                    read_compressed_u32(blob, &mut pos)?;
                }
                let n = read_compressed_u32(blob, &mut pos)?;
                for _ in 0..=n.min(blob.len() as u32) {
                    pos = skip_type(blob, pos, depth + 1)?;
                }
                return Some(pos);
            }
            _ => return Some(pos),
        }
    }
}

/// A method or field signature's parts as SOS prints them around a member's name: the
/// return type and a space before it, the parameter list after it (nothing for a field).
fn signature_parts(meta: &MetadataReader, sig: &[u8]) -> (String, String) {
    let mut before = String::new();
    let mut after = String::new();
    let Some(&callconv) = sig.first() else { return (before, after) };
    let mut pos = 1;
    // `IMAGE_CEE_CS_CALLCONV_FIELD` tested as a mask, as SOS does.
    let field = callconv & 0x6 == 0x6;
    if !field && callconv & 0x10 != 0 && read_compressed_u32(sig, &mut pos).is_none() {
        return (before, after);
    }
    // SOS reads a parameter count for a field too: the field's first type byte goes, and
    // the type printed is what follows (past the signature's end for a one-byte type).
    let Some(count) = read_compressed_u32(sig, &mut pos) else { return (before, after) };
    print_type(meta, sig, pos, format::ILDASM, &mut before, 0);
    before.push(' ');
    if field {
        return (before, after);
    }
    let Some(mut p) = skip_type(sig, pos, 0) else {
        after.push_str("()");
        return (before, after);
    };
    after.push('(');
    for i in 0..count.min(sig.len() as u32) {
        let mut one = String::new();
        print_type(meta, sig, p, format::ILDASM, &mut one, 0);
        after.push_str(&one);
        if i + 1 < count {
            after.push(',');
        }
        match skip_type(sig, p, 0) {
            Some(n) => p = n,
            None => break,
        }
    }
    after.push(')');
    (before, after)
}

/// A token operand as `dumpil` prints it (SOS's `DisassembleToken`).
pub fn token_text(meta: &MetadataReader, token: u32) -> String {
    let rid = token & 0x00ff_ffff;
    let typedef_or = |rid: u32| typedef_name(meta, rid).map_or_else(|| "<unknown type def>".to_string(), |n| cut(&n, 48));
    match token >> 24 {
        0x02 => typedef_or(rid),
        0x01 => typeref_name(meta, rid).map_or_else(|| "<unknown type ref>".to_string(), |n| cut(&n, 48)),
        0x04 => {
            let field = meta.field(rid).ok().map(|f| cut(f.name, 48));
            let owner = if field.is_some() { meta.field_owner(rid) } else { 0 };
            format!("{}::{}", typedef_or(owner), field.unwrap_or_else(|| "<unknown field def>".to_string()))
        }
        0x06 => match meta.method(rid) {
            Ok(m) => {
                let sig = meta.blob_cell_and_rest(TableId::MethodDef, rid, 4).unwrap_or(m.signature);
                let (before, after) = signature_parts(meta, sig);
                format!("{before}{}::{}{after}", typedef_or(meta.method_owner(rid)), cut(m.name, 48))
            }
            Err(_) => format!("{}::<unknown method def>", typedef_or(0)),
        },
        0x0a => match meta.memberref(rid) {
            Ok(m) => {
                let sig = meta.blob_cell_and_rest(TableId::MemberRef, rid, 2).unwrap_or(m.signature);
                let (before, after) = signature_parts(meta, sig);
                let parent = m.parent.0;
                let parent_name = match parent >> 24 {
                    0x01 => typeref_name(meta, parent & 0x00ff_ffff)
                        .map_or_else(|| "<unknown type ref>".to_string(), |n| cut(&n, 49)),
                    0x02 => typedef_or(parent & 0x00ff_ffff),
                    0x1b => match meta.typespec_blob(parent & 0x00ff_ffff) {
                        Ok(blob) => {
                            let mut s = String::new();
                            print_type(meta, blob, 0, format::ILDASM, &mut s, 0);
                            cut(&s, 50)
                        }
                        Err(_) => "<Invalid record>".to_string(),
                    },
                    _ => "<unknown type token>".to_string(),
                };
                format!("{before}{parent_name}::{}{after}", cut(m.name, 48))
            }
            Err(_) => "<unknown type token>::<unknown member ref>".to_string(),
        },
        0x70 => match meta.user_string_units(rid) {
            // `GetUserString` into an 80-character buffer: a longer string is refused.
            Ok(units) if units.len() <= 80 => {
                let mut s: String = units
                    .iter()
                    .take(79)
                    .map(|&u| if (0x20..0x80).contains(&u) { u as u8 as char } else { '.' })
                    .collect();
                if units.len() >= 79 {
                    s.push_str("...");
                }
                format!("\"{s}\"")
            }
            _ => format!("STRING {token:x}"),
        },
        _ => format!("<unknown token type {:08x}>", token & 0xff00_0000),
    }
}

/// The name of a catch clause's type as `ehinfo` prints it (`PrettyPrintClassFromToken`
/// in the C# style).
pub fn catch_type_name(meta: &MetadataReader, token: u32) -> String {
    let mut s = String::new();
    print_class(meta, token, format::CSHARP, &mut s, 0);
    s
}

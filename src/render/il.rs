//! A method body's IL as SOS's `dumpil` lists it: one line an instruction
//! (`IL_0006: stfld DocProc.Ops.Order::Id`), tokens named ILDasm-style
//! ([`crate::metadata::ildasm`]), and the exception clauses as nested `.try`/`.catch`/
//! `.finally` blocks opened and closed at their IL offsets.
//!
//! SOS's quirks are kept, since the text must match: a short branch's displacement and a
//! short integer are read unsigned (`br.s` backwards prints a target past the code), a
//! filter or fault handler prints as `.catch`, a clause ending with the code is never
//! closed, and a block closed more often than opened indents by the absolute value of
//! its negative width.
use crate::metadata::il::{clause_flags, decode_at, MethodBody, OperandValue};
use crate::metadata::ildasm::token_text;
use crate::metadata::MetadataReader;
use std::fmt::Write as _;

/// `%f` of a C `double`.
fn c_float(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_string()
    } else if v.is_infinite() {
        if v < 0.0 { "-inf" } else { "inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// `%ld` of a 64-bit value as dotnet-dump's SOS prints it: the sign, then the low 32
/// bits of the magnitude (`long.MinValue` prints `-0`, `long.MaxValue` `4294967295`).
fn c_long(v: i64) -> String {
    let low = v.unsigned_abs() & 0xffff_ffff;
    if v < 0 { format!("-{low}") } else { low.to_string() }
}

/// The listing of a method body (`bytes`: its header, code and sections), the token
/// names read from `meta` (`TOKEN x` without it, as SOS prints for IL given by address).
pub fn il_listing(meta: Option<&MetadataReader>, bytes: &[u8], body: &MethodBody) -> String {
    let code = body.code(bytes);
    let mut out = String::new();
    let mut indent: i32 = 0;
    let pad = |n: i32| " ".repeat(n.unsigned_abs().min(4096) as usize);
    let mut position: u32 = 0;
    let end = body.code_size.min(code.len() as u32);
    while position < end {
        for c in &body.clauses {
            let finally = c.flags == clause_flags::FINALLY;
            if c.try_offset == position {
                let _ = write!(out, "{0}.try\n{0}{{\n", pad(indent));
                indent = indent.wrapping_add(2);
            } else if c.try_offset.wrapping_add(c.try_length) == position {
                indent = indent.wrapping_sub(2);
                let _ = writeln!(out, "{}}} // end .try", pad(indent));
            }
            if c.handler_offset == position {
                let word = if finally { ".finally" } else { ".catch" };
                let _ = write!(out, "{0}{word}\n{0}{{\n", pad(indent));
                indent = indent.wrapping_add(2);
            } else if c.handler_offset.wrapping_add(c.handler_length) == position {
                indent = indent.wrapping_sub(2);
                let word = if finally { "finally" } else { "catch" };
                let _ = writeln!(out, "{}}} // end .{word}", pad(indent));
            }
        }
        let Some(ins) = decode_at(code, position) else { break };
        let _ = write!(out, "{}IL_{:04x}: {} ", pad(indent), position, ins.name);
        match &ins.operand {
            OperandValue::None => {}
            OperandValue::Var(v) => {
                let _ = write!(out, "VAR OR ARG {v}");
            }
            OperandValue::Int8(v) => {
                let _ = write!(out, "{v}");
            }
            OperandValue::Int32(v) => {
                let _ = write!(out, "{v}");
            }
            OperandValue::Int64(v) => out.push_str(&c_long(*v)),
            OperandValue::Float32(v) => out.push_str(&c_float(*v as f64)),
            OperandValue::Float64(v) => out.push_str(&c_float(*v)),
            OperandValue::ShortBranch(d, next) => {
                let _ = write!(out, "IL_{:04x}", (*d as u32).wrapping_add(*next));
            }
            OperandValue::Branch(d, next) => {
                let _ = write!(out, "IL_{:04x}", (*d as u32).wrapping_add(*next));
            }
            OperandValue::Token(t) => match meta {
                Some(m) => out.push_str(&token_text(m, *t)),
                None => {
                    let _ = write!(out, "TOKEN {t:x}");
                }
            },
            OperandValue::Switch(cases, next) => {
                out.push('(');
                for (i, d) in cases.iter().enumerate() {
                    if i != 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "IL_{:04x}", (*d as u32).wrapping_add(*next));
                }
                out.push(')');
            }
        }
        out.push('\n');
        if ins.cut || ins.next <= position {
            break;
        }
        position = ins.next;
    }
    out
}

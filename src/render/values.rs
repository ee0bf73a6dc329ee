//! Values as ClrMD-based dotnet-dump commands print them (C#'s `ToString()` of the value).
use crate::heap::managed::Primitive;

/// A primitive as C# prints it: `True`, `'c'`, `42`, `0x44` (a pointer-sized integer in
/// hex, `null` when zero).
pub fn primitive_text(p: Primitive) -> String {
    match p {
        Primitive::Bool(b) => if b { "True" } else { "False" }.to_string(),
        Primitive::Char(c) => format!("'{}'", char::from_u32(c as u32).unwrap_or('\u{fffd}')),
        Primitive::I8(v) => v.to_string(),
        Primitive::U8(v) => v.to_string(),
        Primitive::I16(v) => v.to_string(),
        Primitive::U16(v) => v.to_string(),
        Primitive::I32(v) => v.to_string(),
        Primitive::U32(v) => v.to_string(),
        Primitive::I64(v) => v.to_string(),
        Primitive::U64(v) => v.to_string(),
        Primitive::F32(v) => float_text(v as f64, v.is_nan(), v.is_infinite()),
        Primitive::F64(v) => float_text(v, v.is_nan(), v.is_infinite()),
        Primitive::IntPtr(0) | Primitive::UIntPtr(0) => "null".to_string(),
        Primitive::IntPtr(v) | Primitive::UIntPtr(v) => format!("0x{v:x}"),
    }
}

/// A floating-point number as .NET prints it (shortest round-trip form; `E+XX` notation
/// from 1E+15 up and below 1E-05).
fn float_text(v: f64, nan: bool, inf: bool) -> String {
    if nan {
        return "NaN".into();
    }
    if inf {
        return if v < 0.0 { "-∞".into() } else { "∞".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e15).contains(&a) {
        let s = format!("{v:e}");
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            return format!("{m}E{sign}{digits:0>2}");
        }
    }
    format!("{v}")
}

//! Signature blobs spelled as SOS's `dumpsig` and `dumpsigelem` spell them (ildasm's
//! raw vocabulary): `[DEFAULT] [hasThis] Void (I4,String)`, `[LOCALSIG] Class A,I4)`,
//! `Class System.Collections.Generic.IEnumerable`1<!!0>`, `SZArray U1`.
//!
//! The decoder works on a window of bytes read from the process (SOS reads 256 bytes at a
//! time, whatever the blob's length) and reproduces SOS's arithmetic: 32-bit counts that
//! wrap, a signature that runs past the window asking for more bytes, the element types
//! SOS refuses. Bytes past the window read as 0. Type names come from a resolver (a
//! TypeDef's or TypeRef's `Namespace.Name`, a MethodTable's name) so that this layer
//! needs no module.

/// The names a signature refers to.
pub trait SigNames {
    /// `Namespace.Name` of a TypeDef (`0x02......`) or TypeRef (`0x01......`) token.
    fn type_token_name(&self, token: u32) -> Option<String>;
    /// The name of the type whose MethodTable is `mt` (`ELEMENT_TYPE_INTERNAL`).
    fn method_table_name(&self, mt: u64) -> Option<String>;
}

/// What one decoding of a window gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigText {
    /// The text (SOS prints it with a line end).
    Done(String),
    /// The signature runs past the window: read more and decode again.
    NeedMore,
    /// SOS gives up and prints nothing.
    Failed,
}

const CALLING: [&str; 16] = [
    "[DEFAULT]", "[C]", "[STDCALL]", "[THISCALL]", "[FASTCALL]", "[VARARG]", "[FIELD]", "[LOCALSIG]",
    "[PROPERTY]", "[UNMANAGED]", "[GENERICINST]", "[NATIVEVARARG]", "[UNKNOWN]", "[UNKNOWN]", "[UNKNOWN]", "[UNKNOWN]",
];

const ELEMENT: [&str; 0x23] = [
    "End", "Void", "Boolean", "Char", "I1", "U1", "I2", "U2", "I4", "U4", "I8", "U8", "R4", "R8", "String", "Ptr",
    "ByRef", "ValueType", "Class", "Var", "MDArray", "GenericInst", "TypedByRef", "UNUSED", "IntPtr", "UIntPtr",
    "UNUSED", "FnPtr", "Object", "SZArray", "MVar", "CMOD_REQD", "CMOD_OPT", "INTERNAL", "CMOD_INTERNAL",
];

const CONV_MASK: u32 = 0x0f;
const CONV_FIELD: u32 = 0x06;
const CONV_LOCAL_SIG: u32 = 0x07;
const HAS_THIS: u32 = 0x20;
const EXPLICIT_THIS: u32 = 0x40;
const GENERIC: u32 = 0x10;
/// `ELEMENT_TYPE_MAX`.
const ELEMENT_MAX: u32 = 0x22;
/// The "no length" a failed unchecked read of a compressed number gives (`(ULONG)-1`).
const BAD: u32 = u32::MAX;

/// A decoding failure (an `HRESULT` that failed).
struct Fail;

struct Decoder<'a> {
    bytes: &'a [u8],
    names: &'a dyn SigNames,
    out: String,
    depth: u32,
}

impl Decoder<'_> {
    fn byte(&self, at: u32) -> u8 {
        self.bytes.get(at as usize).copied().unwrap_or(0)
    }

    /// An unchecked compressed number: `(length, value)`, length `BAD` when the first
    /// byte starts no encoding.
    fn number(&self, at: u32) -> (u32, u32) {
        let b = self.byte(at) as u32;
        if b & 0x80 == 0 {
            (1, b)
        } else if b & 0xc0 == 0x80 {
            (2, ((b & 0x3f) << 8) | self.byte(at.wrapping_add(1)) as u32)
        } else if b & 0xe0 == 0xc0 {
            let v = ((b & 0x1f) << 24)
                | (self.byte(at.wrapping_add(1)) as u32) << 16
                | (self.byte(at.wrapping_add(2)) as u32) << 8
                | self.byte(at.wrapping_add(3)) as u32;
            (4, v)
        } else {
            (BAD, 0)
        }
    }

    /// A compressed number checked against the `len` bytes said to be left.
    fn checked_number(&self, at: u32, len: u32) -> Result<(u32, u32), Fail> {
        let (cb, v) = self.number(at);
        if cb == BAD || len < cb {
            return Err(Fail);
        }
        Ok((cb, v))
    }

    /// A compressed signed number (array lower bounds).
    fn signed_number(&self, at: u32) -> (u32, i32) {
        let (cb, v) = self.number(at);
        let value = if v & 1 == 0 {
            (v >> 1) as i32
        } else {
            let sign: u32 = match cb {
                1 => 0xffff_ffc0,
                2 => 0xffff_e000,
                _ => 0xf000_0000,
            };
            ((v >> 1) | sign) as i32
        };
        (cb, value)
    }

    /// A compressed TypeDefOrRef token.
    fn token(&self, at: u32) -> (u32, u32) {
        let (cb, v) = self.number(at);
        const KINDS: [u32; 4] = [0x0200_0000, 0x0100_0000, 0x1b00_0000, 0x7200_0000];
        (cb, (v >> 2) | KINDS[(v & 3) as usize])
    }

    fn type_token_name(&self, token: u32) -> String {
        if token & 0x00ff_ffff == 0 {
            return String::new();
        }
        match token & 0xff00_0000 {
            0x0200_0000 | 0x0100_0000 => self.names.type_token_name(token).unwrap_or_else(|| format!("0x{token:08x}")),
            _ => "[InvalidReference]".to_string(),
        }
    }

    /// One element type at `at`, `len` bytes said to be left; `Ok(length)` or a failure
    /// with the length SOS reports with it (`None`: it reports none).
    fn element(&mut self, at: u32, len: u32) -> (Result<(), Fail>, Option<u32>) {
        let mut cur: u32 = 0;
        if self.depth >= MAX_DEPTH {
            return (Err(Fail), None);
        }
        self.depth += 1;
        let result = self.element_body(at, len, &mut cur);
        self.depth -= 1;
        match result {
            Body::Exit(mut r) => {
                if cur > len {
                    r = Err(Fail);
                }
                (r, Some(cur))
            }
            Body::Return(r) => (r, None),
        }
    }

    fn element_body(&mut self, at: u32, len: u32, cur: &mut u32) -> Body {
        let pos = |cur: u32| at.wrapping_add(cur);
        let (cb, mut data) = self.number(at);
        if cb == BAD {
            return Body::Exit(Err(Fail));
        }
        *cur = cur.wrapping_add(cb);
        if data & 0x40 != 0 {
            match data {
                0x41 => self.out.push_str("<ELEMENT_TYPE_SENTINEL> "),
                0x45 => self.out.push_str("PINNED "),
                _ => return Body::Exit(Err(Fail)),
            }
            let (r, cb) = self.element(pos(*cur), len.wrapping_sub(*cur));
            if r.is_ok() {
                *cur = cur.wrapping_add(cb.unwrap_or(0));
            }
            return Body::Exit(Ok(()));
        }
        if data >= ELEMENT_MAX {
            return Body::Exit(Err(Fail));
        }
        let mut guard = 0u32;
        while data == 0x0f || data == 0x10 {
            self.out.push_str(ELEMENT[data as usize]);
            self.out.push(' ');
            let (cb, d) = self.number(pos(*cur));
            data = d;
            *cur = cur.wrapping_add(cb);
            guard += 1;
            if guard > len.saturating_add(1) || self.out.len() > MAX_TEXT {
                return Body::Exit(Err(Fail));
            }
        }
        if data == 0x13 || data == 0x1e {
            self.out.push_str(if data == 0x13 { "!" } else { "!!" });
            match self.checked_number(pos(*cur), len.wrapping_sub(*cur)) {
                Ok((cb, index)) => {
                    *cur = cur.wrapping_add(cb);
                    self.out.push_str(&index.to_string());
                    return Body::Exit(Ok(()));
                }
                Err(f) => return Body::Exit(Err(f)),
            }
        }
        if data == 0x15 {
            let (r, cb) = self.element(pos(*cur), len.wrapping_sub(*cur));
            if r.is_err() {
                return Body::Exit(r);
            }
            *cur = cur.wrapping_add(cb.unwrap_or(0));
            let count = match self.checked_number(pos(*cur), len.wrapping_sub(*cur)) {
                Ok((cb, n)) => {
                    *cur = cur.wrapping_add(cb);
                    n
                }
                Err(f) => return Body::Exit(Err(f)),
            };
            self.out.push('<');
            for i in 0..count {
                if i > 0 {
                    self.out.push(',');
                }
                let (r, cb) = self.element(pos(*cur), len.wrapping_sub(*cur));
                if r.is_err() {
                    return Body::Exit(r);
                }
                *cur = cur.wrapping_add(cb.unwrap_or(0));
                if self.out.len() > MAX_TEXT {
                    return Body::Exit(Err(Fail));
                }
            }
            self.out.push('>');
            return Body::Exit(Ok(()));
        }
        if data as usize >= ELEMENT.len() {
            self.out.push_str("INVALID_ELEMENT_TYPE");
            return Body::Return(Err(Fail));
        }
        self.out.push_str(ELEMENT[data as usize]);
        // CorIsPrimitiveType (below Ptr, or I/U), TypedByRef, Object, I, U.
        if data < 0x0f || data == 0x18 || data == 0x19 || data == 0x16 || data == 0x1c {
            return Body::Exit(Ok(()));
        }
        self.out.push(' ');
        if matches!(data, 0x11 | 0x12 | 0x1f | 0x20) {
            let (cb, tk) = self.token(pos(*cur));
            *cur = cur.wrapping_add(cb);
            if matches!(tk & 0xff00_0000, 0x0200_0000 | 0x0100_0000) {
                let name = self.type_token_name(tk);
                self.out.push_str(&name);
            } else {
                self.out.push_str(&format!("{tk:x}"));
            }
            if data == 0x1f || data == 0x20 {
                self.out.push(' ');
                let (r, cb) = self.element(pos(*cur), len.wrapping_sub(*cur));
                if r.is_ok() {
                    *cur = cur.wrapping_add(cb.unwrap_or(0));
                }
            }
            return Body::Exit(Ok(()));
        }
        if data == 0x1d {
            let (r, cb) = self.element(pos(*cur), len.wrapping_sub(*cur));
            if r.is_ok() {
                *cur = cur.wrapping_add(cb.unwrap_or(0));
            }
            return Body::Exit(Ok(()));
        }
        if data == 0x1b {
            let (cb, conv) = self.number(pos(*cur));
            *cur = cur.wrapping_add(cb);
            if conv & EXPLICIT_THIS != 0 {
                self.out.push_str("[explicit] ");
            }
            if conv & HAS_THIS != 0 {
                self.out.push_str("[hasThis] ");
            }
            self.out.push_str(CALLING[(conv & CONV_MASK) as usize]);
            let (cb, mut args) = self.number(pos(*cur));
            *cur = cur.wrapping_add(cb);
            let (r, cb) = self.element(pos(*cur), len.wrapping_sub(*cur));
            if r.is_err() {
                return Body::Exit(Ok(()));
            }
            *cur = cur.wrapping_add(cb.unwrap_or(0));
            self.out.push('(');
            while args > 0 {
                if *cur > len {
                    return Body::Exit(Ok(()));
                }
                let (r, cb) = self.element(pos(*cur), len.wrapping_sub(*cur));
                if r.is_err() {
                    return Body::Exit(Ok(()));
                }
                *cur = cur.wrapping_add(cb.unwrap_or(0));
                args -= 1;
                if args > 0 {
                    self.out.push(',');
                }
            }
            self.out.push(')');
            return Body::Exit(Ok(()));
        }
        if data == 0x21 {
            self.out.push_str("MT ");
            let mut raw = [0u8; 8];
            for (i, b) in raw.iter_mut().enumerate() {
                *b = self.byte(pos(cur.wrapping_add(i as u32)));
            }
            let mt = u64::from_le_bytes(raw);
            *cur = cur.wrapping_add(8);
            self.out.push_str(&format!("{mt:x} "));
            match self.names.method_table_name(mt) {
                Some(name) => self.out.push_str(&name),
                None => return Body::Exit(Err(Fail)),
            }
            return Body::Exit(Ok(()));
        }
        if data != 0x14 {
            return Body::Return(Err(Fail));
        }
        self.out.push('{');
        let (r, cb) = self.element(pos(*cur), len.wrapping_sub(*cur));
        if r.is_err() {
            return Body::Exit(Ok(()));
        }
        *cur = cur.wrapping_add(cb.unwrap_or(0));
        self.out.push_str(", ");
        let (cb, rank) = self.number(pos(*cur));
        *cur = cur.wrapping_add(cb);
        self.out.push_str(&rank.to_string());
        if rank == 0 {
            return Body::Exit(Ok(()));
        }
        self.out.push(' ');
        let (cb, sizes) = self.number(pos(*cur));
        *cur = cur.wrapping_add(cb);
        self.out.push_str(&sizes.to_string());
        if sizes == 0 {
            self.out.push(' ');
        }
        for _ in 0..sizes.min(len.saturating_add(1)) {
            let (cb, size) = self.number(pos(*cur));
            self.out.push_str(&size.to_string());
            self.out.push(' ');
            *cur = cur.wrapping_add(cb);
        }
        let (cb, bounds) = self.number(pos(*cur));
        *cur = cur.wrapping_add(cb);
        self.out.push_str(&bounds.to_string());
        self.out.push(' ');
        for _ in 0..bounds.min(len.saturating_add(1)) {
            let (cb, bound) = self.signed_number(pos(*cur));
            self.out.push_str(&bound.to_string());
            self.out.push(' ');
            *cur = cur.wrapping_add(cb);
        }
        self.out.push('}');
        Body::Exit(Ok(()))
    }

    /// A method (or field, or locals) signature; the bytes left over (negative: the
    /// signature needs more than the window).
    fn method(&mut self, len: u32) -> (Result<(), Fail>, i32) {
        let mut len = len;
        let mut cur: u32 = 0;
        let (mut cb, conv) = self.number(0);
        let result = 'exit: {
            self.out.push_str(CALLING[(conv & CONV_MASK) as usize]);
            if cb > len {
                break 'exit Ok(());
            }
            cur = cur.wrapping_add(cb);
            len = len.wrapping_sub(cb);
            self.out.push(' ');
            if conv & CONV_MASK == CONV_FIELD {
                let (r, c) = self.element(cur, len);
                cb = c.unwrap_or(cb);
                if r.is_err() {
                    break 'exit r;
                }
                self.out.push(' ');
                if cb > len {
                    break 'exit Ok(());
                }
                len = len.wrapping_sub(cb);
            } else {
                if conv & HAS_THIS != 0 {
                    self.out.push_str("[hasThis] ");
                }
                if conv & EXPLICIT_THIS != 0 {
                    self.out.push_str("[explicit] ");
                }
                if conv & GENERIC != 0 {
                    let (c, count) = self.number(cur);
                    cb = c;
                    if cb > len {
                        break 'exit Ok(());
                    }
                    self.out.push_str(&format!("[generic:{count}] "));
                    cur = cur.wrapping_add(cb);
                    len = len.wrapping_sub(cb);
                }
                let (c, args) = self.number(cur);
                cb = c;
                if cb > len {
                    break 'exit Ok(());
                }
                cur = cur.wrapping_add(cb);
                len = len.wrapping_sub(cb);
                if conv != CONV_LOCAL_SIG {
                    let (r, c) = self.element(cur, len);
                    cb = c.unwrap_or(cb);
                    if r.is_err() {
                        break 'exit r;
                    }
                    self.out.push_str(" (");
                    if cb > len {
                        break 'exit Ok(());
                    }
                    cur = cur.wrapping_add(cb);
                    len = len.wrapping_sub(cb);
                }
                let mut i = 0u32;
                while i < args && len > 0 {
                    i += 1;
                    let (r, c) = self.element(cur, len);
                    cb = c.unwrap_or(cb);
                    if r.is_err() {
                        break 'exit r;
                    }
                    if i != args {
                        self.out.push(',');
                    }
                    if cb > len {
                        break 'exit Ok(());
                    }
                    cur = cur.wrapping_add(cb);
                    len = len.wrapping_sub(cb);
                    if self.out.len() > MAX_TEXT {
                        break 'exit Err(Fail);
                    }
                }
                self.out.push(')');
            }
            cb = 0;
            Ok(())
        };
        (result, len.wrapping_sub(cb) as i32)
    }
}

/// What [`Decoder::element_body`] did: left through SOS's common exit (which reports a
/// length) or returned straight away.
enum Body {
    Exit(Result<(), Fail>),
    Return(Result<(), Fail>),
}

/// Deepest nesting of element types followed.
const MAX_DEPTH: u32 = 256;
/// Longest text built (a hostile blob could otherwise nest without end).
const MAX_TEXT: usize = 1 << 20;

/// `dumpsig`: the window as a method, field or locals signature.
pub fn method_signature(bytes: &[u8], names: &dyn SigNames) -> SigText {
    let mut d = Decoder { bytes, names, out: String::new(), depth: 0 };
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    match d.method(len) {
        (Err(Fail), _) => SigText::Failed,
        (Ok(()), left) if left < 0 => SigText::NeedMore,
        (Ok(()), _) => SigText::Done(d.out),
    }
}

/// `dumpsigelem`: the window as one element type.
pub fn element_signature(bytes: &[u8], names: &dyn SigNames) -> SigText {
    let mut d = Decoder { bytes, names, out: String::new(), depth: 0 };
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    match d.element(0, len) {
        (Ok(()), _) => SigText::Done(d.out),
        (Err(Fail), Some(cb)) if cb > len => SigText::NeedMore,
        (Err(Fail), _) => SigText::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names;
    impl SigNames for Names {
        fn type_token_name(&self, token: u32) -> Option<String> {
            (token == 0x0100_0005).then(|| "System.Type".to_string())
        }
        fn method_table_name(&self, _: u64) -> Option<String> {
            None
        }
    }

    fn method(hex: &[u8]) -> SigText {
        let mut window = hex.to_vec();
        window.resize(256, 0);
        method_signature(&window, &Names)
    }

    #[test]
    fn spells_as_sos() {
        assert_eq!(method(&[0x20, 0x01, 0x01, 0x08]), SigText::Done("[DEFAULT] [hasThis] Void (I4)".into()));
        assert_eq!(method(&[0x20, 0x01, 0x01, 0x12, 0x15]), SigText::Done("[DEFAULT] [hasThis] Void (Class System.Type)".into()));
        assert_eq!(method(&[0x07, 0x02, 0x08, 0x0e]), SigText::Done("[LOCALSIG] I4,String)".into()));
        assert_eq!(method(&[0x06, 0x1d, 0x05]), SigText::Done("[FIELD] SZArray U1 ".into()));
        assert_eq!(method(&[0x10, 0x01, 0x01, 0x01, 0x1e, 0x00]), SigText::Done("[DEFAULT] [generic:1] Void (!!0)".into()));
        // A type that is no element type: SOS prints nothing.
        assert_eq!(method(&[0x00, 0x01, 0x01, 0x23]), SigText::Failed);
        let mut e = vec![0x1d, 0x08];
        e.resize(256, 0);
        assert_eq!(element_signature(&e, &Names), SigText::Done("SZArray I4".into()));
    }

    #[test]
    fn hostile_windows_end() {
        // Pointers to pointers to the window's end, nested generic instantiations.
        let mut w = vec![0x00, 0x01, 0x01];
        w.extend(std::iter::repeat_n(0x0f, 300));
        assert!(matches!(method_signature(&w, &Names), SigText::Failed | SigText::NeedMore | SigText::Done(_)));
        let w: Vec<u8> = std::iter::repeat_n(0x15, 4096).collect();
        let _ = element_signature(&w, &Names);
        let _ = method_signature(&[], &Names);
        let _ = element_signature(&[], &Names);
    }
}

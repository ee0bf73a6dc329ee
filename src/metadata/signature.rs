//! Signature blobs (§II.23.2): compressed integers and the decoding of field signatures
//! and type specifications into [`SigType`].
//!
//! Custom modifiers (`modreq`/`modopt`) and `pinned` are skipped; function-pointer
//! signatures are validated but reduced to [`SigType::FnPtr`]. Nesting is limited to
//! [`MAX_DEPTH`] levels, and every element consumes input, so neither recursion nor
//! allocation can be driven beyond what the blob holds.
use super::tables::TableId;
use super::{MetadataError, Result, Token};

/// The first byte of a local variable signature.
const LOCAL_SIG: u8 = 0x07;

/// Deepest type nesting accepted in a signature.
pub const MAX_DEPTH: usize = 64;

/// A type as written in a signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SigType {
    Void,
    Boolean,
    Char,
    I1,
    U1,
    I2,
    U2,
    I4,
    U4,
    I8,
    U8,
    R4,
    R8,
    /// `native int`
    I,
    /// `native unsigned int`
    U,
    String,
    Object,
    TypedByRef,
    /// A reference type: TypeDef, TypeRef or TypeSpec token.
    Class(Token),
    /// A value type: TypeDef, TypeRef or TypeSpec token.
    ValueType(Token),
    /// Single-dimension zero-based array `T[]`.
    SzArray(Box<SigType>),
    /// General array `T[,]` (sizes and lower bounds are not kept).
    Array {
        elem: Box<SigType>,
        rank: u32,
    },
    /// Instantiation of a generic type definition.
    GenericInst {
        generic: Token,
        is_value_type: bool,
        args: Vec<SigType>,
    },
    /// Generic parameter of the enclosing type (`!n`).
    Var(u32),
    /// Generic parameter of the enclosing method (`!!n`).
    MVar(u32),
    Ptr(Box<SigType>),
    ByRef(Box<SigType>),
    /// Function pointer (its signature is not kept).
    FnPtr,
}

/// Element type codes (CorElementType, §II.23.1.16), also used by the runtime's FieldDescs.
pub mod et {
    pub const VOID: u8 = 0x01;
    pub const BOOLEAN: u8 = 0x02;
    pub const CHAR: u8 = 0x03;
    pub const I1: u8 = 0x04;
    pub const U1: u8 = 0x05;
    pub const I2: u8 = 0x06;
    pub const U2: u8 = 0x07;
    pub const I4: u8 = 0x08;
    pub const U4: u8 = 0x09;
    pub const I8: u8 = 0x0a;
    pub const U8: u8 = 0x0b;
    pub const R4: u8 = 0x0c;
    pub const R8: u8 = 0x0d;
    pub const STRING: u8 = 0x0e;
    pub const PTR: u8 = 0x0f;
    pub const BYREF: u8 = 0x10;
    pub const VALUETYPE: u8 = 0x11;
    pub const CLASS: u8 = 0x12;
    pub const VAR: u8 = 0x13;
    pub const ARRAY: u8 = 0x14;
    pub const GENERICINST: u8 = 0x15;
    pub const TYPEDBYREF: u8 = 0x16;
    pub const I: u8 = 0x18;
    pub const U: u8 = 0x19;
    pub const FNPTR: u8 = 0x1b;
    pub const OBJECT: u8 = 0x1c;
    pub const SZARRAY: u8 = 0x1d;
    pub const MVAR: u8 = 0x1e;
    pub const CMOD_REQD: u8 = 0x1f;
    pub const CMOD_OPT: u8 = 0x20;
    pub const SENTINEL: u8 = 0x41;
    pub const PINNED: u8 = 0x45;
    /// One past the last valid CorElementType.
    pub const MAX: u8 = 0x22;
}

/// Calling-convention byte of a field signature (low nibble).
const FIELD_SIG: u8 = 0x06;
/// Calling-convention flag: the method signature has a generic parameter count.
const SIG_GENERIC: u8 = 0x10;

/// Decodes a compressed unsigned integer (§II.23.2) at `*pos`, advancing it.
pub(crate) fn read_compressed_u32(data: &[u8], pos: &mut usize) -> Option<u32> {
    let b0 = *data.get(*pos)?;
    let (len, value) = match b0 {
        0x00..=0x7f => (1, u32::from(b0)),
        0x80..=0xbf => (
            2,
            u32::from(b0 & 0x3f) << 8 | u32::from(*data.get(*pos + 1)?),
        ),
        0xc0..=0xdf => {
            let b = data.get(*pos + 1..*pos + 4)?;
            (
                4,
                u32::from(b0 & 0x1f) << 24
                    | u32::from(b[0]) << 16
                    | u32::from(b[1]) << 8
                    | u32::from(b[2]),
            )
        }
        _ => return None,
    };
    *pos += len;
    Some(value)
}

/// A cursor over a signature blob.
struct SigReader<'a> {
    data: &'a [u8],
    pos: usize,
}

fn bad(msg: impl Into<String>) -> MetadataError {
    MetadataError::BadSignature(msg.into())
}

impl SigReader<'_> {
    fn peek(&self) -> Result<u8> {
        self.data
            .get(self.pos)
            .copied()
            .ok_or_else(|| bad("unexpected end of blob"))
    }

    fn byte(&mut self) -> Result<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn compressed(&mut self) -> Result<u32> {
        read_compressed_u32(self.data, &mut self.pos)
            .ok_or_else(|| bad(format!("bad compressed integer at offset {}", self.pos)))
    }

    /// A compressed signed integer (only its length matters to us, but decode it fully).
    fn compressed_signed(&mut self) -> Result<i32> {
        let start = self.pos;
        let raw = self.compressed()?;
        // The sign bit is rotated into bit 0; extend from 6, 13 or 28 bits.
        let sign_ext = match self.pos - start {
            1 => 0xffff_ffc0u32,
            2 => 0xffff_e000,
            _ => 0xf000_0000,
        };
        let v = raw >> 1;
        Ok(if raw & 1 != 0 {
            (v | sign_ext) as i32
        } else {
            v as i32
        })
    }

    /// A `TypeDefOrRefOrSpecEncoded` (§II.23.2.8).
    fn type_def_or_ref(&mut self) -> Result<Token> {
        let v = self.compressed()?;
        let table = match v & 3 {
            0 => TableId::TypeDef,
            1 => TableId::TypeRef,
            2 => TableId::TypeSpec,
            _ => return Err(bad(format!("bad TypeDefOrRef encoding {v:#x}"))),
        };
        Ok(Token::new(table, v >> 2))
    }

    /// Skips custom modifiers (and `pinned`).
    fn skip_modifiers(&mut self) -> Result<()> {
        loop {
            match self.peek()? {
                et::CMOD_REQD | et::CMOD_OPT => {
                    self.pos += 1;
                    self.type_def_or_ref()?;
                }
                et::PINNED => self.pos += 1,
                _ => return Ok(()),
            }
        }
    }

    fn ty(&mut self, depth: usize) -> Result<SigType> {
        if depth >= MAX_DEPTH {
            return Err(MetadataError::TooDeep("signature"));
        }
        self.skip_modifiers()?;
        let code = self.byte()?;
        let inner = |r: &mut Self| r.ty(depth + 1).map(Box::new);
        Ok(match code {
            et::VOID => SigType::Void,
            et::BOOLEAN => SigType::Boolean,
            et::CHAR => SigType::Char,
            et::I1 => SigType::I1,
            et::U1 => SigType::U1,
            et::I2 => SigType::I2,
            et::U2 => SigType::U2,
            et::I4 => SigType::I4,
            et::U4 => SigType::U4,
            et::I8 => SigType::I8,
            et::U8 => SigType::U8,
            et::R4 => SigType::R4,
            et::R8 => SigType::R8,
            et::I => SigType::I,
            et::U => SigType::U,
            et::STRING => SigType::String,
            et::OBJECT => SigType::Object,
            et::TYPEDBYREF => SigType::TypedByRef,
            et::CLASS => SigType::Class(self.type_def_or_ref()?),
            et::VALUETYPE => SigType::ValueType(self.type_def_or_ref()?),
            et::VAR => SigType::Var(self.compressed()?),
            et::MVAR => SigType::MVar(self.compressed()?),
            et::PTR => SigType::Ptr(inner(self)?),
            et::BYREF => SigType::ByRef(inner(self)?),
            et::SZARRAY => SigType::SzArray(inner(self)?),
            et::ARRAY => {
                let elem = inner(self)?;
                let rank = self.compressed()?;
                let num_sizes = self.compressed()?;
                for _ in 0..num_sizes {
                    self.compressed()?;
                }
                let num_lo_bounds = self.compressed()?;
                for _ in 0..num_lo_bounds {
                    self.compressed_signed()?;
                }
                SigType::Array { elem, rank }
            }
            et::GENERICINST => {
                let is_value_type = match self.byte()? {
                    et::CLASS => false,
                    et::VALUETYPE => true,
                    b => return Err(bad(format!("GENERICINST of element type {b:#x}"))),
                };
                let generic = self.type_def_or_ref()?;
                let count = self.compressed()?;
                if count == 0 {
                    return Err(bad("GENERICINST with no arguments"));
                }
                // Each argument takes at least one byte: the blob bounds the Vec.
                let mut args = Vec::new();
                for _ in 0..count {
                    args.push(self.ty(depth + 1)?);
                }
                SigType::GenericInst {
                    generic,
                    is_value_type,
                    args,
                }
            }
            et::FNPTR => {
                self.method_sig(depth + 1)?;
                SigType::FnPtr
            }
            b => return Err(bad(format!("unexpected element type {b:#x}"))),
        })
    }

    /// Validates and skips a MethodDefSig/MethodRefSig (for function pointers).
    fn method_sig(&mut self, depth: usize) -> Result<()> {
        let conv = self.byte()?;
        if conv & SIG_GENERIC != 0 {
            self.compressed()?;
        }
        let params = self.compressed()?;
        self.ty(depth)?; // return type
        for _ in 0..params {
            self.skip_modifiers()?;
            if self.peek()? == et::SENTINEL {
                self.pos += 1;
            }
            self.ty(depth)?;
        }
        Ok(())
    }
}

/// Decodes a field signature blob (`FIELD` CustomMod* Type).
pub fn decode_field_signature(blob: &[u8]) -> Result<SigType> {
    let mut r = SigReader { data: blob, pos: 0 };
    let conv = r.byte()?;
    if conv & 0x0f != FIELD_SIG {
        return Err(bad(format!(
            "not a field signature (calling convention {conv:#x})"
        )));
    }
    r.ty(0)
}

/// Decodes a bare type (a TypeSpec blob).
pub fn decode_type(blob: &[u8]) -> Result<SigType> {
    SigReader { data: blob, pos: 0 }.ty(0)
}

/// The parameter types of a method signature (`MethodDefSig`/`MethodRefSig`); the return
/// type is decoded and dropped, a vararg sentinel is skipped.
pub fn decode_method_params(blob: &[u8]) -> Result<Vec<SigType>> {
    let mut r = SigReader { data: blob, pos: 0 };
    let conv = r.byte()?;
    if conv & 0x0f == FIELD_SIG {
        return Err(bad("a field signature, not a method's"));
    }
    if conv & SIG_GENERIC != 0 {
        r.compressed()?;
    }
    let count = r.compressed()?;
    r.ty(0)?; // return type
    // Each parameter takes at least one byte: the blob bounds the Vec.
    let mut params = Vec::new();
    for _ in 0..count {
        r.skip_modifiers()?;
        if r.peek()? == et::SENTINEL {
            r.pos += 1;
        }
        params.push(r.ty(0)?);
    }
    Ok(params)
}

/// The types of a local variable signature (`LOCAL_SIG` Count (CustomMod* [pinned]
/// Type)*); a byref local is a [`SigType::ByRef`].
pub fn decode_local_signature(blob: &[u8]) -> Result<Vec<SigType>> {
    let mut r = SigReader { data: blob, pos: 0 };
    if r.byte()? != LOCAL_SIG {
        return Err(bad("not a local variable signature"));
    }
    let count = r.compressed()?;
    // Each local takes at least one byte: the blob bounds the Vec.
    let mut locals = Vec::new();
    for _ in 0..count {
        r.skip_modifiers()?;
        locals.push(r.ty(0)?);
    }
    Ok(locals)
}

/// Whether a method signature has an implicit `this` (`HASTHIS` without `EXPLICITTHIS`).
pub fn method_has_this(blob: &[u8]) -> bool {
    blob.first().is_some_and(|&c| c & 0x20 != 0 && c & 0x40 == 0)
}

#[cfg(test)]
mod method_sig_tests {
    use super::*;

    #[test]
    fn local_signatures() {
        // 3 locals: int32, pinned byte[] (a custom modifier skipped first), object byref.
        let blob = [LOCAL_SIG, 3, et::I4, et::PINNED, et::SZARRAY, et::U1, et::BYREF, et::OBJECT];
        assert_eq!(
            decode_local_signature(&blob).unwrap(),
            vec![
                SigType::I4,
                SigType::SzArray(Box::new(SigType::U1)),
                SigType::ByRef(Box::new(SigType::Object))
            ]
        );
        assert!(decode_local_signature(&[0x06, 1, et::I4]).is_err());
        assert!(method_has_this(&[0x20, 0, et::VOID]));
        assert!(!method_has_this(&[0x00, 0, et::VOID]));
    }

    #[test]
    fn method_params() {
        // instance? default conv 0x00, 2 params, returns void: (int32, string[])
        let blob = [0x00, 2, et::VOID, et::I4, et::SZARRAY, et::STRING];
        assert_eq!(
            decode_method_params(&blob).unwrap(),
            vec![SigType::I4, SigType::SzArray(Box::new(SigType::String))]
        );
        // generic method: conv 0x30 (HASTHIS | GENERIC), 1 generic param, 1 param !!0 byref
        let blob = [0x30, 1, 1, et::BOOLEAN, et::BYREF, et::MVAR, 0];
        assert_eq!(
            decode_method_params(&blob).unwrap(),
            vec![SigType::ByRef(Box::new(SigType::MVar(0)))]
        );
        assert!(decode_method_params(&[0x06, et::I4]).is_err(), "field signature");
        assert!(decode_method_params(&[0x00, 200, et::VOID, et::I4]).is_err(), "truncated");
    }
}

//! Method bodies (ECMA-335 §II.25.4): the tiny and fat headers, the code, the exception
//! handling sections, and the instructions of the code (§III) with their operands.
//!
//! Bodies come from dump memory, so nothing here trusts a size: the code is cut to the
//! bytes given, a section list stops at the first section that does not fit, and an
//! instruction whose operand runs past the end is reported as cut short.
use super::{MetadataError, Result};

/// `CorILMethod_TinyFormat` / `CorILMethod_FatFormat` (the header's low two bits).
const TINY_FORMAT: u8 = 0x2;
const FAT_FORMAT: u8 = 0x3;
/// `CorILMethod_MoreSects`.
const MORE_SECTS: u16 = 0x8;
/// Section kinds: `CorILMethod_Sect_EHTable`, `_FatFormat`, `_MoreSects`.
const SECT_EH_TABLE: u8 = 0x1;
const SECT_FAT_FORMAT: u8 = 0x40;
const SECT_MORE_SECTS: u8 = 0x80;
/// Most sections followed in one body.
const MAX_SECTIONS: usize = 64;

/// `COR_ILEXCEPTION_CLAUSE_*` kinds.
pub mod clause_flags {
    pub const EXCEPTION: u32 = 0x0;
    pub const FILTER: u32 = 0x1;
    pub const FINALLY: u32 = 0x2;
    pub const FAULT: u32 = 0x4;
}

/// One exception handling clause of a method body, in IL offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EhClause {
    pub flags: u32,
    pub try_offset: u32,
    pub try_length: u32,
    pub handler_offset: u32,
    pub handler_length: u32,
    /// The catch type's token, or the filter's offset.
    pub class_token_or_filter: u32,
}

/// A method body: where its code is in the bytes given, and its clauses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodBody {
    /// Size of the header in bytes.
    pub header_size: usize,
    /// Size of the code as the header declares it.
    pub code_size: u32,
    /// Size of the whole body (header, code, sections) as laid out.
    pub total_size: usize,
    /// `LocalVarSigTok` (0 for a tiny header).
    pub local_signature: u32,
    /// `MaxStack` (8 for a tiny header).
    pub max_stack: u16,
    /// The clauses of the first exception handling section.
    pub clauses: Vec<EhClause>,
}

impl MethodBody {
    /// Parses the header and sections at the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<MethodBody> {
        let bad = |what: &str| MetadataError::Malformed(what.to_string());
        let first = *bytes.first().ok_or(bad("an empty method body"))?;
        match first & 3 {
            TINY_FORMAT => {
                let code_size = (first >> 2) as u32;
                Ok(MethodBody {
                    header_size: 1,
                    code_size,
                    total_size: 1 + code_size as usize,
                    local_signature: 0,
                    max_stack: 8,
                    clauses: Vec::new(),
                })
            }
            FAT_FORMAT => {
                let word = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
                let dword = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                let flags = word(0).ok_or(bad("a cut fat method header"))?;
                let header_size = ((flags >> 12) as usize) * 4;
                let max_stack = word(2).ok_or(bad("a cut fat method header"))?;
                let code_size = dword(4).ok_or(bad("a cut fat method header"))?;
                let local_signature = dword(8).ok_or(bad("a cut fat method header"))?;
                let mut total = header_size.saturating_add(code_size as usize);
                let mut clauses = Vec::new();
                let mut more = flags & MORE_SECTS != 0;
                let mut found_eh = false;
                for _ in 0..MAX_SECTIONS {
                    if !more {
                        break;
                    }
                    let at = total.next_multiple_of(4);
                    let Some(&kind) = bytes.get(at) else { break };
                    let fat = kind & SECT_FAT_FORMAT != 0;
                    let size = if fat {
                        match bytes.get(at + 1..at + 4) {
                            Some(b) => u32::from_le_bytes([b[0], b[1], b[2], 0]) as usize,
                            None => break,
                        }
                    } else {
                        match bytes.get(at + 1) {
                            Some(&b) => b as usize,
                            None => break,
                        }
                    };
                    if kind & SECT_EH_TABLE != 0 && !found_eh {
                        found_eh = true;
                        let clause_size = if fat { 24 } else { 12 };
                        let count = size.saturating_sub(4) / clause_size;
                        for i in 0..count {
                            let c = at + 4 + i * clause_size;
                            let Some(raw) = bytes.get(c..c + clause_size) else { break };
                            let u16_at = |o: usize| u16::from_le_bytes([raw[o], raw[o + 1]]) as u32;
                            let u32_at = |o: usize| u32::from_le_bytes([raw[o], raw[o + 1], raw[o + 2], raw[o + 3]]);
                            clauses.push(if fat {
                                EhClause {
                                    flags: u32_at(0),
                                    try_offset: u32_at(4),
                                    try_length: u32_at(8),
                                    handler_offset: u32_at(12),
                                    handler_length: u32_at(16),
                                    class_token_or_filter: u32_at(20),
                                }
                            } else {
                                EhClause {
                                    flags: u16_at(0),
                                    try_offset: u16_at(2),
                                    try_length: raw[4] as u32,
                                    handler_offset: u16_at(5),
                                    handler_length: raw[7] as u32,
                                    class_token_or_filter: u32_at(8),
                                }
                            });
                        }
                    }
                    more = kind & SECT_MORE_SECTS != 0;
                    if size == 0 {
                        break;
                    }
                    total = at.saturating_add(size);
                }
                Ok(MethodBody { header_size, code_size, total_size: total, local_signature, max_stack, clauses })
            }
            _ => Err(bad("a method header of neither format")),
        }
    }

    /// The code, cut to the bytes given.
    pub fn code<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        let start = self.header_size.min(bytes.len());
        let end = start.saturating_add(self.code_size as usize).min(bytes.len());
        &bytes[start..end]
    }
}

/// How an instruction's operand is encoded (`opcode.def`'s argument kinds, the token
/// kinds merged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// None.
    N,
    /// An argument or local number: one byte, two bytes.
    Var8,
    Var16,
    /// Integers: one (unsigned as stored), four, eight bytes.
    I1,
    I4,
    I8,
    /// Floats: four, eight bytes.
    R4,
    R8,
    /// Branch targets relative to the next instruction: one byte, four bytes.
    Br8,
    Br32,
    /// A metadata token.
    Tok,
    /// A jump table: a count, then that many four-byte offsets.
    Switch,
}

use Operand::*;

/// The one-byte opcodes, by their byte.
const ONE_BYTE: [(&str, Operand); 256] = [
    ("nop", N), ("break", N), ("ldarg.0", N), ("ldarg.1", N), ("ldarg.2", N), ("ldarg.3", N),
    ("ldloc.0", N), ("ldloc.1", N), ("ldloc.2", N), ("ldloc.3", N), ("stloc.0", N), ("stloc.1", N),
    ("stloc.2", N), ("stloc.3", N), ("ldarg.s", Var8), ("ldarga.s", Var8), ("starg.s", Var8),
    ("ldloc.s", Var8), ("ldloca.s", Var8), ("stloc.s", Var8), ("ldnull", N), ("ldc.i4.m1", N),
    ("ldc.i4.0", N), ("ldc.i4.1", N), ("ldc.i4.2", N), ("ldc.i4.3", N), ("ldc.i4.4", N),
    ("ldc.i4.5", N), ("ldc.i4.6", N), ("ldc.i4.7", N), ("ldc.i4.8", N), ("ldc.i4.s", I1),
    ("ldc.i4", I4), ("ldc.i8", I8), ("ldc.r4", R4), ("ldc.r8", R8), ("unused", N), ("dup", N),
    ("pop", N), ("jmp", Tok), ("call", Tok), ("calli", Tok), ("ret", N), ("br.s", Br8),
    ("brfalse.s", Br8), ("brtrue.s", Br8), ("beq.s", Br8), ("bge.s", Br8), ("bgt.s", Br8),
    ("ble.s", Br8), ("blt.s", Br8), ("bne.un.s", Br8), ("bge.un.s", Br8), ("bgt.un.s", Br8),
    ("ble.un.s", Br8), ("blt.un.s", Br8), ("br", Br32), ("brfalse", Br32), ("brtrue", Br32),
    ("beq", Br32), ("bge", Br32), ("bgt", Br32), ("ble", Br32), ("blt", Br32), ("bne.un", Br32),
    ("bge.un", Br32), ("bgt.un", Br32), ("ble.un", Br32), ("blt.un", Br32), ("switch", Switch),
    ("ldind.i1", N), ("ldind.u1", N), ("ldind.i2", N), ("ldind.u2", N), ("ldind.i4", N),
    ("ldind.u4", N), ("ldind.i8", N), ("ldind.i", N), ("ldind.r4", N), ("ldind.r8", N),
    ("ldind.ref", N), ("stind.ref", N), ("stind.i1", N), ("stind.i2", N), ("stind.i4", N),
    ("stind.i8", N), ("stind.r4", N), ("stind.r8", N), ("add", N), ("sub", N), ("mul", N),
    ("div", N), ("div.un", N), ("rem", N), ("rem.un", N), ("and", N), ("or", N), ("xor", N),
    ("shl", N), ("shr", N), ("shr.un", N), ("neg", N), ("not", N), ("conv.i1", N), ("conv.i2", N),
    ("conv.i4", N), ("conv.i8", N), ("conv.r4", N), ("conv.r8", N), ("conv.u4", N), ("conv.u8", N),
    ("callvirt", Tok), ("cpobj", Tok), ("ldobj", Tok), ("ldstr", Tok), ("newobj", Tok),
    ("castclass", Tok), ("isinst", Tok), ("conv.r.un", N), ("unused", N), ("unused", N),
    ("unbox", Tok), ("throw", N), ("ldfld", Tok), ("ldflda", Tok), ("stfld", Tok), ("ldsfld", Tok),
    ("ldsflda", Tok), ("stsfld", Tok), ("stobj", Tok), ("conv.ovf.i1.un", N), ("conv.ovf.i2.un", N),
    ("conv.ovf.i4.un", N), ("conv.ovf.i8.un", N), ("conv.ovf.u1.un", N), ("conv.ovf.u2.un", N),
    ("conv.ovf.u4.un", N), ("conv.ovf.u8.un", N), ("conv.ovf.i.un", N), ("conv.ovf.u.un", N),
    ("box", Tok), ("newarr", Tok), ("ldlen", N), ("ldelema", Tok), ("ldelem.i1", N),
    ("ldelem.u1", N), ("ldelem.i2", N), ("ldelem.u2", N), ("ldelem.i4", N), ("ldelem.u4", N),
    ("ldelem.i8", N), ("ldelem.i", N), ("ldelem.r4", N), ("ldelem.r8", N), ("ldelem.ref", N),
    ("stelem.i", N), ("stelem.i1", N), ("stelem.i2", N), ("stelem.i4", N), ("stelem.i8", N),
    ("stelem.r4", N), ("stelem.r8", N), ("stelem.ref", N), ("ldelem", Tok), ("stelem", Tok),
    ("unbox.any", Tok), ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N),
    ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N),
    ("unused", N), ("unused", N), ("conv.ovf.i1", N), ("conv.ovf.u1", N), ("conv.ovf.i2", N),
    ("conv.ovf.u2", N), ("conv.ovf.i4", N), ("conv.ovf.u4", N), ("conv.ovf.i8", N),
    ("conv.ovf.u8", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N),
    ("unused", N), ("unused", N), ("refanyval", Tok), ("ckfinite", N), ("unused", N), ("unused", N),
    ("mkrefany", Tok), ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N),
    ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("ldtoken", Tok), ("conv.u2", N),
    ("conv.u1", N), ("conv.i", N), ("conv.ovf.i", N), ("conv.ovf.u", N), ("add.ovf", N),
    ("add.ovf.un", N), ("mul.ovf", N), ("mul.ovf.un", N), ("sub.ovf", N), ("sub.ovf.un", N),
    ("endfinally", N), ("leave", Br32), ("leave.s", Br8), ("stind.i", N), ("conv.u", N),
    ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N),
    ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N),
    ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N),
    ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("unused", N), ("prefix7", N),
    ("prefix6", N), ("prefix5", N), ("prefix4", N), ("prefix3", N), ("prefix2", N), ("prefix1", N),
    ("prefixref", N),
];
/// The opcodes after the `0xFE` prefix, by their second byte.
const TWO_BYTE: [(&str, Operand); 35] = [
    ("arglist", N), ("ceq", N), ("cgt", N), ("cgt.un", N), ("clt", N), ("clt.un", N),
    ("ldftn", Tok), ("ldvirtftn", Tok), ("unused", N), ("ldarg", Var16), ("ldarga", Var16),
    ("starg", Var16), ("ldloc", Var16), ("ldloca", Var16), ("stloc", Var16), ("localloc", N),
    ("unused", N), ("endfilter", N), ("unaligned.", I1), ("volatile.", N), ("tail.", N),
    ("initobj", Tok), ("constrained.", Tok), ("cpblk", N), ("initblk", N), ("unused", N),
    ("rethrow", N), ("unused", N), ("sizeof", Tok), ("refanytype", N), ("readonly.", N),
    ("unused", N), ("unused", N), ("unused", N), ("unused", N),
];

/// An instruction's operand as read.
#[derive(Clone, Debug, PartialEq)]
pub enum OperandValue {
    None,
    /// A one- or two-byte variable number.
    Var(u16),
    /// A one-byte integer (as stored: unsigned).
    Int8(u8),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    /// A one-byte branch displacement (as stored: unsigned) and the offset after it.
    ShortBranch(u8, u32),
    /// A four-byte displacement and the offset after it.
    Branch(i32, u32),
    Token(u32),
    /// A jump table's displacements and the offset after it.
    Switch(Vec<i32>, u32),
}

/// One decoded instruction.
#[derive(Clone, Debug, PartialEq)]
pub struct Instruction {
    /// Its offset in the code.
    pub offset: u32,
    /// Its mnemonic (`"unused"` for an undefined opcode, `"illegal"` beyond the table).
    pub name: &'static str,
    pub operand: OperandValue,
    /// The offset after it.
    pub next: u32,
    /// Whether its operand ran past the end of the code.
    pub cut: bool,
}

/// Decodes the instruction at `offset`, `None` at or past the end.
pub fn decode_at(code: &[u8], offset: u32) -> Option<Instruction> {
    let mut pos = offset as usize;
    let first = *code.get(pos)?;
    pos += 1;
    let (name, kind) = if first == 0xFE {
        match code.get(pos) {
            Some(&b) => {
                pos += 1;
                TWO_BYTE.get(b as usize).copied().unwrap_or(("illegal", N))
            }
            None => ("prefix1", N),
        }
    } else {
        ONE_BYTE[first as usize]
    };
    let take = |pos: &mut usize, n: usize| -> Option<&[u8]> {
        let b = code.get(*pos..pos.checked_add(n)?)?;
        *pos += n;
        Some(b)
    };
    let mut cut = false;
    let mut p = pos;
    let operand = (|| -> Option<OperandValue> {
        Some(match kind {
            N => OperandValue::None,
            Var8 => OperandValue::Var(take(&mut p, 1)?[0] as u16),
            Var16 => OperandValue::Var(u16::from_le_bytes(take(&mut p, 2)?.try_into().ok()?)),
            I1 => OperandValue::Int8(take(&mut p, 1)?[0]),
            I4 => OperandValue::Int32(i32::from_le_bytes(take(&mut p, 4)?.try_into().ok()?)),
            I8 => OperandValue::Int64(i64::from_le_bytes(take(&mut p, 8)?.try_into().ok()?)),
            R4 => OperandValue::Float32(f32::from_le_bytes(take(&mut p, 4)?.try_into().ok()?)),
            R8 => OperandValue::Float64(f64::from_le_bytes(take(&mut p, 8)?.try_into().ok()?)),
            Br8 => {
                let d = take(&mut p, 1)?[0];
                OperandValue::ShortBranch(d, p as u32)
            }
            Br32 => {
                let d = i32::from_le_bytes(take(&mut p, 4)?.try_into().ok()?);
                OperandValue::Branch(d, p as u32)
            }
            Tok => OperandValue::Token(u32::from_le_bytes(take(&mut p, 4)?.try_into().ok()?)),
            Switch => {
                let n = u32::from_le_bytes(take(&mut p, 4)?.try_into().ok()?);
                // Every case takes four bytes of the code: the count cannot exceed them.
                let room = (code.len().saturating_sub(p) / 4) as u32;
                if n > room {
                    return None;
                }
                let mut cases = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    cases.push(i32::from_le_bytes(take(&mut p, 4)?.try_into().ok()?));
                }
                OperandValue::Switch(cases, p as u32)
            }
        })
    })()
    .unwrap_or_else(|| {
        cut = true;
        p = code.len();
        OperandValue::None
    });
    Some(Instruction { offset, name, operand, next: p as u32, cut })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_body() {
        // ldarg.0; ret
        let bytes = [(2 << 2) | TINY_FORMAT, 0x02, 0x2a];
        let b = MethodBody::parse(&bytes).unwrap();
        assert_eq!((b.header_size, b.code_size, b.total_size), (1, 2, 3));
        assert_eq!(decode_at(b.code(&bytes), 0).unwrap().name, "ldarg.0");
        assert_eq!(decode_at(b.code(&bytes), 1).unwrap().name, "ret");
        assert!(decode_at(b.code(&bytes), 2).is_none());
    }

    #[test]
    fn fat_body_with_small_eh_section() {
        // Fat header (3 dwords, MoreSects), code: nop; leave.s -2 (backwards); ret; pad;
        // then a small EH section with one catch clause.
        let mut bytes = vec![0x1b, 0x30, 8, 0, 4, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend([0x00, 0xde, 0xfe, 0x2a]);
        bytes.extend([SECT_EH_TABLE, 16, 0, 0]);
        bytes.extend([0, 0, 0, 0, 1, 1, 0, 2, 0x01, 0, 0, 0x01]);
        let b = MethodBody::parse(&bytes).unwrap();
        assert_eq!((b.header_size, b.code_size, b.total_size), (12, 4, 32));
        assert_eq!(
            b.clauses,
            vec![EhClause { flags: 0, try_offset: 0, try_length: 1, handler_offset: 1, handler_length: 2, class_token_or_filter: 0x0100_0001 }]
        );
        let leave = decode_at(b.code(&bytes), 1).unwrap();
        assert_eq!((leave.name, leave.operand.clone(), leave.next), ("leave.s", OperandValue::ShortBranch(0xfe, 3), 3));
    }

    #[test]
    fn cut_operands_and_switch_counts_are_bounded() {
        // ldc.i4 with two of its four bytes; a switch claiming 2^31 cases.
        let i = decode_at(&[0x20, 1, 2], 0).unwrap();
        assert!(i.cut);
        let s = decode_at(&[0x45, 0, 0, 0, 0x80, 1, 2], 0).unwrap();
        assert!(s.cut);
        assert_eq!(decode_at(&[0xfe, 0x01], 0).unwrap().name, "ceq");
        assert_eq!(decode_at(&[0xfe, 0x7f], 0).unwrap().name, "illegal");
    }
}

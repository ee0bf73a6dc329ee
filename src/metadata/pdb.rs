//! Portable PDBs (the ECMA-335 metadata format with a `#Pdb` stream): the source line of
//! an IL offset.
//!
//! A portable PDB is a metadata root (`BSJB`) whose `#Pdb` stream holds the PDB id (the
//! module's CodeView GUID and time stamp, so a PDB is only used with the module it was
//! built with), the entry point, and the row counts of the module's type-system tables
//! (which size the indexes into them). Its table stream holds the debug tables, from
//! `Document` (0x30) and `MethodDebugInformation` (0x31) on: one `MethodDebugInformation`
//! row per MethodDef, whose blob lists the method's sequence points (IL offset, source
//! span, document) with deltas (Portable PDB spec, "Sequence Points Blob").
//!
//! [`PortablePdb::line`] answers as SOS's symbol reader does: the last visible sequence
//! point at or before the IL offset.
use super::{MetadataError, Result};
use std::ops::Range;

/// Largest PDB read.
pub const MAX_PDB_SIZE: usize = 256 << 20;
const DOCUMENT: usize = 0x30;
const METHOD_DEBUG_INFORMATION: usize = 0x31;
/// The line of a hidden sequence point.
const HIDDEN_LINE: u32 = 0xfeefee;
/// Most sequence points decoded for one method.
const MAX_SEQUENCE_POINTS: usize = 1 << 20;

/// A parsed portable PDB.
pub struct PortablePdb {
    data: Vec<u8>,
    id: [u8; 20],
    strings: Range<usize>,
    blobs: Range<usize>,
    documents: TableAt,
    methods: TableAt,
    /// Width of an index into the Document table.
    document_index: usize,
    blob_index: usize,
    guid_index: usize,
}

#[derive(Clone, Copy, Default)]
struct TableAt {
    offset: usize,
    rows: u32,
    row_size: usize,
}

/// One sequence point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencePoint {
    pub il_offset: u32,
    pub start_line: u32,
    pub document: u32,
}

fn malformed(msg: impl Into<String>) -> MetadataError {
    MetadataError::Malformed(msg.into())
}

fn u16_at(d: &[u8], p: usize) -> Option<u16> {
    d.get(p..p.checked_add(2)?).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(d: &[u8], p: usize) -> Option<u32> {
    d.get(p..p.checked_add(4)?).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A compressed unsigned integer (§II.23.2) at `*p`.
fn compressed(d: &[u8], p: &mut usize) -> Option<u32> {
    let b0 = *d.get(*p)? as u32;
    let (v, n) = if b0 & 0x80 == 0 {
        (b0, 1)
    } else if b0 & 0xc0 == 0x80 {
        (((b0 & 0x3f) << 8) | *d.get(*p + 1)? as u32, 2)
    } else if b0 & 0xe0 == 0xc0 {
        let b = d.get(*p + 1..*p + 4)?;
        (((b0 & 0x1f) << 24) | (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32, 4)
    } else {
        return None;
    };
    *p += n;
    Some(v)
}

/// A compressed signed integer (§II.23.2): the rotated sign bit.
fn compressed_signed(d: &[u8], p: &mut usize) -> Option<i32> {
    let start = *p;
    let u = compressed(d, p)?;
    let bits = match *p - start {
        1 => 7,
        2 => 14,
        _ => 29,
    };
    let v = (u >> 1) as i32;
    Some(if u & 1 == 0 { v } else { v - (1 << (bits - 1)) })
}

impl PortablePdb {
    /// Parses a portable PDB; refuses anything else (a Windows PDB, a module).
    pub fn parse(data: Vec<u8>) -> Result<PortablePdb> {
        if data.len() > MAX_PDB_SIZE {
            return Err(MetadataError::TooLarge { what: "PDB", size: data.len() as u64, limit: MAX_PDB_SIZE as u64 });
        }
        let d = &data[..];
        if u32_at(d, 0) != Some(0x424a_5342) {
            return Err(malformed("not a portable PDB (no BSJB metadata root)"));
        }
        let version_len = u32_at(d, 12).ok_or_else(|| malformed("truncated PDB root"))? as usize;
        let mut pos = 16usize.checked_add(version_len.min(256).next_multiple_of(4)).ok_or_else(|| malformed("PDB root"))?;
        let nstreams = u16_at(d, pos + 2).ok_or_else(|| malformed("truncated PDB stream headers"))?;
        pos += 4;
        let mut streams: Vec<(Vec<u8>, Range<usize>)> = Vec::new();
        for _ in 0..nstreams.min(16) {
            let (off, size) = (u32_at(d, pos).ok_or_else(|| malformed("stream header"))?, u32_at(d, pos + 4).ok_or_else(|| malformed("stream header"))?);
            let names = d.get(pos + 8..).unwrap_or_default();
            let len = names.iter().take(32).position(|&b| b == 0).ok_or_else(|| malformed("stream name"))?;
            let range = off as usize..(off as usize).saturating_add(size as usize);
            if range.end > d.len() {
                return Err(malformed("a PDB stream runs past the file"));
            }
            streams.push((names[..len].to_vec(), range));
            pos += 8 + (len + 1).next_multiple_of(4);
        }
        let stream = |n: &[u8]| streams.iter().find(|(s, _)| s == n).map(|(_, r)| r.clone());
        let pdb = stream(b"#Pdb").ok_or_else(|| malformed("no #Pdb stream: not a portable PDB"))?;
        let tables = stream(b"#~").ok_or_else(|| malformed("no #~ stream"))?;
        let id: [u8; 20] = d.get(pdb.start..pdb.start + 20).and_then(|b| b.try_into().ok()).ok_or_else(|| malformed("#Pdb stream"))?;
        // The module's type-system row counts follow the id and the entry point.
        let referenced = u32_at(d, pdb.start + 24).zip(u32_at(d, pdb.start + 28)).map(|(lo, hi)| lo as u64 | (hi as u64) << 32).ok_or_else(|| malformed("#Pdb stream"))?;
        let mut type_rows = [0u32; 64];
        let mut p = pdb.start + 32;
        for (t, rows) in type_rows.iter_mut().enumerate() {
            if referenced & (1 << t) != 0 {
                *rows = u32_at(d, p).ok_or_else(|| malformed("#Pdb row counts"))?;
                p += 4;
            }
        }
        // The table stream: heap sizes, the valid mask, row counts, then the rows.
        let t = tables.start;
        let heap_sizes = *d.get(t + 6).ok_or_else(|| malformed("#~ header"))?;
        let valid = u32_at(d, t + 8).zip(u32_at(d, t + 12)).map(|(lo, hi)| lo as u64 | (hi as u64) << 32).ok_or_else(|| malformed("#~ header"))?;
        let mut rows = [0u32; 64];
        let mut p = t + 24;
        for (i, r) in rows.iter_mut().enumerate() {
            if valid & (1 << i) != 0 {
                *r = u32_at(d, p).ok_or_else(|| malformed("#~ row counts"))?;
                p += 4;
            }
        }
        if valid & ((1 << DOCUMENT) - 1) != 0 {
            return Err(malformed("the PDB's table stream holds type-system tables"));
        }
        let string_index = if heap_sizes & 1 != 0 { 4 } else { 2 };
        let guid_index = if heap_sizes & 2 != 0 { 4 } else { 2 };
        let blob_index = if heap_sizes & 4 != 0 { 4 } else { 2 };
        let _ = (string_index, type_rows);
        let document_index = if rows[DOCUMENT] > 0xffff { 4 } else { 2 };
        let documents = TableAt { offset: p, rows: rows[DOCUMENT], row_size: 2 * blob_index + 2 * guid_index };
        let methods_at = p
            .checked_add(documents.rows as usize * documents.row_size)
            .ok_or_else(|| malformed("Document table size"))?;
        let methods = TableAt { offset: methods_at, rows: rows[METHOD_DEBUG_INFORMATION], row_size: document_index + blob_index };
        if methods_at.saturating_add(methods.rows as usize * methods.row_size) > tables.end {
            return Err(malformed("the debug tables run past their stream"));
        }
        Ok(PortablePdb {
            strings: stream(b"#Strings").unwrap_or_default(),
            blobs: stream(b"#Blob").unwrap_or_default(),
            data,
            id,
            documents,
            methods,
            document_index,
            blob_index,
            guid_index,
        })
    }

    /// The PDB id: the module's CodeView GUID, then its debug entry's time stamp.
    pub fn id(&self) -> &[u8; 20] {
        &self.id
    }

    fn index(&self, at: usize, width: usize) -> Option<u32> {
        match width {
            2 => u16_at(&self.data, at).map(u32::from),
            _ => u32_at(&self.data, at),
        }
    }

    fn blob(&self, index: u32) -> Option<&[u8]> {
        let heap = self.data.get(self.blobs.clone())?;
        let mut p = index as usize;
        let len = compressed(heap, &mut p)? as usize;
        heap.get(p..p.checked_add(len)?)
    }

    /// A document's name (a blob of `separator, part, part...` with parts in the blob heap).
    pub fn document_name(&self, document: u32) -> Option<String> {
        if document == 0 || document > self.documents.rows {
            return None;
        }
        let row = self.documents.offset + (document as usize - 1) * self.documents.row_size;
        let name = self.blob(self.index(row, self.blob_index)?)?;
        let mut p = 0;
        let separator = *name.first()?;
        p += 1;
        let mut out = String::new();
        let mut first = true;
        while p < name.len() {
            let part = compressed(name, &mut p)?;
            if !first && separator != 0 {
                out.push(separator as char);
            }
            first = false;
            if part != 0 {
                out.push_str(&String::from_utf8_lossy(self.blob(part)?));
            }
        }
        let _ = (&self.strings, self.guid_index);
        Some(out)
    }

    /// The sequence points of MethodDef `rid`, in IL offset order as stored.
    pub fn sequence_points(&self, rid: u32) -> Option<Vec<SequencePoint>> {
        if rid == 0 || rid > self.methods.rows {
            return None;
        }
        let row = self.methods.offset + (rid as usize - 1) * self.methods.row_size;
        let mut document = self.index(row, self.document_index)?;
        let blob_index = self.index(row + self.document_index, self.blob_index)?;
        if blob_index == 0 {
            return Some(Vec::new());
        }
        let b = self.blob(blob_index)?;
        let mut p = 0;
        let _local_signature = compressed(b, &mut p)?;
        if document == 0 {
            document = compressed(b, &mut p)?;
        }
        let mut out = Vec::new();
        let (mut il, mut line, mut column) = (0u32, 0i64, 0i64);
        let mut first = true;
        let mut have_visible = false;
        while p < b.len() && out.len() < MAX_SEQUENCE_POINTS {
            let delta_il = compressed(b, &mut p)?;
            if delta_il == 0 && !first {
                // A document record.
                document = compressed(b, &mut p)?;
                continue;
            }
            il = if first { delta_il } else { il.checked_add(delta_il)? };
            first = false;
            let delta_lines = compressed(b, &mut p)?;
            let delta_columns = if delta_lines == 0 { compressed(b, &mut p)? as i64 } else { compressed_signed(b, &mut p)? as i64 };
            if delta_lines == 0 && delta_columns == 0 {
                out.push(SequencePoint { il_offset: il, start_line: HIDDEN_LINE, document });
                continue;
            }
            if !have_visible {
                line = compressed(b, &mut p)? as i64;
                column = compressed(b, &mut p)? as i64;
                have_visible = true;
            } else {
                line += compressed_signed(b, &mut p)? as i64;
                column += compressed_signed(b, &mut p)? as i64;
            }
            let _ = column;
            out.push(SequencePoint { il_offset: il, start_line: u32::try_from(line).ok()?, document });
        }
        Some(out)
    }

    /// The source file and line of IL offset `il` in MethodDef `rid`: the last visible
    /// sequence point at or before it.
    pub fn line(&self, rid: u32, il: u32) -> Option<(String, u32)> {
        let points = self.sequence_points(rid)?;
        let nearest = points
            .iter()
            .take_while(|s| s.il_offset <= il)
            .filter(|s| s.start_line != 0 && s.start_line != HIDDEN_LINE)
            .last()?;
        Some((self.document_name(nearest.document)?, nearest.start_line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_integers() {
        let mut p = 0;
        assert_eq!(compressed(&[0x03], &mut p), Some(3));
        let mut p = 0;
        assert_eq!(compressed(&[0x80, 0x80], &mut p), Some(0x80));
        let mut p = 0;
        assert_eq!(compressed(&[0xc0, 0x00, 0x40, 0x00], &mut p), Some(0x4000));
        // Signed: 3 -> 0x06, -3 -> 0x7b (ECMA-335 §II.23.2 examples).
        let mut p = 0;
        assert_eq!(compressed_signed(&[0x06], &mut p), Some(3));
        let mut p = 0;
        assert_eq!(compressed_signed(&[0x7b], &mut p), Some(-3));
        let mut p = 0;
        assert_eq!(compressed_signed(&[0x80, 0x01], &mut p), Some(-8192));
    }

    #[test]
    fn refuses_what_is_not_a_portable_pdb() {
        assert!(PortablePdb::parse(b"Microsoft C/C++ MSF 7.00\r\n".to_vec()).is_err());
        assert!(PortablePdb::parse(Vec::new()).is_err());
    }
}

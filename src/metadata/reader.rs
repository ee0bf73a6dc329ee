//! [`MetadataReader`]: the metadata root (§II.24.2.1), its heaps and typed row accessors.
//!
//! The reader owns the root bytes (`Arc<[u8]>`); construction parses the root header, the
//! stream headers and the table-stream header (validating that every table fits), and
//! builds the TypeDef → enclosing TypeDef map from NestedClass. Everything else is read on
//! demand from the bytes; a full-name → TypeDef index is built lazily on first lookup.
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use super::pe::{ImageLayout, ImageSource, MAX_METADATA_SIZE, PeImage};
use super::signature::{self, SigType, read_compressed_u32};
use super::tables::{CodedIndex, TableId, TableLayout};
use super::{MetadataError, Result, Token};

/// Longest chain of enclosing types (or TypeRef resolution scopes) followed.
const MAX_NESTING: usize = 64;
/// Longest version string in the root header (§II.24.2.1).
const MAX_VERSION_LEN: u32 = 255;
/// Longest stream name, including the NUL.
const MAX_STREAM_NAME: usize = 32;

/// `TypeAttributes` bits (§II.23.1.15).
pub mod type_flags {
    pub const VISIBILITY_MASK: u32 = 0x0000_0007;
    pub const INTERFACE: u32 = 0x0000_0020;
    pub const ABSTRACT: u32 = 0x0000_0080;
    pub const SEALED: u32 = 0x0000_0100;
    pub const EXPLICIT_LAYOUT: u32 = 0x0000_0010;
    pub const SEQUENTIAL_LAYOUT: u32 = 0x0000_0008;
}

/// `FieldAttributes` bits (§II.23.1.5).
pub mod field_flags {
    pub const ACCESS_MASK: u16 = 0x0007;
    pub const STATIC: u16 = 0x0010;
    pub const INIT_ONLY: u16 = 0x0020;
    pub const LITERAL: u16 = 0x0040;
    pub const HAS_FIELD_RVA: u16 = 0x0100;
}

/// A TypeDef row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeDefInfo<'a> {
    pub rid: u32,
    pub flags: u32,
    /// Raw name, with any generic arity suffix (``List`1``).
    pub name: &'a str,
    pub namespace: &'a str,
    /// Base type (TypeDef, TypeRef or TypeSpec; null for interfaces and `System.Object`).
    pub extends: Token,
    /// First entry in the Field (or FieldPtr) table.
    pub field_list: u32,
    /// First entry in the MethodDef (or MethodPtr) table.
    pub method_list: u32,
}

/// A TypeRef row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeRefInfo<'a> {
    pub rid: u32,
    /// Module, ModuleRef, AssemblyRef or (for nested types) TypeRef.
    pub resolution_scope: Token,
    pub name: &'a str,
    pub namespace: &'a str,
}

/// A Field row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldInfo<'a> {
    pub rid: u32,
    /// `FieldAttributes` (see [`field_flags`]).
    pub flags: u16,
    pub name: &'a str,
    pub signature: &'a [u8],
}

impl FieldInfo<'_> {
    /// Whether the field is static (including literals and RVA statics).
    pub fn is_static(&self) -> bool {
        self.flags & field_flags::STATIC != 0
    }

    /// Decodes the field's signature.
    pub fn sig_type(&self) -> Result<SigType> {
        signature::decode_field_signature(self.signature)
    }
}

/// A MethodDef row (the parts useful for naming).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodInfo<'a> {
    pub rid: u32,
    pub rva: u32,
    pub impl_flags: u16,
    pub flags: u16,
    pub name: &'a str,
    pub signature: &'a [u8],
}

/// A MemberRef row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberRefInfo<'a> {
    pub rid: u32,
    /// TypeDef, TypeRef, ModuleRef, MethodDef or TypeSpec.
    pub parent: Token,
    pub name: &'a str,
    pub signature: &'a [u8],
}

/// The Assembly row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssemblyInfo<'a> {
    pub name: &'a str,
    pub culture: &'a str,
    /// Major, minor, build, revision.
    pub version: [u16; 4],
    pub flags: u32,
    pub public_key: &'a [u8],
}

/// An AssemblyRef row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssemblyRefInfo<'a> {
    pub rid: u32,
    pub name: &'a str,
    pub culture: &'a str,
    /// Major, minor, build, revision.
    pub version: [u16; 4],
    pub flags: u32,
    pub public_key_or_token: &'a [u8],
}

/// Parsed metadata of one module.
pub struct MetadataReader {
    data: Arc<[u8]>,
    version: String,
    strings: Range<usize>,
    user_strings: Range<usize>,
    guids: Range<usize>,
    blobs: Range<usize>,
    uncompressed: bool,
    tables: TableLayout,
    /// Enclosing TypeDef rid of each TypeDef rid (0 = top level), from NestedClass.
    enclosing: Vec<u32>,
    by_name: OnceLock<HashMap<Box<str>, u32>>,
}

impl std::fmt::Debug for MetadataReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataReader")
            .field("version", &self.version)
            .field("size", &self.data.len())
            .field("typedefs", &self.typedef_count())
            .finish_non_exhaustive()
    }
}

fn le_u16(d: &[u8], pos: usize) -> Option<u16> {
    d.get(pos..pos.checked_add(2)?)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn le_u32(d: &[u8], pos: usize) -> Option<u32> {
    d.get(pos..pos.checked_add(4)?)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn truncated(what: &'static str, data: &[u8], offset: usize, needed: usize) -> MetadataError {
    MetadataError::Truncated {
        what,
        offset: offset as u64,
        needed: needed as u64,
        available: data.len().saturating_sub(offset) as u64,
    }
}

impl MetadataReader {
    /// Parses a metadata root (the bytes the CLI header's metadata directory points at).
    pub fn new(data: impl Into<Arc<[u8]>>) -> Result<Self> {
        let data: Arc<[u8]> = data.into();
        let d = &data[..];
        if d.len() as u64 > u64::from(MAX_METADATA_SIZE) {
            return Err(MetadataError::TooLarge {
                what: "metadata",
                size: d.len() as u64,
                limit: u64::from(MAX_METADATA_SIZE),
            });
        }
        let sig = le_u32(d, 0).ok_or_else(|| truncated("metadata root", d, 0, 16))?;
        if sig != 0x424a_5342 {
            return Err(MetadataError::BadRootSignature(sig));
        }
        let version_len = le_u32(d, 12).ok_or_else(|| truncated("metadata root", d, 0, 16))?;
        if version_len > MAX_VERSION_LEN + 1 {
            return Err(MetadataError::Malformed(format!(
                "version string length {version_len}"
            )));
        }
        let version_len = version_len as usize;
        let version_bytes = d
            .get(16..16 + version_len)
            .ok_or_else(|| truncated("metadata version", d, 16, version_len))?;
        let version_end = version_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(version_len);
        let version = String::from_utf8_lossy(&version_bytes[..version_end]).into_owned();
        let mut pos = 16 + version_len.next_multiple_of(4);
        let nstreams = le_u16(d, pos + 2).ok_or_else(|| truncated("metadata root", d, pos, 4))?;
        pos += 4;

        let mut streams: Vec<(&[u8], Range<usize>)> = Vec::new();
        for _ in 0..nstreams {
            let (offset, size) = le_u32(d, pos)
                .zip(le_u32(d, pos + 4))
                .ok_or_else(|| truncated("stream header", d, pos, 8))?;
            let name_area = d.get(pos + 8..).unwrap_or_default();
            let name_area = &name_area[..name_area.len().min(MAX_STREAM_NAME)];
            let name_len = name_area.iter().position(|&b| b == 0).ok_or_else(|| {
                MetadataError::Malformed(format!("unterminated stream name at {:#x}", pos + 8))
            })?;
            let name = &name_area[..name_len];
            let range = (offset as usize)..(offset as usize).saturating_add(size as usize);
            if range.end > d.len() {
                return Err(MetadataError::Malformed(format!(
                    "stream {} ({offset:#x}+{size:#x}) beyond the metadata ({:#x} bytes)",
                    String::from_utf8_lossy(name),
                    d.len()
                )));
            }
            // The first of duplicate streams wins.
            if !streams.iter().any(|(n, _)| *n == name) {
                streams.push((name, range));
            }
            pos += 8 + (name_len + 1).next_multiple_of(4);
        }
        let stream = |n: &[u8]| {
            streams
                .iter()
                .find(|(s, _)| *s == n)
                .map(|(_, r)| r.clone())
        };

        let (table_range, uncompressed) = match (stream(b"#~"), stream(b"#-")) {
            (Some(r), _) => (r, false),
            (None, Some(r)) => (r, true),
            (None, None) => return Err(MetadataError::MissingStream("#~")),
        };
        let all_large = stream(b"#JTD").is_some();
        let tables = TableLayout::parse(d, table_range, all_large)?;
        let mut reader = MetadataReader {
            version,
            strings: stream(b"#Strings").unwrap_or_default(),
            user_strings: stream(b"#US").unwrap_or_default(),
            guids: stream(b"#GUID").unwrap_or_default(),
            blobs: stream(b"#Blob").unwrap_or_default(),
            uncompressed,
            tables,
            enclosing: Vec::new(),
            by_name: OnceLock::new(),
            data: Arc::clone(&data),
        };
        reader.enclosing = reader.build_enclosing()?;
        Ok(reader)
    }

    /// Reads the metadata of the PE image at `src` (laid out as `layout`) and parses it.
    pub fn from_image<S: ImageSource + ?Sized>(src: &S, layout: ImageLayout) -> Result<Self> {
        let image = PeImage::parse(src, layout)?;
        Self::new(image.read_metadata(src)?)
    }

    fn build_enclosing(&self) -> Result<Vec<u32>> {
        let types = self.typedef_count();
        // Bounded by the TypeDef table, which fits in the metadata.
        let mut map = vec![0u32; types as usize + 1];
        for rid in 1..=self.rows(TableId::NestedClass) {
            let nested = self.cell(TableId::NestedClass, rid, 0)?;
            let enclosing = self.cell(TableId::NestedClass, rid, 1)?;
            if (1..=types).contains(&nested) && (1..=types).contains(&enclosing) {
                map[nested as usize] = enclosing;
            }
        }
        Ok(map)
    }

    // ---- Root, heaps --------------------------------------------------------------------

    /// The raw metadata root bytes.
    pub fn data(&self) -> &Arc<[u8]> {
        &self.data
    }

    /// The runtime version string of the root header (e.g. `v4.0.30319`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the tables are in the uncompressed (`#-`, edit-and-continue) form.
    pub fn is_uncompressed(&self) -> bool {
        self.uncompressed
    }

    /// A `#Strings` entry (index 0 is the empty string).
    pub fn string(&self, index: u32) -> Result<&str> {
        let heap = &self.data[self.strings.clone()];
        let bad = MetadataError::BadHeapIndex {
            heap: "#Strings",
            index,
        };
        if index == 0 && heap.is_empty() {
            return Ok("");
        }
        let rest = heap.get(index as usize..).ok_or(bad.clone())?;
        let len = rest.iter().position(|&b| b == 0).ok_or(bad)?;
        std::str::from_utf8(&rest[..len]).map_err(|_| MetadataError::InvalidUtf8(index))
    }

    /// A `#Blob` entry (index 0 is the empty blob).
    pub fn blob(&self, index: u32) -> Result<&[u8]> {
        if index == 0 {
            return Ok(&[]);
        }
        self.length_prefixed(self.blobs.clone(), "#Blob", index)
    }

    /// A `#US` entry (UTF-16, decoded lossily; the trailing flag byte is dropped).
    pub fn user_string(&self, index: u32) -> Result<String> {
        if index == 0 {
            return Ok(String::new());
        }
        let bytes = self.length_prefixed(self.user_strings.clone(), "#US", index)?;
        let units = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        Ok(char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect())
    }

    /// A `#GUID` entry (1-based; 0 means none).
    pub fn guid(&self, index: u32) -> Result<Option<[u8; 16]>> {
        if index == 0 {
            return Ok(None);
        }
        let heap = &self.data[self.guids.clone()];
        (index as usize - 1)
            .checked_mul(16)
            .and_then(|start| heap.get(start..start.checked_add(16)?))
            .and_then(|g| g.try_into().ok())
            .map(Some)
            .ok_or(MetadataError::BadHeapIndex {
                heap: "#GUID",
                index,
            })
    }

    fn length_prefixed(&self, heap: Range<usize>, name: &'static str, index: u32) -> Result<&[u8]> {
        let heap = &self.data[heap];
        let bad = MetadataError::BadHeapIndex { heap: name, index };
        let mut pos = index as usize;
        let len = read_compressed_u32(heap, &mut pos).ok_or(bad.clone())? as usize;
        heap.get(pos..pos.saturating_add(len)).ok_or(bad)
    }

    // ---- Tables -------------------------------------------------------------------------

    /// Row count of `table` (0 when absent).
    pub fn rows(&self, table: TableId) -> u32 {
        self.tables.rows(table)
    }

    /// Size in bytes of one row of `table` in this module.
    pub fn row_size(&self, table: TableId) -> usize {
        self.tables.row_size(table)
    }

    /// Raw value of column `col` (0-based, §II.22 order) of row `rid` of `table`.
    pub fn cell(&self, table: TableId, rid: u32, col: usize) -> Result<u32> {
        self.tables.cell(&self.data, table, rid, col)
    }

    fn str_cell(&self, table: TableId, rid: u32, col: usize) -> Result<&str> {
        self.string(self.cell(table, rid, col)?)
    }

    fn blob_cell(&self, table: TableId, rid: u32, col: usize) -> Result<&[u8]> {
        self.blob(self.cell(table, rid, col)?)
    }

    fn coded_cell(&self, table: TableId, rid: u32, col: usize, kind: CodedIndex) -> Result<Token> {
        kind.decode(self.cell(table, rid, col)?)
    }

    /// Number of TypeDef rows (rids are `1..=typedef_count()`).
    pub fn typedef_count(&self) -> u32 {
        self.rows(TableId::TypeDef)
    }

    /// TypeDef row `rid`.
    pub fn typedef(&self, rid: u32) -> Result<TypeDefInfo<'_>> {
        const T: TableId = TableId::TypeDef;
        Ok(TypeDefInfo {
            rid,
            flags: self.cell(T, rid, 0)?,
            name: self.str_cell(T, rid, 1)?,
            namespace: self.str_cell(T, rid, 2)?,
            extends: self.coded_cell(T, rid, 3, CodedIndex::TypeDefOrRef)?,
            field_list: self.cell(T, rid, 4)?,
            method_list: self.cell(T, rid, 5)?,
        })
    }

    /// TypeRef row `rid`.
    pub fn typeref(&self, rid: u32) -> Result<TypeRefInfo<'_>> {
        const T: TableId = TableId::TypeRef;
        Ok(TypeRefInfo {
            rid,
            resolution_scope: self.coded_cell(T, rid, 0, CodedIndex::ResolutionScope)?,
            name: self.str_cell(T, rid, 1)?,
            namespace: self.str_cell(T, rid, 2)?,
        })
    }

    /// Field row `rid` (a Field table rid, i.e. after any FieldPtr indirection).
    pub fn field(&self, rid: u32) -> Result<FieldInfo<'_>> {
        const T: TableId = TableId::Field;
        Ok(FieldInfo {
            rid,
            flags: self.cell(T, rid, 0)? as u16,
            name: self.str_cell(T, rid, 1)?,
            signature: self.blob_cell(T, rid, 2)?,
        })
    }

    /// Decoded signature of field `rid`.
    pub fn field_sig(&self, rid: u32) -> Result<SigType> {
        self.field(rid)?.sig_type()
    }

    /// MethodDef row `rid`.
    pub fn method(&self, rid: u32) -> Result<MethodInfo<'_>> {
        const T: TableId = TableId::MethodDef;
        Ok(MethodInfo {
            rid,
            rva: self.cell(T, rid, 0)?,
            impl_flags: self.cell(T, rid, 1)? as u16,
            flags: self.cell(T, rid, 2)? as u16,
            name: self.str_cell(T, rid, 3)?,
            signature: self.blob_cell(T, rid, 4)?,
        })
    }

    /// MemberRef row `rid`.
    pub fn memberref(&self, rid: u32) -> Result<MemberRefInfo<'_>> {
        const T: TableId = TableId::MemberRef;
        Ok(MemberRefInfo {
            rid,
            parent: self.coded_cell(T, rid, 0, CodedIndex::MemberRefParent)?,
            name: self.str_cell(T, rid, 1)?,
            signature: self.blob_cell(T, rid, 2)?,
        })
    }

    /// The signature blob of TypeSpec row `rid`.
    pub fn typespec_blob(&self, rid: u32) -> Result<&[u8]> {
        self.blob_cell(TableId::TypeSpec, rid, 0)
    }

    /// The decoded type of TypeSpec row `rid`.
    pub fn typespec(&self, rid: u32) -> Result<SigType> {
        signature::decode_type(self.typespec_blob(rid)?)
    }

    /// The module's name (Module row 1, e.g. `System.Private.CoreLib.dll`).
    pub fn module_name(&self) -> Result<&str> {
        self.str_cell(TableId::Module, 1, 1)
    }

    /// The module's MVID.
    pub fn module_mvid(&self) -> Result<Option<[u8; 16]>> {
        self.guid(self.cell(TableId::Module, 1, 2)?)
    }

    /// The Assembly row (absent in a netmodule).
    pub fn assembly(&self) -> Result<Option<AssemblyInfo<'_>>> {
        const T: TableId = TableId::Assembly;
        if self.rows(T) == 0 {
            return Ok(None);
        }
        let v = |c| self.cell(T, 1, c).map(|v| v as u16);
        Ok(Some(AssemblyInfo {
            version: [v(1)?, v(2)?, v(3)?, v(4)?],
            flags: self.cell(T, 1, 5)?,
            public_key: self.blob_cell(T, 1, 6)?,
            name: self.str_cell(T, 1, 7)?,
            culture: self.str_cell(T, 1, 8)?,
        }))
    }

    /// The assembly's simple name (e.g. `System.Private.CoreLib`), if this is an assembly.
    pub fn assembly_name(&self) -> Result<Option<&str>> {
        Ok(self.assembly()?.map(|a| a.name))
    }

    /// AssemblyRef row `rid`.
    pub fn assembly_ref(&self, rid: u32) -> Result<AssemblyRefInfo<'_>> {
        const T: TableId = TableId::AssemblyRef;
        let v = |c| self.cell(T, rid, c).map(|v| v as u16);
        Ok(AssemblyRefInfo {
            rid,
            version: [v(0)?, v(1)?, v(2)?, v(3)?],
            flags: self.cell(T, rid, 4)?,
            public_key_or_token: self.blob_cell(T, rid, 5)?,
            name: self.str_cell(T, rid, 6)?,
            culture: self.str_cell(T, rid, 7)?,
        })
    }

    // ---- Member lists -------------------------------------------------------------------

    /// The Field rids of TypeDef `rid`, in declaration order (FieldPtr resolved).
    pub fn type_fields(&self, rid: u32) -> Result<Vec<u32>> {
        self.member_list(rid, 4, TableId::Field, TableId::FieldPtr)
    }

    /// The MethodDef rids of TypeDef `rid`, in declaration order (MethodPtr resolved).
    pub fn type_methods(&self, rid: u32) -> Result<Vec<u32>> {
        self.member_list(rid, 5, TableId::MethodDef, TableId::MethodPtr)
    }

    /// The names of MethodDef `rid`'s parameters by sequence number (1 is the first
    /// parameter after `this`; 0 names the return value).
    pub fn param_names(&self, rid: u32) -> Result<Vec<(u16, &str)>> {
        let list = if self.rows(TableId::ParamPtr) > 0 { TableId::ParamPtr } else { TableId::Param };
        let limit = self.rows(list) + 1;
        let start = self.cell(TableId::MethodDef, rid, 5)?.clamp(1, limit);
        let end = if rid < self.rows(TableId::MethodDef) {
            self.cell(TableId::MethodDef, rid + 1, 5)?.clamp(1, limit)
        } else {
            limit
        };
        (start..end.max(start))
            .map(|i| {
                let p = if list == TableId::ParamPtr { self.cell(list, i, 0)? } else { i };
                Ok((self.cell(TableId::Param, p, 1)? as u16, self.string(self.cell(TableId::Param, p, 2)?)?))
            })
            .collect()
    }

    /// The run of `target` rows owned by TypeDef `rid`: from its list column up to the next
    /// TypeDef's (or the end), through the `ptr` table when present.
    fn member_list(&self, rid: u32, col: usize, target: TableId, ptr: TableId) -> Result<Vec<u32>> {
        let list = if self.rows(ptr) > 0 { ptr } else { target };
        let limit = self.rows(list) + 1;
        let start = self.cell(TableId::TypeDef, rid, col)?.clamp(1, limit);
        let end = if rid < self.typedef_count() {
            self.cell(TableId::TypeDef, rid + 1, col)?.clamp(1, limit)
        } else {
            limit
        };
        (start..end.max(start))
            .map(|i| {
                if list == ptr {
                    self.cell(ptr, i, 0)
                } else {
                    Ok(i)
                }
            })
            .collect()
    }

    /// The TypeDef that declares Field `rid` (0 when none does).
    pub fn field_owner(&self, rid: u32) -> u32 {
        self.member_owner(rid, 4, TableId::FieldPtr)
    }

    /// The TypeDef that declares MethodDef `rid` (0 when none does).
    pub fn method_owner(&self, rid: u32) -> u32 {
        self.member_owner(rid, 5, TableId::MethodPtr)
    }

    /// The last TypeDef whose member list (column `col`) starts at or before the member's
    /// position (its row, or its index in the pointer table when there is one), by
    /// binary search: the lists are in increasing order.
    fn member_owner(&self, rid: u32, col: usize, ptr: TableId) -> u32 {
        let position = if self.rows(ptr) > 0 {
            match (1..=self.rows(ptr)).find(|&i| self.cell(ptr, i, 0).ok() == Some(rid)) {
                Some(i) => i,
                None => return 0,
            }
        } else {
            rid
        };
        let (mut lo, mut hi) = (1u32, self.typedef_count());
        let mut found = 0;
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            match self.cell(TableId::TypeDef, mid, col) {
                Ok(start) if start <= position => {
                    found = mid;
                    lo = mid + 1;
                }
                Ok(_) => hi = mid - 1,
                Err(_) => return found,
            }
        }
        // Types with empty member lists share the next one's start: the last of a run of
        // equal starts is the one whose list holds the member.
        found
    }

    /// The bytes of the `#Blob` heap from the start of the signature in column `col` of
    /// row `rid` of `table` to the heap's end: what a reader that runs past a signature
    /// reads next.
    pub fn blob_cell_and_rest(&self, table: TableId, rid: u32, col: usize) -> Result<&[u8]> {
        let index = self.cell(table, rid, col)?;
        let heap = &self.data[self.blobs.clone()];
        let mut pos = index as usize;
        let bad = MetadataError::BadHeapIndex { heap: "#Blob", index };
        read_compressed_u32(heap, &mut pos).ok_or(bad.clone())?;
        heap.get(pos..).ok_or(bad)
    }

    /// A `#US` entry as UTF-16 code units (the trailing flag byte dropped).
    pub fn user_string_units(&self, index: u32) -> Result<Vec<u16>> {
        if index == 0 {
            return Ok(Vec::new());
        }
        let bytes = self.length_prefixed(self.user_strings.clone(), "#US", index)?;
        Ok(bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
    }

    // ---- Names --------------------------------------------------------------------------

    /// The enclosing TypeDef of TypeDef `rid`, if it is nested.
    pub fn enclosing_type(&self, rid: u32) -> Option<u32> {
        self.enclosing
            .get(rid as usize)
            .copied()
            .filter(|&e| e != 0)
    }

    /// Namespace (of the outermost type) and names outermost first, of a TypeDef or TypeRef.
    pub fn name_chain(&self, token: Token) -> Result<(&str, Vec<&str>)> {
        let mut names = Vec::new();
        let mut cur = token;
        for _ in 0..MAX_NESTING {
            match cur.table() {
                Some(TableId::TypeDef) => {
                    let t = self.typedef(cur.rid())?;
                    names.push(t.name);
                    match self.enclosing_type(cur.rid()) {
                        Some(e) => cur = Token::new(TableId::TypeDef, e),
                        None => {
                            names.reverse();
                            return Ok((t.namespace, names));
                        }
                    }
                }
                Some(TableId::TypeRef) => {
                    let t = self.typeref(cur.rid())?;
                    names.push(t.name);
                    if t.resolution_scope.table() == Some(TableId::TypeRef)
                        && !t.resolution_scope.is_null()
                    {
                        cur = t.resolution_scope;
                    } else {
                        names.reverse();
                        return Ok((t.namespace, names));
                    }
                }
                _ => {
                    return Err(MetadataError::Malformed(format!(
                        "token {cur} is not a TypeDef or TypeRef"
                    )));
                }
            }
        }
        Err(MetadataError::TooDeep("type nesting"))
    }

    /// `Namespace.Name` of a top-level TypeDef, `Namespace.Outer+Inner` of a nested one
    /// (raw names, with generic arity suffixes such as ``Dictionary`2+Entry``).
    pub fn type_full_name(&self, rid: u32) -> Result<String> {
        self.token_full_name(Token::new(TableId::TypeDef, rid))
    }

    /// Like [`type_full_name`](Self::type_full_name), for a TypeRef.
    pub fn typeref_full_name(&self, rid: u32) -> Result<String> {
        self.token_full_name(Token::new(TableId::TypeRef, rid))
    }

    fn token_full_name(&self, token: Token) -> Result<String> {
        let (ns, names) = self.name_chain(token)?;
        let mut out =
            String::with_capacity(ns.len() + names.iter().map(|n| n.len() + 1).sum::<usize>());
        if !ns.is_empty() {
            out.push_str(ns);
            out.push('.');
        }
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                out.push('+');
            }
            out.push_str(n);
        }
        Ok(out)
    }

    /// Finds a TypeDef by its [`type_full_name`](Self::type_full_name) (index built on
    /// first use).
    pub fn find_typedef(&self, full_name: &str) -> Option<u32> {
        self.by_name
            .get_or_init(|| {
                (1..=self.typedef_count())
                    .filter_map(|rid| Some((self.type_full_name(rid).ok()?.into_boxed_str(), rid)))
                    .collect()
            })
            .get(full_name)
            .copied()
    }

    /// A readable name for a TypeDef, TypeRef or TypeSpec token: full names with generic
    /// arguments filled in (`System.Collections.Generic.List<System.Int32>`).
    pub fn type_name(&self, token: Token) -> Result<String> {
        self.type_name_at(token, 0)
    }

    /// A readable name for a signature type (primitives as `System.Int32`, arrays as
    /// `T[]`/`T[,]`, generic parameters as `!0`/`!!0`).
    pub fn sig_type_name(&self, ty: &SigType) -> Result<String> {
        self.sig_name_at(ty, 0)
    }

    fn type_name_at(&self, token: Token, depth: usize) -> Result<String> {
        match token.table() {
            Some(TableId::TypeSpec) => {
                let ty = self.typespec(token.rid())?;
                self.sig_name_at(&ty, depth + 1)
            }
            _ => self.token_full_name(token),
        }
    }

    fn sig_name_at(&self, ty: &SigType, depth: usize) -> Result<String> {
        if depth >= signature::MAX_DEPTH {
            return Err(MetadataError::TooDeep("type name"));
        }
        let inner = |t: &SigType| self.sig_name_at(t, depth + 1);
        Ok(match ty {
            SigType::Class(t) | SigType::ValueType(t) => self.type_name_at(*t, depth + 1)?,
            SigType::SzArray(e) => format!("{}[]", inner(e)?),
            SigType::Array { elem, rank } => {
                let commas = ",".repeat((*rank).clamp(1, 32) as usize - 1);
                format!("{}[{commas}]", inner(elem)?)
            }
            SigType::GenericInst { generic, args, .. } => {
                let base = self.type_name_at(*generic, depth + 1)?;
                let args = args.iter().map(inner).collect::<Result<Vec<_>>>()?;
                with_generic_args(&base, &args)
            }
            SigType::Var(n) => format!("!{n}"),
            SigType::MVar(n) => format!("!!{n}"),
            SigType::Ptr(e) => format!("{}*", inner(e)?),
            SigType::ByRef(e) => format!("{}&", inner(e)?),
            SigType::FnPtr => "fnptr".to_owned(),
            prim => primitive_name(prim).unwrap_or("?").to_owned(),
        })
    }
}

/// The `System.*` name of a primitive signature type.
pub fn primitive_name(ty: &SigType) -> Option<&'static str> {
    Some(match ty {
        SigType::Void => "System.Void",
        SigType::Boolean => "System.Boolean",
        SigType::Char => "System.Char",
        SigType::I1 => "System.SByte",
        SigType::U1 => "System.Byte",
        SigType::I2 => "System.Int16",
        SigType::U2 => "System.UInt16",
        SigType::I4 => "System.Int32",
        SigType::U4 => "System.UInt32",
        SigType::I8 => "System.Int64",
        SigType::U8 => "System.UInt64",
        SigType::R4 => "System.Single",
        SigType::R8 => "System.Double",
        SigType::I => "System.IntPtr",
        SigType::U => "System.UIntPtr",
        SigType::String => "System.String",
        SigType::Object => "System.Object",
        SigType::TypedByRef => "System.TypedReference",
        _ => return None,
    })
}

/// Strips a generic arity suffix: ``List`1`` → `List` (names without one are unchanged).
pub fn strip_generic_arity(name: &str) -> &str {
    split_arity(name).0
}

/// (name without arity, arity).
fn split_arity(name: &str) -> (&str, usize) {
    match name.rsplit_once('`') {
        Some((base, digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (base, digits.parse().unwrap_or(0))
        }
        _ => (name, 0),
    }
}

/// A generic definition's name as ClrMD spells it (the DAC names it without arguments):
/// each segment's arity becomes its own parameters counted from 1
/// (``Outer`1+Inner`1`` gives `Outer<T1>+Inner<T1>`), when the last segment has an
/// arity; otherwise the name is kept as it is (``Outer`1+Leaf``).
pub fn generic_definition_name(full_name: &str) -> String {
    if full_name.rsplit('+').next().is_none_or(|last| split_arity(last).1 == 0) {
        return full_name.to_string();
    }
    let segments: Vec<String> = full_name
        .split('+')
        .map(|seg| match split_arity(seg) {
            (base, arity) if arity > 0 && arity <= 64 => {
                let params: Vec<String> = (1..=arity).map(|i| format!("T{i}")).collect();
                format!("{base}<{}>", params.join(", "))
            }
            _ => seg.to_string(),
        })
        .collect();
    segments.join("+")
}

/// Fills generic arguments into a full name with arity suffixes, segment by segment:
/// ``A.Dictionary`2+Entry`` with `[K, V]` gives `A.Dictionary<K, V>+Entry`. Arguments left
/// over (arity suffixes missing) go to the last segment.
pub fn with_generic_args<S: AsRef<str>>(full_name: &str, args: &[S]) -> String {
    let mut out = String::with_capacity(full_name.len() + 16 * args.len());
    let mut rest = args;
    let segments: Vec<&str> = full_name.split('+').collect();
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push('+');
        }
        let (base, arity) = split_arity(seg);
        let take = if i + 1 == segments.len() {
            rest.len()
        } else {
            arity.min(rest.len())
        };
        out.push_str(if take > 0 { base } else { seg });
        if take > 0 {
            out.push('<');
            for (j, a) in rest[..take].iter().enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                out.push_str(a.as_ref());
            }
            out.push('>');
            rest = &rest[take..];
        }
    }
    out
}

//! The metadata layer: ECMA-335 metadata of managed modules (type and field names).
//!
//! Model, bottom to top:
//! - [`pe`]: a PE image (a .NET assembly), as a file ([`ImageLayout::Flat`]) or as loaded
//!   by the OS loader ([`ImageLayout::Mapped`]), read through an [`ImageSource`] so that it
//!   can come from a sparse address space. It locates the CLI header and the metadata root.
//! - [`MetadataReader`]: owns the metadata root bytes (signature `BSJB`) and parses the
//!   stream headers, the heaps (`#Strings`, `#US`, `#GUID`, `#Blob`) and the table stream
//!   (`#~` or `#-`), computing the row layout of every ECMA-335 §II.22 table. Rows are read
//!   on demand; the only eager pass builds the nested-class map, so name lookups are O(1).
//! - [`tables`]: table ids, coded indexes and the column schema of each table.
//! - [`signature`]: decoding of field and type signatures into [`SigType`].
//!
//! Every input byte is untrusted: all reads are bounds-checked, recursion is depth-limited
//! and no allocation is sized by input beyond what the input itself holds. Failures are
//! reported as [`MetadataError`].
pub mod il;
pub mod ildasm;
pub mod pdb;
pub mod pe;
mod reader;
pub mod signature;
pub mod sos_sig;
pub mod tables;

#[cfg(test)]
mod tests;

use std::fmt;

use thiserror::Error;

pub use pe::{CliHeader, CodeViewInfo, DataDirectory, ImageLayout, ImageSource, PeImage, Section};
pub use reader::{
    AssemblyInfo, AssemblyRefInfo, FieldInfo, MemberRefInfo, MetadataReader, MethodInfo,
    TypeDefInfo, TypeRefInfo, field_flags, primitive_name, strip_generic_arity, type_flags,
    generic_definition_name, with_generic_args,
};
pub use signature::{
    SigType, decode_field_signature, decode_local_signature, decode_method_params, decode_type,
    method_has_this,
};
pub use tables::{CodedIndex, TABLE_COUNT, TableId};

/// What can go wrong reading a PE image or its metadata.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MetadataError {
    /// The [`ImageSource`] could not supply the bytes.
    #[error("cannot read {len} bytes at image offset {offset:#x}: {reason}")]
    ImageRead {
        offset: u64,
        len: usize,
        reason: String,
    },
    /// The PE headers are malformed.
    #[error("bad PE image: {0}")]
    BadPe(String),
    /// The image has no CLI header (data directory 14): not a managed assembly.
    #[error("not a .NET image: no CLI header")]
    NotManaged,
    /// An RVA lies outside the image (or, for a flat image, outside the sections' file data).
    #[error("RVA {rva:#x} (+{len:#x}) is not backed by the image")]
    RvaNotMapped { rva: u32, len: u32 },
    /// Some structure extends past the end of the data holding it.
    #[error("truncated {what} (need {needed} bytes at offset {offset:#x}, have {available})")]
    Truncated {
        what: &'static str,
        offset: u64,
        needed: u64,
        available: u64,
    },
    /// The metadata root does not start with `BSJB`.
    #[error("bad metadata root signature {0:#010x} (expected 0x424a5342 'BSJB')")]
    BadRootSignature(u32),
    /// A size in the input exceeds a sanity limit.
    #[error("{what} too large: {size:#x} bytes (limit {limit:#x})")]
    TooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    /// A required metadata stream is absent.
    #[error("metadata stream {0} is missing")]
    MissingStream(&'static str),
    /// Metadata structure that makes no sense (bad header, unknown table...).
    #[error("malformed metadata: {0}")]
    Malformed(String),
    /// A row id is 0 or beyond the table's row count.
    #[error("row {rid} out of range for table {table:?} ({rows} rows)")]
    RidOutOfRange { table: TableId, rid: u32, rows: u32 },
    /// An index into a heap is beyond its end (or what it points to is malformed).
    #[error("bad {heap} heap index {index:#x}")]
    BadHeapIndex { heap: &'static str, index: u32 },
    /// A `#Strings` entry is not valid UTF-8.
    #[error("#Strings entry at {0:#x} is not valid UTF-8")]
    InvalidUtf8(u32),
    /// A coded index has a tag that names no table, or a row id that does not fit a token.
    #[error("bad {kind:?} coded index {value:#x}")]
    BadCodedIndex { kind: CodedIndex, value: u32 },
    /// A signature blob is malformed.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// Recursion limit hit (deeply nested signature or nesting-chain cycle).
    #[error("{0} nested too deeply (or cyclic)")]
    TooDeep(&'static str),
}

/// Shorthand for results of this layer.
pub type Result<T, E = MetadataError> = std::result::Result<T, E>;

/// A metadata token: table number in the top byte, row id (1-based; 0 = null) below.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Token(pub u32);

impl Token {
    /// The token of row `rid` (must be < 2^24) of `table`.
    pub const fn new(table: TableId, rid: u32) -> Self {
        Token(((table as u32) << 24) | (rid & 0x00ff_ffff))
    }
    /// The table number (top byte).
    pub const fn table_index(self) -> u8 {
        (self.0 >> 24) as u8
    }
    /// The table, if the top byte names one.
    pub fn table(self) -> Option<TableId> {
        TableId::from_u8(self.table_index())
    }
    /// The row id (1-based; 0 means null).
    pub const fn rid(self) -> u32 {
        self.0 & 0x00ff_ffff
    }
    /// Whether the row id is 0.
    pub const fn is_null(self) -> bool {
        self.rid() == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({:#010x})", self.0)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

//! The ECMA-335 table stream (`#~` / `#-`): table ids, coded indexes, column schemas and
//! the physical row layout.
//!
//! The stream header gives a row count for each present table (bit set in `Valid`); the
//! tables follow back to back in id order. Column widths depend on the data: heap indexes
//! are 2 or 4 bytes (`HeapSizes` flags), a simple index into table T is 4 bytes iff T has
//! more than 0xFFFF rows, and a coded index is 4 bytes iff one of its target tables has
//! 2^(16 - tag bits) rows or more. [`TableLayout::parse`] computes the widths and offsets
//! of every §II.22 table (so that the tables after it can be located) and validates that
//! they all fit in the stream; cells are then read with [`TableLayout::cell`].
use super::{MetadataError, Result, Token};

/// Number of table ids defined by ECMA-335 §II.22 (0x00..=0x2C).
pub const TABLE_COUNT: usize = 0x2D;

/// The most columns any table has (Assembly, AssemblyRef).
const MAX_COLS: usize = 9;

/// A metadata table (its number is the top byte of its tokens).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TableId {
    Module = 0x00,
    TypeRef = 0x01,
    TypeDef = 0x02,
    FieldPtr = 0x03,
    Field = 0x04,
    MethodPtr = 0x05,
    MethodDef = 0x06,
    ParamPtr = 0x07,
    Param = 0x08,
    InterfaceImpl = 0x09,
    MemberRef = 0x0A,
    Constant = 0x0B,
    CustomAttribute = 0x0C,
    FieldMarshal = 0x0D,
    DeclSecurity = 0x0E,
    ClassLayout = 0x0F,
    FieldLayout = 0x10,
    StandAloneSig = 0x11,
    EventMap = 0x12,
    EventPtr = 0x13,
    Event = 0x14,
    PropertyMap = 0x15,
    PropertyPtr = 0x16,
    Property = 0x17,
    MethodSemantics = 0x18,
    MethodImpl = 0x19,
    ModuleRef = 0x1A,
    TypeSpec = 0x1B,
    ImplMap = 0x1C,
    FieldRva = 0x1D,
    EncLog = 0x1E,
    EncMap = 0x1F,
    Assembly = 0x20,
    AssemblyProcessor = 0x21,
    AssemblyOs = 0x22,
    AssemblyRef = 0x23,
    AssemblyRefProcessor = 0x24,
    AssemblyRefOs = 0x25,
    File = 0x26,
    ExportedType = 0x27,
    ManifestResource = 0x28,
    NestedClass = 0x29,
    GenericParam = 0x2A,
    MethodSpec = 0x2B,
    GenericParamConstraint = 0x2C,
}

impl TableId {
    /// All tables, indexed by number.
    pub const ALL: [TableId; TABLE_COUNT] = {
        use TableId::*;
        [
            Module,
            TypeRef,
            TypeDef,
            FieldPtr,
            Field,
            MethodPtr,
            MethodDef,
            ParamPtr,
            Param,
            InterfaceImpl,
            MemberRef,
            Constant,
            CustomAttribute,
            FieldMarshal,
            DeclSecurity,
            ClassLayout,
            FieldLayout,
            StandAloneSig,
            EventMap,
            EventPtr,
            Event,
            PropertyMap,
            PropertyPtr,
            Property,
            MethodSemantics,
            MethodImpl,
            ModuleRef,
            TypeSpec,
            ImplMap,
            FieldRva,
            EncLog,
            EncMap,
            Assembly,
            AssemblyProcessor,
            AssemblyOs,
            AssemblyRef,
            AssemblyRefProcessor,
            AssemblyRefOs,
            File,
            ExportedType,
            ManifestResource,
            NestedClass,
            GenericParam,
            MethodSpec,
            GenericParamConstraint,
        ]
    };

    /// The table with number `n`, if defined.
    pub fn from_u8(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n)).copied()
    }
}

/// A coded index kind (§II.24.2.6): a tag in the low bits selects the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodedIndex {
    TypeDefOrRef,
    HasConstant,
    HasCustomAttribute,
    HasFieldMarshal,
    HasDeclSecurity,
    MemberRefParent,
    HasSemantics,
    MethodDefOrRef,
    MemberForwarded,
    Implementation,
    CustomAttributeType,
    ResolutionScope,
    TypeOrMethodDef,
}

impl CodedIndex {
    /// Target tables by tag (`None`: tag value unused).
    fn targets(self) -> &'static [Option<TableId>] {
        use TableId::*;
        match self {
            CodedIndex::TypeDefOrRef => &[Some(TypeDef), Some(TypeRef), Some(TypeSpec)],
            CodedIndex::HasConstant => &[Some(Field), Some(Param), Some(Property)],
            CodedIndex::HasCustomAttribute => &[
                Some(MethodDef),
                Some(Field),
                Some(TypeRef),
                Some(TypeDef),
                Some(Param),
                Some(InterfaceImpl),
                Some(MemberRef),
                Some(Module),
                Some(DeclSecurity),
                Some(Property),
                Some(Event),
                Some(StandAloneSig),
                Some(ModuleRef),
                Some(TypeSpec),
                Some(Assembly),
                Some(AssemblyRef),
                Some(File),
                Some(ExportedType),
                Some(ManifestResource),
                Some(GenericParam),
                Some(GenericParamConstraint),
                Some(MethodSpec),
            ],
            CodedIndex::HasFieldMarshal => &[Some(Field), Some(Param)],
            CodedIndex::HasDeclSecurity => &[Some(TypeDef), Some(MethodDef), Some(Assembly)],
            CodedIndex::MemberRefParent => &[
                Some(TypeDef),
                Some(TypeRef),
                Some(ModuleRef),
                Some(MethodDef),
                Some(TypeSpec),
            ],
            CodedIndex::HasSemantics => &[Some(Event), Some(Property)],
            CodedIndex::MethodDefOrRef => &[Some(MethodDef), Some(MemberRef)],
            CodedIndex::MemberForwarded => &[Some(Field), Some(MethodDef)],
            CodedIndex::Implementation => &[Some(File), Some(AssemblyRef), Some(ExportedType)],
            CodedIndex::CustomAttributeType => {
                &[None, None, Some(MethodDef), Some(MemberRef), None]
            }
            CodedIndex::ResolutionScope => &[
                Some(Module),
                Some(ModuleRef),
                Some(AssemblyRef),
                Some(TypeRef),
            ],
            CodedIndex::TypeOrMethodDef => &[Some(TypeDef), Some(MethodDef)],
        }
    }

    /// Number of tag bits.
    fn tag_bits(self) -> u32 {
        let n = self.targets().len() as u32;
        u32::BITS - (n - 1).leading_zeros()
    }

    /// Decodes a raw coded index into a token (row id 0 gives a null token of the tag's
    /// table).
    pub fn decode(self, value: u32) -> Result<Token> {
        let bits = self.tag_bits();
        let tag = value & ((1 << bits) - 1);
        let rid = value >> bits;
        let bad = MetadataError::BadCodedIndex { kind: self, value };
        match self.targets().get(tag as usize) {
            Some(Some(table)) if rid <= 0x00ff_ffff => Ok(Token::new(*table, rid)),
            _ => Err(bad),
        }
    }
}

/// A column type.
#[derive(Clone, Copy)]
enum Col {
    U8,
    U16,
    U32,
    Str,
    Guid,
    Blob,
    Idx(TableId),
    Coded(CodedIndex),
}

/// The columns of each table, as in §II.22.
fn schema(table: TableId) -> &'static [Col] {
    use CodedIndex as C;
    use Col::*;
    use TableId as T;
    match table {
        T::Module => &[U16, Str, Guid, Guid, Guid],
        T::TypeRef => &[Coded(C::ResolutionScope), Str, Str],
        T::TypeDef => &[
            U32,
            Str,
            Str,
            Coded(C::TypeDefOrRef),
            Idx(T::Field),
            Idx(T::MethodDef),
        ],
        T::FieldPtr => &[Idx(T::Field)],
        T::Field => &[U16, Str, Blob],
        T::MethodPtr => &[Idx(T::MethodDef)],
        T::MethodDef => &[U32, U16, U16, Str, Blob, Idx(T::Param)],
        T::ParamPtr => &[Idx(T::Param)],
        T::Param => &[U16, U16, Str],
        T::InterfaceImpl => &[Idx(T::TypeDef), Coded(C::TypeDefOrRef)],
        T::MemberRef => &[Coded(C::MemberRefParent), Str, Blob],
        T::Constant => &[U8, U8, Coded(C::HasConstant), Blob],
        T::CustomAttribute => &[
            Coded(C::HasCustomAttribute),
            Coded(C::CustomAttributeType),
            Blob,
        ],
        T::FieldMarshal => &[Coded(C::HasFieldMarshal), Blob],
        T::DeclSecurity => &[U16, Coded(C::HasDeclSecurity), Blob],
        T::ClassLayout => &[U16, U32, Idx(T::TypeDef)],
        T::FieldLayout => &[U32, Idx(T::Field)],
        T::StandAloneSig => &[Blob],
        T::EventMap => &[Idx(T::TypeDef), Idx(T::Event)],
        T::EventPtr => &[Idx(T::Event)],
        T::Event => &[U16, Str, Coded(C::TypeDefOrRef)],
        T::PropertyMap => &[Idx(T::TypeDef), Idx(T::Property)],
        T::PropertyPtr => &[Idx(T::Property)],
        T::Property => &[U16, Str, Blob],
        T::MethodSemantics => &[U16, Idx(T::MethodDef), Coded(C::HasSemantics)],
        T::MethodImpl => &[
            Idx(T::TypeDef),
            Coded(C::MethodDefOrRef),
            Coded(C::MethodDefOrRef),
        ],
        T::ModuleRef => &[Str],
        T::TypeSpec => &[Blob],
        T::ImplMap => &[U16, Coded(C::MemberForwarded), Str, Idx(T::ModuleRef)],
        T::FieldRva => &[U32, Idx(T::Field)],
        T::EncLog => &[U32, U32],
        T::EncMap => &[U32],
        T::Assembly => &[U32, U16, U16, U16, U16, U32, Blob, Str, Str],
        T::AssemblyProcessor => &[U32],
        T::AssemblyOs => &[U32, U32, U32],
        T::AssemblyRef => &[U16, U16, U16, U16, U32, Blob, Str, Str, Blob],
        T::AssemblyRefProcessor => &[U32, Idx(T::AssemblyRef)],
        T::AssemblyRefOs => &[U32, U32, U32, Idx(T::AssemblyRef)],
        T::File => &[U32, Str, Blob],
        T::ExportedType => &[U32, U32, Str, Str, Coded(C::Implementation)],
        T::ManifestResource => &[U32, U32, Str, Coded(C::Implementation)],
        T::NestedClass => &[Idx(T::TypeDef), Idx(T::TypeDef)],
        T::GenericParam => &[U16, U16, Coded(C::TypeOrMethodDef), Str],
        T::MethodSpec => &[Coded(C::MethodDefOrRef), Blob],
        T::GenericParamConstraint => &[Idx(T::GenericParam), Coded(C::TypeDefOrRef)],
    }
}

/// Where one table lives in the metadata and how its rows are laid out.
#[derive(Clone, Copy, Default, Debug)]
struct TableInfo {
    rows: u32,
    /// Offset of row 1 in the metadata root data.
    offset: usize,
    row_size: usize,
    /// (offset in row, width) of each column.
    cols: [(u8, u8); MAX_COLS],
    ncols: u8,
}

/// The parsed `#~` header: every table's row count and layout.
#[derive(Clone, Debug)]
pub(crate) struct TableLayout {
    tables: [TableInfo; TABLE_COUNT],
}

/// `HeapSizes` flag bits.
const HEAP_STRINGS_LARGE: u8 = 0x01;
const HEAP_GUID_LARGE: u8 = 0x02;
const HEAP_BLOB_LARGE: u8 = 0x04;
const HEAP_EXTRA_DATA: u8 = 0x40;

fn read_u32(data: &[u8], pos: usize, what: &'static str) -> Result<u32> {
    data.get(pos..pos.saturating_add(4))
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(MetadataError::Truncated {
            what,
            offset: pos as u64,
            needed: 4,
            available: data.len().saturating_sub(pos) as u64,
        })
}

impl TableLayout {
    /// Parses the table stream occupying `data[range]` (offsets are kept relative to
    /// `data`). `all_large` forces 4-byte indexes (minimal EnC deltas, `#JTD`).
    pub(crate) fn parse(
        data: &[u8],
        range: std::ops::Range<usize>,
        all_large: bool,
    ) -> Result<Self> {
        let stream = data
            .get(range.clone())
            .ok_or_else(|| MetadataError::Malformed("table stream out of bounds".into()))?;
        let what = "table stream header";
        if stream.len() < 24 {
            return Err(MetadataError::Truncated {
                what,
                offset: range.start as u64,
                needed: 24,
                available: stream.len() as u64,
            });
        }
        // Reserved(4) MajorVersion(1) MinorVersion(1) HeapSizes(1) Reserved(1) Valid(8)
        // Sorted(8), then a row count per valid table.
        let heap_sizes = stream[6];
        let valid = u64::from_le_bytes(stream[8..16].try_into().unwrap_or_default());
        if valid >> TABLE_COUNT != 0 {
            return Err(MetadataError::Malformed(format!(
                "table stream declares unsupported tables (valid mask {valid:#x})"
            )));
        }

        let mut tables = [TableInfo::default(); TABLE_COUNT];
        let mut pos = 24usize;
        for (i, t) in tables.iter_mut().enumerate() {
            if valid & (1 << i) != 0 {
                t.rows = read_u32(stream, pos, what)?;
                pos += 4;
            }
        }
        if heap_sizes & HEAP_EXTRA_DATA != 0 {
            pos += 4;
        }

        let large = |flag: u8| all_large || heap_sizes & flag != 0;
        let (str_w, guid_w, blob_w) = (
            width(large(HEAP_STRINGS_LARGE)),
            width(large(HEAP_GUID_LARGE)),
            width(large(HEAP_BLOB_LARGE)),
        );
        let rows: [u32; TABLE_COUNT] = std::array::from_fn(|i| tables[i].rows);
        let col_width = |c: Col| -> u8 {
            match c {
                Col::U8 => 1,
                Col::U16 => 2,
                Col::U32 => 4,
                Col::Str => str_w,
                Col::Guid => guid_w,
                Col::Blob => blob_w,
                Col::Idx(t) => width(all_large || rows[t as usize] > 0xffff),
                Col::Coded(k) => {
                    let limit = 1u32 << (16 - k.tag_bits());
                    let max = k
                        .targets()
                        .iter()
                        .flatten()
                        .map(|t| rows[*t as usize])
                        .max();
                    width(all_large || max.unwrap_or(0) >= limit)
                }
            }
        };

        // Tables follow the header in id order; all of them must fit in the stream.
        let mut offset = range.start as u64 + pos as u64;
        let end = range.end as u64;
        for (id, t) in TableId::ALL.iter().zip(tables.iter_mut()) {
            let cols = schema(*id);
            let mut row_size = 0u8;
            for (slot, c) in t.cols.iter_mut().zip(cols) {
                let w = col_width(*c);
                *slot = (row_size, w);
                row_size += w;
            }
            t.ncols = cols.len() as u8;
            t.row_size = usize::from(row_size);
            let size = u64::from(t.rows) * u64::from(row_size);
            if offset + size > end {
                return Err(MetadataError::Truncated {
                    what: "metadata table",
                    offset,
                    needed: size,
                    available: end.saturating_sub(offset),
                });
            }
            // Fits in `range`, hence in usize.
            t.offset = offset as usize;
            offset += size;
        }
        Ok(TableLayout { tables })
    }

    /// Row count of `table` (0 when absent).
    pub(crate) fn rows(&self, table: TableId) -> u32 {
        self.tables[table as usize].rows
    }

    /// Size in bytes of one row of `table`.
    pub(crate) fn row_size(&self, table: TableId) -> usize {
        self.tables[table as usize].row_size
    }

    /// Column `col` (0-based, as in §II.22) of row `rid` (1-based) of `table`.
    pub(crate) fn cell(&self, data: &[u8], table: TableId, rid: u32, col: usize) -> Result<u32> {
        let t = &self.tables[table as usize];
        if rid == 0 || rid > t.rows {
            return Err(MetadataError::RidOutOfRange {
                table,
                rid,
                rows: t.rows,
            });
        }
        if col >= usize::from(t.ncols) {
            return Err(MetadataError::Malformed(format!(
                "column {col} of table {table:?} does not exist"
            )));
        }
        let (off, w) = t.cols[col];
        let pos = t.offset + (rid as usize - 1) * t.row_size + usize::from(off);
        let bytes = data
            .get(pos..pos + usize::from(w))
            .ok_or(MetadataError::Truncated {
                what: "table row",
                offset: pos as u64,
                needed: u64::from(w),
                available: data.len().saturating_sub(pos) as u64,
            })?;
        Ok(match *bytes {
            [a] => u32::from(a),
            [a, b] => u32::from(u16::from_le_bytes([a, b])),
            [a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        })
    }
}

fn width(large: bool) -> u8 {
    if large { 4 } else { 2 }
}

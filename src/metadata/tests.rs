//! Tests: a synthetic metadata builder for edge cases (corrupt and truncated input), and
//! checks against the lab's real assemblies and truth files (skipped when absent).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;

// ---- Synthetic metadata -----------------------------------------------------------------

fn u16le(v: u32) -> Vec<u8> {
    (v as u16).to_le_bytes().to_vec()
}

fn u32le(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// Builds a metadata root from heaps and raw table rows.
struct Builder {
    wide_heaps: bool,
    strings: Vec<u8>,
    blobs: Vec<u8>,
    guids: Vec<u8>,
    us: Vec<u8>,
    tables: Vec<(TableId, Vec<Vec<u8>>)>,
    table_stream_name: &'static str,
}

impl Builder {
    fn new(wide_heaps: bool) -> Self {
        Builder {
            wide_heaps,
            strings: vec![0],
            blobs: vec![0],
            guids: Vec::new(),
            us: vec![0],
            tables: Vec::new(),
            table_stream_name: "#~",
        }
    }

    /// A heap index column, sized by the heap-size flags.
    fn h(&self, v: u32) -> Vec<u8> {
        if self.wide_heaps { u32le(v) } else { u16le(v) }
    }

    fn str(&mut self, s: &str) -> Vec<u8> {
        let i = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.h(i)
    }

    fn blob(&mut self, b: &[u8]) -> Vec<u8> {
        let i = self.blobs.len() as u32;
        assert!(b.len() < 0x80);
        self.blobs.push(b.len() as u8);
        self.blobs.extend_from_slice(b);
        self.h(i)
    }

    fn guid(&mut self, g: [u8; 16]) -> Vec<u8> {
        self.guids.extend_from_slice(&g);
        self.h((self.guids.len() / 16) as u32)
    }

    fn user_string(&mut self, s: &str) -> u32 {
        let i = self.us.len() as u32;
        let units: Vec<u16> = s.encode_utf16().collect();
        self.us.push((units.len() * 2 + 1) as u8);
        for u in units {
            self.us.extend_from_slice(&u.to_le_bytes());
        }
        self.us.push(0);
        i
    }

    fn table(&mut self, id: TableId, rows: Vec<Vec<u8>>) {
        self.tables.push((id, rows));
    }

    fn build(&self) -> Vec<u8> {
        let mut tables = self.tables.clone();
        tables.sort_by_key(|(id, _)| *id);
        let mut ts = u32le(0);
        ts.extend([2, 0, if self.wide_heaps { 7 } else { 0 }, 1]);
        let valid = tables.iter().fold(0u64, |m, (id, _)| m | 1 << (*id as u8));
        ts.extend(valid.to_le_bytes());
        ts.extend(0u64.to_le_bytes());
        for (_, rows) in &tables {
            ts.extend(u32le(rows.len() as u32));
        }
        for (_, rows) in &tables {
            for r in rows {
                ts.extend(r);
            }
        }
        let streams: [(&str, &[u8]); 5] = [
            (self.table_stream_name, &ts),
            ("#Strings", &self.strings),
            ("#US", &self.us),
            ("#GUID", &self.guids),
            ("#Blob", &self.blobs),
        ];
        let mut root = b"BSJB".to_vec();
        root.extend(u16le(1));
        root.extend(u16le(1));
        root.extend(u32le(0));
        root.extend(u32le(12));
        root.extend(b"v4.0.30319\0\0");
        root.extend(u16le(0));
        root.extend(u16le(streams.len() as u32));
        let header_len: usize = streams
            .iter()
            .map(|(n, _)| 8 + (n.len() + 1).next_multiple_of(4))
            .sum();
        let mut offset = root.len() + header_len;
        let mut body = Vec::new();
        for (name, data) in streams {
            let padded = data.len().next_multiple_of(4);
            root.extend(u32le(offset as u32));
            root.extend(u32le(padded as u32));
            let mut n = name.as_bytes().to_vec();
            n.resize((name.len() + 1).next_multiple_of(4), 0);
            root.extend(n);
            body.extend(data);
            body.resize(body.len() + padded - data.len(), 0);
            offset += padded;
        }
        root.extend(body);
        root
    }
}

/// A small module: `<Module>`, `Sample.Outer` (fields x, y) with nested `Inner` (field z),
/// generic ``Sample.Widget`1`` (field w: `Inner<!0>`), a TypeRef to System.Object, a
/// MemberRef and a TypeSpec `Widget<int>`.
fn sample(wide: bool) -> Builder {
    let mut b = Builder::new(wide);
    let module = [
        u16le(0),
        b.str("sample.dll"),
        b.guid([7; 16]),
        b.h(0),
        b.h(0),
    ]
    .concat();
    b.table(TableId::Module, vec![module]);
    let tr = [u16le(1 << 2), b.str("Object"), b.str("System")].concat();
    b.table(TableId::TypeRef, vec![tr]);
    let extends_object = u16le(1 << 2 | 1);
    let td = |b: &mut Builder, name, ns, extends: &[u8], fields| {
        [
            u32le(0x0010_0001),
            b.str(name),
            b.str(ns),
            extends.to_vec(),
            u16le(fields),
            u16le(1),
        ]
        .concat()
    };
    let rows = vec![
        td(&mut b, "<Module>", "", &u16le(0), 1),
        td(&mut b, "Outer", "Sample", &extends_object, 1),
        td(&mut b, "Inner", "", &extends_object, 3),
        td(&mut b, "Widget`1", "Sample", &extends_object, 4),
    ];
    b.table(TableId::TypeDef, rows);
    let f = |b: &mut Builder, flags, name, sig: &[u8]| {
        [u16le(flags), b.str(name), b.blob(sig)].concat()
    };
    let fields = vec![
        f(&mut b, 0x0001, "x", &[0x06, 0x08]),
        f(&mut b, 0x0011, "y", &[0x06, 0x0e]),
        f(&mut b, 0x0001, "z", &[0x06, 0x1d, 0x12, 0x05]),
        f(
            &mut b,
            0x0001,
            "w",
            &[0x06, 0x15, 0x12, 0x0c, 0x01, 0x13, 0x00],
        ),
    ];
    b.table(TableId::Field, fields);
    b.table(TableId::NestedClass, vec![[u16le(3), u16le(2)].concat()]);
    let mr = [u16le(1 << 3 | 1), b.str("Foo"), b.blob(&[0x06, 0x08])].concat();
    b.table(TableId::MemberRef, vec![mr]);
    let ts = b.blob(&[0x15, 0x12, 0x10, 0x01, 0x08]);
    b.table(TableId::TypeSpec, vec![ts]);
    let asm = [
        u32le(0x8004),
        u16le(1),
        u16le(2),
        u16le(3),
        u16le(4),
        u32le(0),
        b.h(0),
        b.str("SampleAsm"),
        b.h(0),
    ]
    .concat();
    b.table(TableId::Assembly, vec![asm]);
    b.user_string("hi");
    b
}

fn check_sample(r: &MetadataReader) {
    assert_eq!(r.version(), "v4.0.30319");
    assert_eq!(r.module_name().unwrap(), "sample.dll");
    assert_eq!(r.module_mvid().unwrap(), Some([7; 16]));
    assert_eq!(r.assembly_name().unwrap(), Some("SampleAsm"));
    assert_eq!(r.assembly().unwrap().unwrap().version, [1, 2, 3, 4]);
    assert_eq!(r.typedef_count(), 4);
    assert_eq!(r.type_full_name(1).unwrap(), "<Module>");
    assert_eq!(r.type_full_name(2).unwrap(), "Sample.Outer");
    assert_eq!(r.type_full_name(3).unwrap(), "Sample.Outer+Inner");
    assert_eq!(r.type_full_name(4).unwrap(), "Sample.Widget`1");
    assert_eq!(r.enclosing_type(3), Some(2));
    assert_eq!(r.enclosing_type(2), None);
    assert_eq!(r.enclosing_type(99), None);
    assert_eq!(r.find_typedef("Sample.Outer+Inner"), Some(3));
    assert_eq!(r.find_typedef("Sample.Nope"), None);
    let outer = r.typedef(2).unwrap();
    assert_eq!((outer.name, outer.namespace), ("Outer", "Sample"));
    assert_eq!(outer.extends, Token(0x0100_0001));
    assert_eq!(r.typeref_full_name(1).unwrap(), "System.Object");
    assert_eq!(r.type_fields(1).unwrap(), Vec::<u32>::new());
    assert_eq!(r.type_fields(2).unwrap(), vec![1, 2]);
    assert_eq!(r.type_fields(3).unwrap(), vec![3]);
    assert_eq!(r.type_fields(4).unwrap(), vec![4]);
    assert!(r.type_methods(2).unwrap().is_empty());
    let y = r.field(2).unwrap();
    assert_eq!(y.name, "y");
    assert!(y.is_static());
    assert_eq!(r.field_sig(1).unwrap(), SigType::I4);
    assert_eq!(r.field_sig(2).unwrap(), SigType::String);
    let z = r.field_sig(3).unwrap();
    assert_eq!(
        z,
        SigType::SzArray(Box::new(SigType::Class(Token(0x0100_0001))))
    );
    assert_eq!(r.sig_type_name(&z).unwrap(), "System.Object[]");
    let w = r.field_sig(4).unwrap();
    assert_eq!(
        w,
        SigType::GenericInst {
            generic: Token(0x0200_0003),
            is_value_type: false,
            args: vec![SigType::Var(0)]
        }
    );
    // Arguments beyond the segments' arities go to the innermost type.
    assert_eq!(r.sig_type_name(&w).unwrap(), "Sample.Outer+Inner<!0>");
    let m = r.memberref(1).unwrap();
    assert_eq!((m.name, m.parent), ("Foo", Token(0x0100_0001)));
    let spec = Token::new(TableId::TypeSpec, 1);
    assert_eq!(r.type_name(spec).unwrap(), "Sample.Widget<System.Int32>");
    assert_eq!(r.user_string(1).unwrap(), "hi");
    assert_eq!(r.guid(1).unwrap(), Some([7; 16]));
    assert!(r.guid(2).is_err());
    assert!(r.typedef(5).is_err());
    assert!(r.typedef(0).is_err());
    assert!(r.string(10_000).is_err());
    assert!(r.blob(10_000).is_err());
}

#[test]
fn synthetic_narrow_and_wide() {
    for wide in [false, true] {
        let r = MetadataReader::new(sample(wide).build()).unwrap();
        check_sample(&r);
    }
    let mut b = sample(false);
    b.table_stream_name = "#-";
    let r = MetadataReader::new(b.build()).unwrap();
    assert!(r.is_uncompressed());
    check_sample(&r);
}

#[test]
fn reader_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<MetadataReader>();
    check::<PeImage>();
}

#[test]
fn field_ptr_indirection() {
    let mut b = sample(false);
    // FieldPtr reverses the fields: list entries 1..=4 map to Field 4..=1.
    b.table(TableId::FieldPtr, (1..=4).rev().map(u16le).collect());
    let r = MetadataReader::new(b.build()).unwrap();
    assert_eq!(r.type_fields(2).unwrap(), vec![4, 3]);
    assert_eq!(r.type_fields(4).unwrap(), vec![1]);
}

#[test]
fn nesting_cycle_is_an_error() {
    let mut b = sample(false);
    b.tables.retain(|(id, _)| *id != TableId::NestedClass);
    b.table(
        TableId::NestedClass,
        vec![[u16le(3), u16le(2)].concat(), [u16le(2), u16le(3)].concat()],
    );
    let r = MetadataReader::new(b.build()).unwrap();
    assert!(matches!(
        r.type_full_name(2),
        Err(MetadataError::TooDeep(_))
    ));
}

/// Calls every accessor on every row; results are ignored, only panics matter.
fn exercise(r: &MetadataReader) {
    let _ = (
        r.module_name(),
        r.module_mvid(),
        r.assembly(),
        r.user_string(1),
    );
    for rid in 0..=r.typedef_count() + 1 {
        let _ = (r.typedef(rid), r.type_full_name(rid), r.enclosing_type(rid));
        let _ = (r.type_fields(rid), r.type_methods(rid));
    }
    for rid in 0..=r.rows(TableId::Field) + 1 {
        if let Ok(ty) = r.field_sig(rid) {
            let _ = r.sig_type_name(&ty);
        }
    }
    for rid in 0..=r.rows(TableId::TypeRef) + 1 {
        let _ = r.typeref_full_name(rid);
    }
    for rid in 0..=r.rows(TableId::TypeSpec) + 1 {
        let _ = r.type_name(Token::new(TableId::TypeSpec, rid));
    }
    for rid in 0..=r.rows(TableId::MemberRef) + 1 {
        let _ = r.memberref(rid);
    }
    let _ = r.find_typedef("Sample.Outer");
}

#[test]
fn truncated_and_corrupt_input_never_panics() {
    for wide in [false, true] {
        let good = sample(wide).build();
        for len in 0..good.len() {
            if let Ok(r) = MetadataReader::new(good[..len].to_vec()) {
                exercise(&r);
            }
        }
        for pos in 0..good.len() {
            for x in [0xff, 0x80, 0x01, 0x40] {
                let mut bad = good.clone();
                bad[pos] ^= x;
                if let Ok(r) = MetadataReader::new(bad) {
                    exercise(&r);
                }
            }
        }
    }
    assert!(matches!(
        MetadataReader::new(b"XSJB\0\0\0\0\0\0\0\0\0\0\0\0".to_vec()),
        Err(MetadataError::BadRootSignature(_))
    ));
    assert!(matches!(
        MetadataReader::new(Vec::new()),
        Err(MetadataError::Truncated { .. })
    ));
}

#[test]
fn huge_row_counts_are_rejected() {
    let mut good = sample(false).build();
    // The first row count (Module) follows the 24-byte #~ header; the stream starts at the
    // offset in the first stream header (root header is 32 bytes + 4).
    let ts = u32::from_le_bytes(good[32..36].try_into().unwrap()) as usize;
    good[ts + 24..ts + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        MetadataReader::new(good),
        Err(MetadataError::Truncated { .. })
    ));
}

#[test]
fn signatures() {
    use SigType::*;
    // int32[0...,0...] with sizes {2} and lower bounds {-1}
    let arr = decode_type(&[0x14, 0x08, 0x02, 0x01, 0x02, 0x01, 0x7f]).unwrap();
    assert_eq!(
        arr,
        Array {
            elem: Box::new(I4),
            rank: 2
        }
    );
    // modreq(TypeRef 1) volatile int32* ; byref
    assert_eq!(
        decode_field_signature(&[0x06, 0x1f, 0x05, 0x0f, 0x20, 0x05, 0x08]).unwrap(),
        Ptr(Box::new(I4))
    );
    assert_eq!(
        decode_field_signature(&[0x06, 0x10, 0x1e, 0x01]).unwrap(),
        ByRef(Box::new(MVar(1)))
    );
    // method* (int32, string) -> void
    assert_eq!(
        decode_field_signature(&[0x06, 0x1b, 0x00, 0x02, 0x01, 0x08, 0x0e]).unwrap(),
        FnPtr
    );
    // ValueTuple<int, List<string>>-like nesting with a 2-byte compressed token
    let g = decode_type(&[
        0x15, 0x11, 0x81, 0x00, 0x02, 0x08, 0x15, 0x12, 0x05, 0x01, 0x0e,
    ])
    .unwrap();
    assert_eq!(
        g,
        GenericInst {
            generic: Token(0x0200_0040),
            is_value_type: true,
            args: vec![
                I4,
                GenericInst {
                    generic: Token(0x0100_0001),
                    is_value_type: false,
                    args: vec![String]
                }
            ]
        }
    );
    // Errors, not panics.
    for bad in [
        &[][..],
        &[0x07, 0x08],
        &[0x06],
        &[0x06, 0x15, 0x12, 0x05, 0x00],
        &[0x06, 0x15, 0x12, 0x05, 0xdf],
        &[0x06, 0x12, 0x07],
        &[0x06, 0x99],
        &[0x06, 0x1b, 0x00, 0xff],
    ] {
        assert!(decode_field_signature(bad).is_err(), "{bad:x?}");
    }
    let deep = vec![0x1d; 10_000];
    assert!(matches!(decode_type(&deep), Err(MetadataError::TooDeep(_))));
    // A huge argument count is bounded by the blob.
    assert!(decode_type(&[0x15, 0x12, 0x05, 0xdf, 0xff, 0xff, 0xff, 0x08]).is_err());
}

#[test]
fn name_helpers() {
    assert_eq!(strip_generic_arity("List`1"), "List");
    assert_eq!(strip_generic_arity("Entry"), "Entry");
    assert_eq!(strip_generic_arity("Odd`"), "Odd`");
    assert_eq!(strip_generic_arity("A`b"), "A`b");
    assert_eq!(
        with_generic_args("N.Outer`1+Inner`1", &["System.String", "System.Int32"]),
        "N.Outer<System.String>+Inner<System.Int32>"
    );
    assert_eq!(
        with_generic_args("N.Dictionary`2+Entry", &["K", "V"]),
        "N.Dictionary<K, V>+Entry"
    );
    assert_eq!(with_generic_args::<&str>("N.List`1", &[]), "N.List`1");
    assert_eq!(Token::new(TableId::TypeDef, 0x80).to_string(), "0x02000080");
}

#[test]
fn coded_indexes() {
    assert_eq!(
        CodedIndex::TypeDefOrRef.decode(5).unwrap(),
        Token(0x0100_0001)
    );
    assert!(CodedIndex::TypeDefOrRef.decode(3).is_err());
    assert!(CodedIndex::CustomAttributeType.decode(0).is_err());
    assert_eq!(
        CodedIndex::CustomAttributeType.decode(0x0b).unwrap(),
        Token(0x0a00_0001)
    );
    assert_eq!(
        CodedIndex::HasCustomAttribute.decode(0x21).unwrap(),
        Token(0x0400_0001)
    );
}

// ---- PE ---------------------------------------------------------------------------------

/// Lays `file` out as the OS loader would (sections at their RVAs).
fn map_image(file: &[u8], pe: &PeImage) -> Vec<u8> {
    let mut mapped = vec![0u8; pe.size_of_image() as usize];
    let headers = pe
        .sections()
        .iter()
        .map(|s| s.raw_offset)
        .min()
        .unwrap_or(0) as usize;
    mapped[..headers].copy_from_slice(&file[..headers]);
    for s in pe.sections() {
        let raw = &file[s.raw_offset as usize..][..s.raw_size.min(s.virtual_size) as usize];
        mapped[s.virtual_address as usize..][..raw.len()].copy_from_slice(raw);
    }
    mapped
}

#[test]
fn pe_garbage_never_panics() {
    assert!(matches!(
        PeImage::parse(&b"MZ"[..], ImageLayout::Flat),
        Err(MetadataError::ImageRead { .. })
    ));
    assert!(matches!(
        PeImage::parse(&[0u8; 64][..], ImageLayout::Flat),
        Err(MetadataError::BadPe(_))
    ));
    let Some(path) = lab_file("scenarios/net8.0/scenarios.dll") else {
        return;
    };
    let file = std::fs::read(path).unwrap();
    let n = file.len().min(4096);
    for len in (0..n).step_by(7) {
        let _ = MetadataReader::from_image(&file[..len], ImageLayout::Flat);
    }
    for pos in 0..1024.min(file.len()) {
        let mut bad = file.clone();
        bad[pos] ^= 0xff;
        for layout in [ImageLayout::Flat, ImageLayout::Mapped] {
            if let Ok(r) = MetadataReader::from_image(&bad, layout) {
                exercise(&r);
            }
        }
    }
}

// ---- Lab assemblies ---------------------------------------------------------------------

const RUNTIMES: [&str; 3] = ["8.0.33", "9.0.22", "10.0.12"];

fn lab_dir() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/clrheap-lab")
}

fn lab_file(rel: &str) -> Option<PathBuf> {
    let p = lab_dir().join(rel);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("skipping: lab file {} not present", p.display());
        None
    }
}

fn open(path: &Path) -> (Vec<u8>, PeImage, MetadataReader) {
    let file = std::fs::read(path).unwrap();
    let pe = PeImage::parse(&file, ImageLayout::Flat).unwrap();
    let md = MetadataReader::new(pe.read_metadata(&file).unwrap()).unwrap();
    (file, pe, md)
}

#[test]
fn lab_corelib() {
    for v in RUNTIMES {
        let Some(path) = lab_file(&format!(
            "dotnet/shared/Microsoft.NETCore.App/{v}/System.Private.CoreLib.dll"
        )) else {
            continue;
        };
        let (file, pe, _) = open(&path);
        let t0 = std::time::Instant::now();
        let md = MetadataReader::new(pe.read_metadata(&file).unwrap()).unwrap();
        let parse = t0.elapsed();
        assert_eq!(md.module_name().unwrap(), "System.Private.CoreLib.dll");
        assert_eq!(md.assembly_name().unwrap(), Some("System.Private.CoreLib"));

        let string = md.find_typedef("System.String").expect("System.String");
        assert_eq!(md.type_full_name(string).unwrap(), "System.String");
        let fields: Vec<_> = md
            .type_fields(string)
            .unwrap()
            .into_iter()
            .map(|f| md.field(f).unwrap())
            .filter(|f| !f.is_static())
            .map(|f| (f.name, f.sig_type().unwrap()))
            .collect();
        assert_eq!(
            fields,
            [
                ("_stringLength", SigType::I4),
                ("_firstChar", SigType::Char)
            ]
        );

        let dict = md
            .find_typedef("System.Collections.Generic.Dictionary`2")
            .expect("Dictionary`2");
        let entry = md
            .find_typedef("System.Collections.Generic.Dictionary`2+Entry")
            .expect("Dictionary`2+Entry");
        assert_eq!(md.enclosing_type(entry), Some(dict));
        assert_eq!(md.typedef(entry).unwrap().name, "Entry");
        let entries = md
            .type_fields(dict)
            .unwrap()
            .into_iter()
            .find(|&f| md.field(f).unwrap().name == "_entries")
            .unwrap();
        let ty = md.field_sig(entries).unwrap();
        assert_eq!(
            md.sig_type_name(&ty).unwrap(),
            "System.Collections.Generic.Dictionary<!0, !1>+Entry[]"
        );

        // Everything decodes.
        let t1 = std::time::Instant::now();
        for rid in 1..=md.typedef_count() {
            md.type_full_name(rid).unwrap();
            for f in md.type_fields(rid).unwrap() {
                md.field_sig(f).unwrap();
            }
        }
        for rid in 1..=md.rows(TableId::TypeSpec) {
            md.type_name(Token::new(TableId::TypeSpec, rid)).unwrap();
        }
        for rid in 1..=md.rows(TableId::TypeRef) {
            md.typeref_full_name(rid).unwrap();
        }
        eprintln!(
            "CoreLib {v}: {} bytes of metadata parsed in {parse:?}, all {} types/fields/specs decoded in {:?}",
            md.data().len(),
            md.typedef_count(),
            t1.elapsed()
        );

        // The loader's layout gives the same metadata.
        let mapped = map_image(&file, &pe);
        let mpe = PeImage::parse(&mapped, ImageLayout::Mapped).unwrap();
        assert_eq!(
            mpe.metadata_range().unwrap().start,
            u64::from(pe.cli_header().metadata.rva)
        );
        assert_eq!(&mpe.read_metadata(&mapped).unwrap()[..], &md.data()[..]);
    }
}

#[test]
fn lab_collections_and_scenarios() {
    for v in RUNTIMES {
        let Some(path) = lab_file(&format!(
            "dotnet/shared/Microsoft.NETCore.App/{v}/System.Collections.dll"
        )) else {
            continue;
        };
        let (_, _, md) = open(&path);
        assert_eq!(md.assembly_name().unwrap(), Some("System.Collections"));
        assert!(
            md.find_typedef("System.Collections.Generic.SortedSet`1")
                .is_some()
        );
        exercise(&md);
    }
    if let Some(path) = lab_file("scenarios/net8.0/scenarios.dll") {
        let (_, _, md) = open(&path);
        assert!(
            md.find_typedef("DocProc.Infrastructure.Cache.DocumentCache")
                .is_some()
        );
        exercise(&md);
    }
}

/// Whether a raw full name (``A.B`1+C``) names the type a truth file spells with generic
/// arguments (`A.B<X>+C`).
fn matches_truth(mine: &str, truth: &str) -> bool {
    let mut t = truth;
    for (i, seg) in mine.split('+').enumerate() {
        if i > 0 {
            let Some(rest) = t.strip_prefix('+') else {
                return false;
            };
            t = rest;
        }
        let base = strip_generic_arity(seg);
        let Some(rest) = t.strip_prefix(base) else {
            return false;
        };
        t = rest;
        if base.len() != seg.len() {
            // Skip the balanced `<...>` argument list.
            let mut depth = 0usize;
            let mut end = None;
            for (j, c) in t.char_indices() {
                match c {
                    '<' => depth += 1,
                    '>' if depth == 1 => {
                        end = Some(j + 1);
                        break;
                    }
                    '>' => depth = depth.saturating_sub(1),
                    _ if depth == 0 => return false,
                    _ => {}
                }
            }
            let Some(end) = end else { return false };
            t = &t[end..];
        }
    }
    t.is_empty()
}

/// Whether the file at `file` is the module a `modules.tsv` row describes: its metadata
/// is as long as the runtime reported, and a flat-loaded image is as long as its mapping.
fn file_is_the_module(file: &str, row: &[&str]) -> bool {
    let Ok(bytes) = std::fs::read(file) else { return false };
    let Ok(pe) = PeImage::parse(&bytes, ImageLayout::Flat) else { return false };
    let md_len: Option<u64> = row.get(5).and_then(|s| s.parse().ok());
    let size: Option<u64> = row.get(2).and_then(|s| s.parse().ok());
    let flat = row.get(3) == Some(&"Flat");
    md_len == Some(u64::from(pe.cli_header().metadata.size)) && (!flat || size == Some(bytes.len() as u64))
}

#[test]
fn lab_truth_tokens() {
    let dumps = lab_dir().join("dumps");
    let Ok(dirs) = std::fs::read_dir(&dumps) else {
        eprintln!("skipping: {} not present", dumps.display());
        return;
    };
    let mut readers: HashMap<String, Option<MetadataReader>> = HashMap::new();
    let (mut checked, mut failures) = (0, Vec::new());
    for dir in dirs
        .flatten()
        .map(|d| d.path())
        .filter(|p| p.extension().is_some_and(|e| e == "truth"))
    {
        let (Ok(modules), Ok(types)) = (
            std::fs::read_to_string(dir.join("modules.tsv")),
            std::fs::read_to_string(dir.join("types.tsv")),
        ) else {
            continue;
        };
        // Only files that are the module the dump names: the lab's scenario assemblies
        // were rebuilt after some dumps were made.
        let module_files: HashMap<&str, &str> = modules
            .lines()
            .skip(1)
            .filter_map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                let file = *c.get(8)?;
                if !file_is_the_module(file, &c) {
                    eprintln!("{}: {file} is another build than the dump's module: not compared", dir.display());
                    return None;
                }
                Some((*c.first()?, file))
            })
            .collect();
        for line in types.lines().skip(1) {
            let c: Vec<&str> = line.split('\t').collect();
            let (Some(is_array), Some(token), Some(module), Some(name)) =
                (c.get(5), c.get(8), c.get(9), c.get(10))
            else {
                continue;
            };
            let Ok(token) = u32::from_str_radix(token.trim_start_matches("0x"), 16) else {
                continue;
            };
            let Some(file) = module_files.get(module).filter(|f| !f.is_empty()) else {
                continue;
            };
            if *is_array == "True" || token >> 24 != 2 || token & 0xff_ffff == 0 {
                continue;
            }
            let md = readers.entry(file.to_string()).or_insert_with(|| {
                let f = std::fs::read(file).ok()?;
                MetadataReader::from_image(&f, ImageLayout::Flat).ok()
            });
            let Some(md) = md else { continue };
            let mine = md.type_full_name(token & 0xff_ffff).unwrap();
            checked += 1;
            if !matches_truth(&mine, name) {
                failures.push(format!("{}: {token:#x} {mine} vs {name}", dir.display()));
            }
        }
    }
    eprintln!("checked {checked} truth type tokens");
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

/// The metadata location the runtime reported (modules.tsv) is where [`PeImage`] finds it.
#[test]
fn lab_truth_metadata_ranges() {
    let dumps = lab_dir().join("dumps");
    let Ok(dirs) = std::fs::read_dir(&dumps) else {
        eprintln!("skipping: {} not present", dumps.display());
        return;
    };
    let mut checked = 0;
    for dir in dirs.flatten().map(|d| d.path()) {
        let Ok(modules) = std::fs::read_to_string(dir.join("modules.tsv")) else {
            continue;
        };
        for line in modules.lines().skip(1) {
            let c: Vec<&str> = line.split('\t').collect();
            let [_, base, _, layout, md_addr, md_len, _, _, file, ..] = c[..] else {
                continue;
            };
            let hex = |s: &str| u64::from_str_radix(s, 16).ok();
            let (Some(base), Some(md_addr), Ok(md_len)) =
                (hex(base), hex(md_addr), md_len.parse::<u64>())
            else {
                continue;
            };
            if !file_is_the_module(file, &c) {
                eprintln!("{}: {file} is another build than the dump's module: not compared", dir.display());
                continue;
            }
            let Ok(bytes) = std::fs::read(file) else {
                continue;
            };
            let pe = PeImage::parse(&bytes, ImageLayout::Flat).unwrap();
            let layout = if layout == "Mapped" {
                ImageLayout::Mapped
            } else {
                ImageLayout::Flat
            };
            let rva = pe.cli_header().metadata.rva;
            let start = pe.rva_to_offset_in(layout, rva, md_len as u32).unwrap();
            assert_eq!(
                (start, u64::from(pe.cli_header().metadata.size)),
                (md_addr - base, md_len),
                "{file}"
            );
            checked += 1;
        }
    }
    eprintln!("checked {checked} module metadata ranges");
}

//! An ELF core editor for crafting hostile dumps from a real one: overwrite captured
//! memory, punch pages out of it, add memory and note segments, and write the result with
//! its program header table moved to the end of the file (so nothing else moves), with
//! `PN_XNUM` when asked or needed. Used by `tests/hostile.rs` and by the structure-aware
//! fuzzing ([`super::crafted_dump`]).

pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
pub const NT_FILE: u32 = 0x4649_4c45;
const PHDR: usize = 56;

/// One program header.
#[derive(Debug, Clone, Copy)]
pub struct Phdr {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A core being edited.
pub struct Core {
    pub bytes: Vec<u8>,
    pub phdrs: Vec<Phdr>,
}

impl Core {
    /// The core's program headers (it must be a well-formed ELF64 core: a fixture).
    pub fn parse(bytes: Vec<u8>) -> Core {
        assert_eq!(&bytes[..4], b"\x7fELF");
        let phoff = u64_at(&bytes, 32) as usize;
        let phnum = u16_at(&bytes, 56) as usize;
        let phdrs = (0..phnum)
            .map(|i| {
                let p = &bytes[phoff + i * PHDR..phoff + (i + 1) * PHDR];
                Phdr {
                    p_type: u32_at(p, 0),
                    p_flags: u32_at(p, 4),
                    p_offset: u64_at(p, 8),
                    p_vaddr: u64_at(p, 16),
                    p_filesz: u64_at(p, 32),
                    p_memsz: u64_at(p, 40),
                }
            })
            .collect();
        Core { bytes, phdrs }
    }

    /// Appends `data` at the next page boundary of the file; returns its offset.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        let at = self.bytes.len().div_ceil(4096) * 4096;
        self.bytes.resize(at, 0);
        self.bytes.extend_from_slice(data);
        at as u64
    }

    /// Adds a `PT_NOTE` segment holding `notes`.
    pub fn add_notes(&mut self, notes: &[u8]) {
        let offset = self.append(notes);
        self.phdrs.push(Phdr {
            p_type: PT_NOTE,
            p_flags: 0,
            p_offset: offset,
            p_vaddr: 0,
            p_filesz: notes.len() as u64,
            p_memsz: 0,
        });
    }

    /// Adds captured memory at `vaddr` (which no segment may cover).
    pub fn add_memory(&mut self, vaddr: u64, data: &[u8]) {
        let offset = self.append(data);
        self.phdrs.push(Phdr {
            p_type: PT_LOAD,
            p_flags: 4,
            p_offset: offset,
            p_vaddr: vaddr,
            p_filesz: data.len() as u64,
            p_memsz: data.len() as u64,
        });
    }

    /// The file offsets of the note segments.
    pub fn note_segments(&self) -> Vec<(usize, usize)> {
        self.phdrs
            .iter()
            .filter(|p| p.p_type == PT_NOTE)
            .map(|p| (p.p_offset as usize, p.p_filesz as usize))
            .collect()
    }

    /// Where the captured byte at `vaddr` is in the file.
    pub fn file_offset(&self, vaddr: u64) -> Option<usize> {
        self.phdrs
            .iter()
            .find(|p| p.p_type == PT_LOAD && vaddr >= p.p_vaddr && vaddr - p.p_vaddr < p.p_filesz)
            .map(|p| (p.p_offset + (vaddr - p.p_vaddr)) as usize)
    }

    pub fn read_u64(&self, vaddr: u64) -> u64 {
        let at = self.file_offset(vaddr).expect("captured");
        u64_at(&self.bytes, at)
    }

    /// Overwrites captured memory at `vaddr` (within one segment).
    pub fn write(&mut self, vaddr: u64, data: &[u8]) {
        let at = self.file_offset(vaddr).expect("captured");
        self.bytes[at..at + data.len()].copy_from_slice(data);
    }

    pub fn write_u64(&mut self, vaddr: u64, value: u64) {
        self.write(vaddr, &value.to_le_bytes());
    }

    /// Takes `[vaddr, vaddr + len)` out of the captured memory: the segments around it
    /// are split, so those addresses belong to no segment.
    pub fn punch(&mut self, vaddr: u64, len: u64) {
        let end = vaddr.saturating_add(len);
        let mut out = Vec::new();
        for p in &self.phdrs {
            let p_end = p.p_vaddr.saturating_add(p.p_memsz);
            if p.p_type != PT_LOAD || p_end <= vaddr || p.p_vaddr >= end {
                out.push(*p);
                continue;
            }
            if p.p_filesz != p.p_memsz {
                // A partly captured segment is left whole.
                out.push(*p);
                continue;
            }
            if p.p_vaddr < vaddr {
                out.push(Phdr {
                    p_filesz: vaddr - p.p_vaddr,
                    p_memsz: vaddr - p.p_vaddr,
                    ..*p
                });
            }
            if end < p_end {
                out.push(Phdr {
                    p_offset: p.p_offset + (end - p.p_vaddr),
                    p_vaddr: end,
                    p_filesz: p_end - end,
                    p_memsz: p_end - end,
                    ..*p
                });
            }
        }
        self.phdrs = out;
    }

    /// The file: the bytes, then the program headers (and, with `PN_XNUM`, one section
    /// header holding their count).
    pub fn finish(&self, xnum: bool) -> Vec<u8> {
        let mut b = self.bytes.clone();
        b.resize(b.len().div_ceil(8) * 8, 0);
        let phoff = b.len() as u64;
        for p in &self.phdrs {
            b.extend_from_slice(&p.p_type.to_le_bytes());
            b.extend_from_slice(&p.p_flags.to_le_bytes());
            for v in [p.p_offset, p.p_vaddr, 0, p.p_filesz, p.p_memsz, 4096] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b[32..40].copy_from_slice(&phoff.to_le_bytes());
        let count = self.phdrs.len();
        if xnum || count >= 0xffff {
            let shoff = b.len() as u64;
            let mut sh = [0u8; 64];
            sh[44..48].copy_from_slice(&(count as u32).to_le_bytes()); // sh_info
            b.extend_from_slice(&sh);
            b[40..48].copy_from_slice(&shoff.to_le_bytes()); // e_shoff
            b[56..58].copy_from_slice(&0xffffu16.to_le_bytes()); // e_phnum = PN_XNUM
            b[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
            b[60..62].copy_from_slice(&1u16.to_le_bytes()); // e_shnum
            b[62..64].copy_from_slice(&0u16.to_le_bytes()); // e_shstrndx
        } else {
            b[56..58].copy_from_slice(&(count as u16).to_le_bytes());
        }
        b
    }
}

/// One ELF note.
pub fn note(ntype: u32, name: &[u8], desc: &[u8]) -> Vec<u8> {
    let mut n = Vec::new();
    n.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
    n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    n.extend_from_slice(&ntype.to_le_bytes());
    n.extend_from_slice(name);
    n.push(0);
    n.resize(n.len().div_ceil(4) * 4, 0);
    n.extend_from_slice(desc);
    n.resize(n.len().div_ceil(4) * 4, 0);
    n
}

/// An `NT_FILE` note: `(start, end, offset in pages, path)` entries.
pub fn nt_file(page_size: u64, entries: &[(u64, u64, u64, String)]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    d.extend_from_slice(&page_size.to_le_bytes());
    for (start, end, pgoff, _) in entries {
        for v in [start, end, pgoff] {
            d.extend_from_slice(&v.to_le_bytes());
        }
    }
    for (_, _, _, path) in entries {
        d.extend_from_slice(path.as_bytes());
        d.push(0);
    }
    note(NT_FILE, b"CORE", &d)
}

/// A minimal PE image's first page: DOS header, PE signature, COFF header with
/// `timestamp`, a PE32+ optional header with `SizeOfHeaders` 0x200; then `fill`.
pub fn pe_header_page(timestamp: u32, fill: u8) -> Vec<u8> {
    let mut p = vec![fill; 4096];
    p[..0x200].fill(0);
    p[0..2].copy_from_slice(b"MZ");
    p[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    p[0x80..0x84].copy_from_slice(b"PE\0\0");
    p[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes()); // machine
    p[0x86..0x88].copy_from_slice(&1u16.to_le_bytes()); // sections
    p[0x88..0x8c].copy_from_slice(&timestamp.to_le_bytes());
    p[0x94..0x96].copy_from_slice(&0xf0u16.to_le_bytes()); // optional header size
    let opt = 0x98;
    p[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes()); // PE32+
    p[opt + 56..opt + 60].copy_from_slice(&0x2000u32.to_le_bytes()); // SizeOfImage
    p[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes()); // SizeOfHeaders
    p
}

/// A minimal ELF shared object's first page with a GNU build id note; then `fill`.
pub fn elf_header_page(build_id: &[u8], fill: u8) -> Vec<u8> {
    let mut p = vec![fill; 4096];
    p[..0x200].fill(0);
    p[0..4].copy_from_slice(b"\x7fELF");
    p[4] = 2; // 64-bit
    p[5] = 1; // little-endian
    p[6] = 1;
    p[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    p[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    p[20..24].copy_from_slice(&1u32.to_le_bytes());
    p[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    p[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    p[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    p[56..58].copy_from_slice(&2u16.to_le_bytes()); // e_phnum
    let n = note(3, b"GNU", build_id);
    let note_at = 0x100u64;
    // PT_LOAD over the whole file (two pages), PT_NOTE on the build id.
    let phdrs = [
        (PT_LOAD, 0u64, 0u64, 0x2000u64, 4096u64),
        (PT_NOTE, note_at, note_at, n.len() as u64, 4),
    ];
    for (i, (t, off, vaddr, size, align)) in phdrs.iter().enumerate() {
        let at = 64 + i * 56;
        p[at..at + 4].copy_from_slice(&t.to_le_bytes());
        p[at + 4..at + 8].copy_from_slice(&4u32.to_le_bytes());
        for (j, v) in [*off, *vaddr, *vaddr, *size, *size, *align].iter().enumerate() {
            p[at + 8 + 8 * j..at + 16 + 8 * j].copy_from_slice(&v.to_le_bytes());
        }
    }
    p[note_at as usize..note_at as usize + n.len()].copy_from_slice(&n);
    p
}

//! Writing a small core dump out of a big one: only the pages a run of commands read
//! (from the dump or from the mapped files) and the original notes. clrheap's test
//! fixtures are made this way (`examples/make_fixture.rs`). Tooling, not part of the
//! library: built with the `fuzzing` feature.
use super::{AddressSpace, DumpError, Result, PAGE_SIZE};
use goblin::elf64::header::{Header, SIZEOF_EHDR};
use goblin::elf64::program_header::{ProgramHeader, PT_LOAD, SIZEOF_PHDR};
use std::io::Write;

/// A writer that knows how much it wrote.
struct Counting<'a> {
    out: &'a mut dyn Write,
    written: u64,
}

impl Counting<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|e| DumpError::Io {
            path: "output".into(),
            source: e,
        })?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad_to(&mut self, offset: u64) -> Result<()> {
        let n = offset.saturating_sub(self.written) as usize;
        self.put(&vec![0u8; n])
    }
}

/// An ELF64 program header as stored in the file (little-endian).
fn phdr_bytes(ph: &ProgramHeader) -> Vec<u8> {
    let mut b = Vec::with_capacity(SIZEOF_PHDR);
    b.extend_from_slice(&ph.p_type.to_le_bytes());
    b.extend_from_slice(&ph.p_flags.to_le_bytes());
    for v in [ph.p_offset, ph.p_vaddr, ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_align] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

/// Writes a dump holding only the given pages (page-aligned addresses, read through the
/// address space: from the dump, or from mapped files) and the original notes. This is how
/// clrheap's fixtures are made small: a run of commands records the pages it reads, and
/// the subset answers those commands exactly as the whole dump did.
pub fn write_subset(space: &AddressSpace, pages: &[u64], out: &mut dyn Write) -> Result<()> {
    let core = space.core();
    let data: &[u8] = &core.data;
    let header = Header::from_bytes(data[..SIZEOF_EHDR].try_into().expect("header size"));
    let old_phoff = header.e_phoff as usize;
    let old_phnum = header.e_phnum as usize;
    let notes: Vec<ProgramHeader> = ProgramHeader::from_bytes(&data[old_phoff..old_phoff + old_phnum * SIZEOF_PHDR], old_phnum)
        .into_iter()
        .filter(|ph| ph.p_type == goblin::elf::program_header::PT_NOTE)
        .collect();
    // Runs of consecutive readable pages.
    let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut page = vec![0u8; PAGE_SIZE as usize];
    for &addr in pages {
        if space.read(addr, &mut page).is_err() {
            continue;
        }
        match runs.last_mut() {
            Some((start, bytes)) if *start + bytes.len() as u64 == addr => bytes.extend_from_slice(&page),
            _ => runs.push((addr, page.clone())),
        }
    }
    let phnum = notes.len() + runs.len();
    if phnum > u16::MAX as usize {
        return Err(DumpError::Damaged {
            what: "rewrite",
            detail: "too many segments".into(),
        });
    }
    let mut offset = (SIZEOF_EHDR + phnum * SIZEOF_PHDR) as u64;
    let mut phdrs = Vec::with_capacity(phnum);
    for n in &notes {
        let mut ph = *n;
        ph.p_offset = offset;
        offset += ph.p_filesz;
        phdrs.push(ph);
    }
    offset = offset.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    for (start, bytes) in &runs {
        phdrs.push(ProgramHeader {
            p_type: PT_LOAD,
            p_flags: 4,
            p_offset: offset,
            p_vaddr: *start,
            p_paddr: 0,
            p_filesz: bytes.len() as u64,
            p_memsz: bytes.len() as u64,
            p_align: PAGE_SIZE,
        });
        offset += bytes.len() as u64;
    }
    let mut new_header = data[..SIZEOF_EHDR].to_vec();
    new_header[32..40].copy_from_slice(&(SIZEOF_EHDR as u64).to_le_bytes());
    new_header[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
    let mut w = Counting { out, written: 0 };
    w.put(&new_header)?;
    for ph in &phdrs {
        w.put(&phdr_bytes(ph))?;
    }
    for n in &notes {
        w.put(&data[n.p_offset as usize..(n.p_offset + n.p_filesz) as usize])?;
    }
    for (ph, (_, bytes)) in phdrs[notes.len()..].iter().zip(&runs) {
        w.pad_to(ph.p_offset)?;
        w.put(bytes)?;
    }
    Ok(())
}

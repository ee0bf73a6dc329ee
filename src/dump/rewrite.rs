//! Writing a copy of a core dump with extra memory: pages that the original dump left
//! out and that were read back from mapped files are added as new `PT_LOAD` segments
//! ([`write_with_runs`]). This makes a heap dump self-contained (readable where the
//! runtime's files are not installed): `clrheap pack` does this. The original segments,
//! notes and bytes are kept unchanged, only moved to make room for the larger program
//! header table.
//!
//! [`write_subset`] writes a small dump out of a big one instead: only the pages a run of
//! commands read, and the notes. clrheap's test fixtures are made this way
//! (`examples/make_fixture.rs`).
use super::elf_core::LoadSegment;
use super::{AddressSpace, DumpError, Result, PAGE_SIZE};
use goblin::elf64::header::{Header, SIZEOF_EHDR};
use goblin::elf64::program_header::{ProgramHeader, PT_LOAD, SIZEOF_PHDR};
use std::io::Write;

/// Writes the dump behind `space` plus the given runs of memory `(address, bytes)` as new
/// `PT_LOAD` segments. Runs must be page-aligned, in address order and not overlap each
/// other; a run that overlaps bytes the dump captured is refused. A segment whose
/// uncaptured tail (`p_filesz < p_memsz`, as in kernel core files) receives a run is cut
/// to its captured part, so that the new segment does not overlap it.
pub fn write_with_runs(space: &AddressSpace, runs: &[(u64, Vec<u8>)], out: &mut dyn Write) -> Result<()> {
    let core = space.core();
    let data: &[u8] = &core.data;
    let header = Header::from_bytes(data[..SIZEOF_EHDR].try_into().expect("header size"));
    let old_phoff = header.e_phoff as usize;
    let old_phnum = header.e_phnum as usize;
    let old_ph_end = old_phoff + old_phnum * SIZEOF_PHDR;
    let old_phdrs = ProgramHeader::from_bytes(&data[old_phoff..old_ph_end], old_phnum);
    for (start, bytes) in runs {
        let end = start.checked_add(bytes.len() as u64);
        let bad = start % PAGE_SIZE != 0
            || end.is_none()
            || core.segments.iter().any(|s| {
                s.filesz > 0 && *start < s.vaddr.saturating_add(s.filesz) && s.vaddr < end.unwrap_or(u64::MAX)
            });
        if bad {
            return Err(DumpError::Damaged {
                what: "rewrite",
                detail: format!("the run at {start:#x} overlaps captured memory or is not page-aligned"),
            });
        }
    }
    for pair in runs.windows(2) {
        if pair[0].0.saturating_add(pair[0].1.len() as u64) > pair[1].0 {
            return Err(DumpError::Damaged {
                what: "rewrite",
                detail: format!("the runs at {:#x} and {:#x} overlap or are out of order", pair[0].0, pair[1].0),
            });
        }
    }
    let new_phnum = old_phnum + runs.len();
    if new_phnum > u16::MAX as usize {
        return Err(DumpError::Damaged {
            what: "rewrite",
            detail: "too many segments".into(),
        });
    }
    // Keep the old layout after the program headers, shifted by whole pages.
    let new_ph_end = SIZEOF_EHDR + new_phnum * SIZEOF_PHDR;
    let shift = (new_ph_end.saturating_sub(old_ph_end) as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let mut tail_start = (data.len() as u64 + shift).div_ceil(PAGE_SIZE) * PAGE_SIZE;

    let mut phdrs: Vec<ProgramHeader> = old_phdrs
        .into_iter()
        .map(|mut ph| {
            if ph.p_filesz > 0 || ph.p_offset != 0 {
                ph.p_offset += shift;
            }
            if ph.p_type == PT_LOAD && ph.p_filesz < ph.p_memsz {
                let tail = ph.p_vaddr.saturating_add(ph.p_filesz)..ph.p_vaddr.saturating_add(ph.p_memsz);
                let filled = runs.iter().any(|(start, bytes)| {
                    *start < tail.end && tail.start < start.saturating_add(bytes.len() as u64)
                });
                if filled {
                    ph.p_memsz = ph.p_filesz;
                }
            }
            ph
        })
        .collect();
    for (start, bytes) in runs {
        let len = bytes.len() as u64;
        phdrs.push(ProgramHeader {
            p_type: PT_LOAD,
            p_flags: 4, // readable
            p_offset: tail_start,
            p_vaddr: *start,
            p_paddr: 0,
            p_filesz: len,
            p_memsz: len,
            p_align: PAGE_SIZE,
        });
        tail_start += len;
    }
    let mut new_header = data[..SIZEOF_EHDR].to_vec();
    new_header[32..40].copy_from_slice(&(SIZEOF_EHDR as u64).to_le_bytes());
    new_header[56..58].copy_from_slice(&(new_phnum as u16).to_le_bytes());

    let mut w = Counting { out, written: 0 };
    w.put(&new_header)?;
    for ph in &phdrs {
        w.put(&phdr_bytes(ph))?;
    }
    w.pad_to(old_ph_end as u64 + shift)?;
    w.put(&data[old_ph_end..])?;
    if let Some(first_extra) = phdrs.get(old_phnum) {
        w.pad_to(first_extra.p_offset)?;
    }
    for (_, bytes) in runs {
        w.put(bytes)?;
    }
    Ok(())
}

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

/// Whether the dump captured any byte of the page at `page` (page-aligned): a run added
/// by [`write_with_runs`] must not hold such a page.
pub fn has_captured_bytes(space: &AddressSpace, page: u64) -> bool {
    captured_overlap(&space.core().segments, page)
}

/// Whether any captured byte of a segment lies in the page.
fn captured_overlap(segments: &[LoadSegment], page: u64) -> bool {
    segments
        .iter()
        .any(|s| s.filesz > 0 && page < s.vaddr.saturating_add(s.filesz) && s.vaddr < page.saturating_add(PAGE_SIZE))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::{Backing, CoreFile};

    /// A minimal x86-64 core: one `PT_LOAD` at `vaddr` of `memsz` bytes whose first
    /// `captured` bytes are in the file (0xAA), the rest not (as kernel cores leave
    /// file-backed pages out).
    fn core(vaddr: u64, memsz: u64, captured: u64) -> Vec<u8> {
        let data_at = 0x1000u64;
        let mut b = vec![0u8; SIZEOF_EHDR];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2; // 64-bit
        b[5] = 1; // little-endian
        b[6] = 1;
        b[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
        b[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[32..40].copy_from_slice(&(SIZEOF_EHDR as u64).to_le_bytes());
        b[52..54].copy_from_slice(&(SIZEOF_EHDR as u16).to_le_bytes());
        b[54..56].copy_from_slice(&(SIZEOF_PHDR as u16).to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = ProgramHeader {
            p_type: PT_LOAD,
            p_flags: 4,
            p_offset: data_at,
            p_vaddr: vaddr,
            p_paddr: 0,
            p_filesz: captured,
            p_memsz: memsz,
            p_align: PAGE_SIZE,
        };
        b.extend_from_slice(&phdr_bytes(&ph));
        b.resize(data_at as usize, 0);
        b.extend(std::iter::repeat_n(0xAA, captured as usize));
        b
    }

    fn space(bytes: Vec<u8>) -> AddressSpace {
        AddressSpace::new(CoreFile::parse(Backing::Owned(bytes)).unwrap(), Vec::new())
    }

    #[test]
    fn runs_fill_the_uncaptured_tail_of_a_segment() {
        let base = 0x10_0000u64;
        let original = space(core(base, 3 * PAGE_SIZE, PAGE_SIZE));
        assert!(has_captured_bytes(&original, base));
        assert!(!has_captured_bytes(&original, base + PAGE_SIZE));
        let run = vec![0x55u8; PAGE_SIZE as usize];
        let mut out = Vec::new();
        write_with_runs(&original, &[(base + PAGE_SIZE, run.clone())], &mut out).unwrap();
        let packed = space(out);
        assert_eq!(packed.read_vec(base, 4096).unwrap(), vec![0xAA; 4096]);
        assert_eq!(packed.read_vec(base + PAGE_SIZE, 4096).unwrap(), run);
        // The page no run filled stays absent.
        assert!(packed.read_vec(base + 2 * PAGE_SIZE, 1).is_err());
    }

    #[test]
    fn runs_over_captured_bytes_or_each_other_are_refused() {
        let base = 0x10_0000u64;
        let original = space(core(base, 3 * PAGE_SIZE, PAGE_SIZE));
        let page = vec![0u8; PAGE_SIZE as usize];
        let mut out = Vec::new();
        assert!(write_with_runs(&original, &[(base, page.clone())], &mut out).is_err());
        let overlapping = [(base + PAGE_SIZE, vec![0u8; 2 * PAGE_SIZE as usize]), (base + 2 * PAGE_SIZE, page.clone())];
        assert!(write_with_runs(&original, &overlapping, &mut out).is_err());
        assert!(write_with_runs(&original, &[(base + PAGE_SIZE + 8, page)], &mut out).is_err());
        // An empty (not captured) segment inside a run is no obstacle.
        let empty = space(core(base, 2 * PAGE_SIZE, 0));
        let mut out = Vec::new();
        write_with_runs(&empty, &[(base, vec![1u8; 2 * PAGE_SIZE as usize])], &mut out).unwrap();
        assert_eq!(space(out).read_u8(base + PAGE_SIZE).unwrap(), 1);
    }
}

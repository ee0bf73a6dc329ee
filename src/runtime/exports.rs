//! Exported symbols of a shared object loaded in the dumped process.
//!
//! The ELF header, program headers and dynamic section are read at the object's load
//! base through the address space (from the dump, or from the file where the dump has a
//! gap). Symbols are looked up through `DT_GNU_HASH`, falling back to a scan bounded by
//! `DT_HASH`'s chain count.
use crate::dump::{AddressSpace, MappedFile};
use anyhow::{bail, Context, Result};

const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_GNU_HASH: u64 = 0x6fff_fef5;
const SYM_SIZE: u64 = 24;
/// Caps on counts read from the target.
const MAX_DYN_ENTRIES: u64 = 4096;
const MAX_SYMBOLS: u32 = 1 << 20;
const MAX_BUCKETS: u32 = 1 << 20;

/// The dynamic symbol table of one loaded ELF object.
pub struct Exports<'a> {
    space: &'a AddressSpace,
    base: u64,
    symtab: u64,
    strtab: u64,
    gnu_hash: Option<u64>,
    hash: Option<u64>,
}

impl<'a> Exports<'a> {
    pub fn read(space: &'a AddressSpace, module: &MappedFile) -> Result<Exports<'a>> {
        let base = module.base;
        let ident = space.read_array::<16>(base).with_context(|| {
            format!("cannot read the ELF header of {} at {base:#x}", module.path)
        })?;
        if &ident[..4] != b"\x7fELF" {
            bail!("{} at {base:#x} does not start with an ELF header", module.path);
        }
        let phoff = space.read_u64(base + 32)?;
        let phnum = space.read_u16(base + 56)? as u64;
        let mut dynamic = None;
        for i in 0..phnum.min(128) {
            let ph = base + phoff + i * 56;
            if space.read_u32(ph)? == PT_DYNAMIC {
                dynamic = Some((space.read_u64(ph + 16)?, space.read_u64(ph + 40)?));
            }
        }
        let (dyn_vaddr, dyn_size) =
            dynamic.with_context(|| format!("{} has no dynamic section", module.path))?;
        let (mut symtab, mut strtab, mut gnu_hash, mut hash) = (None, None, None, None);
        // The loader relocates these in memory; the file holds offsets from the base.
        let absolute = |v: u64| if v < base { base + v } else { v };
        for i in 0..(dyn_size / 16).min(MAX_DYN_ENTRIES) {
            let entry = base + dyn_vaddr + i * 16;
            let tag = space.read_u64(entry)?;
            let val = space.read_u64(entry + 8)?;
            match tag {
                DT_NULL => break,
                DT_SYMTAB => symtab = Some(absolute(val)),
                DT_STRTAB => strtab = Some(absolute(val)),
                DT_GNU_HASH => gnu_hash = Some(absolute(val)),
                DT_HASH => hash = Some(absolute(val)),
                _ => {}
            }
        }
        Ok(Exports {
            space,
            base,
            symtab: symtab.with_context(|| format!("{} has no DT_SYMTAB", module.path))?,
            strtab: strtab.with_context(|| format!("{} has no DT_STRTAB", module.path))?,
            gnu_hash,
            hash,
        })
    }

    /// The address of the defined symbol `name`, if exported.
    pub fn find(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.find_sized(name)?.map(|(addr, _)| addr))
    }

    /// The address and size (`st_size`) of the defined symbol `name`, if exported.
    pub fn find_sized(&self, name: &str) -> Result<Option<(u64, u64)>> {
        match self.gnu_hash {
            Some(table) => self.find_gnu(table, name),
            None => self.find_linear(name),
        }
    }

    fn symbol(&self, index: u64, name: &str) -> Result<Option<(u64, u64)>> {
        let sym = self.symtab + index * SYM_SIZE;
        let name_off = self.space.read_u32(sym)? as u64;
        let shndx = self.space.read_u16(sym + 6)?;
        let value = self.space.read_u64(sym + 8)?;
        let size = self.space.read_u64(sym + 16)?;
        if shndx == 0 {
            return Ok(None);
        }
        let got = self.space.read_cstring(self.strtab + name_off, 512)?;
        Ok((got == name).then_some((self.base.wrapping_add(value), size)))
    }

    fn find_gnu(&self, table: u64, name: &str) -> Result<Option<(u64, u64)>> {
        let s = self.space;
        let nbuckets = s.read_u32(table)?;
        let symoffset = s.read_u32(table + 4)? as u64;
        let bloom_size = s.read_u32(table + 8)? as u64;
        if nbuckets == 0 || nbuckets > MAX_BUCKETS || bloom_size > MAX_BUCKETS as u64 {
            bail!("implausible GNU hash table at {table:#x}");
        }
        let buckets = table + 16 + bloom_size * 8;
        let chains = buckets + nbuckets as u64 * 4;
        let h = gnu_hash(name.as_bytes());
        let first = s.read_u32(buckets + (h % nbuckets) as u64 * 4)? as u64;
        if first == 0 || first < symoffset {
            return Ok(None);
        }
        for index in first..first + MAX_SYMBOLS as u64 {
            let chain_hash = s.read_u32(chains + (index - symoffset) * 4)?;
            if chain_hash | 1 == h | 1
                && let Some(addr) = self.symbol(index, name)? {
                    return Ok(Some(addr));
                }
            if chain_hash & 1 != 0 {
                break;
            }
        }
        Ok(None)
    }

    fn find_linear(&self, name: &str) -> Result<Option<(u64, u64)>> {
        let Some(hash) = self.hash else {
            bail!("no symbol hash table");
        };
        let count = self.space.read_u32(hash + 4)?.min(MAX_SYMBOLS);
        for i in 1..count as u64 {
            if let Some(addr) = self.symbol(i, name)? {
                return Ok(Some(addr));
            }
        }
        Ok(None)
    }
}

fn gnu_hash(name: &[u8]) -> u32 {
    name.iter()
        .fold(5381u32, |h, &c| h.wrapping_mul(33).wrapping_add(c as u32))
}

//! Parsing an ELF core file: its `PT_LOAD` segments and its notes.
//!
//! 64-bit little-endian cores of x86-64 and AArch64 (arm64) processes are accepted, on any
//! host: the machine is a property of the dump ([`Architecture`]) that the layers above
//! ask, and the only thing here that depends on it is the layout of each thread's
//! registers in `NT_PRSTATUS`. Segments are kept sorted by address and must not overlap; a segment whose
//! bytes run past the end of the file means the dump was cut short, which is reported
//! rather than read as partial data.
//!
//! The headers and notes are a claim of whoever made the dump, and parsing them costs no
//! more than their size: each byte of note data is parsed at most once (a `PT_NOTE` that
//! overlaps another is skipped), `NT_FILE` entries are bounded by the note's size and need
//! a page size a kernel or gdb writes, and `PN_XNUM` (65,535 or more program headers, the
//! count in section header 0) is followed.
use super::{Backing, DumpError, Result};
use goblin::elf::header::{EM_AARCH64, EM_X86_64, ET_CORE};
use goblin::elf::program_header::{PT_LOAD, PT_NOTE};
use goblin::elf64::header::{Header, SIZEOF_EHDR};
use goblin::elf64::program_header::{ProgramHeader, SIZEOF_PHDR};

const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
/// `struct elf_prpsinfo`'s `pr_pid` (after state, sname, zomb, nice, padding, flag, uid, gid).
const PRPSINFO_PID: usize = 24;
const NT_AUXV: u32 = 6;
const NT_FILE: u32 = 0x4649_4c45;
/// More program headers or notes than this is not a dump any process could produce.
const MAX_PHDRS: usize = 1 << 22;
/// `e_phnum` saying "the count is in section header 0's `sh_info`".
const PN_XNUM: u16 = 0xffff;
/// Size of an ELF64 section header.
const SIZEOF_SHDR: usize = 64;
/// Largest page size of `NT_FILE` offsets: the kernel writes its page size (4 to 64 KiB),
/// gdb's `gcore` writes 1 (offsets in bytes).
const MAX_FILE_PAGE_SIZE: u64 = 65536;

/// A `PT_LOAD` segment: `memsz` bytes of the process at `vaddr`, of which the first
/// `filesz` are in the file at `offset`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadSegment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
}

/// One `NT_FILE` entry: `[start, end)` maps the file at `path` from byte `file_offset`.
#[derive(Debug, Clone)]
pub(crate) struct FileMapping {
    pub start: u64,
    pub end: u64,
    pub file_offset: u64,
    pub path: String,
}

/// The machine a dump's process ran on (the core's `e_machine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// x86-64 (`EM_X86_64`, 62).
    X86_64,
    /// AArch64, arm64 (`EM_AARCH64`, 183).
    Arm64,
}

impl Architecture {
    /// The name SOS and .NET use for it (`x64`, `arm64`).
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// General registers in a thread's `NT_PRSTATUS` note.
    fn register_count(self) -> usize {
        match self {
            Architecture::X86_64 => X64_REGISTER_COUNT,
            Architecture::Arm64 => ARM64_REGISTER_COUNT,
        }
    }
}

/// `NT_PRSTATUS` is `struct elf_prstatus`: `pr_pid` at +32 and the registers (`pr_reg`) at
/// +112 on every 64-bit Linux target.
const PRSTATUS_PID: usize = 32;
const PRSTATUS_REGS: usize = 112;
/// x86-64 `user_regs_struct`: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi
/// orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs.
const X64_REGISTER_COUNT: usize = 27;
/// arm64 `user_pt_regs`: x0..x30, sp, pc, pstate.
const ARM64_REGISTER_COUNT: usize = 34;
const MAX_REGISTERS: usize = ARM64_REGISTER_COUNT;

/// A thread's registers from its `NT_PRSTATUS` note, in the architecture's `pr_reg` order
/// (x86-64 `user_regs_struct`, arm64 `user_pt_regs`).
#[derive(Debug, Clone)]
pub struct ThreadRegisters {
    pub tid: u32,
    pub arch: Architecture,
    /// The first `arch`'s register count entries are set, the rest are 0.
    pub regs: [u64; MAX_REGISTERS],
}

impl ThreadRegisters {
    /// The instruction pointer (rip, pc).
    pub fn ip(&self) -> u64 {
        match self.arch {
            Architecture::X86_64 => self.regs[16],
            Architecture::Arm64 => self.regs[32],
        }
    }
    /// The stack pointer (rsp, sp).
    pub fn sp(&self) -> u64 {
        match self.arch {
            Architecture::X86_64 => self.regs[19],
            Architecture::Arm64 => self.regs[31],
        }
    }
    /// The frame pointer (rbp, x29/fp).
    pub fn fp(&self) -> u64 {
        match self.arch {
            Architecture::X86_64 => self.regs[4],
            Architecture::Arm64 => self.regs[29],
        }
    }
}

/// A parsed core file. The bytes stay mapped; segments and notes are indexed.
pub struct CoreFile {
    pub(crate) data: Backing,
    pub(crate) segments: Vec<LoadSegment>,
    pub(crate) files: Vec<FileMapping>,
    /// The machine the process ran on.
    pub arch: Architecture,
    pub threads: Vec<ThreadRegisters>,
    pub auxv: Vec<(u64, u64)>,
    /// The process id of `NT_PRPSINFO`, when the dump has that note.
    pub pid: Option<u32>,
    /// `(file offset, size)` of each `PT_NOTE` segment read.
    pub(crate) note_ranges: Vec<(u64, u64)>,
    /// The page size of `NT_FILE` (its offsets are in pages); 4096 when there is none.
    pub(crate) file_page_size: u64,
    /// What parsing skipped (moved into the address space's warnings).
    pub(crate) warnings: Vec<String>,
}

fn damaged(what: &'static str, detail: impl Into<String>) -> DumpError {
    DumpError::Damaged {
        what,
        detail: detail.into(),
    }
}

impl CoreFile {
    pub fn parse(data: Backing) -> Result<CoreFile> {
        let bytes: &[u8] = &data;
        if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
            return Err(DumpError::NotACore(
                "not a core dump: the file does not start with the ELF signature".into(),
            ));
        }
        if bytes.len() < SIZEOF_EHDR {
            return Err(DumpError::NotACore(
                "not a core dump: the file is shorter than an ELF header (truncated?)".into(),
            ));
        }
        let header = Header::from_bytes(bytes[..SIZEOF_EHDR].try_into().expect("header size"));
        if header.e_ident[goblin::elf::header::EI_CLASS] != goblin::elf::header::ELFCLASS64
            || header.e_ident[goblin::elf::header::EI_DATA] != goblin::elf::header::ELFDATA2LSB
        {
            return Err(DumpError::NotACore(
                "not supported: only 64-bit little-endian core dumps can be read".into(),
            ));
        }
        if header.e_type != ET_CORE {
            return Err(DumpError::NotACore(format!(
                "not a core dump: an ELF {} file",
                goblin::elf::header::et_to_str(header.e_type)
            )));
        }
        let arch = match header.e_machine {
            EM_X86_64 => Architecture::X86_64,
            EM_AARCH64 => Architecture::Arm64,
            other => {
                return Err(DumpError::NotACore(format!(
                    "not supported: a core dump for {}; clrheap reads x86-64 and arm64 dumps",
                    goblin::elf::header::machine_to_str(other)
                )))
            }
        };
        let phnum = if header.e_phnum == PN_XNUM {
            extended_phnum(bytes, &header)?
        } else {
            header.e_phnum as usize
        };
        if phnum == 0 || phnum > MAX_PHDRS || header.e_phentsize as usize != SIZEOF_PHDR {
            return Err(damaged("program headers", format!("{phnum} entries")));
        }
        let ph_end = usize::try_from(header.e_phoff)
            .ok()
            .and_then(|off| off.checked_add(phnum * SIZEOF_PHDR))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                DumpError::Truncated(format!(
                    "the dump is truncated: its program headers end past the file's {} bytes",
                    bytes.len()
                ))
            })?;
        let mut segments = Vec::new();
        let mut notes = Vec::new();
        let mut needed_len = 0u64;
        for i in 0..phnum {
            let off = header.e_phoff as usize + i * SIZEOF_PHDR;
            debug_assert!(off + SIZEOF_PHDR <= ph_end);
            let ph = ProgramHeader::from_bytes(&bytes[off..off + SIZEOF_PHDR], 1)
                .into_iter()
                .next()
                .ok_or_else(|| damaged("program header", format!("entry {i}")))?;
            let file_end = ph
                .p_offset
                .checked_add(ph.p_filesz)
                .ok_or_else(|| damaged("program header", "offset overflows"))?;
            match ph.p_type {
                PT_LOAD if ph.p_memsz > 0 => {
                    needed_len = needed_len.max(file_end);
                    segments.push(LoadSegment {
                        vaddr: ph.p_vaddr,
                        memsz: ph.p_memsz,
                        offset: ph.p_offset,
                        filesz: ph.p_filesz.min(ph.p_memsz),
                    });
                }
                PT_NOTE => {
                    needed_len = needed_len.max(file_end);
                    notes.push((ph.p_offset, ph.p_filesz));
                }
                _ => {}
            }
        }
        if needed_len > bytes.len() as u64 {
            return Err(DumpError::Truncated(format!(
                "the dump is truncated: it has {} bytes but its segments need {}; was the copy complete?",
                bytes.len(),
                needed_len
            )));
        }
        segments.sort_by_key(|s| s.vaddr);
        for pair in segments.windows(2) {
            if pair[0].vaddr.saturating_add(pair[0].memsz) > pair[1].vaddr {
                return Err(damaged(
                    "memory segments",
                    format!("segments at {:#x} and {:#x} overlap", pair[0].vaddr, pair[1].vaddr),
                ));
            }
        }
        // Each byte of note data is parsed once: a note segment overlapping one already
        // taken (65,535 headers can name the same one) is skipped.
        notes.sort_unstable();
        let mut warnings = Vec::new();
        let mut taken: Vec<(u64, u64)> = Vec::new();
        let mut overlapping = 0usize;
        for (offset, size) in notes {
            match taken.last() {
                Some(&(o, s)) if offset < o + s => overlapping += 1,
                _ => taken.push((offset, size)),
            }
        }
        if overlapping > 0 {
            warnings.push(format!(
                "{overlapping} note segments overlap others; they are skipped (each note is read once)"
            ));
        }
        let mut core = CoreFile {
            data,
            segments,
            files: Vec::new(),
            arch,
            threads: Vec::new(),
            auxv: Vec::new(),
            pid: None,
            note_ranges: taken,
            file_page_size: 4096,
            warnings,
        };
        for i in 0..core.note_ranges.len() {
            let (offset, size) = core.note_ranges[i];
            core.parse_notes(offset as usize, size as usize)?;
        }
        core.files.sort_by_key(|f| f.start);
        Ok(core)
    }

    fn parse_notes(&mut self, offset: usize, size: usize) -> Result<()> {
        let data: &[u8] = &self.data;
        let notes = &data[offset..offset + size];
        let mut pos = 0usize;
        let mut files = Vec::new();
        let mut page_size = None;
        while pos + 12 <= notes.len() {
            let namesz = u32_at(notes, pos) as usize;
            let descsz = u32_at(notes, pos + 4) as usize;
            let ntype = u32_at(notes, pos + 8);
            let name_start = pos + 12;
            let desc_start = name_start.saturating_add(align4(namesz));
            let desc_end = desc_start.saturating_add(descsz);
            if desc_end > notes.len() {
                self.warnings.push(format!(
                    "the note at file offset {:#x} runs past its segment; the notes after it are not read",
                    offset + pos
                ));
                break;
            }
            let desc = &notes[desc_start..desc_end];
            match ntype {
                NT_PRSTATUS if desc.len() >= PRSTATUS_REGS + self.arch.register_count() * 8 => {
                    let mut regs = [0u64; MAX_REGISTERS];
                    for (i, r) in regs.iter_mut().take(self.arch.register_count()).enumerate() {
                        *r = u64_at(desc, PRSTATUS_REGS + i * 8);
                    }
                    self.threads.push(ThreadRegisters {
                        tid: u32_at(desc, PRSTATUS_PID),
                        arch: self.arch,
                        regs,
                    });
                }
                NT_PRPSINFO if desc.len() >= PRPSINFO_PID + 4 => {
                    self.pid = Some(u32_at(desc, PRPSINFO_PID));
                }
                NT_AUXV => {
                    self.auxv = desc
                        .chunks_exact(16)
                        .map(|c| (u64_at(c, 0), u64_at(c, 8)))
                        .collect();
                }
                NT_FILE => {
                    let (parsed, size) = parse_nt_file(desc, &mut self.warnings)?;
                    files.extend(parsed);
                    page_size = size.or(page_size);
                }
                _ => {}
            }
            pos = desc_start.saturating_add(align4(descsz));
        }
        if let Some(size) = page_size {
            self.file_page_size = size;
        }
        self.files.extend(files);
        Ok(())
    }
}

/// The section header table's first entry holds the program header count when there are
/// 65,535 or more (`PN_XNUM`): its `sh_info`.
fn extended_phnum(bytes: &[u8], header: &Header) -> Result<usize> {
    let at = usize::try_from(header.e_shoff)
        .ok()
        .filter(|&at| at != 0 && header.e_shentsize as usize == SIZEOF_SHDR)
        .and_then(|at| bytes.get(at..at.checked_add(SIZEOF_SHDR)?))
        .ok_or_else(|| {
            damaged(
                "program headers",
                "65,535 or more, but no section header holds their count".to_string(),
            )
        })?;
    Ok(u32_at(at, 44) as usize)
}

/// An `NT_FILE` note: its mappings and page size. Every entry must fit in the note and
/// the page size must be one a kernel (or gdb) writes; an entry whose file offset overflows, that
/// maps nothing, or that has no name, is skipped with a warning.
fn parse_nt_file(desc: &[u8], warnings: &mut Vec<String>) -> Result<(Vec<FileMapping>, Option<u64>)> {
    if desc.len() < 16 {
        return Err(damaged("NT_FILE note", "too short"));
    }
    let count = u64_at(desc, 0);
    let page_size = u64_at(desc, 8);
    let table_end = usize::try_from(count)
        .ok()
        .and_then(|n| n.checked_mul(24))
        .and_then(|n| n.checked_add(16))
        .filter(|&end| end <= desc.len())
        .ok_or_else(|| damaged("NT_FILE note", format!("{count} entries do not fit in its {} bytes", desc.len())))?;
    if page_size > MAX_FILE_PAGE_SIZE || !page_size.is_power_of_two() {
        warnings.push(format!(
            "the NT_FILE note's page size {page_size:#x} is not a page size; which files were mapped where is not known"
        ));
        return Ok((Vec::new(), None));
    }
    let count = count as usize;
    let mut names = desc[table_end..].split(|&b| b == 0);
    let mut files = Vec::with_capacity(count);
    let mut skipped = 0usize;
    for i in 0..count {
        let e = 16 + i * 24;
        let Some(name) = names.next() else {
            warnings.push(format!(
                "the NT_FILE note has {count} entries but {i} names; the rest are not read"
            ));
            break;
        };
        let (start, end) = (u64_at(desc, e), u64_at(desc, e + 8));
        let file_offset = u64_at(desc, e + 16).checked_mul(page_size);
        let Some(file_offset) = file_offset.filter(|_| end > start) else {
            skipped += 1;
            continue;
        };
        files.push(FileMapping {
            start,
            end,
            file_offset,
            path: String::from_utf8_lossy(name).into_owned(),
        });
    }
    if skipped > 0 {
        warnings.push(format!(
            "{skipped} NT_FILE entries map nothing or past any file; they are not read"
        ));
    }
    Ok((files, Some(page_size)))
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Little-endian u32 at `pos`; callers have checked the bounds.
fn u32_at(b: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes(b[pos..pos + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], pos: usize) -> u64 {
    u64::from_le_bytes(b[pos..pos + 8].try_into().expect("8 bytes"))
}

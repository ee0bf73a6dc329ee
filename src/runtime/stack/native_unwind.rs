//! Unwinding native (ELF) frames with their DWARF call frame information (`.eh_frame`),
//! x64 only: how the runtime recovers a HelperMethodFrame whose machine state was never
//! initialised (8 and 9): from the state it captured inside libcoreclr (rip, rsp, the
//! callee-saved registers), it unwinds libcoreclr's frames until a return address lands
//! in managed code; that frame's callee-saved registers (with where they were saved) are
//! the managed caller's.
//!
//! The image's `PT_GNU_EH_FRAME` program header gives `.eh_frame_hdr` (its sorted table
//! finds a frame description by address) and the `.eh_frame` it indexes, both read through
//! the address space (the dump, else the module's file). gimli parses and evaluates the
//! CFI; a rule this unwinder cannot follow (a DWARF expression) ends the unwind with no
//! answer rather than a guess.
use super::codemap::CodeMap;
use super::unwind::{RegContext, RBP};
use crate::dump::AddressSpace;
use gimli::{BaseAddresses, CfaRule, EhFrame, EhFrameHdr, LittleEndian, Pointer, RegisterRule, UnwindContext, UnwindSection};

const PT_LOAD: u32 = 1;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
/// Most program headers looked at, frames unwound, and bytes of `.eh_frame_hdr`/`.eh_frame` read.
const MAX_PHDRS: u64 = 128;
const MAX_FRAMES: usize = 64;
const MAX_HDR: u64 = 4 << 20;
const MAX_EH_FRAME: u64 = 32 << 20;

/// x64's DWARF register numbers of the registers the unwinder tracks, with their index in
/// [`RegContext`] (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15).
const DWARF_TO_CONTEXT: [(u16, usize); 16] = [
    (0, 0),
    (1, 2),
    (2, 1),
    (3, 3),
    (4, 6),
    (5, 7),
    (6, RBP),
    (7, 4),
    (8, 8),
    (9, 9),
    (10, 10),
    (11, 11),
    (12, 12),
    (13, 13),
    (14, 14),
    (15, 15),
];
const DWARF_RSP: u16 = 7;
const DWARF_RA: u16 = 16;

/// The CFI of one loaded ELF image.
struct ImageCfi {
    hdr: Vec<u8>,
    hdr_addr: u64,
    eh_frame: Vec<u8>,
    eh_frame_addr: u64,
}

fn read_u32(space: &AddressSpace, at: u64) -> Option<u32> {
    space.read_u32(at).ok()
}

fn read_u64(space: &AddressSpace, at: u64) -> Option<u64> {
    space.read_u64(at).ok()
}

/// The CFI of the ELF image loaded at `base`: `.eh_frame_hdr` from `PT_GNU_EH_FRAME`, and
/// `.eh_frame` to the end of the `PT_LOAD` holding it.
fn image_cfi(space: &AddressSpace, base: u64) -> Option<ImageCfi> {
    let phoff = read_u64(space, base.checked_add(32)?)?;
    let phnum = (space.read_u16(base.checked_add(56)?).ok()? as u64).min(MAX_PHDRS);
    let mut hdr = None;
    let mut loads = Vec::new();
    for i in 0..phnum {
        let ph = base.checked_add(phoff)?.checked_add(i * 56)?;
        let kind = read_u32(space, ph)?;
        let vaddr = read_u64(space, ph.checked_add(16)?)?;
        let memsz = read_u64(space, ph.checked_add(40)?)?;
        let start = base.checked_add(vaddr)?;
        match kind {
            PT_GNU_EH_FRAME => hdr = Some((start, memsz.min(MAX_HDR))),
            PT_LOAD => loads.push((start, start.saturating_add(memsz))),
            _ => {}
        }
    }
    let (hdr_addr, hdr_len) = hdr?;
    let hdr = space.read_vec(hdr_addr, hdr_len as usize).ok()?;
    let parsed = EhFrameHdr::new(&hdr, LittleEndian).parse(&BaseAddresses::default().set_eh_frame_hdr(hdr_addr), 8).ok()?;
    let Pointer::Direct(eh_frame_addr) = parsed.eh_frame_ptr() else { return None };
    let (_, end) = *loads.iter().find(|&&(s, e)| s <= eh_frame_addr && eh_frame_addr < e)?;
    let len = end.saturating_sub(eh_frame_addr).min(MAX_EH_FRAME);
    // The segment's end may be beyond what can be read (a heap dump): read what is there.
    let len = len.min(space.readable_run(eh_frame_addr));
    let eh_frame = space.read_vec(eh_frame_addr, len as usize).ok()?;
    Some(ImageCfi { hdr, hdr_addr, eh_frame, eh_frame_addr })
}

/// One unwind step: the caller's context of `c` (whose ip is a return address when
/// `caller` is true, so looked up one byte before), or `None`.
fn step(space: &AddressSpace, cfi: &ImageCfi, c: &RegContext, caller: bool) -> Option<RegContext> {
    let bases = BaseAddresses::default().set_eh_frame_hdr(cfi.hdr_addr).set_eh_frame(cfi.eh_frame_addr);
    let parsed = EhFrameHdr::new(&cfi.hdr, LittleEndian).parse(&bases, 8).ok()?;
    let table = parsed.table()?;
    let eh_frame = EhFrame::new(&cfi.eh_frame, LittleEndian);
    let mut ctx = UnwindContext::new();
    let lookup = if caller { c.ip.checked_sub(1)? } else { c.ip };
    let row = table
        .unwind_info_for_address(&eh_frame, &bases, &mut ctx, lookup, |section, bases, offset| section.cie_from_offset(bases, offset))
        .ok()?;
    let value = |dwarf: u16| -> Option<u64> {
        let &(_, i) = DWARF_TO_CONTEXT.iter().find(|(d, _)| *d == dwarf)?;
        c.get(i)
    };
    let cfa = match row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => value(register.0)?.checked_add_signed(*offset)?,
        CfaRule::Expression(_) => return None,
    };
    let recover = |dwarf: u16| -> Option<(Option<u64>, Option<u64>)> {
        // (value, where it was saved)
        match row.register(gimli::Register(dwarf)) {
            None | Some(RegisterRule::Undefined) => Some((None, None)),
            Some(RegisterRule::SameValue) => Some((value(dwarf), None)),
            Some(RegisterRule::Offset(n)) => {
                let at = cfa.checked_add_signed(n)?;
                Some((space.read_ptr(at).ok(), Some(at)))
            }
            Some(RegisterRule::ValOffset(n)) => Some((cfa.checked_add_signed(n), None)),
            Some(RegisterRule::Register(r)) => Some((value(r.0), None)),
            Some(_) => None,
        }
    };
    let (ra, _) = recover(DWARF_RA)?;
    let mut next = RegContext::x64(ra?, cfa);
    for &(dwarf, i) in &DWARF_TO_CONTEXT {
        if dwarf == DWARF_RSP {
            continue;
        }
        // A callee-saved register without a rule keeps its value; a scratch one is lost.
        let callee_saved = dwarf == 3 || dwarf == 6 || (12..=15).contains(&dwarf);
        let (v, at) = match row.register(gimli::Register(dwarf)) {
            None if callee_saved => (value(dwarf), c.locations[i]),
            None | Some(RegisterRule::Undefined) => (None, None),
            Some(RegisterRule::SameValue) => (value(dwarf), c.locations[i]),
            Some(_) => recover(dwarf)?,
        };
        if let Some(v) = v {
            next.set(i, v);
            next.locations[i] = at;
        }
    }
    Some(next)
}

/// Unwinds native frames from `start` (an x64 context inside an ELF image, its ip the
/// instruction to resume, not a return address, when `at_call` is false) until the ip
/// is in managed code: that frame's context, with the callee-saved registers the native
/// frames restored and where they saved them. `None` when the CFI runs out first.
pub fn unwind_to_managed(space: &AddressSpace, code: &CodeMap, start: RegContext, at_call: bool) -> Option<RegContext> {
    let mut cache: Vec<(u64, Option<ImageCfi>)> = Vec::new();
    let mut c = start;
    let mut caller = at_call;
    for _ in 0..MAX_FRAMES {
        let image = space.elf_image_at(c.ip)?;
        if !cache.iter().any(|(b, _)| *b == image.base) {
            cache.push((image.base, image_cfi(space, image.base)));
        }
        let cfi = cache.iter().find(|(b, _)| *b == image.base)?.1.as_ref()?;
        let next = step(space, cfi, &c, caller)?;
        if next.sp() <= c.sp() {
            return None;
        }
        if code.lookup(next.ip).ok().flatten().is_some() {
            return Some(next);
        }
        c = next;
        caller = true;
    }
    None
}

//! `gcinfo <methoddesc|code address>`: the JIT's GC encoding of a method as SOS prints it:
//! where its code starts and who made it, the GC info's address, its header (prolog size,
//! GS cookie, PSPSym, generics context, frame pointer, parameter area, return kind, code
//! size), then what SOS's dumper finds walking the code byte by byte:
//!
//! ```text
//! Untracked: +rbp-30 +rbp-38
//! 0000005b interruptible
//! 00000081 +rax
//! 0000008f -rdi -rax
//! 000001b1 not interruptible
//! 00000035 is a safepoint:  +rax
//! ```
//!
//! The untracked slots (live throughout), where fully interruptible ranges start and stop,
//! each call's safe point with the slots live across it, and every slot's birth (`+`) and
//! death (`-`) at the offset it happens, as a register or a stack offset from `sp`,
//! `caller.sp` or the frame register, with `(pinned)` and `(interior)`. The decoding is the
//! runtime layer's ([`crate::runtime::stack::gcinfo::GcInfo::dump_steps`]); this prints it.
//!
//! SOS's printing has quirks kept here: once a safe point has been printed, deaths are no
//! longer printed until the next interruptibility change; a .NET 8/9 safe point is numbered
//! one past the offset its live slots are then listed at; a line is ended only when the
//! next one starts.
use crate::args::{option_list, parse_address, OptionSpec, SosArgs};
use crate::heap::methods::{CodeKind, GcInfoReport};
use crate::render::output::Format;
use crate::render::sos::Sos;
use crate::runtime::stack::gcinfo::{
    DumpOutcome, DumpStep, GcInfo, GcSlot, SlotBase, SlotLocation, FLAG_GENERICS_CONTEXT_MASK, FLAG_GENERICS_CONTEXT_MD,
    FLAG_GENERICS_CONTEXT_MT, FLAG_REPORT_ONLY_LEAF_OR_TAILCALLS, FLAG_VARARG, UNTRACKED_OFFSET,
};
use crate::session::Session;
use anyhow::Result;
use std::io::Write;

/// gcinfo's options (none: the `-legacy` of later SOS versions is not in the dotnet-dump
/// this is compared with, which refuses it).
pub const OPTIONS: &[OptionSpec] = &[];

/// An address as SOS's `%p` writes it.
fn pointer(a: u64) -> String {
    format!("{a:016X}")
}

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let mut sos = Sos::new(out);
    let Some(arg) = p.args.first() else {
        // No address: SOS refuses the arguments and prints nothing of its own (the empty
        // line is dotnet-dump's, after a failed command).
        sos.put("\n")?;
        return Err(crate::error::ShownInOutput("gcinfo needs a MethodDesc or a code address".to_string()).into());
    };
    let addr = parse_address(arg).unwrap_or(0);
    let text = match session.heap.method_gc_info(addr)? {
        GcInfoReport::NotMethodDesc => format!("{} is not a valid MethodDesc\n", pointer(addr)),
        GcInfoReport::NoCode => "No GC info available\n".to_string(),
        GcInfoReport::NoCodeHeader { entry } => {
            format!("entry point {}\nUnable to get codeHeader information\n", pointer(entry))
        }
        GcInfoReport::Found { entry, kind, address, info } => {
            let mut s = format!("entry point {}\n", pointer(entry));
            s.push_str(match kind {
                CodeKind::Jit => "Normal JIT generated code\n",
                CodeKind::ReadyToRun => "preJIT generated code\n",
            });
            s.push_str(&format!("GC info {}\nPointer table:\n", pointer(address)));
            match info {
                Ok(g) => {
                    // Registers are named for the target the GC info was encoded for.
                    let arm64 = g.info.encoding.arch == crate::dump::Architecture::Arm64;
                    s.push_str(&header_text(&g.info, arm64));
                    s.push_str(&table_text(&g.info, &g.bytes, arm64));
                }
                Err(e) => {
                    session.heap.warnings().warn(format!("gcinfo: the GC info at {address:x}: {e}"));
                    s.push_str("invalid GC info\n");
                }
            }
            s
        }
    };
    sos.put(&text)
}

/// A register's name as SOS's dumper writes it.
fn register_name(reg: u32, arm64: bool) -> String {
    const X64: [&str; 16] =
        ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
    if arm64 {
        return match reg {
            0..=28 => format!("X{reg}"),
            29 => "Fp".to_string(),
            30 => "Lr".to_string(),
            31 => "Sp".to_string(),
            _ => "???".to_string(),
        };
    }
    X64.get(reg as usize).copied().unwrap_or("???").to_string()
}

/// `base+ofs` / `base-ofs`, the offset in hex without its sign.
fn signed(base: &str, offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    format!("{base}{sign}{:x}", offset.unsigned_abs())
}

/// The header lines, before the table.
fn header_text(g: &GcInfo, arm64: bool) -> String {
    let mut s = String::new();
    if g.generics_context.is_some() || g.gs_cookie.is_none() {
        s.push_str(&format!("Prolog size: {}\n", g.prolog_size as i32));
    }
    match g.gs_cookie {
        None => s.push_str("GS cookie: <none>\n"),
        Some((slot, start, end)) => {
            s.push_str(&format!("GS cookie: {}\n", signed("caller.sp", slot)));
            s.push_str(&format!("GS cookie valid range: [{start:x};{end:x})\n"));
        }
    }
    let psp_base = if arm64 { "caller.sp" } else { "initial.sp" };
    let or_none = |v: Option<i32>, base: &str| v.map_or("<none>".to_string(), |o| signed(base, o));
    s.push_str(&format!("PSPSym: {}\n", or_none(g.psp_sym, psp_base)));
    s.push_str(&format!("Generics inst context: {}\n", or_none(g.generics_context, "caller.sp")));
    s.push_str(&format!("PSP slot: {}\n", or_none(g.psp_sym, "caller.sp")));
    match g.generics_context {
        None => s.push_str("GenericInst slot: <none>\n"),
        Some(o) => {
            let kind = match g.flags & FLAG_GENERICS_CONTEXT_MASK {
                FLAG_GENERICS_CONTEXT_MD => "GENERIC_PARAM_CONTEXT_METHODDESC",
                FLAG_GENERICS_CONTEXT_MT => "GENERIC_PARAM_CONTEXT_METHODHANDLE",
                _ => "GENERIC_PARAM_CONTEXT_THIS",
            };
            s.push_str(&format!("GenericInst slot: {} ({kind})\n", signed("caller.sp", o)));
        }
    }
    s.push_str(&format!("Varargs: {}\n", u32::from(g.flags & FLAG_VARARG != 0)));
    let frame = g.stack_base_register.map_or("<none>".to_string(), |r| register_name(r.into(), arm64));
    s.push_str(&format!("Frame pointer: {frame}\n"));
    let leaf = u32::from(g.flags & FLAG_REPORT_ONLY_LEAF_OR_TAILCALLS != 0);
    if arm64 {
        s.push_str(&format!("Has tailcalls: {leaf}\n"));
    } else {
        s.push_str(&format!("Wants Report Only Leaf: {leaf}\n"));
    }
    s.push_str(&format!("Size of parameter area: {:x}\n", g.scratch_area));
    if let Some(kind) = g.return_kind {
        s.push_str(&format!("Return Kind: {}\n", return_kind_name(kind)));
    }
    s.push_str(&format!("Code size: {:x}\n", g.code_length));
    s
}

/// The runtime's names of its return kinds.
fn return_kind_name(kind: u32) -> &'static str {
    match kind {
        0 => "Scalar",
        1 => "Object",
        2 => "ByRef",
        3 => "UNSET",
        4 => "{Scalar, Object}",
        8 => "{Scalar, ByRef}",
        5 => "{Object, Object}",
        9 => "{Object, ByRef}",
        6 => "{ByRef, Object}",
        10 => "{ByRef, ByRef}",
        0xff => "<Illegal>",
        _ => "!Impossible!",
    }
}

/// The dumper's lines: SOS's printing state, step by step.
fn table_text(g: &GcInfo, data: &[u8], arm64: bool) -> String {
    let (steps, outcome) = g.dump_steps(data);
    let mut s = String::new();
    // The offset the current line is about (None: no line open for slots), whether
    // anything has been printed on the current line, and whether a safe point was.
    let mut line_offset: Option<u32> = None;
    let mut printed = false;
    let mut after_safe_point = false;
    let frame = g.stack_base_register.map_or("???".to_string(), |r| register_name(r.into(), arm64));
    for step in steps {
        match step {
            DumpStep::Interruptible { offset, interruptible } => {
                if printed {
                    s.push('\n');
                    printed = false;
                    after_safe_point = false;
                }
                s.push_str(&format!("{offset:08x}{} interruptible\n", if interruptible { "" } else { " not" }));
                line_offset = None;
            }
            DumpStep::SafePoint { offset } => {
                if printed {
                    s.push('\n');
                }
                s.push_str(&format!("{offset:08x} is a safepoint: "));
                line_offset = Some(offset);
                printed = true;
                after_safe_point = true;
            }
            DumpStep::Slot { offset, slot, live } => {
                if after_safe_point && !live {
                    continue;
                }
                if line_offset != Some(offset) {
                    if printed {
                        s.push('\n');
                    }
                    let is_stack = matches!(slot.location, SlotLocation::Stack { .. });
                    if offset == UNTRACKED_OFFSET && is_stack && !printed {
                        s.push_str("Untracked:");
                    } else {
                        s.push_str(&format!("{offset:08x}"));
                    }
                    line_offset = Some(offset);
                }
                s.push(' ');
                s.push(if live { '+' } else { '-' });
                s.push_str(&slot_name(slot, &frame, arm64));
                printed = true;
            }
        }
    }
    if printed {
        s.push('\n');
    }
    match outcome {
        DumpOutcome::Complete => {}
        DumpOutcome::ReportedFramePointer => s.push_str("reported frame register\n"),
        DumpOutcome::InvalidPointer => s.push_str("reported invalid pointer\n"),
        DumpOutcome::DecoderFailed => s.push_str("decoder failed\n"),
    }
    s
}

/// A slot as the dumper names it: `rdi`, `rbp-40`, `sp+20`, `caller.sp+8`, then its flags.
fn slot_name(slot: GcSlot, frame: &str, arm64: bool) -> String {
    let mut s = match slot.location {
        SlotLocation::Register(r) => register_name(r.into(), arm64),
        SlotLocation::Stack { base, offset } => {
            // SOS's dumper guesses bases it cannot tell apart, then corrects the two
            // impossible ones: below SP is the caller's SP, above the caller's SP is SP.
            let base = match base {
                SlotBase::Sp if offset < 0 => SlotBase::CallerSp,
                SlotBase::CallerSp if offset >= 0 => SlotBase::Sp,
                b => b,
            };
            let name = match base {
                SlotBase::CallerSp => "caller.sp",
                SlotBase::Sp => "sp",
                SlotBase::FrameRegister => frame,
            };
            signed(name, offset)
        }
    };
    if slot.pinned {
        s.push_str("(pinned)");
    }
    if slot.interior {
        s.push_str("(interior)");
    }
    s
}

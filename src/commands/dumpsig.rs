//! `dumpsig <sigaddr> [<moduleaddr>]` and `dumpsigelem <sigaddr> [<moduleaddr>]`: a
//! signature blob in the process's memory (a method's, a field's, a locals' signature;
//! for `dumpsigelem` one element type), spelled as SOS's native commands spell it
//! ([`crate::metadata::sos_sig`]), type tokens named from the module's metadata:
//!
//! ```text
//! [DEFAULT] [hasThis] Void (Class System.Type)
//! [LOCALSIG] Class DocProc.Options,I4,String,String)
//! ```
//!
//! As SOS, the blob is read 256 bytes at a time (a signature longer than what was read
//! is decoded again with 256 bytes more); a signature SOS cannot decode prints nothing,
//! one that ends where the readable memory does `Invalid signature`.
use crate::args::{option_list, parse_address, OptionSpec, SosArgs};
use crate::heap::Heap;
use crate::metadata::sos_sig::{element_signature, method_signature, SigNames, SigText};
use crate::render::output::{write_json, Format};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

/// dumpsig's and dumpsigelem's options (none).
pub const OPTIONS: &[OptionSpec] = &[];

/// What SOS reads at a time.
const CHUNK: usize = 256;
/// Most bytes read for one signature (a hostile blob could ask for more forever).
const MAX_SIG: usize = 1 << 20;

/// Type names from a module's metadata (none without a module).
struct ModuleNames<'h> {
    heap: &'h Heap,
    module: u64,
}

impl SigNames for ModuleNames<'_> {
    fn type_token_name(&self, token: u32) -> Option<String> {
        if self.module == 0 {
            return None;
        }
        let md = self.heap.module_metadata(self.module)?;
        let rid = token & 0x00ff_ffff;
        let (name, namespace) = match token >> 24 {
            0x02 => md.typedef(rid).ok().map(|t| (t.name, t.namespace))?,
            0x01 => md.typeref(rid).ok().map(|t| (t.name, t.namespace))?,
            _ => return None,
        };
        Some(if namespace.is_empty() { name.to_string() } else { format!("{namespace}.{name}") })
    }

    fn method_table_name(&self, mt: u64) -> Option<String> {
        self.heap.dac_type_name(mt).ok()
    }
}

/// The bytes at `addr` that the dump has, at most `len`, in one run from `addr`.
fn read_window(heap: &Heap, addr: u64, len: usize) -> Vec<u8> {
    let memory = heap.memory();
    let mut buf = vec![0u8; len];
    if memory.read(addr, &mut buf) {
        return buf;
    }
    let mut got = Vec::new();
    for i in 0..len as u64 {
        match addr.checked_add(i).and_then(|a| memory.byte(a)) {
            Some(b) => got.push(b),
            None => break,
        }
    }
    got
}

/// What SOS prints for the signature at `sig` (None: nothing).
fn signature_text(heap: &Heap, sig: u64, module: u64, method: bool) -> Option<String> {
    let names = ModuleNames { heap, module };
    let mut window: Vec<u8> = Vec::new();
    loop {
        if window.len() >= MAX_SIG || crate::interrupt::cancelled() {
            return None;
        }
        let chunk = read_window(heap, sig.checked_add(window.len() as u64)?, CHUNK);
        if chunk.is_empty() {
            return None;
        }
        let copied = chunk.len();
        window.extend_from_slice(&chunk);
        let text = if method { method_signature(&window, &names) } else { element_signature(&window, &names) };
        match text {
            SigText::Done(t) => return Some(t),
            SigText::Failed => return None,
            SigText::NeedMore if copied < CHUNK => return Some("Invalid signature".to_string()),
            SigText::NeedMore => {}
        }
    }
}

fn run_either(session: &Session, args: &[String], format: Format, out: &mut dyn Write, name: &str, method: bool) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, usize::MAX)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    if p.args.is_empty() || p.args.len() > 2 {
        // SOS fails the command (E_INVALIDARG): dotnet-dump then prints a blank line.
        writeln!(out, "{name} <sigaddr> [<moduleaddr>]?\n")?;
        return Ok(());
    }
    let Some(sig) = parse_address(&p.args[0]) else {
        writeln!(out, "Invalid parameter {}\n", p.args[0])?;
        return Ok(());
    };
    let module = p.args.get(1).and_then(|m| parse_address(m)).unwrap_or(0);
    let heap = &session.heap;
    if module != 0 && heap.module_metadata(module).is_none() {
        writeln!(out, "Unable to get IMetaDataImport for module {module:016x}")?;
    }
    let text = signature_text(heap, sig, module, method);
    if format != Format::Text {
        return write_json(out, &json!({"signature": sig, "module": module, "text": text}));
    }
    if let Some(t) = text {
        writeln!(out, "{t}")?;
    }
    Ok(())
}

/// `dumpsig`: a method, field or locals signature.
pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    run_either(session, args, format, out, "dumpsig", true)
}

/// `dumpsigelem`: one element type.
pub fn run_elem(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    run_either(session, args, format, out, "dumpsigelem", false)
}

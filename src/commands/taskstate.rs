//! `taskstate` (`tks`) `<task>` or `-v <value>`: a task's `m_stateFlags` as the
//! `TaskStatus` it stands for, as dotnet-dump prints it (Faulted, Canceled,
//! RanToCompletion, WaitingForChildrenToComplete, Running, WaitingToRun,
//! WaitingForActivation, Created).
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::object::ObjectAddr;
use crate::heap::tasks::task_status;
use crate::render::output::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// dotnet-dump 10's option.
pub const OPTIONS: &[OptionSpec] =
    &[OptionSpec::valued("--value", "<value>", "<value> is the value of a Task m_stateFlags field.").or(&["-v"])];

/// `taskstate`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.get(1) {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let value = match a.value("--value") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => bail!("Cannot parse argument '{text}' for option '--value' as expected type 'System.Nullable`1[System.UInt64]'."),
        },
    };
    let address = a.positional.first();
    if address.is_none() && value.is_none() {
        writeln!(out, "Missing Task reference address or state value...\n")?;
        return Ok(());
    }
    let flags = match value {
        Some(v) => v,
        None => {
            let text = address.map(String::as_str).unwrap_or_default();
            let Some(addr) = parse_address(text) else {
                writeln!(out, "Numeric value expected: either a task address or -v <state value>...\n")?;
                return Ok(());
            };
            let heap = &session.heap;
            // dotnet-dump reads the flags of an object whose type name starts with
            // `System.Threading.Tasks.Task` and that has the field (sign-extended).
            let flags = heap
                .object(ObjectAddr(addr))
                .filter(|o| o.type_name().starts_with("System.Threading.Tasks.Task"))
                .and_then(|_| heap.task_state_flags(addr))
                .map_or(0, |f| f as i64 as u64);
            if flags == 0 {
                writeln!(out, "Either a valid task address or -v <state value> is expected...\n")?;
                return Ok(());
            }
            flags
        }
    };
    match task_status(flags) {
        Some(state) => writeln!(out, "{state}")?,
        None => writeln!(out, "Either a task address or a valid state is expected...\n")?,
    }
    writeln!(out)?;
    Ok(())
}

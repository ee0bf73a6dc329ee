//! `clrthreads [-live] [-special]`: the runtime's thread store, as SOS's `Threads` prints it.
//!
//! ```text
//! ThreadCount:      20
//! ...
//! Hosted Runtime:   no
//!                                                                                                             Lock  
//!  DBG   ID     OSID ThreadOBJ           State GC Mode     GC Alloc Context                  Domain           Count Apt Exception
//!    0    1     6cff 000055B83E2D5470  2020020 Preemptive  00007EFC7FC1C470:00007EFC7FC1E1F0 000055B83E2B0180 -00001 Ukn 
//! ```
//!
//! The counters are the `ThreadStore`'s; then one row per managed thread in the store's
//! order: the debugger's number of its OS thread (`XXXX` when the dump has no such thread;
//! `-live` leaves those out), the managed id, the OS id, the `Thread*`, `m_State`, the GC
//! mode, the allocation context, the AppDomain, the lock count (always `-00001`: the
//! runtimes since .NET 5 do not count locks and the DAC reports -1, which SOS prints as an
//! unsigned value cut to the column), the apartment (`Ukn` on Linux) and a last column
//! naming the finalizer, the GC thread, thread-pool workers and the last exception thrown
//! on the thread. `-special` prints SOS's Linux refusal after the table.
//!
//! The table is SOS's `TableOutput`: columns of widths 4, 4, 8, 16, 8, 11, 33, 16, 5, 3,
//! the first three and the state right-aligned, one space between columns.
use crate::render::output::{hex, write_csv_records, write_json, Format};
use crate::session::Session;
use crate::runtime::threads::{app_domain, state, thread_details, thread_store_counts};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;
use crate::args::{option_list, OptionSpec, SosArgs};

/// clrthreads's options.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::flag("-live", "Only threads associated with a live OS thread."), OptionSpec::flag("-special", "Also the runtime's special threads (not on Linux).")];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = SosArgs::parse(args, OPTIONS, 0)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let (live, special) = (parsed.has("-live"), parsed.has("-special"));
    let heap = &session.heap;
    let rt = &heap.runtime;
    let counts = thread_store_counts(rt)?;
    let domain = app_domain(rt);
    let os_threads = heap.runtime.os_threads();
    let mut rows = Vec::new();
    for t in &heap.threads {
        let d = thread_details(rt, t)?;
        let dbg = os_threads.iter().position(|o| o.tid == t.os_id);
        if live && dbg.is_none() {
            continue;
        }
        let mut last = String::new();
        if d.is_finalizer {
            last.push_str("(Finalizer) ");
        }
        if d.is_gc {
            last.push_str("(GC) ");
        }
        if d.state & state::TP_WORKER != 0 {
            last.push_str("(Threadpool Worker) ");
        } else if d.state & state::COMPLETION_PORT != 0 {
            last.push_str("(Threadpool Completion Port) ");
        }
        let exception_type = (d.last_thrown != 0).then(|| heap.object_type_name(d.last_thrown).map(|n| n.to_string()));
        if let Some(name) = &exception_type {
            match name {
                Some(n) => last.push_str(&format!("{n} {:016x}", d.last_thrown)),
                None => last.push_str(&format!("<Invalid Object> ({:016X})", d.last_thrown)),
            }
        }
        rows.push((t, d, dbg, last, exception_type.flatten()));
    }
    if format != Format::Text {
        let records: Vec<Value> = rows
            .iter()
            .map(|(t, d, dbg, _, ty)| {
                let (ap, al) = d.alloc_context;
                json!({
                    "dbg": dbg,
                    "id": t.managed_id,
                    "os_thread_id": t.os_id,
                    "thread": hex(t.address),
                    "state": d.state,
                    "gc_mode": if d.cooperative { "Cooperative" } else { "Preemptive" },
                    "alloc_ptr": hex(ap),
                    "alloc_limit": hex(al),
                    "domain": hex(domain),
                    "finalizer": d.is_finalizer,
                    "threadpool_worker": d.state & state::TP_WORKER != 0,
                    "exception": (d.last_thrown != 0).then(|| hex(d.last_thrown)),
                    "exception_type": ty,
                })
            })
            .collect();
        return match format {
            Format::Csv => write_csv_records(
                out,
                &["dbg", "id", "os_thread_id", "thread", "state", "gc_mode", "alloc_ptr", "alloc_limit", "domain", "exception", "exception_type"],
                &records,
            ),
            _ => write_json(
                out,
                &json!({
                    "thread_count": counts.threads,
                    "unstarted": counts.unstarted,
                    "background": counts.background,
                    "pending": counts.pending,
                    "dead": counts.dead,
                    "threads": records,
                }),
            ),
        };
    }
    writeln!(out, "ThreadCount:      {}", counts.threads)?;
    writeln!(out, "UnstartedThread:  {}", counts.unstarted)?;
    writeln!(out, "BackgroundThread: {}", counts.background)?;
    writeln!(out, "PendingThread:    {}", counts.pending)?;
    writeln!(out, "DeadThread:       {}", counts.dead)?;
    writeln!(out, "Hosted Runtime:   no")?;
    writeln!(out, "{:108}Lock  ", "")?;
    writeln!(
        out,
        " DBG   ID     OSID ThreadOBJ           State GC Mode     GC Alloc Context                  Domain           Count Apt Exception"
    )?;
    for (t, d, dbg, last, _) in &rows {
        let dbg = match dbg {
            Some(i) => format!("{i:>4}"),
            None => "XXXX".to_string(),
        };
        let (ap, al) = d.alloc_context;
        writeln!(
            out,
            "{dbg} {:>4} {:>8x} {:016X} {:>8x} {:<11} {:016X}:{:016X} {:016X} -00001 Ukn {last}",
            t.managed_id,
            t.os_id,
            t.address,
            d.state,
            if d.cooperative { "Cooperative" } else { "Preemptive" },
            ap,
            al,
            domain,
        )?;
    }
    if special {
        writeln!(out)?;
        writeln!(out, "-special not supported.")?;
    }
    Ok(())
}

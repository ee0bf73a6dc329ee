//! `dumphttp`: HttpClient's requests on the heap ([`Heap::http_requests`]) — method,
//! status code (blank while no response was found) and URI — as dotnet-dump prints them;
//! `--stats` counts them by method, status code and host.
//!
//! A request met both as an `HttpRequestMessage` and through its `HttpResponseMessage`
//! is listed once, with the status code; the rows come in heap order, answered requests
//! first.
//!
//! [`Heap::http_requests`]: crate::heap::Heap::http_requests
use crate::args::{CommandArgs, OptionSpec};
use crate::heap::http::HttpRequest;
use crate::render::format::{left_cell, pointer, thousands};
use crate::render::output::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::collections::HashSet;
use std::io::Write;

/// dotnet-dump 10's options.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("--stats", "Summarize all HTTP requests found rather than showing detailed info."),
    OptionSpec::flag("--pending", "Show only requests without response"),
    OptionSpec::flag("--completed", "Show only requests with response"),
    OptionSpec::valued("--uri", "<uri>", "Show only requests with with specified request uri"),
    OptionSpec::valued("--statuscode", "<code>", "Show only requests with with specified response status code"),
];

/// `dumphttp`.
pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let a = CommandArgs::parse(args, OPTIONS)?;
    if let Some(extra) = a.positional.first() {
        bail!("Unrecognized command or argument '{extra}'.");
    }
    let status_filter = match a.value("--statuscode") {
        None => None,
        Some(t) => match t.parse::<i32>() {
            Ok(v) => Some(v),
            Err(_) => {
                bail!("Cannot parse argument '{t}' for option '--statuscode' as expected type 'System.Nullable`1[System.Int32]'.")
            }
        },
    };
    let (mut pending, mut completed) = (a.flag("--pending"), a.flag("--completed"));
    if pending && completed {
        (pending, completed) = (false, false);
    }
    let uri_filter = a.value("--uri").map(str::to_lowercase);
    let (mut requests, warnings) = session.heap.http_requests()?;
    for w in warnings {
        session.warnings.warn(w.to_string());
    }
    // Answered first (a stable sort), then one row per request.
    requests.sort_by_key(|r| r.status.is_none());
    let mut seen = HashSet::new();
    requests.retain(|r| seen.insert(r.address));
    requests.retain(|r| {
        let state = (!pending && !completed) || (pending && r.status.is_none()) || (completed && r.status.is_some());
        let uri = uri_filter.as_ref().is_none_or(|u| r.uri.to_lowercase().contains(u.as_str()));
        let status = status_filter.is_none_or(|s| r.status == Some(s));
        state && uri && status
    });
    if a.flag("--stats") {
        stats(&requests, out)
    } else {
        writeln!(out, "{:>16} {:>16} {} {:>10} Uri", "Address", "MethodTable", left_cell("Method", 6), "StatusCode")?;
        for r in &requests {
            writeln!(
                out,
                "{:>16} {:>16} {} {:>10} {}",
                pointer(r.address),
                pointer(r.mt),
                left_cell(&r.method, 6),
                status_text(r.status),
                r.uri
            )?;
        }
        writeln!(out, "Total {} requests", requests.len())?;
        Ok(())
    }
}

fn status_text(s: Option<i32>) -> String {
    match s {
        None => String::new(),
        Some(v) if v < 0 => format!("-{}", thousands(v.unsigned_abs() as u64)),
        Some(v) => thousands(v as u64),
    }
}

/// `--stats`: requests counted by status code, method and host, most frequent first.
fn stats(requests: &[HttpRequest], out: &mut dyn Write) -> Result<()> {
    let mut groups: Vec<((Option<i32>, String, String), u64)> = Vec::new();
    for r in requests {
        let key = (r.status, r.method.clone(), uri_host(&r.uri));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => groups.push((key, 1)),
        }
    }
    groups.sort_by(|a, b| b.1.cmp(&a.1));
    writeln!(out, "Statistics:")?;
    writeln!(out, "{:>14} {} {:>10} Host", "Count", left_cell("Method", 6), "StatusCode")?;
    let mut total = 0;
    for ((status, method, host), n) in &groups {
        total += n;
        writeln!(out, "{:>14} {} {:>10} {host}", thousands(*n), left_cell(method, 6), status_text(*status))?;
    }
    writeln!(out, "Total {total} requests")?;
    Ok(())
}

/// The host of an absolute URI, as .NET's `Uri.Host` gives it (lowercase, without user
/// information or port).
fn uri_host(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_once(']').map_or(host.to_string(), |(h, _)| format!("{h}]"))
    } else {
        host.split(':').next().unwrap_or("").to_string()
    };
    host.to_lowercase()
}

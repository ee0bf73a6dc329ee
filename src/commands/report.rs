//! `clrheap report DUMP... -o report.html`: one self-contained HTML page (no network, no
//! external script or style: its Content-Security-Policy forbids any request) with the
//! last dump's summary, leak suspects and waste (owners, patterns, chains), a zoomable
//! treemap of retained size by dominator subtree grouped by type, its top types, and with
//! several dumps their growth. The data is [`crate::analysis::report::report_data`],
//! embedded as JSON; the page's own script draws it.
use crate::session::Session;
use anyhow::Result;
use std::io::Write;

const TEMPLATE: &str = include_str!("report.html");

/// Writes the page for `dumps` (name, session), the last shown in full.
pub fn write_html(dumps: &[(String, &Session)], out: &mut dyn Write) -> Result<()> {
    let data = crate::analysis::report::report_data(dumps)?;
    let json = serde_json::to_string(&data)?;
    // Inside <script>: no "</" (ends the element) and no line separators JavaScript
    // would reject; both escaped as JSON allows.
    let json = json.replace("</", "<\\/").replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029").replace("<!--", "<\\u0021--");
    let (head, tail) = TEMPLATE.split_once("/*DATA*/").ok_or_else(|| anyhow::anyhow!("the report template has no data slot"))?;
    out.write_all(head.as_bytes())?;
    out.write_all(json.as_bytes())?;
    out.write_all(tail.as_bytes())?;
    Ok(())
}

//! Duplicate strings: the same text in many live `System.String` objects. Each text's
//! copies beyond the first waste their size. Texts are compared by their UTF-16 code
//! units, exactly (not after a lossy conversion).
use super::{Context, Finding, Pattern};
use crate::graph::ObjectId;
use crate::render::format::thousands;
use serde::Serialize;

/// Longest text compared (longer strings are compared by their first this-many units and
/// length; the key says so). Strings this long are rarely duplicated by the thousand.
const MAX_UNITS: usize = 1 << 20;
/// Characters of a text shown.
const SHOWN: usize = 60;
/// Duplicates are a finding when they waste at least this share of the live heap (parts
/// per thousand).
const MIN_SHARE: u64 = 5;

/// One text found more than once.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub text: String,
    pub count: u64,
    /// Size of one copy.
    pub size: u64,
    /// Bytes of the copies beyond the first.
    pub wasted: u64,
}

/// Every duplicated text among live strings (`live` false: all strings on the heap),
/// most bytes wasted first.
pub fn duplicates(ctx: &Context, live: bool) -> Vec<Duplicate> {
    let graph = &ctx.graph;
    let space = ctx.heap.space();
    let first_char = ctx.heap.runtime.layout.object.string_first_char;
    // Texts are grouped by a 128-bit hash of their units and length (no allocation per
    // string); a group's text is read again from its first string.
    let mut groups: rustc_hash::FxHashMap<u128, (u64, u64, ObjectId)> = Default::default();
    let mut buf: Vec<u8> = Vec::new();
    let read_units = |id: ObjectId, buf: &mut Vec<u8>| -> Option<u32> {
        let addr = graph.address(id);
        let len = ctx.heap.string_length(crate::heap::ObjectAddr(addr)).ok()?;
        let n = (len as usize).min(MAX_UNITS).saturating_mul(2);
        buf.clear();
        buf.resize(n, 0);
        space.read(addr.wrapping_add(first_char), buf).ok()?;
        Some(len)
    };
    for id in 0..graph.len() as ObjectId {
        if super::stop(id) {
            break;
        }
        if !ctx.facts(id).string || (live && !ctx.live(id)) {
            continue;
        }
        let Some(len) = read_units(id, &mut buf) else {
            continue;
        };
        // The length is part of the key (texts cut at MAX_UNITS stay apart by it).
        buf.extend_from_slice(&len.to_le_bytes());
        let e = groups.entry(xxhash_rust::xxh3::xxh3_128(&buf)).or_insert((0, graph.size(id), id));
        e.0 += 1;
    }
    let mut out: Vec<Duplicate> = groups
        .into_values()
        .filter(|&(count, _, _)| count > 1)
        .filter_map(|(count, size, id)| {
            read_units(id, &mut buf)?;
            let units: Vec<u16> = buf.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            Some(Duplicate {
                text: String::from_utf16_lossy(&units),
                count,
                size,
                wasted: size.saturating_mul(count - 1),
            })
        })
        .collect();
    out.sort_by(|a, b| b.wasted.cmp(&a.wasted).then(a.text.cmp(&b.text)));
    out
}

/// `"text"`, cut to [`SHOWN`] characters, control characters escaped.
pub fn quote(text: &str) -> String {
    let mut s: String = text
        .chars()
        .take(SHOWN)
        .flat_map(|c| c.escape_debug())
        .collect();
    if text.chars().count() > SHOWN {
        s.push_str("...");
    }
    format!("\"{s}\"")
}

/// The duplicate-strings finding: when the copies waste [`MIN_SHARE`] of the live heap.
pub fn duplicate_strings_finding(ctx: &Context) -> Option<Finding> {
    let dups = duplicates(ctx, true);
    let wasted: u64 = dups.iter().fold(0u64, |a, d| a.saturating_add(d.wasted));
    if wasted < ctx.live_bytes.saturating_mul(MIN_SHARE) / 1000 || dups.is_empty() {
        return None;
    }
    let copies: u64 = dups.iter().map(|d| d.count - 1).sum();
    let top = &dups[0];
    let mut f = Finding {
        patterns: vec![Pattern::DuplicateStrings],
        owner: None,
        owner_key: None,
        also_held_by: Vec::new(),
        summary: format!(
            "{} texts repeated, {} copies too many (most: {} x {})",
            thousands(dups.len() as u64),
            thousands(copies),
            quote(&top.text),
            thousands(top.count)
        ),
        bytes: wasted,
        object: None,
        objects_held_directly: None,
        contents: Vec::new(),
        details: Vec::new(),
        related_keys: Vec::new(),
    };
    for d in dups.iter().take(10) {
        f.details.push(format!(
            "{} x {} ({} bytes wasted)",
            thousands(d.count),
            quote(&d.text),
            thousands(d.wasted)
        ));
    }
    Some(f)
}

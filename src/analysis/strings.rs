//! Duplicate strings: the same text in many live `System.String` objects. Each text's
//! copies beyond the first waste their size. Texts are compared by their UTF-16 code
//! units, exactly (not after a lossy conversion).
use super::scan::Key;
use super::{Context, Finding, Objects, Pattern};
use crate::graph::ObjectId;
use crate::render::format::thousands;
use rayon::prelude::*;
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

/// The 128-bit hash of string `id`'s units, seeded with its length (texts cut at
/// [`MAX_UNITS`] stay apart by it), read in place from the dump (high, low half).
pub fn text_hash(objects: &Objects, id: ObjectId) -> Option<(u64, u64)> {
    let (len, units) = objects.heap.string_units(objects.graph.address(id), MAX_UNITS).ok()?;
    let h = xxhash_rust::xxh3::xxh3_128_with_seed(&units, u64::from(len));
    Some(((h >> 64) as u64, h as u64))
}

/// Every duplicated text among live strings (`live` false: all strings on the heap),
/// most bytes wasted first.
///
/// Texts are told apart by [`text_hash`]: the keys (hash, id) of the strings whose hash
/// another string shares, sorted, come from the context's scan ([`super::scan`]), dead
/// strings included; each run of one hash among the strings kept is a text, its first
/// string the one whose size and text are reported.
pub fn duplicates(ctx: &Context, live: bool) -> Vec<Duplicate> {
    let graph = &ctx.graph;
    let heap = ctx.heap;
    if crate::interrupt::cancelled() {
        return Vec::new();
    }
    // (count, first id) of each text found more than once among the strings kept: a run
    // of one hash, in id order.
    let keys: &[Key] = &ctx.scanned.strings;
    let mut groups: Vec<(u64, ObjectId)> = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let (hi, lo, _) = keys[i];
        let (mut count, mut first) = (0u64, None);
        let mut j = i;
        while j < keys.len() && keys[j].0 == hi && keys[j].1 == lo {
            let id = keys[j].2;
            if !live || ctx.live(id) {
                count += 1;
                first.get_or_insert(id);
            }
            j += 1;
        }
        if count > 1
            && let Some(first) = first
        {
            groups.push((count, first));
        }
        i = j;
    }
    let mut out: Vec<(Duplicate, ObjectId)> = groups
        .into_par_iter()
        .filter_map(|(count, id)| {
            let (_, bytes) = heap.string_units(graph.address(id), MAX_UNITS).ok()?;
            let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            let size = graph.size(id);
            Some((
                Duplicate {
                    text: String::from_utf16_lossy(&units),
                    count,
                    size,
                    wasted: size.saturating_mul(count - 1),
                },
                id,
            ))
        })
        .collect();
    out.par_sort_unstable_by(|(a, x), (b, y)| b.wasted.cmp(&a.wasted).then(a.text.cmp(&b.text)).then(x.cmp(y)));
    out.into_iter().map(|(d, _)| d).collect()
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

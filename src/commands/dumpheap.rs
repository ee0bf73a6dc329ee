//! `dumpheap`: list the objects on the GC heap and their per-type statistics, as
//! dotnet-dump prints them (`docs/research/sos-formats.md` §1 is the specification).
//!
//! Objects are visited segment by segment in start-address order (across heaps), then
//! filtered — address range, generation, size, liveness, type substring, MethodTable —
//! and rendered as a listing (`Address MT Size`), addresses only (`-short`), statistics
//! per MethodTable (`-stat`, `-bycount`), per string value (`-strings`) or thin locks
//! (`-thinlock`).
use crate::args::{parse_address, parse_range, CommandArgs, OptionSpec};
use crate::graph::live::LiveView;
use crate::render::format::thousands;
use crate::render::output::{csv_cell, hex, stat_record, write_csv_records, write_csv_row, write_json, Format};
use crate::render::stats::{render_stats, StatRow};
use crate::session::Session;
use crate::heap::{HeapObject, ObjectAddr, ObjectGeneration, Segment, SegmentKind, SizeCache, WalkWarning};
use crate::progress::Progress;
use anyhow::{bail, Result};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;

/// Parsed `dumpheap` arguments.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub stat: bool,
    pub bycount: bool,
    pub strings: bool,
    pub short: bool,
    pub thinlock: bool,
    pub type_filter: Option<String>,
    pub mt: Option<u64>,
    pub min: u64,
    pub max: u64,
    pub live: bool,
    pub dead: bool,
    pub generation: Option<ObjectGeneration>,
    pub heap: Option<usize>,
    pub segment: Option<u64>,
    pub range: Option<(u64, u64)>,
}

/// What the command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Display {
    Normal,
    Short,
    Strings,
    ThinLock,
}

/// dumpheap's options (dotnet-dump's, plus `-verify`, which it also accepts).
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::flag("-stat", "Only the per-type statistics."),
    OptionSpec::valued("-type", "<substring>", "Only objects whose type name contains this text (case-sensitive)."),
    OptionSpec::valued("-mt", "<mt>", "Only objects with this MethodTable."),
    OptionSpec::valued("-min", "<bytes>", "Ignore objects smaller than this many bytes."),
    OptionSpec::valued("-max", "<bytes>", "Ignore objects larger than this many bytes."),
    OptionSpec::valued("-gen", "<generation>", "Only objects of this generation: gen0, gen1, gen2, loh, poh, foh."),
    OptionSpec::valued("-heap", "<n>", "Only objects of this GC heap (server GC)."),
    OptionSpec::valued("-segment", "<addr>", "Only objects of the segment at this address."),
    OptionSpec::flag("-strings", "Statistics of string values instead of types."),
    OptionSpec::flag("-short", "Only the addresses of the objects."),
    OptionSpec::flag("-thinlock", "Objects holding a thin lock."),
    OptionSpec::flag("-bycount", "Sort the statistics by object count instead of total size."),
    OptionSpec::flag("-live", "Only objects reachable from roots."),
    OptionSpec::flag("-dead", "Only objects not reachable from roots."),
    OptionSpec::flag("-ignoreGCState", "Accepted for compatibility; no effect."),
    OptionSpec::flag("-noprogress", "Accepted for compatibility; no effect."),
    OptionSpec::flag("-verify", "Accepted for compatibility; no effect."),
];

impl Options {
    pub fn parse(args: &[String]) -> Result<Options> {
        let a = CommandArgs::parse(args, OPTIONS)?;
        let mut o = Options {
            stat: a.flag("-stat"),
            bycount: a.flag("-bycount"),
            strings: a.flag("-strings"),
            short: a.flag("-short"),
            thinlock: a.flag("-thinlock"),
            live: a.flag("-live"),
            dead: a.flag("-dead"),
            type_filter: a.value("-type").map(String::from),
            ..Options::default()
        };
        if let Some(v) = a.value("-mt") {
            o.mt = Some(parse_address(v).filter(|&m| m != 0).ok_or_else(|| anyhow::anyhow!("Invalid MethodTable: {v}"))?);
        }
        for (name, field) in [("-min", &mut o.min), ("-max", &mut o.max)] {
            if let Some(v) = a.value(name) {
                *field = v.parse().map_err(|_| {
                    anyhow::anyhow!("Cannot parse argument '{v}' for option '{name}' as expected type 'System.UInt64'.")
                })?;
            }
        }
        if let Some(v) = a.value("-gen") {
            o.generation = Some(parse_generation(v).ok_or_else(|| {
                anyhow::anyhow!("Unknown generation: {v}. Only gen0, gen1, gen2, loh (large), poh (pinned) and foh (frozen) are supported")
            })?);
        }
        if let Some(v) = a.value("-heap") {
            let n: i32 = v
                .parse()
                .map_err(|_| anyhow::anyhow!("Cannot parse argument '{v}' for option '-heap' as expected type 'System.Int32'."))?;
            o.heap = usize::try_from(n).ok();
        }
        if let Some(v) = a.value("-segment") {
            o.segment = Some(parse_address(v).filter(|&s| s != 0).ok_or_else(|| anyhow::anyhow!("Failed to parse segment '{v}'."))?);
        }
        if o.live && o.dead {
            o.live = false;
            o.dead = false;
        }
        o.range = parse_range(&a.positional, "dumpheap")?.map(|r| (r.start, r.end));
        Ok(o)
    }

    fn display(&self) -> Display {
        if self.thinlock {
            Display::ThinLock
        } else if self.strings {
            Display::Strings
        } else if self.short {
            Display::Short
        } else {
            Display::Normal
        }
    }
}

/// A `-gen` value: names only, case-insensitive.
pub fn parse_generation(text: &str) -> Option<ObjectGeneration> {
    Some(match text.to_ascii_lowercase().as_str() {
        "gen0" => ObjectGeneration::Gen0,
        "gen1" => ObjectGeneration::Gen1,
        "gen2" => ObjectGeneration::Gen2,
        "loh" | "large" => ObjectGeneration::Large,
        "poh" | "pinned" => ObjectGeneration::Pinned,
        "foh" | "frozen" => ObjectGeneration::Frozen,
        _ => return None,
    })
}

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let options = Options::parse(args)?;
    let heap = &session.heap;
    if let Some(h) = options.heap
        && h >= heap.heaps.len()
    {
        bail!("No GC heap with index of {h}");
    }
    let segments = select_segments(session, &options)?;
    let display = options.display();
    let liveness = match (options.live, options.dead) {
        (true, _) if options.stat => Some(session.live_view_counting_types()?),
        (true, _) | (_, true) => Some(session.live_view()?),
        _ => None,
    };
    let filter = Filter {
        range: options.range.unwrap_or((0, u64::MAX)),
        generation: options.generation,
        min: options.min,
        max: options.max,
        liveness: liveness.as_ref().map(|l| (l, options.live)),
        type_filter: options.type_filter.as_deref(),
        mt: if display == Display::Strings {
            Some(heap.runtime.globals.string_mt)
        } else {
            options.mt
        },
    };
    // `-live -stat` over the whole heap, right after marking by address: the marking
    // counted each type's live objects (in the order a walk meets them), so the heap is
    // not walked again. The walk's warnings were given when the objects were found.
    if options.live
        && options.stat
        && display == Display::Normal
        && options.heap.is_none()
        && options.segment.is_none()
        && filter.only_by_liveness()
        && let Some(LiveView::Marks(marks)) = &liveness
        && let Some(types) = marks.types()
    {
        let mut printer = Printer::new(display, true, format);
        printer.seen = marks.count();
        for &(mt, count, size) in &types.rows {
            printer.stats.add_many(mt, count, size);
        }
        return printer.finish(session, &options, out);
    }
    // Statistics alone can be gathered per segment in parallel and merged in segment
    // order, which keeps the first-seen order of types; listings are written in order.
    let parallel = options.stat && matches!(display, Display::Normal | Display::Strings);
    let progress = Progress::new("walking the heap", segments.len() as u64);
    let printer = if parallel {
        let parts: Vec<(Printer, Option<WalkWarning>)> = segments
            .par_iter()
            .map(|seg| {
                if display == Display::Normal {
                    let part = stat_segment(session, seg, &filter, format);
                    progress.inc(1);
                    return part;
                }
                let mut printer = Printer::new(display, options.stat, format);
                let mut sizes = SizeCache::default();
                let mut state = FilterState::default();
                let mut sink = std::io::sink();
                let warning = heap.walk_segment(seg, &mut sizes, |o| {
                    if filter.accepts(session, seg, &o, &mut state) {
                        // Statistics only: nothing is written, so this cannot fail.
                        let _ = printer.object(session, seg, o, &mut sink);
                    }
                });
                progress.inc(1);
                (printer, warning)
            })
            .collect();
        let mut total = Printer::new(display, options.stat, format);
        for (part, warning) in parts {
            if let Some(w) = warning {
                session.warnings.warn(w.to_string());
            }
            total.merge(part);
        }
        total
    } else {
        let mut printer = Printer::new(display, options.stat, format);
        let mut sizes = SizeCache::default();
        let mut state = FilterState::default();
        for seg in &segments {
            progress.inc(1);
            let mut error = None;
            let warning = heap.walk_segment(seg, &mut sizes, |o| {
                if error.is_none()
                    && filter.accepts(session, seg, &o, &mut state)
                    && let Err(e) = printer.object(session, seg, o, out)
                {
                    error = Some(e);
                }
            });
            if let Some(e) = error {
                return Err(e);
            }
            if let Some(w) = warning {
                session.warnings.warn(w.to_string());
            }
        }
        printer
    };
    printer.finish(session, &options, out)
}

/// `dumpheap -stat` over one segment: what [`Printer::object`] gathers for statistics
/// (the count, per-type rows in first-seen order, fragmented blocks), counted per walk
/// type index in a plain array rather than through the printer for every object: the
/// statistics of a big heap are this loop.
fn stat_segment(session: &Session, seg: &Segment, filter: &Filter, format: Format) -> (Printer, Option<WalkWarning>) {
    let heap = &session.heap;
    let free_mt = heap.runtime.globals.free_mt;
    let unfiltered = filter.is_everything();
    let mut sizes = SizeCache::default();
    let mut state = FilterState::default();
    // (count, total size) per walk type index.
    let mut counts: Vec<(u64, u64)> = Vec::new();
    // Walk type indices in the order their first object passed.
    let mut order: Vec<u32> = Vec::new();
    let mut seen = 0usize;
    let mut last_free: Option<HeapObject> = None;
    let mut fragments = Vec::new();
    let check_fragments = seg.kind != SegmentKind::Large;
    let warning = heap.walk_segment(seg, &mut sizes, |o| {
        if !unfiltered && !filter.accepts(session, seg, &o, &mut state) {
            return;
        }
        seen += 1;
        let is_free = o.mt == free_mt;
        if let Some(free) = last_free.take()
            && !is_free
            && check_fragments
            && free.address + free.size == o.address
        {
            fragments.push((free, o));
        }
        if is_free && o.size >= FRAGMENT_MIN {
            last_free = Some(o);
        }
        let ti = o.type_index as usize;
        if ti >= counts.len() {
            counts.resize(ti + 1, (0, 0));
        }
        let c = &mut counts[ti];
        if c.0 == 0 {
            // A filter may pass a type's objects only after the walk met it first.
            order.push(o.type_index);
        }
        c.0 += 1;
        c.1 += o.size;
    });
    let mut printer = Printer::new(Display::Normal, true, format);
    printer.seen = seen;
    printer.fragments = fragments;
    for ti in order {
        if let (Some(&(count, size)), Some(mt)) = (counts.get(ti as usize), sizes.mt(ti)) {
            printer.stats.add_many(mt, count, size);
        }
    }
    (printer, warning)
}

/// What a filter remembers along one walk.
#[derive(Default)]
struct FilterState {
    /// Per MethodTable: does its name pass `-type`?
    types: FxHashMap<u64, bool>,
    /// Where the liveness lookup continues (see [`LiveView::is_live_from`]).
    live_cursor: usize,
}

/// Which objects a `dumpheap` run shows, applied in dotnet-dump's order.
struct Filter<'a> {
    range: (u64, u64),
    generation: Option<ObjectGeneration>,
    min: u64,
    max: u64,
    /// The live set, and whether live (true) or dead (false) objects are wanted.
    liveness: Option<(&'a LiveView, bool)>,
    type_filter: Option<&'a str>,
    mt: Option<u64>,
}

impl Filter<'_> {
    /// Whether every object passes (no filter was given).
    fn is_everything(&self) -> bool {
        self.liveness.is_none() && self.only_by_liveness()
    }

    /// Whether nothing but liveness (if anything) is filtered on.
    fn only_by_liveness(&self) -> bool {
        self.range == (0, u64::MAX)
            && self.generation.is_none()
            && self.min == 0
            && self.max == 0
            && self.type_filter.is_none()
            && self.mt.is_none()
    }

    /// Whether `o` (in `seg`) passes; `types` caches the type-name test per MethodTable.
    fn accepts(&self, session: &Session, seg: &Segment, o: &HeapObject, state: &mut FilterState) -> bool {
        let heap = &session.heap;
        if o.address < self.range.0 || o.address >= self.range.1 {
            return false;
        }
        if let Some(g) = self.generation
            && seg.generation_of(o.address, heap.heap_of(seg)) != g
        {
            return false;
        }
        if (self.min != 0 && o.size < self.min) || (self.max != 0 && o.size > self.max) {
            return false;
        }
        if let Some((live, want_live)) = self.liveness
            && live.is_live_from(o.address, &mut state.live_cursor) != want_live
        {
            return false;
        }
        if let Some(t) = self.type_filter
            && !*state.types.entry(o.mt).or_insert_with(|| heap.type_name(o.mt).contains(t))
        {
            return false;
        }
        self.mt.is_none_or(|m| m == o.mt)
    }
}

/// The segments to walk, in start-address order, after `-heap`, `-segment` and range.
fn select_segments<'a>(session: &'a Session, o: &Options) -> Result<Vec<&'a Segment>> {
    let heap = &session.heap;
    let mut segs: Vec<&Segment> = heap
        .segments
        .iter()
        .filter(|s| o.heap.is_none_or(|h| s.heap == h))
        .filter(|s| o.segment.is_none_or(|a| s.address == a || s.committed_contains(a)))
        .collect();
    if let Some((start, end)) = o.range {
        segs.retain(|s| s.committed_start() < end && s.committed > start);
        if segs.is_empty() {
            bail!("No segments or objects in range [{start:x},{end:x})");
        }
    }
    Ok(segs)
}

/// Renders objects as they come and the statistics at the end.
struct Printer {
    display: Display,
    format: Format,
    stat: bool,
    header_written: bool,
    seen: usize,
    stats: StatTable,
    strings: HashMap<(String, u64), usize>,
    string_rows: Vec<(String, u64, u64)>,
    /// The last object, when it was a free block of at least [`FRAGMENT_MIN`] bytes.
    last_free: Option<HeapObject>,
    /// (free block, the object right after it).
    fragments: Vec<(HeapObject, HeapObject)>,
}

/// Free blocks at least this large, followed by an object, are reported by dumpheap.
const FRAGMENT_MIN: u64 = 512 * 1024;

/// Count and size per MethodTable, in first-seen order.
#[derive(Default)]
struct StatTable {
    index: rustc_hash::FxHashMap<u64, usize>,
    rows: Vec<(u64, u64, u64)>,
    /// The row of the last MethodTable added.
    last: Option<usize>,
    /// Row per walk type index (`usize::MAX`: none yet).
    by_type: Vec<usize>,
}

impl StatTable {
    /// Counts one object. `type_index` is the walk's number for its MethodTable (see
    /// `SizeCache`): rows are found through it without hashing; every object added to
    /// one table must come from walks sharing one `SizeCache`.
    fn add(&mut self, mt: u64, size: u64, type_index: u32) {
        let ti = type_index as usize;
        match self.by_type.get(ti) {
            Some(&row) if row != usize::MAX => {
                self.rows[row].1 += 1;
                self.rows[row].2 += size;
            }
            _ => {
                self.add_many(mt, 1, size);
                let row = self.index[&mt];
                if self.by_type.len() <= ti {
                    self.by_type.resize(ti + 1, usize::MAX);
                }
                self.by_type[ti] = row;
            }
        }
    }

    /// Adds `count` objects of `size` bytes in all to `mt`'s row. Consecutive objects
    /// often share a type: the last row found is tried before the index.
    fn add_many(&mut self, mt: u64, count: u64, size: u64) {
        let i = match self.last {
            Some(i) if self.rows[i].0 == mt => i,
            _ => {
                let rows = &mut self.rows;
                let i = *self.index.entry(mt).or_insert_with(|| {
                    rows.push((mt, 0, 0));
                    rows.len() - 1
                });
                self.last = Some(i);
                i
            }
        };
        self.rows[i].1 += count;
        self.rows[i].2 += size;
    }

    /// Adds another table's rows after this one's, keeping first-seen order.
    fn merge(&mut self, other: StatTable) {
        for (mt, count, size) in other.rows {
            self.add_many(mt, count, size);
        }
    }
}

impl Printer {
    /// Adds the results of a later part of the walk (statistics modes only).
    fn merge(&mut self, other: Printer) {
        self.seen += other.seen;
        self.stats.merge(other.stats);
        for (text, count, size) in other.string_rows {
            let key = (text, size);
            match self.strings.get(&key) {
                Some(&i) => self.string_rows[i].1 += count,
                None => {
                    self.strings.insert(key.clone(), self.string_rows.len());
                    self.string_rows.push((key.0, count, size));
                }
            }
        }
        self.fragments.extend(other.fragments);
    }

    fn new(display: Display, stat: bool, format: Format) -> Printer {
        Printer {
            display,
            format,
            stat,
            header_written: false,
            seen: 0,
            stats: StatTable::default(),
            strings: HashMap::new(),
            string_rows: Vec::new(),
            last_free: None,
            fragments: Vec::new(),
        }
    }

    fn object(&mut self, session: &Session, seg: &Segment, o: HeapObject, out: &mut dyn Write) -> Result<()> {
        self.seen += 1;
        let heap = &session.heap;
        if self.display == Display::Normal {
            let is_free = o.mt == heap.runtime.globals.free_mt;
            if let Some(free) = self.last_free.take() {
                // dotnet-dump means to skip the LOH, POH and frozen heaps here but only
                // skips the LOH; kept as it does.
                if !is_free && free.address + free.size == o.address && seg.kind != SegmentKind::Large {
                    self.fragments.push((free, o));
                }
            }
            if is_free && o.size >= FRAGMENT_MIN {
                self.last_free = Some(o);
            }
        }
        if self.format != Format::Text {
            return self.object_record(session, o, out);
        }
        match self.display {
            Display::Short => writeln!(out, "{:012x}", o.address)?,
            Display::ThinLock => {
                if let Some(lock) = session.heap.thin_lock(ObjectAddr(o.address)) {
                    let (thread, os_id, recursion) = (lock.thread, lock.os_thread_id, lock.recursion);
                    if !self.header_written {
                        writeln!(out, "{:>16} {:>16} {:>18} {:>14}", "Object", "Thread", "OSId", "Recursion")?;
                        self.header_written = true;
                    }
                    let thread = thread.map(|t| format!("{t:012x}")).unwrap_or_default();
                    writeln!(
                        out,
                        "{:>16} {:>16} {:>18} {:>14}",
                        format!("{:012x}", o.address),
                        thread,
                        format!("0x{os_id:02x}"),
                        thousands(recursion as u64)
                    )?;
                }
            }
            Display::Normal | Display::Strings => {
                if !self.stat {
                    if !self.header_written {
                        writeln!(out, "{:>16} {:>16} {:>14}", "Address", "MT", "Size")?;
                        self.header_written = true;
                    }
                    let free = if o.mt == heap.runtime.globals.free_mt { "Free" } else { "" };
                    writeln!(
                        out,
                        "{:>16} {:>16} {:>14} {}",
                        format!("{:012x}", o.address),
                        format!("{:012x}", o.mt),
                        thousands(o.size),
                        free
                    )?;
                }
                if self.display == Display::Strings {
                    self.add_string(session, o);
                } else {
                    self.stats.add(o.mt, o.size, o.type_index);
                }
            }
        }
        Ok(())
    }

    /// One object as a JSON Lines record or CSV row; statistics are gathered as in text.
    fn object_record(&mut self, session: &Session, o: HeapObject, out: &mut dyn Write) -> Result<()> {
        let heap = &session.heap;
        match self.display {
            Display::ThinLock => {
                let Some(lock) = session.heap.thin_lock(ObjectAddr(o.address)) else {
                    return Ok(());
                };
                let (thread, os_id, recursion) = (lock.thread, lock.os_thread_id, lock.recursion);
                let record = json!({
                    "object": hex(o.address),
                    "thread": thread.map(hex),
                    "os_thread_id": os_id,
                    "recursion": recursion,
                });
                self.write_record(&["object", "thread", "os_thread_id", "recursion"], &record, out)
            }
            Display::Short => self.write_record(&["address"], &json!({ "address": hex(o.address) }), out),
            Display::Normal | Display::Strings => {
                if self.display == Display::Strings {
                    self.add_string(session, o);
                } else {
                    self.stats.add(o.mt, o.size, o.type_index);
                }
                if self.stat {
                    return Ok(());
                }
                let record = json!({
                    "address": hex(o.address),
                    "mt": hex(o.mt),
                    "size": o.size,
                    "type": &*heap.type_name(o.mt),
                    "free": o.mt == heap.runtime.globals.free_mt,
                });
                self.write_record(&["address", "mt", "size", "type", "free"], &record, out)
            }
        }
    }

    /// Writes a record: a JSON line, or a CSV row (after the header on the first one).
    fn write_record(&mut self, columns: &[&str], record: &Value, out: &mut dyn Write) -> Result<()> {
        if self.format == Format::Json {
            return write_json(out, record);
        }
        if !self.header_written {
            write_csv_row(out, columns)?;
            self.header_written = true;
        }
        let cells: Vec<String> = columns.iter().map(|c| csv_cell(&record[*c])).collect();
        write_csv_row(out, &cells)
    }

    fn add_string(&mut self, session: &Session, o: HeapObject) {
        let text = session.heap.string_value(o.address, STRING_READ_LIMIT).unwrap_or_default();
        let key = (text, o.size);
        match self.strings.get(&key) {
            Some(&i) => self.string_rows[i].1 += 1,
            None => {
                self.strings.insert(key.clone(), self.string_rows.len());
                self.string_rows.push((key.0, 1, o.size));
            }
        }
    }

    /// The statistics as JSON (one document: after a listing, its last line) or CSV
    /// (only with `-stat`: a listing's CSV holds the objects alone).
    fn finish_records(self, session: &Session, options: &Options, out: &mut dyn Write) -> Result<()> {
        if matches!(self.display, Display::Short | Display::ThinLock) || (self.format == Format::Csv && !self.stat) {
            return Ok(());
        }
        let heap = &session.heap;
        let (columns, records): (&[&str], Vec<Value>) = if self.display == Display::Strings {
            let mut rows = self.string_rows;
            if options.bycount {
                rows.sort_by_key(|r| r.1);
            } else {
                rows.sort_by_key(|r| r.1 * r.2);
            }
            let records = rows
                .into_iter()
                .map(|(text, count, size)| json!({ "count": count, "total_size": count * size, "text": text }))
                .collect();
            (&["count", "total_size", "text"], records)
        } else {
            let mut rows = self.stats.rows;
            if options.bycount {
                rows.sort_by_key(|r| r.1);
            } else {
                rows.sort_by_key(|r| r.2);
            }
            let records = rows
                .into_iter()
                .map(|(mt, count, size)| stat_record(mt, count, size, &heap.type_name(mt)))
                .collect();
            (&["mt", "count", "total_size", "type"], records)
        };
        if self.format == Format::Csv {
            return write_csv_records(out, columns, &records);
        }
        let total_objects: u64 = records.iter().map(|r| r["count"].as_u64().unwrap_or(0)).sum();
        let total_bytes: u64 = records.iter().map(|r| r["total_size"].as_u64().unwrap_or(0)).sum();
        let fragments: Vec<Value> = self
            .fragments
            .iter()
            .map(|(free, next)| {
                json!({
                    "free_address": hex(free.address),
                    "free_size": free.size,
                    "next_address": hex(next.address),
                    "next_type": &*heap.type_name(next.mt),
                })
            })
            .collect();
        write_json(
            out,
            &json!({
                "statistics": records,
                "total_objects": total_objects,
                "total_bytes": total_bytes,
                "fragmented_blocks": fragments,
            }),
        )
    }

    fn finish(self, session: &Session, options: &Options, out: &mut dyn Write) -> Result<()> {
        if self.format != Format::Text {
            return self.finish_records(session, options, out);
        }
        if self.seen == 0 {
            return Ok(());
        }
        match self.display {
            Display::Short | Display::ThinLock => Ok(()),
            Display::Normal => {
                if !self.stat {
                    writeln!(out)?;
                }
                let heap = &session.heap;
                let rows: Vec<StatRow> = self
                    .stats
                    .rows
                    .iter()
                    .map(|&(mt, count, size)| StatRow {
                        mt,
                        count,
                        size,
                        name: heap.type_name(mt).to_string(),
                    })
                    .collect();
                render_stats(rows, options.bycount, out)?;
                if !self.fragments.is_empty() {
                    writeln!(out)?;
                    writeln!(out, "Fragmented blocks larger than 0.5 MB:")?;
                    writeln!(out, "{:>16} {:>14} {:>16}", "Address", "Size", "Followed By")?;
                    for (free, next) in &self.fragments {
                        writeln!(
                            out,
                            "{:>16} {:>14} {:>16} {}",
                            format!("{:012x}", free.address),
                            thousands(free.size),
                            format!("{:012x}", next.address),
                            heap.type_name(next.mt)
                        )?;
                    }
                }
                Ok(())
            }
            Display::Strings => {
                if !self.stat {
                    writeln!(out)?;
                }
                let mut rows = self.string_rows;
                if options.bycount {
                    rows.sort_by_key(|r| r.1);
                } else {
                    rows.sort_by_key(|r| r.1 * r.2);
                }
                let max_count = rows.iter().map(|r| thousands(r.1).len()).max().unwrap_or(0).max(5);
                let cut = string_cut_length(80, max_count);
                writeln!(out, "Statistics:")?;
                for (text, count, size) in rows {
                    writeln!(
                        out,
                        "{:>14} {:>14} {}",
                        thousands(count),
                        thousands(count * size),
                        sanitize_string(&text, cut)
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// UTF-16 units read from each string for `-strings`.
const STRING_READ_LIMIT: usize = 1024;

/// How many characters of a string `-strings` shows, for a console `width` and the
/// width of the largest count (dotnet-dump uses the count width twice; kept as is).
fn string_cut_length(width: usize, count_width: usize) -> usize {
    let size_width = count_width.max(9);
    match width.checked_sub(count_width + size_width + 2) {
        Some(room) if room > 16 => room.min(128),
        _ => 128,
    }
}

/// The text `-strings` prints for a string value: whole if every unit is a letter or
/// digit, else cut to `cut` units with everything but letters, digits, punctuation and
/// spaces replaced by `.`; non-ASCII characters are then dropped, as dotnet-dump's
/// console output drops them.
fn sanitize_string(units_text: &str, cut: usize) -> String {
    let units: Vec<u16> = units_text.encode_utf16().collect();
    let is_letter_or_digit = |u: u16| match char::from_u32(u as u32) {
        Some(c) if !(0xd800..0xe000).contains(&u) => c.is_alphanumeric(),
        _ => false,
    };
    let all_plain = units.iter().all(|&u| is_letter_or_digit(u));
    let kept: Vec<u16> = if all_plain {
        units
    } else {
        units
            .into_iter()
            .take(cut)
            .map(|u| {
                if is_letter_or_digit(u) || u == b' ' as u16 || is_punctuation(u) {
                    u
                } else {
                    b'.' as u16
                }
            })
            .collect()
    };
    kept.into_iter()
        .filter(|&u| u < 0x80)
        .map(|u| u as u8 as char)
        .collect()
}

/// Unicode punctuation (categories P*) for ASCII, and general punctuation blocks beyond.
fn is_punctuation(u: u16) -> bool {
    match u {
        0..=0x7f => b"!\"#%&'()*,-./:;?@[\\]_{}".contains(&(u as u8)),
        0x00a1 | 0x00a7 | 0x00ab | 0x00b6 | 0x00b7 | 0x00bb | 0x00bf => true,
        0x2010..=0x2027 | 0x2030..=0x205e | 0x3001..=0x3003 | 0x3008..=0x3011 => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_options_like_dotnet_dump() {
        let o = Options::parse(&words("-stat -type Foo -mt 0x7f00 -min=32 -max 64 -gen LOH")).unwrap();
        assert!(o.stat);
        assert_eq!(o.type_filter.as_deref(), Some("Foo"));
        assert_eq!(o.mt, Some(0x7f00));
        assert_eq!((o.min, o.max), (32, 64));
        assert_eq!(o.generation, Some(ObjectGeneration::Large));
        let err = |s: &str| Options::parse(&words(s)).unwrap_err().to_string();
        assert_eq!(err("-mt 0"), "Invalid MethodTable: 0");
        assert_eq!(err("-min 0x10"), "Cannot parse argument '0x10' for option '-min' as expected type 'System.UInt64'.");
        assert_eq!(err("-gen 2"), "Unknown generation: 2. Only gen0, gen1, gen2, loh (large), poh (pinned) and foh (frozen) are supported");
        assert!(err("-typ Foo").starts_with("Unknown option: -typ (valid options: -stat, -type, -mt,"), "{}", err("-typ Foo"));
        assert!(err("-bogus 1 2").starts_with("Unknown option: -bogus"));
        assert_eq!(err("zz"), "Invalid start address: zz");
        assert_eq!(err("1 2 3"), "Too many arguments to !dumpheap");
        assert_eq!(err("2000 1000"), "Start address must be before end address: '2000' < '1000'");
        assert_eq!(err("-type a -type b"), "Option '-type' expects a single argument but 2 were provided.");
        assert_eq!(Options::parse(&words("1000 L100")).unwrap().range, Some((0x1000, 0x1100)));
    }

    #[test]
    fn strings_are_cut_and_sanitized() {
        assert_eq!(string_cut_length(80, 5), 64);
        assert_eq!(string_cut_length(80, 6), 63);
        assert_eq!(sanitize_string("abc123", 2), "abc123");
        assert_eq!(sanitize_string("server=False", 64), "server.False");
        assert_eq!(sanitize_string("a|b\tc", 64), "a.b.c");
        assert_eq!(sanitize_string("Zürich – x", 64), "Zrich  x");
        assert_eq!(sanitize_string("hello world", 5), "hello");
    }
}

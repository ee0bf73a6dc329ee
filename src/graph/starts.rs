//! From an address to the id of the object starting there, in one cache line.
//!
//! Ids number the objects in address order, so the id of the object at `a` is the
//! number of objects below `a`: a rank. The heap's object starts are a bitmap, one bit
//! per 8 heap bytes, over a few spans of address space (a span ends where the next
//! object lies more than [`SPAN_GAP`] bytes further); the bitmap is cut into lines of
//! 64 bytes, each a `u64` count of the objects before the line (its first object's id)
//! followed by seven bitmap words (448 bits, 3,584 heap bytes). A lookup reads one line:
//! the bit says whether `a` is an object start, the count plus the population count of
//! the bits before it is the id. A direct table from 4 MB chunks of address space to
//! their span finds the line without a search.
//!
//! It costs 64 bytes per 3,584 heap bytes (80 MB for a 4.5 GB heap), and answers with
//! one cache miss where a binary search over the sorted addresses took two or three.
//! It is made from the addresses (one pass) or read from the index file of the object
//! table, and checked there: every id it can answer is below the object count.
use super::ObjectId;
use super::store::Store;

/// Heap bytes per bit.
const GRAIN: u64 = 8;
/// `u64` words per line: the count, then the bitmap words.
const LINE_WORDS: usize = 8;
/// Bitmap bits per line.
const LINE_BITS: u64 = 64 * (LINE_WORDS as u64 - 1);
/// Objects further apart than this start a new span (a gap costs a bit per 8 bytes).
const SPAN_GAP: u64 = 1 << 20;
/// The chunk table's granularity (a region is 4 MB or a multiple).
const CHUNK_SHIFT: u32 = 22;
/// The most entries the chunk table may have (4 TB of address space).
const MAX_CHUNKS: u64 = 1 << 20;
/// How many lookups ahead [`StartIndex::resolve`] asks for a line.
const AHEAD: usize = 16;

/// A stretch of address space with objects: bits for `[start, end)`, lines from `line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u64,
    end: u64,
    line: usize,
}

impl Span {
    fn lines(&self) -> usize {
        (self.end - self.start).div_ceil(GRAIN).div_ceil(LINE_BITS) as usize
    }
}

/// From 4 MB chunks of address space to the last span starting before the chunk's end:
/// the span holding an address in one step, a search only in a chunk where several spans
/// begin. Used here and by [`super::marks`] (spans of other kinds: their starts and ends
/// are asked through closures).
pub(crate) struct ChunkTable {
    base: u64,
    last: Vec<u32>,
}

impl ChunkTable {
    /// The table of `spans` (sorted by start, each ending after it starts), unless they
    /// cover too wide a range ([`MAX_CHUNKS`]).
    pub(crate) fn new<S>(spans: &[S], start: impl Fn(&S) -> u64, end: impl Fn(&S) -> u64) -> Option<ChunkTable> {
        let (first, last) = (spans.first()?, spans.last()?);
        let base = start(first) >> CHUNK_SHIFT << CHUNK_SHIFT;
        let chunks = (end(last).checked_sub(1)?.checked_sub(base)? >> CHUNK_SHIFT) + 1;
        if chunks > MAX_CHUNKS {
            return None;
        }
        let mut table = Vec::with_capacity(chunks as usize);
        let mut i = 0usize;
        for c in 0..chunks {
            let chunk_end = base.saturating_add((c + 1) << CHUNK_SHIFT);
            while i + 1 < spans.len() && start(&spans[i + 1]) < chunk_end {
                i += 1;
            }
            table.push(i as u32);
        }
        Some(ChunkTable { base, last: table })
    }

    /// The index of the last of `spans` starting at or below `address` (the caller checks
    /// that the span reaches it): from `table` when there is one, else by a search.
    #[inline(always)]
    pub(crate) fn last_starting_by<S>(table: Option<&ChunkTable>, spans: &[S], start: impl Fn(&S) -> u64, address: u64) -> Option<usize> {
        let search = || spans.partition_point(|s| start(s) <= address).checked_sub(1);
        match table {
            Some(t) => {
                let c = usize::try_from(address.checked_sub(t.base)? >> CHUNK_SHIFT).ok()?;
                let i = *t.last.get(c)? as usize;
                match spans.get(i) {
                    Some(s) if start(s) <= address => Some(i),
                    // Several spans begin in this chunk.
                    _ => search(),
                }
            }
            None => search(),
        }
    }
}

/// The object starts of a graph, answering address -> id.
#[derive(Default)]
pub(crate) struct StartIndex {
    spans: Vec<Span>,
    table: Option<ChunkTable>,
    /// The lines, from word `pad` on (so that an owned array's lines are 64-byte
    /// aligned too; a mapped section is).
    words: Store<u64>,
    pad: usize,
}

impl StartIndex {
    /// The index of `addresses` (strictly increasing; the id of `addresses[i]` is `i`).
    /// An address off the 8-byte grain is left out (never asked for: such a pointer is
    /// no object) and ends its span, so that counts stay exact around it.
    pub(crate) fn build(addresses: &[u64]) -> StartIndex {
        // 1. Spans. Read one address after another, an address off the grain closes the
        //    open span (and is left out), and an address that is not above the last one
        //    or more than [`SPAN_GAP`] beyond it closes it and opens one: so a span is a
        //    run of addresses on the grain each of which passes that test against the one
        //    before it, and where runs begin and end is a question of neighbours. Asked
        //    in parallel pieces (each looking at the address before it), put together in
        //    order: (index, opens a span) per break, false for an address off the grain.
        use rayon::prelude::*;
        const PIECE: usize = 1 << 16;
        let breaks: Vec<(usize, bool)> = addresses
            .par_chunks(PIECE)
            .enumerate()
            .flat_map_iter(|(k, piece)| {
                let first = k * PIECE;
                piece.iter().enumerate().filter_map(move |(j, &a)| {
                    let i = first + j;
                    if a % GRAIN != 0 {
                        return Some((i, false));
                    }
                    let before = i.checked_sub(1).map(|p| addresses[p]);
                    match before {
                        Some(b) if b % GRAIN == 0 && a > b && a - b <= SPAN_GAP => None,
                        _ => Some((i, true)),
                    }
                })
            })
            .collect();
        let mut spans: Vec<Span> = Vec::new();
        let mut lines = 0usize;
        for (k, &(i, opens)) in breaks.iter().enumerate() {
            if !opens {
                continue;
            }
            // The run ends before the next break (or at the last address).
            let last = breaks.get(k + 1).map_or(addresses.len(), |&(next, _)| next) - 1;
            let span = Span { start: addresses[i], end: addresses[last].saturating_add(GRAIN), line: lines };
            lines += span.lines();
            spans.push(span);
        }
        let aligned = breaks.iter().all(|&(_, opens)| opens);

        // 2. Lines: each line's count is the id of the first object at or after it. In
        //    parallel pieces of ids, each cut where a new line begins, so that every
        //    piece fills lines of its own; in one piece when an address off the grain
        //    (never in a real heap) would leave a line's objects uncounted by its piece.
        let mut words = vec![0u64; lines * LINE_WORDS + LINE_WORDS - 1];
        let pad = (words.as_ptr() as usize / 8).wrapping_neg() % LINE_WORDS;
        let all = &mut words[pad..pad + lines * LINE_WORDS];
        let n = addresses.len();
        let line_of = |id: usize| -> usize {
            let a = addresses[id];
            let s = spans.partition_point(|s| s.start <= a).saturating_sub(1);
            spans.get(s).and_then(|s| Some(s.line + (a.checked_sub(s.start)? / GRAIN / LINE_BITS) as usize)).unwrap_or(0)
        };
        let pieces = if aligned && n >= 1 << 16 { rayon::current_num_threads() * 8 } else { 1 };
        // Piece k: ids cuts[k]..cuts[k + 1], lines firsts[k]..firsts[k + 1].
        let mut cuts = vec![0usize];
        for k in 1..pieces {
            let mut c = (n * k / pieces).max(cuts[cuts.len() - 1] + 1);
            while c < n && line_of(c) == line_of(c - 1) {
                c += 1;
            }
            if c < n {
                cuts.push(c);
            }
        }
        cuts.push(n);
        let mut firsts: Vec<usize> = cuts[..cuts.len() - 1].iter().map(|&c| if c == 0 { 0 } else { line_of(c) }).collect();
        firsts.push(lines);
        let mut work = Vec::with_capacity(cuts.len() - 1);
        let mut rest = all;
        for k in 0..cuts.len() - 1 {
            let len = firsts[k + 1].saturating_sub(firsts[k]).saturating_mul(LINE_WORDS).min(rest.len());
            let (mine, more) = std::mem::take(&mut rest).split_at_mut(len);
            work.push((cuts[k]..cuts[k + 1], firsts[k], mine));
            rest = more;
        }
        work.into_par_iter().for_each(|(ids, first_line, words)| {
            let start = addresses.get(ids.start).copied().unwrap_or(0);
            let mut s = spans.partition_point(|s| s.start <= start).saturating_sub(1);
            let mut next_line = 0usize;
            for id in ids.clone() {
                let a = addresses[id];
                if a % GRAIN != 0 {
                    continue;
                }
                while spans.get(s).is_some_and(|sp| a >= sp.end) {
                    s += 1;
                }
                let Some(sp) = spans.get(s) else { break };
                let Some(bit) = a.checked_sub(sp.start).map(|d| d / GRAIN) else { continue };
                let Some(line) = (sp.line + (bit / LINE_BITS) as usize).checked_sub(first_line) else { continue };
                // Lines up to this one without objects count the objects before them.
                while next_line <= line && next_line * LINE_WORDS < words.len() {
                    words[next_line * LINE_WORDS] = id as u64;
                    next_line += 1;
                }
                let within = (bit % LINE_BITS) as usize;
                if let Some(w) = words.get_mut(line * LINE_WORDS + 1 + within / 64) {
                    *w |= 1 << (within % 64);
                }
            }
            while next_line * LINE_WORDS < words.len() {
                words[next_line * LINE_WORDS] = ids.end as u64;
                next_line += 1;
            }
        });
        let table = chunk_table(&spans);
        StartIndex { spans, table, words: words.into(), pad }
    }

    /// The id of the object starting at `address`, when one does.
    #[inline]
    pub(crate) fn id_of(&self, address: u64) -> Option<ObjectId> {
        let (at, within) = self.line_of(address)?;
        let line: &[u64; LINE_WORDS] = self.words.get(at..at.checked_add(LINE_WORDS)?)?.try_into().ok()?;
        let (w, b) = (1 + within / 64, within % 64);
        if line[w] >> b & 1 == 0 {
            return None;
        }
        ObjectId::try_from(rank(line, w, b)).ok()
    }

    /// The ids of `addresses` (`None` where no object starts), in order, to `found`.
    /// Each lookup's line is asked for [`AHEAD`] lookups before it is read, so that the
    /// cache misses of a batch overlap.
    pub(crate) fn resolve(&self, addresses: &[u64], mut found: impl FnMut(Option<ObjectId>)) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the processor has the instruction.
            return unsafe { self.resolve_popcnt(addresses, &mut found) };
        }
        self.resolve_with(addresses, &mut found)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    fn resolve_popcnt(&self, addresses: &[u64], found: &mut impl FnMut(Option<ObjectId>)) {
        self.resolve_with(addresses, found)
    }

    #[inline(always)]
    fn resolve_with(&self, addresses: &[u64], found: &mut impl FnMut(Option<ObjectId>)) {
        // Positions of the next lookups: line word index << 9 | bit, or NONE.
        const NONE: usize = usize::MAX;
        let locate = |a: u64| match self.line_of(a) {
            Some((at, within)) => {
                if let Some(w) = self.words.get(at) {
                    super::prefetch(w);
                }
                at.checked_mul(512).map_or(NONE, |p| p | within)
            }
            None => NONE,
        };
        let mut ring = [NONE; AHEAD];
        for (slot, &a) in ring.iter_mut().zip(addresses) {
            *slot = locate(a);
        }
        for i in 0..addresses.len() {
            let slot = &mut ring[i % AHEAD];
            let pos = *slot;
            if let Some(&a) = addresses.get(i + AHEAD) {
                *slot = locate(a);
            }
            found(if pos == NONE { None } else { self.id_at(pos / 512, pos % 512) });
        }
    }

    /// The id of the object of bit `within` of the line at word `at`, when it is set.
    #[inline(always)]
    fn id_at(&self, at: usize, within: usize) -> Option<ObjectId> {
        let line: &[u64; LINE_WORDS] = self.words.get(at..at.checked_add(LINE_WORDS)?)?.try_into().ok()?;
        let (w, b) = (1 + within / 64, within % 64);
        if line.get(w)? >> b & 1 == 0 {
            return None;
        }
        ObjectId::try_from(rank_portable(line, w, b)).ok()
    }

    /// The word index of the line holding the bit of `address`, and the bit's index
    /// among the line's bitmap bits.
    #[inline(always)]
    fn line_of(&self, address: u64) -> Option<(usize, usize)> {
        if address % GRAIN != 0 {
            return None;
        }
        let s = self.span_of(address)?;
        let bit = (address - s.start) / GRAIN;
        let at = s.line.checked_add((bit / LINE_BITS) as usize)?.checked_mul(LINE_WORDS)?.checked_add(self.pad)?;
        Some((at, (bit % LINE_BITS) as usize))
    }

    /// The span holding `address`.
    #[inline(always)]
    fn span_of(&self, address: u64) -> Option<&Span> {
        let i = ChunkTable::last_starting_by(self.table.as_ref(), &self.spans, |s| s.start, address)?;
        self.spans.get(i).filter(|s| address < s.end)
    }

    /// The spans and lines as written to an index file: `(spans as [start, end, line]
    /// triples, lines)`.
    pub(crate) fn parts(&self) -> (Vec<u64>, &[u64]) {
        let spans = self.spans.iter().flat_map(|s| [s.start, s.end, s.line as u64]).collect();
        let lines = self.spans.last().map_or(0, |s| s.line + s.lines());
        let words = self.words.get(self.pad..self.pad + lines * LINE_WORDS).unwrap_or(&[]);
        (spans, words)
    }

    /// The index of [`StartIndex::parts`] read back (the lines mapped from the file),
    /// checked: spans in order and their lines the array's, and no count that could
    /// make an id of `objects` or more.
    pub(crate) fn from_parts(spans: &[u64], words: Store<u64>, objects: u64) -> anyhow::Result<StartIndex> {
        use rayon::prelude::*;
        if spans.len() % 3 != 0 || words.len() % LINE_WORDS != 0 {
            anyhow::bail!("its object starts are cut short");
        }
        let mut out = Vec::with_capacity(spans.len() / 3);
        let mut lines = 0usize;
        let mut previous_end = 0u64;
        for t in spans.chunks_exact(3) {
            let span = Span { start: t[0], end: t[1], line: usize::try_from(t[2]).unwrap_or(usize::MAX) };
            if span.start % GRAIN != 0 || span.start >= span.end || span.start < previous_end || span.line != lines {
                anyhow::bail!("a span of its object starts does not hold together");
            }
            lines = lines.saturating_add(span.lines());
            previous_end = span.end;
            out.push(span);
        }
        if lines.checked_mul(LINE_WORDS) != Some(words.len()) {
            anyhow::bail!("its object starts do not cover their spans");
        }
        let fits = words.par_chunks(LINE_WORDS * 1024).all(|c| {
            c.chunks_exact(LINE_WORDS).all(|l| {
                let set: u64 = l[1..].iter().map(|w| w.count_ones() as u64).sum();
                l[0].checked_add(set).is_some_and(|end| end <= objects)
            })
        });
        if !fits {
            anyhow::bail!("its object starts count more objects than it holds");
        }
        let table = chunk_table(&out);
        Ok(StartIndex { spans: out, table, words, pad: 0 })
    }

    /// Replaces the lines by the same lines mapped from an index file (`words` as
    /// [`StartIndex::parts`] gave them).
    pub(crate) fn use_mapped(&mut self, words: Store<u64>) -> bool {
        if words.len() != self.parts().1.len() {
            return false;
        }
        (self.words, self.pad) = (words, 0);
        true
    }
}

/// The count of `line` plus the bits set below bit `b` of its word `w`.
#[inline]
fn rank(line: &[u64; LINE_WORDS], w: usize, b: usize) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the processor has the instruction.
        return unsafe { rank_popcnt(line, w, b) };
    }
    rank_portable(line, w, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn rank_popcnt(line: &[u64; LINE_WORDS], w: usize, b: usize) -> u64 {
    rank_portable(line, w, b)
}

#[inline(always)]
fn rank_portable(line: &[u64; LINE_WORDS], w: usize, b: usize) -> u64 {
    let below = line.get(w).map_or(0, |x| x & ((1u64 << (b % 64)) - 1));
    let mut r = line[0].wrapping_add(below.count_ones() as u64);
    for (k, x) in line.iter().enumerate().skip(1) {
        if k < w {
            r = r.wrapping_add(x.count_ones() as u64);
        }
    }
    r
}

/// The chunk table of `spans` (sorted), unless they cover too wide a range.
fn chunk_table(spans: &[Span]) -> Option<ChunkTable> {
    ChunkTable::new(spans, |s| s.start, |s| s.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(addresses: &[u64]) -> StartIndex {
        let idx = StartIndex::build(addresses);
        for (i, &a) in addresses.iter().enumerate() {
            if a % GRAIN == 0 {
                assert_eq!(idx.id_of(a), Some(i as u32), "{a:x}");
            } else {
                assert_eq!(idx.id_of(a), None);
            }
            if let Some(n) = a.checked_add(8) {
                assert_eq!(idx.id_of(n).is_some(), n % GRAIN == 0 && addresses.binary_search(&n).is_ok());
            }
            assert_eq!(idx.id_of(a | 1), None);
        }
        idx
    }

    #[test]
    fn ids_by_address() {
        let mut a: Vec<u64> = (0..5000u64).map(|i| 0x7f00_0000_0018 + i * 24).collect();
        // A far region, a misaligned object, a gap within a span.
        a.extend((0..3000u64).map(|i| 0x7f10_0000_0020 + i * 8));
        a.push(0x7f10_0000_7003);
        a.extend((0..100u64).map(|i| 0x7f10_0001_0000 + i * 40));
        a.extend((0..100u64).map(|i| 0x7f10_0008_0000 + i * 4096));
        // Without the far spans, the chunk table answers; with them, a search.
        assert!(check(&a).table.is_some());
        a.extend((0..10u64).map(|i| 0x9000_0000_0000 + i * 1_000_000));
        let idx = check(&a);
        assert!(idx.table.is_none());
        assert_eq!(idx.id_of(0x10), None);
        assert_eq!(idx.id_of(u64::MAX - 7), None);
        assert_eq!(idx.id_of(0x7f00_0000_0010), None);
        let mut ids = Vec::new();
        let probes: Vec<u64> = a.iter().flat_map(|&x| [x, x + 8, x | 1]).collect();
        idx.resolve(&probes, |id| ids.push(id));
        let one_by_one: Vec<Option<u32>> = probes.iter().map(|&p| idx.id_of(p)).collect();
        assert_eq!(ids, one_by_one);
        // Written and read back.
        let (spans, words) = idx.parts();
        let back = StartIndex::from_parts(&spans, words.to_vec().into(), a.len() as u64).unwrap();
        for (i, &x) in a.iter().enumerate().filter(|(_, x)| *x % 8 == 0) {
            assert_eq!(back.id_of(x), Some(i as u32));
        }
        assert!(StartIndex::from_parts(&spans, words.to_vec().into(), a.len() as u64 - 1).is_err());
        assert!(StartIndex::from_parts(&spans[3..], words.to_vec().into(), a.len() as u64).is_err());
    }

    #[test]
    fn built_in_parallel_pieces() {
        // Enough objects for pieces; sizes varied so lines hold 0 to 448 objects.
        let mut a = Vec::new();
        let mut at = 0x7f00_0000_0000u64;
        for i in 0..300_000u64 {
            a.push(at);
            at += 8 * (1 + (i * 7919) % 13) + if i % 50_000 == 0 { 3 << 20 } else { 0 };
        }
        check(&a);
    }

    /// The spans as one pass over the addresses finds them: an address off the grain
    /// closes the open span, one not above the last or beyond the gap opens another.
    fn spans_one_by_one(addresses: &[u64]) -> Vec<Span> {
        let (mut spans, mut open, mut lines) = (Vec::new(), None::<(u64, u64)>, 0usize);
        let mut close = |open: &mut Option<(u64, u64)>, spans: &mut Vec<Span>| {
            if let Some((start, last)) = open.take() {
                let span = Span { start, end: last + GRAIN, line: lines };
                lines += span.lines();
                spans.push(span);
            }
        };
        for &a in addresses {
            if a % GRAIN != 0 {
                close(&mut open, &mut spans);
            } else if let Some((_, last)) = open.as_mut().filter(|(_, last)| a > *last && a - *last <= SPAN_GAP) {
                *last = a;
            } else {
                close(&mut open, &mut spans);
                open = Some((a, a));
            }
        }
        close(&mut open, &mut spans);
        spans
    }

    #[test]
    fn spans_found_in_pieces_as_one_by_one() {
        // Breaks at and around the pieces' edges: a gap, an address off the grain, both
        // in a row, a run of one address, at the first and last index of a piece.
        let mut rng = crate::test_rng::XorShift(0x2545_f491_4f6c_dd1d);
        for round in 0..8u64 {
            let n = 3 * (1 << 16) + 17;
            let edges = [1usize << 16, 2 << 16, 3 << 16];
            let mut a = Vec::with_capacity(n);
            let mut at = 0x7f00_0000_0000u64;
            for i in 0..n {
                let near = edges.iter().any(|&e| i + 2 >= e && i <= e + 1);
                let roll = rng.next() % 64;
                at += 8 * (1 + rng.next() % 12);
                if (near && roll < 24) || roll == 0 {
                    at += (SPAN_GAP + 8) * (1 + round % 2);
                }
                a.push(if (near && roll % 3 == 0) || roll == 1 { at + 4 } else { at });
            }
            let idx = check(&a);
            assert_eq!(idx.spans, spans_one_by_one(&a), "round {round}");
            assert!(idx.spans.len() > 10, "round {round}: a test of nothing");
        }
    }

    #[test]
    fn empty_and_tiny() {
        let idx = check(&[]);
        assert_eq!(idx.id_of(0x1000), None);
        check(&[0x1000]);
        check(&[8, u64::MAX - 7]);
        check(&[u64::MAX - 7]);
    }
}

//! Candidates for `dumpstackobjects`: the stack words (and registers) whose value lies
//! within the GC heap's bounds, as dotnet-dump collects them before checking which are
//! objects.
use super::Heap;

/// Bytes read at a time; a page that cannot be read ends the scan (as a short read does
/// in dotnet-dump).
const CHUNK: u64 = 4096;

impl Heap {
    /// `[first segment's start, last segment's end - 8)`: where an object can start.
    pub fn object_bounds(&self) -> Option<(u64, u64)> {
        let first = self.segments.first()?;
        let last = self.segments.last()?;
        Some((first.start, last.end.saturating_sub(8)))
    }

    /// Every 8-aligned word of `[start, end)` (stopping at the first unreadable page) whose
    /// value is within [`Heap::object_bounds`]: `(slot address, value)`, in address order.
    pub fn stack_words_in_heap(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let Some((lo, hi)) = self.object_bounds() else { return Vec::new() };
        let mut out = Vec::new();
        let mut addr = start & !7;
        let end = end & !7;
        while addr < end {
            let next = ((addr / CHUNK) + 1).saturating_mul(CHUNK).min(end);
            let Ok(bytes) = self.space().read_vec(addr, (next - addr) as usize) else { break };
            for (i, w) in bytes.chunks_exact(8).enumerate() {
                let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
                if lo <= v && v < hi {
                    out.push((addr + 8 * i as u64, v));
                }
            }
            addr = next;
        }
        out
    }

    /// The segment holding `addr` as an object start: in `[start, end)` of one of them.
    pub fn in_object_range(&self, addr: u64) -> bool {
        self.segment_of(addr).is_some_and(|s| s.start <= addr && addr < s.end)
    }
}

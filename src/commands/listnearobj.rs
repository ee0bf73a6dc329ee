//! `listnearobj` (`lno`) `<address>`: the objects before, at and after an address of the
//! GC heap, the allocation contexts between them, and whether the heap is consistent
//! there (each object ends where the next begins), as dotnet-dump prints it.
//!
//! The address is aligned down to 8 and looked up in the segments' allocated and
//! committed ranges. "Before" is the last object of the segment's walk that starts below
//! it, "Next" the first that starts above it; "Current" is printed when a valid object
//! starts at the address (or where the next object was expected). An object a check of
//! `heap::verify` finds damaged is followed by dotnet-dump's "Error Detected:" line.
use crate::args::{parse_address, CommandArgs, OptionSpec};
use crate::heap::{Heap, HeapObject, ObjectAddr, Segment, SizeCache};
use crate::render::format::thousands;
use crate::render::table::{Align, Column, Kind, Table};
use crate::render::Format;
use crate::session::Session;
use anyhow::{bail, Result};
use std::io::Write;

/// listnearobj has no options.
pub const OPTIONS: &[OptionSpec] = &[];

/// The smallest object: three pointers.
const MIN_OBJECT_SIZE: u64 = 24;

/// `[start, end)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
}

impl Range {
    fn contains(&self, a: u64) -> bool {
        self.start <= a && a < self.end
    }
    fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// What is printed of one object.
#[derive(Debug, Clone, Copy)]
struct Near {
    address: u64,
    /// Its size, when it is a valid object.
    size: Option<u64>,
    mt: u64,
}

struct Printer<'a> {
    heap: &'a Heap,
    table: Table,
    contexts: Vec<Range>,
    segment: &'a Segment,
}

fn size_text(size: u64) -> String {
    if size > 0 { format!("{} (0x{size:x})", thousands(size)) } else { String::new() }
}

/// Objects are 8-byte aligned on 64-bit targets, in every kind of segment.
fn align(size: u64) -> u64 {
    size.saturating_add(7) & !7
}

impl Printer<'_> {
    /// Prints one object's row (and its damage); whether it is a valid, undamaged object.
    fn object(&mut self, out: &mut dyn Write, which: &str, near: Near) -> Result<bool> {
        let corruption = self.heap.verify_object(near.address).into_iter().next();
        // dotnet-dump's type cell for an address with no valid MethodTable.
        let type_name = match near.size {
            Some(_) => self.heap.type_name(near.mt).to_string(),
            None => "Unknown".to_string(),
        };
        self.table.write_row(
            out,
            &[which.into(), near.address.into(), size_text(near.size.unwrap_or(0)).into(), type_name.into()],
        )?;
        if let Some(c) = &corruption {
            writeln!(out, "Error Detected: {} ", c.message(self.heap.memory()))?;
        }
        Ok(corruption.is_none() && near.size.is_some())
    }

    /// Prints the allocation context between two objects, if there is one; returns the
    /// memory it keeps free of objects (the context and a minimal object after it).
    fn gap(&mut self, out: &mut dyn Write, between: Range) -> Result<Range> {
        let found = self.contexts.iter().copied().find(|c| between.overlaps(c) || c.contains(between.end));
        let Some(context) = found else { return Ok(Range::default()) };
        self.table.write_row(
            out,
            &[
                "Gap:".into(),
                format!("{:x}-{:x}", context.start, context.end).into(),
                size_text(context.end.saturating_sub(context.start)).into(),
                "GC Allocation Context (expected gap in the heap)".into(),
            ],
        )?;
        Ok(Range { start: context.start, end: context.end.saturating_add(align(MIN_OBJECT_SIZE)) })
    }

    /// Whether `expected` (where the object after `last` should start) is past the
    /// segment's objects: then `last` was the last one.
    fn end_of_segment(
        &self,
        out: &mut dyn Write,
        expected: u64,
        last: u64,
        consistent: &mut bool,
        found_last: &mut bool,
    ) -> Result<()> {
        let objects = Range { start: self.segment.start, end: self.segment.end };
        if !objects.contains(expected) && !*found_last {
            writeln!(out, "{last:x} is the last object on the segment")?;
            if expected != self.segment.end {
                writeln!(out, "Error: Expected allocated end at {expected:x}, but instead was at {:x}", self.segment.end)?;
                *consistent = false;
            }
            *found_last = true;
        }
        Ok(())
    }
}

pub fn run(session: &Session, args: &[String], _format: Format, out: &mut dyn Write) -> Result<()> {
    let parsed = CommandArgs::parse(args, OPTIONS)?;
    let text = parsed.positional.first().map(String::as_str).unwrap_or("");
    let Some(address) = parse_address(text) else {
        bail!("Could not parse address: {text}");
    };
    let address = address & !7;
    let heap = &session.heap;

    let candidates: Vec<&Segment> = heap
        .segments
        .iter()
        .filter(|s| (s.start <= address && address < s.end) || s.committed_contains(address))
        .collect();
    let Some(&segment) = candidates.first() else {
        writeln!(out, "Failed to find the segment of the managed heap where the object {address:x} resides")?;
        return Ok(());
    };
    if candidates.len() > 1 {
        writeln!(out, "Found multiple segments where the object {address:x} resides, this is possibly memory corruption.")?;
        writeln!(out, "Printing values for segment {:x}", segment.address)?;
    }
    if segment.end <= segment.start {
        writeln!(out, "Segment {:x} has no objects.", segment.address)?;
        return Ok(());
    }
    let objects_range = Range { start: segment.start, end: segment.end };

    let contexts: Vec<Range> = heap
        .alloc_contexts
        .iter()
        .map(|&(start, end)| Range { start, end })
        .filter(|c| objects_range.contains(c.start))
        .collect();
    let width = contexts
        .iter()
        .map(|c| format!("{:x}-{:x}", c.start, c.end).len())
        .max()
        .map_or(16, |w| w.max(16));
    let table = Table::new(&[
        Column::new(Align::Left, Some("Expected:".len()), Kind::Text),
        Column::new(Align::Right, Some(width), Kind::Pointer),
        Column::TEXT.width(32),
        Column::TEXT,
    ]);
    let mut p = Printer { heap, table, contexts, segment };

    let mut walked: Vec<HeapObject> = Vec::new();
    heap.walk_segment(segment, &mut SizeCache::default(), |o| walked.push(o));
    let near = |o: &HeapObject| Near { address: o.address, size: Some(o.size), mt: o.mt };
    // The object ClrMD would make of `a`: valid when a MethodTable is there.
    let object_at = |a: u64| -> Near {
        if let Ok(i) = walked.binary_search_by_key(&a, |o| o.address) {
            return near(&walked[i]);
        }
        match heap.object(ObjectAddr(a)) {
            // ClrMD counts at least a minimal object, as the walk does.
            Some(o) => Near { address: a, size: o.size().ok().map(|s| s.max(MIN_OBJECT_SIZE)), mt: o.mt() },
            None => Near { address: a, size: None, mt: 0 },
        }
    };
    let previous = |a: u64| -> Near {
        let i = walked.partition_point(|o| o.address < a);
        i.checked_sub(1).map_or(Near { address: 0, size: None, mt: 0 }, |i| near(&walked[i]))
    };
    let following = |a: u64| -> Option<Near> {
        if a < segment.start {
            return None;
        }
        let i = walked.partition_point(|o| o.address <= a);
        walked.get(i).map(near)
    };

    let curr = object_at(address);
    let curr_valid = curr.size.is_some();
    let mut consistent = true;
    let mut found_last = false;
    let mut expected;

    if address > segment.start {
        let prev = if segment.end <= address { previous(segment.end - 1) } else { previous(address) };
        consistent = p.object(out, "Before:", prev)? && consistent;
        match prev.size {
            Some(size) => expected = align(prev.address.saturating_add(size)),
            None => {
                consistent = false;
                expected = following(prev.address).map_or(0, |n| n.address);
            }
        }
        let gap = p.gap(out, Range { start: prev.address, end: expected })?;
        if gap.end != 0 {
            expected = gap.end;
        }
        if gap.contains(address) && curr_valid {
            writeln!(out, "Address {address:x} has a valid method table inside of an allocation context.")?;
        }
        p.end_of_segment(out, expected, prev.address, &mut consistent, &mut found_last)?;
    } else if address < segment.start {
        writeln!(out, "Address {address:x} is before the first object on the segment.")?;
        expected = segment.start;
    } else {
        writeln!(out, "Address {address:x} is the first object on the segment.")?;
        expected = segment.start;
    }

    if !found_last && expected < address && objects_range.contains(expected) {
        // The walk skipped where the next object should have been: damage.
        consistent = false;
        let mut at = object_at(expected);
        p.object(out, "Expected:", at)?;
        let gap = p.gap(out, Range { start: expected, end: address })?;
        if gap.end != 0 {
            expected = gap.end;
        } else if curr_valid {
            expected = address;
        } else if let Some(n) = following(address.saturating_add(1)) {
            at = n;
        } else {
            expected = segment.end;
        }
        p.end_of_segment(out, expected, at.address, &mut consistent, &mut found_last)?;
    }

    let mut gap_after_current = false;
    if let Some(size) = curr.size {
        if objects_range.contains(address) {
            consistent = p.object(out, "Current:", curr)? && consistent;
            expected = align(address.saturating_add(size));
            let gap = p.gap(out, Range { start: address, end: expected })?;
            if gap.end != 0 {
                expected = gap.end;
            }
            p.end_of_segment(out, expected, address, &mut consistent, &mut found_last)?;
        } else {
            writeln!(
                out,
                "Object {address:x} is not in the allocated range of the segment, it may have been collected but not zeroed."
            )?;
            p.object(out, "Current:", curr)?;
            found_last = true;
        }
    } else if expected == address {
        consistent = p.object(out, "Current:", curr)? && consistent;
        gap_after_current = true;
    }

    if !found_last {
        match following(address) {
            Some(next) => {
                if gap_after_current {
                    p.gap(out, Range { start: address, end: next.address })?;
                }
                consistent = p.object(out, "Next:", next)? && consistent;
                if next.address != expected {
                    consistent = false;
                    writeln!(out, "Expected to find next object at {expected:x}, instead found it at {:x}.", next.address)?;
                }
                p.end_of_segment(out, expected, address, &mut consistent, &mut found_last)?;
            }
            None => {
                consistent = false;
                writeln!(out, "Could not find object after {address:x}")?;
            }
        }
    }

    if consistent {
        writeln!(out, "Heap local consistency confirmed.")?;
    } else {
        writeln!(out, "Heap local consistency not confirmed.")?;
    }
    Ok(())
}

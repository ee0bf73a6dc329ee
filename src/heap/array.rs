//! Arrays: rank, bounds, element type and where each element is.
//!
//! A single-dimension array (`T[]`) keeps its length at `+8` and its elements from `+16`;
//! a multi-dimensional one (`T[,]`, and `T[*]`, rank 1 with bounds) keeps its total
//! length at `+8`, then per dimension a `u32` length and a `u32` lower bound, then its
//! elements. The rank of such an array is in its base size (`24 + 8 * rank`).
//!
//! The length is the dump's word and may be damaged: [`Array::capacity`] is how many
//! elements the memory the object can occupy actually holds (up to the end of its heap
//! segment, or of the dump's memory around it when it is not on the heap), and every walk
//! over elements stops there, so a length of `0xffffffff` lists what is there rather than
//! four billion lines.
use crate::heap::Heap;
use crate::heap::fields::et;
use crate::heap::object::{Object, ObjectAddr};
use crate::heap::value::primitive_element_type;
use crate::runtime::layouts::MTF_IS_SZARRAY;
use anyhow::{Result, bail};

/// Highest rank read (the runtime allows 32).
const MAX_RANK: u32 = 32;
/// Most rows a walk of a rank-1 array with a lower bound visits below that bound (SOS
/// starts such a walk at index 0, or the start asked for, whatever the lower bound).
const MAX_ROWS_BELOW_LOWER_BOUND: u64 = 1 << 16;

/// An array object's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Array {
    pub address: ObjectAddr,
    pub mt: u64,
    pub rank: u32,
    /// Whether this is a single-dimension, zero-based array (`T[]`).
    pub is_sz: bool,
    /// The element count the array declares (all dimensions).
    pub length: u32,
    /// The element type's TypeHandle (a MethodTable, or a TypeDesc with bit 1 set).
    pub element_mt: u64,
    /// The CorElementType the runtime records for the elements (see
    /// [`Heap::array_element_type`]).
    pub element_type: u8,
    /// Bytes per element.
    pub component_size: u32,
    /// Address of the first element.
    pub data: u64,
    /// Per dimension: its length and its lower bound.
    pub lengths: Vec<u32>,
    pub lower_bounds: Vec<u32>,
    capacity: u64,
}

impl Object<'_> {
    /// The object's array shape (an error if it is not an array).
    pub fn array(&self) -> Result<Array> {
        let heap = self.heap();
        let info = self.method_table()?;
        if self.is_free() || !info.is_array() {
            bail!("{:x} is not an array", self.address());
        }
        let addr = self.address().get();
        let space = heap.space();
        let length = heap.component_count(self.address())?;
        let layout = &heap.runtime.layout;
        let element_mt = space.read_ptr(self.mt().wrapping_add(layout.method_table.per_inst_info))?;
        let is_sz = info.flags & MTF_IS_SZARRAY != 0;
        let rank = if is_sz { 1 } else { (info.base_size.saturating_sub(24) / 8).clamp(1, MAX_RANK) };
        let bounds = addr.wrapping_add(layout.object.array_data);
        let (data, lengths, lower_bounds) = if is_sz {
            (bounds, vec![length], vec![0])
        } else {
            let mut lengths = Vec::with_capacity(rank as usize);
            let mut lower = Vec::with_capacity(rank as usize);
            for i in 0..rank as u64 {
                lengths.push(space.read_u32(bounds.wrapping_add(4 * i))?);
                lower.push(space.read_u32(bounds.wrapping_add(4 * (rank as u64 + i)))?);
            }
            (bounds.wrapping_add(8 * rank as u64), lengths, lower)
        };
        let component_size = info.component_size as u32;
        let capacity = match component_size {
            0 => length as u64,
            c => heap.array_capacity(data, c as u64),
        };
        Ok(Array {
            address: self.address(),
            mt: self.mt(),
            rank,
            is_sz,
            length,
            element_mt,
            element_type: heap.array_element_type(element_mt),
            component_size,
            data,
            lengths,
            lower_bounds,
            capacity,
        })
    }
}

impl Array {
    /// How many elements the array's memory can hold: its length, unless the length is
    /// larger than the memory (a damaged array).
    pub fn capacity(&self) -> u64 {
        self.capacity.min(self.length as u64)
    }

    /// The address of element `index` (row-major over all dimensions), if the array's
    /// memory holds it.
    pub fn element_address(&self, index: u64) -> Option<u64> {
        (index < self.capacity()).then(|| self.data.wrapping_add(index.wrapping_mul(self.component_size as u64)))
    }

    /// The elements in SOS's walk order: from index `start` (rank 1 only) for `length`
    /// elements, row-major for more dimensions, with SOS's 32-bit index arithmetic. The
    /// walk visits at most [`Array::capacity`] rows, plus, for a rank-1 array whose lower
    /// bound is above `start`, the rows below that bound (SOS walks them too, at addresses
    /// outside the array), at most 2^16 of those.
    pub fn elements(&self, start: u64, length: Option<u64>) -> Elements<'_> {
        let mut bounds = self.lengths.clone();
        if self.rank == 1
            && let Some(len) = length
        {
            let limit = (len.wrapping_add(start) as u32).wrapping_sub(self.lower_bounds[0]);
            bounds[0] = bounds[0].min(limit);
        }
        let mut indices = self.lower_bounds.clone();
        if self.rank == 1 {
            indices[0] = start as u32;
        }
        let offset = offset_from_indices(&indices, &self.lower_bounds, &bounds);
        let below = if self.rank == 1 {
            (self.lower_bounds[0] as u64).saturating_sub(start).min(MAX_ROWS_BELOW_LOWER_BOUND)
        } else {
            0
        };
        let row_limit = self.capacity().saturating_add(below);
        Elements { array: self, bounds, indices, offset, rows: 0, row_limit, truncated: false }
    }

    /// The first `max` elements of a byte or char array as numbers, read from the start of
    /// the array's data area (as SOS's `dumpobj` reads them, whatever the rank).
    pub fn leading_units(&self, heap: &Heap, max: u64) -> Result<Vec<u16>> {
        let wide = self.element_type == et::CHAR;
        let n = (self.length as u64).min(max);
        let data = self.address.get().wrapping_add(heap.runtime.layout.object.array_data);
        let bytes = heap.space().read_vec(data, (n * if wide { 2 } else { 1 }) as usize)?;
        Ok(if wide {
            bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect()
        } else {
            bytes.iter().map(|&b| b as u16).collect()
        })
    }
}

/// One element of a walk: its indices, its row-major offset and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub indices: Vec<u32>,
    pub offset: u64,
    pub address: u64,
}

/// The walk of [`Array::elements`].
pub struct Elements<'a> {
    array: &'a Array,
    bounds: Vec<u32>,
    indices: Vec<u32>,
    offset: u64,
    rows: u64,
    row_limit: u64,
    truncated: bool,
}

impl Elements<'_> {
    /// Whether the walk stopped at the array's capacity while its length went on (a
    /// damaged length): the caller should say so.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl Iterator for Elements<'_> {
    type Item = Element;

    fn next(&mut self) -> Option<Element> {
        if self.indices.is_empty() || !indices_in_range(&mut self.indices, &self.array.lower_bounds, &self.bounds) {
            return None;
        }
        if self.rows >= self.row_limit {
            self.truncated = true;
            self.indices.clear();
            return None;
        }
        self.rows += 1;
        let item = Element {
            indices: self.indices.clone(),
            offset: self.offset,
            address: self.array.data.wrapping_add(self.offset.wrapping_mul(self.array.component_size as u64)),
        };
        let last = self.indices.len() - 1;
        self.indices[last] = self.indices[last].wrapping_add(1);
        self.offset = self.offset.wrapping_add(1);
        Some(item)
    }
}

/// SOS's `IndicesInRange`: carries an index past its bound into the next dimension.
fn indices_in_range(indices: &mut [u32], lower: &[u32], bounds: &[u32]) -> bool {
    for i in (0..indices.len()).rev() {
        if indices[i] >= bounds[i].wrapping_add(lower[i]) {
            if i == 0 {
                return false;
            }
            indices[i] = lower[i];
            indices[i - 1] = indices[i - 1].wrapping_add(1);
        }
    }
    true
}

/// SOS's `OffsetFromIndices` (32-bit index arithmetic, as SOS does it).
fn offset_from_indices(indices: &[u32], lower: &[u32], bounds: &[u32]) -> u64 {
    let mut multiplier = 1u64;
    let mut offset = 0u64;
    for i in (0..indices.len()).rev() {
        let cur = indices[i].wrapping_sub(lower[i]) as u64;
        offset = offset.wrapping_add(cur.wrapping_mul(multiplier));
        multiplier = multiplier.wrapping_mul(bounds[i] as u64);
    }
    offset
}

impl Heap {
    /// The CorElementType the runtime records for an array's elements of TypeHandle
    /// `element`: the primitive's own, VALUETYPE for other structs (enums included),
    /// SZARRAY/ARRAY for arrays, PTR for a TypeDesc, else CLASS.
    pub fn array_element_type(&self, element: u64) -> u8 {
        if element & 2 != 0 {
            return et::PTR;
        }
        let Ok(info) = self.method_table(element) else { return et::CLASS };
        if info.is_array() {
            return if info.flags & MTF_IS_SZARRAY != 0 { et::SZARRAY } else { et::ARRAY };
        }
        if !info.is_value_type() {
            return et::CLASS;
        }
        if info.module == self.runtime.globals.core_lib_module
            && let Ok(name) = self.dac_type_name(element)
            && let Some(t) = primitive_element_type(&name)
        {
            return t;
        }
        et::VALUETYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(lengths: Vec<u32>, lower_bounds: Vec<u32>, length: u32, capacity: u64) -> Array {
        Array {
            address: ObjectAddr(0x1000),
            mt: 0x2000,
            rank: lengths.len() as u32,
            is_sz: false,
            length,
            element_mt: 0,
            element_type: et::I4,
            component_size: 4,
            data: 0x1000 + 16 + 8 * lengths.len() as u64,
            lengths,
            lower_bounds,
            capacity,
        }
    }

    #[test]
    fn elements_walk_row_major() {
        let a = array(vec![2, 3], vec![0, 0], 6, 6);
        let walk: Vec<_> = a.elements(0, None).map(|e| (e.indices, e.offset)).collect();
        assert_eq!(walk.len(), 6);
        assert_eq!(walk[0], (vec![0, 0], 0));
        assert_eq!(walk[3], (vec![1, 0], 3));
        assert_eq!(walk[5], (vec![1, 2], 5));
        assert_eq!(a.elements(0, None).last().unwrap().address, a.data + 20);
    }

    #[test]
    fn lower_bounds_shift_indices_not_offsets() {
        let a = array(vec![3], vec![5], 3, 3);
        let walk: Vec<_> = a.elements(5, None).map(|e| (e.indices[0], e.offset)).collect();
        assert_eq!(walk, vec![(5, 0), (6, 1), (7, 2)]);
        // From index 0, as SOS walks it by default: the rows below the bound come first,
        // at offsets that wrapped in 32 bits.
        let walk: Vec<_> = a.elements(0, None).map(|e| (e.indices[0], e.offset)).collect();
        assert_eq!(walk.len(), 8);
        assert_eq!(walk[0], (0, 0xffff_fffb));
        assert_eq!(walk[7], (7, 0x1_0000_0002));
    }

    #[test]
    fn start_and_length_cut_a_vector() {
        let mut a = array(vec![10], vec![0], 10, 10);
        a.rank = 1;
        a.is_sz = true;
        let walk: Vec<_> = a.elements(1, Some(2)).map(|e| e.offset).collect();
        assert_eq!(walk, vec![1, 2]);
    }

    #[test]
    fn a_damaged_length_stops_at_the_memory() {
        let mut a = array(vec![u32::MAX], vec![0], u32::MAX, 5);
        a.rank = 1;
        let mut walk = a.elements(0, None);
        assert_eq!(walk.by_ref().count(), 5);
        assert!(walk.truncated());
        assert_eq!(a.capacity(), 5);
        assert_eq!(a.element_address(4), Some(a.data + 16));
        assert_eq!(a.element_address(5), None);
        let whole = array(vec![2, 2], vec![0, 0], 4, 100);
        let mut walk = whole.elements(0, None);
        assert_eq!(walk.by_ref().count(), 4);
        assert!(!walk.truncated());
    }
}

//! A flat array that lives either in memory or in a memory-mapped index file
//! ([`super::index`]): the graph's per-object arrays read the same either way, and a
//! mapped one costs page cache (which the kernel can drop and read again), not private
//! memory.
use memmap2::Mmap;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

/// Element types an index file holds: plain integers, any bit pattern valid, stored in
/// the machine's byte order (the file's header says which).
pub trait Plain: Copy + Send + Sync + 'static + sealed::Sealed {}
impl Plain for u8 {}
impl Plain for u32 {}
impl Plain for u64 {}
mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

/// An array of `T`, owned or mapped.
pub enum Store<T: Plain> {
    Owned(Vec<T>),
    /// `len` elements at byte `offset` of `map`; [`Store::mapped`] checked that they lie
    /// inside it and are aligned.
    Mapped { map: Arc<Mmap>, offset: usize, len: usize, _t: PhantomData<T> },
}

impl<T: Plain> Store<T> {
    /// `len` elements at byte `offset` of `map`, or `None` when they do not fit in it or
    /// are not aligned for `T`.
    pub fn mapped(map: &Arc<Mmap>, offset: usize, len: usize) -> Option<Store<T>> {
        let bytes = len.checked_mul(size_of::<T>())?;
        let end = offset.checked_add(bytes)?;
        if end > map.len() || (map.as_ptr() as usize).checked_add(offset)? % align_of::<T>() != 0 {
            return None;
        }
        Some(Store::Mapped { map: map.clone(), offset, len, _t: PhantomData })
    }

    /// The elements, mutable: a mapped array is copied into memory first.
    pub fn make_mut(&mut self) -> &mut [T] {
        if let Store::Mapped { .. } = self {
            *self = Store::Owned(self.to_vec());
        }
        match self {
            Store::Owned(v) => v,
            Store::Mapped { .. } => unreachable!("made owned above"),
        }
    }

    /// A second handle on the same elements (a mapped array is not copied).
    pub fn share(&self) -> Store<T> {
        match self {
            Store::Owned(v) => Store::Owned(v.clone()),
            Store::Mapped { map, offset, len, .. } => Store::Mapped { map: map.clone(), offset: *offset, len: *len, _t: PhantomData },
        }
    }

    /// Elements `range` of a mapped array, as a mapped array sharing the mapping (`None`
    /// for an owned array or a range outside this one).
    pub fn sub(&self, range: std::ops::Range<usize>) -> Option<Store<T>> {
        match self {
            Store::Mapped { map, offset, len, .. } if range.start <= range.end && range.end <= *len => {
                Store::mapped(map, offset.checked_add(range.start.checked_mul(size_of::<T>())?)?, range.end - range.start)
            }
            _ => None,
        }
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self, Store::Mapped { .. })
    }
}

impl<T: Plain> Default for Store<T> {
    fn default() -> Self {
        Store::Owned(Vec::new())
    }
}

impl<T: Plain> From<Vec<T>> for Store<T> {
    fn from(v: Vec<T>) -> Self {
        Store::Owned(v)
    }
}

impl<T: Plain> Deref for Store<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Store::Owned(v) => v,
            // SAFETY: `mapped` checked bounds and alignment; every bit pattern is a valid
            // `T` (Plain); the mapping lives as long as `map`, and index files are never
            // written in place (a new one is renamed over the old), so the bytes do not
            // change under the slice.
            Store::Mapped { map, offset, len, .. } => unsafe {
                std::slice::from_raw_parts(map.as_ptr().add(*offset) as *const T, *len)
            },
        }
    }
}

/// The bytes of a plain array, as written to an index file.
pub fn bytes_of<T: Plain>(s: &[T]) -> &[u8] {
    // SAFETY: plain integers have no padding; u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, std::mem::size_of_val(s)) }
}

/// Gives the memory freed so far back to the system. The C allocator keeps freed blocks
/// for reuse, and the graph's many mid-sized blocks (an edge block's arrays, a few dozen
/// KiB each, allocated by every worker thread) stay counted as the process's private
/// memory after their contents moved to a mapped index file or were dropped: hundreds of
/// MB on a 4 GB heap, at the moment the dominator tree needs the most. Called after such
/// a release; costs a walk of the allocator's free lists. (In the `clrheap` binary,
/// blocks of 64 KiB or more are [`crate::recycle`]'s, which keeps their pages for the
/// next large block until the command ends; this trims only the C allocator's.)
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of glibc's arenas to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

//! Recycled pages for large blocks: the binary's global allocator ([`Recycler`]).
//!
//! The graph's phases each allocate arrays of hundreds of MB and free them before the next
//! phase allocates its own: the object table's per-segment scratch, then its arrays, the
//! edge blocks, the dominator tree's search and sort arrays, the leak scans. glibc maps
//! every block over 32 MiB afresh and unmaps it when freed (and trims its arenas), so each
//! phase touches pages the kernel has to find and zero again, and on a virtual machine
//! whose host takes freed memory back each such page costs several microseconds of system
//! time: a first `leaks` on a 1 GB heap touched ~1.3 GB of fresh anonymous pages for a
//! peak of ~430 MB.
//!
//! [`Recycler`] serves blocks of [`MIN`] bytes or more (page-aligned mappings) and keeps
//! the resident pages of a freed one; the next large block is carved from a kept piece
//! large enough, or mapped fresh with kept pieces moved into it (`mremap`, which moves the
//! page tables: no page fault, no copy); a growing block is extended the same way. Smaller
//! blocks go to the system allocator. Nothing is kept that was not resident (`mincore`),
//! so the process's private memory never exceeds what it held before a free, and kept
//! pieces are used before any fresh page: the peak is the one the program would reach
//! anyway. [`release`] gives every kept piece back (the interactive shell calls it after
//! each command, so an idle prompt holds nothing; a batch of commands keeps them for the next). `CLRHEAP_RECYCLE=0` turns keeping off (for
//! measurements). The library works with any allocator: without this one the pool stays
//! empty and [`reuse_pages`] does nothing.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

/// Blocks of this size or more are served by page mappings and their pages recycled.
pub const MIN: usize = 64 << 10;

/// Most pieces kept at once (a freed piece beyond it is unmapped).
const PIECES: usize = 4096;

/// The global allocator of the `clrheap` binary (see the module's comment).
pub struct Recycler;

/// What was kept: disjoint page-aligned ranges `(address, length)`, each resident.
struct Pool {
    pieces: [(usize, usize); PIECES],
    len: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool { pieces: [(0, 0); PIECES], len: 0 });
static PAGE: AtomicUsize = AtomicUsize::new(0);
/// 0: not read yet, 1: keep freed pages, 2: do not (`CLRHEAP_RECYCLE=0`).
static MODE: AtomicU8 = AtomicU8::new(0);
static REUSED: AtomicU64 = AtomicU64::new(0);
static FRESH: AtomicU64 = AtomicU64::new(0);

fn page() -> usize {
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let p = if p > 0 && (p as usize).is_power_of_two() { p as usize } else { 4096 };
            PAGE.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

fn keeping() -> bool {
    match MODE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: a NUL-terminated name; the value is only read.
            let off = unsafe {
                let v = libc::getenv(c"CLRHEAP_RECYCLE".as_ptr());
                !v.is_null() && *v == b'0' as libc::c_char
            };
            MODE.store(if off { 2 } else { 1 }, Ordering::Relaxed);
            !off
        }
        m => m == 1,
    }
}

fn lock() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a layout is served by mappings (and so must be freed by them).
fn mapped(layout: &Layout) -> bool {
    layout.size() >= MIN && layout.align() <= page()
}

fn round(n: usize) -> Option<usize> {
    let p = page();
    n.checked_add(p - 1).map(|x| x & !(p - 1))
}

/// A fresh anonymous mapping of `n` bytes (zero pages, none touched), or null.
fn map(n: usize) -> *mut u8 {
    // SAFETY: a new private anonymous mapping; nothing else is affected.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), n, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
    if p == libc::MAP_FAILED { std::ptr::null_mut() } else { p as *mut u8 }
}

fn unmap(addr: usize, n: usize) {
    if n > 0 {
        // SAFETY: the range is one this module owns (a block being freed or a kept piece).
        unsafe { libc::munmap(addr as *mut libc::c_void, n) };
    }
}

impl Pool {
    /// Removes and returns the smallest piece of at least `n` bytes, cut to `n` (the rest
    /// stays kept).
    fn carve(&mut self, n: usize) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, &(_, len)) in self.pieces[..self.len].iter().enumerate() {
            if len >= n && best.is_none_or(|b| len < self.pieces[b].1) {
                best = Some(i);
            }
        }
        let i = best?;
        let (addr, len) = self.pieces[i];
        if len == n {
            self.remove(i);
        } else {
            self.pieces[i] = (addr + n, len - n);
        }
        Some(addr)
    }

    /// Removes and returns the piece starting at `addr` when it holds `n` bytes or more,
    /// cut to `n`.
    fn carve_at(&mut self, addr: usize, n: usize) -> bool {
        let Some(i) = self.pieces[..self.len].iter().position(|&(a, len)| a == addr && len >= n) else {
            return false;
        };
        let len = self.pieces[i].1;
        if len == n {
            self.remove(i);
        } else {
            self.pieces[i] = (addr + n, len - n);
        }
        true
    }

    /// Removes and returns the largest piece.
    fn take_largest(&mut self) -> Option<(usize, usize)> {
        let i = (0..self.len).max_by_key(|&i| self.pieces[i].1)?;
        let p = self.pieces[i];
        self.remove(i);
        Some(p)
    }

    fn remove(&mut self, i: usize) {
        self.len -= 1;
        self.pieces[i] = self.pieces[self.len];
    }

    /// Keeps a resident range, joined to the kept pieces it touches (unmapped when the
    /// pool is full). A joined piece may span several kernel mappings: moving it whole
    /// needs Linux 6.17 or later, and [`Pool::fill`] moves it in halves otherwise.
    fn keep(&mut self, mut addr: usize, mut n: usize) {
        if n == 0 {
            return;
        }
        let mut i = 0;
        while i < self.len {
            let (a, len) = self.pieces[i];
            if a + len == addr {
                (addr, n) = (a, len + n);
                self.remove(i);
            } else if addr + n == a {
                n += len;
                self.remove(i);
            } else {
                i += 1;
            }
        }
        self.keep_apart(addr, n);
    }

    /// Keeps a range as a piece of its own (not joined to its neighbours).
    fn keep_apart(&mut self, addr: usize, n: usize) {
        if self.len < PIECES {
            self.pieces[self.len] = (addr, n);
            self.len += 1;
        } else {
            unmap(addr, n);
        }
    }

    /// Moves kept pages onto `[dst, dst + n)`, a range of fresh (untouched) pages the
    /// caller owns, largest pieces first; returns the ranges filled (offsets from `dst`)
    /// through `filled`. A piece the kernel refuses to move is unmapped.
    fn fill(&mut self, dst: usize, n: usize, mut filled: impl FnMut(usize, usize)) {
        let mut at = 0;
        while at < n {
            let Some((addr, len)) = self.take_largest() else { break };
            let take = len.min(n - at);
            // SAFETY: `[addr, addr + take)` is a kept piece (pages this module owns) and the
            // destination pages are the caller's fresh ones: moving replaces them.
            let moved = unsafe {
                libc::mremap(addr as *mut libc::c_void, take, take, libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED, (dst + at) as *mut libc::c_void)
            };
            if moved == libc::MAP_FAILED {
                // Spanning kernel mappings (before Linux 6.17): kept as two halves, tried
                // again; a single page the kernel will not move is given back.
                let half = (len / 2) & !(page() - 1);
                if half == 0 {
                    unmap(addr, len);
                } else {
                    self.keep_apart(addr, half);
                    self.keep_apart(addr + half, len - half);
                }
                continue;
            }
            if len > take {
                self.keep(addr + take, len - take);
            }
            filled(at, take);
            at += take;
        }
    }
}

/// Keeps the resident pages of a freed range `[addr, addr + n)` (page-aligned), unmapping
/// the rest.
fn give_back(addr: usize, n: usize) {
    if !keeping() {
        unmap(addr, n);
        return;
    }
    let p = page();
    let pages = n / p;
    const BATCH: usize = 4096;
    let mut residency = [0u8; BATCH];
    // Runs of resident and absent pages, each kept or unmapped in one call.
    let mut runs: [(usize, usize, bool); 64] = [(0, 0, false); 64];
    let mut nruns = 0;
    let flush = |runs: &mut [(usize, usize, bool); 64], nruns: &mut usize| {
        let mut pool = lock();
        for &(a, len, resident) in &runs[..*nruns] {
            if resident { pool.keep(a, len) } else { unmap(a, len) }
        }
        *nruns = 0;
    };
    let mut i = 0;
    while i < pages {
        let batch = (pages - i).min(BATCH);
        let start = addr + i * p;
        // SAFETY: the range is mapped (the block being freed) and the vector holds a byte
        // per page.
        let ok = unsafe { libc::mincore(start as *mut libc::c_void, batch * p, residency.as_mut_ptr() as *mut _) } == 0;
        for (j, &r) in residency[..batch].iter().enumerate() {
            let resident = !ok || r & 1 == 1;
            let a = start + j * p;
            match runs[..nruns].last_mut() {
                Some(last) if last.2 == resident && last.0 + last.1 == a => last.1 += p,
                _ => {
                    if nruns == runs.len() {
                        flush(&mut runs, &mut nruns);
                    }
                    runs[nruns] = (a, p, resident);
                    nruns += 1;
                }
            }
        }
        i += batch;
    }
    flush(&mut runs, &mut nruns);
}

/// A block of `n` bytes (page-rounded), from kept pages where there are some; `zero`:
/// every byte zero.
fn take(n: usize, zero: bool) -> *mut u8 {
    if keeping() {
        let carved = lock().carve(n);
        if let Some(addr) = carved {
            if zero {
                // SAFETY: the carved pages are ours and writable.
                unsafe { std::ptr::write_bytes(addr as *mut u8, 0, n) };
            }
            REUSED.fetch_add(n as u64, Ordering::Relaxed);
            return addr as *mut u8;
        }
    }
    let p = map(n);
    if p.is_null() {
        return p;
    }
    let mut reused = 0;
    if keeping() {
        lock().fill(p as usize, n, |off, len| {
            if zero {
                // SAFETY: the moved pages now lie in the new block, ours and writable.
                unsafe { std::ptr::write_bytes(p.add(off), 0, len) };
            }
            reused += len;
        });
    }
    REUSED.fetch_add(reused as u64, Ordering::Relaxed);
    FRESH.fetch_add((n - reused) as u64, Ordering::Relaxed);
    p
}

/// Grows the mapped block `[ptr, ptr + old)` to `new` bytes (both page-rounded, `new >
/// old`) without copying: in place when a kept piece follows it, else moved by the kernel
/// (its page tables) with kept pages moved into its new part; null when that fails.
fn grow(ptr: *mut u8, old: usize, new: usize) -> *mut u8 {
    if keeping() && lock().carve_at(ptr as usize + old, new - old) {
        REUSED.fetch_add((new - old) as u64, Ordering::Relaxed);
        return ptr;
    }
    // SAFETY: `[ptr, ptr + old)` is a block this module mapped; the kernel moves it whole.
    let mut q = unsafe { libc::mremap(ptr as *mut libc::c_void, old, new, libc::MREMAP_MAYMOVE) };
    if q == libc::MAP_FAILED {
        // A block made of pieces moved together spans several kernel mappings, which
        // mremap does not resize: its pages are moved to the head of a new mapping.
        let fresh = map(new);
        if fresh.is_null() {
            return fresh;
        }
        // SAFETY: as above; the destination is the new mapping's own head.
        q = unsafe { libc::mremap(ptr as *mut libc::c_void, old, old, libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED, fresh as *mut libc::c_void) };
        if q == libc::MAP_FAILED {
            unmap(fresh as usize, new);
            return std::ptr::null_mut();
        }
    }
    let q = q as *mut u8;
    let mut reused = 0;
    if keeping() {
        lock().fill(q as usize + old, new - old, |_, len| reused += len);
    }
    REUSED.fetch_add(reused as u64, Ordering::Relaxed);
    FRESH.fetch_add((new - old - reused) as u64, Ordering::Relaxed);
    q
}

// SAFETY: every block is either the system allocator's (below `MIN` or over-aligned: the
// same test on allocation and on freeing, since Rust passes the allocation's layout back)
// or a page-aligned private mapping of its rounded size owned by the caller until freed.
unsafe impl GlobalAlloc for Recycler {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !mapped(&layout) {
            // SAFETY: the caller's layout, as GlobalAlloc requires.
            return unsafe { System.alloc(layout) };
        }
        round(layout.size()).map_or(std::ptr::null_mut(), |n| take(n, false))
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !mapped(&layout) {
            // SAFETY: as in `alloc`.
            return unsafe { System.alloc_zeroed(layout) };
        }
        round(layout.size()).map_or(std::ptr::null_mut(), |n| take(n, true))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !mapped(&layout) {
            // SAFETY: allocated by System with this layout (see `alloc`).
            return unsafe { System.dealloc(ptr, layout) };
        }
        if let Some(n) = round(layout.size()) {
            give_back(ptr as usize, n);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract: the new layout is valid for a non-zero size.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (mapped(&layout), mapped(&new_layout)) {
            // SAFETY: a System block staying one.
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) => {
                let (Some(old), Some(new)) = (round(layout.size()), round(new_size)) else {
                    return std::ptr::null_mut();
                };
                if new <= old {
                    if new < old {
                        give_back(ptr as usize + new, old - new);
                    }
                    return ptr;
                }
                let q = grow(ptr, old, new);
                if !q.is_null() {
                    return q;
                }
                // SAFETY: a fresh block of the new size; the old one copied then freed.
                unsafe {
                    let q = self.alloc(new_layout);
                    if !q.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, q, layout.size());
                        self.dealloc(ptr, layout);
                    }
                    q
                }
            }
            // SAFETY: a block moving between the two kinds: allocated anew, copied, freed.
            _ => unsafe {
                let q = self.alloc(new_layout);
                if !q.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                q
            },
        }
    }
}

/// Gives every kept page back to the system.
pub fn release() {
    let mut pool = lock();
    while let Some((addr, len)) = pool.take_largest() {
        unmap(addr, len);
    }
}

/// Bytes served from kept pages and from fresh ones so far.
pub fn stats() -> (u64, u64) {
    (REUSED.load(Ordering::Relaxed), FRESH.load(Ordering::Relaxed))
}

/// Bytes kept now.
pub fn kept() -> usize {
    let pool = lock();
    pool.pieces[..pool.len].iter().map(|p| p.1).sum()
}

/// Replaces the whole pages inside `slice` with kept ones, so that writing them causes no
/// page fault; the slice's contents are unspecified afterwards. For an array about to be
/// overwritten whole that was allocated when no page was kept yet (the object table's
/// arrays, filled while the walk's scratch is freed). Does nothing while no page is kept
/// (pages are kept only when [`Recycler`] is the global allocator) or for a slice under
/// [`MIN`] bytes.
///
/// # Safety
/// Every bit pattern must be a valid `T`, and the slice must lie in one private
/// anonymous mapping (a heap block of [`MIN`] bytes or more).
pub unsafe fn reuse_pages<T: Copy>(slice: &mut [T]) {
    let bytes = std::mem::size_of_val(slice);
    if bytes < MIN || !keeping() {
        return;
    }
    let p = page();
    let start = (slice.as_mut_ptr() as usize).next_multiple_of(p);
    let end = (slice.as_mut_ptr() as usize + bytes) & !(p - 1);
    if end <= start {
        return;
    }
    let mut pool = lock();
    if pool.len == 0 {
        return;
    }
    let mut reused = 0;
    pool.fill(start, end - start, |_, len| reused += len);
    REUSED.fetch_add(reused as u64, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    // These tests share the process-wide pool (and run under the system allocator, so
    // only they put pages in it): one test, in steps.
    #[test]
    fn blocks_keep_their_contents_and_pages_are_reused() {
        let r = Recycler;
        unsafe {
            let big = Layout::from_size_align(3 << 20, 8).unwrap();
            let a = r.alloc_zeroed(big);
            assert!(!a.is_null());
            assert!((0..big.size()).step_by(4096).all(|i| *a.add(i) == 0));
            std::ptr::write_bytes(a, 7, big.size());
            let (reused0, _) = stats();
            r.dealloc(a, big);
            assert!(kept() >= 3 << 20);
            // Carved from the kept piece, zeroed again.
            let small = Layout::from_size_align(1 << 20, 8).unwrap();
            let b = r.alloc_zeroed(small);
            assert!((0..small.size()).all(|i| *b.add(i) == 0));
            assert!(stats().0 >= reused0 + (1 << 20));
            // Grown past what is left, through a fresh mapping filled with kept pages;
            // contents kept.
            std::ptr::write_bytes(b, 3, small.size());
            let c = r.realloc(b, small, 8 << 20);
            assert!((0..small.size()).all(|i| *c.add(i) == 3));
            std::ptr::write_bytes(c, 5, 8 << 20);
            // Shrunk, then grown back in place from its own freed tail.
            let grown = Layout::from_size_align(8 << 20, 8).unwrap();
            let d = r.realloc(c, grown, 2 << 20);
            assert_eq!(d, c);
            let e = r.realloc(d, Layout::from_size_align(2 << 20, 8).unwrap(), 4 << 20);
            assert_eq!(e, c);
            assert!((0..2 << 20).all(|i| *e.add(i) == 5));
            // A larger block than any kept piece: gathered, and zero where asked.
            let huge = Layout::from_size_align(16 << 20, 8).unwrap();
            let f = r.alloc_zeroed(huge);
            assert!((0..huge.size()).step_by(512).all(|i| *f.add(i) == 0));
            // Small blocks and the moves between both kinds.
            let tiny = Layout::from_size_align(100, 8).unwrap();
            let g = r.alloc(tiny);
            std::ptr::write_bytes(g, 9, 100);
            let h = r.realloc(g, tiny, 1 << 20);
            assert!((0..100).all(|i| *h.add(i) == 9));
            let k = r.realloc(h, Layout::from_size_align(1 << 20, 8).unwrap(), 50);
            assert!((0..50).all(|i| *k.add(i) == 9));
            r.dealloc(k, Layout::from_size_align(50, 8).unwrap());
            // Reused pages for an array about to be overwritten.
            let mut v = vec![1u64; 1 << 18];
            r.dealloc(f, huge);
            reuse_pages(&mut v[..]);
            v.fill(2);
            assert!(v.iter().all(|&x| x == 2));
            r.dealloc(e, Layout::from_size_align(4 << 20, 8).unwrap());
            release();
            assert_eq!(kept(), 0);
        }
    }
}

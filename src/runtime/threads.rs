//! Managed threads: the `ThreadStore`'s list of `Thread` objects.
//!
//! The heap walk needs each thread's allocation context (the unparsed window of gen0 it
//! allocates into); roots, locks and `clrthreads` need its ids, state and last exception;
//! the stack walk its registers, which are in the core file's thread notes, not in the
//! runtime ([`Runtime::thread_registers`]). Offsets per version are in
//! [`super::layouts::ThreadLayout`].
use super::layouts::AllocContextPlace;
use super::Runtime;
use crate::dump::ThreadRegisters;
use std::collections::HashSet;

/// More threads than this means a corrupt list.
const MAX_THREADS: usize = 1 << 20;

/// One `Thread` of the runtime's thread store.
#[derive(Debug, Clone, Default)]
pub struct ManagedThread {
    /// The `Thread*`.
    pub address: u64,
    pub managed_id: u32,
    pub os_id: u32,
    /// `ThreadState` flags (`clrthreads`' State column); `None` when unreadable.
    pub state: Option<u32>,
    /// `[alloc_ptr, alloc_limit)`, when the thread has a non-empty allocation context.
    pub alloc_context: Option<(u64, u64)>,
    /// The handle to the last exception thrown on the thread (0 when none or unreadable);
    /// see [`ManagedThread::last_exception`].
    pub last_thrown_handle: u64,
}

impl ManagedThread {
    /// The last exception thrown on this thread (the object its handle holds), if any.
    pub fn last_exception(&self, rt: &Runtime) -> Option<u64> {
        if self.last_thrown_handle == 0 {
            return None;
        }
        rt.space.read_ptr(self.last_thrown_handle).ok().filter(|&o| o != 0)
    }
}

impl Runtime {
    /// The registers of an OS thread, from the core file's notes.
    pub fn thread_registers(&self, os_id: u32) -> Option<&ThreadRegisters> {
        self.space.core().threads.iter().find(|t| t.tid == os_id)
    }

    /// The stack pointer of an OS thread when the dump was taken.
    pub fn thread_stack_pointer(&self, os_id: u32) -> Option<u64> {
        self.thread_registers(os_id).map(ThreadRegisters::sp)
    }

    /// The debugger's number for an OS thread: its position among the dump's threads.
    pub fn debugger_thread_index(&self, os_id: u32) -> Option<usize> {
        self.space.core().threads.iter().position(|t| t.tid == os_id)
    }

    /// The OS id of a `Thread*`: from `threads` (the thread store's list), else read from
    /// the Thread itself (a thread that has left the list).
    pub fn thread_os_id(&self, threads: &[ManagedThread], thread: u64) -> Option<u32> {
        if let Some(t) = threads.iter().find(|t| t.address == thread) {
            return Some(t.os_id);
        }
        self.space.read_u32(thread.checked_add(self.layout.thread.os_id)?).ok()
    }
}

/// Reads every thread in the `ThreadStore`, in list order. A damaged list loses the
/// threads from the damage on, with a warning, never the dump: the list ends at a link
/// that cannot be read, at a thread whose ids cannot be read, and where it loops.
pub fn read_threads(rt: &Runtime) -> Vec<ManagedThread> {
    let space = &*rt.space;
    let t = &rt.layout.thread;
    let mut threads = Vec::new();
    if rt.globals.thread_store == 0 {
        return threads;
    }
    let lost = |threads: &[ManagedThread], why: String| {
        space.warnings().warn(format!(
            "the thread list is damaged ({why}): {} threads read, any after that are not",
            threads.len()
        ));
    };
    let head = rt.globals.thread_store.wrapping_add(t.first_link);
    let mut link = match space.read_ptr(head) {
        Ok(l) => l,
        Err(e) => {
            lost(&threads, format!("cannot read its head: {e}"));
            return threads;
        }
    };
    let mut seen = HashSet::new();
    while link != 0 && link != head {
        if threads.len() >= MAX_THREADS {
            lost(&threads, format!("more than {MAX_THREADS} threads"));
            break;
        }
        if !seen.insert(link) {
            lost(&threads, format!("the link at {link:#x} comes back to a thread already read"));
            break;
        }
        let thread = link.wrapping_sub(t.link);
        let alloc = match t.alloc_context {
            AllocContextPlace::Inline(off) => Some(thread.wrapping_add(off)),
            AllocContextPlace::Indirect { pointer, context, gc_context } => {
                match space.read_ptr(thread.wrapping_add(pointer)) {
                    Ok(0) | Err(_) => None,
                    Ok(block) => Some(block.wrapping_add(context).wrapping_add(gc_context)),
                }
            }
        };
        let alloc_context = alloc.and_then(|a| read_alloc_context(rt, a));
        let ids = space
            .read_u32(thread.wrapping_add(t.managed_id))
            .and_then(|m| Ok((m, space.read_u32(thread.wrapping_add(t.os_id))?)));
        let (managed_id, os_id) = match ids {
            Ok(ids) => ids,
            Err(e) => {
                lost(&threads, format!("the thread at {thread:#x}: {e}"));
                break;
            }
        };
        threads.push(ManagedThread {
            address: thread,
            managed_id,
            os_id,
            state: space.read_u32(thread.wrapping_add(t.state)).ok(),
            alloc_context,
            last_thrown_handle: space.read_ptr(thread.wrapping_add(t.last_thrown_object)).unwrap_or(0),
        });
        link = match space.read_ptr(link) {
            Ok(l) => l,
            Err(e) => {
                lost(&threads, format!("cannot read the link at {link:#x}: {e}"));
                break;
            }
        };
    }
    threads
}

/// A `gc_alloc_context` at `addr` (`alloc_ptr`, `alloc_limit`), when readable and non-empty.
pub fn read_alloc_context(rt: &Runtime, addr: u64) -> Option<(u64, u64)> {
    let c = &rt.layout.alloc_context;
    let ptr = rt.space.read_ptr(addr.wrapping_add(c.pointer)).ok()?;
    let limit = rt.space.read_ptr(addr.wrapping_add(c.limit)).ok()?;
    (ptr != 0 && ptr < limit).then_some((ptr, limit))
}

/// A thread's thread-static storage as the GC reports it: the slot of its `ThreadLocalData`
/// that holds the `Object[]` of its (non-collectible) thread statics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadStaticsRoot {
    pub os_thread_id: u32,
    /// The `Thread*`.
    pub thread: u64,
    /// `&ThreadLocalData.pNonCollectibleTlsArrayData`.
    pub slot: u64,
    /// The array.
    pub object: u64,
}

/// The thread-static roots of `threads` (9 and 10: `ScanThreadStaticRoots`; none on 8,
/// whose thread statics sit behind strong handles). A thread whose `ThreadLocalData` does
/// not point back at it (a dead thread's freed data) has none; one that cannot be read
/// gives a warning.
pub fn thread_statics_roots(rt: &Runtime, threads: &[ManagedThread]) -> (Vec<ThreadStaticsRoot>, Vec<String>) {
    let mut roots = Vec::new();
    let mut warnings = Vec::new();
    let Some(local_data) = rt.layout.thread.local_data else {
        return (roots, warnings);
    };
    let space = &*rt.space;
    let ts = rt.layout.thread_statics;
    for t in threads {
        let data = match space.read_ptr(t.address.wrapping_add(local_data)) {
            Ok(0) => continue,
            Ok(d) => d,
            Err(e) => {
                warnings.push(format!("thread {:x}: cannot read its ThreadLocalData pointer: {e}", t.os_id));
                continue;
            }
        };
        let back = space.read_ptr(data.wrapping_add(ts.thread));
        let slot = data.wrapping_add(ts.non_collectible_array);
        match (back, space.read_ptr(slot)) {
            (Ok(b), Ok(object)) if b == t.address => {
                if object != 0 {
                    roots.push(ThreadStaticsRoot { os_thread_id: t.os_id, thread: t.address, slot, object });
                }
            }
            (Ok(_), Ok(_)) => {} // freed: the data belongs to no thread or to another one
            (Err(e), _) | (_, Err(e)) => {
                warnings.push(format!("thread {:x}: cannot read its ThreadLocalData at {data:#x}: {e}", t.os_id))
            }
        }
    }
    (roots, warnings)
}

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
use anyhow::{Context, Result};
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
        let alloc_context = alloc_context_address(rt, thread).and_then(|a| read_alloc_context(rt, a));
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

/// Where a thread's `gc_alloc_context` is, when it has one.
pub fn alloc_context_address(rt: &Runtime, thread: u64) -> Option<u64> {
    match rt.layout.thread.alloc_context {
        AllocContextPlace::Inline(off) => Some(thread.wrapping_add(off)),
        AllocContextPlace::Indirect { pointer, context, gc_context } => match rt.space.read_ptr(thread.wrapping_add(pointer)) {
            Ok(0) | Err(_) => None,
            Ok(block) => Some(block.wrapping_add(context).wrapping_add(gc_context)),
        },
    }
}

/// A `gc_alloc_context` at `addr` (`alloc_ptr`, `alloc_limit`), when readable and non-empty.
pub fn read_alloc_context(rt: &Runtime, addr: u64) -> Option<(u64, u64)> {
    let c = &rt.layout.alloc_context;
    let ptr = rt.space.read_ptr(addr.wrapping_add(c.pointer)).ok()?;
    let limit = rt.space.read_ptr(addr.wrapping_add(c.limit)).ok()?;
    (ptr != 0 && ptr < limit).then_some((ptr, limit))
}

/// The `ThreadStore`'s counters, as `clrthreads` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadStoreCounts {
    pub threads: i32,
    pub unstarted: i32,
    pub background: i32,
    pub pending: i32,
    pub dead: i32,
}

/// Reads the `ThreadStore`'s five counters.
pub fn thread_store_counts(rt: &Runtime) -> Result<ThreadStoreCounts> {
    let store = rt.globals.thread_store;
    if store == 0 {
        return Ok(ThreadStoreCounts::default());
    }
    let (count, rest) = rt.layout.thread.store_counts;
    let n = |off: u64| -> Result<i32> {
        rt.space
            .read_i32(store.wrapping_add(off))
            .context("cannot read the ThreadStore's counters")
    };
    Ok(ThreadStoreCounts {
        threads: n(count)?,
        unstarted: n(rest)?,
        background: n(rest + 4)?,
        pending: n(rest + 8)?,
        dead: n(rest + 12)?,
    })
}

/// `Thread.m_State` bits clrheap looks at.
pub mod state {
    /// The thread is a thread-pool worker.
    pub const TP_WORKER: u32 = 0x0100_0000;
    /// The thread is a thread-pool I/O completion thread.
    pub const COMPLETION_PORT: u32 = 0x0800_0000;
    pub const BACKGROUND: u32 = 0x200;
    pub const UNSTARTED: u32 = 0x400;
    pub const DEAD: u32 = 0x800;
}

/// What `clrthreads` shows of a thread beyond its ids and allocation context.
#[derive(Debug, Clone, Default)]
pub struct ThreadDetails {
    /// `Thread.m_State`.
    pub state: u32,
    /// The thread runs managed code that the GC must wait for (cooperative mode).
    pub cooperative: bool,
    /// The last exception thrown on the thread (the object its handle holds), or 0.
    pub last_thrown: u64,
    /// The thread is the finalizer thread.
    pub is_finalizer: bool,
    /// The thread is suspending the runtime for a GC.
    pub is_gc: bool,
    /// `alloc_ptr` and `alloc_limit` of its allocation context as they are (0 when it has none).
    pub alloc_context: (u64, u64),
}

/// Reads a thread's state, GC mode and last thrown exception.
pub fn thread_details(rt: &Runtime, thread: &ManagedThread) -> Result<ThreadDetails> {
    let space = &*rt.space;
    let t = &rt.layout.thread;
    let at = |off: u64| thread.address.wrapping_add(off);
    let handle = space.read_ptr(at(t.last_thrown_object)).unwrap_or(0);
    let last_thrown = if handle == 0 { 0 } else { space.read_ptr(handle).unwrap_or(0) };
    let gc_thread = rt.dac_global(rt.layout.dac.gc_thread).ok().and_then(|p| space.read_ptr(p).ok()).unwrap_or(0);
    Ok(ThreadDetails {
        state: space.read_u32(at(t.state)).context("cannot read the thread's state")?,
        cooperative: space.read_u32(at(t.preemptive_gc_disabled))? == 1,
        last_thrown,
        is_finalizer: thread.address == rt.globals.finalizer_thread,
        is_gc: gc_thread != 0 && thread.address == gc_thread,
        alloc_context: alloc_context_address(rt, thread.address)
            .map(|a| {
                let c = &rt.layout.alloc_context;
                (
                    space.read_ptr(a.wrapping_add(c.pointer)).unwrap_or(0),
                    space.read_ptr(a.wrapping_add(c.limit)).unwrap_or(0),
                )
            })
            .unwrap_or((0, 0)),
    })
}

/// The process's one `AppDomain*` (what `clrthreads` prints as every thread's domain).
pub fn app_domain(rt: &Runtime) -> u64 {
    let space = &*rt.space;
    rt.dac_global(rt.layout.dac.app_domain).ok().and_then(|p| space.read_ptr(p).ok()).unwrap_or(0)
}

/// Most nested exceptions followed on one thread.
const MAX_NESTED: usize = 1024;

/// The exceptions nested under the one a thread is handling (the exception trackers before
/// its current one), innermost first: each thrown object (0 when its handle is empty).
pub fn nested_exceptions(rt: &Runtime, thread: &ManagedThread) -> Vec<u64> {
    let space = &*rt.space;
    let Some(off) = rt.layout.thread.exception_tracker else { return Vec::new() };
    let Ok(current) = space.read_ptr(thread.address.wrapping_add(off)) else { return Vec::new() };
    if current == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut info = space.read_ptr(current).unwrap_or(0);
    while info != 0 && out.len() < MAX_NESTED {
        let handle = space.read_ptr(info.wrapping_add(8)).unwrap_or(0);
        out.push(if handle == 0 { 0 } else { space.read_ptr(handle).unwrap_or(0) });
        let next = space.read_ptr(info).unwrap_or(0);
        if next == info {
            break;
        }
        info = next;
    }
    out
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

/// Most in-flight thread-static entries followed on one thread.
const MAX_IN_FLIGHT: usize = 4096;

/// Where a type's thread statics of one kind (its `TLSIndex`, raw) start on a thread (9
/// and 10, as the runtime's `GetThreadLocalStaticBaseNoCreate` finds them): the index's
/// entry of the thread's non-collectible array (offset - 2), of its collectible array (a
/// handle), or the `ThreadLocalData` itself plus the offset (`DirectOnThreadLocalData`);
/// when that is empty, the thread's in-flight entry for the index (a handle). `None` when
/// the thread has none (or its `ThreadLocalData` no longer points back at it).
pub fn thread_static_base(rt: &Runtime, thread: u64, raw_index: u32) -> Result<Option<u64>> {
    use super::layouts::{TLS_INDEX_ARRAY_BASE, TLS_INDEX_OFFSET_MASK, TLS_INDEX_TYPE_SHIFT};
    let Some(local_data) = rt.layout.thread.local_data else { return Ok(None) };
    if raw_index == u32::MAX {
        return Ok(None);
    }
    let space = &*rt.space;
    let ts = rt.layout.thread_statics;
    let data = space.read_ptr(thread.wrapping_add(local_data))?;
    if data == 0 || space.read_ptr(data.wrapping_add(ts.thread))? != thread {
        return Ok(None);
    }
    let offset = raw_index & TLS_INDEX_OFFSET_MASK;
    let handle_target = |handle: u64| -> Result<u64> { if handle == 0 { Ok(0) } else { Ok(space.read_ptr(handle)?) } };
    let base = match raw_index >> TLS_INDEX_TYPE_SHIFT {
        0 => {
            let count = space.read_u32(data.wrapping_add(ts.non_collectible_count))?;
            let array = space.read_ptr(data.wrapping_add(ts.non_collectible_array))?;
            match offset.checked_sub(TLS_INDEX_ARRAY_BASE) {
                Some(entry) if offset < count && array != 0 => {
                    space.read_ptr(array.wrapping_add(rt.layout.object.array_data).wrapping_add(8 * u64::from(entry)))?
                }
                _ => 0,
            }
        }
        1 => {
            let count = space.read_u32(data.wrapping_add(ts.collectible_count))?;
            let array = space.read_ptr(data.wrapping_add(ts.collectible_array))?;
            if offset < count && array != 0 {
                handle_target(space.read_ptr(array.wrapping_add(8 * u64::from(offset)))?)?
            } else {
                0
            }
        }
        2 => return Ok(Some(data.wrapping_add(u64::from(offset)))),
        kind => anyhow::bail!("thread {thread:x}: thread-static index {raw_index:#x} of unknown kind {kind}"),
    };
    if base != 0 {
        return Ok(Some(base));
    }
    let mut node = space.read_ptr(data.wrapping_add(ts.in_flight))?;
    let mut seen = std::collections::HashSet::new();
    while node != 0 && seen.insert(node) {
        if seen.len() > MAX_IN_FLIGHT {
            anyhow::bail!("thread {thread:x}: more than {MAX_IN_FLIGHT} in-flight thread-static entries");
        }
        if space.read_u32(node.wrapping_add(ts.in_flight_index))? == raw_index {
            let target = handle_target(space.read_ptr(node.wrapping_add(ts.in_flight_data))?)?;
            return Ok((target != 0).then_some(target));
        }
        node = space.read_ptr(node.wrapping_add(ts.in_flight_next))?;
    }
    Ok(None)
}

/// `(name, size in bytes, value)` of each x64 register as dotnet-dump sees a thread's
/// context: through ClrMD's copy of the `NT_PRSTATUS` note into a Windows `CONTEXT`, in
/// that structure's order (segment registers, `eflags`, general registers, `rip`). That
/// copy leaves `es` and `eflags` at 0, and reads the note's `r8` and `r9` slots the other
/// way round (its register set declares R8 before R9, the kernel's `user_regs_struct` R9
/// first): the values given as r8 and r9 are the thread's r9 and r8. `registers` prints
/// this, `dumpstackobjects` scans it.
pub fn sos_registers(t: &crate::dump::ThreadRegisters) -> Vec<(&'static str, u8, u64)> {
    // user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi
    // orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs
    let r = &t.regs;
    vec![
        ("cs", 2, r[17] & 0xffff),
        ("ds", 2, r[23] & 0xffff),
        ("es", 2, 0),
        ("fs", 2, r[25] & 0xffff),
        ("gs", 2, r[26] & 0xffff),
        ("ss", 2, r[20] & 0xffff),
        ("eflags", 4, 0),
        ("rax", 8, r[10]),
        ("rcx", 8, r[11]),
        ("rdx", 8, r[12]),
        ("rbx", 8, r[5]),
        ("rsp", 8, r[19]),
        ("rbp", 8, r[4]),
        ("rsi", 8, r[13]),
        ("rdi", 8, r[14]),
        ("r8", 8, r[8]),
        ("r9", 8, r[9]),
        ("r10", 8, r[7]),
        ("r11", 8, r[6]),
        ("r12", 8, r[3]),
        ("r13", 8, r[2]),
        ("r14", 8, r[1]),
        ("r15", 8, r[0]),
        ("rip", 8, r[16]),
    ]
}


/// Most entries of a .NET 8 thread's `ThreadLocalModule` table read (one per module index).
const MAX_TLM_TABLE: u64 = 1 << 16;

/// .NET 8: the GC thread-static block of module `module` on each of `threads` that
/// initialized the thread statics of the module's class `class_index` (its TypeDef's RID
/// - 1), as `(OS thread id, the block: the data of the module's thread-static
/// Object[], its length)`, in `threads`' order (empty on 9 and 10). A thread without a
/// `ThreadLocalModule` for the module has none; one whose table cannot be read gives a
/// warning.
pub fn module_thread_gc_statics(
    rt: &Runtime,
    threads: &[ManagedThread],
    module: u64,
    class_index: u32,
) -> (Vec<(u32, u64, u64)>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let Some(tlb) = rt.layout.thread_statics.local_block else {
        return (out, warnings);
    };
    let space = &*rt.space;
    let index = match space.read_ptr(module.wrapping_add(tlb.module_index)) {
        Ok(i) => i,
        Err(e) => {
            warnings.push(format!("module {module:x}: cannot read its module index: {e}"));
            return (out, warnings);
        }
    };
    let o = &rt.layout.object;
    for t in threads {
        let read = || -> Result<Option<(u64, u64)>, String> {
            let table = space.read_ptr(t.address.wrapping_add(tlb.table)).map_err(|e| e.to_string())?;
            let size = space.read_ptr(t.address.wrapping_add(tlb.table_size)).map_err(|e| e.to_string())?;
            if table == 0 || index >= size.min(MAX_TLM_TABLE) {
                return Ok(None);
            }
            let tlm = space.read_ptr(table.wrapping_add(index.wrapping_mul(8))).map_err(|e| e.to_string())?;
            if tlm == 0 {
                return Ok(None);
            }
            let flags = space.read_u8(tlm.wrapping_add(tlb.class_flags).wrapping_add(u64::from(class_index))).map_err(|e| e.to_string())?;
            if flags & 1 == 0 {
                return Ok(None);
            }
            let handle = space.read_ptr(tlm.wrapping_add(tlb.gc_statics_handle)).map_err(|e| e.to_string())?;
            if handle == 0 {
                return Ok(None);
            }
            let array = space.read_ptr(handle).map_err(|e| e.to_string())?;
            if array == 0 {
                return Ok(None);
            }
            let length = u64::from(space.read_u32(array.wrapping_add(o.array_length)).map_err(|e| e.to_string())?);
            Ok(Some((array.wrapping_add(o.array_data), length)))
        };
        match read() {
            Ok(Some((data, length))) => out.push((t.os_id, data, length)),
            Ok(None) => {}
            Err(e) => warnings.push(format!("thread {:x}: cannot read its thread statics of module {module:x}: {e}", t.os_id)),
        }
    }
    (out, warnings)
}

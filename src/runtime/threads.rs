//! Managed threads: the `ThreadStore`'s list of `Thread` objects.
//!
//! The heap walk needs each thread's allocation context (the unparsed window of gen0 it
//! allocates into); roots and `clrthreads` need ids. Offsets per version are in
//! [`super::layouts::ThreadLayout`].
use super::layouts::AllocContextPlace;
use super::Runtime;
use anyhow::{bail, Context, Result};

/// More threads than this means a corrupt list.
const MAX_THREADS: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct ManagedThread {
    pub address: u64,
    pub managed_id: u32,
    pub os_id: u32,
    /// `[alloc_ptr, alloc_limit)`, when the thread has a non-empty allocation context.
    pub alloc_context: Option<(u64, u64)>,
}

/// Reads every thread in the `ThreadStore`, in list order.
pub fn read_threads(rt: &Runtime) -> Result<Vec<ManagedThread>> {
    let space = &*rt.space;
    let t = &rt.layout.thread;
    if rt.globals.thread_store == 0 {
        return Ok(Vec::new());
    }
    let head = rt.globals.thread_store.wrapping_add(t.first_link);
    let mut link = space.read_ptr(head).context("cannot read the thread list")?;
    let mut threads = Vec::new();
    while link != 0 && link != head {
        if threads.len() >= MAX_THREADS {
            bail!("the thread list does not end (a loop?)");
        }
        let thread = link.wrapping_sub(t.link);
        let alloc_context = alloc_context_address(rt, thread).and_then(|a| read_alloc_context(rt, a));
        threads.push(ManagedThread {
            address: thread,
            managed_id: space.read_u32(thread.wrapping_add(t.managed_id))?,
            os_id: space.read_u32(thread.wrapping_add(t.os_id))?,
            alloc_context,
        });
        link = space
            .read_ptr(link)
            .with_context(|| format!("cannot read the thread list link at {link:#x}"))?;
    }
    Ok(threads)
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


//! The sync block table: `g_pSyncTable`'s entries (an object and its SyncBlock) and the
//! monitor each SyncBlock holds, as the DAC's `GetSyncBlockData` reports them for SOS's
//! `syncblk`. Offsets per version are in [`super::layouts::SyncBlockLayout`].
use super::layouts::{LockHolder, AWARE_LOCK_HOLDER, AWARE_LOCK_RECURSION, AWARE_LOCK_STATE};
use super::threads::ManagedThread;
use super::Runtime;
use anyhow::{bail, Context, Result};

/// More table entries than this means a corrupt count.
pub const MAX_SYNC_BLOCKS: u32 = 1 << 26;

/// One entry of the sync block table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncBlockEntry {
    pub index: u32,
    /// A recycled entry (its object field links the free list).
    pub free: bool,
    pub object: u64,
    /// The SyncBlock (0 for a free entry or an entry without one).
    pub sync_block: u64,
    /// 1 if the monitor is held, plus 2 per thread waiting to enter it.
    pub monitor_held: u32,
    pub recursion: u32,
    /// The owning `Thread*` (0 when none).
    pub holding_thread: u64,
}

/// The number of sync block table entries in use (entry 1 up to this one).
pub fn sync_block_count(rt: &Runtime) -> Result<u32> {
    let l = &rt.layout.sync_block;
    let space = &rt.space;
    let var = rt.dac_global(l.cache).context("cannot read g_dacTable's SyncBlockCache entry")?;
    let cache = space.read_ptr(var).context("cannot read SyncBlockCache::s_pSyncBlockCache")?;
    if cache == 0 {
        return Ok(0);
    }
    let free_index = space
        .read_u32(cache.wrapping_add(l.cache_free_index))
        .context("cannot read the SyncBlockCache")?;
    let size = space.read_u32(cache.wrapping_add(l.cache_table_size)).unwrap_or(u32::MAX);
    let count = free_index.saturating_sub(1);
    if count > MAX_SYNC_BLOCKS || (size != 0 && free_index > size) {
        bail!("the sync block table's size is not plausible ({free_index} entries used of {size})");
    }
    Ok(count)
}

/// Entry `index` of the sync block table (1-based). `threads` resolve a lock owner given
/// by managed thread id (.NET 10) to its `Thread*`.
pub fn sync_block(rt: &Runtime, threads: &[ManagedThread], index: u32) -> Result<SyncBlockEntry> {
    let space = &rt.space;
    if rt.globals.sync_table == 0 {
        bail!("the runtime has no sync block table");
    }
    let l = &rt.layout.sync_block;
    let entry = rt.globals.sync_table.wrapping_add(l.entry_size.wrapping_mul(index as u64));
    let sync_block = space.read_ptr(entry.wrapping_add(l.entry_sync_block))?;
    let object = space.read_ptr(entry.wrapping_add(l.entry_object))?;
    let mut e = SyncBlockEntry { index, ..Default::default() };
    if object & 1 != 0 {
        e.free = true;
        return Ok(e);
    }
    e.object = object;
    if sync_block == 0 {
        return Ok(e);
    }
    e.sync_block = sync_block;
    let state = space.read_u32(sync_block.wrapping_add(AWARE_LOCK_STATE))?;
    e.monitor_held = (state & 1).wrapping_add((state >> 6) << 1);
    e.recursion = space.read_u32(sync_block.wrapping_add(AWARE_LOCK_RECURSION))?;
    e.holding_thread = match rt.layout.sync_block.holder {
        LockHolder::ThreadPointer => space.read_ptr(sync_block.wrapping_add(AWARE_LOCK_HOLDER))?,
        LockHolder::ManagedThreadId => {
            let id = space.read_u32(sync_block.wrapping_add(AWARE_LOCK_HOLDER))?;
            match id {
                0 => 0,
                id => threads.iter().find(|t| t.managed_id == id).map_or(0, |t| t.address),
            }
        }
    };
    Ok(e)
}

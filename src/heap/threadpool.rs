//! The managed thread pool's state, as ClrMD's `ClrThreadPool` reads it on .NET 8 and
//! later: the portable pool's instance (`PortableThreadPool.ThreadPoolInstance`), its
//! CPU utilization, limits and packed thread counts (`_separated.counts._data.m_value`:
//! threads processing work in bits 0-15, existing threads in bits 16-31).
use crate::heap::Heap;
use anyhow::{bail, Result};

/// The portable thread pool's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadPoolInfo {
    pub cpu_utilization: i32,
    pub min_threads: u16,
    pub max_threads: u16,
    /// Threads processing work items.
    pub active: u16,
    /// Existing threads not processing any.
    pub idle: i32,
}

impl Heap {
    /// The portable thread pool, or None when the process has none (not created yet).
    pub fn thread_pool(&self) -> Result<Option<ThreadPoolInfo>> {
        let Some(mt) = self.core_type("System.Threading.PortableThreadPool") else {
            return Ok(None);
        };
        let pool = match self.read_static_object(mt, "ThreadPoolInstance") {
            Ok(p) => p,
            Err(_) => return Ok(None),
        };
        if pool == 0 || self.valid_object_mt(pool).is_none() {
            return Ok(None);
        }
        let space = self.space();
        let pool_mt = self.object_mt(pool)?;
        let mut at = self.field_addr(pool, "_separated")?;
        let mut ty = self.instance_field(pool_mt, "_separated")?;
        for name in ["counts", "_data"] {
            let Some(struct_mt) = self.field_type_mt(&ty) else {
                bail!("the type of PortableThreadPool's {name} holder is not loaded");
            };
            ty = self.instance_field(struct_mt, name)?;
            at = at.wrapping_add(ty.offset as u64);
        }
        let Some(data_mt) = self.field_type_mt(&ty) else {
            bail!("the type of PortableThreadPool's thread counts is not loaded");
        };
        let value = space.read_u64(self.struct_field_addr(at, data_mt, "m_value")?)?;
        let processing = (value & 0xffff) as u16;
        let existing = ((value >> 16) & 0xffff) as u16;
        Ok(Some(ThreadPoolInfo {
            cpu_utilization: self.read_i32_field(pool, "_cpuUtilization")?,
            min_threads: space.read_u16(self.field_addr(pool, "_minThreads")?)?,
            max_threads: space.read_u16(self.field_addr(pool, "_maxThreads")?)?,
            active: processing,
            idle: existing as i32 - processing as i32,
        }))
    }
}

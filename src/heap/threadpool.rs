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

/// What a queued thread pool work item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkItemKind {
    /// A `System.Threading.Tasks.Task` (exactly that type).
    Task,
    /// A `QueueUserWorkItemCallback` (or its default-context variant).
    Work,
    /// Anything else (a `Task<T>`, an `IThreadPoolWorkItem`): shown by its type name.
    Raw,
}

/// A queued work item, named as dotnet-dump's `threadpoolqueue` names it.
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub address: u64,
    pub kind: WorkItemKind,
    /// The method it runs (`Type.Method`, `(Target)Type.Method`), or for a raw item its
    /// type name; may be empty when the method cannot be found.
    pub name: String,
}

/// The thread pool's queues: the global one (the first `ThreadPoolWorkQueue` on the
/// heap, its `workItems` ConcurrentQueue) and every `WorkStealingQueue`'s `m_array`.
#[derive(Debug, Clone, Default)]
pub struct WorkQueues {
    pub global: Vec<WorkItem>,
    pub local: Vec<WorkItem>,
}

impl Heap {
    /// The queued work items, as dotnet-dump's `threadpoolqueue` finds them (walking the
    /// heap), and the walk's warnings.
    pub fn thread_pool_queues(&self) -> Result<(WorkQueues, Vec<crate::heap::WalkWarning>)> {
        let mut queues = WorkQueues::default();
        let (objects, warnings) = self.objects();
        let global_mt = self.core_type("System.Threading.ThreadPoolWorkQueue");
        let local_mt = self.core_type("System.Threading.ThreadPoolWorkQueue+WorkStealingQueue");
        if let Some(q) = objects.iter().find(|o| Some(o.mt) == global_mt) {
            let items = self.read_object_field(q.address, "workItems")?;
            let mut segment = if items == 0 { 0 } else { self.read_object_field(items, "_head")? };
            let mut n = 0usize;
            while segment != 0 && self.valid_object_mt(segment).is_some() {
                n += 1;
                if n > crate::heap::managed::MAX_CHAIN {
                    bail!("the thread pool's global queue does not end");
                }
                let slots = self.array(self.read_object_field(segment, "_slots")?)?;
                let item = self.instance_field(slots.component_mt, "Item")?;
                for i in 0..slots.length {
                    let obj = self.space().read_ptr(slots.element(i).wrapping_add(item.offset as u64))?;
                    if obj != 0 {
                        queues.global.push(self.work_item(obj)?);
                    }
                }
                segment = self.read_object_field(segment, "_nextSegment")?;
            }
        }
        for o in objects.iter().filter(|o| Some(o.mt) == local_mt) {
            let array = self.read_object_field(o.address, "m_array")?;
            if array == 0 {
                continue;
            }
            let array = self.array(array)?;
            for i in 0..array.length {
                let obj = self.space().read_ptr(array.element(i))?;
                if self.valid_object_mt(obj).is_some() {
                    queues.local.push(self.work_item(obj)?);
                }
            }
        }
        Ok((queues, warnings))
    }

    fn work_item(&self, obj: u64) -> Result<WorkItem> {
        let mt = self.object_mt(obj)?;
        let type_name = self.type_name(mt);
        let (kind, name) = match &*type_name {
            "System.Threading.Tasks.Task" => (WorkItemKind::Task, self.task_work_name(obj)?),
            "System.Threading.QueueUserWorkItemCallback" | "System.Threading.QueueUserWorkItemCallbackDefaultContext" => {
                (WorkItemKind::Work, self.callback_work_name(obj, mt)?)
            }
            _ => (WorkItemKind::Raw, type_name.to_string()),
        };
        Ok(WorkItem { address: obj, kind, name })
    }

    fn task_work_name(&self, task: u64) -> Result<String> {
        let action = self.read_object_field(task, "m_action")?;
        if self.valid_object_mt(action).is_none() {
            return Ok(" [no action]".into());
        }
        let target = self.read_object_field(action, "_target")?;
        let Some(target_mt) = self.valid_object_mt(target) else {
            return Ok(" [no target]".into());
        };
        let mut name = self.delegate_method_name(&self.type_name(target_mt), action)?;
        let scheduler = self.read_object_field(task, "m_taskScheduler")?;
        if let Some(smt) = self.valid_object_mt(scheduler) {
            let s = self.type_name(smt);
            if &*s != "System.Threading.Tasks.ThreadPoolTaskScheduler" {
                name = format!("{name} [{s}]");
            }
        }
        Ok(name)
    }

    fn callback_work_name(&self, item: u64, mt: u64) -> Result<String> {
        let callback = if self.has_instance_field(mt, "_callback") {
            self.read_object_field(item, "_callback")?
        } else if self.has_instance_field(mt, "callback") {
            self.read_object_field(item, "callback")?
        } else {
            return Ok("[no callback]".into());
        };
        let target = if callback == 0 { 0 } else { self.read_object_field(callback, "_target")? };
        let Some(target_mt) = self.valid_object_mt(target) else {
            return Ok("[no callback target]".into());
        };
        self.delegate_method_name(&self.type_name(target_mt), callback)
    }

    /// A delegate's method as `threadpoolqueue` names it, given its target's type name.
    fn delegate_method_name(&self, target_type: &str, delegate: u64) -> Result<String> {
        let ptr = self.read_u64_field(delegate, "_methodPtr")?;
        if ptr == 0 {
            return Ok(String::new());
        }
        let method = match self.method_at(ptr) {
            Some(m) => Some(m),
            None => self.method_at(self.read_u64_field(delegate, "_methodPtrAux")?),
        };
        let Some(m) = method else { return Ok(String::new()) };
        let method_type = self.type_name(m.mt);
        Ok(if &*method_type == target_type {
            format!("{target_type}.{}", m.name)
        } else if target_type == "System.Threading.WaitCallback" || target_type.starts_with("System.Action<") {
            format!("{method_type}.{}", m.name)
        } else {
            format!("({target_type}){method_type}.{}", m.name)
        })
    }
}

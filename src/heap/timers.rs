//! The process's timers: `System.Threading.TimerQueue` objects (one per CPU on .NET Core
//! 3.0 and later) and their `TimerQueueTimer` lists, short timers first, then long ones
//! (what `timerinfo` lists). Queues are found the way dotnet-dump finds them, by walking
//! the heap for objects of that type.
use crate::heap::managed::MAX_CHAIN;
use crate::heap::{Heap, WalkWarning};
use anyhow::{bail, Result};

/// One `TimerQueueTimer`.
#[derive(Debug, Clone)]
pub struct TimerInfo {
    pub address: u64,
    /// From the short-timer list (true) or the long-timer one.
    pub short: bool,
    /// Milliseconds (`_dueTime`).
    pub due_time: u32,
    /// Milliseconds, `u32::MAX` for a one-shot timer (`_period`).
    pub period: u32,
    pub canceled: bool,
    /// `_state` (0 when null).
    pub state: u64,
    /// Its type's name (empty for null).
    pub state_type: String,
    pub callback: Callback,
}

/// What a timer calls.
#[derive(Debug, Clone)]
pub enum Callback {
    /// No callback object.
    None,
    /// A `TimerCallback`: the type of its target (or of the method, for a static one)
    /// and the method's name, when its code address names a method.
    Method { type_name: String, method: String },
    /// A `TimerCallback` whose code address is a stub (no method found).
    Unresolved,
    /// A callback of another delegate type.
    Other(String),
}

impl Heap {
    /// Every timer of every TimerQueue, queues in heap order; and the heap walk's
    /// warnings.
    pub fn timers(&self) -> Result<(Vec<TimerInfo>, Vec<WalkWarning>)> {
        let Some(queue_mt) = self.core_type("System.Threading.TimerQueue") else {
            return Ok((Vec::new(), Vec::new()));
        };
        let (queues, warnings) = self.objects_of_type(queue_mt);
        let mut timers = Vec::new();
        for q in queues {
            for (field, short) in [("_shortTimers", true), ("_longTimers", false)] {
                let mut t = self.read_object_field(q, field)?;
                let mut n = 0usize;
                while t != 0 {
                    n += 1;
                    if n > MAX_CHAIN {
                        bail!("the timer list of TimerQueue {q:x} does not end");
                    }
                    timers.push(self.timer(t, short)?);
                    t = self.read_object_field(t, "_next")?;
                }
            }
        }
        Ok((timers, warnings))
    }

    fn timer(&self, t: u64, short: bool) -> Result<TimerInfo> {
        let state = self.read_object_field(t, "_state")?;
        let state_type = match self.valid_object_mt(state) {
            Some(mt) => self.type_name(mt).to_string(),
            None => String::new(),
        };
        let cb = self.read_object_field(t, "_timerCallback")?;
        let callback = match self.valid_object_mt(cb) {
            None => Callback::None,
            Some(mt) if &*self.type_name(mt) == "System.Threading.TimerCallback" => {
                let ptr = self.read_u64_field(cb, "_methodPtr")?;
                match (ptr != 0).then(|| self.method_at(ptr)).flatten() {
                    None => Callback::Unresolved,
                    Some(m) => {
                        let target = self.read_object_field(cb, "_target")?;
                        let type_name = match self.valid_object_mt(target) {
                            Some(tmt) => self.type_name(tmt).to_string(),
                            None => self.type_name(m.mt).to_string(),
                        };
                        Callback::Method { type_name, method: m.name }
                    }
                }
            }
            Some(mt) => Callback::Other(self.type_name(mt).to_string()),
        };
        Ok(TimerInfo {
            address: t,
            short,
            due_time: self.read_i32_field(t, "_dueTime")? as u32,
            period: self.read_i32_field(t, "_period")? as u32,
            canceled: self.read_bool_field(t, "_canceled")?,
            state,
            state_type,
            callback,
        })
    }
}

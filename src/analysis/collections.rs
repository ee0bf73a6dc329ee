//! Collections as their users see them: how many entries, how much room, what types.
//! Recognised by name (the framework's own types), read through their fields.
use super::Context;
use super::names::{generic_arguments, generic_definition, short_type_name};
use crate::graph::ObjectId;

/// The collections recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dictionary,
    HashSet,
    List,
    Queue,
    Stack,
    ConcurrentDictionary,
    Hashtable,
    ArrayList,
}

impl Kind {
    pub fn of(name: &str) -> Option<Kind> {
        if name.ends_with(']') || name.contains('+') && !name.ends_with('>') {
            return None;
        }
        Some(match generic_definition(name) {
            "System.Collections.Generic.Dictionary" => Kind::Dictionary,
            "System.Collections.Generic.HashSet" => Kind::HashSet,
            "System.Collections.Generic.List" => Kind::List,
            "System.Collections.Generic.Queue" => Kind::Queue,
            "System.Collections.Generic.Stack" => Kind::Stack,
            "System.Collections.Concurrent.ConcurrentDictionary" => Kind::ConcurrentDictionary,
            "System.Collections.Hashtable" => Kind::Hashtable,
            "System.Collections.ArrayList" => Kind::ArrayList,
            _ => return None,
        })
    }
}

/// One collection's state.
#[derive(Debug, Clone)]
pub struct Collection {
    pub kind: Kind,
    /// Entries in use.
    pub count: u64,
    /// Room for entries (its storage array's length).
    pub capacity: u64,
    /// The storage array (entries or buckets).
    pub storage: Option<ObjectId>,
}

/// Reads collection `id` (`None` when it is not one, or its fields cannot be read).
pub fn read(ctx: &Context, id: ObjectId) -> Option<Collection> {
    let kind = ctx.facts(id).collection?;
    let nonneg = |v: i64| u64::try_from(v).unwrap_or(0);
    let (count, storage) = match kind {
        Kind::Dictionary | Kind::HashSet => {
            let count = ctx
                .int_field(id, "_count")?
                .saturating_sub(ctx.int_field(id, "_freeCount").unwrap_or(0));
            (nonneg(count), ctx.ref_field(id, "_entries"))
        }
        Kind::List | Kind::ArrayList => (
            nonneg(ctx.int_field(id, "_size")?),
            ctx.ref_field(id, "_items"),
        ),
        Kind::Queue | Kind::Stack => (
            nonneg(ctx.int_field(id, "_size")?),
            ctx.ref_field(id, "_array"),
        ),
        Kind::Hashtable => (
            nonneg(ctx.int_field(id, "_count")?),
            ctx.ref_field(id, "_buckets"),
        ),
        Kind::ConcurrentDictionary => {
            let tables = ctx.ref_field(id, "_tables")?;
            let per_lock = ctx.ref_field(tables, "_countPerLock")?;
            let o = ctx
                .heap
                .object(crate::heap::ObjectAddr(ctx.graph.address(per_lock)))?;
            let array = o.array().ok()?;
            let mut count = 0i64;
            for i in 0..(array.length as u64).min(1 << 16) {
                if let Some(a) = array.element_address(i)
                    && let Ok(crate::heap::Value::I4(v)) =
                        ctx.heap.read_value(array.element_type, a)
                {
                    count = count.saturating_add(v as i64);
                }
            }
            (nonneg(count), ctx.ref_field(tables, "_buckets"))
        }
    };
    let capacity = storage.and_then(|s| ctx.array_length(s)).unwrap_or(0);
    Some(Collection {
        kind,
        count,
        capacity,
        storage,
    })
}

/// "ConcurrentDictionary<String, DocumentCacheEntry>" and its key and value types.
pub fn describe_types(name: &str) -> (String, Vec<String>) {
    (
        short_type_name(name),
        generic_arguments(name)
            .iter()
            .map(|a| short_type_name(a))
            .collect(),
    )
}

//! Collections as their users see them: how many entries, how much room, what types.
//! Recognised by name (the framework's own types), read through their fields.
use super::Objects;
use super::names::{generic_arguments, generic_definition, short_type_name};
use crate::graph::ObjectId;
use crate::heap::fields::Field;

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
    ConcurrentQueue,
    ConcurrentBag,
    SortedDictionary,
    SortedSet,
    LinkedList,
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
            "System.Collections.Concurrent.ConcurrentQueue" => Kind::ConcurrentQueue,
            "System.Collections.Concurrent.ConcurrentBag" => Kind::ConcurrentBag,
            "System.Collections.Generic.SortedDictionary" => Kind::SortedDictionary,
            "System.Collections.Generic.SortedSet" => Kind::SortedSet,
            "System.Collections.Generic.LinkedList" => Kind::LinkedList,
            _ => return None,
        })
    }

    /// Whether its entries live in one array (its storage), so that room left in that
    /// array is room wasted. The others chain segments, per-thread queues or nodes.
    pub fn single_array(self) -> bool {
        !matches!(
            self,
            Kind::ConcurrentQueue
                | Kind::ConcurrentBag
                | Kind::SortedDictionary
                | Kind::SortedSet
                | Kind::LinkedList
        )
    }
}

/// Most segments or per-thread queues followed in one collection.
const MAX_CHAIN: usize = 1 << 16;

/// One collection's state.
#[derive(Debug, Clone)]
pub struct Collection {
    pub kind: Kind,
    /// Entries in use.
    pub count: u64,
    /// Room for entries: its storage array's length; for a concurrent queue or bag, the
    /// length of all its segments' or queues' arrays; for a tree or linked list, its count.
    pub capacity: u64,
    /// The storage: the array of entries or buckets; a concurrent queue's first segment's
    /// slots, a bag's first per-thread queue's array; a tree's root, a linked list's head.
    pub storage: Option<ObjectId>,
}

/// Where a collection whose entries live in one array keeps its count and that array,
/// its fields found once per type (by name, as [`read`] finds them): a scan over
/// millions of collections reads each one's fields at their offsets.
pub struct Layout {
    kind: Kind,
    count: Option<Field>,
    free: Option<Field>,
    storage: Option<Field>,
}

impl Layout {
    /// The layout of the type at `index` (`None`: not a collection read this way).
    pub fn of(objects: &Objects, index: usize) -> Option<Layout> {
        let kind = objects.type_facts(index).collection?;
        let (count, free, storage) = match kind {
            Kind::Dictionary | Kind::HashSet => ("_count", Some("_freeCount"), "_entries"),
            Kind::List | Kind::ArrayList => ("_size", None, "_items"),
            Kind::Queue | Kind::Stack => ("_size", None, "_array"),
            Kind::Hashtable => ("_count", None, "_buckets"),
            _ => return None,
        };
        Some(Layout {
            kind,
            count: objects.instance_field(index, count),
            free: free.and_then(|f| objects.instance_field(index, f)),
            storage: objects.instance_field(index, storage),
        })
    }

    /// The address of `id`'s storage array (to prefetch it).
    pub fn storage_address(&self, objects: &Objects, id: ObjectId) -> Option<u64> {
        objects.field_value(id, self.storage.as_ref()?)?.reference()
    }

    /// `id`'s entries in use (its count less its free count) and its storage array's
    /// address, its three fields read at once: `None` when the count cannot be read.
    fn count_and_storage(&self, objects: &Objects, id: ObjectId) -> Option<(i64, Option<u64>)> {
        let heap = objects.heap;
        let address = objects.graph.address(id);
        fn at(f: &Field) -> (&crate::heap::fields::FieldDesc, u64) {
            (&f.desc, f.object_offset())
        }
        let count = self.count.as_ref()?;
        // A field the type lacks reads the count's slot again (inside the bytes read
        // anyway), and its value is dropped.
        let (free, storage) = (self.free.as_ref(), self.storage.as_ref());
        let [count, f, s] = heap.read_instance_fields(address, [count, free.unwrap_or(count), storage.unwrap_or(count)].map(at));
        let (free, storage) = (f.filter(|_| free.is_some()), s.filter(|_| storage.is_some()));
        // Without a free count (not a dictionary or set), none subtracted.
        let count = super::int_value(count?)?.saturating_sub(free.and_then(super::int_value).unwrap_or(0));
        Some((count, storage.and_then(|v| v.reference())))
    }

    /// [`read`] of `id`, an object of this layout's type.
    pub fn read(&self, objects: &Objects, id: ObjectId) -> Option<Collection> {
        let (count, storage) = self.count_and_storage(objects, id)?;
        let storage = storage.and_then(|a| objects.graph.id_of(a));
        Some(Collection {
            kind: self.kind,
            count: u64::try_from(count).unwrap_or(0),
            capacity: storage.and_then(|s| objects.array_length(s)).unwrap_or(0),
            storage,
        })
    }

    /// [`Layout::read`] of `id` when what it gives passes `keep`, judged first on its
    /// count and on the length its storage array's header holds, without finding the
    /// array in the object table (most collections make no finding). `keep` must be true
    /// of every collection for which the finding's own test is, given that count and a
    /// capacity that is either that length or 0 (the storage not an array of the heap):
    /// then no collection the full read would keep is missed.
    pub fn read_kept(&self, objects: &Objects, id: ObjectId, keep: impl Fn(Kind, u64, u64) -> bool) -> Option<Collection> {
        let (count, storage) = self.count_and_storage(objects, id)?;
        let length = storage.and_then(|a| objects.heap.component_count(crate::heap::ObjectAddr(a)).ok()).unwrap_or(0);
        let count = u64::try_from(count).unwrap_or(0);
        if !keep(self.kind, count, u64::from(length)) && !keep(self.kind, count, 0) {
            return None;
        }
        self.read(objects, id)
    }
}

/// Reads collection `id` (`None` when it is not one, or its fields cannot be read).
pub fn read(ctx: &Objects, id: ObjectId) -> Option<Collection> {
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
        Kind::ConcurrentQueue => return concurrent_queue(ctx, id),
        Kind::ConcurrentBag => return concurrent_bag(ctx, id),
        Kind::SortedDictionary | Kind::SortedSet | Kind::LinkedList => {
            // A SortedDictionary keeps its pairs in a TreeSet (a SortedSet).
            let (set, root) = match kind {
                Kind::SortedDictionary => (ctx.ref_field(id, "_set")?, "root"),
                Kind::SortedSet => (id, "root"),
                _ => (id, "head"),
            };
            let count = nonneg(ctx.int_field(set, "count")?);
            return Some(Collection {
                kind,
                count,
                capacity: count,
                storage: ctx.ref_field(set, root),
            });
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

/// A ConcurrentQueue: a chain of segments (`_head` .. `_nextSegment`), each a ring of
/// `_slots` between the `Head` and `Tail` positions of its `_headAndTail`. A segment frozen
/// for enqueues has its tail moved on by twice its length, which the mask takes off again.
fn concurrent_queue(ctx: &Objects, id: ObjectId) -> Option<Collection> {
    let mut segment = ctx.ref_field(id, "_head");
    let storage = segment.and_then(|s| ctx.ref_field(s, "_slots"));
    let (mut count, mut capacity) = (0u64, 0u64);
    let mut seen = std::collections::HashSet::new();
    while let Some(s) = segment {
        if !seen.insert(s) || seen.len() > MAX_CHAIN {
            break;
        }
        let len = ctx.array_length(ctx.ref_field(s, "_slots")?)?;
        let head = ctx.struct_int_field(s, "_headAndTail", "Head")?;
        let tail = ctx.struct_int_field(s, "_headAndTail", "Tail")?;
        capacity = capacity.saturating_add(len);
        // The slots' count is a power of two: positions wrap modulo it.
        if len > 0 && len.is_power_of_two() {
            let freeze = (len as i64).saturating_mul(2);
            if head != tail && head != tail.wrapping_sub(freeze) {
                let mask = len as i64 - 1;
                let (h, t) = ((head & mask) as u64, (tail & mask) as u64);
                let n = if h < t { t - h } else { len - h + t };
                count = count.saturating_add(n);
            }
        }
        segment = ctx.ref_field(s, "_nextSegment");
    }
    Some(Collection {
        kind: Kind::ConcurrentQueue,
        count,
        capacity,
        storage,
    })
}

/// A ConcurrentBag: one work-stealing queue per thread that added to it, chained from
/// `_workStealingQueues` by `_nextQueue`, each holding the items of its `_array` between
/// `_headIndex` and `_tailIndex`.
fn concurrent_bag(ctx: &Objects, id: ObjectId) -> Option<Collection> {
    let mut queue = ctx.ref_field(id, "_workStealingQueues");
    let storage = queue.and_then(|q| ctx.ref_field(q, "_array"));
    let (mut count, mut capacity) = (0u64, 0u64);
    let mut seen = std::collections::HashSet::new();
    while let Some(q) = queue {
        if !seen.insert(q) || seen.len() > MAX_CHAIN {
            break;
        }
        let head = ctx.int_field(q, "_headIndex")?;
        let tail = ctx.int_field(q, "_tailIndex")?;
        let len = ctx
            .ref_field(q, "_array")
            .and_then(|a| ctx.array_length(a))
            .unwrap_or(0);
        capacity = capacity.saturating_add(len);
        // Never more than its array holds.
        let n = u64::try_from(tail.saturating_sub(head)).unwrap_or(0).min(len);
        count = count.saturating_add(n);
        queue = ctx.ref_field(q, "_nextQueue");
    }
    Some(Collection {
        kind: Kind::ConcurrentBag,
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

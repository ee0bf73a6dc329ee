//! The owner of a suspect: the nearest object (or static field) that holds it through a
//! named field, said as the user wrote it: `DocumentEventBus.DocumentProcessed (event,
//! EventHandler<DocumentProcessedEvent>)`, `DocumentCache._entries (static,
//! ConcurrentDictionary<String, DocumentCacheEntry>, 20,000 entries)`.
//!
//! Found by walking incoming references upwards from the suspect, breadth first (the
//! nearest holder wins, wherever the roots are): through arrays, delegates, collections and
//! their inner nodes (the framework's plumbing), to the first static field or object of
//! the application's own types. When the walk meets none within its bounds, the nearest
//! framework object holding it through a named field is the owner. Holders found at the
//! same distance through other paths are the other owners: a leak held from two places.
use super::Context;
use super::collections;
use super::names::short_type_name;
use crate::graph::ObjectId;
use crate::heap::ObjectAddr;
use crate::render::format::thousands;
use std::collections::{HashMap, VecDeque};

/// Most levels of referrers walked.
const MAX_DEPTH: usize = 16;
/// Most objects visited per search.
const MAX_VISITED: usize = 20_000;

/// Who holds a suspect.
#[derive(Debug, Clone)]
pub struct Owner {
    pub holder: Holder,
    /// The field's name (an auto-property's backing field reads as the property).
    pub field: String,
    /// The object in the field.
    pub value: ObjectId,
    /// Referrer steps from the suspect to the holder.
    pub depth: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A static field of this type (its full name).
    Static(String),
    /// An object.
    Object(ObjectId),
}

impl Owner {
    /// `Type.field` with the holder's full type name: the same owner in another dump of
    /// the same program has the same key.
    pub fn key(&self, ctx: &Context) -> String {
        format!("{}.{}", self.holder_type(ctx), self.field)
    }

    fn holder_type(&self, ctx: &Context) -> String {
        match &self.holder {
            Holder::Static(t) => t.clone(),
            Holder::Object(id) => ctx.type_name(*id).to_string(),
        }
    }

    pub fn is_static(&self) -> bool {
        matches!(self.holder, Holder::Static(_))
    }

    /// The one-phrase description (see the module's doc).
    pub fn describe(&self, ctx: &Context) -> String {
        let mut parts = Vec::new();
        if self.is_static() {
            parts.push("static".to_string());
        }
        if ctx.facts(self.value).delegate {
            parts.push("event".to_string());
        }
        parts.push(short_type_name(&ctx.type_name(self.value)));
        if let Some(c) = collections::read(ctx, self.value) {
            parts.push(format!(
                "{} {}",
                thousands(c.count),
                if c.count == 1 { "entry" } else { "entries" }
            ));
        }
        format!(
            "{}.{} ({})",
            short_type_name(&self.holder_type(ctx)),
            self.field,
            parts.join(", ")
        )
    }
}

/// An object's field name for the reference to `value` (`[i]` for an array element).
fn field_holding(ctx: &Context, holder: ObjectId, value: ObjectId) -> Option<String> {
    let graph = &ctx.graph;
    let addr = graph.address(holder);
    let desc = graph.type_of(holder).gc_desc.clone()?;
    let target = graph.address(value);
    let (slot, _) = ctx
        .heap
        .reference_slots(addr, graph.size(holder), &desc)
        .into_iter()
        .find(|&(_, v)| v == target)?;
    let obj = ctx.heap.object(ObjectAddr(addr))?;
    let field = obj.field_at_offset(slot.checked_sub(addr)?)?;
    Some(property_name(&field.name))
}

/// `<Name>k__BackingField` reads `Name`.
fn property_name(field: &str) -> String {
    match field
        .strip_prefix('<')
        .and_then(|f| f.strip_suffix(">k__BackingField"))
    {
        Some(p) => p.to_string(),
        None => field.to_string(),
    }
}

/// The static field whose slot in the statics storage `array` holds `value`.
fn static_holding(ctx: &Context, array: ObjectId, value: ObjectId) -> Option<(String, String)> {
    let graph = &ctx.graph;
    let desc = graph.type_of(array).gc_desc.clone()?;
    let target = graph.address(value);
    for (slot, v) in ctx
        .heap
        .reference_slots(graph.address(array), graph.size(array), &desc)
    {
        if v == target
            && let Some(f) = ctx.statics.field_at(slot)
        {
            return Some((
                ctx.heap.type_name(f.declaring_mt).to_string(),
                property_name(&f.name),
            ));
        }
    }
    None
}

fn is_statics_storage(ctx: &Context, id: ObjectId) -> bool {
    let a = ctx.graph.address(id);
    ctx.facts(id).array
        && ctx
            .statics
            .any_slot_in(a, a.saturating_add(ctx.graph.size(id)))
}

/// Whether an object is plumbing between an owner and what it owns: arrays, delegates,
/// collections and the framework's nested types (a dictionary's `+Entry[]`, a concurrent
/// dictionary's `+Tables`).
fn is_plumbing(ctx: &Context, id: ObjectId) -> bool {
    let f = ctx.facts(id);
    f.array || f.delegate || f.collection.is_some() || (f.framework && f.name.contains('+'))
}

/// The owners of `target`: the nearest ones (the first the owner, others at the same
/// distance holding it from elsewhere), application types and statics preferred.
pub fn owners(ctx: &Context, target: ObjectId) -> Vec<Owner> {
    let mut seen: HashMap<ObjectId, ()> = HashMap::new();
    let mut queue: VecDeque<(ObjectId, usize)> = VecDeque::new();
    queue.push_back((target, 0));
    seen.insert(target, ());
    let mut found: Vec<Owner> = Vec::new();
    let mut fallback: Option<Owner> = None;
    let mut found_depth = usize::MAX;
    while let Some((n, depth)) = queue.pop_front() {
        if depth >= MAX_DEPTH || depth > found_depth || seen.len() > MAX_VISITED {
            break;
        }
        for r in ctx.referrers(n) {
            if is_statics_storage(ctx, r) {
                if let Some((ty, field)) = static_holding(ctx, r, n) {
                    found_depth = found_depth.min(depth + 1);
                    found.push(Owner {
                        holder: Holder::Static(ty),
                        field,
                        value: n,
                        depth: depth + 1,
                    });
                }
                continue;
            }
            let facts = ctx.facts(r);
            if !facts.framework && !facts.array && !facts.delegate {
                if let Some(field) = field_holding(ctx, r, n) {
                    found_depth = found_depth.min(depth + 1);
                    found.push(Owner {
                        holder: Holder::Object(r),
                        field,
                        value: n,
                        depth: depth + 1,
                    });
                    continue;
                }
            }
            if fallback.is_none()
                && !is_plumbing(ctx, r)
                && let Some(field) = field_holding(ctx, r, n)
            {
                fallback = Some(Owner {
                    holder: Holder::Object(r),
                    field,
                    value: n,
                    depth: depth + 1,
                });
            }
            if seen.insert(r, ()).is_none() {
                queue.push_back((r, depth + 1));
            }
        }
    }
    if found.is_empty() {
        return fallback.into_iter().collect();
    }
    // One owner per holder and field.
    let mut out: Vec<Owner> = Vec::new();
    for o in found {
        if !out
            .iter()
            .any(|x| x.holder == o.holder && x.field == o.field)
        {
            out.push(o);
        }
    }
    out
}

/// The nearest owner of `target`.
pub fn owner(ctx: &Context, target: ObjectId) -> Option<Owner> {
    owners(ctx, target).into_iter().next()
}

/// The objects (or static fields) that hold `target` directly through a named field:
/// an event's publisher and event field, whatever its type. Falls back to [`owners`]
/// when only arrays or delegates hold it.
pub fn direct_holders(ctx: &Context, target: ObjectId) -> Vec<Owner> {
    let mut out: Vec<Owner> = Vec::new();
    for r in ctx.referrers(target) {
        let o = if is_statics_storage(ctx, r) {
            static_holding(ctx, r, target).map(|(ty, field)| Owner {
                holder: Holder::Static(ty),
                field,
                value: target,
                depth: 1,
            })
        } else if ctx.facts(r).array || ctx.facts(r).delegate {
            None
        } else {
            field_holding(ctx, r, target).map(|field| Owner {
                holder: Holder::Object(r),
                field,
                value: target,
                depth: 1,
            })
        };
        if let Some(o) = o
            && !out
                .iter()
                .any(|x| x.holder == o.holder && x.field == o.field)
        {
            out.push(o);
        }
    }
    if out.is_empty() {
        owners(ctx, target)
    } else {
        out
    }
}

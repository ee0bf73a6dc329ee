//! An object's references as dotnet-dump's `dumpobjgcrefs` (the helper behind `dumpobj
//! -refs`) lists them: the non-null slots in GCDesc order, each with the field that holds
//! it (`outer.inner` through struct fields; none for an array's elements), its offset
//! after the MethodTable pointer, the object it points to and that object's type.
use super::{Field, Heap, ObjectAddr};

/// How deep struct fields are followed (a damaged type could nest without end).
const MAX_NESTING: usize = 16;

/// One reference of an object.
#[derive(Debug, Clone)]
pub struct GcRef {
    /// The field path holding it; `None` for an array element (or no field at all).
    pub field: Option<String>,
    /// Offset of the slot from the first byte after the MethodTable pointer.
    pub offset: u64,
    /// What the slot holds.
    pub object: u64,
    /// That object's type name, `None` when it is no object clrheap can name.
    pub type_name: Option<String>,
}

/// The instance field of `mt` that holds `offset` (from the first byte after the
/// MethodTable pointer, or from a struct's first byte): as ClrMD chooses it, the field
/// with the largest offset not past it, the first of equals.
fn field_at(heap: &Heap, mt: u64, offset: u64) -> Option<Field> {
    let mut best: Option<Field> = None;
    for f in heap.type_fields(mt).fields.into_iter().filter(|f| !f.is_static()) {
        let at = f.desc.offset as u64;
        if at <= offset && best.as_ref().is_none_or(|b| (b.desc.offset as u64) < at) {
            best = Some(f);
        }
    }
    best
}

/// The field path naming the reference at `offset`, or `None`.
fn field_name(heap: &Heap, mt: u64, offset: u64) -> Option<String> {
    let mut field = field_at(heap, mt, offset)?;
    let mut names = vec![field.name.clone()];
    let mut rest = offset;
    for _ in 0..MAX_NESTING {
        if !field.is_value_type() {
            break;
        }
        let Some(struct_mt) = heap.field_type_mt(&field.desc) else { break };
        rest = rest.saturating_sub(field.desc.offset as u64);
        let Some(inner) = field_at(heap, struct_mt, rest) else { break };
        // A primitive's own `m_value` field would loop.
        if inner.desc == field.desc && inner.name == "m_value" {
            break;
        }
        names.push(inner.name.clone());
        field = inner;
    }
    if names.len() == 1 {
        return Some(names.remove(0));
    }
    if names.iter().all(|n| n.trim().is_empty()) {
        return None;
    }
    Some(names.iter().map(|n| if n.trim().is_empty() { "???" } else { n.as_str() }).collect::<Vec<_>>().join("."))
}

impl Heap {
    /// The non-null references of the object at `address`, or `None` when it is not a
    /// valid object. As ClrMD, an object of an absurd size (a damaged length) has none.
    pub fn gc_refs(&self, address: u64) -> Option<Vec<GcRef>> {
        let object = self.object(ObjectAddr(address))?;
        let mut slots: Vec<(u64, u64)> = Vec::new();
        if let (Ok(Some(desc)), Ok(size)) = (self.gc_desc(object.mt()), object.size())
            && size <= i32::MAX as u64
        {
            slots = self
                .reference_slots(address, size, &desc)
                .into_iter()
                .filter(|&(_, value)| value != 0)
                .map(|(slot, value)| (slot.saturating_sub(address).saturating_sub(8), value))
                .collect();
        }
        // An array's elements are no field's.
        let is_array = object.array().is_ok();
        Some(
            slots
                .into_iter()
                .map(|(offset, value)| GcRef {
                    field: if is_array { None } else { field_name(self, object.mt(), offset) },
                    offset,
                    object: value,
                    type_name: self.object_type_name(value).map(|n| n.to_string()),
                })
                .collect(),
        )
    }
}

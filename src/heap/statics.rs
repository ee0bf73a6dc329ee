//! Which static field a GC statics slot belongs to.
//!
//! The runtime keeps reference-typed static fields (and the boxes of struct-typed ones)
//! in slots of pinned `Object[]` arrays held by strong handles: on .NET 8 a module's
//! `DomainLocalModule` points at its block of slots, on 9 and 10 each type's
//! `DynamicStaticsInfo` does (see [`Heap::static_location`]). A static field's slot is
//! its statics base plus the FieldDesc's offset, so the map from slot address to field
//! is built by taking every loaded type of the candidate modules — the TypeDef map
//! entries and the generic instantiations each module is the loader module of — and
//! placing each of its GC static fields. Thread statics and RVA statics live elsewhere
//! and are left out; .NET 8's "dynamic" statics (generic instantiations, emitted types)
//! are not placed.
use super::Heap;
use super::fields::StaticLocation;
use std::collections::HashMap;

/// More candidate types than this is not a real process.
const MAX_TYPES: usize = 1 << 22;

/// A static field placed at a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticField {
    /// The type declaring the field (the exact instantiation for a generic type).
    pub declaring_mt: u64,
    pub name: String,
}

/// Slot address -> the static field stored there.
#[derive(Debug, Clone, Default)]
pub struct StaticsIndex {
    slots: HashMap<u64, StaticField>,
}

impl StaticsIndex {
    pub fn field_at(&self, slot: u64) -> Option<&StaticField> {
        self.slots.get(&slot)
    }

    /// Whether any static field lives in `[start, end)` (a statics storage array).
    pub fn any_slot_in(&self, start: u64, end: u64) -> bool {
        self.slots.keys().any(|&s| s >= start && s < end)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

impl Heap {
    /// Places the GC static fields of every type loaded by `modules`.
    pub fn statics_index(&self, modules: &[u64]) -> StaticsIndex {
        let mut mts: Vec<u64> = Vec::new();
        for &m in modules {
            mts.extend(self.typedef_method_tables(m));
            mts.extend(self.param_method_tables(m));
            if mts.len() > MAX_TYPES {
                break;
            }
        }
        mts.sort_unstable();
        mts.dedup();
        let mut slots = HashMap::new();
        for mt in mts {
            self.place_statics(mt, &mut slots);
        }
        StaticsIndex { slots }
    }

    fn place_statics(&self, mt: u64, slots: &mut HashMap<u64, StaticField>) {
        let Ok(info) = self.method_table(mt) else { return };
        if info.is_array() {
            return;
        }
        let Ok(counts) = self.class_field_counts(mt) else { return };
        if counts.statics == 0 {
            return;
        }
        let inherited = match info.parent {
            0 => 0,
            p => match self.class_field_counts(p) {
                Ok(c) => c.instance,
                Err(_) => return,
            },
        };
        let Ok(fields) = self.introduced_fields(mt, inherited) else { return };
        for fd in fields {
            if !fd.is_static || fd.is_thread_static || fd.is_rva || !fd.is_gc_static() {
                continue;
            }
            if let StaticLocation::At(slot) = self.static_location(mt, &fd) {
                let Some(name) = self.field_name(&fd) else { continue };
                slots.entry(slot).or_insert(StaticField {
                    declaring_mt: mt,
                    name,
                });
            }
        }
    }
}

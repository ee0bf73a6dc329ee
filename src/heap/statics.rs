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
    /// (entry of a thread's thread-static array, offset in the type's storage) -> field.
    thread_slots: HashMap<(u32, u32), StaticField>,
}

impl StaticsIndex {
    pub fn field_at(&self, slot: u64) -> Option<&StaticField> {
        self.slots.get(&slot)
    }

    /// The thread-static field stored at `offset` of the storage object found at `entry`
    /// of a thread's thread-static array.
    pub fn thread_field_at(&self, entry: u32, offset: u32) -> Option<&StaticField> {
        self.thread_slots.get(&(entry, offset))
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
        let mut thread_slots = HashMap::new();
        for mt in mts {
            self.place_statics(mt, &mut slots, &mut thread_slots);
        }
        StaticsIndex { slots, thread_slots }
    }

    fn place_statics(&self, mt: u64, slots: &mut HashMap<u64, StaticField>, thread_slots: &mut HashMap<(u32, u32), StaticField>) {
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
        let mut tls_entry = None;
        for fd in fields {
            if fd.is_static && fd.is_thread_static && fd.is_gc_static() {
                let entry = *tls_entry.get_or_insert_with(|| self.thread_statics_entry(mt));
                if let Some(entry) = entry
                    && let Some(name) = self.field_name(&fd)
                {
                    thread_slots.entry((entry, fd.offset)).or_insert(StaticField { declaring_mt: mt, name });
                }
                continue;
            }
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

    /// The entry of every thread's thread-static array holding `mt`'s GC thread statics
    /// (9, 10), when the type has one allocated in the non-collectible array.
    fn thread_statics_entry(&self, mt: u64) -> Option<u32> {
        use crate::runtime::layouts::*;
        let layout = &self.runtime.layout;
        if !matches!(layout.type_loader.statics, StaticsLayout::DynamicStaticsInfo { .. }) {
            return None;
        }
        layout.thread.local_data?;
        let space = self.space();
        let aux = space.read_ptr(mt.wrapping_add(layout.method_table.aux_data)).ok().filter(|&a| a != 0)?;
        let ts = layout.thread_statics;
        let info = aux.wrapping_sub(ts.info_size);
        let raw = space.read_u32(info.wrapping_add(ts.gc_tls_index)).ok()?;
        if raw == u32::MAX || raw >> TLS_INDEX_TYPE_SHIFT != 0 {
            return None; // not allocated, or a collectible type's (held by a handle)
        }
        (raw & TLS_INDEX_OFFSET_MASK).checked_sub(TLS_INDEX_ARRAY_BASE)
    }
}

impl Heap {
    /// The values of the thread-static field `field` on every thread that allocated its
    /// type's thread statics, in the thread store's order, as `(OS thread id, value)`:
    /// what SOS lists under "Thread static values". 9 and 10, GC thread statics: each
    /// thread's non-collectible thread-static array holds, at the type's `GCTlsIndex`
    /// entry, the type's storage, the field's slot at its FieldDesc offset from there.
    /// 8: each thread's `ThreadLocalModule` of the type's module holds the module's GC
    /// thread-static block, the field at its FieldDesc offset there. Non-GC thread statics
    /// on 9 and 10: [`Heap::non_gc_thread_static_values`]. On 8 non-GC thread statics and
    /// those of generic instantiations ("dynamic") are not read: none listed.
    pub fn thread_static_values(&self, field: &crate::heap::Field) -> Vec<(u32, Result<crate::heap::Value, crate::heap::ValueError>)> {
        let fd = &field.desc;
        if !field.is_thread_static() {
            return Vec::new();
        }
        if self.runtime.layout.thread_statics.local_block.is_some() {
            if !fd.is_gc_static() {
                return Vec::new();
            }
            return self.net8_thread_static_values(field);
        }
        if !fd.is_gc_static() {
            return self.non_gc_thread_static_values(field);
        }
        let Some(entry) = self.thread_statics_entry(field.class) else { return Vec::new() };
        let (roots, warnings) = crate::runtime::threads::thread_statics_roots(&self.runtime, &self.threads);
        for w in warnings {
            self.warnings().warn(w);
        }
        let mut out = Vec::new();
        for root in roots {
            let Ok(array) = self.array(root.object) else {
                self.warnings().warn(format!("thread {:x}: its thread-static storage {:x} is no array", root.os_thread_id, root.object));
                continue;
            };
            if u64::from(entry) >= array.length {
                continue; // the thread has not allocated the type's thread statics
            }
            let at = array.data.wrapping_add(u64::from(entry).wrapping_mul(array.component_size.max(8)));
            let storage = match self.space().read_ptr(at) {
                Ok(0) => continue,
                Ok(s) => s,
                Err(e) => {
                    self.warnings().warn(format!("thread {:x}: cannot read its thread statics at {at:x}: {e}", root.os_thread_id));
                    continue;
                }
            };
            out.push((root.os_thread_id, self.read_field_at(fd, storage.wrapping_add(u64::from(fd.offset)))));
        }
        out
    }

    /// Non-GC (primitive) thread statics on 9 and 10: every thread whose storage for the
    /// type's `NonGCTlsIndex` exists (its array entry, or its in-flight entry while the
    /// class constructor runs), the field at its FieldDesc offset from that storage.
    fn non_gc_thread_static_values(&self, field: &crate::heap::Field) -> Vec<(u32, Result<crate::heap::Value, crate::heap::ValueError>)> {
        use crate::runtime::layouts::StaticsLayout;
        let layout = &self.runtime.layout;
        if !matches!(layout.type_loader.statics, StaticsLayout::DynamicStaticsInfo { .. }) {
            return Vec::new();
        }
        let space = self.space();
        let ts = layout.thread_statics;
        let Some(aux) = space.read_ptr(field.class.wrapping_add(layout.method_table.aux_data)).ok().filter(|&a| a != 0) else {
            return Vec::new();
        };
        let info = aux.wrapping_sub(ts.info_size);
        let Ok(raw) = space.read_u32(info.wrapping_add(ts.non_gc_tls_index)) else { return Vec::new() };
        if raw == u32::MAX {
            return Vec::new(); // never allocated: no thread has them
        }
        let fd = &field.desc;
        let mut out = Vec::new();
        for t in self.threads.iter() {
            match crate::runtime::threads::thread_static_base(&self.runtime, t.address, raw) {
                Ok(Some(base)) => out.push((t.os_id, self.read_field_at(fd, base.wrapping_add(u64::from(fd.offset))))),
                Ok(None) => {}
                Err(e) => self.warnings().warn(format!("thread {:x}: cannot read its thread statics: {e}", t.os_id)),
            }
        }
        out
    }

    /// [`Heap::thread_static_values`] on .NET 8.
    fn net8_thread_static_values(&self, field: &crate::heap::Field) -> Vec<(u32, Result<crate::heap::Value, crate::heap::ValueError>)> {
        use crate::runtime::layouts::MTF_HAS_COMPONENT_SIZE;
        let Ok(info) = self.method_table(field.class) else { return Vec::new() };
        // enum_flag_StaticsMask: generic instantiations' statics are "dynamic" (as in
        // `Heap::static_location`).
        if info.flags & MTF_HAS_COMPONENT_SIZE == 0 && info.flags & 0x6 != 0 {
            return Vec::new();
        }
        let Some(class_index) = (info.token & 0x00ff_ffff).checked_sub(1) else { return Vec::new() };
        let (blocks, warnings) =
            crate::runtime::threads::module_thread_gc_statics(&self.runtime, &self.threads, info.module, class_index);
        for w in warnings {
            self.warnings().warn(w);
        }
        let fd = &field.desc;
        let end = u64::from(fd.offset).saturating_add(8);
        blocks
            .into_iter()
            .filter(|&(_, _, length)| length.saturating_mul(8) >= end)
            .map(|(os_id, data, _)| (os_id, self.read_field_at(fd, data.wrapping_add(u64::from(fd.offset)))))
            .collect()
    }
}

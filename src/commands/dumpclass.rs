//! `dumpclass <eeclass>`: a class as SOS's native `DumpClass` prints it.
//!
//! ```text
//! Class Name:      DocProc.Ops.Order
//! mdToken:         0000000002000027
//! File:            /root/.cache/clrheap-lab/scenarios/net8.0/scenarios.dll
//! Parent Class:    00007f045255cc98
//! Module:          00007f04526bcec8
//! Method Table:    00007f045278eb48
//! Class Attributes:    00100101  Sealed
//! Vtable Slots:    4
//! Total Method Slots:  5
//! NumInstanceFields:   4
//! NumStaticFields:     0
//!               MT    Field   Offset                 Type   VT     Attr            Value Name
//! 00007f045261d7c8 04000079        8        System.String   No instance                  Id
//! ```
//!
//! On 8 the argument is an EEClass (the `EEClass:` of `dumpmt`); 9 and 10 have none to
//! show and take the MethodTable instead, printing `Parent:` (the parent's MethodTable)
//! where 8 prints the parent's EEClass, and a `Canonical:` line for a generic
//! instantiation. The class details and field table are [`crate::render::sos`]'s.
use crate::args::{option_list, parse_address, OptionSpec, SosArgs};
use crate::heap::field_table::field_table;
use crate::render::output::{hex, write_json, Format};
use crate::render::sos::{class_details, Sos};
use crate::session::Session;
use anyhow::Result;
use serde_json::json;
use std::io::Write;

/// dumpclass's options (none).
pub const OPTIONS: &[OptionSpec] = &[];

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let Some(text) = p.args.first() else {
        return Sos::new(out).fail("Missing EEClass address\n");
    };
    let heap = &session.heap;
    let major = heap.runtime.version.major;
    let Some(mt) = parse_address(text).and_then(|a| heap.class_method_table(a)) else {
        // SOS fails the command: its message, then dotnet-dump's empty line.
        return Sos::new(out).fail("Invalid EEClass address\n");
    };
    let info = heap.method_table(mt)?;
    let name = heap.dac_type_name(mt).unwrap_or_else(|_| "<Unloaded Type>".into());
    let file = heap.module_file(info.module).unwrap_or_default();
    let canonical = heap.canonical_mt(mt)?;
    let parent_class = match info.parent {
        0 => 0,
        p => heap.method_table(p)?.ee_class,
    };
    let details = heap.class_details(mt)?;
    let has_fields = Ok(details.instance_fields + details.static_fields > 0);
    let fields = field_table(heap, heap.type_fields(mt), None, false, has_fields);
    if format != Format::Text {
        let rows: Vec<_> = fields
            .rows
            .iter()
            .map(|r| json!({"mt": r.type_mt.map(hex), "field": format!("{:08x}", r.field.desc.token()),
                            "offset": r.offset, "type": r.type_name, "static": r.field.is_static(), "name": r.field.name}))
            .collect();
        return write_json(
            out,
            &json!({"name": name, "token": format!("{:08x}", info.token), "file": file, "parent": hex(info.parent),
                    "parentClass": hex(parent_class), "module": hex(info.module), "methodTable": hex(mt),
                    "canonical": hex(canonical), "attributes": details.attributes, "virtuals": details.virtuals,
                    "vtableSlots": details.vtable_slots, "instanceFields": details.instance_fields,
                    "staticFields": details.static_fields, "fields": rows}),
        );
    }
    let mut sos = Sos::new(out);
    sos.put(&format!("Class Name:      {name}\n"))?;
    sos.put(&format!("mdToken:         {:016X}\n", info.token))?;
    sos.put(&format!("File:            {file}\n"))?;
    if major < 9 {
        sos.put(&format!("Parent Class:    {parent_class:016x}\n"))?;
    } else {
        sos.put(&format!("Parent:    {:016x}\n", info.parent))?;
    }
    sos.put(&format!("Module:          {:016x}\n", info.module))?;
    sos.put(&format!("Method Table:    {mt:016x}\n"))?;
    if major >= 9 && canonical != mt {
        sos.put(&format!("Canonical:    {canonical:016x}\n"))?;
    }
    class_details(&mut sos, &details, &fields, major)
}

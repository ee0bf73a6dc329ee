//! `dumpdomain [<domain>]`: the domains, their loader heaps, and every assembly with its
//! module, as dotnet-dump (SOS's native `DumpDomain`) prints them.
//!
//! ```text
//! --------------------------------------
//! System Domain:      00007f08d64cce00
//! LowFrequencyHeap:   00007F08D64CCE20
//! HighFrequencyHeap:  00007F08D64CCE98
//! StubHeap:           00007F08D64CCF10
//! Stage:              OPEN
//! Name:               None
//! --------------------------------------
//! Domain 1:           000055b83e2b0180
//! ...
//! Name:               clrhost
//! Assembly:           000055b83e2da560 [/root/.../System.Private.CoreLib.dll]
//!   Module
//!   00007f0856e34000    /root/.../System.Private.CoreLib.dll
//!
//! Assembly:           0000559277ea0dc0 (Dynamic) []
//!   Module
//!   00007fa55f51e670    Dynamic Module
//! ```
//!
//! Without an address: the System Domain, then the AppDomain with its assemblies in load
//! order. With one: that domain only (`Fail to fill AppDomain` for any other address).
//! Both domains show the System Domain's loader heaps (the AppDomain has none of its
//! own); an assembly emitted at run time is `(Dynamic)`, its name empty.
use crate::args::{option_list, OptionSpec, SosArgs};
use crate::args::parse_address;
use crate::render::output::{hex, write_json, Format};
use crate::render::sos::{assembly_modules, Sos};
use crate::runtime::domains::{self, Assembly, Domain, DomainKind, APP_DOMAIN_ID};
use crate::session::Session;
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;

pub const OPTIONS: &[OptionSpec] = &[];

const RULE: &str = "--------------------------------------\n";

pub fn run(session: &Session, args: &[String], format: Format, out: &mut dyn Write) -> Result<()> {
    let p = SosArgs::parse(args, OPTIONS, 1)
        .map_err(|message| anyhow::anyhow!("{} (valid options: {})", message.trim_end(), option_list(OPTIONS)))?;
    let rt = &session.heap.runtime;
    let requested = p.args.first().and_then(|t| parse_address(t));
    let list = match requested {
        Some(address) => match domains::domain(rt, address)? {
            Some(d) => vec![d],
            None => return Sos::new(out).fail("Fail to fill AppDomain\n"),
        },
        None => {
            let mut list = Vec::new();
            for address in [domains::system_domain(rt), domains::app_domain(rt)] {
                if let Some(d) = domains::domain(rt, address)? {
                    list.push(d);
                }
            }
            list
        }
    };
    // The AppDomain's assemblies (the System Domain has none).
    let assemblies = if list.iter().any(|d| d.kind == DomainKind::App) { domains::assemblies(rt)? } else { Vec::new() };
    let of = |d: &Domain| if d.kind == DomainKind::App { &assemblies[..] } else { &[][..] };
    if format != Format::Text {
        let records: Vec<Value> = list.iter().map(|d| domain_json(d, of(d))).collect();
        return write_json(out, &json!({ "domains": records }));
    }
    let mut text = String::new();
    for d in &list {
        crate::interrupt::check()?;
        text.push_str(RULE);
        match d.kind {
            DomainKind::System => text.push_str(&format!("System Domain:      {:016x}\n", d.address)),
            DomainKind::App => text.push_str(&format!("Domain {APP_DOMAIN_ID}:           {:016x}\n", d.address)),
        }
        domain_text(d, of(d), &mut text)?;
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// SOS's `DomainInfo`: the heaps, stage and name, then each assembly.
fn domain_text(d: &Domain, assemblies: &[Assembly], text: &mut String) -> Result<()> {
    text.push_str(&format!("LowFrequencyHeap:   {:016X}\n", d.low_frequency_heap));
    text.push_str(&format!("HighFrequencyHeap:  {:016X}\n", d.high_frequency_heap));
    text.push_str(&format!("StubHeap:           {:016X}\n", d.stub_heap));
    text.push_str(&format!("Stage:              {}\n", d.stage));
    text.push_str(&format!("Name:               {}\n", if d.name.is_empty() { "None" } else { &d.name }));
    if assemblies.is_empty() {
        return Ok(());
    }
    for (i, assembly) in assemblies.iter().enumerate() {
        crate::interrupt::check()?;
        if i != 0 {
            text.push('\n');
        }
        text.push_str(&format!("Assembly:           {:016x}", assembly.address));
        if assembly.dynamic {
            text.push_str(" (Dynamic)");
        }
        text.push_str(&format!(" [{}]\n", assembly.path));
        assembly_modules(text, assembly);
    }
    text.push('\n');
    Ok(())
}

fn domain_json(d: &Domain, assemblies: &[Assembly]) -> Value {
    let assemblies: Vec<Value> = assemblies
        .iter()
        .map(|a| {
            json!({"assembly": hex(a.address), "dynamic": a.dynamic, "name": (!a.dynamic).then_some(&a.path),
                   "module": hex(a.module), "moduleFile": a.module_file})
        })
        .collect();
    json!({
        "domain": hex(d.address),
        "kind": match d.kind { DomainKind::System => "system", DomainKind::App => "app" },
        "id": (d.kind == DomainKind::App).then_some(APP_DOMAIN_ID),
        "lowFrequencyHeap": hex(d.low_frequency_heap), "highFrequencyHeap": hex(d.high_frequency_heap),
        "stubHeap": hex(d.stub_heap), "stage": d.stage, "name": d.name, "assemblies": assemblies,
    })
}

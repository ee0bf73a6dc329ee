//! A MethodDesc as SOS's `DumpMD` prints it (also the body of `ip2md`'s answer).
//!
//! ```text
//! Method Name:          DocProc.Ops.Order..ctor()
//! Class:                00007f0452869bc0
//! MethodTable:          00007f045278eb48
//! mdToken:              0000000006000061
//! Module:               00007f04526bcec8
//! IsJitted:             yes
//! Current CodeAddr:     00007f0452632a40
//! Version History:
//!   ILCodeVersion:      0000000000000000
//!   ReJIT ID:           0
//!   IL Addr:            00007f04d0f8d93a
//!      CodeAddr:           00007f0452632a40  (QuickJitted)
//!      NativeCodeVersion:  0000000000000000
//! ```
//!
//! A method without code reads `IsJitted: no`, a current code address of all ones, and
//! its default version's code 0. The native code versions are listed newest first.
use crate::heap::methods::MethodDescReport;
use serde_json::{json, Value};

/// The text, from `Method Name:` to the last version.
pub fn method_desc_text(r: &MethodDescReport) -> String {
    let d = &r.data;
    let mut s = String::new();
    s.push_str(&format!("Method Name:          {}\n", r.name.as_deref().unwrap_or("UNKNOWN")));
    if let Some(c) = d.ee_class {
        s.push_str(&format!("Class:                {c:016x}\n"));
    }
    s.push_str(&format!("MethodTable:          {:016x}\n", d.method_table));
    s.push_str(&format!("mdToken:              {:016X}\n", d.token));
    s.push_str(&format!("Module:               {:016x}\n", d.module));
    s.push_str(&format!("IsJitted:             {}\n", if d.native_code.is_some() { "yes" } else { "no" }));
    s.push_str(&format!("Current CodeAddr:     {:016x}\n", d.native_code.unwrap_or(u64::MAX)));
    s.push_str("Version History:\n");
    s.push_str("  ILCodeVersion:      0000000000000000\n");
    s.push_str("  ReJIT ID:           0\n");
    s.push_str(&format!("  IL Addr:            {:016x}\n", d.il_address));
    for v in d.versions.iter().rev() {
        s.push_str(&format!("     CodeAddr:           {:016x}  ({})\n", v.code, v.tier.name()));
        s.push_str(&format!("     NativeCodeVersion:  {:016X}\n", v.node));
    }
    s
}

/// The same facts as a JSON record.
pub fn method_desc_json(r: &MethodDescReport) -> Value {
    let d = &r.data;
    let hex = super::output::hex;
    json!({
        "method_desc": hex(d.method_desc),
        "name": r.name,
        "ee_class": d.ee_class.map(hex),
        "method_table": hex(d.method_table),
        "token": format!("{:08x}", d.token),
        "module": hex(d.module),
        "jitted": d.native_code.is_some(),
        "code": d.native_code.map(hex),
        "il": hex(d.il_address),
        "versions": d.versions.iter().rev().map(|v| json!({
            "code": hex(v.code),
            "tier": v.tier.name(),
            "node": hex(v.node),
        })).collect::<Vec<_>>(),
    })
}

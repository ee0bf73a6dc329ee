//! The runtime's contract descriptor (`DotNetRuntimeContractDescriptor`, .NET 9 and up).
//!
//! The exported header (64-bit): `u64 magic "DNCCDAC\0"`, `u32 flags`, `u32 json_size`,
//! `ptr json`, `u32 pointer_data_count`, `ptr pointer_data`. The JSON names type layouts
//! (`types`: field offsets and `"!"` sizes) and globals (`globals`: a literal value, or
//! `[n]` meaning `pointer_data[n]`, optionally paired with a type name). In heap dumps the
//! header and pointer array live in pages read back from `libcoreclr.so` (relocated).
//!
//! Only parsing happens here; [`super::described`] says which values clrheap takes from it.
//! A descriptor is untrusted like the rest of the dump: sizes are capped, malformed JSON
//! is an error (the caller falls back to its own tables), and entries of the wrong shape
//! are left out.
use crate::dump::AddressSpace;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::HashMap;

const MAGIC: u64 = 0x0043_4144_4343_4e44;
const MAX_JSON: u32 = 4 << 20;
const MAX_POINTERS: u32 = 4096;

/// The parsed descriptor: type layouts and global values.
#[derive(Debug, Default)]
pub struct ContractDescriptor {
    /// Where the header is (`DotNetRuntimeContractDescriptor`; 0 when parsed from bytes).
    pub address: u64,
    /// type -> field -> offset (`"!"` -> the type's size).
    pub types: HashMap<String, HashMap<String, u64>>,
    /// global -> value (for `[n]` globals: the address `pointer_data[n]`).
    pub globals: HashMap<String, u64>,
    /// Globals whose value is text (`"Architecture": ["x64", "string"]`).
    pub strings: HashMap<String, String>,
    pub contracts: HashMap<String, u64>,
}

impl ContractDescriptor {
    pub fn read(space: &AddressSpace, addr: u64) -> Result<ContractDescriptor> {
        let magic = space
            .read_u64(addr)
            .context("cannot read the contract descriptor header")?;
        if magic != MAGIC {
            bail!("the contract descriptor at {addr:#x} has magic {magic:#x}");
        }
        let flags = space.read_u32(addr.wrapping_add(8))?;
        if flags & 2 != 0 {
            bail!("the contract descriptor at {addr:#x} describes a 32-bit process");
        }
        let json_size = space.read_u32(addr.wrapping_add(12))?;
        let json_addr = space.read_ptr(addr.wrapping_add(16))?;
        let pointer_count = space.read_u32(addr.wrapping_add(24))?;
        let pointers_addr = space.read_ptr(addr.wrapping_add(32))?;
        if json_size > MAX_JSON || pointer_count > MAX_POINTERS {
            bail!("implausible contract descriptor sizes ({json_size} bytes, {pointer_count} pointers)");
        }
        let json = space
            .read_vec(json_addr, json_size as usize)
            .context("cannot read the contract descriptor's JSON")?;
        let pointers: Vec<u64> = space
            .read_vec(pointers_addr, pointer_count as usize * 8)
            .context("cannot read the contract descriptor's pointer data")?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let mut d = Self::parse(&json, &pointers)?;
        d.address = addr;
        Ok(d)
    }

    pub fn parse(json: &[u8], pointers: &[u64]) -> Result<ContractDescriptor> {
        let root: Value =
            serde_json::from_slice(json).context("the contract descriptor's JSON is malformed")?;
        let mut d = ContractDescriptor::default();
        if let Some(types) = root.get("types").and_then(Value::as_object) {
            for (name, fields) in types {
                let fields = fields.as_object().into_iter().flatten();
                let map = fields
                    .filter_map(|(f, v)| Some((f.clone(), number(first(v))?)))
                    .collect();
                d.types.insert(name.clone(), map);
            }
        }
        if let Some(globals) = root.get("globals").and_then(Value::as_object) {
            for (name, v) in globals {
                let v = first(v);
                let value = match v {
                    Value::Array(ix) => ix
                        .first()
                        .and_then(number)
                        .and_then(|i| pointers.get(i as usize).copied()),
                    other => number(other),
                };
                match (value, v) {
                    (Some(value), _) => {
                        d.globals.insert(name.clone(), value);
                    }
                    (None, Value::String(s)) => {
                        d.strings.insert(name.clone(), s.clone());
                    }
                    _ => {}
                }
            }
        }
        if let Some(c) = root.get("contracts").and_then(Value::as_object) {
            d.contracts = c.iter().filter_map(|(k, v)| Some((k.clone(), number(v)?))).collect();
        }
        Ok(d)
    }

    /// Offset of `ty.field`, if described.
    pub fn field(&self, ty: &str, field: &str) -> Option<u64> {
        self.types.get(ty)?.get(field).copied()
    }

    pub fn global(&self, name: &str) -> Option<u64> {
        self.globals.get(name).copied()
    }

    /// A global whose value is text.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.strings.get(name).map(String::as_str)
    }
}

/// `[x, "type"]` -> x; `[[n], "type"]` -> [n]; anything else as is.
fn first(v: &Value) -> &Value {
    match v {
        Value::Array(items) if items.len() == 2 && items[1].is_string() => &items[0],
        other => other,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_i64().map(|i| i as u64)),
        Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_is_an_error() {
        for json in [&b"\xff\xfe{"[..], b"", b"{\"types\":", b"null]"] {
            assert!(ContractDescriptor::parse(json, &[]).is_err(), "{json:?}");
        }
    }

    #[test]
    fn entries_of_the_wrong_shape_are_left_out() {
        let json = br#"{"types":{"A":{"f":[[1],"x"],"g":1.5,"h":{"z":1},"i":[7,"T"],"j":"0xzz"},"B":[1,2],"C":"x"},
            "globals":{"G":[["a"],"p"],"H":[[99],"pointer"],"I":[[1],"pointer"],"J":["0x10","uint8"],"K":["x64","string"],"L":{}},
            "contracts":[1]}"#;
        let d = ContractDescriptor::parse(json, &[0x1000, 0x2000]).expect("parses");
        assert_eq!(d.field("A", "i"), Some(7));
        for f in ["f", "g", "h", "j"] {
            assert_eq!(d.field("A", f), None, "{f}");
        }
        assert!(d.types["B"].is_empty() && d.types["C"].is_empty());
        assert_eq!(d.global("G"), None);
        assert_eq!(d.global("H"), None, "pointer index past the pointer data");
        assert_eq!(d.global("I"), Some(0x2000));
        assert_eq!(d.global("J"), Some(0x10));
        assert_eq!(d.string("K"), Some("x64"));
        assert_eq!(d.global("L"), None);
    }
}

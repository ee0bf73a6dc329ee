//! JSON and CSV output, parsed back and checked against the text output's numbers.
mod common;
use clrheap::render::Format;
use clrheap::Session;
use clrheap::dump::DumpOptions;
use std::collections::BTreeMap;
use std::path::Path;

fn session() -> Session {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zoo-net8-wks-heap.dmp.zst");
    Session::open(&path, &DumpOptions::default()).expect("open fixture")
}

fn run(s: &Session, line: &str, format: Format) -> String {
    let mut out = Vec::new();
    s.execute_as(line, format, &mut out).unwrap_or_else(|e| panic!("{line}: {e:#}"));
    String::from_utf8(out).unwrap()
}

/// MT -> (count, total size, name) from dotnet-dump-style statistics text.
fn text_stats(text: &str) -> (BTreeMap<u64, (u64, u64, String)>, u64, u64) {
    let mut rows = BTreeMap::new();
    let mut lines = text.lines().skip_while(|l| *l != "Statistics:").skip(2);
    let mut totals = (0, 0);
    for line in lines.by_ref() {
        if let Some(rest) = line.strip_prefix("Total ") {
            let n: Vec<u64> = rest
                .split(|c: char| !c.is_ascii_digit() && c != ',')
                .filter(|w| !w.is_empty() && *w != ",")
                .map(|w| w.replace(',', "").parse().unwrap())
                .collect();
            totals = (n[0], n.get(1).copied().unwrap_or(0));
            break;
        }
        // Three right-aligned columns, then the name (which may contain spaces).
        let mut rest = line;
        let mut cols = Vec::new();
        for _ in 0..3 {
            rest = rest.trim_start();
            let end = rest.find(' ').unwrap();
            cols.push(&rest[..end]);
            rest = &rest[end + 1..];
        }
        let mt = u64::from_str_radix(cols[0], 16).unwrap();
        let count = cols[1].replace(',', "").parse().unwrap();
        let size = cols[2].replace(',', "").parse().unwrap();
        rows.insert(mt, (count, size, rest.to_string()));
    }
    (rows, totals.0, totals.1)
}

fn hex(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().strip_prefix("0x").unwrap(), 16).unwrap()
}

#[test]
fn json_and_csv_statistics_agree_with_text() {
    let s = session();
    let (text, total_objects, total_bytes) = text_stats(&run(&s, "dumpheap -stat", Format::Text));
    assert!(text.len() > 100);

    let json: serde_json::Value = serde_json::from_str(&run(&s, "dumpheap -stat", Format::Json)).unwrap();
    assert_eq!(json["total_objects"].as_u64(), Some(total_objects));
    assert_eq!(json["total_bytes"].as_u64(), Some(total_bytes));
    let rows = json["statistics"].as_array().unwrap();
    assert_eq!(rows.len(), text.len());
    for r in rows {
        let (count, size, _) = &text[&hex(&r["mt"])];
        assert_eq!(r["count"].as_u64(), Some(*count));
        assert_eq!(r["total_size"].as_u64(), Some(*size));
    }

    let csv = run(&s, "dumpheap -stat", Format::Csv);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("mt,count,total_size,type"));
    let mut n = 0;
    for line in lines {
        let f: Vec<&str> = line.splitn(4, ',').collect();
        let (count, size, name) = &text[&u64::from_str_radix(&f[0][2..], 16).unwrap()];
        assert_eq!(f[1].parse::<u64>().unwrap(), *count);
        assert_eq!(f[2].parse::<u64>().unwrap(), *size);
        assert_eq!(f[3].trim_matches('"').replace("\"\"", "\""), *name);
        n += 1;
    }
    assert_eq!(n, text.len());
}

#[test]
fn json_lines_listing_matches_text_listing() {
    let s = session();
    let text = run(&s, "dumpheap -type Zoo.Dog", Format::Text);
    let listed = text_listing(&text);
    assert!(listed.len() > 100);
    let json = run(&s, "dumpheap -type Zoo.Dog --format json", Format::Text);
    let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), listed.len() + 1, "one line per object, then the summary");
    for (record, (addr, mt, size)) in lines.iter().zip(&listed) {
        assert_eq!(hex(&record["address"]), *addr);
        assert_eq!(hex(&record["mt"]), *mt);
        assert_eq!(record["size"].as_u64(), Some(*size));
        assert!(record["type"].as_str().unwrap().contains("Zoo.Dog"));
    }
    assert_eq!(lines.last().unwrap()["total_objects"].as_u64(), Some(listed.len() as u64));
}

#[test]
fn eeheap_records_agree_with_text_totals() {
    let s = session();
    let text = run(&s, "eeheap -gc", Format::Text);
    let total = |label: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(label)).unwrap();
        let inside = line.split('(').nth(1).unwrap().split(')').next().unwrap();
        inside.parse().unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run(&s, "eeheap -gc", Format::Json)).unwrap();
    assert_eq!(json["total_allocated_size"].as_u64(), Some(total("GC Allocated Heap Size:")));
    assert_eq!(json["total_committed_size"].as_u64(), Some(total("GC Committed Heap Size:")));
    let segments: usize = json["heaps"].as_array().unwrap().iter().map(|h| h["segments"].as_array().unwrap().len()).sum();
    let csv = run(&s, "eeheap -gc", Format::Csv);
    assert_eq!(csv.lines().count(), segments + 1, "header plus one row per segment");
    // Every segment address of the text appears in the records.
    let mut seen = 0;
    for line in text.lines().filter(|l| l.starts_with("    ")) {
        if let Ok(seg) = u64::from_str_radix(line.split_whitespace().next().unwrap(), 16) {
            assert!(csv.contains(&format!("{seg:#x},")), "segment {seg:x} in CSV");
            seen += 1;
        }
    }
    assert_eq!(seen, segments);
}

#[test]
fn dumpgen_records_agree_with_text() {
    let s = session();
    for generation in ["gen0", "gen2", "loh", "poh", "foh"] {
        let text = run(&s, &format!("dumpgen {generation}"), Format::Text);
        let total: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("Total ")?.strip_suffix(" objects")?.parse().ok())
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&run(&s, &format!("dumpgen {generation}"), Format::Json)).unwrap();
        assert_eq!(json["total_objects"].as_u64(), Some(total), "{generation}");
        let rows = json["statistics"].as_array().unwrap();
        assert_eq!(rows.iter().map(|r| r["count"].as_u64().unwrap()).sum::<u64>(), total, "{generation}");
        for r in rows {
            let (count, size) = (r["count"].as_u64().unwrap(), r["total_size"].as_u64().unwrap());
            let line = format!("{:016x} {count:>8} {size:>12}", hex(&r["mt"]));
            assert!(text.contains(&line), "{generation}: {line}");
        }
    }
}

/// The first address `dumpheap -type T -short` lists.
fn first_of(s: &Session, type_name: &str) -> u64 {
    let text = run(s, &format!("dumpheap -type {type_name} -short"), Format::Text);
    let first = text.lines().next().unwrap_or_else(|| panic!("no {type_name} on the heap"));
    u64::from_str_radix(first.trim(), 16).unwrap()
}

fn json(s: &Session, line: &str) -> serde_json::Value {
    serde_json::from_str(&run(s, line, Format::Json)).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// SOS's cut of a long type name to its last 17 characters behind `...`.
fn cut(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= 20 {
        return name.to_string();
    }
    format!("...{}", chars[chars.len() - 17..].iter().collect::<String>())
}

/// `Label: value` from a dumpobj-style header.
fn header<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(label)).unwrap_or_else(|| panic!("no {label}")).trim()
}

/// Checks JSON field records against the rows of the text's field table, in order.
fn check_fields(text: &str, fields: &[serde_json::Value], what: &str) {
    let rows: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| l.len() > 70 && l[..16].chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    assert!(!rows.is_empty(), "{what}: no field rows");
    assert_eq!(rows.len(), fields.len(), "{what}: one record per field row");
    for (row, f) in rows.iter().zip(fields) {
        let col = |a: usize, b: usize| row[a..b.min(row.len())].trim();
        let mt = u64::from_str_radix(col(0, 16), 16).unwrap();
        assert_eq!(f["mt"].as_str().map_or(0, |_| hex(&f["mt"])), mt, "{what}: {row}");
        assert_eq!(hex(&f["token"]), u64::from_str_radix(col(17, 25), 16).unwrap(), "{what}: {row}");
        assert_eq!(f["offset"].as_u64(), Some(u64::from_str_radix(col(26, 34), 16).unwrap()), "{what}: {row}");
        assert_eq!(cut(f["type"].as_str().unwrap()), col(35, 55), "{what}: {row}");
        assert_eq!(f["is_value_type"].as_bool(), Some(col(56, 60) == "Yes"), "{what}: {row}");
        let attr = col(61, 69);
        assert_eq!(f["is_static"].as_bool(), Some(attr != "instance"), "{what}: {row}");
        assert_eq!(f["is_thread_static"].as_bool(), Some(attr == "TLstatic"), "{what}: {row}");
        let name = f["name"].as_str().unwrap();
        assert!(row.ends_with(&format!(" {name}")) || row.ends_with("<no information>"), "{what}: {row}");
        let value = if attr == "TLstatic" { "" } else { col(70, 86) };
        match &f["value"] {
            serde_json::Value::Null => {
                assert!(value.is_empty() || value.starts_with("dynamic"), "{what}: {row}")
            }
            serde_json::Value::String(_) => {
                assert_eq!(hex(&f["value"]), u64::from_str_radix(value, 16).unwrap(), "{what}: {row}")
            }
            serde_json::Value::Bool(b) => assert_eq!(value, if *b { "1" } else { "0" }, "{what}: {row}"),
            serde_json::Value::Number(n) => assert_eq!(value, n.to_string(), "{what}: {row}"),
            other => panic!("{what}: value {other}"),
        }
    }
}

#[test]
fn dumpobj_records_agree_with_text() {
    let s = session();
    for type_name in [
        "DocProc.Options",
        "DocProc.Zoo.ZooException",
        "DocProc.Zoo.Color",
        "DocProc.Zoo.LockTarget",
        "AsyncStateMachineBox",
        "DocProc.Zoo.Dog",
    ] {
        let addr = first_of(&s, type_name);
        let text = run(&s, &format!("dumpobj {addr:x}"), Format::Text);
        let j = json(&s, &format!("dumpobj {addr:x}"));
        assert_eq!(hex(&j["address"]), addr);
        assert_eq!(j["type"].as_str(), Some(header(&text, "Name:")), "{type_name}");
        assert_eq!(hex(&j["mt"]), u64::from_str_radix(header(&text, "MethodTable:"), 16).unwrap());
        let size = header(&text, "Size:");
        assert_eq!(j["size"].as_u64(), Some(size[..size.find('(').unwrap()].parse().unwrap()));
        assert_eq!(j["file"].as_str(), Some(header(&text, "File:")));
        let fields = j["fields"].as_array().unwrap();
        check_fields(&text, fields, type_name);
        // A string field's text is the string object's.
        for f in fields.iter().filter(|f| f.get("string").is_some()) {
            let target = run(&s, &format!("dumpobj {:x}", hex(&f["value"])), Format::Text);
            assert_eq!(f["string"].as_str(), Some(header(&target, "String:")), "{type_name}.{}", f["name"]);
        }
        // CSV: the same fields, one row each.
        let csv = run(&s, &format!("dumpobj {addr:x}"), Format::Csv);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("name,type,mt,token,offset,is_static,is_thread_static,is_value_type,value,string"));
        assert_eq!(lines.count(), fields.len(), "{type_name}");
        let nofields = json(&s, &format!("dumpobj -nofields {addr:x}"));
        assert!(nofields.get("fields").is_none());
        assert_eq!(nofields["size"], j["size"]);
    }
    // A string object carries its value.
    let string = json(&s, &format!("dumpobj {:x}", first_of(&s, "System.String")));
    let text = run(&s, &format!("dumpobj {:x}", hex(&string["address"])), Format::Text);
    assert_eq!(string["string"].as_str(), Some(header(&text, "String:")));
    // Errors are errors, not text.
    let mut out = Vec::new();
    assert!(s.execute_as("dumpobj 8", Format::Json, &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn dumpvc_and_dumparray_records_agree_with_text() {
    let s = session();
    // A struct array, with its elements' fields.
    let points = first_of(&s, "DocProc.Zoo.Point[]");
    let text = run(&s, &format!("dumparray -details {points:x}"), Format::Text);
    let j = json(&s, &format!("dumparray -details {points:x}"));
    assert_eq!(j["type"].as_str(), Some(header(&text, "Name:")));
    assert_eq!(hex(&j["mt"]), u64::from_str_radix(header(&text, "MethodTable:"), 16).unwrap());
    assert_eq!(hex(&j["element_mt"]), u64::from_str_radix(header(&text, "Element Methodtable:"), 16).unwrap());
    let array = header(&text, "Array:");
    assert_eq!(
        array,
        format!("Rank {}, Number of elements {}, Type {}", j["rank"], j["length"], j["element_type"].as_str().unwrap())
    );
    let elements = j["elements"].as_array().unwrap();
    assert!(!elements.is_empty());
    let first = &elements[0];
    assert_eq!(first["indices"], serde_json::json!([0]));
    // (The nested text is indented mid-line, as SOS does: checked through dumpvc below.)
    assert_eq!(first["object"]["type"].as_str(), Some("DocProc.Zoo.Point"));

    // dumpvc of that element says the same.
    let (mt, addr) = (hex(&j["element_mt"]), hex(&first["address"]));
    let vc_text = run(&s, &format!("dumpvc {mt:x} {addr:x}"), Format::Text);
    let vc = json(&s, &format!("dumpvc {mt:x} {addr:x}"));
    assert_eq!(vc["type"].as_str(), Some(header(&vc_text, "Name:")));
    let size = header(&vc_text, "Size:");
    assert_eq!(vc["size"].as_u64(), Some(size[..size.find('(').unwrap()].parse().unwrap()));
    check_fields(&vc_text, vc["fields"].as_array().unwrap(), "dumpvc");
    assert_eq!(vc["fields"], first["object"]["fields"]);

    // Multi-dimensional arrays: every `[i][j] value` line.
    for (type_name, value_type) in [("System.String[,]", false), ("System.Int32[,]", true)] {
        let addr = first_of(&s, type_name);
        let text = run(&s, &format!("dumparray {addr:x}"), Format::Text);
        let j = json(&s, &format!("dumparray {addr:x}"));
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
        let elements = j["elements"].as_array().unwrap();
        assert_eq!(rows.len(), elements.len(), "{type_name}");
        assert!(rows.len() > 4);
        for (row, e) in rows.iter().zip(elements) {
            let (index, shown) = row.split_once(' ').unwrap();
            let indices: String =
                e["indices"].as_array().unwrap().iter().map(|i| format!("[{i}]")).collect();
            assert_eq!(index, indices, "{type_name}");
            let want = if shown == "null" { 0 } else { u64::from_str_radix(shown, 16).unwrap() };
            if value_type {
                assert_eq!(hex(&e["address"]), want, "{type_name} {row}");
                assert!(e["value"].is_i64(), "{type_name}: an Int32 element's value is a number");
            } else {
                assert_eq!(hex(&e["value"]), want, "{type_name} {row}");
            }
        }
        let csv = run(&s, &format!("dumparray {addr:x}"), Format::Csv);
        assert_eq!(csv.lines().next(), Some("index,indices,address,value,string"));
        assert_eq!(csv.lines().count(), elements.len() + 1, "{type_name}");
    }

    // A string array's elements carry their text.
    let strings = first_of(&s, "System.String[]");
    let j = json(&s, &format!("dumparray {strings:x}"));
    for e in j["elements"].as_array().unwrap().iter().filter(|e| e["value"] != "0x0").take(5) {
        let target = run(&s, &format!("dumpobj {:x}", hex(&e["value"])), Format::Text);
        assert_eq!(e["string"].as_str(), Some(header(&target, "String:")));
    }
}

/// (address, MT, size) rows of a dumpheap-style listing, from its header to the blank line.
fn text_listing(text: &str) -> Vec<(u64, u64, u64)> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("Address"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = |t: &str| u64::from_str_radix(t, 16).unwrap();
            (hex(f[0]), hex(f[1]), f[2].replace(',', "").parse().unwrap())
        })
        .collect()
}

/// Checks JSON Lines objects then a summary against the text's listing and statistics.
fn check_listing(text: &str, json_lines: &str, what: &str) -> serde_json::Value {
    let listed = text_listing(text);
    let (stats, total_objects, total_bytes) = text_stats(text);
    assert!(!listed.is_empty(), "{what}");
    let lines: Vec<serde_json::Value> = json_lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), listed.len() + 1, "{what}: one line per object, then the summary");
    for (record, (addr, mt, size)) in lines.iter().zip(&listed) {
        assert_eq!((hex(&record["address"]), hex(&record["mt"])), (*addr, *mt), "{what}");
        assert_eq!(record["size"].as_u64(), Some(*size), "{what}");
    }
    let summary = lines.last().unwrap().clone();
    assert_eq!(summary["total_objects"].as_u64(), Some(total_objects), "{what}");
    assert_eq!(summary["total_bytes"].as_u64(), Some(total_bytes), "{what}");
    let rows = summary["statistics"].as_array().unwrap();
    assert_eq!(rows.len(), stats.len(), "{what}");
    for r in rows {
        let (count, size, name) = &stats[&hex(&r["mt"])];
        assert_eq!((r["count"].as_u64(), r["total_size"].as_u64()), (Some(*count), Some(*size)), "{what}");
        assert_eq!(r["type"].as_str(), Some(name.as_str()), "{what}");
    }
    summary
}

#[test]
fn objsize_records_agree_with_text() {
    let s = session();
    let zoo = first_of(&s, "DocProc.Zoo.ZooException");
    let line = format!("objsize {zoo:x}");
    let text = run(&s, &line, Format::Text);
    let summary = check_listing(&text, &run(&s, &line, Format::Json), "objsize");
    assert_eq!(hex(&summary["object"]), zoo);
    assert_eq!(summary["type"].as_str(), Some("DocProc.Zoo.ZooException"));
    let csv = run(&s, &line, Format::Csv);
    assert_eq!(csv.lines().next(), Some("address,mt,size,type,free"));
    assert_eq!(csv.lines().count(), text_listing(&text).len() + 1);
    // -stat: the summary alone.
    let stat = json(&s, &format!("objsize -stat {zoo:x}"));
    assert_eq!(stat, summary);
    let csv = run(&s, &format!("objsize -stat {zoo:x}"), Format::Csv);
    assert_eq!(csv.lines().count(), text_stats(&text).0.len() + 1);
}

#[test]
fn finalizequeue_records_agree_with_text() {
    let s = session();
    let text = run(&s, "finalizequeue", Format::Text);
    let summary = check_listing(&text, &run(&s, "finalizequeue", Format::Json), "finalizequeue");
    let heaps = summary["heaps"].as_array().unwrap();
    assert!(!heaps.is_empty());
    for h in heaps {
        for g in h["generations"].as_array().unwrap() {
            let line = format!(
                "generation {} has {} objects ({:x}->{:x})",
                g["generation"],
                g["count"],
                hex(&g["begin"]),
                hex(&g["end"])
            );
            assert!(text.contains(&line), "{line}");
        }
        let r = &h["ready_for_finalization"];
        let line = format!("Ready for finalization {} objects ({:x}->{:x})", r["count"], hex(&r["begin"]), hex(&r["end"]));
        assert!(text.contains(&line), "{line}");
    }
    let csv = run(&s, "finalizequeue", Format::Csv);
    assert_eq!(csv.lines().count(), text_listing(&text).len() + 1);
    let short = run(&s, "finalizequeue -short", Format::Json);
    assert_eq!(short.lines().count(), text_listing(&text).len(), "-short: address lines only");
}

#[test]
fn gchandles_records_agree_with_text() {
    let s = session();
    let text = run(&s, "gchandles", Format::Text);
    let j = json(&s, "gchandles");
    let rows: Vec<&str> = text.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    let handles = j["handles"].as_array().unwrap();
    assert!(handles.len() > 10);
    assert_eq!(rows.len(), handles.len());
    for (row, h) in rows.iter().zip(handles) {
        let f: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(hex(&h["handle"]), u64::from_str_radix(f[0], 16).unwrap(), "{row}");
        assert!(h["kind"].as_str().unwrap().starts_with(f[1]), "{row}");
        assert_eq!(hex(&h["object"]), u64::from_str_radix(f[2], 16).unwrap(), "{row}");
        assert_eq!(h["size"].as_u64(), Some(f[3].parse().unwrap()), "{row}");
        assert!(row.ends_with(&format!(" {}", h["type"].as_str().unwrap())), "{row}");
        if !h["data"].is_null() {
            assert_eq!(hex(&h["data"]), u64::from_str_radix(f[4], 16).unwrap(), "{row}");
        }
    }
    let (stats, total, _) = text_stats(&text);
    assert_eq!(j["total_objects"].as_u64(), Some(total));
    let rows = j["statistics"].as_array().unwrap();
    assert_eq!(rows.len(), stats.len());
    for r in rows {
        let (count, size, name) = &stats[&hex(&r["mt"])];
        assert_eq!((r["count"].as_u64(), r["total_size"].as_u64()), (Some(*count), Some(*size)));
        assert_eq!(r["type"].as_str(), Some(name.as_str()));
    }
    let counts = j["handle_counts"].as_array().unwrap();
    assert_eq!(counts.iter().map(|c| c["count"].as_u64().unwrap()).sum::<u64>(), handles.len() as u64);
    let csv = run(&s, "gchandles", Format::Csv);
    assert_eq!(csv.lines().next(), Some("handle,kind,object,mt,size,data,type"));
    assert_eq!(csv.lines().count(), handles.len() + 1);
    let stat = json(&s, "gchandles -stat");
    assert!(stat.get("handles").is_none());
    assert_eq!(stat["statistics"], j["statistics"]);
    let csv = run(&s, "gchandles -stat", Format::Csv);
    assert_eq!(csv.lines().count(), stats.len() + 1);
}

#[test]
fn gcroot_records_agree_with_text() {
    let s = session();
    // Objects with handle roots (statics), and one held only by a thread's stack.
    let short = run(&s, "dumpheap -type Zoo.Cat -short", Format::Text);
    let cat = short.lines().next().unwrap().to_string();
    let stack_only = run(&s, "dumpheap -type Zoo.StackOnly -short", Format::Text);
    for target in [cat, stack_only.lines().next().unwrap().to_string()] {
        let text = run(&s, &format!("gcroot {target}"), Format::Text);
        let json: serde_json::Value = serde_json::from_str(&run(&s, &format!("gcroot {target}"), Format::Json)).unwrap();
        let found: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("Found ")?.strip_suffix(" unique roots.")?.parse().ok())
            .unwrap();
        assert_eq!(json["unique_roots"].as_u64(), Some(found));
        assert!(found >= 1, "{target} is rooted");
        let chain_lines: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("-> ")).collect();
        let links: Vec<&serde_json::Value> = json["roots"].as_array().unwrap().iter().flat_map(|r| r["path"].as_array().unwrap()).collect();
        assert_eq!(links.len(), chain_lines.len(), "{target}: one link per chain line");
        for (line, link) in chain_lines.iter().zip(&links) {
            let addr = line.split_whitespace().nth(1).unwrap();
            assert_eq!(hex(&link["address"]), u64::from_str_radix(addr, 16).unwrap());
            assert!(line.contains(link["type"].as_str().unwrap()));
            if let Some(field) = link["static_field"].as_str() {
                assert!(line.ends_with(&format!("(static variable: {field})")), "{line}");
            }
        }
        let last = &links.last().unwrap()["address"];
        assert_eq!(format!("{:x}", hex(last)), target.trim_start_matches('0'));
        let csv = run(&s, &format!("gcroot {target}"), Format::Csv);
        assert_eq!(csv.lines().count(), links.len() + 1);
    }
}

#[test]
fn syncblk_records_agree_with_text() {
    let s = session();
    let text = run(&s, "syncblk", Format::Text);
    let json: serde_json::Value = serde_json::from_str(&run(&s, "syncblk", Format::Json)).unwrap();
    let total: u64 = text.lines().find_map(|l| l.strip_prefix("Total")?.trim().parse().ok()).unwrap();
    assert_eq!(json["total"].as_u64(), Some(total));
    let rows: Vec<&str> = text.lines().skip(1).take_while(|l| !l.starts_with("---")).collect();
    let blocks = json["sync_blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), rows.len());
    assert!(!blocks.is_empty(), "the zoo holds a lock");
    for (row, b) in rows.iter().zip(blocks) {
        let f: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(f[0].parse::<u64>().unwrap(), b["index"].as_u64().unwrap());
        assert_eq!(u64::from_str_radix(f[1], 16).unwrap(), hex(&b["sync_block"]));
        assert_eq!(f[2].parse::<u64>().unwrap(), b["monitor_held"].as_u64().unwrap());
        assert_eq!(f[3].parse::<u64>().unwrap(), b["recursion"].as_u64().unwrap());
        assert!(row.contains(&format!("{:016x}", hex(&b["object"]))));
        assert!(row.ends_with(b["type"].as_str().unwrap()));
    }
}

/// The real binary, with the global option: output parses, and agrees with the text.
#[test]
fn binary_global_format_option() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zoo-net8-wks-heap.dmp.zst");
    let run_bin = |format: &str| {
        let out = common::clrheap()
            .arg("analyze")
            .arg(&path)
            .args(["--format", format, "-c", "dumpheap -stat -type Zoo.Dog", "-c", "eeheap -gc"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let json = run_bin("json");
    let docs: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs.len(), 2, "one JSON document per command");
    let dogs = docs[0]["statistics"].as_array().unwrap().iter().find(|r| r["type"] == "DocProc.Zoo.Dog").unwrap();
    assert_eq!(dogs["count"].as_u64(), Some(209));
    assert!(docs[1]["total_committed_size"].as_u64().unwrap() > 0);
    // CSV is one table per run: two commands would mix two headers in one stream.
    let out = common::clrheap()
        .arg("analyze")
        .arg(&path)
        .args(["--format", "csv", "-c", "dumpheap -stat -type Zoo.Dog", "-c", "eeheap -gc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format csv writes one table per run"));
    let out = common::clrheap()
        .arg("analyze")
        .arg(&path)
        .args(["--format", "csv", "-c", "dumpheap -stat -type Zoo.Dog"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("mt,count,total_size,type\n"));
    assert!(csv.contains(",209,6688,DocProc.Zoo.Dog\n"));
    // In a script, the second command is refused and the first table stands alone.
    let mut child = common::clrheap()
        .arg("analyze")
        .arg(&path)
        .args(["--format", "csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"dumpheap -stat -type Zoo.Dog\neeheap -gc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), csv);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("clrheap: eeheap -gc: --format csv writes one table per run"));
}

#[test]
fn csv_is_a_table_or_refused() {
    // Commands whose answer is a report (leaks, eeversion) or text only (gcwhere,
    // verifyheap) have no CSV form: refused in one line, nothing on the output.
    let s = session();
    let cat = first_of(&s, "DocProc.Zoo.Cat");
    for line in ["leaks".to_string(), "eeversion".to_string(), format!("gcwhere {cat:x}"), "verifyheap".to_string()] {
        let mut out = Vec::new();
        let e = s.execute_as(&line, Format::Csv, &mut out).expect_err(&line);
        let name = line.split(' ').next().unwrap();
        assert_eq!(format!("{e:#}"), format!("{name} has no CSV form: use --format json or text"), "{line}");
        assert!(out.is_empty(), "{line}: {}", String::from_utf8_lossy(&out));
    }
    // Every command's exercise line with --format csv: a header row first, or refused.
    for line in clrheap::fuzzing::command_lines(&[cat, cat, cat, cat, cat]) {
        let mut out = Vec::new();
        match s.execute_as(&line, Format::Csv, &mut out) {
            Ok(()) => {
                let text = String::from_utf8_lossy(&out);
                let first = text.lines().next().unwrap_or("");
                assert!(!first.starts_with('{') && !first.starts_with('['), "{line}: JSON under --format csv: {first}");
            }
            Err(e) => assert!(out.is_empty() || !format!("{e:#}").contains("no CSV form"), "{line}"),
        }
    }
}

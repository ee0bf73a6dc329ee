//! JSON and CSV output, parsed back and checked against the text output's numbers.
use clrheap::commands::output::Format;
use clrheap::commands::Session;
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
    let listed: Vec<(u64, u64, u64)> = text
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = |t: &str| u64::from_str_radix(t, 16).unwrap();
            (hex(f[0]), hex(f[1]), f[2].replace(',', "").parse().unwrap())
        })
        .collect();
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

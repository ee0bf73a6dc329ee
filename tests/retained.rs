//! `retained` (clrheap's own): dominators and retained sizes on a real dump.
use clrheap::render::Format;
use clrheap::Session;
use clrheap::dump::DumpOptions;
use clrheap::graph::dominators::Dominators;
use std::path::Path;

fn seed() -> Session {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seed-net10-wks-heap.dmp.zst");
    Session::open(&path, &DumpOptions { dump_only: true, ..Default::default() }).expect("open fixture")
}

#[test]
fn retained_sizes_add_up_to_the_live_heap() {
    let s = seed();
    let graph = s.graph().unwrap();
    let dom = s.dominators().unwrap();
    let live = s.liveness().unwrap();
    // Objects dominated only by the roots partition the live heap.
    let mut top_level = 0u64;
    let mut live_bytes = 0u64;
    let mut reachable = 0usize;
    for id in 0..graph.len() as u32 {
        let is_live = live.is_live(graph.address(id));
        assert_eq!(dom.immediate_dominator(id).is_some(), is_live, "reachable == live for {:x}", graph.address(id));
        if is_live {
            live_bytes += graph.size(id);
            reachable += 1;
            assert!(dom.retained_size(id) >= graph.size(id));
        }
        if dom.immediate_dominator(id) == Some(Dominators::ROOT) {
            top_level += dom.retained_size(id);
        }
    }
    assert_eq!(top_level, live_bytes);
    assert_eq!(reachable, dom.reachable());
}

#[test]
fn the_cache_dominates_its_entries() {
    let s = seed();
    let graph = s.graph().unwrap();
    let dom = s.dominators().unwrap();
    let heap = &s.heap;
    let name = |id: u32| heap.type_name(graph.mt(id)).to_string();
    let dictionary = (0..graph.len() as u32)
        .find(|&id| name(id).starts_with("System.Collections.Concurrent.ConcurrentDictionary<System.String, DocProc.Infrastructure.Cache.DocumentCacheEntry>") && !name(id).contains('+'))
        .expect("the cache's dictionary");
    let entries: Vec<u32> = (0..graph.len() as u32).filter(|&id| name(id) == "DocProc.Infrastructure.Cache.DocumentCacheEntry").collect();
    assert!(entries.len() > 1000);
    for &e in &entries {
        let mut cur = dom.immediate_dominator(e);
        let mut found = false;
        while let Some(d) = cur {
            if d == dictionary {
                found = true;
                break;
            }
            if d == Dominators::ROOT {
                break;
            }
            cur = dom.immediate_dominator(d);
        }
        assert!(found, "entry {:x} is kept alive by the cache alone", graph.address(e));
    }
    let entry_bytes: u64 = entries.iter().map(|&e| dom.retained_size(e)).sum();
    assert!(dom.retained_size(dictionary) > entry_bytes, "the dictionary retains its entries");

    // The command agrees, and its JSON parses.
    let mut out = Vec::new();
    s.execute_as("retained -top 3", Format::Json, &mut out).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let tops = json["objects"].as_array().unwrap();
    assert_eq!(tops.len(), 3);
    let dict_addr = format!("{:#x}", graph.address(dictionary));
    assert!(tops.iter().any(|t| t["address"] == dict_addr.as_str()), "the cache is among the biggest retainers");
    let mut text = Vec::new();
    s.execute(&format!("retained {:x}", graph.address(entries[0])), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("Retained size:"), "{text}");
    assert!(text.contains(&format!("{:x}", graph.address(dictionary))), "{text}");

    // The table: numbers right-aligned, the type last and unpadded (a long generic name
    // widens only its own row).
    let mut text = Vec::new();
    s.execute("retained -top 20", &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].trim_start().starts_with("Address") && rows[0].ends_with(" Retained Type"), "{text}");
    assert!(rows.iter().all(|l| !l.ends_with(' ') && !l.contains('|')), "{text}");
    let widths: Vec<usize> = rows.iter().map(|l| l.len()).collect();
    assert!(widths.iter().min() < widths.iter().max(), "rows end with their own names:\n{text}");
}

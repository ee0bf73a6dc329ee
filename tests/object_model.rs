//! The object model (`heap::object`, `heap::array`, `runtime::threads`) against what the
//! real tools say about the lab's dumps: ClrMD's object sizes and array shapes
//! (`objects.tsv`, `types.tsv`), dotnet-dump's `clrthreads` (thread state, allocation
//! context, last exception), `printexception` and `dumpdelegate`.
mod common;

use clrheap::dump::{open_dump, DumpOptions};
use clrheap::heap::{Heap, ObjectAddr};
use clrheap::runtime::Runtime;
use std::path::Path;
use std::sync::Arc;

fn open(dump: &Path) -> Heap {
    let space = open_dump(dump, &DumpOptions::default()).expect("open the dump");
    Heap::open(Runtime::discover(Arc::new(space)).expect("a runtime")).expect("a heap")
}

fn lab_dump(name: &str) -> Option<std::path::PathBuf> {
    let dump = common::lab_dir()?.join("dumps").join(format!("{name}.dmp"));
    dump.exists().then_some(dump)
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("hex: {s:?}"))
}

/// Every object ClrMD lists is an object to the model, of ClrMD's MethodTable and size
/// (the DAC's size, but at least 24 as ClrMD reports it), and every array's shape fits
/// its memory.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn objects_have_clrmd_sizes_and_arrays_fit() {
    for name in ["zoo-net8-wks-heap", "zoo-net9-wks-heap", "zoo-net10-wks-heap", "seed-net10-svr-heap"] {
        let Some(dump) = lab_dump(name) else { continue };
        let truth = dump.with_file_name(format!("{name}.truth"));
        let heap = open(&dump);
        let types: std::collections::HashMap<u64, Vec<String>> = common::read_tsv(&truth.join("types.tsv"))
            .into_iter()
            .map(|r| (hex(&r[0]), r))
            .collect();
        let mut arrays = 0;
        for row in common::read_tsv(&truth.join("objects.tsv")) {
            let (addr, mt, size) = (hex(&row[0]), hex(&row[1]), row[2].parse::<u64>().unwrap());
            let o = heap.object(ObjectAddr(addr)).unwrap_or_else(|| panic!("{name}: {addr:x} is no object"));
            assert_eq!(o.mt(), mt, "{name}: {addr:x}");
            assert_eq!(o.size().unwrap().max(24), size, "{name}: {addr:x}");
            let t = &types[&mt];
            if t[5] == "True" {
                arrays += 1;
                let a = o.array().unwrap();
                assert_eq!(a.capacity(), a.length as u64, "{name}: {addr:x} does not fit");
                let first = if a.rank == 1 { a.lower_bounds[0] as u64 } else { 0 };
                assert_eq!(a.elements(first, None).count() as u64, a.length as u64, "{name}: {addr:x}");
                assert_eq!(a.component_size as u64, t[4].parse::<u64>().unwrap());
                if a.rank > 1 {
                    assert_eq!(a.lengths.iter().map(|&l| l as u64).product::<u64>(), a.length as u64);
                }
            } else {
                assert!(o.array().is_err(), "{name}: {addr:x}");
            }
        }
        assert!(arrays > 100, "{name}: only {arrays} arrays");
    }
}

/// One row of dotnet-dump's `clrthreads`: (OS id, `Thread*`, state, alloc context, the
/// last exception's address).
fn clrthreads_rows(text: &str) -> Vec<(u32, u64, u32, Option<(u64, u64)>, Option<u64>)> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || f[0].parse::<u32>().is_err() || f[1].parse::<u32>().is_err() {
            continue;
        }
        let (ptr, limit) = f[6].split_once(':').unwrap();
        let alloc = (hex(ptr) != 0).then(|| (hex(ptr), hex(limit)));
        let exception = (f.len() >= 12 && !f[10].starts_with('('))
            .then(|| u64::from_str_radix(f[f.len() - 1], 16).ok())
            .flatten();
        rows.push((hex(f[2]) as u32, hex(f[3]), hex(f[4]) as u32, alloc, exception));
    }
    rows
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn threads_match_clrthreads() {
    let mut checked = 0;
    for name in ["ops-net8-wks-heap", "ops-net9-wks-heap", "ops-net10-wks-heap"] {
        let Some(dump) = lab_dump(name) else { continue };
        let text = std::fs::read_to_string(dump.with_file_name(format!("{name}.truth/sos/clrthreads.txt"))).unwrap();
        let rows = clrthreads_rows(&text);
        let heap = open(&dump);
        assert_eq!(rows.len(), heap.threads.len(), "{name}");
        let mut exceptions = 0;
        for (os_id, thread, state, alloc, exception) in rows {
            let t = heap.threads.iter().find(|t| t.os_id == os_id).unwrap_or_else(|| panic!("{name}: {os_id:x}"));
            assert_eq!(t.address, thread, "{name}: {os_id:x}");
            assert_eq!(t.state, Some(state), "{name}: {os_id:x}");
            if let Some(alloc) = alloc {
                assert_eq!(t.alloc_context, Some(alloc), "{name}: {os_id:x}");
            }
            assert_eq!(t.last_exception(&heap.runtime), exception, "{name}: {os_id:x}");
            exceptions += exception.is_some() as usize;
            assert!(heap.runtime.thread_stack_pointer(os_id).is_some_and(|sp| sp != 0), "{name}: {os_id:x}");
            assert!(heap.runtime.debugger_thread_index(os_id).is_some());
            checked += 1;
        }
        assert_eq!(exceptions, 2, "{name}");
    }
    eprintln!("{checked} threads checked");
}

/// `printexception` on zoo's ZooException: its message, inner exception, HResult and
/// recorded frame (SP and IP as dotnet-dump printed them).
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn exceptions_read_as_printexception() {
    let cases = [
        ("zoo-net8-wks-heap", 0x7f605e80be40u64, 0x7f605e80bd70u64, (0x7FFF8CBBD440u64, 0x7FA076243AF8u64)),
        ("zoo-net10-wks-heap", 0x7f998580c5b0, 0x7f998580c4e8, (0x7FFE9C1B63E0, 0x7FA55F083D6A)),
    ];
    for (name, addr, inner, (sp, ip)) in cases {
        let Some(dump) = lab_dump(name) else { continue };
        let heap = open(&dump);
        let e = heap.object(ObjectAddr(addr)).unwrap().exception().expect("an exception");
        assert_eq!(e.message(1024).as_deref(), Some("outer failure"));
        assert_eq!(e.inner(), Some(ObjectAddr(inner)));
        assert_eq!(e.inner_chain(), vec![ObjectAddr(inner)]);
        assert_eq!(e.hresult(), Some(0x80131509u32 as i32));
        assert_eq!(e.stack_trace_string(1024), None);
        let trace = e.stack_trace();
        assert_eq!(trace.len(), 1, "{name}");
        assert_eq!((trace[0].sp, trace[0].ip), (sp, ip), "{name}");
        assert_eq!(heap.method_desc_name(trace[0].method_desc).as_deref(), Some("DocProc.Zoo.Zoo.BuildTypes()"));
        let arg = heap.object(ObjectAddr(inner)).unwrap().exception().unwrap();
        assert_eq!(arg.inner(), None);
        assert!(heap.object(ObjectAddr(inner)).unwrap().string_field("_message", 64).is_some());
        // Not an exception.
        assert!(heap.object(e.object().reference_field("_message").unwrap()).unwrap().exception().is_none());
    }
}

/// `dumpdelegate` on zoo-net8's delegates: the target and the MethodDesc called (through
/// a FixupPrecode, a static method's shuffle thunk, and JIT-compiled code).
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn delegates_read_as_dumpdelegate() {
    let Some(dump) = lab_dump("zoo-net8-wks-heap") else { return };
    let heap = open(&dump);
    for (addr, target, md, name) in [
        (0x7f605e80b788u64, 0x7f605e80a660u64, 0x7fa0763fafd0u64, "DocProc.Zoo.Zoo+<>c__DisplayClass2_0.<BuildTypes>b__0(Int32)"),
        (0x7f605e80b7e8, 0x7f605e80a660, 0x7fa0763fafe8, "DocProc.Zoo.Zoo+<>c__DisplayClass2_0.<BuildTypes>b__1()"),
        (0x7f6060c02128, 0x7f6060c02128, 0x7fa076770c58, "System.Threading.ManualResetEventSlim.CancellationTokenCallback(System.Object)"),
    ] {
        let d = heap.object(ObjectAddr(addr)).unwrap().delegate().expect("a delegate");
        assert_eq!(d.target, ObjectAddr(target), "{addr:x}");
        assert!(d.invocation_list.is_empty());
        assert_eq!(heap.delegate_method(&d), Some(md), "{addr:x}");
        assert_eq!(heap.method_desc_name(md).as_deref(), Some(name));
    }
    let not = heap.object(ObjectAddr(0x7f605e80a660)).unwrap();
    assert!(not.delegate().is_none());
}

/// Strings, boxed values and headers on zoo-net8.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn strings_boxes_and_headers() {
    let Some(dump) = lab_dump("zoo-net8-wks-heap") else { return };
    let heap = open(&dump);
    // The object locked by the parked thread has a sync block (index 1), not a thin lock.
    let locked = heap.object(ObjectAddr(0x7f6060c020f8)).unwrap();
    assert_eq!(locked.header().unwrap().sync_block_index(), Some(1));
    assert_eq!(locked.thin_lock(), None);
    // A string: its length and its text (non-ASCII kept).
    let mut non_ascii = 0;
    let (objects, _) = heap.objects();
    for o in objects.iter().filter(|o| o.mt == heap.runtime.globals.string_mt) {
        let s = heap.object(ObjectAddr(o.address)).unwrap();
        let text = s.string(usize::MAX).unwrap();
        assert_eq!(text.encode_utf16().count() as u32, s.string_length().unwrap());
        non_ascii += !text.is_ascii() as usize;
    }
    assert!(non_ascii > 0);
    // Fields by name, by offset, static.
    let tuple = objects
        .iter()
        .find(|o| heap.type_name(o.mt).as_ref() == "System.Tuple<System.Int32, System.String>")
        .map(|o| heap.object(ObjectAddr(o.address)).unwrap())
        .expect("a Tuple<int, string>");
    let item1 = tuple.field("m_Item1").unwrap();
    assert_eq!(tuple.field_at_offset(item1.object_offset()).unwrap().name, "m_Item1");
    assert_eq!(tuple.field_at_offset(item1.object_offset() + 2).unwrap().name, "m_Item1");
    assert_eq!(tuple.field_value("m_Item1"), Some(clrheap::heap::Value::I4(1)));
    let text = tuple.reference_field("m_Item2").and_then(|a| heap.object(a)).unwrap();
    assert!(text.is_string());
    let empty = text.static_field_value("Empty").and_then(|v| v.reference()).expect("String.Empty");
    assert_eq!(heap.object(ObjectAddr(empty)).unwrap().string(16).unwrap(), "");
    assert!(tuple.field("Empty").is_none() && text.field("Empty").is_none());
    // A struct field of an object: read through its ValueObject.
    let inner = objects
        .iter()
        .find(|o| heap.type_name(o.mt).as_ref() == "DocProc.Zoo.Outer<DocProc.Domain.DocumentMetadata>+Inner<DocProc.Zoo.Point>")
        .map(|o| heap.object(ObjectAddr(o.address)).unwrap())
        .expect("an Inner<Point>");
    let right = inner.field("Right").unwrap();
    let Some(clrheap::heap::Value::Struct(data)) = inner.field_value("Right") else { panic!("Right is a struct") };
    let point = clrheap::heap::ValueObject::new(&heap, heap.field_type_mt(&right.desc).unwrap(), data);
    assert!(point.field_value("X").is_some() && point.field_value("Y").is_some());
    assert_eq!(inner.field_at_offset(right.object_offset() + 4).unwrap().name, "Right");
    // Hostile addresses are no objects.
    for a in [0, 1, 8, u64::MAX - 7, 0x7f605e80be41] {
        assert!(heap.object(ObjectAddr(a)).is_none(), "{a:x}");
    }
}

/// On arm64 a delegate's code is a FixupPrecode (`ldr x11; br x11; dmb; ldr x12`): its
/// MethodDesc is found as on x64 (zoo-arm64's CancellationTokenSource callback, the same
/// delegate x64's zoo has).
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn arm64_delegates_name_their_method() {
    let Some(dump) = lab_dump("zoo-arm64-wks-full") else { return };
    let heap = open(&dump);
    let d = heap.object(ObjectAddr(0x556ac21000)).unwrap().delegate().expect("a delegate");
    let md = heap.delegate_method(&d).expect("its MethodDesc");
    assert_eq!(md, 0x5504f10fe0);
    assert_eq!(heap.method_desc_name(md).as_deref(), Some("System.Threading.ManualResetEventSlim.CancellationTokenCallback(System.Object)"));
}

//! `clrheap report`: the page is one self-contained file, and a real browser (headless
//! Chromium, Debian's `chromium`) loads it with no console message, no error and no
//! network request, and shows the leaks' owners, the treemap and the growth.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// The browser, if installed (CI installs it: `.ci/run`; there a missing one fails).
fn chromium() -> Option<&'static str> {
    for b in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Some(b);
        }
    }
    if std::env::var("CLRHEAP_REQUIRE_LAB").as_deref() == Ok("1") {
        panic!("report: headless Chromium is required (CLRHEAP_REQUIRE_LAB=1) and none is installed");
    }
    eprintln!("report: no chromium installed: the browser checks are skipped");
    None
}

fn headless(browser: &str, args: &[&str], page: &Path) -> (String, String) {
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn make(dumps: &[PathBuf], out: &Path) -> String {
    let run = common::clrheap().arg("report").args(dumps).arg("-o").arg(out).output().unwrap();
    // Exit 3: the fixtures leave out pages the warnings name; the page is complete.
    assert!(matches!(run.status.code(), Some(0 | 3)), "{}", String::from_utf8_lossy(&run.stderr));
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn report_opens_in_a_browser_with_no_error_and_no_request() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-test");
    std::fs::create_dir_all(&dir).unwrap();
    let dumps: Vec<PathBuf> = [1000, 2000, 3000].iter().map(|n| fixture(&format!("leaks/seed-net10-r{n}.dmp.zst"))).collect();
    let page = dir.join("seed-growth.html");
    let html = make(&dumps, &page);
    // Self-contained: nothing the browser would fetch.
    for bad in ["src=\"http", "href=\"http", "src='http", "@import", "url(http", "<link"] {
        assert!(!html.contains(bad), "{bad} in the page");
    }
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));

    let Some(browser) = chromium() else { return };
    let (dom, log) = headless(browser, &["--dump-dom"], &page);
    // No console message at all (errors, CSP violations would be one), no resource loaded.
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(dom.contains("data-ready=\"1\""), "the page's script did not finish:\n{}", &dom[..dom.len().min(2000)]);
    assert!(dom.contains("data-errors=\"0\""));
    assert!(dom.contains("data-resources=\"0\""));
    // The content, through the DOM the script built.
    assert!(dom.contains("#1 DocumentCache._entries (static, ConcurrentDictionary&lt;String, DocumentCacheEntry&gt;, 12,000 entries)"), "no cache owner");
    assert!(dom.contains("#2 DocumentEventBus.DocumentProcessed (event, EventHandler&lt;DocumentProcessedEvent&gt;)"), "no event owner");
    assert!(dom.matches("class=\"cell").count() >= 3, "treemap cells");
    let growing = dom.find("class=\"growing-type\"").expect("growth table");
    assert!(dom[growing..].find("DocumentCacheEntry").unwrap() < dom[growing..].find("RequestTracingMiddleware").unwrap());
    assert!(dom.contains("<polyline"), "growth charts");

    // Click to zoom, through the page's own handlers: a copy of the page with a script
    // that clicks the biggest zoomable cell, then the first crumb, and notes what it saw.
    let clicked = dir.join("seed-growth-zoom.html");
    std::fs::write(&clicked, html.replacen("</body>", ZOOM_PROBE, 1)).unwrap();
    let (dom, log) = headless(browser, &["--dump-dom"], &clicked);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(dom.contains("data-zoom-ok=\"1\""), "the zoom probe did not run:\n{}", &dom[..dom.len().min(3000)]);
    let attr = |name: &str| -> String {
        let start = dom.find(&format!("data-{name}=\"")).unwrap_or_else(|| panic!("data-{name}")) + name.len() + 7;
        let end = start + dom[start..].find('"').unwrap();
        dom[start..end].replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
    };
    let (before, into, after) = (attr("crumbs-before"), attr("crumbs-zoomed"), attr("crumbs-out"));
    let cell = attr("zoom-cell");
    // The biggest group under the statics is the cache; clicking it zooms into its
    // dominator subtree, stepping through the levels one group fills (the dictionary's
    // tables, bucket array, nodes: each a crumb) to where it splits by type.
    assert!(cell.starts_with("ConcurrentDictionary<String, DocumentCacheEntry>"), "clicked {cell:?}");
    let crumbs_before: Vec<&str> = before.split('\u{203a}').map(str::trim).collect();
    let crumbs_into: Vec<&str> = into.split('\u{203a}').map(str::trim).collect();
    assert!(crumbs_into.len() > crumbs_before.len(), "{before:?} -> {into:?}");
    assert_eq!(crumbs_into[..crumbs_before.len()], crumbs_before[..], "the path kept");
    assert!(crumbs_into[crumbs_before.len()].starts_with("ConcurrentDictionary<String, DocumentCacheEntry> ("), "{into:?}");
    let zoomed = attr("cell-names-zoomed");
    assert!(zoomed.split('|').any(|n| n == "DocProc.Infrastructure.Cache.DocumentCacheEntry"), "{zoomed}");
    let cells: usize = attr("cells-zoomed").parse().unwrap();
    assert!(cells >= 2, "{cells} cells in the zoomed view: {zoomed}");
    assert_ne!(attr("cell-names-before"), zoomed);
    assert_eq!(attr("cells-inside"), "1", "cells within the treemap's box: {}", dom.find("data-outside").map(|i| &dom[i..i + 300]).unwrap_or(""));
    // The first crumb leads back to the whole heap.
    assert_eq!(after.matches('\u{203a}').count(), 0, "{after:?}");
    assert!(after.starts_with("live heap"), "{after:?}");

    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    headless(browser, &["--window-size=1280,1400", &format!("--screenshot={}", shot.display())], &page);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "screenshot");
}

/// Appended to the page in the zoom check: clicks as a user would, records what it saw.
const ZOOM_PROBE: &str = r#"<script>
(function () {
  var b = document.body.dataset, tm = document.getElementById("treemap"), crumbs = document.getElementById("crumbs");
  function names() { return Array.prototype.map.call(tm.querySelectorAll(".cell"), function (c) { return c.title.split("\n")[0]; }).join("|"); }
  b.crumbsBefore = crumbs.textContent;
  b.cellNamesBefore = names();
  var cell = tm.querySelector(".cell.zoom");
  if (!cell) return;
  b.zoomCell = cell.textContent || cell.title.split("\n")[0];
  cell.click();
  b.crumbsZoomed = crumbs.textContent;
  b.cellNamesZoomed = names();
  var cells = tm.querySelectorAll(".cell"), box = tm.getBoundingClientRect(), inside = true;
  b.cellsZoomed = cells.length;
  Array.prototype.forEach.call(cells, function (c) {
    var r = c.getBoundingClientRect();
    if (r.left < box.left - 1 || r.top < box.top - 1 || r.right > box.right + 1 || r.bottom > box.bottom + 1) { inside = false; b.outside = [c.title.split("\n")[0], r.left, r.top, r.right, r.bottom, box.left, box.top, box.right, box.bottom].join(" "); }
  });
  b.cellsInside = inside ? "1" : "0";
  var first = crumbs.querySelector("a");
  if (first) first.click();
  b.crumbsOut = crumbs.textContent;
  b.zoomOk = "1";
})();
</script>
</body>"#;

#[test]
fn report_of_one_dump_has_no_growth_section() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-test");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("seed.html");
    make(&[fixture("seed-net10-wks-heap.dmp.zst")], &page);
    let Some(browser) = chromium() else { return };
    let (dom, log) = headless(browser, &["--dump-dom"], &page);
    assert!(!log.lines().any(|l| l.contains("CONSOLE")), "{log}");
    assert!(dom.contains("data-ready=\"1\"") && dom.contains("data-resources=\"0\""));
    assert!(dom.contains("<section id=\"growth\" hidden"));
    assert!(dom.contains("20,000 entries"));
}

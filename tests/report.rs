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

    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    headless(browser, &["--window-size=1280,1400", &format!("--screenshot={}", shot.display())], &page);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "screenshot");
}

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

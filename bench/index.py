#!/usr/bin/env python3
"""The index on disk, measured: on one dump, each graph command without the index
(`--no-index`), in a first session (empty cache: it computes and writes the index) and in
a second one (it reads the index), with whole-run time and peak private memory (RssAnon,
as bench.py samples it). The cache goes to a temporary XDG_CACHE_HOME, removed at the end.

    bench/index.py [--runs N] [--only live,gcroot,leaks,retained] DUMP
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--only", default="live,gcroot,leaks,retained")
    ap.add_argument("--clrheap", default=bench.CLRHEAP)
    a = ap.parse_args()
    exe, dump = a.clrheap, a.dump
    cache = tempfile.mkdtemp(prefix="clrheap-index-bench-")
    os.environ["XDG_CACHE_HOME"] = cache
    os.environ.pop("CLRHEAP_NO_INDEX", None)
    target = subprocess.run([exe, "--no-index", "analyze", dump, "-c", "dumpheap -type Customer -short"],
                            capture_output=True, text=True).stdout.split()
    target = target[0] if target else "0"
    commands = {
        "live": "dumpheap -live -stat",
        "gcroot": f"gcroot {target}",
        "leaks": "leaks",
        "retained": "retained -top 10",
    }
    bench.measure(["cat", dump], 1)  # warm the page cache
    rows = []
    try:
        for key in a.only.split(","):
            c = commands[key]
            print(f"  {c} ...", file=sys.stderr, flush=True)
            shutil.rmtree(cache, ignore_errors=True)
            os.makedirs(cache)
            off = bench.measure([exe, "--no-index", "analyze", dump, "-c", c], a.runs)
            # First session: each run starts from an empty cache.
            walls, peaks = [], []
            for _ in range(a.runs):
                shutil.rmtree(cache, ignore_errors=True)
                os.makedirs(cache)
                w, m = bench.measure([exe, "analyze", dump, "-c", c], 1)
                walls.append(w)
                peaks.append(m)
            first = (sorted(walls)[len(walls) // 2], max(peaks))
            second = bench.measure([exe, "analyze", dump, "-c", c], a.runs)
            extra = ""
            if key == "gcroot":
                # A second session after `leaks` wrote the edges: its first search uses them.
                subprocess.run([exe, "analyze", dump, "-c", "leaks"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                third = bench.measure([exe, "analyze", dump, "-c", c], a.runs)
                extra = f"; with the edges indexed: {bench.fmt_s(third[0])}, {bench.fmt_mb(third[1])}"
            size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(cache) for f in fs)
            rows.append((c, off, first, second, size, extra))
            print(f"    --no-index {off}, first {first}, second {second}{extra}, {size / 2**20:,.0f} MB on disk",
                  file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print(f"\ndump: {dump} ({os.path.getsize(dump) / 2**30:.2f} GiB); {os.cpu_count()} cores; "
          f"median of {a.runs} runs; memory = peak RssAnon\n")
    print("| command | --no-index | first session (writes the index) | second session (reads it) | index on disk |")
    print("|---|---|---|---|---|")
    for c, off, first, second, size, extra in rows:
        f = lambda x: f"{bench.fmt_s(x[0])}, {bench.fmt_mb(x[1])}"
        print(f"| `{c}` | {f(off)} | {f(first)} | {f(second)}{extra} | {size / 2**20:,.0f} MB |")


if __name__ == "__main__":
    main()

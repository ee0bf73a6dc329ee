#!/usr/bin/env python3
"""The benchmark of README's Performance section: clrheap, ClrMD and dotnet-dump on one dump.

    bench/run.sh [--runs N] [--no-sos] [--no-clrmd] [--mb MB] [--gc MODE] [DUMP]

Without DUMP, makes (once) a .NET 10 heap dump of the lab's `big --mb MB` scenario (1024 by
default; GC mode `wks`, or `svr`...) under $CLRHEAP_BENCH_DIR (default /tmp/clrheap-bench).

Each clrheap figure is a whole process (`clrheap analyze DUMP -c ...`): wall-clock seconds,
the median of N runs (3 by default) after the page cache is warm, and the peak *private*
memory (RssAnon, sampled every 5 ms from /proc/PID/status: the mapped dump is page cache,
not a cost of the tool), in three settings: a *first session* (the index cache is emptied
before every run, so each run computes the graph and writes the index, as a user's first
command on a dump does), a *second session* (the index a first session wrote is read), and
`--no-index`. The cache is a temporary XDG_CACHE_HOME, removed at the end. A warm `gcroot`
is the third of three in one process (the second builds the edge arrays), in a first
session, as the process itself times it (`analyze --timings`): of the same target (the
session keeps the last target's ancestors) and of a new one after two of another object. ClrMD's figures are its own
timings (`oracle bench`: open, heap walk, roots, mark); dotnet-dump's are whole runs of
`sos DUMP -c CMD`, once.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.path.join(ROOT, "..", "shared", "lab", "bin")
if not os.path.isdir(LAB):
    LAB = "/work/shared/lab/bin"
CLRHEAP = os.path.join(ROOT, "target", "release", "clrheap")


def rss_anon_kb(pid):
    """RssAnon of a process and its descendants, in kB (0 once they are gone)."""
    total = 0
    todo = [pid]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        total += int(line.split()[1])
                        break
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return total


def run_once(cmd):
    """(wall seconds, peak RssAnon MB, exit status) of one run; output thrown away."""
    peak = 0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_anon_kb(proc.pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status = proc.wait()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    return wall, peak / 1024, status


def clear_index():
    """Empties the index cache (a first session follows)."""
    cache = os.environ.get("XDG_CACHE_HOME")
    if cache:
        shutil.rmtree(os.path.join(cache, "clrheap"), ignore_errors=True)


def measure(cmd, runs, before=None):
    """Median wall seconds and the largest peak RssAnon (MB) over `runs` runs; `before`
    is called before each run."""
    walls, peaks = [], []
    for _ in range(runs):
        if before:
            before()
        wall, peak, status = run_once(cmd)
        if status != 0:
            print(f"  note: exit status {status}: {' '.join(cmd)}", file=sys.stderr)
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), max(peaks)


def fmt_s(s):
    return "-" if s is None else (f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s")


def fmt_mb(mb):
    return "-" if mb is None else f"{mb:,.0f} MB"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump", nargs="?")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--gc", default="wks")
    ap.add_argument("--no-sos", action="store_true", help="skip the real dotnet-dump (slow)")
    ap.add_argument("--no-clrmd", action="store_true", help="skip ClrMD's timings")
    ap.add_argument("--only", help="comma-separated clrheap rows to run (stat,live,gcroot,warm,warmnew,leaks,retained,diff)")
    ap.add_argument("--clrheap", help="the clrheap binary (default: build this checkout's)")
    a = ap.parse_args()
    exe = a.clrheap or CLRHEAP
    cache = tempfile.mkdtemp(prefix="clrheap-bench-index-")
    os.environ["XDG_CACHE_HOME"] = cache
    os.environ.pop("CLRHEAP_NO_INDEX", None)
    try:
        run(a, exe)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run(a, exe):

    dump = a.dump
    if not dump:
        d = os.environ.get("CLRHEAP_BENCH_DIR", "/tmp/clrheap-bench")
        dump = os.path.join(d, f"big{a.mb}-net10-{a.gc}-heap.dmp")
        if not os.path.exists(dump):
            os.makedirs(d, exist_ok=True)
            subprocess.run([os.path.join(LAB, "make-dump"), "--runtime", "10", "--gc", a.gc, "--type", "heap",
                            "-o", dump, "big", "--mb", str(a.mb)], check=True)
    if not a.clrheap:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)

    size = os.path.getsize(dump)
    cat = measure(["cat", dump], a.runs)  # also warms the page cache
    target = subprocess.run([exe, "--no-index", "analyze", dump, "-c", "dumpheap -type Customer -short"],
                            capture_output=True, text=True).stdout.split()
    # A second object for the warm search of a new target (the session keeps the last
    # target's ancestors, so a repeated target is cheaper than a new one).
    other = target[1] if len(target) > 1 else "0"
    target = target[0] if target else "0"
    ch = lambda *cmds: [exe, "analyze", dump] + [x for c in cmds for x in ("-c", c)]
    rows = [
        ("stat", "dumpheap -stat", ch("dumpheap -stat")),
        ("live", "dumpheap -live -stat", ch("dumpheap -live -stat")),
        ("gcroot", f"gcroot (cold, one process)", ch(f"gcroot {target}")),
        ("warm", "gcroot (warm: a third one in the process)", None),
        ("warmnew", "gcroot (warm, a new target: after two of another object)", None),
        ("leaks", "leaks", ch("leaks")),
        ("retained", "retained -top 10", ch("retained -top 10")),
        ("diff", "diff --live (the dump against itself)", [exe, "diff", "--live", dump, dump]),
    ]
    only = set(a.only.split(",")) if a.only else None
    results = {}
    for key, label, cmd in rows:
        if only and key not in only:
            continue
        print(f"  clrheap {label} ...", file=sys.stderr)
        if key in ("warm", "warmnew"):
            # The second gcroot of a session builds the edges; the third is the warm one,
            # timed inside the process (`--timings`): of the same target, or (warmnew) of
            # the target after two of another object.
            warm = []
            first_two = target if key == "warm" else other
            for _ in range(a.runs):
                clear_index()
                cmd = [exe, "analyze", "--timings", dump] + [
                    x for t in (first_two, first_two, target) for x in ("-c", f"gcroot {t}")]
                err = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
                times = [float(l.rsplit(": ", 1)[1].split()[0]) for l in err.splitlines()
                         if l.startswith("clrheap: gcroot ") and l.endswith(" ms")]
                if len(times) == 3:
                    warm.append(times[2] / 1000)
            results[key] = ((statistics.median(warm) if warm else None, None), None, None)
        else:
            first = measure(cmd, a.runs, clear_index)
            # The last first session left its index: the next runs are second sessions.
            second = measure(cmd, a.runs)
            no_index = measure(cmd[:1] + ["--no-index"] + cmd[1:], a.runs)
            results[key] = (first, second, no_index)

    clrmd = {}
    if not a.no_clrmd:
        print("  ClrMD (oracle bench) ...", file=sys.stderr)
        out = subprocess.run([os.path.join(LAB, "oracle"), "bench", dump], capture_output=True, text=True).stdout
        try:
            clrmd = json.loads(out)
        except ValueError:
            print("  note: oracle bench gave no JSON", file=sys.stderr)
    sos = {}
    if not a.no_sos:
        for key, c in (("stat", "dumpheap -stat"), ("live", "dumpheap -live -stat"), ("gcroot", f"gcroot {target}")):
            if only and key not in only:
                continue
            print(f"  dotnet-dump {c} ...", file=sys.stderr)
            sos[key] = measure([os.path.join(LAB, "sos"), dump, "-c", c], 1)

    ms = lambda k: clrmd.get(k, 0) / 1000
    clrmd_s = {}
    if clrmd:
        clrmd_s["stat"] = ms("open_ms") + ms("dumpheap_stat_ms")
        clrmd_s["live"] = ms("open_ms") + ms("roots_ms") + ms("live_ms")
    objects = clrmd.get("objects")
    print()
    print(f"dump: {dump}: {size / 2**30:.2f} GiB" + (f", {objects:,} objects" if objects else "") +
          f"; {os.cpu_count()} cores; median of {a.runs} runs; memory = peak RssAnon")
    print(f"target of gcroot: {target}")
    print()
    both = lambda r: "-" if r is None else fmt_s(r[0]) + ("" if r[1] is None else ", " + fmt_mb(r[1]))
    print("| operation | clrheap, first session | second session | `--no-index` | ClrMD (in-process) | dotnet-dump (whole run) |")
    print("|---|---|---|---|---|---|")
    print(f"| `cat` of the dump | {both(cat)} | | | | |")
    for key, label, _ in rows:
        if key not in results:
            continue
        first, second, no_index = results[key]
        print(f"| {label} | {both(first)} | {both(second)} | {both(no_index)} | {fmt_s(clrmd_s.get(key))} | "
              f"{both(sos.get(key))} |")
    if clrmd.get("peak_working_set_mb"):
        print(f"\nClrMD peak working set (its own figure, mapped pages included): "
              f"{clrmd['peak_working_set_mb']:,.0f} MB")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Benchmark: clrheap against ClrMD (the lab's `oracle bench`) on the same dump, same run.
#
#   bench/run.sh [DUMP]     default: makes (once) a .NET 10 heap dump of `big --mb 1024`
#
# Prints wall-clock seconds (best of 3, warm page cache) for clrheap's `dumpheap -stat`,
# graph + `dumpheap -live -stat`, and a `gcroot`, next to ClrMD's own timings.
set -euo pipefail
cd "$(dirname "$0")/.."
lab=../shared/lab/bin
dump="${1:-${CLRHEAP_BENCH_DUMP:-/tmp/clrheap-bench/big1024-net10-wks-heap.dmp}}"
if [ ! -f "$dump" ]; then
  mkdir -p "$(dirname "$dump")"
  "$lab/make-dump" --runtime 10 --type heap -o "$dump" big --mb 1024
fi
cargo build --release --quiet
bin=target/release/clrheap
best() { # best of 3 wall-clock seconds of a command
  local best=""
  for _ in 1 2 3; do
    local t0 t1 s
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    s=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$s < $best" | bc -l)" = 1 ]; then best=$s; fi
  done
  printf '%.2f' "$best"
}
cat "$dump" > /dev/null   # warm the page cache for both tools
target=$($bin analyze "$dump" -c "dumpheap -type Customer -short" 2>/dev/null | head -1)
stat=$(best $bin analyze "$dump" -c "dumpheap -stat")
live=$(best $bin analyze "$dump" -c "dumpheap -live -stat")
root=$(best $bin analyze "$dump" -c "dumpheap -live -stat" -c "gcroot $target")
clrmd=$("$lab/oracle" bench "$dump" 2>/dev/null)
num() { echo "$clrmd" | python3 -c "import json,sys; print('%.2f' % (json.load(sys.stdin)['$1']/1000))"; }
objects=$(echo "$clrmd" | python3 -c "import json,sys; print(json.load(sys.stdin)['objects'])")
echo "dump: $dump ($(du -h "$dump" | cut -f1), $objects objects), $(nproc) cores"
printf '%-40s %10s %10s\n' "" clrheap ClrMD
printf '%-40s %10s %10s\n' "open + dumpheap -stat (s)" "$stat" "$(echo "$(num open_ms) + $(num dumpheap_stat_ms)" | bc -l)"
printf '%-40s %10s %10s\n' "open + live set (dumpheap -live -stat)" "$live" "$(echo "$(num open_ms) + $(num roots_ms) + $(num live_ms)" | bc -l)"
printf '%-40s %10s %10s\n' "the same, then gcroot $target" "$root" "-"

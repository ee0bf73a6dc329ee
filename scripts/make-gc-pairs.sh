#!/usr/bin/env bash
# Makes fresh `make-dump --gc-after` pairs (not committed) for tests/gc_pairs.rs:
#   scripts/make-gc-pairs.sh [DIR]        (default /tmp/clrheap-gc-pairs)
# then: CLRHEAP_EXTRA_DUMPS=DIR cargo test --release --test gc_pairs
# seed and zoo on .NET 8, 9, 10 x wks, svr, datas, segments (heap dumps), and on 8.0.0
# (wks). Skips pairs already made; stops when less than 10 GB of disk is free.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$here/../shared/lab/bin"
dir="${1:-/tmp/clrheap-gc-pairs}"
mkdir -p "$dir"
make_one() { # NAME RUNTIME MODE SCENARIO [ARGS...]
  local name="$1" rt="$2" mode="$3"; shift 3
  [ -f "$dir/$name.after.dmp" ] && return 0
  local free_gb
  free_gb=$(df --output=avail -BG "$dir" | tail -1 | tr -dc 0-9)
  if [ "$free_gb" -lt 10 ]; then echo "make-gc-pairs: less than 10 GB free, stopping" >&2; exit 0; fi
  echo "make-gc-pairs: $name" >&2
  if ! "$bin/make-dump" --runtime "$rt" --gc "$mode" --type heap --gc-after -o "$dir/$name.dmp" "$@" > "$dir/$name.log" 2>&1; then
    echo "make-gc-pairs: $name failed, see $dir/$name.log" >&2
  fi
}
for scenario in seed zoo; do
  for rt in 8 9 10; do for mode in wks svr datas segments; do
    make_one "$scenario-net$rt-$mode" "$rt" "$mode" "$scenario"
  done; done
  make_one "$scenario-net8.0.0-wks" 8.0.0 wks "$scenario"
done

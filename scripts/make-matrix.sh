#!/usr/bin/env bash
# Makes the matrix of fresh test dumps the lab suite can run over (they are not committed):
#   scripts/make-matrix.sh [DIR]        (default /tmp/clrheap-fresh)
# then: CLRHEAP_EXTRA_DUMPS=DIR cargo test --release
# seed and zoo on .NET 8, 9, 10 x every GC mode x heap/full, and `big --mb 256` likewise,
# each with its truth from the lab's oracle. Skips dumps already made; stops when less
# than 25 GB of disk is free. Takes a few hours for everything; seed and zoo come first.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$here/../shared/lab/bin"
dir="${1:-/tmp/clrheap-fresh}"
mkdir -p "$dir"
make_one() { # NAME RUNTIME MODE TYPE SCENARIO [ARGS...]
  local name="$1" rt="$2" mode="$3" type="$4"; shift 4
  [ -d "$dir/$name.truth" ] && return 0
  local free_gb
  free_gb=$(df --output=avail -BG "$dir" | tail -1 | tr -dc 0-9)
  if [ "$free_gb" -lt 25 ]; then echo "make-matrix: less than 25 GB free, stopping" >&2; exit 0; fi
  echo "make-matrix: $name" >&2
  if "$bin/make-dump" --runtime "$rt" --gc "$mode" --type "$type" -o "$dir/$name.dmp" "$@" > "$dir/$name.log" 2>&1 \
     && "$bin/oracle" truth "$dir/$name.dmp" "$dir/$name.truth" >> "$dir/$name.log" 2>&1; then
    :
  else
    echo "make-matrix: $name failed, see $dir/$name.log" >&2
  fi
}
modes="wks wks-nonconc svr datas segments svr-segments"
for scenario in seed zoo; do
  for rt in 8 9 10; do for mode in $modes; do for type in heap full; do
    make_one "$scenario-net$rt-$mode-$type" "$rt" "$mode" "$type" "$scenario"
  done; done; done
done
for rt in 8 9 10; do for mode in $modes; do for type in heap full; do
  make_one "big256-net$rt-$mode-$type" "$rt" "$mode" "$type" big --mb 256
done; done; done

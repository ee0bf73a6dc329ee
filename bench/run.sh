#!/usr/bin/env bash
# The benchmark: clrheap against ClrMD (`oracle bench`) and the real dotnet-dump (`sos`),
# and `cat`, on the same dump, in one run. See bench/bench.py for the options:
#
#   bench/run.sh [--runs N] [--no-sos] [--no-clrmd] [--mb MB] [--gc MODE] [--only ROWS] [DUMP]
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" "$@"

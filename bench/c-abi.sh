#!/usr/bin/env bash
# The C ABI's cost: ci/serve rust, then ci/serve c in each receive mode (callback, pull, poll),
# one after the other on the same pinned core (server on CPU 0, wrk -t1 -c64 on CPU 1), on
# GET /plaintext and POST /users. Prints requests/s, p99, the ratio to Rust, and the extra
# time per request of each mode: 1/rps(c) - 1/rps(rust), which is CPU time on the server's
# one core, since it is saturated.
# Usage: bench/c-abi.sh [seconds] ; BENCH_STAGES=off as in serve-and-load.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
export BENCH_ENDPOINTS='^(GET /plaintext|POST /users)'
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
bash bench/serve-and-load.sh rust "$seconds" | sed 1d | sed 's/^| rust  /| rust/' >>"$rows"
for mode in callback pull poll; do
  SERVE_C_MODE="$mode" bash bench/serve-and-load.sh c "$seconds" | sed 1d | sed "s/^| c     /| c-$mode/" >>"$rows"
done
python3 - "$rows" <<'PY'
import sys
rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in open(sys.argv[1]) if line.strip()]
rust = {r[1]: float(r[2]) for r in rows if r[0] == "rust"}
print(f"| {'service':<12} | {'endpoint':<20} | {'requests/s':>10} | {'p99':>8} | {'vs rust':>7} | {'extra us/request':>16} |")
print(f"|{'-'*14}|{'-'*22}|{'-'*12}|{'-'*10}|{'-'*9}|{'-'*18}|")
for service, endpoint, rps, p99, *_ in rows:
    rps = float(rps)
    base = rust[endpoint]
    extra = 1e6 / rps - 1e6 / base
    print(f"| {service:<12} | {endpoint:<20} | {rps:>10.0f} | {p99:>8} | {rps / base:>7.2f} | {extra:>16.1f} |")
PY

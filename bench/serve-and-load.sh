#!/usr/bin/env bash
# Loads one binding's conformance service with wrk: server pinned to CPU 0, wrk to CPU 1,
# one wrk thread, 64 connections. Prints one table row per endpoint.
# Usage: bench/serve-and-load.sh <rust|c|python|node|go> [seconds]
# BENCH_STAGES=off turns the authorization policy, decision log, access log and metrics off (through
# ARMATURE_* overrides), so the two runs' ratio is the cost of those stages.
# BENCH_ENDPOINTS (an extended regex) keeps only the endpoints whose label matches it.
# Needs wrk (Debian: apt-get install wrk) and taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."
lang="${1:?usage: bench/serve-and-load.sh <lang> [seconds]}"
seconds="${2:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
wait_ready() { for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0; sleep 0.5; done; return 1; }
# ci/serve builds in the foreground; run it once unpinned so the build does not count, then stop it.
ARMATURE_SERVER__PORT="$port" bash ci/serve "$lang" >/dev/null 2>&1 &
warm=$!
wait_ready "$port" || { echo "ci/serve $lang did not become ready" >&2; exit 1; }
kill "$warm"; wait "$warm" 2>/dev/null || true

# The service proper: one worker thread on CPU 0.
overrides=()
if [ "${BENCH_STAGES:-on}" = off ]; then
  overrides=(ARMATURE_AUTHORIZATION__POLICIES='[]' ARMATURE_AUTHORIZATION__DECISION_LOG=false
             ARMATURE_TELEMETRY__ACCESS_LOG__ENABLED=false ARMATURE_TELEMETRY__METRICS__ENABLED=false)
fi
env "${overrides[@]}" ARMATURE_SERVER__PORT="$port" ARMATURE_SERVER__WORKERS=1 taskset -c 0 bash ci/serve "$lang" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
wait_ready "$port" || { echo "ci/serve $lang did not become ready" >&2; exit 1; }

run() {
  local label="$1"; shift
  [[ "$label" =~ ${BENCH_ENDPOINTS:-.} ]] || return 0
  local out rps
  out="$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "$@")"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
  printf '| %-6s | %-22s | %12s | %8s | %s\n' "$lang" "$label" "$rps" "$p99" "${non2xx:-0} non-2xx"
}
printf '| %-6s | %-22s | %12s | %8s |\n' binding endpoint "requests/s" "p99"
run "GET /plaintext" "http://127.0.0.1:$port/plaintext"
run "GET /json" "http://127.0.0.1:$port/json"
run "GET /users/{id}" "http://127.0.0.1:$port/users/42"
run "POST /users (valid)" -s bench/post_user.lua "http://127.0.0.1:$port/users"
token() { python3 -c 'import json,sys; print(json.load(open("conformance/credentials/tokens.json"))[sys.argv[1]])' "$1"; }
run "GET /me (JWT HS256)" -H "Authorization: Bearer $(token alice_hs256)" "http://127.0.0.1:$port/me"
run "GET /me (JWT ES256)" -H "Authorization: Bearer $(token carol_es256)" "http://127.0.0.1:$port/me"
run "GET /accounts/x/notes RS256" -H "Authorization: Bearer $(token admin_rs256)" "http://127.0.0.1:$port/accounts/alice/notes"

#!/usr/bin/env bash
# The Python binding next to FastAPI: ci/serve python, then bench/fastapi_app.py under uvicorn
# (one process, access log off), one after the other on the same machine, server pinned to CPU 0,
# wrk pinned to CPU 1 (wrk -t1 -c64 --latency), on the benchmark's four operations. Each endpoint
# is warmed up with a short wrk run before it is measured. Prints requests/s and p99 of both and
# the ratio armature/fastapi.
# Usage: bench/python-vs-fastapi.sh [seconds]
#   BENCH_ARMATURE      binding served by ci/serve (default python; rust to try the script out)
#   BENCH_ARMATURE_CMD  the whole command of the armature side (default: bash ci/serve $BENCH_ARMATURE);
#                       it must serve ARMATURE_SERVER__PORT and answer /ready
#   BENCH_STAGES        on (default): the whole conformance pipeline (the issue's target is measured
#                       with it); off: the authorization policy, decision log, access log and metrics
#                       off, as in serve-and-load.sh, since FastAPI does none of that
#   BENCH_UVICORN       plain (default): uvicorn's h11 and asyncio; standard: httptools and uvloop,
#                       what uvicorn[standard] (and fastapi[standard]) would pick
#   BENCH_WARMUP        seconds of warm-up per endpoint (default 2)
#   BENCH_ENDPOINTS     an extended regex: only the endpoints whose label matches it
# FastAPI and uvicorn come from PyPI into .venv-bench (created on first use), pinned below.
# Needs wrk (Debian: apt-get install wrk), taskset (util-linux), curl and python3 (3.9+).
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/lib.sh
seconds="${1:-10}"
warmup="${BENCH_WARMUP:-2}"
armature="${BENCH_ARMATURE:-python}"
armature_cmd="${BENCH_ARMATURE_CMD:-bash ci/serve $armature}"
stages="${BENCH_STAGES:-on}"
uvicorn_mode="${BENCH_UVICORN:-plain}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
command -v taskset >/dev/null || { echo "taskset is missing: apt-get install util-linux" >&2; exit 2; }

# --- the FastAPI virtualenv ------------------------------------------------------------------
# Every package pinned (pip freeze of the first install), so runs months apart compare.
requirements="fastapi==0.165.0
starlette==1.10.0
pydantic==2.14.3
pydantic_core==2.50.4
email-validator==2.4.0
dnspython==2.9.2
idna==3.20
uvicorn==0.54.0
h11==0.16.0
click==8.5.1
anyio==4.16.0
annotated-doc==0.0.7
annotated-types==0.8.0
opentelemetry-api==1.45.2
typing-inspection==0.4.5
typing_extensions==4.16.0"
case "$uvicorn_mode" in
  plain) uvicorn_args=(--loop asyncio --http h11) ;;
  standard)
    requirements+=$'\nuvloop==0.23.0\nhttptools==0.9.0'
    uvicorn_args=(--loop uvloop --http httptools) ;;
  *) echo "BENCH_UVICORN is plain or standard, not $uvicorn_mode" >&2; exit 2 ;;
esac
venv=.venv-bench
if [ "$(cat "$venv/.bench-requirements" 2>/dev/null)" != "$requirements" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r /dev/stdin <<<"$requirements"
  printf '%s' "$requirements" >"$venv/.bench-requirements"
fi

# --- servers ---------------------------------------------------------------------------------
logs="$(mktemp -d)"
server=""
# Each server gets a session of its own (setsid: a background job of a script is no group leader,
# so setsid does not fork and $! is the group), so stopping it also stops whatever it started.
stop() {
  [ -n "$server" ] || return 0
  kill -TERM -- "-$server" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}
trap '[ -z "${wrk_pid:-}" ] || kill "$wrk_pid" 2>/dev/null || true; stop; rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM

# Waits until $1 answers 2xx, for up to 5 minutes; fails, showing the log $2, if the server exits.
wait_url() {
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$server" 2>/dev/null; then echo "the server exited:" >&2; cat "$2" >&2; return 1; fi
    sleep 0.5
  done
  echo "the server did not become ready ($1):" >&2; cat "$2" >&2; return 1
}

# Fails unless every benchmarked request gets its status: a fast wrong answer is not fast.
check() {
  local base="$1" path got
  for path in /plaintext /json /users/42; do
    got="$(curl -s -o /dev/null -w '%{http_code}' "$base$path")"
    [ "$got" = 200 ] || { echo "GET $path answered $got, not 200" >&2; return 1; }
  done
  got="$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"name":"Alice","email":"alice@example.com","age":30}' "$base/users")"
  [ "$got" = 201 ] || { echo "POST /users answered $got, not 201" >&2; return 1; }
}

endpoints=("GET /plaintext" "GET /json" "GET /users/{id}" "POST /users (valid)")
declare -A rps p99 bad
# wrk in the background and `wait`, so that Ctrl-C stops the script at once: wrk catches SIGINT
# and exits 0, which a foreground wait would take as handled.
wrk_pid=""
wrk_run() {
  taskset -c 1 wrk -t1 -c64 "$@" >"$logs/wrk.out" &
  wrk_pid=$!
  wait "$wrk_pid"
  wrk_pid=""
}
load() { # load <side> <base url>: warm up, then measure, each endpoint
  local side="$1" base="$2" label out args
  for label in "${endpoints[@]}"; do
    [[ "$label" =~ ${BENCH_ENDPOINTS:-.} ]] || continue
    case "$label" in
      "GET /plaintext") args=("$base/plaintext") ;;
      "GET /json") args=("$base/json") ;;
      "GET /users/{id}") args=("$base/users/42") ;;
      "POST /users (valid)") args=(-s bench/post_user.lua "$base/users") ;;
    esac
    wrk_run -d"${warmup}s" "${args[@]}"
    wrk_run -d"${seconds}s" --latency "${args[@]}"
    out="$(cat "$logs/wrk.out")"
    rps[$side,$label]="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p99[$side,$label]="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    bad[$side,$label]="$(awk '/Non-2xx/ {n = $NF} /Socket errors/ {s = $0} END {if (n) print n " non-2xx"; if (s) print s}' <<<"$out" | paste -sd ';')"
  done
}

# The armature side. ci/serve may build first: run it once unpinned until ready so the build does
# not count (and is not starved by the pinning), then stop it.
port="$(free_port)"
env ARMATURE_SERVER__PORT="$port" setsid bash -c "exec $armature_cmd" >"$logs/armature-build.log" 2>&1 &
server=$!
wait_ready "$port" "$server" "$logs/armature-build.log" >&2
stop
overrides=()
if [ "$stages" = off ]; then
  overrides=(ARMATURE_AUTHORIZATION__POLICIES='[]' ARMATURE_AUTHORIZATION__DECISION_LOG=false
             ARMATURE_TELEMETRY__ACCESS_LOG__ENABLED=false ARMATURE_TELEMETRY__METRICS__ENABLED=false)
fi
port="$(free_port)"
env "${overrides[@]}" ARMATURE_SERVER__PORT="$port" ARMATURE_SERVER__WORKERS=1 \
  setsid taskset -c 0 bash -c "exec $armature_cmd" >"$logs/armature.log" 2>&1 &
server=$!
wait_ready "$port" "$server" "$logs/armature.log" >&2
check "http://127.0.0.1:$port"
load armature "http://127.0.0.1:$port"
stop

# FastAPI: one uvicorn process (no --workers: a single process, no supervisor), no access log.
port="$(free_port)"
setsid taskset -c 0 "$venv/bin/python" -m uvicorn --app-dir bench fastapi_app:app \
  --host 127.0.0.1 --port "$port" --no-access-log --log-level warning "${uvicorn_args[@]}" \
  >"$logs/fastapi.log" 2>&1 &
server=$!
wait_url "http://127.0.0.1:$port/plaintext" "$logs/fastapi.log"
check "http://127.0.0.1:$port"
load fastapi "http://127.0.0.1:$port"
stop

# --- the table -------------------------------------------------------------------------------
echo "armature: $armature_cmd (stages $stages); fastapi: uvicorn $uvicorn_mode (${uvicorn_args[*]}); wrk -t1 -c64 -d${seconds}s"
printf '| %-20s | %13s | %12s | %12s | %11s | %16s |\n' endpoint "armature rps" "armature p99" "fastapi rps" "fastapi p99" "armature/fastapi"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..22})" "$(printf -- '-%.0s' {1..15})" \
  "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..18})"
warnings=()
for label in "${endpoints[@]}"; do
  [[ "$label" =~ ${BENCH_ENDPOINTS:-.} ]] || continue
  a="${rps[armature,$label]:-0}"; f="${rps[fastapi,$label]:-0}"
  printf '| %-20s | %13.0f | %12s | %12.0f | %11s | %16s |\n' "$label" "$a" "${p99[armature,$label]}" \
    "$f" "${p99[fastapi,$label]}" "$(awk -v a="$a" -v f="$f" 'BEGIN {if (f > 0) printf "%.2f", a / f; else print "-"}')"
  for side in armature fastapi; do
    [ -z "${bad[$side,$label]}" ] || warnings+=("$side $label: ${bad[$side,$label]}")
  done
done
for w in "${warnings[@]}"; do echo "warning: $w"; done

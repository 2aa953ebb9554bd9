# Sourced by the ci/ scripts: the cargo profile they build, and the helpers that start and stop
# a service.
#
# `release` (thin LTO) by default, for people and benchmarks; ci/test sets BUILD_PROFILE=ci
# (no LTO, see Cargo.toml) so the test run links its ~20 binaries in seconds each.
profile="${BUILD_PROFILE:-release}"
out_dir="target/$profile"

# Where napi-derive writes the Node addon's type definitions while cargo compiles it (ci/node-env
# turns them into native.d.ts). Exported for every cargo run of the scripts, so that the addon's
# build script, which reruns when this variable changes, is not rebuilt back and forth.
export NAPI_TYPE_DEF_TMP_FOLDER="$PWD/target/napi-type-defs/$profile"
mkdir -p "$NAPI_TYPE_DEF_TMP_FOLDER"

# The shared conformance runner alone. Every script builds only the package it needs: the
# crate feature-union/ gives shared dependencies the features of the whole workspace build, so a
# package built alone compiles nothing again after ci/test's build, nor after another package
# (ci/check-feature-union checks it). The Python extension is left to maturin (ci/python-env).
build_runner() {
  cargo build --profile "$profile" --quiet -p armature-conformance --bin armature-conformance
}

# Makes the virtualenv $1 if it is missing and installs the pinned packages of the requirements
# file $2 into it, again only when that file changed since (a copy of it is kept in the venv).
venv_with() {
  local venv="$1" requirements="$2"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  if ! venv_current "$venv" "$requirements"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$(venv_stamp "$venv" "$requirements")"
  fi
}

# Whether the virtualenv $1 exists and has the packages of requirements file $2 as they are now.
venv_current() {
  [ -x "$1/bin/python" ] && cmp -s "$2" "$(venv_stamp "$1" "$2")"
}

# Where venv_with keeps its copy of requirements file $2 in the virtualenv $1.
venv_stamp() {
  local requirements="$2"
  echo "$1/.installed-${requirements//\//_}"
}

# The oldest glibc the release artefacts run on: ci/release links against it (zig), and
# ci/test-release checks that no binary needs a newer symbol.
release_glibc_floor=2.17

# Puts a cmake on PATH: the machine's, else one from PyPI in .venv (ci/cmake-requirements.txt),
# since a machine with only the toolchains has none.
ensure_cmake() {
  command -v cmake >/dev/null && return 0
  venv_with .venv ci/cmake-requirements.txt
  export PATH="$PWD/.venv/bin:$PATH"
}

# A free port chosen by the kernel, so parallel runs and busy machines do not collide.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until the service on port $1 (process $2, output in file $3) answers /ready, for up to
# 5 minutes (a first run may still be compiling); fails, showing its output, if it exits first.
wait_ready() {
  for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$1/ready" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then echo "the service exited:"; cat "$3"; return 1; fi
    sleep 0.5
  done
  echo "the service did not become ready:"; cat "$3"; return 1
}

# Stops process $1 with SIGTERM and fails, showing its output (file $2), unless it exits 0:
# a graceful stop is part of what every service must do.
stop_service() {
  kill -TERM "$1"
  local status=0
  wait "$1" || status=$?
  if [ "$status" -ne 0 ]; then echo "exit status $status after SIGTERM:"; cat "$2"; return 1; fi
}

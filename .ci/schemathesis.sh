#!/usr/bin/env bash
# Schemathesis against a served seedgate: every operation of /openapi.json, a bounded number of
# generated requests each, failing on any 5xx, dropped connection, or response (status code,
# content type, headers, body) that breaks the schema; also on any panic in the server's log.
#
# Usage: .ci/schemathesis.sh PATH/TO/seedgate [EXTRA SCHEMATHESIS RUN OPTIONS...]
#   (for instance `--include-path /v1/videos` or `--continue-on-failure` while debugging; give
#   file paths, such as a `--baseline` file, as absolute paths: Schemathesis runs in a temp dir)
# Environment (all optional):
#   SCHEMATHESIS_MAX_EXAMPLES  generated cases per operation and phase (default 100)
#   SCHEMATHESIS_SEED          generation seed (default 1: the same cases every run)
#   SCHEMATHESIS_REPORT_DIR    where the JUnit report, the request cassette and the server log
#                              go (default /tmp/seedgate-schemathesis-report)
#   SCHEMATHESIS_TIMEOUT       hard cap on the whole Schemathesis run, seconds (default 900)
#
# The server runs in a fresh network namespace that has only loopback (as root, via unshare):
# fuzzed media URLs make it fetch, and those fetches must reach no other host.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(realpath "${1:?usage: $0 PATH/TO/seedgate [SCHEMATHESIS OPTIONS...]}")"
shift
[ -x "$binary" ] || { echo "not an executable: $binary" >&2; exit 2; }

if [ -z "${SEEDGATE_SCHEMATHESIS_NETNS:-}" ]; then
  if ! python3 -m schemathesis.cli --version >/dev/null 2>&1; then
    echo "== installing schemathesis (PyPI)"
    python3 -m pip install --quiet "schemathesis>=4.32,<5"
  fi
  command -v ip >/dev/null 2>&1 || { echo "needs ip (Debian: iproute2)" >&2; exit 2; }
  if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
    exec env SEEDGATE_SCHEMATHESIS_NETNS=1 unshare --net -- bash "$0" "$binary" "$@"
  fi
  echo "cannot make a private network namespace (needs root and unshare)" >&2
  exit 2
fi
ip link set lo up

work=$(mktemp -d /tmp/seedgate-schemathesis.XXXXXX)
reports="$(realpath -m "${SCHEMATHESIS_REPORT_DIR:-/tmp/seedgate-schemathesis-report}")"
mkdir -p "$reports"
rm -f "$reports"/junit-*.xml "$reports"/vcr-*.yaml "$reports/server.log"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  cp "$work/server.log" "$reports/server.log" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A private copy: the build may replace the binary while this runs.
cp "$binary" "$work/seedgate"
# Only this run's settings: nothing from the caller's SEEDGATE_* (a database URL, a config file).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SEEDGATE_' || true)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SEEDGATE_DATA_DIR="$work/data"
export SEEDGATE_LISTEN="127.0.0.1:$port"
# Development mode with the instant local renderer: tasks finish at once with a tiny real MP4,
# so content routes are exercised without spending the two cores on H.264 encoding. Prompt
# directives off, so no fuzzed prompt can stall or fail a worker on purpose.
export SEEDGATE_MODE=development
export SEEDGATE_LOCAL__INSTANT=true
export SEEDGATE_LOCAL__DIRECTIVES=false

# A key with plenty of credits, made before the server starts (so no development key either).
SEEDGATE_SCHEMATHESIS_KEY=$("$work/seedgate" keys create --name schemathesis --credits 1000000000)
export SEEDGATE_SCHEMATHESIS_KEY
SEEDGATE_SCHEMATHESIS_ADMIN_TOKEN=$("$work/seedgate" admin-tokens create --name schemathesis)
export SEEDGATE_SCHEMATHESIS_ADMIN_TOKEN

"$work/seedgate" serve >"$work/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
if ! curl -fsS "$base/healthz" >/dev/null 2>&1; then
  echo "seedgate did not come up on $base" >&2
  cat "$work/server.log" >&2
  exit 1
fi
echo "seedgate is up on $base ($(curl -fsS "$base/openapi.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(len([m for m in v if m in ("get","put","post","delete","patch","head","options")]) for v in d["paths"].values()), "operations")'))"

# One worker: Schemathesis' threads race in CPython 3.11.7's ast.parse ("AST constructor
# recursion depth mismatch", seen here with --workers 2), an error that would fail the run.
status=0
cd "$work" # whatever Schemathesis writes by default lands here, not in the checkout
timeout "${SCHEMATHESIS_TIMEOUT:-900}" python3 -m schemathesis.cli --config-file "$here/schemathesis.toml" \
  run "$base/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  --workers 1 \
  --request-timeout 30 \
  --report junit,vcr --report-dir "$reports" \
  --no-color "$@" || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "seedgate exited during the run" >&2
  status=1
fi
if grep -n "panic: " "$work/server.log" >&2; then
  echo "seedgate panicked during the run (lines above)" >&2
  status=1
fi
echo "schemathesis reports and the server log: $reports"
exit "$status"

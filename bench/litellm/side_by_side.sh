#!/usr/bin/env bash
# seedgate beside LiteLLM, both fronting one upstream: polls, creates, memory,
# completion → visible, and a 3 s upstream outage. See README.md beside this file.
#
#   bench/litellm/side_by_side.sh [driver options…]     (driver options: --help)
#
# Environment:
#   SEEDGATE_BIN          the seedgate binary (default: target/release/seedgate)
#   SEEDGATE_LITELLM_VENV the throw-away venv (default: ${TMPDIR:-/tmp}/seedgate-litellm-venv);
#                         rebuilt whenever requirements.txt or constraints.txt change
#   PYTHON                the interpreter the venv is made from (default: python3, 3.10 or newer)
#
# Not for CI: it installs LiteLLM from the package index and takes minutes of both cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ -n "${CI:-}" ]]; then
  echo "side_by_side.sh: not run under CI (CI=$CI); run it by hand on a quiet machine" >&2
  exit 2
fi

bin="${SEEDGATE_BIN:-$root/target/release/seedgate}"
if [[ ! -x "$bin" ]]; then
  echo "side_by_side.sh: no seedgate binary at $bin (build it: cargo build --release -p seedgate, or set SEEDGATE_BIN)" >&2
  exit 2
fi

venv="${SEEDGATE_LITELLM_VENV:-${TMPDIR:-/tmp}/seedgate-litellm-venv}"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || {
  echo "side_by_side.sh: $python is older than 3.10 (LiteLLM's wheel needs 3.10+)" >&2
  exit 2
}

stamp="$(cat "$here/requirements.txt" "$here/constraints.txt" | sha256sum | cut -c1-16) $("$python" -c 'import platform; print(platform.python_version())')"
if [[ ! -x "$venv/bin/litellm" || "$(cat "$venv/.seedgate-stamp" 2>/dev/null)" != "$stamp" ]]; then
  echo "side_by_side.sh: building the venv $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt" -c "$here/constraints.txt"
  "$venv/bin/python" -m pip check --disable-pip-version-check >&2
  echo "$stamp" > "$venv/.seedgate-stamp"
fi

litellm_version="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
if [[ "$litellm_version" == "1.107.0" ]]; then
  echo "side_by_side.sh: litellm 1.107.0 is a compromised release; refusing to run it" >&2
  exit 2
fi
echo "side_by_side.sh: $("$bin" --version) beside LiteLLM $litellm_version" >&2

cd "$root"
exec "$venv/bin/python" "$here/driver.py" \
  --seedgate-bin "$bin" \
  --litellm-bin "$venv/bin/litellm" \
  --litellm-python "$venv/bin/python" \
  --out "$here/last-run.md" \
  "$@"

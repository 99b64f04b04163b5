#!/usr/bin/env bash
# The .deb, end to end, as root on a Debian/Ubuntu machine (systemd need not be running):
# builds it with cargo-deb from the debug binary the tests built (no second build), installs it
# with apt-get, checks the unit with `systemd-analyze verify`, then runs the unit's own command
# (ExecStart=, Environment=, User=, WorkingDirectory= read from the installed unit) as its user
# the way systemd would, makes an API key with the CLI against the installed config, takes a task
# end to end on the local renderer (an MP4 that ffprobe reads), and stops it with SIGTERM, which
# must end it with exit status 0.
#
#   bash .ci/deb.sh            # packages target/debug/seedgate (built first if missing)
#   SEEDGATE_DEB_PROFILE=release bash .ci/deb.sh   # a release package (built by cargo-deb)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_deb_version=3.8.0
profile=${SEEDGATE_DEB_PROFILE:-dev}
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ] || { echo "deb.sh installs a package: run it as root" >&2; exit 2; }

if [ "$(cargo-deb --version 2>/dev/null | awk '{print $NF}')" != "$cargo_deb_version" ]; then
  echo "== installing cargo-deb $cargo_deb_version"
  cargo install cargo-deb --locked --version "$cargo_deb_version"
fi
need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== building the .deb ($profile profile)"
rm -f target/debian/seedgate_*.deb
if [ "$profile" = dev ]; then
  # The binary the test run built (built here only when missing).
  [ -x target/debug/seedgate ] || cargo build -p seedgate --locked
  # `cargo-deb` itself rather than `cargo deb`: it runs cargo (metadata, build) in turn, so a
  # cargo wrapped to build one thing at a time must not be holding its lock around it.
  # (cargo-deb warns that packaging the dev profile may be refused one day; it is pinned.)
  cargo-deb -p seedgate --profile dev --no-build --fast
else
  cargo-deb -p seedgate --profile "$profile" --locked
fi
deb=$(ls target/debian/seedgate_*.deb)
ls -l "$deb"
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"

echo "== apt-get install ./$deb"
apt-get install -y -qq "./$deb" >/dev/null
unit=/lib/systemd/system/seedgate.service
[ -f "$unit" ] || unit=/usr/lib/systemd/system/seedgate.service
config=/etc/seedgate/seedgate.toml
test -f "$unit" && test -f "$config" && test -x /usr/bin/seedgate
getent passwd seedgate >/dev/null || { echo "no seedgate user" >&2; exit 1; }
[ "$(stat -c '%U %a' /var/lib/seedgate)" = "seedgate 750" ] || {
  echo "/var/lib/seedgate: $(stat -c '%U %a' /var/lib/seedgate), wanted seedgate 750" >&2; exit 1; }
dpkg-query -W -f='${Conffiles}\n' seedgate | grep -q "$config" || {
  echo "$config is not a conffile" >&2; exit 1; }
/usr/bin/seedgate --version

echo "== systemd-analyze verify $unit"
systemd-analyze verify "$unit"
systemd-analyze security --offline=true "$unit" 2>/dev/null | tail -1 || true

# The unit's own command, user, environment and working directory, as systemd would run them.
value() { sed -n "s/^$1=//p" "$unit"; }
exec_start=$(value ExecStart)
user=$(value User)
workdir=$(value WorkingDirectory)
mapfile -t environment < <(value Environment)
[ -n "$exec_start" ] && [ -n "$user" ] || { echo "the unit has no ExecStart= or User=" >&2; exit 1; }
echo "ExecStart=$exec_start User=$user Environment=${environment[*]}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
as_service() {
  # setpriv execs (no process of its own in between), as systemd does: the PID is seedgate's.
  (cd "$workdir" && umask 0027 && exec setpriv --reuid="$user" --regid="$user" --init-groups \
    env -i PATH=/usr/bin:/bin HOME="$workdir" "${environment[@]}" "$@")
}

echo "== an API key, made as $user with the installed config"
# A name of this run's own: the machine may keep /var/lib/seedgate from an earlier install (the
# package never deletes it, purge included), and its accounts with it.
key=$(as_service /usr/bin/seedgate keys create --name "deb-ci-$(date +%s)-$$" --credits 100000)
case "$key" in sg_*) ;; *) echo "keys create printed: $key" >&2; exit 1 ;; esac

echo "== $exec_start, as $user, on $base"
log=$(mktemp)
# Only the port differs from the installed unit (another listener may hold 8080 here), given the
# way an operator would: an environment variable, as `systemctl edit` adds.
# shellcheck disable=SC2086
(cd "$workdir" && umask 0027 && exec setpriv --reuid="$user" --regid="$user" --init-groups \
  env -i PATH=/usr/bin:/bin HOME="$workdir" "${environment[@]}" SEEDGATE_LISTEN="127.0.0.1:$port" \
  $exec_start) >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "seedgate exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null || { echo "seedgate is not ready:" >&2; cat "$log" >&2; exit 1; }
[ "$(ps -o user= -p "$pid" | tr -d ' ')" = "$user" ] || { echo "not running as $user" >&2; exit 1; }

echo "== a task end to end (reAPI, local renderer)"
submit=$(curl -fsS "$base/api/v1/videos/generations" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d '{"model":"seedance-2.0-mini","prompt":"a red fox in the snow","duration":4,"resolution":"480p","aspect_ratio":"16:9"}')
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$submit")
echo "submitted $id"
status=processing
for _ in $(seq 1 600); do
  task=$(curl -fsS "$base/api/v1/tasks/$id" -H "Authorization: Bearer $key")
  status=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' <<<"$task")
  [ "$status" = processing ] || break
  sleep 0.2
done
[ "$status" = completed ] || { echo "task $id: $task" >&2; cat "$log" >&2; exit 1; }
url=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["output"]["video_urls"][0])' <<<"$task")
video=$(mktemp --suffix=.mp4)
curl -fsS -o "$video" "$url"
[ -s "$video" ] || { echo "empty video" >&2; exit 1; }
ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$video"
ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$video" | grep -q h264
echo "downloaded $(stat -c %s "$video") bytes"
rm -f "$video"
# What the service wrote belongs to its user.
owners=$(find /var/lib/seedgate -mindepth 1 ! -user "$user" | head -5)
[ -z "$owners" ] || { echo "files not owned by $user: $owners" >&2; exit 1; }

echo "== SIGTERM"
kill -TERM "$pid"
set +e
wait "$pid"
code=$?
set -e
trap - EXIT
[ "$code" = 0 ] || { echo "seedgate exited $code after SIGTERM:" >&2; cat "$log" >&2; exit 1; }
as_service /usr/bin/seedgate ledger verify >/dev/null
rm -f "$log"
echo "== the .deb works: installed, verified, served a task as $user, stopped cleanly"

#!/usr/bin/env bash
# Starts the main job on a fresh machine (Debian 12 with Rust; root or sudo for apt):
#
#   scripts/start.sh                     the desktop app, with its embedded signalling server
#   scripts/start.sh --cli ROOM [NAME]   a terminal chat instead (no display needed)
#
# The app installs its build dependencies (Debian packages), builds and starts; paste a room id.
# Its embedded server listens on 127.0.0.1:8787 and a second copy reuses it (Settings: port, LAN).
#
# --cli builds `p2pcf`, starts the signalling server on 127.0.0.1:8787 unless one already answers
# there (so a second terminal reuses the first one's server, as a second app instance would), and
# joins ROOM as a terminal chat through it. P2PCF_BIND=0.0.0.0:8787 serves the LAN; others then
# pass `--worker http://<your-ip>:8787`. No internet is needed: no STUN/TURN here (`--stun URL`
# adds one). Further arguments go to `p2pcf join`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${1:-}" != --cli ]; then
  P2PCF_SETUP=app scripts/setup.sh
  # A debug build of the app (dependencies are optimized, see Cargo.toml) starts in a few
  # minutes; the release `.deb` is described in the README.
  exec cargo run -p p2pcf-app
fi
shift
room=${1:-}
if [ -z "$room" ]; then
  echo "usage: scripts/start.sh [--cli ROOM [NAME] [p2pcf join flags…]]" >&2
  exit 2
fi
shift
name_args=()
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  name_args=(--name "$1")
  shift
fi

cargo build --release -p p2pcf-cli --quiet
bin=target/release/p2pcf
bind=${P2PCF_BIND:-127.0.0.1:8787}
port=${bind##*:}
url="http://127.0.0.1:${port}"

if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
  echo "* using the signalling server already running at $url" >&2
else
  log=${TMPDIR:-/tmp}/p2pcf-serve-${port}.log
  "$bin" serve --bind "$bind" >"$log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && break
    sleep 0.1
  done
  echo "* signalling server on $bind (log: $log)" >&2
fi

"$bin" join "$room" --worker "$url" --stun none --turn none "${name_args[@]}" "$@"

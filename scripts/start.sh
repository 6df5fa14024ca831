#!/usr/bin/env bash
# Starts the main job on a fresh machine: builds `p2pcf` (release), starts the signalling server
# on 127.0.0.1:8787 unless one already answers there (so a second terminal reuses the first one's
# server, like a second app instance would), and joins ROOM as a terminal chat through it.
#
#   scripts/start.sh ROOM [NAME] [more `p2pcf join` flags…]
#
# P2PCF_BIND=0.0.0.0:8787 serves the LAN; others then pass `--worker http://<your-ip>:8787`.
# No internet is needed: no STUN/TURN by default here (`--stun URL` adds one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

room=${1:-}
if [ -z "$room" ]; then
  echo "usage: scripts/start.sh ROOM [NAME] [p2pcf join flags…]" >&2
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

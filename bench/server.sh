#!/usr/bin/env bash
# Server benchmark: our `p2pcf serve` (release build) and the real worker.js under miniflare,
# in the same run, on this machine. For each: seed a room with 3 entries (valid publishes),
# then drive steady-state polls ({r,k,d,t,x}, what a P2PCF client sends between heartbeats)
# with wrk, checking every answer. Then memory per room entry of our server: RSS growth after
# publishing N entries across rooms, divided by N.
#
# usage: bench/server.sh            (env: DURATION=15s THREADS=2 CONNECTIONS=50 ENTRIES=50000)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
ENTRIES=${ENTRIES:-50000}
PER_ROOM=10
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for_line() { # file pattern
  for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

echo "== build"
cargo build --release -p p2pcf-cli 2>&1 | tail -1

echo "== start our server"
PORT=$(free_port)
target/release/p2pcf serve --bind "127.0.0.1:$PORT" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!; PIDS+=("$OURS_PID")
wait_for_line "$WORK/ours.log" "listening on"
OURS_URL="http://127.0.0.1:$PORT"

echo "== start the real worker (miniflare)"
# worker.mjs stops when its stdin closes: feed it a fifo held open by fd 3 of this script.
mkfifo "$WORK/worker.stdin"
node tests/js/worker.mjs <"$WORK/worker.stdin" >"$WORK/worker.out" 2>"$WORK/worker.err" &
PIDS+=("$!")
exec 3>"$WORK/worker.stdin"
wait_for_line "$WORK/worker.out" '"url"'
WORKER_URL=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"].rstrip("/"))' "$WORK/worker.out")

run_wrk() { # name url
  local room="bench-$1-$RANDOM$RANDOM"
  python3 bench/seed.py "$2" "$room" 1 3 1 >/dev/null
  ROOM=$room EXPECT_PEERS=3 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s bench/poll.lua "$2/" >"$WORK/wrk-$1.txt"
  local result; result=$(grep '^RESULT' "$WORK/wrk-$1.txt")
  printf '%-7s %s\n' "$1" "${result#RESULT }"
  grep '^FIRST_INVALID' "$WORK/wrk-$1.txt" || true
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes compete for the cores)"
echo "== polls: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, room with 3 entries"
run_wrk ours "$OURS_URL"
run_wrk worker "$WORKER_URL"

echo "== memory per entry (ours): $ENTRIES entries, $PER_ROOM per room"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$OURS_PID/status"; }
BEFORE=$(rss_kb)
python3 bench/seed.py "$OURS_URL" "mem-$RANDOM" $((ENTRIES / PER_ROOM)) "$PER_ROOM" 4
AFTER=$(rss_kb)
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rss_before_kb=$BEFORE rss_after_kb=$AFTER bytes_per_entry=$(( (AFTER - BEFORE) * 1024 / ENTRIES ))"

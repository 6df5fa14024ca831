#!/usr/bin/env bash
# Redis store benchmark, everything on this machine in one run (release build):
#   1. memory store, one instance        (the anchor)
#   2. Redis store, one instance         (target: >= 40 % of the anchor's polls/s)
#   3. Redis store, three instances behind haproxy (round robin), when haproxy is installed
# Each: seed a fresh room with 3 entries, then the same wrk script as bench/server.sh
# (steady-state polls {r,k,d,t,x}, every answer checked). For Redis: commands per poll and per
# join from INFO commandstats before/after (joins: JOINS publishes, 10 per room), and Redis's
# own CPU seconds per poll (used_cpu_sys + used_cpu_user).
#
# usage: bench/redis.sh        (env: DURATION=15s THREADS=2 CONNECTIONS=50 JOINS=5000)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
JOINS=${JOINS:-5000}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
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

echo "== start redis-server"
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$WORK" --save "" --appendonly no \
  --daemonize no --logfile "$WORK/redis.log" &
PIDS+=("$!")
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
REDIS_URL="redis://127.0.0.1:$RPORT"

serve() { # name store -> sets URL and PID (no subshell: PIDS must see the server)
  local port; port=$(free_port)
  RUST_LOG=warn target/release/p2pcf serve --bind "127.0.0.1:$port" --store "$2" >"$WORK/$1.log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1
  done
  URL="http://127.0.0.1:$port"
}

# Commands the servers send (round trips); the script's own calls (HGET, HSET, HINCRBY,
# PEXPIREAT, PUBLISH) are counted apart. (HGET is also the long-poll version read, which these
# runs do not make.)
CLIENT_CMDS='^cmdstat_(hmget|evalsha|eval|ping|dbsize|subscribe|unsubscribe|ssubscribe|sunsubscribe|script|client|hello|select):'
redis_calls() { redis-cli -p "$RPORT" INFO commandstats | tr -d '\r' | grep -E "$CLIENT_CMDS" | awk -F'[:=,]' '{s+=$3} END {print s+0}'; }
redis_all_calls() { redis-cli -p "$RPORT" INFO commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" && $1 != "cmdstat_config" {s+=$3} END {print s+0}'; }
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
redis_cpu() { redis-cli -p "$RPORT" INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s+=$2} END {printf "%.3f", s}'; }

run_wrk() { # name url server-pid...
  local name=$1 url=$2; shift 2
  local room="bench-$name-$RANDOM$RANDOM"
  python3 bench/seed.py "$url" "$room" 1 3 1 >/dev/null
  local calls0 cpu0 ticks0; calls0=$(redis_calls); cpu0=$(redis_cpu); ticks0=$(cpu_ticks "$@")
  ROOM=$room EXPECT_PEERS=3 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s bench/poll.lua "$url/" >"$WORK/wrk-$name.txt"
  local calls1 cpu1 ticks1; calls1=$(redis_calls); cpu1=$(redis_cpu); ticks1=$(cpu_ticks "$@")
  local result; result=$(grep '^RESULT' "$WORK/wrk-$name.txt")
  local requests; requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
  printf '%-9s %s\n' "$name" "${result#RESULT }"
  python3 -c "import sys, os; c=$calls1-$calls0; r=$requests; cpu=$cpu1-$cpu0; srv=($ticks1-$ticks0)/os.sysconf('SC_CLK_TCK')
print(f'{sys.argv[1]:<9} redis_commands={c} per_poll={c/r:.3f} redis_cpu_s={cpu:.2f} redis_cpu_us_per_poll={cpu*1e6/r:.1f} server_cpu_s={srv:.2f} server_cpu_us_per_poll={srv*1e6/r:.1f}')" "$name"
  grep '^FIRST_INVALID' "$WORK/wrk-$name.txt" || true
}

echo "== start servers"
serve memory memory; MEM_URL=$URL; MEM_PID=$PID
serve redis1 "$REDIS_URL"; ONE_URL=$URL; ONE_PID=$PID
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes compete for the cores)"
echo "== polls: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, room with 3 entries"
run_wrk memory "$MEM_URL" "$MEM_PID"
run_wrk redis1 "$ONE_URL" "$ONE_PID"

if command -v haproxy >/dev/null; then
  echo "== three Redis-store instances behind haproxy (round robin)"
  BACKENDS=""; THREE=()
  for i in 1 2 3; do
    serve "redis3-$i" "$REDIS_URL"; THREE+=("$PID")
    BACKENDS+="    server s$i ${URL#http://}"$'\n'
  done
  HPORT=$(free_port)
  cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend front
    bind 127.0.0.1:$HPORT
    default_backend servers
backend servers
    balance roundrobin
$BACKENDS
EOF
  haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HPORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  run_wrk redis3 "http://127.0.0.1:$HPORT" "${THREE[@]}"
fi

echo "== joins: $JOINS publishes, 10 per room, through one Redis-store instance"
used_memory() { redis-cli -p "$RPORT" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }
mem0=$(used_memory)
calls0=$(redis_calls); all0=$(redis_all_calls); cpu0=$(redis_cpu); ticks0=$(cpu_ticks "$ONE_PID")
seeded=$(python3 bench/seed.py "$ONE_URL" "join-$RANDOM" $((JOINS / 10)) 10 4)
calls1=$(redis_calls); all1=$(redis_all_calls); cpu1=$(redis_cpu); ticks1=$(cpu_ticks "$ONE_PID")
python3 -c "import os; j=$JOINS; srv=($ticks1-$ticks0)/os.sysconf('SC_CLK_TCK')
print(f'$seeded commands_per_join={($calls1-$calls0)/j:.3f} incl_script_calls_per_join={($all1-$all0)/j:.3f} redis_cpu_us_per_join={($cpu1-$cpu0)*1e6/j:.1f} server_cpu_us_per_join={srv*1e6/j:.1f}')"
redis-cli -p "$RPORT" INFO commandstats | tr -d '\r' | grep -E 'cmdstat_(hmget|evalsha|eval|hget|publish|subscribe)' || true
mem1=$(used_memory)
echo "redis_used_memory_before=$mem0 after=$mem1 bytes_per_joined_entry=$(( (mem1 - mem0) / JOINS )) keys=$(redis-cli -p "$RPORT" DBSIZE)"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Two native processes of the example server sharing one Redis (feature `redis`): the Worker's
# cross-isolate checks against the pair, then the official conformance suite and the
# TypeScript SDK client through a round-robin balancer without sticky sessions.
#   bash tests/redis/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

if ! command -v redis-server >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error >/dev/null
cargo build --quiet --example everything

source tests/processes.sh
redis_port=$(free_port)
port_a=$(free_port)
port_b=$(free_port)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save '' --appendonly yes \
    >>"$work/redis.log" 2>&1 &
  redis_pid=$!
  pids+=($!)
  wait_for_port "$redis_port"
}
start_redis
export REDIS_URL="redis://127.0.0.1:$redis_port/0"

declare -A server_pid
start_server() {
  MCP_LISTEN="127.0.0.1:$1" RUST_LOG=warn target/debug/examples/everything \
    >>"$work/server-$1.log" 2>&1 &
  server_pid[$1]=$!
  pids+=($!)
  wait_for_port "$1"
}
start_server "$port_a"
start_server "$port_b"
export MCP_URL_A="http://127.0.0.1:$port_a/mcp" MCP_URL_B="http://127.0.0.1:$port_b/mcp"
export MCP_BACKEND=redis

echo "==> two processes, one Redis: cross-process checks"
node --test --test-timeout=90000 tests/worker/cross-isolate.test.mjs tests/worker/rmcp.test.mjs \
  tests/worker/abandoned.test.mjs
echo "==> process A killed and started again; B replays what A's client missed"
export RESTART_STATE="$work/restart.json"
RESTART_PHASE=before node --test tests/redis/restart.mjs &
before=$!
sleep 2 # the phase holds its stream open on A
kill -9 "${server_pid[$port_a]}"
wait "$before"
RESTART_PHASE=down node --test tests/redis/restart.mjs
start_server "$port_a"
RESTART_PHASE=after node --test tests/redis/restart.mjs

echo "==> Redis stopped and started again under both processes"
kill "$redis_pid"
wait "$redis_pid" 2>/dev/null || true
RESTART_PHASE=outage node --test tests/redis/restart.mjs
start_redis
RESTART_PHASE=recovered node --test tests/redis/restart.mjs

# Every request to the next process in turn, whatever its session.
port_lb=$(free_port)
node tests/redis/balancer.mjs "$port_lb" "http://127.0.0.1:$port_a" "http://127.0.0.1:$port_b" \
  >"$work/balancer.log" 2>&1 &
pids+=($!)
wait_for_port "$port_lb"
balanced="http://127.0.0.1:$port_lb/mcp"
echo "==> conformance suite, requests alternating between the processes"
bash scripts/conformance.sh "$balanced"
echo "==> TypeScript SDK client, requests alternating between the processes"
MCP_URL="$balanced" node --test tests/e2e/

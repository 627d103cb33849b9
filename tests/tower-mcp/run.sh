#!/usr/bin/env bash
# The tower-mcp "everything" server (examples/tower-mcp-fixture) against the official
# conformance suites, served three ways: by tower-mcp's own HttpTransport, by SessionLayer in
# front of that transport (the plain composition), and by SessionLayer in front of
# TowerMcpService (the adapter) — natively, then the adapter on two processes sharing one
# Redis behind a round-robin balancer, so every server-to-client answer reaches the other
# process.
#   bash tests/tower-mcp/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

if ! command -v redis-server >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
cargo build --quiet -p tower-mcp-fixture --example serve
server=target/debug/examples/serve

source tests/processes.sh
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start MODE PORT [ENV...]: one server process.
start() {
  local mode=$1 port=$2
  shift 2
  env "$@" MCP_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$server" "$mode" >>"$work/$mode-$port.log" 2>&1 &
  pids+=($!)
  wait_for_port "$port"
}

# tower-mcp's own transport, the baseline. Under the suite's concurrent scenarios it now and
# then delivers two of the tool's three progress notifications (measured: 1 run of the 0.1.16
# suite in 8; never with the scenario alone): reported, not held against the baseline.
port=$(free_port)
start own "$port"
echo "==> tower-mcp (own transport)"
CONFORMANCE_KNOWN=tools-call-with-progress bash scripts/conformance.sh "http://127.0.0.1:$port/mcp"

port=$(free_port)
start adapter "$port"
echo "==> tower-mcp (adapter)"
bash scripts/conformance.sh "http://127.0.0.1:$port/mcp"

# The plain composition: tower-mcp's transport has no session behind a sessionless request,
# so it cannot stream a legacy request's progress and log messages or ask the client
# (sampling, elicitation), and its list changes go to its own listen registry, which the
# layer (serving `subscriptions/listen`) leaves empty. Everything else must pass.
port=$(free_port)
start layer "$port"
echo "==> tower-mcp (plain composition)"
CONFORMANCE_KNOWN=tools-call-with-logging,tools-call-with-progress,tools-call-sampling,tools-call-elicitation,elicitation-sep1034-general,elicitation-sep1330-general,sep-2575-server-sends-tools-list-changed-on-subscription,sep-2575-server-sends-prompts-list-changed-on-subscription \
  bash scripts/conformance.sh "http://127.0.0.1:$port/mcp"

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save '' >>"$work/redis.log" 2>&1 &
pids+=($!)
wait_for_port "$redis_port"
port_a=$(free_port)
port_b=$(free_port)
start adapter "$port_a" REDIS_URL="redis://127.0.0.1:$redis_port/0"
start adapter "$port_b" REDIS_URL="redis://127.0.0.1:$redis_port/0"
port_lb=$(free_port)
node tests/redis/balancer.mjs "$port_lb" "http://127.0.0.1:$port_a" "http://127.0.0.1:$port_b" \
  >"$work/balancer.log" 2>&1 &
pids+=($!)
wait_for_port "$port_lb"
echo "==> tower-mcp (adapter), two processes on one Redis, requests alternating"
bash scripts/conformance.sh "http://127.0.0.1:$port_lb/mcp"

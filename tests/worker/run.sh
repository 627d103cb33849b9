#!/usr/bin/env bash
# The Worker end to end under local workerd (Miniflare): the official conformance suite, the
# TypeScript SDK client, two isolates in front of one hub, hibernation, and durability across
# a restart on the same persisted storage.
#   bash tests/worker/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

# Free ports unless given: a developer's own workerd may hold the usual ones.
source tests/processes.sh
port_a=${MCP_WORKER_PORT_A:-$(free_port)}
port_b=${MCP_WORKER_PORT_B:-$(free_port)}
port_c=${MCP_WORKER_PORT_C:-$(free_port)}
export MCP_URL_A="http://127.0.0.1:$port_a/mcp" MCP_URL_B="http://127.0.0.1:$port_b/mcp" \
  MCP_URL_C="http://127.0.0.1:$port_c/mcp"

bash scripts/worker-build.sh --release
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error >/dev/null

work=$(mktemp -d)
server_pid=
start_workerd() {
  node tests/worker/serve.mjs --port-a "$port_a" --port-b "$port_b" --port-c "$port_c" \
    --persist "$work/state" >"$work/workerd.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    grep -q '^ready' "$work/workerd.log" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "workerd did not start:" >&2
  cat "$work/workerd.log" >&2
  return 1
}
stop_workerd() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
trap 'stop_workerd; rm -rf "$work"' EXIT

start_workerd
echo "==> conformance suite against the Worker"
bash scripts/conformance.sh "$MCP_URL_A"
echo "==> TypeScript SDK client against the Worker"
MCP_URL="$MCP_URL_A" node --test tests/e2e/
echo "==> Python SDK client against the Worker"
bash tests/python/run.sh "$MCP_URL_A"
echo "==> two isolates, one hub; hibernation; failure behaviour"
node --test --test-timeout=90000 tests/worker/
echo "==> durability across a workerd restart"
export DURABILITY_STATE="$work/durability.json"
DURABILITY_PHASE=before node --test tests/worker/durability.mjs
stop_workerd
start_workerd
DURABILITY_PHASE=after node --test tests/worker/durability.mjs

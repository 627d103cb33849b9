#!/usr/bin/env bash
# End-to-end test: the official MCP TypeScript SDK client against `cargo run --example everything`.
#
#   bash tests/e2e/run.sh        # from the repository root (works from anywhere)
#
# Needs Node >= 20 (with npm) and a Rust toolchain. MCP_E2E_LISTEN overrides the address the
# example server listens on (default 127.0.0.1:18080).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

listen="${MCP_E2E_LISTEN:-127.0.0.1:18080}"
host="${listen%:*}"
port="${listen##*:}"
export MCP_URL="http://${listen}/mcp"

echo "==> npm ci (tests/e2e)"
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error >/dev/null

echo "==> cargo build --example everything"
cargo build --quiet --example everything

# Refuse to test whatever else might be listening on the port.
if (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null; then
  echo "error: ${listen} is already in use; set MCP_E2E_LISTEN to a free address" >&2
  exit 1
fi

log="$(mktemp -t mcp-e2e-server.XXXXXX.log)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> starting target/debug/examples/everything on ${listen}"
MCP_LISTEN="$listen" RUST_LOG="${RUST_LOG:-warn}" target/debug/examples/everything >"$log" 2>&1 &
server_pid=$!

for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "error: the server exited early:" >&2
    cat "$log" >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if ! (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null; then
  echo "error: the server did not listen on ${listen} within 30 s:" >&2
  cat "$log" >&2
  exit 1
fi

echo "==> node --test tests/e2e/ (MCP_URL=${MCP_URL})"
status=0
node --test tests/e2e/ || status=$?
echo "==> Python SDK client (tests/python)"
bash tests/python/run.sh "$MCP_URL" || status=$?
if [[ $status -ne 0 ]]; then
  echo "---- server log ----" >&2
  cat "$log" >&2
fi
exit "$status"

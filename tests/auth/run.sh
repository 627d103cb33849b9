#!/usr/bin/env bash
# OAuth 2.1 resource-server tests: a local authorization server (authorization-server.mjs), the
# MCP endpoint configured against it, and the tests of tests/auth/ run one file at a time.
#   bash tests/auth/run.sh native   # target/debug/examples/everything
#   bash tests/auth/run.sh worker   # the example Worker under local workerd (tests/worker/serve.mjs)
#   bash tests/auth/run.sh worker-kv  # the Worker with workers-oauth-provider tokens in KV
#                                     # (MCP_AUTH_KV; tests/auth/kv-tokens.test.mjs only)
# AUTH_METADATA=oidc-only serves only OpenID discovery (no RFC 8414 document), so the server's
# discovery must fall back to /.well-known/openid-configuration.
# Needs Node >= 20 (with npm) and python3; `native` a Rust toolchain, `worker` what
# scripts/worker-build.sh installs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

target=${1:-native}
case "$target" in
  native | worker | worker-kv) ;;
  *)
    echo "usage: bash tests/auth/run.sh native|worker|worker-kv" >&2
    exit 2
    ;;
esac

source tests/processes.sh

work=$(mktemp -d)
as_pid=
server_pid=
status=1
stop() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop "$server_pid"
  stop "$as_pid"
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -s "$log" ] || continue
      echo "---- $(basename "$log") ----" >&2
      cat "$log" >&2
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until `file` has a line starting with `ready` while `pid` lives (30 s at most).
wait_ready() {
  local pid=$1 file=$2 what=$3
  for _ in $(seq 1 300); do
    grep -q '^ready' "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: $what did not start" >&2
  return 1
}

if [ "$target" != native ]; then
  bash scripts/worker-build.sh --release
fi
echo "==> npm ci (tests/auth)"
npm ci --prefix tests/auth --no-audit --no-fund --loglevel=error >/dev/null

# The authorization server first: the MCP endpoint is configured with its issuer URL.
as_port=$(free_port)
node tests/auth/authorization-server.mjs --port "$as_port" --metadata "${AUTH_METADATA:-both}" \
  >"$work/authorization-server.out" 2>"$work/authorization-server.log" &
as_pid=$!
wait_ready "$as_pid" "$work/authorization-server.out" "the authorization server"
export AUTH_ISSUER
AUTH_ISSUER=$(awk '/^ready / { print $2; exit }' "$work/authorization-server.out")
echo "==> authorization server at $AUTH_ISSUER"

export MCP_AUTH_SCOPES=mcp:tools
auth_env=(
  "MCP_AUTH_ISSUER=$AUTH_ISSUER"
  "MCP_AUTH_SCOPES=$MCP_AUTH_SCOPES"
  "MCP_AUTH_CLIENT_ID=resource-server"
  "MCP_AUTH_CLIENT_SECRET=rs-secret"
)

if [ "$target" = native ]; then
  echo "==> cargo build --example everything"
  cargo build --quiet --example everything
  port=$(free_port)
  export MCP_URL="http://127.0.0.1:$port/mcp"
  echo "==> starting target/debug/examples/everything on 127.0.0.1:$port"
  env "${auth_env[@]}" MCP_RESOURCE="$MCP_URL" MCP_LISTEN="127.0.0.1:$port" RUST_LOG="${RUST_LOG:-warn}" \
    target/debug/examples/everything >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    kill -0 "$server_pid" 2>/dev/null || break
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: the server did not listen on 127.0.0.1:$port" >&2
    exit 1
  fi
else
  port_a=$(free_port)
  port_b=$(free_port)
  port_c=$(free_port)
  export MCP_URL="http://127.0.0.1:$port_a/mcp"
  vars=()
  for entry in "${auth_env[@]}" "MCP_RESOURCE=$MCP_URL"; do vars+=(--var "$entry"); done
  if [ "$target" = worker-kv ]; then vars+=(--var MCP_AUTH_KV=OAUTH_KV); fi
  echo "==> starting the Worker under workerd on 127.0.0.1:$port_a"
  node tests/worker/serve.mjs --port-a "$port_a" --port-b "$port_b" --port-c "$port_c" "${vars[@]}" \
    >"$work/server.log" 2>&1 &
  server_pid=$!
  wait_ready "$server_pid" "$work/server.log" "workerd"
fi

# One file at a time: the key tests change which key the authorization server signs with.
echo "==> node --test tests/auth/ (MCP_URL=$MCP_URL)"
status=0
if [ "$target" = worker-kv ]; then
  tests=(tests/auth/kv-tokens.test.mjs)
else
  tests=(tests/auth/auth.test.mjs tests/auth/rotation.test.mjs tests/auth/jwks-*.test.mjs)
fi
node --test --test-timeout=120000 --test-concurrency=1 "${tests[@]}" || status=$?
exit "$status"

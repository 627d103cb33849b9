#!/usr/bin/env bash
# Every test: unit, behaviour (tower oneshot), doc tests, the Redis backends against a real
# redis-server, the TypeScript SDK client and the
# official conformance suite against the native example, two native processes on one Redis
# (through a round-robin balancer), a tower-mcp server three ways, then the Worker end to end under
# local workerd (conformance, SDK client, cross-isolate, hibernation, durability), then both
# as OAuth resource servers against a local authorization server.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Redis backends are tested against a real redis-server (Debian's package).
if ! command -v redis-server >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
# The Redis tests skip without a redis-server unless required; here they must run.
MCP_REQUIRE_REDIS=1 cargo test --workspace
# The Cloudflare modules' own unit tests (their logic runs natively; only the bindings need a Worker).
cargo test -p mcp-edge-session --features cloudflare,auth --lib
bash tests/e2e/run.sh
bash scripts/conformance.sh
bash tests/redis/run.sh
# A tower-mcp server: its own transport, the plain composition and TowerMcpService, natively
# and on two Redis processes.
bash tests/tower-mcp/run.sh
bash tests/worker/run.sh
# OAuth: a local authorization server with real keys in front of the native example and the
# Worker (the TypeScript SDK's client-credentials discovery, the refused-token matrix).
bash tests/auth/run.sh native
bash tests/auth/run.sh worker
bash tests/auth/run.sh worker-kv

#!/usr/bin/env bash
# The main job: the example MCP server (the everything fixture behind SessionLayer) as a
# Worker on local workerd, sessions in local KV, streams in a local Durable Object. No
# Cloudflare account needed. Serves http://127.0.0.1:8787/mcp (PORT to change).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/worker-build.sh" --release
eval "$(bash "$root/scripts/worker-tools.sh")"
cd "$root/examples/worker"
echo "MCP server on http://127.0.0.1:${PORT:-8787}/mcp" >&2
exec npx wrangler dev --local --ip 127.0.0.1 --port "${PORT:-8787}" \
  --show-interactive-dev-session=false --persist-to "${PERSIST_DIR:-.wrangler/state}"

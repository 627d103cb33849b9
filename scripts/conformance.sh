#!/usr/bin/env bash
# Runs the official MCP conformance suite (all scenarios) against an MCP endpoint and fails on
# any FAILURE or WARNING.
#
#   scripts/conformance.sh                 # builds and starts the native example, then tests it
#   scripts/conformance.sh URL             # tests a server that is already running
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_VERSION=0.1.16
url=${1:-}
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [ -z "$url" ]; then
  listen=127.0.0.1:18090
  cargo build --quiet --example everything
  MCP_LISTEN=$listen RUST_LOG=warn target/debug/examples/everything &
  server_pid=$!
  url="http://$listen/mcp"
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/${listen%:*}/${listen##*:}") 2>/dev/null && break
    sleep 0.1
  done
fi

out=$(mktemp -d)
echo "conformance suite $SUITE_VERSION against $url"
# The suite needs Node >= 22; npm's `node` package provides it on machines with Node 20.
npx -y -p node@22 -p "@modelcontextprotocol/conformance@$SUITE_VERSION" -- \
  conformance server --url "$url" --suite all -o "$out" > "$out/log.txt" 2>&1 || true

python3 - "$out" <<'PY'
import glob, json, sys
checks = []
for path in sorted(glob.glob(f"{sys.argv[1]}/*/checks.json")):
    scenario = path.split("/")[-2]
    checks += [(scenario, c) for c in json.load(open(path))]
bad = [(s, c) for s, c in checks if c["status"] in ("FAILURE", "WARNING")]
for s, c in bad:
    print(f"{c['status']}: {s} / {c['id']}: {c.get('errorMessage', '')}")
scenarios = len({s for s, _ in checks})
passed = sum(1 for _, c in checks if c["status"] == "SUCCESS")
failed = sum(1 for _, c in checks if c["status"] == "FAILURE")
warnings = sum(1 for _, c in checks if c["status"] == "WARNING")
print(f"conformance: {scenarios} scenarios, {warnings} warnings")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if bad or scenarios < 32 else 0)
PY

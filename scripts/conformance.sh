#!/usr/bin/env bash
# Runs the official MCP conformance suites against an MCP endpoint: the stable suite (all
# scenarios), and the alpha suite for 2025-11-25 and for 2026-07-28. Fails on any FAILURE or
# WARNING.
#
#   scripts/conformance.sh                 # builds and starts the native example, then tests it
#   scripts/conformance.sh URL             # tests a server that is already running
#
# CONFORMANCE_KNOWN (comma-separated check ids) names checks a server is known to fail: they
# are reported, not counted against it; every other check must pass.
set -euo pipefail
cd "$(dirname "$0")/.."

STABLE_SUITE=0.1.16
ALPHA_SUITE=0.2.0-alpha.12
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

# One run of a suite: fails on any FAILURE or WARNING, or when fewer scenarios ran than expected.
run_suite() {
  local package=$1 min_scenarios=$2
  shift 2
  local out
  out=$(mktemp -d)
  echo "==> conformance $package $* against $url"
  # The suite needs Node >= 22; npm's `node` package provides it on machines with Node 20.
  npx -y -p node@22 -p "@modelcontextprotocol/conformance@$package" -- \
    conformance server --url "$url" --suite all "$@" -o "$out" > "$out/log.txt" 2>&1 || true
  python3 - "$out" "$min_scenarios" <<'PY'
import glob, json, os, sys
checks = []
for path in sorted(glob.glob(f"{sys.argv[1]}/*/checks.json")):
    scenario = path.split("/")[-2]
    checks += [(scenario, c) for c in json.load(open(path))]
known = set(filter(None, os.environ.get("CONFORMANCE_KNOWN", "").split(",")))
failing = [(s, c) for s, c in checks if c["status"] in ("FAILURE", "WARNING")]
bad = [(s, c) for s, c in failing if c["id"] not in known]
for s, c in failing:
    tag = " (known)" if c["id"] in known else ""
    print(f"{c['status']}{tag}: {s} / {c['id']}: {c.get('errorMessage', '')}")
scenarios = len({s for s, _ in checks})
passed = sum(1 for _, c in checks if c["status"] == "SUCCESS")
failed = sum(1 for _, c in checks if c["status"] == "FAILURE")
warnings = sum(1 for _, c in checks if c["status"] == "WARNING")
print(f"conformance: {scenarios} scenarios, {warnings} warnings")
print(f"{passed} passed, {failed} failed")
if scenarios < int(sys.argv[2]):
    print(f"expected at least {sys.argv[2]} scenarios; the suite's log:")
    print(open(f"{sys.argv[1]}/log.txt").read()[-3000:])
sys.exit(1 if bad or scenarios < int(sys.argv[2]) else 0)
PY
}

status=0
# The stable suite, then the alpha suite for both protocol eras.
run_suite "$STABLE_SUITE" 32 || status=1
run_suite "$ALPHA_SUITE" 33 --spec-version 2025-11-25 || status=1
run_suite "$ALPHA_SUITE" 40 --spec-version 2026-07-28 || status=1
exit $status

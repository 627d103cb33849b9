#!/usr/bin/env bash
# Every test: unit, behaviour (tower oneshot), doc tests, the TypeScript SDK client end to end,
# and the official conformance suite against the native example server.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace
bash tests/e2e/run.sh
bash scripts/conformance.sh

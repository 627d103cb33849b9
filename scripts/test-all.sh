#!/usr/bin/env bash
# Every test: unit, behaviour (tower oneshot), doc tests, the TypeScript SDK client and the
# official conformance suite against the native example, then the Worker end to end under
# local workerd (conformance, SDK client, cross-isolate, hibernation, durability).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace
bash tests/e2e/run.sh
bash scripts/conformance.sh
bash tests/worker/run.sh

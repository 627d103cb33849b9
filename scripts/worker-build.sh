#!/usr/bin/env bash
# Builds the example Worker into examples/worker/build (worker-build's default), installing
# the toolchain on first use (cached outside the clone; see scripts/worker-tools.sh).
#   bash scripts/worker-build.sh [--release|--dev]   (default --release)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
eval "$(bash "$root/scripts/worker-tools.sh")"
cd "$root/examples/worker"
worker-build "${1:---release}" >&2
ls -l build/*.wasm >&2

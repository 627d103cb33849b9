#!/usr/bin/env bash
# Installs (once per machine, cached outside the clone) what building and running the Worker
# needs, and prints `export` lines for it:
#   eval "$(bash scripts/worker-tools.sh)"
# Cache: $MCP_EDGE_CACHE (default ~/.cache/mcp-edge-session), keyed by tool version.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

WORKER_BUILD_VERSION=0.8.7
cache="${MCP_EDGE_CACHE:-$HOME/.cache/mcp-edge-session}"
mkdir -p "$cache"

# wasm-bindgen-cli must match the wasm-bindgen the Worker's Cargo.lock pins.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[version =""]/, ""); print; exit }' \
  "$root/examples/worker/Cargo.lock")

log() { echo "worker-tools: $*" >&2; }

rustup target add wasm32-unknown-unknown >&2

wb_root="$cache/worker-build-$WORKER_BUILD_VERSION"
if [ ! -x "$wb_root/bin/worker-build" ]; then
  log "installing worker-build $WORKER_BUILD_VERSION (once, several minutes)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --root "$wb_root" >&2
fi

bg_root="$cache/wasm-bindgen-cli-$bindgen_version"
if [ ! -x "$bg_root/bin/wasm-bindgen" ]; then
  log "installing wasm-bindgen-cli $bindgen_version (once, several minutes)"
  # Not --locked: the registry lacks the exact webpki-roots its lock file names.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --root "$bg_root" >&2
fi

# npm tools for the build (esbuild) and for running workerd (wrangler, miniflare).
if [ ! -d "$root/examples/worker/node_modules/wrangler" ] || [ ! -d "$root/examples/worker/node_modules/binaryen" ]; then
  log "installing npm packages of examples/worker"
  npm ci --prefix "$root/examples/worker" --no-audit --no-fund --loglevel=error >&2
fi

cat <<EXPORTS
export PATH="$wb_root/bin:$bg_root/bin:\$PATH"
export WASM_BINDGEN_BIN="$bg_root/bin/wasm-bindgen"
export ESBUILD_BIN="$root/examples/worker/node_modules/@esbuild/linux-x64/bin/esbuild"
export WASM_OPT_BIN="$root/examples/worker/node_modules/.bin/wasm-opt"
export XDG_CACHE_HOME="$cache/xdg"
export WRANGLER_SEND_METRICS=false
EXPORTS

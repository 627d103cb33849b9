#!/usr/bin/env bash
# Runs tests/python (the official Python MCP SDK as a client) against a running server.
#
#   tests/python/run.sh URL [pytest args...]
#   e.g. MCP_LISTEN=127.0.0.1:8095 cargo run --example everything &
#        tests/python/run.sh http://127.0.0.1:8095/mcp
#
# The virtualenv lives outside the repo, keyed on requirements.txt and the Python version:
#   ${MCP_EDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-edge-session}/py-venv-<hash>
# It is built once (pip, from PyPI) and reused; a later run only starts pytest.
# PYTHON picks the interpreter (default python3; the SDK needs 3.10 or newer).
set -euo pipefail

if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: $0 URL [pytest args...]   (e.g. $0 http://127.0.0.1:8080/mcp)" >&2
    exit 2
fi
url=$1
shift

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "$0: $python is missing or older than 3.10 (set PYTHON=...)" >&2
    exit 2
fi

cache=${MCP_EDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-edge-session}
key=$({ cat "$here/requirements.txt"; "$python" -c 'import sys; print(sys.implementation.name, sys.version_info[:2])'; } \
    | sha256sum | cut -c1-16)
venv=$cache/py-venv-$key
mkdir -p "$cache"

# One builder at a time; a venv is used only once its .complete marker exists.
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
    echo "Building $venv (once) ..." >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$here/requirements.txt"
    touch "$venv/.complete"
fi
flock -u 9
exec 9>&-

cd "$here"
export MCP_URL=$url PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest -c "$here/pytest.ini" --rootdir "$here" "$@"

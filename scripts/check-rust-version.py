#!/usr/bin/env python3
"""Checks that the crate's `rust-version` is the highest `rust-version` among the
dependencies it pulls in (normal dependencies, every feature on, every target), so the
promise holds and is no stricter than it needs to be.

    python3 scripts/check-rust-version.py
"""
import json
import subprocess
import sys

CRATE = "mcp-edge-session"


def version_key(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


metadata = json.loads(
    subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
        text=True,
    )
)
packages = {package["id"]: package for package in metadata["packages"]}
nodes = {node["id"]: node for node in metadata["resolve"]["nodes"]}
root = next(p for p in metadata["packages"] if p["name"] == CRATE and p["source"] is None)

reached, pending = set(), [root["id"]]
while pending:
    current = pending.pop()
    if current in reached:
        continue
    reached.add(current)
    for dep in nodes[current]["deps"]:
        # Normal dependencies only: dev-dependencies are not what users compile.
        if any(kind["kind"] is None for kind in dep["dep_kinds"]):
            pending.append(dep["pkg"])

needed = max(
    (version_key(packages[i].get("rust_version") or "0"), packages[i]["rust_version"] or "0", packages[i]["name"])
    for i in reached
    if i != root["id"]
)[1:]
declared = root.get("rust_version")
print(f"{CRATE} declares rust-version {declared}; its dependencies need {needed[0]} ({needed[1]})")
if declared is None or version_key(declared) != version_key(needed[0]):
    sys.exit(f"set rust-version = \"{needed[0]}\" in Cargo.toml")

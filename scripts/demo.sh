#!/usr/bin/env bash
# Installs what is missing, builds, and runs the leader-election demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target elect_leader
exec ./build/default/examples/elect_leader "$@"

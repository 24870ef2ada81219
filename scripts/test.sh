#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc)
cmake --preset default
cmake --build --preset default -j "$jobs"
ctest --preset default -j "$jobs"
# Nothing may be left behind in /dev/shm by the tests.
leftover=$(ls /dev/shm | grep '^shmlease-test-' || true)
if [ -n "$leftover" ]; then
  echo "tests left segments in /dev/shm:"; echo "$leftover"; exit 1
fi

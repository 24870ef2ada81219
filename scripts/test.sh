#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite three
# times: a normal build, then under ASan+UBSan, then the threaded tests under
# TSan (see tests/CMakeLists.txt for why multi-process tests skip TSan).
# SHMLEASE_SANITIZERS=0 skips the two sanitizer runs (for quick local loops).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc)
presets=(default)
[ "${SHMLEASE_SANITIZERS:-1}" = 0 ] || presets+=(asan tsan)
for preset in "${presets[@]}"; do
  echo "=== $preset: build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== $preset: test"
  ctest --preset "$preset" -j "$jobs"
done
# Nothing may be left behind in /dev/shm by the tests.
leftover=$(ls /dev/shm | grep '^shmlease-test-' || true)
if [ -n "$leftover" ]; then
  echo "tests left segments in /dev/shm:"; echo "$leftover"; exit 1
fi

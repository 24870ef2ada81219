#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite three
# times: a normal build, then under ASan+UBSan, then the threaded tests under
# TSan (see tests/CMakeLists.txt for why multi-process tests skip TSan), and
# finally the fuzz target for 30 s. SHMLEASE_SANITIZERS=0 skips the sanitizer
# runs and the fuzzer (for quick local loops).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc)
before=$(ls /dev/shm | grep '^shmlease-test-' || true)
presets=(default)
[ "${SHMLEASE_SANITIZERS:-1}" = 0 ] || presets+=(asan tsan)
for preset in "${presets[@]}"; do
  echo "=== $preset: build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== $preset: test"
  ctest --preset "$preset" -j "$jobs"
done
# The segment fuzz target, bounded, on its seed corpus (see scripts/fuzz.sh).
[ "${SHMLEASE_SANITIZERS:-1}" = 0 ] || ./scripts/fuzz.sh "${SHMLEASE_FUZZ_SECONDS:-30}"
# Nothing may be left behind in /dev/shm by the tests (segments that were
# there before this run, from some earlier interrupted run, are not ours).
leftover=$(comm -13 <(echo "$before") <(ls /dev/shm | grep '^shmlease-test-' || true))
if [ -n "$leftover" ]; then
  echo "tests left segments in /dev/shm:"; echo "$leftover"; exit 1
fi

#!/usr/bin/env bash
# Builds the segment fuzz target with clang (libFuzzer, ASan, UBSan) in its
# own build directory and runs it for a bounded time on the seed corpus.
#   scripts/fuzz.sh [SECONDS]   (default 60; SHMLEASE_FUZZ_SECONDS also works)
# New inputs the fuzzer finds go to build/fuzz/corpus-found; a crash leaves a
# crash-* file there and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${SHMLEASE_FUZZ_SECONDS:-60}}
build=build/fuzz
flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$(command -v clang++ || command -v clang++-14)" \
  -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DSHMLEASE_BUILD_FUZZ=ON -DSHMLEASE_BUILD_TESTS=OFF -DSHMLEASE_BUILD_BENCH=OFF \
  -DSHMLEASE_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target segment_fuzz segment_fuzz_corpus
# Seeds: kept in the repository; rewritten only when the layout changes.
mkdir -p fuzz/corpus
"$build/fuzz/segment_fuzz_corpus" fuzz/corpus
found="$build/corpus-found"
mkdir -p "$found"
cd "$build"
# The target's scratch segment files: here, not /tmp, so that even a run that
# ends in a crash (no atexit cleanup) leaves nothing behind outside the build.
export TMPDIR="$PWD/tmp"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
trap 'rm -rf "$TMPDIR"' EXIT
# -timeout flags a hang (one input taking seconds); -rss_limit_mb a runaway mapping.
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ./fuzz/segment_fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=131072 -artifact_prefix="corpus-found/" -print_final_stats=1 \
  corpus-found ../../fuzz/corpus

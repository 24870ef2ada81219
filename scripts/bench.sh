#!/usr/bin/env bash
# Installs what the benchmarks need, builds with the release preset, runs the
# single-process (Google Benchmark) and multi-process suites for shmlease and
# its peers (flock, fcntl OFD locks, a robust pthread mutex, Redis) in one run,
# and writes bench/RESULTS.md with its plots (bench/*.png).
#
# Redis is started here on a free loopback port with persistence off, and
# stopped on exit, whatever happens. Every benchmark segment is named
# shmlease-bench-<pid>-<what> and destroyed by its program; a crashed run's
# leftovers are removed on exit too.
# SHMLEASE_BENCH_REPS (default 5) repeats the single-process suite to show noise.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

./scripts/deps.sh redis-server libhiredis-dev gnuplot-nox python3

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target shmlease_bench shmlease_mp_bench

out=build/release/bench-out
rm -rf "$out"
mkdir -p "$out/samples"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis_pid_file="$PWD/$out/redis.pid"
cleanup() {
  if [ -f "$redis_pid_file" ]; then
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$redis_pid_file")" 2>/dev/null || true
  fi
  # Only this script's own segments and lock directories (programs destroy
  # theirs; this catches a crashed or timed-out run).
  rm -f /dev/shm/shmlease-bench-* 2>/dev/null || true
  rm -rf /tmp/shmlease-bench-* /tmp/shmlease-mp-bench-* 2>/dev/null || true
}
trap cleanup EXIT

redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$redis_pid_file" --logfile "$PWD/$out/redis.log" --dir "$PWD/$out"
for _ in $(seq 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$port" ping >/dev/null
export SHMLEASE_BENCH_REDIS_PORT=$port

# The machine, for the report.
{
  echo "nproc=$(nproc)"
  echo "kernel=$(uname -srm)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "redis=$(redis-server --version | awk '{print $3}' | cut -d= -f2)"
  echo "gcc=$(g++ -dumpfullversion)"
} >"$out/machine.txt"

echo "=== single-process suites (Google Benchmark)"
# Repetitions run in random order, interleaved with the other benchmarks'.
# This VM switches between a fast and a slow speed for seconds at a time (see
# bench/results_notes.md); run in sequence, the 1k, 64k and 1M table sizes of
# one benchmark could each land in a different speed and fake a size effect.
timeout 420 build/release/bench/shmlease_bench \
  --benchmark_repetitions="${SHMLEASE_BENCH_REPS:-5}" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_out="$out/gbench.json" --benchmark_out_format=json \
  --benchmark_format=console 2>&1 | grep -v -E '_(mean|stddev|cv)\b' || {
  echo "shmlease_bench failed"
  exit 1
}

echo "=== multi-process suites"
timeout 150 build/release/bench/shmlease_mp_bench --out "$out/mp.json" --samples "$out/samples"
echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

echo "=== bench/RESULTS.md"
python3 bench/make_results.py --dir "$out" --bench-dir bench
echo "done in $(($(date +%s) - started)) s"

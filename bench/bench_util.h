// Helpers shared by the benchmark programs: clocks, percentiles, segment
// names. Only the public shmlease API is used here.
#ifndef SHMLEASE_BENCH_BENCH_UTIL_H_
#define SHMLEASE_BENCH_BENCH_UTIL_H_

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "shmlease/shm_store.h"

namespace bench {

// Every timestamp in the benchmarks is CLOCK_MONOTONIC, the clock expiries use,
// so that figures taken in different processes can be subtracted.
inline std::int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline void SleepNs(std::int64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

// The q-quantile (0 <= q <= 1) of `v` by the nearest-rank method; sorts `v`.
inline double Quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(q * static_cast<double>(v.size()));
  return v[std::min(rank, v.size() - 1)];
}

// A segment name unique to this process and purpose, e.g.
// "shmlease-bench-1234-check". The script removes any leftover with this
// prefix after a crashed run.
inline std::string SegmentName(std::string_view what) {
  return "shmlease-bench-" + std::to_string(getpid()) + "-" + std::string(what);
}

// "lease-000042": fixed width so that every key costs the same to hash.
inline std::string LeaseName(std::uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "lease-%07llu", static_cast<unsigned long long>(i));
  return buf;
}

// A model UUID as Juju would use it: 36 bytes.
inline constexpr std::string_view kModel = "5f1e0a4c-7d35-4c1b-9a2e-3b8d6c0f9e11";

// Options for a benchmark segment: everything else at its default.
inline shmlease::ShmStoreOptions Options(std::string name, std::size_t capacity = 4096) {
  shmlease::ShmStoreOptions o;
  o.name = std::move(name);
  o.capacity = capacity;
  return o;
}

}  // namespace bench

#endif  // SHMLEASE_BENCH_BENCH_UTIL_H_

#include "clock.h"

#include <dlfcn.h>

namespace shmlease::internal {

namespace {

// The least margin, whatever the kernel says the coarse resolution is. The
// reported resolution (the tick) does not bound how far the coarse clock lags:
// on a 2-vCPU Firecracker VM (HZ=250, kvm-clock) it reports 4 ms, yet advances
// in 8 and 12 ms steps and lagged CLOCK_MONOTONIC by up to 20 ms while both
// vCPUs were busy (bench/RESULTS.md, "coarse clock lag"). A margin of twice the
// tick there would let Token::Check call a lease held up to ~12 ms after it
// expired. Within this margin of expiry a check reads the precise clock, which
// costs ~25 ns instead of ~3 ns; leases are normally extended long before that.
constexpr std::int64_t kMinCoarseMarginNs = 100'000'000;

}  // namespace

ClockReader::ClockReader(std::int64_t host_minus_own_ns) noexcept
    : host_minus_own_ns_(host_minus_own_ns) {
  // glibc lists the vDSO among the loaded objects under this name; NOLOAD
  // finds it without loading anything. The vDSO is never unloaded, so the
  // symbol outlives the handle.
  void* vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (vdso == nullptr) return;
  auto* fn = reinterpret_cast<VdsoClockGettime>(dlsym(vdso, "__vdso_clock_gettime"));  // x86-64
  if (fn == nullptr) fn = reinterpret_cast<VdsoClockGettime>(dlsym(vdso, "__kernel_clock_gettime"));
  dlclose(vdso);
  // Use it only if it answers for both clocks the table reads.
  timespec ts;
  if (fn != nullptr && fn(CLOCK_MONOTONIC, &ts) == 0 && fn(CLOCK_MONOTONIC_COARSE, &ts) == 0) {
    vdso_ = fn;
  }
}

std::int64_t CoarseClockMarginNs() noexcept {
  // Asked once per process; the resolution is a kernel constant (the tick).
  static const std::int64_t margin = [] {
    timespec res{};
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0) return kMinCoarseMarginNs;
    const std::int64_t twice_tick = 2 * (std::int64_t{res.tv_sec} * 1'000'000'000 + res.tv_nsec);
    return twice_tick > kMinCoarseMarginNs ? twice_tick : kMinCoarseMarginNs;
  }();
  return margin;
}

}  // namespace shmlease::internal

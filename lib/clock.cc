#include "clock.h"

namespace shmlease::internal {

std::int64_t CoarseClockMarginNs() noexcept {
  // Asked once per process; the resolution is a kernel constant (the tick).
  static const std::int64_t margin = [] {
    timespec res{};
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0) return std::int64_t{10'000'000};
    return 2 * (std::int64_t{res.tv_sec} * 1'000'000'000 + res.tv_nsec);
  }();
  return margin;
}

}  // namespace shmlease::internal

// Clock reads for the lease table. All expiries are nanoseconds of the
// host's CLOCK_MONOTONIC (the initial time namespace's): a process in another
// time namespace reads a shifted clock, and its reads are moved onto the
// host's by the offset it learnt at open (time_namespace.h).
#ifndef SHMLEASE_LIB_CLOCK_H_
#define SHMLEASE_LIB_CLOCK_H_

#include <time.h>

#include <chrono>
#include <cstdint>
#include <limits>

namespace shmlease::internal {

inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

inline std::int64_t ReadClockNs(clockid_t id) noexcept {
  timespec ts;
  clock_gettime(id, &ts);  // vDSO: no syscall for the monotonic clocks.
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Reads the monotonic clocks by calling the vDSO's clock_gettime directly,
// skipping glibc's wrapper: on the benchmark VM that wrapper costs 3.5 ns of a
// 10.5 ns coarse read, a third of what a Token::Check may cost. Falls back to
// clock_gettime when the vDSO is not there (valgrind, some sandboxes) or
// refuses a clock. Made once per Table; holds no state that changes.
class ClockReader {
 public:
  using VdsoClockGettime = int (*)(clockid_t, timespec*);
  // host_minus_own_ns: ReadHostClockOffset's answer, 0 in the host's own
  // time namespace.
  explicit ClockReader(std::int64_t host_minus_own_ns) noexcept;
  // The host's CLOCK_MONOTONIC: this process's read plus its offset.
  std::int64_t HostMonotonic() const noexcept { return Read(CLOCK_MONOTONIC) + host_minus_own_ns_; }
  // A time on the host's clock as this process's own CLOCK_MONOTONIC shows
  // it: for the kernel (an absolute futex deadline is read on the caller's
  // clock) and for callers (steady_clock). kNever stays kNever; `host_ns`
  // may be anything a hostile segment holds, so the sum saturates.
  std::int64_t ToOwn(std::int64_t host_ns) const noexcept;
  std::int64_t host_minus_own_ns() const noexcept { return host_minus_own_ns_; }
  // The function this reader calls: the vDSO's entry, or glibc's
  // clock_gettime when there is none. Token::Check's inline path
  // (detail::CheckInline) reads the coarse clock through it.
  VdsoClockGettime Function() const noexcept { return vdso_ != nullptr ? vdso_ : &clock_gettime; }

 private:
  // Always inline: an out-of-line copy is one more call and return on every
  // write, which reads the clock under the lock.
  [[gnu::always_inline]] std::int64_t Read(clockid_t id) const noexcept {
    timespec ts;
    if (vdso_ == nullptr || vdso_(id, &ts) != 0) clock_gettime(id, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }
  VdsoClockGettime vdso_ = nullptr;
  std::int64_t host_minus_own_ns_;
};

// The precise monotonic clock.
inline std::int64_t MonotonicNs() noexcept { return ReadClockNs(CLOCK_MONOTONIC); }

// The coarse monotonic clock: the time of the last timer tick, a few
// nanoseconds to read. It lags MonotonicNs by at most about one tick.
inline std::int64_t CoarseMonotonicNs() noexcept { return ReadClockNs(CLOCK_MONOTONIC_COARSE); }

// How far behind the coarse clock may be: twice its resolution, so that a
// late tick does not make a lease look alive after it expired, and never less
// than 100 ms (the resolution does not bound the lag on every VM; see clock.cc).
std::int64_t CoarseClockMarginNs() noexcept;

// now + d, saturating instead of overflowing. `now` may be anything a fake
// clock in a hostile segment holds, negative included.
inline std::int64_t AddSaturating(std::int64_t now, std::int64_t d) noexcept {
  std::int64_t sum;
  if (__builtin_add_overflow(now, d, &sum))
    return d > 0 ? kNever : std::numeric_limits<std::int64_t>::min();
  return sum;
}

// True when t0 + d (d > 0) is past kNever: such a duration cannot be promised.
inline bool ExpiryOverflows(std::int64_t t0, std::int64_t d) noexcept {
  std::int64_t sum;
  return __builtin_add_overflow(t0, d, &sum);
}

inline std::int64_t ClockReader::ToOwn(std::int64_t host_ns) const noexcept {
  if (host_ns == kNever) return kNever;
  return AddSaturating(host_ns, -host_minus_own_ns_);
}

inline std::chrono::steady_clock::time_point ToTimePoint(std::int64_t ns) noexcept {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
}

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_CLOCK_H_

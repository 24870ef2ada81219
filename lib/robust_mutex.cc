#include "robust_mutex.h"

#include <time.h>

#include <algorithm>
#include <cerrno>

#include "clock.h"

namespace shmlease::internal {

namespace {

constexpr std::int64_t kStopSliceNs =
    5'000'000;  // How often a waiting locker looks at its stop token.
// Spinning before sleeping on a busy lock: rounds of up to kSpinPauses
// pauses each while the lock word says held, then a trylock. About 2 us in
// all on the benchmark VM (AMD EPYC, a pause is ~30 ns there).
constexpr int kSpinRounds = 4;
constexpr int kSpinPauses = 16;

timespec ToTimespec(std::int64_t ns) {
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

int TimedLock(pthread_mutex_t* m, std::int64_t deadline_ns) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer does not intercept pthread_mutex_clocklock and would not
  // see the lock at all; timedlock (CLOCK_REALTIME) it does see. Only the
  // sanitizer build pays for the realtime clock's jumps.
  std::int64_t realtime_deadline = ReadClockNs(CLOCK_REALTIME) + (deadline_ns - MonotonicNs());
  timespec abs = ToTimespec(realtime_deadline);
  return pthread_mutex_timedlock(m, &abs);
#else
  timespec abs = ToTimespec(deadline_ns);
  return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &abs);
#endif
}

}  // namespace

bool RobustMutex::Init(pthread_mutex_t* m) noexcept {
  pthread_mutexattr_t attr;
  if (pthread_mutexattr_init(&attr) != 0) return false;
  bool ok = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
            pthread_mutex_init(m, &attr) == 0;
  pthread_mutexattr_destroy(&attr);
  return ok;
}

int RobustMutex::ExpectedKind() noexcept {
  // The kind word is written once, by Init, before the segment is published.
  static const int expected = [] {
    pthread_mutex_t reference;
    if (!Init(&reference)) return -1;
    const int kind = reference.__data.__kind;
    pthread_mutex_destroy(&reference);
    return kind;
  }();
  return expected;
}

LockResult RobustMutex::LockBusy(int rc, std::int64_t timeout_ns,
                                 const std::stop_token& stop) noexcept {
  // A writer holds the lock for a few hundred nanoseconds. When it runs on
  // another CPU, watching the lock word for about that long costs less than
  // sleeping in the kernel and being woken; when it does not (preempted,
  // stopped, dead), the spin is short enough not to matter.
  for (int round = 0; rc == EBUSY && round < kSpinRounds; ++round) {
    for (int i = 0; i < kSpinPauses && __atomic_load_n(&m_->__data.__lock, __ATOMIC_RELAXED) != 0;
         ++i) {
      __builtin_ia32_pause();
    }
    rc = pthread_mutex_trylock(m_);
  }
  const std::int64_t deadline_ns = rc == EBUSY ? AddSaturating(MonotonicNs(), timeout_ns) : 0;
  while (rc == EBUSY) {
    if (stop.stop_requested()) return LockResult::aborted;
    std::int64_t slice_end = deadline_ns;
    if (stop.stop_possible()) slice_end = std::min(deadline_ns, MonotonicNs() + kStopSliceNs);
    rc = TimedLock(m_, slice_end);
    if (rc == ETIMEDOUT) {
      if (slice_end >= deadline_ns || MonotonicNs() >= deadline_ns) return LockResult::timed_out;
      rc = EBUSY;
    }
  }
  switch (rc) {
    case 0:
      return LockResult::acquired;
    case EOWNERDEAD:
      return LockResult::owner_died;
    default:  // ENOTRECOVERABLE; EINVAL would mean a corrupt mutex word.
      return LockResult::unrecoverable;
  }
}

void RobustMutex::MarkConsistent() noexcept { pthread_mutex_consistent(m_); }

}  // namespace shmlease::internal

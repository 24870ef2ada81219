#include "futex.h"

#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "clock.h"

namespace shmlease::internal {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

FutexWaitResult FutexWait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                          std::int64_t deadline_ns, bool precise) noexcept {
  timespec abs{};
  timespec* timeout = nullptr;
  if (deadline_ns != kNever) {
    // A negative time has passed; as a timespec it would be refused (EINVAL).
    const std::int64_t at = deadline_ns < 0 ? 0 : deadline_ns;
    abs.tv_sec = at / 1'000'000'000;
    abs.tv_nsec = at % 1'000'000'000;
    timeout = &abs;
  }
  // FUTEX_WAIT_BITSET takes an absolute deadline, on the caller's
  // CLOCK_MONOTONIC (its time namespace's) unless FUTEX_CLOCK_REALTIME is given.
  // A deadline here is a lease's expiry, and a waiter returning late is a
  // later failover: the thread's timer slack (50 us by default) would delay
  // every timed-out wait by that much. Made 1 ns for the sleep, then restored.
  const int slack = timeout != nullptr && precise ? prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) : -1;
  if (slack > 1) prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_BITSET, expected,
                    timeout, nullptr, FUTEX_BITSET_MATCH_ANY);
  const int err = errno;
  if (slack > 1) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack), 0, 0, 0);
  if (rc == 0) return FutexWaitResult::woken;
  switch (err) {
    case EAGAIN:
      return FutexWaitResult::value_changed;
    case ETIMEDOUT:
      return FutexWaitResult::timed_out;
    default:
      return FutexWaitResult::interrupted;
  }
}

void FutexWakeAll(std::atomic<std::uint32_t>* word) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr,
          0);
}

void FutexWakeOne(std::atomic<std::uint32_t>* word) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

}  // namespace shmlease::internal

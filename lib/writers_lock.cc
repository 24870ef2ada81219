#include "writers_lock.h"

#include <algorithm>

#include "clock.h"
#include "futex.h"
#include "shmlease/errors.h"

namespace shmlease::internal {

namespace {

// Spinning before sleeping on a busy lock: rounds of up to kSpinPauses
// pauses each while the word says held, then a compare-and-swap. A writer
// holds the lock for a few hundred nanoseconds: when it runs on another CPU,
// watching the word that long costs less than sleeping and being woken.
constexpr int kSpinRounds = 4;
constexpr int kSpinPauses = 16;
// A sleeping waiter wakes at least this often to ask the kernel whether the
// owner is still there (nothing wakes it when the owner dies) and to look at
// its stop token. The first slice is short: a dead owner is found soon.
constexpr std::int64_t kFirstSliceNs = 1'000'000;
constexpr std::int64_t kSliceNs = 5'000'000;

}  // namespace

void WritersLock::WakeOne() noexcept { FutexWakeOne(word_); }

LockResult WritersLock::LockSlow(std::int64_t timeout_ns, const std::stop_token& stop) noexcept {
  std::uint32_t me = seat_.word();
  if (me == 0) {
    // First write of this process (or of a fork's child) to this segment.
    if (std::error_code ec = seat_.Take()) {
      if (ec == Errc::too_many_writers) return LockResult::too_many_writers;
      return ec == Errc::permission_denied ? LockResult::seat_denied : LockResult::no_seat;
    }
    me = seat_.word();
  }
  std::uint32_t expected = 0;
  if (word_->compare_exchange_strong(expected, me, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    return LockResult::acquired;
  }
  for (int round = 0; round < kSpinRounds; ++round) {
    for (int i = 0; i < kSpinPauses && word_->load(std::memory_order_relaxed) != 0; ++i) {
      __builtin_ia32_pause();
    }
    expected = 0;
    if (word_->compare_exchange_strong(expected, me, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return LockResult::acquired;
    }
  }
  const std::int64_t start = MonotonicNs();
  const std::int64_t deadline = AddSaturating(start, timeout_ns);
  // Leaving without the lock after a wake-up that was meant for a taker:
  // pass it on, or the next sleeper would wait out its slice.
  auto leave = [this](LockResult r) {
    if (word_->load(std::memory_order_relaxed) == 0) WakeOne();
    return r;
  };
  // Asked once more before giving up: a timeout shorter than a slice, or
  // slices cut short by signals, must not keep a dead owner's lock held.
  auto taken_over = [this, me](std::uint32_t v) {
    if (OwnerOfWord(v, probe_fd_, me) != SeatOwner::gone) return false;
    std::uint32_t expected = v;
    return word_->compare_exchange_strong(expected, me | kLockWaiters, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  };
  for (;;) {
    if (stop.stop_requested()) return leave(LockResult::aborted);
    std::uint32_t v = word_->load(std::memory_order_relaxed);
    if (v == 0) {
      // Others may sleep on the word still: the bit makes our unlock wake one.
      expected = 0;
      if (word_->compare_exchange_strong(expected, me | kLockWaiters, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
        return LockResult::acquired;
      }
    }
    // Read on every turn, also those a changing word sends round again: a
    // co-writer flipping the word must not keep a waiter past its timeout.
    const std::int64_t now = MonotonicNs();
    if (now >= deadline) {
      v = word_->load(std::memory_order_relaxed);
      if (v != 0 && taken_over(v)) return LockResult::owner_died;
      return leave(LockResult::timed_out);
    }
    if (v == 0) continue;
    if (!(v & kLockWaiters)) {
      expected = v;
      if (!word_->compare_exchange_strong(expected, v | kLockWaiters, std::memory_order_relaxed)) {
        continue;
      }
      v |= kLockWaiters;
    }
    const std::int64_t slice = now - start < kFirstSliceNs ? kFirstSliceNs : kSliceNs;
    const std::int64_t slice_end = std::min(deadline, AddSaturating(now, slice));
    if (FutexWait(word_, v, slice_end, /*precise=*/false) != FutexWaitResult::timed_out) continue;
    // The same owner kept the lock for a whole slice: alive and slow or
    // stopped (wait on), or gone (take it over, exactly the word examined).
    if (word_->load(std::memory_order_relaxed) != v) continue;
    if (taken_over(v)) return LockResult::owner_died;
  }
}

}  // namespace shmlease::internal

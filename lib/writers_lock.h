// The writers' lock: a futex word in the segment header that names its
// owner's writer seat (writer_seat.h).
//
// It replaces a glibc robust pthread mutex, whose unlock follows list
// pointers kept inside the mutex: in shared memory, a co-writer could aim
// them at the locker's own memory. Here the segment holds one plain word;
// nothing any process reads from it is dereferenced, and an owner's death is
// learnt from the kernel (the OFD lock on its word's byte), never from the
// segment.
//
// What users of a robust mutex rely on stays: a dead owner is recovered from
// (the next locker is told, LockResult::owner_died, and repairs before it
// writes), a stopped or hung owner gives a timeout, never a hang.
//
// Protocol: free is 0. A locker compare-and-swaps 0 -> its seat word. A
// waiter sets kLockWaiters before it sleeps on the word; the owner's unlock
// puts back 0 and wakes one sleeper if the bit was set. A waiter that took
// the lock after sleeping sets the bit itself (there may be more sleepers).
// A waiter that finds the owner gone swaps the very word it examined for its
// own: of several that find the same death, one wins and repairs.
#ifndef SHMLEASE_LIB_WRITERS_LOCK_H_
#define SHMLEASE_LIB_WRITERS_LOCK_H_

#include <atomic>
#include <cstdint>
#include <stop_token>

#include "writer_seat.h"

namespace shmlease::internal {

enum class LockResult {
  acquired,          // Locked; the protected state is consistent.
  owner_died,        // Locked, taken over from an owner that is gone: repair first.
  timed_out,         // Not locked: the deadline passed (the owner may be stopped, not dead).
  aborted,           // Not locked: the stop token was requested.
  no_seat,           // Not locked: this store could not lock the file for a writer seat.
  seat_denied,       // Not locked: the file can no longer be opened for writing.
  too_many_writers,  // Not locked: every writer seat is taken.
};

class WritersLock {
 public:
  // `probe_fd`: a descriptor of the segment file through which owners'
  // seats are looked at (the Segment's own).
  WritersLock(std::atomic<std::uint32_t>* word, WriterSeat* seats, int probe_fd) noexcept
      : word_(word), probe_fd_(probe_fd), seat_(probe_fd, seats) {}

  // Waits timeout_ns at most. The clock is read only once the lock turns out
  // to be busy: an uncontended lock costs one compare-and-swap. Inline: it is
  // a good part of a lease extension.
  LockResult Lock(std::int64_t timeout_ns, const std::stop_token& stop) noexcept {
    // A stop requested before the call aborts it even when the lock is free:
    // the operation must not take effect. Costs nothing without a stop state.
    if (stop.stop_requested()) return LockResult::aborted;
    const std::uint32_t me = seat_.word();
    std::uint32_t expected = 0;
    if (me != 0 && word_->compare_exchange_strong(expected, me, std::memory_order_acquire,
                                                  std::memory_order_relaxed)) {
      return LockResult::acquired;
    }
    return LockSlow(timeout_ns, stop);
  }
  // Frees the lock only while it is still this store's: after a wrongful
  // takeover (a co-writer planted a word, or closed this store's seat behind
  // its back) the new owner's lock is not released under it. A
  // compare-and-swap costs what an exchange does.
  void Unlock() noexcept {
    const std::uint32_t me = seat_.word();
    std::uint32_t v = word_->load(std::memory_order_relaxed);
    while (
        (v & ~kLockWaiters) == me &&
        !word_->compare_exchange_weak(v, 0, std::memory_order_release, std::memory_order_relaxed)) {
    }
    if ((v & ~kLockWaiters) == me && (v & kLockWaiters)) WakeOne();
  }

  // This store's seat word in the segment (for stat: who am I).
  std::uint32_t own_word() const noexcept { return seat_.word(); }
  // What the kernel says of the owner of lock word `word` (for stat and fsck).
  SeatOwner OwnerOf(std::uint32_t word) const noexcept {
    return OwnerOfWord(word, probe_fd_, seat_.word());
  }

 private:
  LockResult LockSlow(std::int64_t timeout_ns, const std::stop_token& stop) noexcept;
  void WakeOne() noexcept;

  std::atomic<std::uint32_t>* const word_;
  const int probe_fd_;
  ProcessSeat seat_;
};

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_WRITERS_LOCK_H_

// A process-shared, robust pthread mutex living in shared memory.
//
// Robustness is the point: when a process dies holding the lock, the next
// locker is told (LockResult::owner_died) and must repair the state the dead
// owner may have left half-changed before calling MarkConsistent(). Forgetting
// would make the mutex unusable for everyone (ENOTRECOVERABLE) once unlocked,
// so the owner-died result cannot be mistaken for a plain success.
#ifndef SHMLEASE_LIB_ROBUST_MUTEX_H_
#define SHMLEASE_LIB_ROBUST_MUTEX_H_

#include <pthread.h>

#include <cstdint>
#include <stop_token>

namespace shmlease::internal {

enum class LockResult {
  acquired,       // Locked; the protected state is consistent.
  owner_died,     // Locked, but the previous owner died inside: repair, then MarkConsistent().
  timed_out,      // Not locked: the deadline passed (the owner may be stopped, not dead).
  aborted,        // Not locked: the stop token was requested.
  unrecoverable,  // Not locked: a past owner-died repair was skipped.
};

class RobustMutex {
 public:
  // Initialises *m in place (only the segment's creator does this).
  static bool Init(pthread_mutex_t* m) noexcept;
  // The kind word Init gives a mutex (robust, process-shared, not
  // priority-inheriting), learnt from glibc once; -1 if that failed.
  static int ExpectedKind() noexcept;
  // Whether *m is of that kind. A mutex from a damaged or planted segment may
  // claim another kind, and glibc asserts (aborts the process) on some of those.
  static bool HasExpectedKind(const pthread_mutex_t* m) noexcept {
    return IsKind(m, ExpectedKind());
  }

  // `expected_kind` is ExpectedKind(), which the owner of a long-lived mutex
  // (the Table) asks once: every Lock checks the kind again.
  RobustMutex(pthread_mutex_t* m, int expected_kind) noexcept
      : m_(m), expected_kind_(expected_kind) {}

  // Waits timeout_ns at most. The clock is read only once the lock turns out
  // to be busy: an uncontended lock costs one CAS, no clock read. When `stop`
  // can be requested, waits in short slices so a request is noticed promptly.
  // The uncontended path is inline: it is a third of a lease extension's calls.
  LockResult Lock(std::int64_t timeout_ns, const std::stop_token& stop) noexcept {
    // Never hand glibc a mutex of another kind: the segment was checked on
    // open, but another process may have changed it since.
    if (!IsKind(m_, expected_kind_)) return LockResult::unrecoverable;
    // A stop requested before the call aborts it even when the lock is free:
    // the operation must not take effect (S24). Costs nothing without a stop state.
    if (stop.stop_requested()) return LockResult::aborted;
    const int rc = pthread_mutex_trylock(m_);
    return rc == 0 ? LockResult::acquired : LockBusy(rc, timeout_ns, stop);
  }
  void MarkConsistent() noexcept;
  void Unlock() noexcept { pthread_mutex_unlock(m_); }

 private:
  static bool IsKind(const pthread_mutex_t* m, int kind) noexcept {
    return kind != -1 && m->__data.__kind == kind;
  }
  // Lock after a trylock that did not simply succeed (busy, or the owner died).
  LockResult LockBusy(int rc, std::int64_t timeout_ns, const std::stop_token& stop) noexcept;

  pthread_mutex_t* m_;
  int expected_kind_;
};

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_ROBUST_MUTEX_H_

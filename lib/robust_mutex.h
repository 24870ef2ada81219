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
  // Whether *m is of the kind Init makes (robust, process-shared, not
  // priority-inheriting). A mutex from a damaged or planted segment may claim
  // another kind, and glibc asserts (aborts the process) on some of those.
  static bool HasExpectedKind(const pthread_mutex_t* m) noexcept;

  explicit RobustMutex(pthread_mutex_t* m) noexcept : m_(m) {}

  // Waits timeout_ns at most. The clock is read only once the lock turns out
  // to be busy: an uncontended lock costs one CAS, no clock read. When `stop`
  // can be requested, waits in short slices so a request is noticed promptly.
  LockResult Lock(std::int64_t timeout_ns, const std::stop_token& stop) noexcept;
  void MarkConsistent() noexcept;
  void Unlock() noexcept;

 private:
  pthread_mutex_t* m_;
};

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_ROBUST_MUTEX_H_

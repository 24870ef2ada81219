// What a torture worker logs about its promises: fixed-size records, each
// written with one write() to the worker's own O_APPEND file, so that a
// SIGKILL at any moment leaves whole records or none (never a torn one).
#ifndef SHMLEASE_TESTS_HELPERS_TORTURE_RECORD_H_
#define SHMLEASE_TESTS_HELPERS_TORTURE_RECORD_H_

#include <cstdint>

namespace shmlease::testing {

enum TortureRecordType : std::uint32_t {
  // A claim (or extension) returned success: `worker` holds `lease` over
  // [a, b). a is read after the call returned, b = (clock read before the
  // call) + duration: the smallest interval the store promised. Written after
  // the call, so a worker killed in between just leaves a promise unchecked.
  kPromise = 1,
  // About to revoke at time a: ends this worker's promises on `lease` at a.
  // Written before the call, so it ends them early rather than late.
  kRevoke = 2,
  // WaitUntilFree, called at a, returned success at b: the lease was free
  // at some moment in [a, b].
  kWaitedFree = 3,
};

struct TortureRecord {
  std::uint32_t type;
  std::uint32_t lease;
  std::uint64_t worker;
  std::int64_t a;
  std::int64_t b;
};
static_assert(sizeof(TortureRecord) == 32);

inline constexpr int kTortureLeases = 6;

}  // namespace shmlease::testing

#endif  // SHMLEASE_TESTS_HELPERS_TORTURE_RECORD_H_

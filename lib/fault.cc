#include "fault.h"

#if defined(SHMLEASE_FAULT_HOOKS)
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace shmlease::internal {

void FaultPoint(const char* name) noexcept {
  const char* target = std::getenv("SHMLEASE_CRASH_AT");
  if (target == nullptr || std::strcmp(target, name) != 0) return;
  // Counting hits is the one piece of process-wide state, and it exists only
  // in fault-hook builds used by the crash tests.
  static std::atomic<long> hits{0};
  const char* skip = std::getenv("SHMLEASE_CRASH_SKIP");
  long n = hits.fetch_add(1);
  if (skip != nullptr && n < std::atol(skip)) return;
  const char* how = std::getenv("SHMLEASE_CRASH_HOW");
  if (how != nullptr && std::strcmp(how, "exit") == 0) _exit(86);
  kill(getpid(), SIGKILL);
  _exit(87);  // Not reached.
}

}  // namespace shmlease::internal
#endif

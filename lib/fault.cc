#include "fault.h"

#if defined(SHMLEASE_FAULT_HOOKS)
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shmlease::internal {

namespace {

bool Listed(const char* name) {
  for (const char* p : kFaultPoints) {
    if (std::strcmp(p, name) == 0) return true;
  }
  return false;
}

// One line per point reached, in a single O_APPEND write: lines from several
// processes never interleave, and a process killed right after still leaves it.
void LogReached(const char* name) {
  const char* path = std::getenv("SHMLEASE_FAULT_LOG");
  if (path == nullptr) return;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  char line[128];
  int n = std::snprintf(line, sizeof line, "%s\n", name);
  if (n > 0 && static_cast<std::size_t>(n) < sizeof line) {
    ssize_t ignored = write(fd, line, static_cast<std::size_t>(n));
    (void)ignored;
  }
  close(fd);
}

}  // namespace

void FaultPoint(const char* name) noexcept {
  if (!Listed(name)) {
    // A point missing from kFaultPoints would never be visited by the crash tests.
    std::fprintf(stderr, "shmlease: fault point '%s' is not in kFaultPoints\n", name);
    std::abort();
  }
  LogReached(name);
  const char* target = std::getenv("SHMLEASE_CRASH_AT");
  if (target == nullptr || std::strcmp(target, name) != 0) return;
  // Counting hits is the one piece of process-wide state, and it exists only
  // in fault-hook builds used by the crash tests.
  static std::atomic<long> hits{0};
  const char* skip = std::getenv("SHMLEASE_CRASH_SKIP");
  long n = hits.fetch_add(1);
  // Exactly the SKIP+1-th hit: a stopped process that is continued must not
  // stop again at the next pass (a claim passes "lock-acquired" twice).
  if (n != (skip != nullptr ? std::atol(skip) : 0)) return;
  const char* how = std::getenv("SHMLEASE_CRASH_HOW");
  if (how != nullptr && std::strcmp(how, "exit") == 0) _exit(86);
  if (how != nullptr && std::strcmp(how, "stop") == 0) {
    // A stopped, not dead, process: it keeps whatever it holds (the writers'
    // lock) until SIGCONT, as under a debugger or job control, and then
    // carries on from here. Lets tests reach Errc::timeout deterministically.
    kill(getpid(), SIGSTOP);
    return;
  }
  kill(getpid(), SIGKILL);
  _exit(87);  // Not reached.
}

const char* BootIdPath() noexcept {
  const char* path = std::getenv("SHMLEASE_BOOT_ID_PATH");
  return path != nullptr ? path : "/proc/sys/kernel/random/boot_id";
}

}  // namespace shmlease::internal
#endif

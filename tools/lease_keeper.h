// Keeps a lease held while a child process runs, and stops the child when
// the lease is lost: the loop at the heart of `shmlease run`.
#ifndef SHMLEASE_TOOLS_LEASE_KEEPER_H_
#define SHMLEASE_TOOLS_LEASE_KEEPER_H_

#include <sys/types.h>

#include <chrono>
#include <string>

#include "shmlease/shm_store.h"
#include "signal_fd.h"

namespace shmlease::cli {

struct KeeperPlan {
  Key key;
  std::string holder;
  std::chrono::nanoseconds duration{};    // Each extension asks for this much from now.
  std::chrono::nanoseconds kill_after{};  // SIGTERM, then SIGKILL this much later.
  // A time by which the lease is surely still held (the claim's start plus
  // its duration, read before the claim on the store's clock).
  Clock::time_point held_until;
};

struct KeeperOutcome {
  int wait_status = 0;      // The child's, from waitpid.
  bool lease_lost = false;  // The child was stopped because the lease was lost.
  std::string lost_because;
};

// Runs until `child` has ended. Extends the lease every third of its
// duration; when an extension is refused, or no extension succeeded before
// held_until, sends the child SIGTERM and, kill_after later, SIGKILL.
// SIGINT, SIGTERM and SIGHUP that arrive through `signals` are passed on to
// the child; `signals` must include SIGCHLD.
KeeperOutcome KeepLeaseWhileRunning(ShmStore& store, const KeeperPlan& plan, pid_t child,
                                    const SignalFd& signals);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_LEASE_KEEPER_H_

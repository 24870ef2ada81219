// Keeps a lease held while a child process runs, and stops the child when
// the lease is lost: the loop at the heart of `shmlease run`.
#ifndef SHMLEASE_TOOLS_LEASE_KEEPER_H_
#define SHMLEASE_TOOLS_LEASE_KEEPER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
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
  // The terminal handed to the child's group (StartChild), given back to the
  // caller's group as soon as the child has ended; -1 for none.
  int terminal = -1;
  // The fencing epoch of the holding claimed for the child. An extension
  // that finds another holding (revoked, then claimed again under the same
  // holder name) means the lease was lost in between.
  std::uint64_t epoch = 0;
  // The child's guardian (StartChild), spared when what the child left is
  // stopped, and the descriptor its deadlines are renewed through, after
  // each extension (GuardianDeadline); -1 for none, as on a fake clock,
  // whose time does not pass with the guardian's.
  pid_t guardian = -1;
  int renew_fd = -1;
};

// The guardian's deadline on CLOCK_MONOTONIC for a lease surely held until
// `held_until` on the store's clock: a little before it, so that the
// guardian, woken late by a busy scheduler, has killed the command before
// anyone else can claim the lease.
std::chrono::steady_clock::time_point GuardianDeadline(const ShmStore& store,
                                                       Clock::time_point held_until,
                                                       std::chrono::nanoseconds duration);

struct KeeperOutcome {
  int wait_status = 0;          // The child's, from waitpid.
  bool status_unknown = false;  // Someone else reaped the child: wait_status means nothing.
  bool lease_lost = false;      // The child was stopped because the lease was lost.
  std::string lost_because;
  std::error_code lost_error;  // When the loss is the segment's: it was truncated.
  // The child ended but left processes running in its group, which were stopped.
  bool stopped_leftovers = false;
  // Until when the last successful extension (or the claim) made the lease
  // surely held.
  Clock::time_point held_until;
};

// Why `holder` no longer has the holding of `epoch` at `now`, for a message:
// it ran out (now is past held_until; `lock_blocked`: while an extension
// waited for, or had failed on, the table's lock), or it was revoked or taken over.
std::string WhyLost(const ShmStore& store, const Key& key, const std::string& holder,
                    std::uint64_t epoch, Clock::time_point held_until, bool lock_blocked = false);

// `child` leads its own process group (StartChild); everything below is done
// to the whole group and to every other process below the caller but the
// guardian: the caller is a child subreaper, so that what the child started
// outside its group (a daemon, after setsid and a double fork) is handed to
// it, and those it reaps. Runs until `child` has ended and nothing is left
// of its group or below the caller. Extends the lease every third of its duration all along; when
// the holding of plan.epoch ends (revoked or taken over, seen at once by a thread waiting in
// ShmStore::WaitUntilLost), an extension is refused, or no extension succeeded before held_until,
// sends the group SIGTERM and, kill_after later, SIGKILL; while extensions fail for now (the lock
// stays taken), it does so kill_after before held_until, so that the group is gone when the lease
// runs out. When the child ends while others of its group still run (what it left in the
// background), the group gets the same, SIGTERM and then SIGKILL, while the lease is still held.
// SIGINT, SIGTERM and SIGHUP that arrive through `signals` are passed on to the group; `signals`
// must include SIGCHLD. Waits for no other child of the caller than `child`.
KeeperOutcome KeepLeaseWhileRunning(ShmStore& store, const KeeperPlan& plan, pid_t child,
                                    const SignalFd& signals);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_LEASE_KEEPER_H_

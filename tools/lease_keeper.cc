#include "lease_keeper.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>

#include "background_wait.h"
#include "child_process.h"
#include "descendants.h"
#include "lease_text.h"
#include "shmlease/errors.h"

namespace shmlease::cli {

namespace {

// How often a transient failure to extend (the writers' lock stayed taken)
// is retried, at most; a refusal is final and is never retried.
constexpr std::chrono::milliseconds kRetryPause{50};

// An extension under way this long is waiting for the lock, which a live
// writer holds for well under a microsecond. One under way for less may not
// have reached the lock yet: asked to stop then, it would give up without
// trying (a stop requested before an operation starts aborts it), and run
// would take a free lock for a stuck one.
constexpr std::chrono::milliseconds kExtensionGrace{50};

timespec ToTimespec(std::chrono::nanoseconds d) {
  d = std::max(d, std::chrono::nanoseconds(0));
  return timespec{static_cast<time_t>(d.count() / 1'000'000'000),
                  static_cast<long>(d.count() % 1'000'000'000)};
}

// How often a group whose leader has ended is looked at, until it is empty.
constexpr std::chrono::milliseconds kGroupPoll{10};

// Whether any process is left in process group `pgid`. Zombies count: the
// check cannot tell them apart, so a group whose last members are unreaped
// zombies is taken for alive until kill_after (then SIGKILL changes nothing).
// EPERM means a member exists that may not be signalled (it changed its uid).
bool GroupAlive(pid_t pgid) { return kill(-pgid, 0) == 0 || errno == EPERM; }

// The child stopped. When its group has the terminal (Ctrl-Z, or a program
// such as an editor stopping itself), run must stop too, as a shell's job:
// otherwise the shell never gets the terminal back, and run keeps extending
// the lease of a stopped command. Takes the terminal back and stops run's
// own group as the terminal would have; returns true once continued, and
// the caller then continues the child (ContinueChild) or, if the lease was
// lost meanwhile, has it terminated before it runs on. A child stopped
// otherwise (SIGSTOP from elsewhere) is left to whoever stopped it: false.
// `before_stop` runs first: SIGTSTP stops every thread of run, and none may
// be stopped holding the table's lock.
template <typename BeforeStop>
bool StopWithChild(int terminal, pid_t group, BeforeStop before_stop) {
  if (terminal < 0 || tcgetpgrp(terminal) != group) return false;
  before_stop();
  SetForegroundGroup(terminal, getpgrp());
  kill(0, SIGTSTP);  // Returns once run's group is continued.
  return true;
}

// Hands the terminal back to the child's group if run was continued in the
// foreground (`fg`, not `bg`), and continues the group.
void ContinueChild(int terminal, pid_t group) {
  if (tcgetpgrp(terminal) == getpgrp()) SetForegroundGroup(terminal, group);
  kill(-group, SIGCONT);
}

// One extension, in a thread of its own. While a process stopped in the
// middle of a write holds the writers' lock, an extension waits for the lock
// up to the store's lock timeout (--lock-timeout), and the loop must go on
// meanwhile: passing signals on, reaping the child, stopping it in time.
// Without a thread to be had, it runs in the caller's thread, as it once did.
class PendingExtension {
 public:
  PendingExtension(ShmStore& store, const KeeperPlan& plan, Clock::time_point asked_at)
      : asked_at_(asked_at), call_([this, &store, &plan](std::stop_token stop) {
          return Extend(store, plan, std::move(stop), &epoch_);
        }) {
    if (call_.error()) {
      ran_here_ = true;
      result_here_ = Extend(store, plan, {}, &epoch_);
    }
  }
  PendingExtension(const PendingExtension&) = delete;
  PendingExtension& operator=(const PendingExtension&) = delete;

  // The store's time, read before the extension was asked for.
  Clock::time_point asked_at() const { return asked_at_; }
  bool finished() const { return ran_here_ || call_.finished(); }
  // Once finished: the extension's result, and after a success the epoch of
  // the holder's holding then (0 if it holds none).
  std::error_code result() const { return ran_here_ ? result_here_ : call_.result(); }
  std::uint64_t epoch() const { return epoch_; }
  // Readable once finished; -1 when it ran in the caller's thread.
  int fd() const { return ran_here_ ? -1 : call_.fd(); }
  // An extension still waiting for the lock then returns Errc::aborted.
  void RequestStop() {
    stop_requested_ = true;
    if (!ran_here_) call_.RequestStop();
  }
  bool stop_requested() const { return stop_requested_; }

 private:
  static std::error_code Extend(ShmStore& store, const KeeperPlan& plan, std::stop_token stop,
                                std::uint64_t* epoch) {
    // A segment destroyed or replaced under run: whoever opens the name now
    // sees other leases, so this holding protects nothing any more.
    if (std::error_code gone = store.CheckStillNamed()) return gone;
    std::error_code ec =
        store.ExtendLease(plan.key, Request{plan.holder, plan.duration}, std::move(stop));
    if (!ec) *epoch = HoldingEpoch(store, plan.key, plan.holder);
    return ec;
  }

  Clock::time_point asked_at_;
  std::uint64_t epoch_ = 0;
  bool ran_here_ = false;
  bool stop_requested_ = false;
  std::error_code result_here_;
  BackgroundWait call_;  // Last: its thread starts once the members it writes exist.
};

}  // namespace

std::chrono::steady_clock::time_point GuardianDeadline(const ShmStore& store,
                                                       Clock::time_point held_until,
                                                       std::chrono::nanoseconds duration) {
  // A lead that a woken process needs far less than, and that stays a small
  // share of a short lease's time between extensions.
  const std::chrono::nanoseconds lead =
      std::min<std::chrono::nanoseconds>(duration / 10, std::chrono::milliseconds(50));
  // The local clock read first: the deadline errs early, never late.
  const auto local_now = std::chrono::steady_clock::now();
  return local_now + (held_until - store.Now()) - lead;
}

std::string WhyLost(const ShmStore& store, const Key& key, const std::string& holder,
                    std::uint64_t epoch, Clock::time_point held_until, bool lock_blocked) {
  LeaseMap leases;
  const Key keys[] = {key};
  if (!store.Leases(&leases, keys) && !leases.empty()) {
    const Info& now_held = leases.begin()->second;
    if (now_held.holder != holder) return "it was taken over by '" + now_held.holder + "'";
    if (now_held.epoch != epoch) {
      return "it was revoked and claimed again under the same holder name (epoch " +
             std::to_string(epoch) + " became " + std::to_string(now_held.epoch) + ")";
    }
  }
  if (store.Now() >= held_until) {
    return lock_blocked ? "it ran out while its extension waited for the table's lock (a process "
                          "stopped in the middle of a write holds it)"
                        : "it ran out before it could be extended (was shmlease run stopped or "
                          "starved?)";
  }
  return "it was revoked (it is no longer held by '" + holder + "')";
}

// Every signal is passed on, and none reaches the group twice: the child's
// group is never the caller's, and a terminal sends its keys' signals only to
// its foreground group. One that reached the caller was sent while the
// caller's group, not the child's, had the terminal: before it was handed
// over, after it was given back, or when none was (stdin not a terminal).
// The SIGHUP of a hangup goes to the session leader alone.
KeeperOutcome KeepLeaseWhileRunning(ShmStore& store, const KeeperPlan& plan, pid_t child,
                                    const SignalFd& signals) {
  using std::chrono::nanoseconds;
  KeeperOutcome outcome;
  const pid_t group = child;
  const nanoseconds period = std::max(plan.duration / 3, nanoseconds(1));
  Clock::time_point held_until = plan.held_until;
  Clock::time_point next_extension = held_until - plan.duration + period;
  // Why the last extension tried failed for now (the writers' lock stayed
  // taken); empty once one succeeds.
  std::error_code extension_failure;
  Clock::time_point kill_at = Clock::time_point::max();
  bool terminating = false;  // The group was sent SIGTERM.
  bool killed = false;       // The group was sent SIGKILL: nothing of it runs any more.
  bool child_ended = false;  // Reaped; only the rest of its group may be left.

  const pid_t self = getpid();
  // To the group and to what is below run outside it.
  auto signal_all = [&](int sig) {
    kill(-group, sig);
    SignalDescendants(self, plan.guardian, sig);
  };
  auto terminate = [&] {
    if (terminating) return;
    terminating = true;
    signal_all(SIGTERM);
    signal_all(SIGCONT);  // A stopped member could not act on SIGTERM.
    kill_at = store.Now() + plan.kill_after;
  };
  // The extension in flight, if any.
  std::optional<PendingExtension> extension;
  auto lose = [&](std::string why) {
    outcome.lease_lost = true;
    outcome.lost_because = std::move(why);
    terminate();
    if (extension) extension->RequestStop();  // No use any more.
  };
  // The segment's bytes are gone, and the holding with them.
  auto lose_segment = [&] {
    outcome.lost_error = make_error_code(Errc::segment_truncated);
    lose("its segment was truncated");
  };
  // The holding is gone (revoked, taken over, run out): say which.
  auto lose_holding = [&](const std::string& prefix = "") {
    const bool lock_blocked = extension.has_value() || static_cast<bool>(extension_failure);
    lose(prefix + WhyLost(store, plan.key, plan.holder, plan.epoch, held_until, lock_blocked));
  };
  // Learns of a revocation (or a takeover) the moment it happens, not at the
  // next extension, up to a third of the duration later: a `run --wait`
  // elsewhere starts its command at once. Without it (no eventfd or thread), the
  // extensions still find the loss, later.
  BackgroundWait loss_watch([&store, &plan](std::stop_token stop) {
    return store.WaitUntilLost(plan.key, plan.epoch, std::move(stop));
  });
  bool watching = !loss_watch.error();

  for (;;) {
    signalfd_siginfo info;
    while (signals.Read(&info)) {
      const int sig = static_cast<int>(info.ssi_signo);
      if (sig == SIGCHLD) {
        // The child is reaped below; several exits may share one signal.
        ReapAdoptedChildren(child, plan.guardian);
        continue;
      }
      kill(-group, sig);
    }
    if (!child_ended) {
      // Only `child` is waited for: another child of the caller (the
      // guardian) ending must not be taken for it.
      int status = 0;
      pid_t reaped = waitpid(child, &status, WNOHANG | WUNTRACED);
      if (reaped == child && WIFSTOPPED(status)) {
        const auto drop_extension = [&] {
          if (!extension) return;
          // Its thread must not be stopped inside the lock. Whatever it did
          // is dropped: held_until stays what was last confirmed.
          extension->RequestStop();
          extension.reset();
        };
        if (StopWithChild(plan.terminal, group, drop_extension)) {
          // Nothing extended the lease while run was stopped. If it is no
          // longer the child's, the child gets SIGTERM before it runs on.
          if (!outcome.lease_lost && store.Now() < held_until &&
              HoldingEpoch(store, plan.key, plan.holder) == plan.epoch) {
            ContinueChild(plan.terminal, group);
          } else if (!outcome.lease_lost) {
            lose_holding();
          } else {
            kill(-group, SIGCONT);  // Already sent SIGTERM: let it act on it.
          }
        }
        continue;  // Look again at once.
      }
      if (reaped == child || (reaped < 0 && errno == ECHILD)) {
        child_ended = true;
        outcome.wait_status = status;
        // ECHILD: reaped by someone else (the caller resets an ignored
        // SIGCHLD, which would make the kernel reap it): the status is lost.
        outcome.status_unknown = reaped < 0;
        if (plan.terminal >= 0) SetForegroundGroup(plan.terminal, getpgrp());
      }
    }
    if (child_ended) {
      // After SIGKILL nothing of the group runs again: no need to wait for
      // its members, which are no longer ours to reap. Below run, SIGKILL
      // goes round again until nothing is left: what a process forked as it
      // was killed is found by the next round.
      const bool below = SignalDescendants(self, plan.guardian, killed ? SIGKILL : 0) > 0;
      if (!below && (killed || !GroupAlive(group))) {
        outcome.held_until = held_until;
        return outcome;
      }
      if (!terminating) outcome.stopped_leftovers = true;
      terminate();
    }

    if (watching && loss_watch.finished()) {
      watching = false;
      // Success: the holding ended; so it did with the segment truncated.
      // Another error (the segment turned unreadable) leaves the loss to the
      // extensions to find.
      if (!loss_watch.result() && !outcome.lease_lost) lose_holding();
      if (loss_watch.result() == Errc::segment_truncated && !outcome.lease_lost) lose_segment();
    }
    if (!outcome.lease_lost && !extension && store.Now() >= next_extension) {
      extension.emplace(store, plan, store.Now());
    }
    if (extension && extension->finished()) {
      const std::error_code ec = extension->result();
      const Clock::time_point asked_at = extension->asked_at();
      const std::uint64_t epoch_after = extension->epoch();
      extension.reset();
      if (outcome.lease_lost) {
        // Decided already; whatever the extension did changes nothing.
      } else if (!ec && epoch_after != plan.epoch) {
        // Extended, but another holding than the child's: the lease was lost in between.
        lose_holding();
      } else if (!ec) {
        // `asked_at` was read before the call, so this never overestimates the expiry.
        held_until = asked_at + plan.duration;
        next_extension = asked_at + period;
        extension_failure.clear();
        if (plan.renew_fd >= 0) {
          RenewGuardian(plan.renew_fd, GuardianDeadline(store, held_until, plan.duration));
        }
      } else if (ec == Errc::invalid) {
        lose_holding("an extension was refused: ");
      } else if (ec == Errc::segment_replaced) {
        lose(ec.message());
      } else if (ec == Errc::segment_truncated) {
        lose_segment();
      } else {
        next_extension = asked_at + std::min<nanoseconds>(period, kRetryPause);
        // Aborted: stopped below, when it had waited for the lock until the
        // command had to be told to stop. To the user, the lock wait timed out.
        extension_failure = ec == Errc::aborted ? make_error_code(Errc::timeout) : ec;
      }
    }
    // The moment the command must be sent SIGTERM to be gone when the lease
    // runs out. An extension still waiting for the lock then is given up,
    // and counts as failed (below). Not one asked for after that moment
    // (--kill-after longer than what was left of the lease): that one has the
    // whole lock timeout, and the lease's end (below) as the last word.
    const Clock::time_point stop_by = held_until - plan.kill_after;
    const bool stop_extension_at_stop_by =
        extension && !extension->stop_requested() && stop_by > extension->asked_at();
    const Clock::time_point stop_extension_at =
        stop_extension_at_stop_by ? std::max(stop_by, extension->asked_at() + kExtensionGrace)
                                  : Clock::time_point::max();
    if (stop_extension_at_stop_by && store.Now() >= stop_extension_at) {
      extension->RequestStop();
    }
    // While extensions fail, the command is stopped in time to be gone when
    // the lease runs out, not kill_after later: SIGTERM kill_after before the
    // expiry, so that the SIGKILL that follows comes no later than it.
    if (!outcome.lease_lost && extension_failure && store.Now() >= held_until - plan.kill_after) {
      lose("it could not be extended (" + extension_failure.message() +
           ") and was about to run out");
    }
    if (!outcome.lease_lost && store.Now() >= held_until) {
      lose("it could not be extended before it ran out");
    }
    if (terminating && !killed && store.Now() >= kill_at) {
      signal_all(SIGKILL);
      killed = true;
      if (child_ended) continue;  // Looks below run again at once.
    }

    Clock::time_point wake = Clock::time_point::max();
    if (!outcome.lease_lost) wake = extension ? held_until : std::min(next_extension, held_until);
    if (!outcome.lease_lost && extension_failure) wake = std::min(wake, stop_by);
    if (!outcome.lease_lost && stop_extension_at_stop_by) wake = std::min(wake, stop_extension_at);
    if (terminating && !killed) wake = std::min(wake, kill_at);
    if (child_ended) wake = std::min(wake, store.Now() + kGroupPoll);
    pollfd fds[3] = {{signals.fd(), POLLIN, 0}};
    nfds_t nfds = 1;
    if (watching) fds[nfds++] = {loss_watch.fd(), POLLIN, 0};
    if (extension && extension->fd() >= 0) fds[nfds++] = {extension->fd(), POLLIN, 0};
    if (wake == Clock::time_point::max()) {
      ppoll(fds, nfds, nullptr, nullptr);
    } else {
      const timespec timeout = ToTimespec(wake - store.Now());
      ppoll(fds, nfds, &timeout, nullptr);
    }
  }
}

}  // namespace shmlease::cli

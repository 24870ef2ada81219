#include "lease_keeper.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "shmlease/errors.h"

namespace shmlease::cli {

namespace {

// How often a transient failure to extend (the writers' lock stayed taken)
// is retried, at most; a refusal is final and is never retried.
constexpr std::chrono::milliseconds kRetryPause{50};

timespec ToTimespec(std::chrono::nanoseconds d) {
  d = std::max(d, std::chrono::nanoseconds(0));
  return timespec{static_cast<time_t>(d.count() / 1'000'000'000),
                  static_cast<long>(d.count() % 1'000'000'000)};
}

// Signals a terminal sends (SI_KERNEL) reach the whole foreground process
// group, the child included, unless the child has left our group: passing
// them on again would deliver them twice.
bool ChildAlreadyGot(const signalfd_siginfo& info, pid_t child) {
  return info.ssi_code == SI_KERNEL && getpgid(child) == getpgrp();
}

}  // namespace

KeeperOutcome KeepLeaseWhileRunning(ShmStore& store, const KeeperPlan& plan, pid_t child,
                                    const SignalFd& signals) {
  using std::chrono::nanoseconds;
  KeeperOutcome outcome;
  const nanoseconds period = std::max(plan.duration / 3, nanoseconds(1));
  Clock::time_point held_until = plan.held_until;
  Clock::time_point next_extension = held_until - plan.duration + period;
  Clock::time_point kill_at = Clock::time_point::max();
  bool killed = false;

  auto lose = [&](std::string why) {
    outcome.lease_lost = true;
    outcome.lost_because = std::move(why);
    kill(child, SIGTERM);
    kill_at = store.Now() + plan.kill_after;
  };

  for (;;) {
    signalfd_siginfo info;
    while (signals.Read(&info)) {
      const int sig = static_cast<int>(info.ssi_signo);
      if (sig == SIGCHLD) continue;  // Reaped below; several exits may share one signal.
      if (!ChildAlreadyGot(info, child)) kill(child, sig);
    }
    int status = 0;
    pid_t reaped = waitpid(child, &status, WNOHANG);
    if (reaped == child || (reaped < 0 && errno == ECHILD)) {
      outcome.wait_status = status;
      return outcome;
    }

    const Clock::time_point now = store.Now();
    if (!outcome.lease_lost && now >= next_extension) {
      std::error_code ec = store.ExtendLease(plan.key, Request{plan.holder, plan.duration});
      if (!ec) {
        // `now` was read before the call, so this never overestimates the expiry.
        held_until = now + plan.duration;
        next_extension = now + period;
      } else if (ec == Errc::invalid) {
        lose(
            "an extension was refused: the lease was revoked or taken over (it is no longer "
            "held by '" +
            plan.holder + "')");
      } else {
        next_extension = now + std::min<nanoseconds>(period, kRetryPause);
      }
    }
    if (!outcome.lease_lost && store.Now() >= held_until) {
      lose("it could not be extended before it ran out");
    }
    if (outcome.lease_lost && !killed && store.Now() >= kill_at) {
      kill(child, SIGKILL);
      killed = true;
    }

    Clock::time_point wake = Clock::time_point::max();
    if (!outcome.lease_lost) wake = std::min(next_extension, held_until);
    if (outcome.lease_lost && !killed) wake = kill_at;
    pollfd pfd{signals.fd(), POLLIN, 0};
    if (wake == Clock::time_point::max()) {
      ppoll(&pfd, 1, nullptr, nullptr);
    } else {
      const timespec timeout = ToTimespec(wake - store.Now());
      ppoll(&pfd, 1, &timeout, nullptr);
    }
  }
}

}  // namespace shmlease::cli

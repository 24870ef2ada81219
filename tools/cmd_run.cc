// run: a safer flock(1). Claims a lease, runs a command while keeping the
// lease, gives it up when the command ends.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "background_wait.h"
#include "child_process.h"
#include "cli_options.h"
#include "command.h"
#include "default_holder.h"
#include "duration.h"
#include "lease_keeper.h"
#include "lease_text.h"
#include "report.h"
#include "shmlease/shmlease.h"
#include "signal_fd.h"

namespace shmlease::cli {

namespace {

using namespace std::chrono_literals;

struct RunArgs {
  std::string lease;
  std::string holder;  // Empty: DefaultRunHolder().
  std::chrono::nanoseconds duration{};
  bool wait = false;
  std::chrono::nanoseconds kill_after = 5s;
  std::vector<std::string> command;
};

// How long a claim or a revoke may still finish after a signal came: one
// that is not waiting for a stuck lock takes microseconds, and should take
// effect (a revoke interrupted for nothing would leave the lease held).
constexpr std::chrono::milliseconds kLockGrace{100};

// The segment as CMD must name it to find run's: a file path made absolute,
// since CMD (or what it starts) may change directory, and a relative path
// would then open, or create, another table. A /dev/shm name is the same
// name from anywhere.
std::string SegmentForCommand(const std::string& segment) {
  if (ShmStore::PathOf(segment) != segment || segment.starts_with('/')) return segment;
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(segment, ec);
  return ec ? segment : absolute.string();
}

int RunRun(const GlobalOptions& options, const RunArgs& given) {
  RunArgs args = given;
  if (args.holder.empty()) args.holder = DefaultRunHolder();
  // An ignored SIGCHLD (inherited through exec) makes the kernel reap CMD
  // itself, and its exit status would be lost; CMD gets the default too.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(SIGCHLD, &default_action, nullptr);
  // Before any thread starts, so that every thread has these signals blocked
  // and they all arrive through the descriptor.
  SignalFd signals({SIGCHLD, SIGINT, SIGTERM, SIGHUP});
  if (signals.error()) return Report("cannot watch signals", signals.error());

  OpenedSegment opened = OpenSegment(options, Access::kCreate);
  if (!opened.store) return ReportOpenFailure(options, opened);
  ShmStore& store = *opened.store;
  const Key key{options.ns, options.model, args.lease};
  const Request request{args.holder, args.duration};

  if (options.verbose) {
    std::fprintf(stderr, "shmlease: claiming %s as '%s'\n", LeaseName(key).c_str(),
                 Printable(args.holder).c_str());
  }
  Clock::time_point claimed_at;
  for (;;) {
    claimed_at = store.Now();
    int signo = 0;
    // A claim, never an extension: a holding already under run's holder
    // name is another process's (a holder given twice, or a pid that
    // another PID namespace has too), and taking it over would run two
    // commands at once under one epoch.
    // Interruptible: a process stopped while it holds the writers' lock
    // would otherwise keep run deaf to Ctrl-C for the whole lock timeout.
    std::error_code ec = RunUnlessSignalled(
        [&](std::stop_token stop) { return store.ClaimLease(key, request, std::move(stop)); },
        signals, &signo, WithoutThread::kRunHere, kLockGrace);
    if (signo != 0) {
      // Claimed all the same (the lock came as the signal did): give it back.
      if (!ec) store.RevokeLease(key, args.holder);
      return 128 + signo;
    }
    if (!ec) break;
    if (ec != Errc::held) return Report("cannot claim " + LeaseName(key), ec);
    LeaseMap leases;
    const Key keys[] = {key};
    if (std::error_code read = store.Leases(&leases, keys)) {
      return Report("cannot read " + LeaseName(key), read);
    }
    if (leases.empty()) continue;  // Given up since the claim: claim again.
    const Info& current = leases.begin()->second;
    if (current.holder == args.holder) {
      return Report("refused: " + LeaseName(key) + " is already " +
                    DescribeHolding(current, store.Now()) +
                    ", under the holder name run was to use; run never takes over a holding "
                    "(another process has it), so give run a --holder of its own");
    }
    const std::string holding = DescribeHolding(current, store.Now());
    if (!args.wait) return Report("claim denied: " + LeaseName(key) + " is " + holding);
    if (options.verbose) {
      std::fprintf(stderr, "shmlease: waiting for %s, %s\n", LeaseName(key).c_str(),
                   holding.c_str());
    }
    ec = RunUnlessSignalled(
        [&](std::stop_token stop) { return store.WaitUntilFree(key, std::move(stop)); }, signals,
        &signo, WithoutThread::kFail, std::chrono::milliseconds(0));
    if (signo != 0) return 128 + signo;
    if (ec && ec != Errc::wait_cancelled) return Report("cannot wait for " + LeaseName(key), ec);
    // Free: someone else may claim first, and then this waits again.
  }

  // What the command may want to know: its segment (so that a nested
  // `shmlease check` finds it), its lease, holder and fencing epoch.
  setenv("SHMLEASE_SEGMENT", SegmentForCommand(options.segment).c_str(), 1);
  setenv("SHMLEASE_NAMESPACE", options.ns.c_str(), 1);
  setenv("SHMLEASE_MODEL", options.model.c_str(), 1);
  setenv("SHMLEASE_LEASE", args.lease.c_str(), 1);
  setenv("SHMLEASE_HOLDER", args.holder.c_str(), 1);
  // Read back after the claim: gone already (revoked, or claimed by another
  // since), it is lost before CMD ever starts.
  const std::uint64_t epoch = HoldingEpoch(store, key, args.holder);
  if (epoch == 0) {
    return Report("lost " + LeaseName(key) + " before '" + args.command.front() +
                  "' started: " + DescribeCurrent(store, key) + "; the command was not run");
  }
  setenv("SHMLEASE_EPOCH", std::to_string(epoch).c_str(), 1);

  // CMD runs as the leader of its own process group, and everything run
  // sends goes to that group, so that what CMD starts is stopped with it.
  // Given the terminal (when run has it), that group also reads it and gets
  // what its keys send, as a shell's job would.
  const int terminal = ForegroundTerminal();
  // A subreaper, so that what CMD starts and leaves (a daemon that left its
  // group) is handed to run, to be stopped with the rest before the lease
  // is given up. prctl cannot fail for these arguments.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // The guardian kills CMD once the lease's promise ends unless run renews
  // it: a stopped run neither extends nor stops CMD. On a fake clock, time
  // passes only when a test moves it: no deadline.
  ShmStats stats;
  const bool fake_clock = !store.GetStats(&stats) && stats.fake_clock;
  const auto guardian_deadline =
      fake_clock ? std::chrono::steady_clock::time_point::max()
                 : GuardianDeadline(store, claimed_at + args.duration, args.duration);
  StartedChild started;
  if (std::error_code ec = StartChild(args.command, signals.original_mask(), terminal,
                                      guardian_deadline, &started)) {
    store.RevokeLease(key, args.holder);
    Report("cannot run '" + args.command.front() + "'", ec);
    // As a shell would: 127 for a command that is not there, 126 for one that cannot run.
    return ec == std::errc::no_such_file_or_directory ? 127 : 126;
  }
  const pid_t child = started.pid;
  if (options.verbose) {
    std::fprintf(stderr, "shmlease: holding %s as '%s'; started %s (pid %d)\n",
                 LeaseName(key).c_str(), Printable(args.holder).c_str(),
                 Printable(args.command.front()).c_str(), static_cast<int>(child));
  }

  KeeperPlan plan{key,
                  args.holder,
                  args.duration,
                  args.kill_after,
                  claimed_at + args.duration,
                  terminal,
                  epoch,
                  started.guardian,
                  fake_clock ? -1 : started.renew.get()};
  KeeperOutcome outcome = KeepLeaseWhileRunning(store, plan, child, signals);
  // Nothing of CMD's group runs any more: the guardian has nothing left to do.
  StopGuardian(started.guardian);
  if (outcome.lease_lost) {
    return Report("lost " + LeaseName(key) + " while '" + args.command.front() +
                      "' ran: " + outcome.lost_because + "; the command was stopped",
                  outcome.lost_error);
  }
  if (outcome.stopped_leftovers && options.verbose) {
    std::fprintf(stderr, "shmlease: stopped what %s left running\n",
                 Printable(args.command.front()).c_str());
  }
  // The lease may have been lost after the last extension, while CMD was
  // ending: then CMD may have run beside another holder, and the holding
  // there now is not CMD's to give up. (Another process could still revoke
  // and reclaim it between this look and the revoke; nothing closes that.)
  if (HoldingEpoch(store, key, args.holder) != epoch) {
    return Report("lost " + LeaseName(key) + " while '" + args.command.front() +
                  "' ran: " + WhyLost(store, key, args.holder, epoch, outcome.held_until) +
                  "; the command had ended");
  }
  int signo = 0;
  const std::error_code revoked = RunUnlessSignalled(
      [&](std::stop_token stop) { return store.RevokeLease(key, args.holder, std::move(stop)); },
      signals, &signo, WithoutThread::kRunHere, kLockGrace);
  if (revoked && revoked != Errc::invalid) {
    Report("cannot give up " + LeaseName(key) + "; it runs out in at most " +
               FormatDuration(args.duration),
           revoked);
    // Given up on a signal: the lease is left to run out.
    if (signo != 0) return 128 + signo;
  }
  if (outcome.status_unknown) {
    return Report("cannot tell how '" + args.command.front() +
                  "' ended: another process reaped it");
  }
  return ExitCodeOfWaitStatus(outcome.wait_status);
}

}  // namespace

void AddRunCommand(CLI::App& app, const GlobalOptions& options, Commands& commands) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* sub = app.add_subcommand(
      "run",
      "Claim LEASE, run CMD while extending it, revoke it when CMD ends; exit with CMD's status "
      "(128+N if it died of signal N), or 1 if the lease was denied or lost");
  sub->add_option("LEASE", args->lease, "The lease's name")->required()->check(NameValidator());
  sub->add_option("--holder", args->holder,
                  "Who holds the lease (the default is unique to this process, across PID "
                  "namespaces and boots); a lease already held under this name is refused")
      // The default is computed by the run that uses it (DefaultRunHolder):
      // show its form, not the name of the process printing the help.
      ->default_str("run-<PID>-<HASH>")
      ->check(NameValidator());
  AddDurationOption(sub, "--for", &args->duration,
                    "Lease duration; it is extended every third of it while CMD runs")
      ->required();
  sub->add_flag("--wait", args->wait, "Wait until the lease can be claimed instead of exiting 1");
  AddDurationOption(
      sub, "--kill-after", &args->kill_after,
      "SIGKILL CMD's group this long after SIGTERM, sent when the lease is lost or when CMD "
      "ended leaving processes behind (default 5s)");
  sub->add_option("CMD", args->command, "The command and its arguments, after --")->required();
  sub->footer(
      "Write CMD after `--`. CMD runs as the leader of its own process group: every signal "
      "run sends goes to the whole group, so whatever CMD starts is stopped with it. SIGINT, "
      "SIGTERM and SIGHUP are passed on to the group. If stdin is run's terminal, CMD's group "
      "gets the terminal (its keys' signals reach it directly) until CMD ends. When CMD ends, "
      "what it left running in its group gets SIGTERM, then SIGKILL after --kill-after, before "
      "the lease is given up; so does what CMD started outside its group (a daemon: run is a "
      "child subreaper). If shmlease itself is killed, CMD's whole group is killed with it; "
      "if it is stopped, CMD's group and what it started are killed just before the lease "
      "runs out. Exits 127 if CMD is not found, 126 if it cannot be run.\nGlobal options "
      "(--segment, "
      "--namespace, --model, --trust-owner, --trust-any-owner, --lock-timeout, -v) may be given "
      "before or after "
      "the subcommand; see shmlease --help.");
  commands.Add(sub, [&options, args] { return RunRun(options, *args); });
}

}  // namespace shmlease::cli

// wait: block until a lease is not held.
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "cli_options.h"
#include "command.h"
#include "duration.h"
#include "lease_text.h"
#include "report.h"
#include "shmlease/shmlease.h"

namespace shmlease::cli {

namespace {

struct WaitArgs {
  std::string lease;
  std::chrono::nanoseconds timeout{};  // Zero: wait for as long as it takes.
};

// Requests `stop` when `timeout` has passed, unless it is destroyed first.
std::jthread StopAfter(std::stop_source stop, std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  return std::jthread([stop, deadline](std::stop_token cancelled) mutable {
    std::mutex mutex;
    std::condition_variable_any sleeping;
    std::unique_lock lock(mutex);
    // Wakes at the deadline, or as soon as the jthread is asked to stop.
    sleeping.wait_until(lock, cancelled, deadline, [] { return false; });
    if (!cancelled.stop_requested()) stop.request_stop();
  });
}

int RunWait(const GlobalOptions& options, const WaitArgs& args) {
  // Read-write when allowed: only a writable mapping can register as a
  // waiter and be woken at once; a read-only one is polled every millisecond.
  OpenedSegment opened = OpenSegment(options, Access::kWrite);
  if (opened.ec == Errc::permission_denied) opened = OpenSegment(options, Access::kRead);
  const Key key{options.ns, options.model, args.lease};
  if (opened.ec == Errc::segment_not_found) {
    if (options.verbose) std::printf("%s is free: there is no segment\n", LeaseName(key).c_str());
    return kExitOk;
  }
  if (!opened.store) return ReportOpenFailure(options, opened);
  std::stop_source stop;
  std::optional<std::jthread> timer;
  if (args.timeout.count() > 0) timer = StopAfter(stop, args.timeout);
  std::error_code ec = opened.store->WaitUntilFree(key, stop.get_token());
  timer.reset();  // Joins: the timer must not outlive `stop`'s users.
  if (ec == Errc::wait_cancelled) {
    return Report("timed out after " + FormatDuration(args.timeout) + " waiting for " +
                  LeaseName(key) + ": it is " + DescribeCurrent(*opened.store, key));
  }
  if (ec) return Report("cannot wait for " + LeaseName(key), ec);
  if (options.verbose) std::printf("%s is free\n", LeaseName(key).c_str());
  return kExitOk;
}

}  // namespace

void AddWaitCommand(CLI::App& app, const GlobalOptions& options, Commands& commands) {
  auto args = std::make_shared<WaitArgs>();
  CLI::App* sub = app.add_subcommand(
      "wait",
      "Block until LEASE is not held (at once if it is free or there is no segment); "
      "exit 1 on timeout");
  sub->add_option("LEASE", args->lease, "The lease's name")->required()->check(NameValidator());
  AddDurationOption(sub, "--timeout", &args->timeout, "Give up after this long (default: never)");
  commands.Add(sub, [&options, args] { return RunWait(options, *args); });
}

}  // namespace shmlease::cli

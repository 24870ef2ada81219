// Shared test helpers: a segment name per test (pid + test name) that is
// removed when the test ends, pass or fail, so tests run in parallel and
// leave nothing in /dev/shm.
#ifndef SHMLEASE_TESTS_TEST_UTIL_H_
#define SHMLEASE_TESTS_TEST_UTIL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "shmlease/shmlease.h"

namespace shmlease::testing {

// A segment name unique to this process and test; Destroy()s it on scope exit.
class ScopedSegmentName {
 public:
  explicit ScopedSegmentName(std::string suffix = "") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    name_ = "shmlease-test-" + std::to_string(getpid()) + "-" +
            (info ? std::string(info->test_suite_name()) + "." + info->name() : "none") + suffix;
    for (char& c : name_) {
      if (c == '/') c = '_';
    }
    ShmStore::Destroy(name_);
  }
  ~ScopedSegmentName() { ShmStore::Destroy(name_); }
  ScopedSegmentName(const ScopedSegmentName&) = delete;
  ScopedSegmentName& operator=(const ScopedSegmentName&) = delete;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Options for a fresh test segment; fake_clock makes expiry deterministic.
inline ShmStoreOptions TestOptions(const std::string& name, bool fake_clock = true,
                                   std::size_t capacity = 64) {
  ShmStoreOptions o;
  o.name = name;
  o.capacity = capacity;
  o.fake_clock = fake_clock;
  return o;
}

inline std::shared_ptr<ShmStore> MustOpen(const ShmStoreOptions& options) {
  std::error_code ec;
  std::string detail;
  auto store = ShmStore::OpenOrCreate(options, ec, &detail);
  EXPECT_FALSE(ec) << ec.message() << ": " << detail;
  return store;
}

// ShmStore::Open refuses `options` with `want`, and its detail message holds
// `text` (the problem named, not just a code).
inline ::testing::AssertionResult OpenRefused(const ShmStoreOptions& options, Errc want,
                                              std::string_view text) {
  std::error_code ec;
  std::string detail;
  if (ShmStore::Open(options, ec, &detail)) return ::testing::AssertionFailure() << "it opened";
  if (ec != want) {
    return ::testing::AssertionFailure() << "refused with " << ec.message() << ": " << detail;
  }
  if (detail.find(text) == std::string::npos) {
    return ::testing::AssertionFailure() << "detail lacks '" << text << "': " << detail;
  }
  return ::testing::AssertionSuccess();
}

// CLOCK_MONOTONIC in nanoseconds: the clock every expiry is on (S28), read
// directly so that a test's notion of time does not depend on the library.
inline std::int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Whether the thread `tid` of this process is (or, within 30 s, gets)
// asleep in futex(2): waiting for the writers' lock, or for a lease. Looked
// up in /proc/self/task/TID/syscall, which names the call a thread blocks in.
inline bool WaitUntilThreadSleepsInFutex(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/syscall";
  const std::string futex = std::to_string(SYS_futex) + " ";
  const std::int64_t deadline = MonotonicNowNs() + std::int64_t{30'000'000'000};
  while (MonotonicNowNs() < deadline) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    if (line.rfind(futex, 0) == 0) return true;
    std::this_thread::yield();
  }
  return false;
}

// Everything observable about a table, as text: each held or pinned lease
// (holder, expiry, epoch, pins) and the counters a successful write moves.
// Equal dumps before and after a call mean the call changed nothing (S12, S24).
// `with_counters` false leaves the counters out: a write that a crash cut
// short may have taken effect without being counted.
inline std::string DumpState(const ShmStore& store, bool with_counters = true) {
  std::ostringstream out;
  std::vector<LeaseEntry> entries;
  if (std::error_code ec = store.Snapshot(&entries))
    out << "snapshot error " << ec.message() << "\n";
  for (const LeaseEntry& e : entries) {
    out << e.key.ns << "|" << e.key.model_uuid << "|" << e.key.lease;
    if (e.held) {
      out << " held by " << e.info.holder << " until " << e.info.expiry.time_since_epoch().count()
          << " epoch " << e.info.epoch;
    }
    for (const std::string& p : e.pinned_by) out << " pin " << p;
    out << "\n";
  }
  if (!with_counters) return out.str();
  ShmStats stats;
  if (std::error_code ec = store.GetStats(&stats)) out << "stats error " << ec.message() << "\n";
  out << "epoch " << stats.epoch << " claims " << stats.claims << " extensions " << stats.extensions
      << " revocations " << stats.revocations << "\n";
  return out.str();
}

// A pipe whose ends are closed on scope exit; reads are bounded by a timeout
// so that a test whose peer never answers fails instead of hanging.
class Pipe {
 public:
  Pipe() {
    if (pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  bool ok() const { return fds_[0] >= 0 && fds_[1] >= 0; }
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }
  void CloseRead() { Close(fds_[0]); }
  void CloseWrite() { Close(fds_[1]); }

  bool Write(const void* data, std::size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = write(fds_[1], p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }
  template <typename T>
  bool WriteValue(const T& v) {
    return Write(&v, sizeof v);
  }

  // Reads exactly n bytes. False on end of file, error, or when `timeout`
  // passes first.
  bool Read(void* data, std::size_t n,
            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    char* p = static_cast<char*>(data);
    const std::int64_t deadline = MonotonicNowNs() + timeout.count() * 1'000'000;
    while (n > 0) {
      const std::int64_t left_ms = (deadline - MonotonicNowNs()) / 1'000'000;
      if (left_ms <= 0) return false;
      pollfd pfd{fds_[0], POLLIN, 0};
      int rc = poll(&pfd, 1, static_cast<int>(left_ms));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return false;
      ssize_t r = read(fds_[0], p, n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  template <typename T>
  bool ReadValue(T* v, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return Read(v, sizeof *v, timeout);
  }

 private:
  static void Close(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  int fds_[2];
};

// A forked child process running `body`, whose return value becomes the exit
// code. The child never returns into GoogleTest (it calls _exit), so checks
// made in the child must be reported through its exit code or a pipe. A child
// still running when the object goes away is SIGKILLed and reaped, so a
// failing test leaves no process behind. Fork only while the test process has
// a single thread.
class ChildProcess {
 public:
  explicit ChildProcess(const std::function<int()>& body) {
    std::fflush(nullptr);  // Buffered output would otherwise be printed twice.
    pid_ = fork();
    if (pid_ == 0) {
      int code = 120;
      try {
        code = body();
      } catch (...) {
        code = 121;
      }
      _exit(code);
    }
  }
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool ok() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Waits until the child has exited, at most `timeout`; returns its wait
  // status, or nothing when it is still running.
  std::optional<int> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if (pid_ <= 0 || reaped_) return std::nullopt;
    // A pidfd becomes readable when the process exits: a bounded wait with no polling loop.
    // (The syscall, not glibc's wrapper: Debian 12's <sys/pidfd.h> lacks C linkage for C++.)
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd pfd{pidfd, POLLIN, 0};
      int rc;
      do {
        rc = poll(&pfd, 1, static_cast<int>(timeout.count()));
      } while (rc < 0 && errno == EINTR);
      close(pidfd);
      if (rc == 0) return std::nullopt;
    }
    int status = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) return std::nullopt;
    reaped_ = true;
    return status;
  }

  // Waits until the child has stopped (SIGSTOP) or exited, at most `timeout`.
  // A stop does not make a pidfd readable, so this one polls waitpid.
  std::optional<int> WaitStoppedOrExited(
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if (pid_ <= 0 || reaped_) return std::nullopt;
    const std::int64_t deadline = MonotonicNowNs() + timeout.count() * 1'000'000;
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG | WUNTRACED);
      if (r == pid_) {
        if (!WIFSTOPPED(status)) reaped_ = true;
        return status;
      }
      if (r < 0 && errno != EINTR) return std::nullopt;
      if (MonotonicNowNs() > deadline) return std::nullopt;
      timespec pause{0, 200'000};
      nanosleep(&pause, nullptr);
    }
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// "exited 0", "killed by signal 9", ...: for failure messages about a wait status.
inline std::string DescribeStatus(std::optional<int> status) {
  if (!status) return "still running";
  if (WIFEXITED(*status)) return "exited " + std::to_string(WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return "killed by signal " + std::to_string(WTERMSIG(*status));
  if (WIFSTOPPED(*status)) return "stopped by signal " + std::to_string(WSTOPSIG(*status));
  return "status " + std::to_string(*status);
}

// Forks a child that starts a claim and stops itself (SIGSTOP) while holding
// the writers' lock, before changing anything. Returns once it is stopped.
inline std::unique_ptr<ChildProcess> StartStuckWriter(const std::string& segment) {
  auto child = std::make_unique<ChildProcess>([segment] {
    setenv("SHMLEASE_CRASH_AT", "journal-written", 1);
    setenv("SHMLEASE_CRASH_HOW", "stop", 1);
    std::error_code ec;
    auto store = ShmStore::Open(TestOptions(segment), ec);
    if (!store) return 2;
    return store->ClaimLease({"ns", "model", "stuck"}, {"stuck", std::chrono::hours(1)}) ? 3 : 0;
  });
  std::optional<int> status = child->WaitStoppedOrExited();
  EXPECT_TRUE(status && WIFSTOPPED(*status)) << DescribeStatus(status);
  return child;
}

inline bool ExitedZero(std::optional<int> status) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

// WaitUntilExpired on its own thread. Reports when the wait is in place (the
// `started` callback) and what it returned; `at_return` runs in the waiting
// thread right after the wait returns, to record what was true then (e.g.
// that it did not return early). Every wait is bounded by `bound`, so a
// missed wake-up fails a test instead of hanging it. Going out of scope
// requests stop and joins.
class BackgroundWait {
 public:
  BackgroundWait(Claimer& claimer, std::string lease, std::function<bool()> at_return = {},
                 std::chrono::milliseconds bound = std::chrono::seconds(30))
      : bound_(bound),
        thread_([this, &claimer, lease = std::move(lease),
                 at_return = std::move(at_return)](std::stop_token stop) {
          std::error_code ec =
              claimer.WaitUntilExpired(lease, stop, [this] { started_.set_value(); });
          const bool ok = at_return ? at_return() : true;
          done_.set_value({ec, ok});
        }) {}

  // True once `started` was called, i.e. the waiter is registered.
  bool Started() { return started_future_.wait_for(bound_) == std::future_status::ready; }
  // What the wait returned and what `at_return` said; nothing if it is still waiting.
  std::optional<std::pair<std::error_code, bool>> Result() {
    if (!done_future_.valid() || done_future_.wait_for(bound_) != std::future_status::ready) {
      return std::nullopt;
    }
    return done_future_.get();
  }
  void RequestStop() { thread_.request_stop(); }

 private:
  std::chrono::milliseconds bound_;
  std::promise<void> started_;
  std::future<void> started_future_ = started_.get_future();
  std::promise<std::pair<std::error_code, bool>> done_;
  std::future<std::pair<std::error_code, bool>> done_future_ = done_.get_future();
  std::jthread thread_;  // Last: it starts after, and stops before, the promises.
};

// ---- Races for one lease (S26): what each contender was promised, and a check
// ---- that no two contenders' promises ever overlap.

// One event in a contender's life, in CLOCK_MONOTONIC ns. Fixed size, so
// processes can write them to a file or pipe as they are.
struct PromiseRecord {
  enum Kind : std::int32_t {
    kPromise =
        1,  // A claim succeeded: held from `begin` (when the call returned) to `end` (t0 + d).
    kGiveUp = 2,     // At `begin` (before calling Revoke) the holder stops relying on its promises.
    kHeldCheck = 3,  // Token::Check succeeded at some instant within [begin, end].
  };
  std::int32_t kind;
  std::int32_t holder;
  std::int64_t begin;
  std::int64_t end;
};

// Describes every violation of S26 in `records` (each holder's records in
// the order it made them): two holders' promises overlapping, or a successful
// check by one holder while another held an unbroken promise. Empty when none.
inline std::vector<std::string> FindPromiseOverlaps(const std::vector<PromiseRecord>& records) {
  struct Interval {
    std::int64_t begin, end;
    std::int32_t holder;
  };
  // A promise ends at its expiry or at the holder's next give-up, whichever is first.
  std::map<std::int32_t, std::vector<Interval>> promises;
  std::map<std::int32_t, std::size_t> first_open;  // Promises from here on are not yet cut.
  std::vector<Interval> checks;
  for (const PromiseRecord& r : records) {
    std::vector<Interval>& mine = promises[r.holder];
    if (r.kind == PromiseRecord::kPromise) {
      mine.push_back({r.begin, r.end, r.holder});
    } else if (r.kind == PromiseRecord::kGiveUp) {
      for (std::size_t i = first_open[r.holder]; i < mine.size(); ++i) {
        mine[i].end = std::min(mine[i].end, r.begin);
      }
      first_open[r.holder] = mine.size();
    } else if (r.kind == PromiseRecord::kHeldCheck) {
      checks.push_back({r.begin, r.end, r.holder});
    }
  }
  // Each holder's promises merged into disjoint intervals: the time it held without a break.
  std::vector<Interval> all;
  std::map<std::int32_t, std::vector<Interval>> merged;
  for (auto& [holder, list] : promises) {
    std::sort(list.begin(), list.end(),
              [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
    std::vector<Interval>& out = merged[holder];
    for (const Interval& iv : list) {
      if (iv.begin >= iv.end) continue;  // Given up before it started.
      if (!out.empty() && iv.begin <= out.back().end) {
        out.back().end = std::max(out.back().end, iv.end);
      } else {
        out.push_back(iv);
      }
    }
    all.insert(all.end(), out.begin(), out.end());
  }
  std::vector<std::string> problems;
  auto describe = [](const Interval& iv) {
    return "holder " + std::to_string(iv.holder) + " [" + std::to_string(iv.begin) + ", " +
           std::to_string(iv.end) + ")";
  };
  std::sort(all.begin(), all.end(),
            [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  // One holder's intervals are disjoint, so any interval starting before the
  // furthest end seen so far overlaps another holder's promise.
  for (std::size_t i = 1, reach = 0; i < all.size(); ++i) {
    if (all[i].begin < all[reach].end) {
      problems.push_back("promises overlap: " + describe(all[reach]) + " and " + describe(all[i]));
    }
    if (all[i].end > all[reach].end) reach = i;
  }
  for (const Interval& c : checks) {
    for (const auto& [holder, list] : merged) {
      if (holder == c.holder) continue;
      // The last interval starting at or before the check began.
      auto it = std::upper_bound(list.begin(), list.end(), c.begin,
                                 [](std::int64_t t, const Interval& iv) { return t < iv.begin; });
      if (it != list.begin() && c.end <= std::prev(it)->end) {
        problems.push_back("check by holder " + std::to_string(c.holder) + " succeeded at [" +
                           std::to_string(c.begin) + ", " + std::to_string(c.end) +
                           "] within the promise of " + describe(*std::prev(it)));
      }
    }
  }
  return problems;
}

// One contender in a race for `lease` (namespace "race", model "model"): for
// `iterations` rounds it claims with a random 2-20 ms duration, checks its
// token a random number of times, then revokes, claims again at once (an
// extension while still held) or waits for its own lease to lapse; when
// denied it waits until the lease is free. Every promise, give-up and
// successful check goes to `record`, in order. Returns "" or what went wrong.
inline std::string RaceForLease(const Manager& manager, const std::string& lease,
                                std::int32_t holder, int iterations, unsigned seed,
                                const std::function<void(const PromiseRecord&)>& record) {
  std::error_code ec;
  auto claimer = manager.Claimer("race", "model", ec);
  if (ec) return "Claimer: " + ec.message();
  auto checker = manager.Checker("race", "model", ec);
  if (ec) return "Checker: " + ec.message();
  auto revoker = manager.Revoker("race", "model", ec);
  if (ec) return "Revoker: " + ec.message();
  const std::string me = "holder-" + std::to_string(holder);
  const Token token = checker->Token(lease, me);
  std::mt19937 rng(seed);
  for (int i = 0; i < iterations; ++i) {
    const std::chrono::nanoseconds d = std::chrono::microseconds(2000 + rng() % 18000);
    const std::int64_t t0 = MonotonicNowNs();  // Before the call: the promise runs to t0 + d.
    ec = claimer->Claim(lease, me, d);
    if (ec == Errc::claim_denied) {
      // Another holder has it; it ends by revoke or expiry, so this returns.
      if ((ec = claimer->WaitUntilExpired(lease))) return "WaitUntilExpired: " + ec.message();
      continue;
    }
    if (ec) return "Claim: " + ec.message();
    record({PromiseRecord::kPromise, holder, MonotonicNowNs(), t0 + d.count()});
    const int checks = static_cast<int>(rng() % 64);
    for (int c = 0; c < checks; ++c) {
      const std::int64_t before = MonotonicNowNs();
      ec = token.Check();
      const std::int64_t after = MonotonicNowNs();
      if (ec == Errc::not_held) break;  // Ran out: 2 ms leases do.
      if (ec) return "Check: " + ec.message();
      record({PromiseRecord::kHeldCheck, holder, before, after});
    }
    switch (rng() % 3) {
      case 0:
        record({PromiseRecord::kGiveUp, holder, MonotonicNowNs(), 0});
        ec = revoker->Revoke(lease, me);
        // not_held: it ran out and someone else has it now; nothing to give up.
        if (ec && ec != Errc::not_held) return "Revoke: " + ec.message();
        break;
      case 1:
        break;  // The next round claims again: an extension while still held.
      default:
        if ((ec = claimer->WaitUntilExpired(lease))) return "WaitUntilExpired: " + ec.message();
        break;
    }
  }
  return "";
}

}  // namespace shmlease::testing

#endif  // SHMLEASE_TESTS_TEST_UTIL_H_

// What the crash tests share: starting helper processes (lease_worker) with a
// crash point in their environment, reading what they printed and how they
// ended, a temporary directory that is removed pass or fail, the fault log
// that proves a point was reached, and a raw look at a segment's bytes.
#ifndef SHMLEASE_TESTS_HELPERS_CRASH_UTIL_H_
#define SHMLEASE_TESTS_HELPERS_CRASH_UTIL_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../../lib/layout.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease::testing {

inline const std::string kLeaseWorker = std::string(SHMLEASE_HELPER_DIR) + "/lease_worker";
inline const std::string kTortureWorker = std::string(SHMLEASE_HELPER_DIR) + "/torture_worker";

// A whole file's bytes ("" when it cannot be read), and a file made to hold exactly `bytes`.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The key lease_worker uses for a lease name.
inline Key CrashKey(const std::string& lease) {
  return Key{std::string(kSingularControllerNamespace), "crash-model", lease};
}

using Env = std::vector<std::pair<std::string, std::string>>;

// A directory under $TMPDIR (or /tmp) removed with everything in it on scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/shmlease-crash-XXXXXX";
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The lines a fault-hook build appended to SHMLEASE_FAULT_LOG: one per point reached.
inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline int CountLines(const std::vector<std::string>& lines, const std::string& what) {
  int n = 0;
  for (const std::string& l : lines) n += l == what;
  return n;
}

// A running lease_worker (or other helper) whose stdout comes back through a
// pipe. SIGKILLed and reaped on scope exit if still running.
class Worker {
 public:
  Worker(const std::string& program, const std::vector<std::string>& args, const Env& env = {},
         const std::vector<int>& keep_fds = {}) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    std::vector<std::string> argv_s{program};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      for (int fd : keep_fds) fcntl(fd, F_SETFD, 0);  // Survive exec.
      // Only what the test asks for: never a crash point inherited by accident.
      for (const char* v : {"SHMLEASE_CRASH_AT", "SHMLEASE_CRASH_SKIP", "SHMLEASE_CRASH_HOW",
                            "SHMLEASE_FAULT_LOG"}) {
        unsetenv(v);
      }
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv;
      for (std::string& s : argv_s) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(program.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    out_fd_ = out[0];
  }
  ~Worker() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (out_fd_ >= 0) close(out_fd_);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool ok() const { return pid_ > 0 && out_fd_ >= 0; }
  pid_t pid() const { return pid_; }
  void Signal(int sig) const {
    if (pid_ > 0 && !reaped_) kill(pid_, sig);
  }

  // Waits (bounded) for the process to exit, collecting all it printed.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const std::int64_t deadline = MonotonicNowNs() + timeout.count() * 1'000'000;
    // End of file on stdout comes when the process (and anything it forked) is gone.
    while (out_fd_ >= 0) {
      if (!Pump(deadline)) return std::nullopt;
    }
    return Reap(deadline);
  }

  // The wait status if the process has exited by now (it is then reaped).
  std::optional<int> Poll() {
    if (pid_ <= 0 || reaped_) return std::nullopt;
    int status = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) return std::nullopt;
    reaped_ = true;
    status_ = status;
    Drain();
    return status;
  }

  // Waits (bounded) until the process has stopped (SIGSTOP) or exited.
  std::optional<int> WaitStoppedOrExited(
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const std::int64_t deadline = MonotonicNowNs() + timeout.count() * 1'000'000;
    for (;;) {
      Drain();
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG | WUNTRACED);
      if (r == pid_) {
        if (!WIFSTOPPED(status)) {
          reaped_ = true;
          status_ = status;
        }
        Drain();
        return status;
      }
      if (r < 0 && errno != EINTR) return std::nullopt;
      if (MonotonicNowNs() > deadline) return std::nullopt;
      // A stop is not announced on any descriptor; poll its state gently.
      pollfd pfd{out_fd_, POLLIN, 0};
      poll(&pfd, out_fd_ >= 0 ? 1 : 0, 1);
    }
  }

  // Waits (bounded) until the output contains `text`.
  bool WaitForOutput(const std::string& text,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const std::int64_t deadline = MonotonicNowNs() + timeout.count() * 1'000'000;
    while (output_.find(text) == std::string::npos) {
      if (out_fd_ < 0 || !Pump(deadline)) return false;
    }
    return true;
  }

  const std::string& output() const { return output_; }

 private:
  // Reads once when data (or end of file) arrives before the deadline.
  bool Pump(std::int64_t deadline) {
    const std::int64_t left_ms = (deadline - MonotonicNowNs()) / 1'000'000;
    if (left_ms <= 0) return false;
    pollfd pfd{out_fd_, POLLIN, 0};
    int rc = poll(&pfd, 1, static_cast<int>(left_ms));
    if (rc < 0 && errno == EINTR) return true;
    if (rc <= 0) return false;
    char buf[4096];
    ssize_t r = read(out_fd_, buf, sizeof buf);
    if (r > 0) {
      output_.append(buf, static_cast<std::size_t>(r));
    } else if (r == 0 || errno != EINTR) {
      close(out_fd_);
      out_fd_ = -1;
    }
    return true;
  }
  void Drain() {
    while (out_fd_ >= 0) {
      pollfd pfd{out_fd_, POLLIN, 0};
      if (poll(&pfd, 1, 0) <= 0) return;
      if (!Pump(MonotonicNowNs() + 1'000'000'000)) return;
    }
  }
  std::optional<int> Reap(std::int64_t deadline) {
    if (reaped_) return status_;
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        status_ = status;
        return status;
      }
      if (r < 0 && errno != EINTR) return std::nullopt;
      if (MonotonicNowNs() > deadline) return std::nullopt;
      // Stdout is closed, so the exit is imminent.
      timespec pause{0, 100'000};
      nanosleep(&pause, nullptr);
    }
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  std::optional<int> status_;
  std::string output_;
};

inline bool KilledBy(std::optional<int> status, int sig) {
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == sig;
}
inline bool ExitedWith(std::optional<int> status, int code) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

// The last epoch a table handed out (where a new table's epochs start: the
// wall clock, so two tables start at different epochs).
inline std::uint64_t LastEpoch(const ShmStore& store) {
  ShmStats stats;
  return store.GetStats(&stats) ? 0 : stats.epoch;
}

// Everything a table promises, independent of when it was built: each live
// lease with its holder, expiry relative to the table's now, epoch (relative
// to `epoch_base`, the table's LastEpoch when it was new) and pins. Two
// tables built by the same operations from the same start compare equal.
inline std::string NormalState(const ShmStore& store, std::uint64_t epoch_base) {
  std::ostringstream out;
  std::vector<LeaseEntry> entries;
  if (std::error_code ec = store.Snapshot(&entries)) return "snapshot error: " + ec.message();
  const auto now = store.Now();
  for (const LeaseEntry& e : entries) {
    out << e.key.ns << "/" << e.key.model_uuid << "/" << e.key.lease;
    if (e.held) {
      out << " held by " << e.info.holder << " for "
          << std::chrono::duration_cast<std::chrono::nanoseconds>(e.info.expiry - now).count()
          << "ns epoch +" << e.info.epoch - epoch_base;
    }
    for (const std::string& p : e.pinned_by) out << " pin " << p;
    out << "\n";
  }
  return out.str();
}

// A read-only look at a segment's bytes, below the library: what a crash
// left in the seqlocks and the journal, whatever the library would report.
class RawSegment {
 public:
  explicit RawSegment(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= internal::kHeaderBytes) {
      size_ = static_cast<std::size_t>(st.st_size);
      void* p = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) base_ = static_cast<const char*>(p);
    }
    close(fd);
  }
  ~RawSegment() {
    if (base_ != nullptr) munmap(const_cast<char*>(base_), size_);
  }
  RawSegment(const RawSegment&) = delete;
  RawSegment& operator=(const RawSegment&) = delete;

  bool ok() const { return base_ != nullptr; }
  const internal::SegmentHeader& header() const {
    return *reinterpret_cast<const internal::SegmentHeader*>(base_);
  }
  // Lines describing every odd seqlock and a journal left committed; empty when clean.
  std::vector<std::string> Torn() const {
    std::vector<std::string> torn;
    const std::uint64_t slots = header().slot_count;
    if (internal::kHeaderBytes + slots * sizeof(internal::SlotHot) > size_) {
      return {"slot count " + std::to_string(slots) + " does not fit the file"};
    }
    const auto* hot = reinterpret_cast<const internal::SlotHot*>(base_ + internal::kHeaderBytes);
    for (std::uint64_t i = 0; i < slots; ++i) {
      std::uint32_t seq = hot[i].seq.load(std::memory_order_acquire);
      if (seq & 1)
        torn.push_back("slot " + std::to_string(i) + " seqlock odd (" + std::to_string(seq) + ")");
    }
    if (header().journal.committed.load(std::memory_order_acquire) != 0) {
      torn.push_back("journal still committed");
    }
    return torn;
  }
  // Slots whose futex word carries a waiter's mark (lib/wake_word.h).
  std::vector<std::uint64_t> MarkedWakeWords() const {
    std::vector<std::uint64_t> marked;
    const std::uint64_t slots = header().slot_count;
    if (internal::kHeaderBytes + slots * sizeof(internal::SlotHot) > size_) return marked;
    const auto* hot = reinterpret_cast<const internal::SlotHot*>(base_ + internal::kHeaderBytes);
    for (std::uint64_t i = 0; i < slots; ++i) {
      if (hot[i].wake_word.load(std::memory_order_acquire) & 1) marked.push_back(i);
    }
    return marked;
  }

 private:
  const char* base_ = nullptr;
  std::size_t size_ = 0;
};

inline std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

// A segment reset for this boot: no holder of the earlier one left (their
// expiries were on another clock), exactly `pins` kept, fsck clean.
inline void ExpectResetForThisBoot(ShmStore& s, const PinMap& pins) {
  LeaseMap leases;
  ASSERT_FALSE(s.Leases(&leases));
  EXPECT_TRUE(leases.empty()) << "a holder from the earlier boot survived";
  PinMap kept;
  ASSERT_FALSE(s.Pinned(&kept));
  EXPECT_EQ(kept, pins);
  std::vector<std::string> problems;
  EXPECT_FALSE(s.Fsck(&problems)) << Join(problems);
}

// Every kind of write works on `s` and leaves fsck clean: a table that a
// crash (or a reset) left behind is usable.
inline void CheckTableUsable(ShmStore& s) {
  using namespace std::chrono_literals;

  std::vector<std::string> problems;
  EXPECT_FALSE(s.Fsck(&problems)) << Join(problems);
  const Key k = CrashKey("after-crash");
  EXPECT_FALSE(s.ClaimLease(k, {"checker", 5s}));
  EXPECT_FALSE(s.ClaimOrExtendLease(k, {"checker", 10s}));
  EXPECT_FALSE(s.PinLease(k, "check-pin"));
  EXPECT_FALSE(s.UnpinLease(k, "check-pin"));
  EXPECT_FALSE(s.RevokeLease(k, "checker"));
  problems.clear();
  EXPECT_FALSE(s.Fsck(&problems)) << Join(problems);
}

// Overwrites the boot id recorded in a file-backed segment's header, as if
// the file had been written on an earlier boot.
inline void PretendEarlierBoot(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char old_boot[sizeof(internal::SegmentHeader::boot_id)] = "00000000-dead-beef-0000-000000000000";
  ASSERT_EQ(pwrite(fd, old_boot, sizeof old_boot, offsetof(internal::SegmentHeader, boot_id)),
            static_cast<ssize_t>(sizeof old_boot));
  close(fd);
}

}  // namespace shmlease::testing

#endif  // SHMLEASE_TESTS_HELPERS_CRASH_UTIL_H_

// A segment shrunk under the processes that map it (`truncate` by anyone who
// may write it): every access to a lost page is a SIGBUS, which used to kill
// holders, checkers and read-only watchers alike. With the guard
// (shmlease/truncation_guard.h) a store answers Errc::segment_truncated, the
// command reports it and exits with the segment error, and `run` stops its
// command as it does when the lease is lost.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cli_tool.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::ScopedSegmentName;
using testing::ToolProcess;

// Shrinks `path` to `size` bytes from another process; its wait status.
int TruncateElsewhere(const std::string& path, off_t size) {
  const pid_t pid = fork();
  if (pid == 0) _exit(truncate(path.c_str(), size) == 0 ? 0 : 1);
  int status = -1;
  if (pid > 0) waitpid(pid, &status, 0);
  return status;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The system call `pid`'s main thread is blocked in (/proc/PID/syscall), -1 if running or unknown.
long BlockedIn(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
  long nr = -1;
  if (!(in >> nr)) return -1;
  return nr;
}

class Truncation : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(GuardAgainstTruncation());
    store_ = testing::MustOpen(testing::TestOptions(segment_.name(), /*fake_clock=*/false, 16));
    ASSERT_TRUE(store_);
  }
  std::vector<std::string> Tool(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--segment", segment_.name()});
    return args;
  }
  std::string path() const { return ShmStore::PathOf(segment_.name()); }

  ScopedSegmentName segment_;
  std::shared_ptr<ShmStore> store_;
  const Key key_{"ns", "model", "lease"};
};

TEST_F(Truncation, AGuardedHolderAndCheckerGetAnErrorInsteadOfSigbus) {
  ASSERT_FALSE(store_->ClaimLease(key_, Request{"me", 60s}));
  Manager manager(store_);
  std::error_code ec;
  auto checker = manager.Checker(key_.ns, key_.model_uuid, ec);
  ASSERT_TRUE(checker) << ec.message();
  const Token token = checker->Token(key_.lease, "me");
  ASSERT_FALSE(token.Check());
  ASSERT_FALSE(token.Check());  // Armed: answered inline from the mapping.
  ASSERT_EQ(TruncateElsewhere(path(), 0), 0);
  // In a child (it shares the mapping and the guard), so that the old
  // behaviour, death by SIGBUS, fails the test instead of ending it. It
  // exits with the number of the first step that did not answer
  // segment_truncated.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    LeaseMap leases;
    std::vector<LeaseEntry> entries;
    const std::error_code answers[] = {
        token.Check(),  // Inline: its read of the slot faults.
        token.Check(),
        store_->ClaimLease(Key{"ns", "model", "other"}, Request{"me", 1s}),
        store_->ExtendLease(key_, Request{"me", 60s}),
        store_->Leases(&leases),
        store_->Snapshot(&entries),
        store_->RevokeLease(key_, "me"),
    };
    int step = 1;
    for (const std::error_code& answer : answers) {
      if (answer != Errc::segment_truncated) _exit(step);
      ++step;
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0)
      << "that step of the child did not answer segment_truncated";
  EXPECT_NE(make_error_code(Errc::segment_truncated).message().find("segment was truncated"),
            std::string::npos);
}

// The guard turns only a watched segment's faults into errors: any other
// SIGBUS kills as before, whether a fault or sent by a process.
#if defined(__SANITIZE_ADDRESS__)
#define SHMLEASE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHMLEASE_TEST_ASAN 1
#endif
#endif

// How a SIGBUS that the guard passes on ends a process: by the default
// action, or, under AddressSanitizer, by ASan's own handler (the one the
// guard found installed), which reports the fault and exits with an error.
bool DiedOfSigbus(int status) {
#if defined(SHMLEASE_TEST_ASAN)
  return WIFEXITED(status) && WEXITSTATUS(status) != 0;
#else
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
#endif
}

TEST_F(Truncation, ASigbusOutsideAnySegmentStillKills) {
  const std::string file = ::testing::TempDir() + "shmlease-sigbus-" + std::to_string(getpid());
  for (bool sent : {false, true}) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (sent) {
        kill(getpid(), SIGBUS);
        _exit(0);
      }
      const int fd = open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0 || ftruncate(fd, 8192) != 0) _exit(2);
      auto* p = static_cast<volatile char*>(
          mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
      if (p == MAP_FAILED || ftruncate(fd, 0) != 0) _exit(3);
      p[4096] = 1;  // Past the end of the file now.
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(DiedOfSigbus(status)) << (sent ? "sent" : "fault") << ": status " << status;
  }
  unlink(file.c_str());
}

TEST_F(Truncation, DumpWatchReportsItAndExitsWithTheSegmentError) {
  ASSERT_FALSE(store_->ClaimLease(key_, Request{"me", 60s}));
  ToolProcess dump(Tool({"dump", "--json", "--watch", "10ms"}));
  ASSERT_TRUE(dump.ReadLine().has_value()) << dump.err();  // It has the segment mapped.
  // The header stays, the slots go.
  ASSERT_EQ(TruncateElsewhere(path(), 4096), 0);
  // Before: killed by SIGBUS (exit 135).
  EXPECT_EQ(dump.ExitCode(), 3) << dump.err();
  EXPECT_TRUE(Contains(dump.err(), "segment was truncated")) << dump.err();
}

// `wait` on a lease held (by its expiry) or pinned (no deadline at all).
void ExpectWaitReportsIt(ToolProcess& wait, const std::string& path) {
  ASSERT_TRUE(wait.started());
  // Asleep on the slot's futex word, so truncated under its mapping rather
  // than before it opened the segment (which would refuse a short file).
  for (int i = 0; i < 30'000 && BlockedIn(wait.pid()) != SYS_futex; ++i) {
    const timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
  ASSERT_EQ(BlockedIn(wait.pid()), SYS_futex) << "wait never went to sleep";
  ASSERT_EQ(TruncateElsewhere(path, 0), 0);
  // The truncation wakes nobody: it finds the segment gone when it looks
  // again. Before: killed by SIGBUS (exit 135) then.
  EXPECT_EQ(wait.ExitCode(), 3) << wait.err();
  EXPECT_TRUE(Contains(wait.err(), "segment was truncated")) << wait.err();
}

TEST_F(Truncation, WaitForAnExpiryReportsItAndExitsWithTheSegmentError) {
  ASSERT_FALSE(store_->ClaimLease(key_, Request{"me", 2s}));
  ToolProcess wait(Tool({"--namespace", "ns", "--model", "model", "wait", "lease"}));
  ExpectWaitReportsIt(wait, path());
}

// Without a deadline the waiter would sleep for good (it re-checks every
// second in a guarded process).
TEST_F(Truncation, WaitForAPinnedLeaseReportsItAndExitsWithTheSegmentError) {
  ASSERT_FALSE(store_->ClaimLease(key_, Request{"me", 1s}));
  ASSERT_FALSE(store_->PinLease(key_, "pinner"));
  ToolProcess wait(Tool({"--namespace", "ns", "--model", "model", "wait", "lease"}));
  ExpectWaitReportsIt(wait, path());
}

TEST_F(Truncation, RunStopsItsCommandAndExitsWithTheSegmentError) {
  ToolProcess run(Tool({"--namespace", "ns", "--model", "model", "run", "lease", "--for", "3s",
                        "--", "sh", "-c", "echo $$; exec sleep 600"}));
  const std::optional<std::string> pid_line = run.ReadLine();
  ASSERT_TRUE(pid_line.has_value()) << run.err();
  const pid_t command = static_cast<pid_t>(std::stol(*pid_line));
  ASSERT_EQ(TruncateElsewhere(path(), 0), 0);
  // Its next extension finds the segment gone: the command is stopped, as
  // when the lease is lost. Before: run died of SIGBUS (exit 135).
  EXPECT_EQ(run.ExitCode(), 3) << run.err();
  EXPECT_TRUE(Contains(run.err(), "segment was truncated")) << run.err();
  EXPECT_TRUE(Contains(run.err(), "the command was stopped")) << run.err();
  EXPECT_EQ(kill(command, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace shmlease

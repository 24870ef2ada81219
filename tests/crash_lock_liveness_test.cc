// Whose word the writers' lock takes for a writer's life or death: the
// kernel's, never the segment's. A co-writer who rewrites every seat record
// cannot make a live (stopped) owner look gone; a fork child that inherits a
// writer's descriptors does not keep its dead parent looking alive; and when
// every seat is taken (here: another description holds locks over all the
// seat bytes) a writer gets too_many_writers, not a hang.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <string>

#include "../lib/writer_seat.h"
#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::CrashKey;
using testing::kLeaseWorker;
using testing::MustOpen;
using testing::ScopedSegmentName;
using testing::TestOptions;
using testing::Worker;

// Kills the pid it was given when it goes, pass or fail.
class KillOnExit {
 public:
  explicit KillOnExit(pid_t pid) : pid_(pid) {}
  ~KillOnExit() {
    if (pid_ > 0) kill(pid_, SIGKILL);
  }
  KillOnExit(const KillOnExit&) = delete;
  KillOnExit& operator=(const KillOnExit&) = delete;

 private:
  pid_t pid_;
};

TEST(LockLiveness, ALiveOwnerCannotBeMadeToLookGoneByRewritingTheSeats) {
  ScopedSegmentName seg;
  ShmStoreOptions options = TestOptions(seg.name(), false, 16);
  options.lock_timeout = 200ms;
  auto store = MustOpen(options);
  ASSERT_TRUE(store);
  Worker w(kLeaseWorker, {seg.name(), "claim", "target", "owner", "100000"},
           {{"SHMLEASE_CRASH_AT", "journal-written"}, {"SHMLEASE_CRASH_HOW", "stop"}});
  ASSERT_TRUE(w.ok());
  auto status = w.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status)) << testing::DescribeStatus(status) << w.output();

  // Every seat's generation, pid and namespace, as a co-writer would write them.
  const int fd = open(ShmStore::PathOf(seg.name()).c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (std::size_t i = 0; i < internal::kMaxWriterSeats; ++i) {
    const std::uint32_t junk[4] = {static_cast<std::uint32_t>(i * 7 + 1), 0xFFFFFFFFu, 1, 2};
    const off_t at = static_cast<off_t>(offsetof(internal::SegmentHeader, seats) +
                                        i * sizeof(internal::WriterSeat));
    ASSERT_EQ(pwrite(fd, junk, sizeof junk, at), static_cast<ssize_t>(sizeof junk));
  }
  close(fd);

  ShmStats stats;
  ASSERT_FALSE(store->GetStats(&stats));
  EXPECT_TRUE(stats.lock.locked);
  EXPECT_EQ(stats.lock.owner, WritersLockInfo::Owner::alive);
  // A stopped owner: a timeout, never a takeover while it may still write.
  EXPECT_EQ(store->ClaimLease(CrashKey("other"), {"someone", 5s}), Errc::timeout);
  ASSERT_FALSE(store->GetStats(&stats));
  EXPECT_EQ(stats.recoveries, 0u);

  w.Signal(SIGCONT);
  status = w.WaitExit();
  EXPECT_TRUE(testing::ExitedWith(status, 0)) << testing::DescribeStatus(status) << w.output();
  EXPECT_FALSE(store->ClaimLease(CrashKey("other"), {"someone", 5s}));
  ASSERT_FALSE(store->GetStats(&stats));
  EXPECT_EQ(stats.recoveries, 0u);
  EXPECT_FALSE(Token(store, CrashKey("target"), "owner").Check());
}

TEST(LockLiveness, AForkChildDoesNotKeepItsDeadParentAlive) {
  ScopedSegmentName seg;
  ShmStoreOptions options = TestOptions(seg.name(), false, 16);
  options.lock_timeout = 10s;  // A bound only: the takeover comes within a slice.
  auto store = MustOpen(options);
  ASSERT_TRUE(store);
  // The worker writes (it has a seat), forks a child that lives on with the
  // descriptors fork left it, then dies holding the lock at its next write.
  Worker w(kLeaseWorker,
           {seg.name(), "claim", "first", "owner", "100000", "fork-child", "claim", "second",
            "owner", "100000"},
           {{"SHMLEASE_CRASH_AT", "journal-committed"}, {"SHMLEASE_CRASH_SKIP", "1"}});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w.WaitForOutput("child ")) << w.output();
  const std::string& out = w.output();
  const std::size_t at = out.find("child ") + 6;
  const pid_t child = static_cast<pid_t>(std::stol(out.substr(at, out.find('\n', at) - at)));
  KillOnExit reap_child(child);
  auto status = w.WaitStoppedOrExited();
  ASSERT_TRUE(testing::KilledBy(status, SIGKILL)) << testing::DescribeStatus(status) << w.output();
  ASSERT_EQ(kill(child, 0), 0) << "the child must outlive its parent for this test";

  ShmStats stats;
  ASSERT_FALSE(store->GetStats(&stats));
  EXPECT_TRUE(stats.lock.locked);
  EXPECT_EQ(stats.lock.owner, WritersLockInfo::Owner::gone);
  EXPECT_FALSE(store->ClaimLease(CrashKey("after"), {"me", 5s}));
  ASSERT_FALSE(store->GetStats(&stats));
  EXPECT_EQ(stats.recoveries, 1u);
  EXPECT_FALSE(Token(store, CrashKey("first"), "owner").Check());
  // The dead writer had committed its second claim: the takeover replayed it.
  EXPECT_FALSE(Token(store, CrashKey("second"), "owner").Check());
}

TEST(LockLiveness, EverySeatTakenGivesTooManyWritersAndLosesNothing) {
  ScopedSegmentName seg;
  ShmStoreOptions options = TestOptions(seg.name(), false, 16);
  {
    auto first = MustOpen(options);
    ASSERT_TRUE(first);
    ASSERT_FALSE(first->ClaimLease(CrashKey("held"), {"holder", 600s}));
  }
  // Read locks over every seat byte, through a read-only description: what
  // any reader of the file can do, and what 4096 live writers would look like.
  const int fd = open(ShmStore::PathOf(seg.name()).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct flock fl {};
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = internal::kSeatLockBase;
  fl.l_len = internal::kMaxWriterSeats;
  ASSERT_EQ(fcntl(fd, F_OFD_SETLK, &fl), 0);

  auto store = MustOpen(options);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->ClaimLease(CrashKey("new"), {"holder", 10s}), Errc::too_many_writers);
  EXPECT_FALSE(Token(store, CrashKey("held"), "holder").Check());
  close(fd);  // The seats come free.
  EXPECT_FALSE(store->ClaimLease(CrashKey("new"), {"holder", 10s}));
  EXPECT_FALSE(Token(store, CrashKey("held"), "holder").Check());
}

// A writer's seat is taken at its first write, through a new open of the
// file: a process that opened the segment and then gave up the right to
// write it gets permission_denied there, not an unnamed I/O error, and the
// leases already held stay held.
TEST(LockLiveness, AWriterThatLostWritePermissionGetsPermissionDenied) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become nobody";
  ScopedSegmentName seg;
  ShmStoreOptions options = TestOptions(seg.name(), false, 16);
  auto store = MustOpen(options);
  ASSERT_TRUE(store);
  ASSERT_FALSE(store->ClaimLease(CrashKey("held"), {"holder", 600s}));
  int result[2];
  ASSERT_EQ(pipe2(result, O_CLOEXEC), 0);
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The fork left this child without a seat; its next write needs one.
    int code = -1;
    if (setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0) {
      code = store->ClaimLease(CrashKey("new"), {"child", 10s}).value();
    }
    (void)!write(result[1], &code, sizeof code);
    _exit(0);
  }
  close(result[1]);
  int code = -2;
  ASSERT_EQ(read(result[0], &code, sizeof code), static_cast<ssize_t>(sizeof code));
  close(result[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(code, static_cast<int>(Errc::permission_denied));
  EXPECT_FALSE(Token(store, CrashKey("held"), "holder").Check());
  EXPECT_FALSE(store->ClaimLease(CrashKey("new"), {"parent", 10s}));
}

}  // namespace
}  // namespace shmlease

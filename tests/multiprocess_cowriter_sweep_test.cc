// The segment's trust boundary under attack while it is in use: a member of
// the segment's group (the user nobody, group nogroup, mode 0660) writes over
// every header and journal word, the writer seats and random slot bytes,
// while root processes claim, extend, check, list, pin, revoke and wait. A
// co-writer may corrupt lease state or hold the lock (a timeout); it must
// never make another process crash, hang, or touch memory outside the
// segment (the sanitizer build runs this too). Afterwards the command line
// still reads the damaged table and answers with an exit status.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cli_tool.h"
#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::RunTool;
using testing::ScopedSegmentName;
using testing::TempDir;
using testing::ToolResult;
using testing::Worker;

const std::string kScribbler = std::string(SHMLEASE_HELPER_DIR) + "/segment_scribbler";
constexpr int kVictims = 3;
constexpr int kPasses = 24;  // Four of each kind of header value.

Key VictimKey(const std::string& lease) {
  return Key{std::string(kSingularControllerNamespace), "sweep", lease};
}

bool StopRequested(int stop_fd) {
  pollfd pfd{stop_fd, POLLIN, 0};
  return poll(&pfd, 1, 0) != 0;  // End of file (or an error) once the test lets go.
}

// One root process using the table as users do, every error tolerated:
// only a crash or a hang is a failure. Reports on `ready_fd` once it has done
// a round, writes a tick on the non-blocking `tick_fd` after each operation
// (the scribbler paces its blows by them), and returns when `stop_fd`
// reaches end of file.
[[noreturn]] void RunVictim(const std::string& segment, int id, int ready_fd, int tick_fd,
                            int stop_fd) {
  auto tick = [tick_fd] { (void)!write(tick_fd, "t", 1); };  // A full pipe drops the tick.
  ShmStoreOptions options;
  options.name = segment;
  options.lock_timeout = 20ms;
  const std::string holder = "victim-" + std::to_string(id);
  bool reported = false;
  while (!StopRequested(stop_fd)) {
    std::error_code ec;
    auto store = ShmStore::Open(options, ec);  // The magic may be trampled: try again.
    tick();
    if (!store) continue;
    Holding mine(store, VictimKey(holder), holder);
    Token check(store, VictimKey("contended"), holder);
    for (int round = 0; round < 50 && !StopRequested(stop_fd); ++round) {
      (void)mine.Claim(5s);
      tick();
      (void)store->ClaimOrExtendLease(VictimKey("contended"), {holder, 50ms});
      tick();
      for (int i = 0; i < 100; ++i) (void)check.Check();
      tick();
      LeaseMap leases;
      (void)store->Leases(&leases);
      tick();
      std::vector<LeaseEntry> entries;
      (void)store->Snapshot(&entries);
      tick();
      (void)store->PinLease(VictimKey("pinned"), holder);
      tick();
      (void)store->UnpinLease(VictimKey("pinned"), holder);
      tick();
      PinMap pins;
      (void)store->Pinned(&pins);
      tick();
      ShmStats stats;
      (void)store->GetStats(&stats);
      std::vector<std::string> problems;
      (void)store->Fsck(&problems);
      tick();
      {
        std::stop_source stop;
        std::jthread canceller([&stop] {
          std::this_thread::sleep_for(2ms);  // How long to wait, not an ordering.
          stop.request_stop();
        });
        (void)store->WaitUntilFree(VictimKey("contended"), stop.get_token());
      }
      tick();
      (void)store->RevokeLease(VictimKey("contended"), holder);
      tick();
      if (!reported) {
        reported = true;
        (void)!write(ready_fd, "r", 1);
      }
    }
  }
  _exit(0);
}

TEST(CoWriterSweep, AGroupMemberScribblingOverTheSegmentCrashesAndHangsNobody) {
  const passwd* nobody = getpwnam("nobody");
  const group* nogroup = getgrnam("nogroup");
  if (geteuid() != 0 || nobody == nullptr || nogroup == nullptr ||
      access("/usr/bin/setpriv", X_OK)) {
    GTEST_SKIP() << "needs root, the user nobody, the group nogroup and setpriv";
  }
  ScopedSegmentName seg;
  {
    ShmStoreOptions o;
    o.name = seg.name();
    o.mode = 0660;
    std::error_code ec;
    auto creator = ShmStore::OpenOrCreate(o, ec);
    ASSERT_TRUE(creator) << ec.message();
    ASSERT_FALSE(creator->ClaimLease(VictimKey("before"), {"root", 1h}));
  }
  const std::string path = ShmStore::PathOf(seg.name());
  ASSERT_EQ(chown(path.c_str(), 0, nogroup->gr_gid), 0);

  int ready[2], stop[2], ticks[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(stop, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(ticks, O_CLOEXEC), 0);
  ASSERT_EQ(fcntl(ticks[1], F_SETFL, O_NONBLOCK), 0);  // Victims never wait for the scribbler.
  std::vector<pid_t> victims;
  for (int i = 0; i < kVictims; ++i) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(ready[0]);
      close(stop[1]);
      close(ticks[0]);
      RunVictim(seg.name(), i, ready[1], ticks[1], stop[0]);
    }
    victims.push_back(pid);
  }
  close(ready[1]);
  close(stop[0]);
  close(ticks[1]);
  // Every victim is in its loop before the first blow.
  for (int i = 0; i < kVictims; ++i) {
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1) << "a victim ended before its first round";
  }

  // A copy nobody can run wherever the build tree is: in a directory of its own, mode 0755.
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string scribbler_copy = dir.File("segment_scribbler");
  std::filesystem::copy_file(kScribbler, scribbler_copy);
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  ASSERT_EQ(chmod(scribbler_copy.c_str(), 0755), 0);
  Worker scribbler("/usr/bin/setpriv",
                   {"--reuid=nobody", "--regid=nogroup", "--clear-groups", scribbler_copy, path,
                    std::to_string(::testing::UnitTest::GetInstance()->random_seed() + 1),
                    std::to_string(kPasses), std::to_string(ticks[0])},
                   {}, {ticks[0]});
  ASSERT_TRUE(scribbler.ok());
  const auto swept = scribbler.WaitExit(std::chrono::minutes(5));
  EXPECT_TRUE(testing::ExitedWith(swept, 0))
      << testing::DescribeStatus(swept) << scribbler.output();
  EXPECT_NE(scribbler.output().find("mapped"), std::string::npos) << scribbler.output();
  EXPECT_NE(scribbler.output().find("swept "), std::string::npos) << scribbler.output();

  // Let go: each victim finishes its round and exits 0. A bound on the wait
  // is the hang detector; a signal is a crash.
  close(stop[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (pid_t pid : victims) {
    int status = 0;
    pid_t r = 0;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd none{-1, 0, 0};
      poll(&none, 0, 10);
    }
    if (r != pid) {
      ADD_FAILURE() << "victim " << pid << " hung";
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      continue;
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "victim " << pid << ": " << testing::DescribeStatus(status);
  }
  close(ready[0]);
  close(ticks[0]);

  // The command line reads what is left and answers: success, or an error
  // status, never a signal.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"stat"},
        {"fsck"},
        {"dump"},
        {"check", "before", "--holder", "root"},
        {"--lock-timeout", "50ms", "claim", "after", "--holder", "root", "--for", "1s"}}) {
    std::vector<std::string> full = {"--segment", seg.name()};
    full.insert(full.end(), args.begin(), args.end());
    ToolResult r = RunTool(full);
    EXPECT_TRUE(r.code >= 0 && r.code < 128) << r;
  }
}

}  // namespace
}  // namespace shmlease

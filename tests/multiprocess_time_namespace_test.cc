// Processes in other time namespaces (Linux 5.6+, `unshare --time`) share one
// lease table. Their CLOCK_MONOTONIC is shifted from the host's, yet each
// must see a lease held for as long as it was claimed for: a process a day
// ahead must not take a lease the host holds for a minute, and the host must
// not see that process's claim as held for a day.
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "../lib/time_namespace.h"
#include "cli_tool.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::ScopedSegmentName;
using testing::ToolProcess;

const std::string kWorker = std::string(SHMLEASE_HELPER_DIR) + "/lease_worker";
constexpr std::string_view kModel = "crash-model";  // lease_worker's keys.
constexpr long kDaySeconds = 86400;

Key LeaseKey(const std::string& lease) {
  return Key{std::string(kSingularControllerNamespace), std::string(kModel), lease};
}

// The `unshare` command of util-linux, found on PATH; empty if none.
std::string FindUnshare() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/unshare";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

std::int64_t MonotonicSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// "expiry HOLDER MS1 MS2" (lease_worker): the holder and both times left.
struct ExpiryLine {
  std::string holder;
  long by_store_ms = 0;
  long by_steady_clock_ms = 0;
};
bool ParseExpiry(const std::string& line, ExpiryLine* out) {
  std::istringstream in(line);
  std::string word;
  return (in >> word) && word == "expiry" && (in >> out->holder) && out->holder != "none" &&
         (in >> out->by_store_ms >> out->by_steady_clock_ms);
}

class TimeNamespace : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/proc/self/ns/time", F_OK) != 0) {
      GTEST_SKIP() << "this kernel has no time namespaces (no /proc/self/ns/time)";
    }
    unshare_ = FindUnshare();
    ASSERT_FALSE(unshare_.empty()) << "the unshare command (util-linux) is not on PATH";
    store_ = testing::MustOpen(testing::TestOptions(segment_.name(), /*fake_clock=*/false, 16));
    ASSERT_TRUE(store_);
  }

  // Runs `program args` in a new time namespace whose CLOCK_MONOTONIC is
  // `offset_s` seconds from the host's.
  std::unique_ptr<ToolProcess> Shifted(long offset_s, const std::string& program,
                                       const std::vector<std::string>& args) {
    return std::make_unique<ToolProcess>(
        args, std::vector<std::string>{},
        std::vector<std::string>{unshare_, "--time", "--monotonic", std::to_string(offset_s)},
        program);
  }

  // lease_worker on the test's segment, in a namespace `offset_s` seconds
  // from the host; its whole output once it ended, and its exit code.
  std::vector<std::string> ShiftedWorker(long offset_s, const std::vector<std::string>& ops,
                                         int* code) {
    std::vector<std::string> args = {segment_.name()};
    args.insert(args.end(), ops.begin(), ops.end());
    auto worker = Shifted(offset_s, kWorker, args);
    *code = worker->ExitCode();
    EXPECT_EQ(worker->err(), "");
    return Lines(worker->out());
  }

  ScopedSegmentName segment_;
  std::string unshare_;
  std::shared_ptr<ShmStore> store_;
};

TEST_F(TimeNamespace, AProcessADayAheadSeesTheHostsLeaseHeldForItsMinute) {
  ASSERT_FALSE(store_->ClaimLease(LeaseKey("timens"), Request{"host", 60s}));
  int code = -1;
  const std::vector<std::string> lines = ShiftedWorker(
      kDaySeconds,
      {"check", "timens", "host", "expiry", "timens", "claim", "timens", "shifted", "10000"},
      &code);
  // Before: the lease looked expired a day ago to the shifted process, which
  // took it, and its expiry (its own clock plus 10 s) held it a day for the host.
  ASSERT_EQ(lines.size(), 6u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0], "ok open");
  // The store answers the first check; the second is answered inline.
  EXPECT_EQ(lines[1], "check held held");
  ExpiryLine expiry;
  ASSERT_TRUE(ParseExpiry(lines[3], &expiry)) << lines[3];
  EXPECT_EQ(expiry.holder, "host");
  for (long left : {expiry.by_store_ms, expiry.by_steady_clock_ms}) {
    EXPECT_GT(left, 0) << lines[3];
    EXPECT_LE(left, 60'000) << lines[3];
  }
  EXPECT_EQ(lines[5].rfind("fail claim " + std::to_string(static_cast<int>(Errc::claim_denied)), 0),
            0u)
      << lines[5];
  EXPECT_EQ(code, 1);

  LeaseMap leases;
  const Key keys[] = {LeaseKey("timens")};
  ASSERT_FALSE(store_->Leases(&leases, keys));
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases.begin()->second.holder, "host");
  EXPECT_LE(leases.begin()->second.expiry - store_->Now(), 60s);

  // The command says the same.
  auto claim = Shifted(
      kDaySeconds, testing::kToolPath,
      {"--segment", segment_.name(), "--namespace", std::string(kSingularControllerNamespace),
       "--model", std::string(kModel), "claim", "timens", "--holder", "shifted", "--for", "10s"});
  EXPECT_EQ(claim->ExitCode(), 1) << claim->err();
  EXPECT_NE(claim->err().find("held by 'host' for another"), std::string::npos) << claim->err();
  auto check = Shifted(
      kDaySeconds, testing::kToolPath,
      {"--segment", segment_.name(), "--namespace", std::string(kSingularControllerNamespace),
       "--model", std::string(kModel), "check", "timens", "--holder", "host"});
  EXPECT_EQ(check->ExitCode(), 0) << check->err();
}

TEST_F(TimeNamespace, TheHostSeesAClaimFromADayAheadHeldForItsDuration) {
  int code = -1;
  const std::vector<std::string> lines = ShiftedWorker(
      kDaySeconds, {"claim", "timens", "shifted", "30000", "expiry", "timens"}, &code);
  ASSERT_EQ(code, 0) << ::testing::PrintToString(lines);
  ASSERT_EQ(lines.size(), 4u) << ::testing::PrintToString(lines);
  ExpiryLine expiry;
  ASSERT_TRUE(ParseExpiry(lines[2], &expiry)) << lines[2];
  EXPECT_GT(expiry.by_steady_clock_ms, 0) << lines[2];
  EXPECT_LE(expiry.by_steady_clock_ms, 30'000) << lines[2];

  // Before: the expiry was the shifted clock's, a day after the host's now.
  LeaseMap leases;
  const Key keys[] = {LeaseKey("timens")};
  ASSERT_FALSE(store_->Leases(&leases, keys));
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases.begin()->second.holder, "shifted");
  EXPECT_LE(leases.begin()->second.expiry - store_->Now(), 30s);
  EXPECT_LE(leases.begin()->second.expiry - std::chrono::steady_clock::now(), 30s);
  Manager manager(store_);
  std::error_code ec;
  auto checker = manager.Checker(kSingularControllerNamespace, kModel, ec);
  ASSERT_TRUE(checker) << ec.message();
  const Token token = checker->Token("timens", "shifted");
  EXPECT_FALSE(token.Check());
  EXPECT_FALSE(token.Check());  // Inline.
}

// A waiter whose clock is behind the host's sleeps until the expiry on its
// own clock: the deadline, on the host's clock, is converted for the futex.
// Unconverted, it slept as long again as its clock is behind (a day, or the
// host's uptime when that is shorter; on a machine up for less than a
// minute the lag is too short for this test to see).
TEST_F(TimeNamespace, AWaiterBehindTheHostWakesAtTheExpiry) {
  const long behind =
      std::min<std::int64_t>(kDaySeconds, std::max<std::int64_t>(MonotonicSeconds() - 2, 0));
  ASSERT_FALSE(store_->ClaimLease(LeaseKey("timens"), Request{"host", 3s}));
  auto waiter = Shifted(-behind, kWorker, {segment_.name(), "wait", "timens"});
  std::optional<std::string> line = waiter->ReadLine();
  ASSERT_EQ(line, "ok open") << waiter->err();
  line = waiter->ReadLine();
  // In place before the expiry, or (a slow start) after it: either way the
  // wait ends, and it ends at the expiry.
  if (line == "waiting timens") line = waiter->ReadLine(60s);
  EXPECT_EQ(line, "ok wait") << waiter->err();
  EXPECT_EQ(waiter->ExitCode(5s), 0) << waiter->err();
}

// A process that unshared a time namespace and has not exec'd is still in
// the old one, while /proc/self/timens_offsets describes the new one its
// children will enter: its own offset cannot be read, and it is refused
// rather than trusted with the wrong one. A fake clock needs no offset.
TEST_F(TimeNamespace, AProcessWhoseOwnOffsetIsUnknownIsRefused) {
  ScopedSegmentName fake_segment("-fake");
  ASSERT_TRUE(testing::MustOpen(testing::TestOptions(fake_segment.name(), /*fake_clock=*/true)));
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(report[0]);
    int results[3] = {-1, -1, -1};
    if (unshare(CLONE_NEWTIME) == 0) {
      std::error_code ec;
      ShmStore::Open(testing::TestOptions(segment_.name(), false), ec);
      results[0] = ec.value();
      results[1] = &ec.category() == &lease_category();
      ShmStore::Open(testing::TestOptions(fake_segment.name(), true), ec);
      results[2] = ec.value();
    } else {
      results[0] = -errno;
    }
    ssize_t ignored = write(report[1], results, sizeof results);
    (void)ignored;
    _exit(0);
  }
  close(report[1]);
  int results[3] = {-1, -1, -1};
  ASSERT_EQ(read(report[0], results, sizeof results), static_cast<ssize_t>(sizeof results));
  close(report[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_GE(results[0], 0) << "unshare(CLONE_NEWTIME): " << std::strerror(-results[0]);
  EXPECT_EQ(results[0], static_cast<int>(Errc::clock_offset_unknown));
  EXPECT_EQ(results[1], 1);
  EXPECT_EQ(results[2], 0) << "a fake-clock segment needs no clock offset";
}

// The offsets file as kernels print it, and text that must not be trusted.
TEST(TimeNamespaceOffsets, OnlyAWellFormedMonotonicLineIsRead) {
  std::int64_t ns = 0;
  EXPECT_TRUE(
      internal::ParseMonotonicOffset("monotonic       86400         0\nboottime 0 0\n", &ns));
  EXPECT_EQ(ns, 86'400'000'000'000);
  EXPECT_TRUE(internal::ParseMonotonicOffset("boottime 5 0\nmonotonic -100 250\n", &ns));
  EXPECT_EQ(ns, -99'999'999'750);
  EXPECT_TRUE(internal::ParseMonotonicOffset("1 2 3\n7 0 0\n", &ns));  // Clocks by number.
  EXPECT_EQ(ns, 2'000'000'003);
  for (const char* bad :
       {"", "boottime 1 0\n", "monotonic 1\n", "monotonic 1 1000000000\n", "monotonic 1 -1\n",
        "monotonic x 0\n", "monotonic 1 0 extra\n", "monotonic 9223372036 999999999\n"}) {
    EXPECT_FALSE(internal::ParseMonotonicOffset(bad, &ns)) << bad;
  }
}

}  // namespace
}  // namespace shmlease

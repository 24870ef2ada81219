// Who holds the writers' lock, as an operator sees it: `stat` (text and
// JSON) and `fsck` name the owner's pid, its PID namespace and whether the
// kernel still keeps it alive; once the owner is SIGKILLed inside the lock,
// both say "gone", fsck counts it as a problem, and `fsck --repair` takes the
// lock over and leaves a clean, free table.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli_tool.h"
#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using testing::kLeaseWorker;
using testing::MustOpen;
using testing::RunTool;
using testing::ScopedSegmentName;
using testing::TestOptions;
using testing::ToolResult;
using testing::Worker;

nlohmann::json StatJson(const std::string& segment) {
  ToolResult r = RunTool({"--segment", segment, "stat", "--json"});
  EXPECT_EQ(r.code, 0) << r;
  return nlohmann::json::parse(r.out, nullptr, false);
}

std::string StatLockLine(const std::string& segment) {
  ToolResult r = RunTool({"--segment", segment, "stat"});
  EXPECT_EQ(r.code, 0) << r;
  const std::size_t at = r.out.find("writers' lock:");
  if (at == std::string::npos) return "";
  return r.out.substr(at, r.out.find('\n', at) - at);
}

std::uint64_t OwnPidNamespace() {
  struct stat st;
  return stat("/proc/self/ns/pid", &st) == 0 ? st.st_ino : 0;
}

TEST(LockOwnerCli, StatAndFsckNameTheOwnerAndRepairTakesOverFromAKilledOne) {
  ScopedSegmentName seg;
  {
    auto store = MustOpen(TestOptions(seg.name(), false, 16));
    ASSERT_TRUE(store);
  }
  EXPECT_EQ(StatLockLine(seg.name()), "writers' lock:  free");
  EXPECT_EQ(StatJson(seg.name())["writers_lock"], nlohmann::json({{"locked", false}}));

  // A writer that stops with the lock held, its change journaled but not committed.
  Worker w(kLeaseWorker, {seg.name(), "claim", "target", "holder", "100000"},
           {{"SHMLEASE_CRASH_AT", "journal-written"}, {"SHMLEASE_CRASH_HOW", "stop"}});
  ASSERT_TRUE(w.ok());
  auto status = w.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status)) << testing::DescribeStatus(status) << w.output();
  const std::string pid = std::to_string(w.pid());

  const std::string alive = StatLockLine(seg.name());
  EXPECT_TRUE(alive.starts_with("writers' lock:  held by pid " + pid +
                                " (this PID namespace), alive, for "))
      << alive;
  nlohmann::json lock = StatJson(seg.name())["writers_lock"];
  EXPECT_EQ(lock["locked"], true);
  EXPECT_EQ(lock["owner"], "alive");
  EXPECT_EQ(lock["pid"], w.pid());
  EXPECT_EQ(lock["pid_namespace"], OwnPidNamespace());
  EXPECT_EQ(lock["pid_namespace_is_this_one"], true);
  EXPECT_GE(lock["held_for_seconds"].get<double>(), 0.0);

  // A stopped owner is alive: no damage, but fsck says who holds the lock.
  ToolResult fsck = RunTool({"--segment", seg.name(), "fsck"});
  EXPECT_EQ(fsck.code, 0) << fsck;
  EXPECT_NE(fsck.out.find("writers' lock held by pid " + pid), std::string::npos) << fsck;
  EXPECT_NE(fsck.out.find(": clean"), std::string::npos) << fsck;

  w.Signal(SIGKILL);
  status = w.WaitExit();
  ASSERT_TRUE(status && WIFSIGNALED(*status)) << testing::DescribeStatus(status);

  const std::string gone = StatLockLine(seg.name());
  EXPECT_TRUE(
      gone.starts_with("writers' lock:  held by pid " + pid + " (this PID namespace), gone"))
      << gone;
  EXPECT_EQ(StatJson(seg.name())["writers_lock"]["owner"], "gone");

  fsck = RunTool({"--segment", seg.name(), "fsck"});
  EXPECT_EQ(fsck.code, 3) << fsck;
  EXPECT_NE(fsck.out.find("writers' lock: held by pid " + pid), std::string::npos) << fsck;
  EXPECT_NE(fsck.out.find("which is gone"), std::string::npos) << fsck;

  fsck = RunTool({"--segment", seg.name(), "fsck", "--repair"});
  EXPECT_EQ(fsck.code, 0) << fsck;
  EXPECT_NE(fsck.out.find(": clean"), std::string::npos) << fsck;
  EXPECT_EQ(fsck.out.find("writers' lock"), std::string::npos) << fsck;

  EXPECT_EQ(StatLockLine(seg.name()), "writers' lock:  free");
  nlohmann::json after = StatJson(seg.name());
  EXPECT_EQ(after["recoveries"], 1);
  EXPECT_EQ(after["used"], 0);
}

}  // namespace
}  // namespace shmlease

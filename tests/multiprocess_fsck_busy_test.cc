// fsck is documented as safe on a segment in use: against a table that
// writer processes keep busy (claims, extensions, revocations, pins, waits),
// hundreds of read-only checks, through the library and the command, must
// find nothing. A live writer between its journal's commit and apply, inside
// a slot, or between a slot and the header's counts is busy, not damaged.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cli_tool.h"
#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using testing::kTortureWorker;
using testing::MustOpen;
using testing::RunTool;
using testing::ScopedSegmentName;
using testing::TempDir;
using testing::TestOptions;
using testing::ToolResult;
using testing::Worker;

constexpr int kWriters = 3;
constexpr int kLibraryChecks = 400;
// Checks during which the table changed: the library's checks go on until
// this many (a check is fast, so many see no write at all).
constexpr int kOverlappedChecks = 200;
constexpr int kMaxChecks = 1'000'000;  // A guard against a table that stopped changing.
constexpr int kCommandChecks = 100;

std::uint64_t Writes(ShmStore& store) {
  ShmStats s;
  EXPECT_FALSE(store.GetStats(&s));
  return s.claims + s.extensions + s.revocations;
}

TEST(FsckOnABusyTable, HundredsOfChecksFindNothing) {
  ScopedSegmentName seg;
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  auto store = MustOpen(TestOptions(seg.name(), false, 64));
  ASSERT_TRUE(store);
  std::vector<std::unique_ptr<Worker>> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.push_back(std::make_unique<Worker>(
        kTortureWorker, std::vector<std::string>{seg.name(), dir.File("w" + std::to_string(i)),
                                                 std::to_string(i + 1), std::to_string(7 + i)}));
    ASSERT_TRUE(writers.back()->ok());
  }
  // Busy before the first check: every writer has opened and written.
  const std::uint64_t start = Writes(*store);
  while (Writes(*store) < start + 1000) {
    for (auto& w : writers) ASSERT_FALSE(w->Poll()) << "a writer ended: " << w->output();
  }

  ShmStoreOptions ro = TestOptions(seg.name(), false, 64);
  ro.read_only = true;
  auto reader = MustOpen(ro);
  ASSERT_TRUE(reader);
  int alarms = 0;
  int overlapped = 0;
  int checks = 0;
  for (; checks < kMaxChecks && (checks < kLibraryChecks || overlapped < kOverlappedChecks) &&
         alarms <= 5;
       ++checks) {
    std::vector<std::string> problems;
    const std::uint64_t before = Writes(*store);
    if (reader->Fsck(&problems)) {
      ++alarms;
      ADD_FAILURE() << "check " << checks << ": " << testing::Join(problems);
    }
    if (Writes(*store) != before) ++overlapped;
  }
  EXPECT_GE(overlapped, kOverlappedChecks) << "of " << checks << " checks";
  for (int i = 0; i < kCommandChecks && alarms <= 5; ++i) {
    ToolResult r = RunTool({"--segment", seg.name(), "fsck"});
    if (r.code != 0) {
      ++alarms;
      ADD_FAILURE() << "command check " << i << ": " << r;
    }
  }
  for (auto& w : writers) {
    ASSERT_FALSE(w->Poll()) << "a writer ended: " << w->output();
    w->Signal(SIGKILL);
    EXPECT_TRUE(testing::KilledBy(w->WaitExit(), SIGKILL));
  }
  std::vector<std::string> problems;
  EXPECT_FALSE(store->Fsck(&problems)) << testing::Join(problems);
}

}  // namespace
}  // namespace shmlease

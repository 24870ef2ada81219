// S26 with real processes and the real clock: several processes race for one
// lease with 2-20 ms durations, so leases really expire under contention.
// Each records what it was promised and when it gave up; afterwards no two
// holders' promises may overlap, and no holder's successful check may fall
// inside another holder's promise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using testing::ChildProcess;
using testing::DescribeStatus;
using testing::ExitedZero;
using testing::FindPromiseOverlaps;
using testing::MustOpen;
using testing::Pipe;
using testing::PromiseRecord;
using testing::RaceForLease;
using testing::ScopedSegmentName;
using testing::TestOptions;

// A file for one contender's records, unlinked at once so that nothing is
// left behind whatever happens; the descriptor, shared with the child, is
// all anyone needs.
class RecordFile {
 public:
  RecordFile() {
    char path[] = "/tmp/shmlease-race-XXXXXX";
    fd_ = mkstemp(path);
    if (fd_ >= 0) {
      unlink(path);
      // O_APPEND: each record is one write at the end, never a torn one.
      fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_APPEND);
    }
  }
  ~RecordFile() {
    if (fd_ >= 0) close(fd_);
  }
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;

  int fd() const { return fd_; }
  bool Append(const std::vector<PromiseRecord>& records) const {
    const char* p = reinterpret_cast<const char*>(records.data());
    std::size_t n = records.size() * sizeof(PromiseRecord);
    while (n > 0) {
      ssize_t w = write(fd_, p, n);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }
  std::vector<PromiseRecord> ReadAll() const {
    std::vector<PromiseRecord> out;
    PromiseRecord r;
    for (off_t off = 0; pread(fd_, &r, sizeof r, off) == sizeof r; off += sizeof r)
      out.push_back(r);
    return out;
  }

 private:
  int fd_ = -1;
};

void Race(int processes, int iterations) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  std::vector<std::unique_ptr<RecordFile>> files;
  std::vector<std::unique_ptr<ChildProcess>> children;
  Pipe start;  // Closing its write end starts every contender at once.
  ASSERT_TRUE(start.ok());
  for (int p = 0; p < processes; ++p) {
    files.push_back(std::make_unique<RecordFile>());
    ASSERT_GE(files.back()->fd(), 0);
    const RecordFile& file = *files.back();
    children.push_back(std::make_unique<ChildProcess>([&, p] {
      start.CloseWrite();
      char byte;
      if (start.Read(&byte, 1)) return 2;  // Only end of file means "go".
      std::error_code ec;
      auto mine = ShmStore::Open(TestOptions(seg.name(), /*fake_clock=*/false), ec);
      if (!mine) return 3;
      const Manager manager(mine);
      // Kept in memory and written once at the end: a write per record
      // would slow the contender down between its clock reads and its calls.
      std::vector<PromiseRecord> records;
      records.reserve(static_cast<std::size_t>(iterations) * 70);
      std::string error = RaceForLease(manager, "lease", p, iterations, 977u * (p + 1),
                                       [&](const PromiseRecord& r) { records.push_back(r); });
      if (!file.Append(records)) return 4;
      if (!error.empty()) {
        std::fprintf(stderr, "contender %d: %s\n", p, error.c_str());
        return 5;
      }
      return 0;
    }));
    ASSERT_TRUE(children.back()->ok());
  }
  start.CloseWrite();
  std::vector<PromiseRecord> all;
  std::set<std::int32_t> holders;
  std::size_t promises = 0, give_ups = 0, checks = 0;
  for (int p = 0; p < processes; ++p) {
    std::optional<int> status = children[p]->Wait(std::chrono::minutes(2));
    EXPECT_TRUE(ExitedZero(status)) << "contender " << p << ": " << DescribeStatus(status);
    for (const PromiseRecord& r : files[p]->ReadAll()) {
      EXPECT_EQ(r.holder, p);
      promises += r.kind == PromiseRecord::kPromise;
      give_ups += r.kind == PromiseRecord::kGiveUp;
      checks += r.kind == PromiseRecord::kHeldCheck;
      if (r.kind == PromiseRecord::kPromise) holders.insert(r.holder);
      all.push_back(r);
    }
  }
  // A race in which one process held everything, or nobody gave up, proves little.
  EXPECT_GE(holders.size(), 2u) << "only one contender ever held the lease";
  EXPECT_GT(give_ups, 0u);
  EXPECT_GT(checks, 0u);
  const std::vector<std::string> problems = FindPromiseOverlaps(all);
  EXPECT_TRUE(problems.empty()) << problems.size() << " violations among " << promises
                                << " promises and " << checks
                                << " checks; first: " << problems.front();
  std::vector<std::string> fsck;
  EXPECT_FALSE(store->Fsck(&fsck));
  EXPECT_TRUE(fsck.empty()) << fsck.front();
  ::testing::Test::RecordProperty("promises", static_cast<int>(promises));
  ::testing::Test::RecordProperty("holders", static_cast<int>(holders.size()));
}

TEST(Race, S26_FourProcessesRacingForOneLeaseNeverHoldItTogether) { Race(4, 150); }

TEST(Race, S26_EightProcessesOnTwoCoresNeverHoldItTogether) { Race(8, 60); }

}  // namespace
}  // namespace shmlease

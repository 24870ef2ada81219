// Many processes open-or-create one segment at the same moment: exactly one
// initialises it, all of them use the same table, and a creator that dies or
// stops half-way through initialisation does not wedge the others. Also the
// reset of a segment left by an earlier boot, raced by two openers.
//
// Processes are lease_worker helpers released together by a pipe barrier
// (they block reading it until the test closes the write end); the fault log
// counts how many passed "init-begin", i.e. initialised.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::CheckTableUsable;
using testing::CountLines;
using testing::CrashKey;
using testing::ExpectResetForThisBoot;
using testing::Join;
using testing::kLeaseWorker;
using testing::MustOpen;
using testing::OpenRefused;
using testing::PretendEarlierBoot;
using testing::RawSegment;
using testing::ReadLines;
using testing::ScopedSegmentName;
using testing::TempDir;
using testing::Worker;

constexpr int kRacers = 8;

// Releases every worker that reads its read end at once, when Release() closes the write end.
class Barrier {
 public:
  Barrier() {
    if (pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
  }
  ~Barrier() {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  bool ok() const { return fds_[0] >= 0; }
  int read_fd() const { return fds_[0]; }
  void Release() {
    close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2];
};

// kRacers workers that each open-or-create `name` after the barrier and claim their own lease.
std::vector<std::unique_ptr<Worker>> StartRacers(const std::string& name, const Barrier& barrier,
                                                 const std::string& log,
                                                 const std::string& init_timeout_ms) {
  std::vector<std::unique_ptr<Worker>> racers;
  for (int i = 0; i < kRacers; ++i) {
    racers.push_back(std::make_unique<Worker>(
        kLeaseWorker,
        std::vector<std::string>{"--barrier-fd=" + std::to_string(barrier.read_fd()),
                                 "--capacity=32", "--init-timeout-ms=" + init_timeout_ms, name,
                                 "claim", "racer-" + std::to_string(i),
                                 "holder-" + std::to_string(i), "600000"},
        testing::Env{{"SHMLEASE_FAULT_LOG", log}}, std::vector<int>{barrier.read_fd()}));
  }
  return racers;
}

// Every racer finished its claim, on one table that holds all their leases.
void ExpectAllRacersServed(std::vector<std::unique_ptr<Worker>>& racers, const std::string& name) {
  for (auto& r : racers) {
    auto status = r->WaitExit();
    EXPECT_TRUE(testing::ExitedZero(status)) << testing::DescribeStatus(status) << r->output();
  }
  std::error_code ec;
  std::string detail;
  shmlease::ShmStoreOptions options;
  options.name = name;
  auto store = ShmStore::Open(options, ec, &detail);
  ASSERT_TRUE(store) << ec.message() << ": " << detail;
  LeaseMap leases;
  ASSERT_FALSE(store->Leases(&leases));
  EXPECT_EQ(leases.size(), static_cast<std::size_t>(kRacers));
  for (int i = 0; i < kRacers; ++i) {
    auto it = leases.find(CrashKey("racer-" + std::to_string(i)));
    ASSERT_NE(it, leases.end()) << "racer " << i << "'s lease is missing";
    EXPECT_EQ(it->second.holder, "holder-" + std::to_string(i));
  }
  ShmStats stats;
  ASSERT_FALSE(store->GetStats(&stats));
  EXPECT_EQ(stats.capacity, 32u);
  std::vector<std::string> problems;
  EXPECT_FALSE(store->Fsck(&problems)) << Join(problems);
}

class CreationRace : public ::testing::TestWithParam<bool> {
 protected:
  // A shared-memory name, or a file path when the parameter says so.
  std::string Name(const ScopedSegmentName& shm, const TempDir& dir) const {
    return GetParam() ? dir.File("segment") : shm.name();
  }
};

TEST_P(CreationRace, ExactlyOneInitialises) {
  for (int round = 0; round < 5; ++round) {
    ScopedSegmentName shm("-" + std::to_string(round));
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string name = Name(shm, dir);
    const std::string log = dir.File("fault.log");
    Barrier barrier;
    ASSERT_TRUE(barrier.ok());
    auto racers = StartRacers(name, barrier, log, "10000");
    barrier.Release();
    ExpectAllRacersServed(racers, name);
    EXPECT_EQ(CountLines(ReadLines(log), "init-begin"), 1) << Join(ReadLines(log));
  }
}

TEST_P(CreationRace, CreatorKilledHalfWayIsTakenOver) {
  for (const char* point : {"init-marked", "init-sized", "init-header", "init-before-magic"}) {
    SCOPED_TRACE(point);
    ScopedSegmentName shm(std::string("-") + point);
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string name = Name(shm, dir);
    const std::string log = dir.File("fault.log");
    // The creator stops half-way, holding the initialisation lock ...
    Worker creator(kLeaseWorker, {"--capacity=32", name},
                   {{"SHMLEASE_CRASH_AT", point},
                    {"SHMLEASE_CRASH_HOW", "stop"},
                    {"SHMLEASE_FAULT_LOG", log}});
    auto status = creator.WaitStoppedOrExited();
    ASSERT_TRUE(status && WIFSTOPPED(*status)) << testing::DescribeStatus(status);
    // ... while the others start opening; then it dies.
    Barrier barrier;
    ASSERT_TRUE(barrier.ok());
    auto racers = StartRacers(name, barrier, log, "10000");
    barrier.Release();
    creator.Signal(SIGKILL);
    status = creator.WaitExit();
    EXPECT_TRUE(testing::KilledBy(status, SIGKILL)) << testing::DescribeStatus(status);
    ExpectAllRacersServed(racers, name);
    // The dead creator, and exactly one of the others that started over.
    EXPECT_EQ(CountLines(ReadLines(log), "init-begin"), 2) << Join(ReadLines(log));
  }
}

TEST_P(CreationRace, StoppedCreatorGivesBusyThenResumes) {
  ScopedSegmentName shm;
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string name = Name(shm, dir);
  Worker creator(kLeaseWorker, {"--capacity=32", name, "claim", "first", "creator", "600000"},
                 {{"SHMLEASE_CRASH_AT", "init-header"}, {"SHMLEASE_CRASH_HOW", "stop"}});
  auto status = creator.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status)) << testing::DescribeStatus(status);

  // Alive but stuck: others give up within their init_timeout with a clear error.
  ShmStoreOptions options;
  options.name = name;
  options.capacity = 32;
  options.init_timeout = 200ms;
  for (bool create : {true, false}) {
    std::error_code ec;
    std::string detail;
    auto store = create ? ShmStore::OpenOrCreate(options, ec, &detail)
                        : ShmStore::Open(options, ec, &detail);
    EXPECT_FALSE(store);
    EXPECT_EQ(ec, Errc::segment_busy) << ec.message();
    EXPECT_NE(detail.find(ShmStore::PathOf(name)), std::string::npos) << detail;
  }

  creator.Signal(SIGCONT);
  status = creator.WaitExit();
  EXPECT_TRUE(testing::ExitedZero(status)) << testing::DescribeStatus(status) << creator.output();
  auto store = MustOpen(options);
  ASSERT_TRUE(store);
  Token first(store, CrashKey("first"), "creator");
  EXPECT_FALSE(first.Check());
  std::vector<std::string> problems;
  EXPECT_FALSE(store->Fsck(&problems)) << Join(problems);
}

INSTANTIATE_TEST_SUITE_P(ShmAndFile, CreationRace, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "File" : "Shm";
                         });

// A file-backed segment at `path`, made on this boot, holding one lease
// ("old-holding", whose holder a reboot must clear) and one pin ("pinned",
// which must stay). Returns the options it was made with.
ShmStoreOptions FileWithHolderAndPin(const std::string& path) {
  ShmStoreOptions options;
  options.name = path;
  options.capacity = 16;
  auto s = MustOpen(options);
  EXPECT_TRUE(s);
  if (s) {
    EXPECT_FALSE(s->ClaimLease(CrashKey("old-holding"), {"ghost", 600s}));
    EXPECT_FALSE(s->PinLease(CrashKey("pinned"), "entity"));
  }
  return options;
}

// A file-backed segment with a holder and a pin, marked as last used on an
// earlier boot: what every opener must reset before using it.
class StaleBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    name_ = dir_.File("segment");
    options_ = FileWithHolderAndPin(name_);
    PretendEarlierBoot(name_);
  }

  TempDir dir_;
  std::string name_;
  ShmStoreOptions options_;
};

// Two processes open a file-backed segment from an earlier boot. Both see the
// old boot id; the first resets the holders and then claims a lease on this
// boot. The second, which saw the old id before the first reset it, must not
// reset again: that would drop a lease promised on this boot.
TEST_F(StaleBoot, SecondOpenerDoesNotClearNewLeases) {
  const std::string& name = name_;
  const ShmStoreOptions& options = options_;
  // The second opener stops just after it saw the old boot, having let go
  // of the flock to take it exclusively.
  Worker late(kLeaseWorker, {name, "claim", "late", "late-holder", "600000"},
              {{"SHMLEASE_CRASH_AT", "stale-boot-seen"}, {"SHMLEASE_CRASH_HOW", "stop"}});
  auto status = late.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status)) << testing::DescribeStatus(status) << late.output();

  auto first = MustOpen(options);
  ASSERT_TRUE(first);
  LeaseMap leases;
  ASSERT_FALSE(first->Leases(&leases));
  EXPECT_TRUE(leases.empty()) << "a holder from the earlier boot survived";
  ASSERT_FALSE(first->ClaimLease(CrashKey("this-boot"), {"new-holder", 600s}));

  late.Signal(SIGCONT);
  status = late.WaitExit();
  EXPECT_TRUE(testing::ExitedZero(status)) << testing::DescribeStatus(status) << late.output();
  ASSERT_FALSE(first->Leases(&leases));
  ASSERT_TRUE(leases.count(CrashKey("this-boot")))
      << "the late opener cleared a lease of this boot";
  EXPECT_EQ(leases[CrashKey("this-boot")].holder, "new-holder");
  EXPECT_TRUE(leases.count(CrashKey("late")));
  PinMap pins;
  ASSERT_FALSE(first->Pinned(&pins));
  EXPECT_EQ(pins, (PinMap{{CrashKey("pinned"), {"entity"}}}));
  std::vector<std::string> problems;
  EXPECT_FALSE(first->Fsck(&problems)) << Join(problems);
}

// An unclean reboot can leave a file-backed segment on disk as a writer had
// it: the writers' lock taken (its word naming a thread of the earlier boot),
// a change journaled and half applied. Here a writer is stopped in the middle
// of a claim and the file is copied as it is: the copy is that image. Its lock
// word names a live, stopped process, so the robust mutex would never report
// its owner dead. Opened on "the next boot", the copy must be reset, not wait
// for a lock nobody will release.
TEST(StaleBootReset, ALockHeldAtTheRebootIsRemade) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string name = dir.File("segment");
  const std::string image = dir.File("image");
  ShmStoreOptions options = FileWithHolderAndPin(name);
  options.lock_timeout = 2s;  // Without the reset, opening the image times out after this.
  Worker writer(kLeaseWorker, {name, "claim", "cut-short", "writer", "600000"},
                {{"SHMLEASE_CRASH_AT", "mid-slot-copy"}, {"SHMLEASE_CRASH_HOW", "stop"}});
  auto status = writer.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status)) << testing::DescribeStatus(status) << writer.output();
  std::filesystem::copy_file(name, image);
  writer.Signal(SIGKILL);
  writer.WaitExit();
  PretendEarlierBoot(image);
  {
    RawSegment raw(image);
    ASSERT_TRUE(raw.ok());
    ASSERT_FALSE(raw.Torn().empty()) << "the image should hold a half-written slot";
  }

  options.name = image;
  auto s = MustOpen(options);
  ASSERT_TRUE(s) << "the image of a reboot with the lock held could not be opened";
  ExpectResetForThisBoot(*s, PinMap{{CrashKey("pinned"), {"entity"}}});
  {
    RawSegment raw(image);
    ASSERT_TRUE(raw.ok());
    EXPECT_TRUE(raw.Torn().empty()) << Join(raw.Torn());
  }
  // Writers get the lock at once, and the table works.
  ASSERT_FALSE(s->ClaimLease(CrashKey("this-boot"), {"new-holder", 600s}));
  ASSERT_FALSE(s->ClaimLease(CrashKey("cut-short"), {"new-holder", 600s}));
  CheckTableUsable(*s);
}

// The process resetting a segment after a reboot holds its flock and is
// stopped: others are told the segment is busy (never shown the earlier
// boot's holders); once it dies, the next opener does the reset.
TEST_F(StaleBoot, AStuckResetIsBusyAndTakenOverWhenItDies) {
  ShmStoreOptions options = options_;
  options.init_timeout = 200ms;
  Worker resetter(
      kLeaseWorker, {name_},
      {{"SHMLEASE_CRASH_AT", "stale-boot-before-reset"}, {"SHMLEASE_CRASH_HOW", "stop"}});
  auto status = resetter.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status))
      << testing::DescribeStatus(status) << resetter.output();
  for (bool read_only : {false, true}) {
    SCOPED_TRACE(read_only ? "read-only" : "writable");
    ShmStoreOptions o = options;
    o.read_only = read_only;
    EXPECT_TRUE(OpenRefused(o, Errc::segment_busy, "did not finish in time"));
  }
  resetter.Signal(SIGKILL);
  status = resetter.WaitExit();
  EXPECT_TRUE(testing::KilledBy(status, SIGKILL)) << testing::DescribeStatus(status);
  auto s = MustOpen(options);
  ASSERT_TRUE(s);
  ExpectResetForThisBoot(*s, PinMap{{CrashKey("pinned"), {"entity"}}});
  CheckTableUsable(*s);
}

// Between seeing the earlier boot (under a shared flock) and taking the
// flock exclusively to reset, the opener holds no lock: the file may change.
// One that changed size is not reset over; the opener says so and leaves it.
TEST_F(StaleBoot, AFileThatChangesSizeBeforeTheResetIsRefusedNotReset) {
  struct stat before {};
  ASSERT_EQ(stat(name_.c_str(), &before), 0);
  Worker opener(kLeaseWorker, {name_},
                {{"SHMLEASE_CRASH_AT", "stale-boot-seen"}, {"SHMLEASE_CRASH_HOW", "stop"}});
  auto status = opener.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status)) << testing::DescribeStatus(status) << opener.output();
  ASSERT_EQ(truncate(name_.c_str(), before.st_size + 4096), 0);
  opener.Signal(SIGCONT);
  status = opener.WaitExit();
  ASSERT_TRUE(status && WIFEXITED(*status)) << testing::DescribeStatus(status);
  EXPECT_EQ(WEXITSTATUS(*status), 1) << opener.output();
  EXPECT_NE(opener.output().find("changed size while it was opened"), std::string::npos)
      << opener.output();
  // Not reset: the next opener refuses the file for its size instead.
  EXPECT_TRUE(OpenRefused(options_, Errc::corrupt_segment, name_));
}

}  // namespace
}  // namespace shmlease

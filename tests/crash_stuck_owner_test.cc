// A writer that is stopped (SIGSTOP), not dead, inside the critical section:
// the robust mutex cannot help (its owner is alive), so other writers must
// give up with Errc::timeout within their lock_timeout, checks and snapshots
// must keep answering, and everything must carry on after SIGCONT, with no
// recovery counted (nobody died).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::CrashKey;
using testing::Join;
using testing::kLeaseWorker;
using testing::MonotonicNowNs;
using testing::MustOpen;
using testing::ReadLines;
using testing::ScopedSegmentName;
using testing::TempDir;
using testing::TestOptions;
using testing::Worker;

struct StuckCase {
  std::string op;  // "claim-reuse" or "extend".
  std::string point;
};

void PrintTo(const StuckCase& c, std::ostream* os) { *os << c.op << " stopped at " << c.point; }

std::string StuckName(const ::testing::TestParamInfo<StuckCase>& info) {
  std::string s = info.param.op + "_at_" + info.param.point;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

// Points where the stopped writer leaves its slot's seqlock odd: a lock-free
// reader cannot read that one slot until the writer goes on.
const std::set<std::string> kOddPoints = {"seqlock-opened", "mid-slot-copy",
                                          "before-seqlock-close"};

constexpr auto kShortLock = 200ms;
// A hang guard only: every call below must return, this is how long it may take at most.
constexpr std::int64_t kBoundNs = 20'000'000'000;

class StuckOwner : public ::testing::TestWithParam<StuckCase> {};

TEST_P(StuckOwner, OthersTimeOutReadersAnswerAndAllResumes) {
  const StuckCase& c = GetParam();
  ScopedSegmentName seg;
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ShmStoreOptions options = TestOptions(seg.name(), true, 16);
  options.lock_timeout = kShortLock;
  auto store = MustOpen(options);
  ASSERT_TRUE(store);
  ASSERT_FALSE(store->ClaimLease(CrashKey("keep-1"), {"keeper", 60s}));
  if (c.op == "extend") {
    ASSERT_FALSE(store->ClaimLease(CrashKey("target"), {"owner", 10s}));
  } else {
    // Reusing an expired lease's slot: the slot is occupied, so a stopped
    // writer inside it really is in every reader's way.
    ASSERT_FALSE(store->ClaimLease(CrashKey("target"), {"old", 1s}));
    ASSERT_FALSE(store->AdvanceFakeClock(2s));
  }
  // A Holding that has found its lease: its extensions take the lock
  // without the names, and must time out like every other writer.
  Holding keeper(store, CrashKey("keep-1"), "keeper");
  ASSERT_FALSE(keeper.Claim(60s));
  ShmStats before;
  ASSERT_FALSE(store->GetStats(&before));

  const std::string holder = c.op == "extend" ? "owner" : "newbie";
  const std::string log = dir.File("fault.log");
  Worker w(kLeaseWorker, {seg.name(), "claim", "target", holder, "100000"},
           {{"SHMLEASE_CRASH_AT", c.point},
            {"SHMLEASE_CRASH_HOW", "stop"},
            {"SHMLEASE_FAULT_LOG", log}});
  ASSERT_TRUE(w.ok());
  auto status = w.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status) && WSTOPSIG(*status) == SIGSTOP)
      << testing::DescribeStatus(status) << w.output();
  ASSERT_FALSE(ReadLines(log).empty());
  EXPECT_EQ(ReadLines(log).back(), c.point);

  // Writers: the timeout error, never a hang and never success.
  const std::int64_t t0 = MonotonicNowNs();
  EXPECT_EQ(store->ClaimLease(CrashKey("other"), {"someone", 5s}), Errc::timeout);
  EXPECT_EQ(store->ClaimOrExtendLease(CrashKey("keep-1"), {"keeper", 90s}), Errc::timeout);
  EXPECT_EQ(keeper.Claim(90s), Errc::timeout);
  EXPECT_EQ(store->RevokeLease(CrashKey("keep-1"), "keeper"), Errc::timeout);
  EXPECT_EQ(store->PinLease(CrashKey("keep-1"), "pinner"), Errc::timeout);
  EXPECT_EQ(store->UnpinLease(CrashKey("keep-1"), "pinner"), Errc::timeout);
  EXPECT_LT(MonotonicNowNs() - t0, kBoundNs);
  {
    // And in another process, through its own options.
    Worker other(kLeaseWorker,
                 {"--lock-timeout-ms=200", seg.name(), "claim", "other", "x", "5000"});
    auto st = other.WaitExit();
    EXPECT_TRUE(testing::ExitedWith(st, 1)) << testing::DescribeStatus(st);
    EXPECT_NE(other.output().find("fail claim " + std::to_string(static_cast<int>(Errc::timeout))),
              std::string::npos)
        << other.output();
  }

  // Readers: a check of a lease elsewhere answers at once, and correctly.
  Token keep(store, CrashKey("keep-1"), "keeper");
  EXPECT_FALSE(keep.Check());
  LeaseMap leases;
  const Key keep_key[] = {CrashKey("keep-1")};
  EXPECT_FALSE(store->Leases(&leases, keep_key));
  EXPECT_EQ(leases.size(), 1u);
  // A whole-table snapshot answers: in full, unless the stopped writer holds
  // one slot half-written, which no reader can read; then it reports the
  // timeout (it tried to repair through the lock) rather than guess.
  const std::int64_t t1 = MonotonicNowNs();
  std::vector<LeaseEntry> entries;
  std::error_code snap = store->Snapshot(&entries);
  ShmStoreOptions ro = options;
  ro.read_only = true;
  auto reader = MustOpen(ro);
  ASSERT_TRUE(reader);
  std::vector<LeaseEntry> ro_entries;
  std::error_code ro_snap = reader->Snapshot(&ro_entries);
  PinMap pins;
  std::error_code pinned = store->Pinned(&pins);
  if (kOddPoints.count(c.point)) {
    EXPECT_EQ(snap, Errc::timeout);
    EXPECT_EQ(ro_snap, Errc::timeout);
    EXPECT_EQ(pinned, Errc::timeout);
  } else {
    EXPECT_FALSE(snap) << snap.message();
    EXPECT_FALSE(ro_snap) << ro_snap.message();
    EXPECT_FALSE(pinned) << pinned.message();
    EXPECT_GE(entries.size(), 1u);
  }
  EXPECT_LT(MonotonicNowNs() - t1, kBoundNs);
  EXPECT_FALSE(keep.Check());

  // Resume: the stopped writer finishes its claim, everyone else carries on.
  w.Signal(SIGCONT);
  status = w.WaitExit();
  EXPECT_TRUE(testing::ExitedZero(status)) << testing::DescribeStatus(status) << w.output();
  EXPECT_NE(w.output().find("ok claim"), std::string::npos) << w.output();
  EXPECT_FALSE(store->ClaimLease(CrashKey("other"), {"someone", 5s}));
  ASSERT_FALSE(store->Leases(&leases));
  ASSERT_TRUE(leases.count(CrashKey("target")));
  EXPECT_EQ(leases[CrashKey("target")].holder, holder);
  EXPECT_EQ(leases[CrashKey("target")].expiry, store->Now() + 100s);
  EXPECT_FALSE(store->Snapshot(&entries));
  EXPECT_FALSE(reader->Snapshot(&ro_entries));
  std::vector<std::string> problems;
  EXPECT_FALSE(store->Fsck(&problems)) << Join(problems);
  ShmStats after;
  ASSERT_FALSE(store->GetStats(&after));
  EXPECT_EQ(after.recoveries, before.recoveries) << "nobody died, nothing to recover";
}

INSTANTIATE_TEST_SUITE_P(Points, StuckOwner,
                         ::testing::Values(StuckCase{"claim-reuse", "lock-acquired"},
                                           StuckCase{"claim-reuse", "journal-written"},
                                           StuckCase{"claim-reuse", "journal-committed"},
                                           StuckCase{"claim-reuse", "seqlock-opened"},
                                           StuckCase{"claim-reuse", "mid-slot-copy"},
                                           StuckCase{"claim-reuse", "before-seqlock-close"},
                                           StuckCase{"claim-reuse", "applied"},
                                           StuckCase{"extend", "lock-acquired"},
                                           StuckCase{"extend", "extended"}),
                         StuckName);

// A writer reads its t0 before it waits for the lock. Whether a lease is held
// must be judged once it has the lock: a lease that ran out while the writer
// waited (here: stopped just after acquiring it) must stay ended. A pin must
// not keep it, an extension must not revive it.
class WaitedAcrossExpiry : public ::testing::TestWithParam<std::string> {};

TEST_P(WaitedAcrossExpiry, ALeaseThatRanOutWhileAWriterWaitedStaysEnded) {
  const std::string& op = GetParam();
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), true, 16));
  ASSERT_TRUE(store);
  ASSERT_FALSE(store->ClaimLease(CrashKey("lease"), {"owner", 10s}));
  LeaseMap leases;
  ASSERT_FALSE(store->Leases(&leases));
  const std::uint64_t first_epoch = leases.at(CrashKey("lease")).epoch;

  std::vector<std::string> args = {seg.name()};
  if (op == "pin") {
    args.insert(args.end(), {"pin", "lease", "pinner"});
  } else {  // The holder renewing: Claimer::Claim's extension path.
    args.insert(args.end(), {"claim", "lease", "owner", "100000"});
  }
  Worker w(kLeaseWorker, args,
           {{"SHMLEASE_CRASH_AT", "lock-acquired"}, {"SHMLEASE_CRASH_HOW", "stop"}});
  ASSERT_TRUE(w.ok());
  auto status = w.WaitStoppedOrExited();
  ASSERT_TRUE(status && WIFSTOPPED(*status)) << testing::DescribeStatus(status) << w.output();
  ASSERT_FALSE(store->AdvanceFakeClock(20s));  // The lease runs out while the writer waits.
  w.Signal(SIGCONT);
  status = w.WaitExit();
  ASSERT_TRUE(testing::ExitedZero(status)) << testing::DescribeStatus(status) << w.output();

  ASSERT_FALSE(store->Leases(&leases));
  if (op == "pin") {
    EXPECT_FALSE(leases.count(CrashKey("lease"))) << "the pin revived an ended holding";
    EXPECT_EQ(Token(store, CrashKey("lease"), "owner").Check(), Errc::not_held);
    PinMap pins;
    ASSERT_FALSE(store->Pinned(&pins));
    EXPECT_EQ(pins[CrashKey("lease")], std::vector<std::string>{"pinner"});
  } else {
    // A new holding (S16: a larger epoch), not the old one stretched over its gap.
    ASSERT_TRUE(leases.count(CrashKey("lease")));
    EXPECT_EQ(leases[CrashKey("lease")].holder, "owner");
    EXPECT_GT(leases[CrashKey("lease")].epoch, first_epoch);
  }
  std::vector<std::string> problems;
  EXPECT_FALSE(store->Fsck(&problems)) << Join(problems);
}

INSTANTIATE_TEST_SUITE_P(Writers, WaitedAcrossExpiry, ::testing::Values("pin", "extend"));

}  // namespace
}  // namespace shmlease

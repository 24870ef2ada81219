// Crash at every named point (lib/fault.h kFaultPoints), then check every
// invariant from a fresh store in another process: the change the dead
// process was making is either all there or not at all (decided by whether
// its journal record was committed), every lease promised before the crash is
// still held by its holder until at least its promised time, no seqlock is
// left odd, the table passes fsck and can be written again, and the repair is
// counted in ShmStats::recoveries.
//
// The process that dies is tests/helpers/lease_worker, run with
// SHMLEASE_CRASH_AT=<point> (SIGKILL, or _exit with SHMLEASE_CRASH_HOW=exit).
// Its SHMLEASE_FAULT_LOG proves it died at that point and not somewhere else.
// What "all there" means is learned from a twin segment built the same way
// on which the same operation runs to completion.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../lib/fault.h"
#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::CheckTableUsable;
using testing::CountLines;
using testing::CrashKey;
using testing::Env;
using testing::ExitedWith;
using testing::ExpectResetForThisBoot;
using testing::Join;
using testing::KilledBy;
using testing::kLeaseWorker;
using testing::MustOpen;
using testing::NormalState;
using testing::PretendEarlierBoot;
using testing::RawSegment;
using testing::ReadLines;
using testing::ScopedSegmentName;
using testing::TempDir;
using testing::TestOptions;
using testing::Worker;

constexpr std::size_t kCapacity = 4;  // Small enough for the sweep case to fill it.
constexpr auto kKeep1 = 60s;          // Promises made before the crash ...
constexpr auto kKeep2 = 30s;          // ... by "keeper" (keep-2 also pinned).

// One crash: which operation the worker performs, where it dies, and what must survive.
struct Case {
  std::string op;     // See Setup() and WorkerOps().
  std::string point;  // Where the worker dies.
  bool exit = false;  // _exit instead of SIGKILL.
  int skip = 0;       // Die at the skip+1-th visit of the point.
  // A second writer that then dies at this point, inside the first one's repair.
  std::string second;
  bool applied = false;  // The dead worker's change is there afterwards.
  int recoveries = 1;    // How much ShmStats::recoveries grows.
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.op << " dies at " << c.point << (c.exit ? " (_exit)" : " (SIGKILL)") << " visit "
      << c.skip + 1 << (c.second.empty() ? "" : ", then a writer dies at " + c.second);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string s = c.op + "_at_" + c.point + (c.exit ? "_exit" : "_kill");
  if (c.skip) s += "_visit" + std::to_string(c.skip + 1);
  if (!c.second.empty()) s += "_then_" + c.second;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

// Points at which the writer holds the lock, in the order one Commit visits them.
const std::vector<std::string> kCommitPoints = {
    "lock-acquired",        "journal-partial", "journal-written",
    "journal-committed",    "seqlock-opened",  "mid-slot-copy",
    "before-seqlock-close", "bumped",          "applied"};

bool CommittedAt(const std::string& point) {
  auto it = std::find(kCommitPoints.begin(), kCommitPoints.end(), point);
  return it - kCommitPoints.begin() >= 3;  // From "journal-committed" on, replay finishes it.
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const char* op : {"claim-new", "claim-reuse", "revoke", "pin", "unpin"}) {
    for (const std::string& p : kCommitPoints) {
      for (bool exit : {false, true}) cases.push_back({op, p, exit, 0, "", CommittedAt(p), 1});
    }
  }
  for (bool exit : {false, true}) {
    cases.push_back({"extend", "lock-acquired", exit, 0, "", false, 1});
    cases.push_back({"extend", "extended", exit, 0, "", true, 1});
    // A Holding's second claim extends by slot and epoch; its first one
    // (shorter: it changes nothing) took the lock once and passed "extended".
    cases.push_back({"hold-extend", "lock-acquired", exit, 1, "", false, 1});
    cases.push_back({"hold-extend", "extended", exit, 1, "", true, 1});
  }
  // A claim that must first sweep two expired leases out of a full table:
  // three commits (two frees, then the claim). Only the third is the claim.
  cases.push_back({"sweep", "sweep-freed", false, 0, "", false, 1});
  cases.push_back({"sweep", "sweep-freed", false, 1, "", false, 1});
  for (int visit = 0; visit < 3; ++visit) {
    for (const char* p : {"journal-committed", "before-seqlock-close"}) {
      cases.push_back({"sweep", p, false, visit, "", visit == 2, 1});
    }
  }
  // The next writer dies while repairing: the repair is itself repaired.
  // Dying at "recovered" happens after that writer counted its recovery.
  for (const char* second : {"seqlock-opened", "mid-slot-copy", "before-seqlock-close"}) {
    cases.push_back({"claim-new", "journal-committed", false, 0, second, true, 1});
  }
  cases.push_back({"claim-new", "journal-committed", false, 0, "recovered", true, 2});
  cases.push_back({"claim-new", "before-seqlock-close", true, 0, "recovered", true, 2});
  for (const char* p :
       {"init-begin", "init-marked", "init-sized", "init-header", "init-before-magic"}) {
    for (bool exit : {false, true}) {
      cases.push_back({"create-shm", p, exit, 0, "", false, 0});
      cases.push_back({"create-file", p, exit, 0, "", false, 0});
    }
  }
  for (const char* p : {"stale-boot-seen", "stale-boot-before-reset"}) {
    for (bool exit : {false, true}) cases.push_back({"stale-boot", p, exit, 0, "", false, 0});
  }
  return cases;
}

// Whether process `pid` (single-threaded) is blocked in futex(2): the
// kernel shows the syscall it sleeps in. Polled, with a bound that only
// guards against a hang.
bool WaitUntilAsleepInFutex(pid_t pid) {
  const auto bound = std::chrono::steady_clock::now() + 30s;
  const std::string path = "/proc/" + std::to_string(pid) + "/syscall";
  while (std::chrono::steady_clock::now() < bound) {
    std::ifstream in(path);
    std::string number;
    if (in >> number && number == std::to_string(SYS_futex)) return true;
    sched_yield();
  }
  return false;
}

// A writer that dies after clearing a waiter's mark and before waking it
// ("bumped") leaves the waiter asleep in the kernel, and every later write
// sees no mark to act on. The next writer's repair must wake it. The lease
// is pinned, so the waiter has no deadline to fall back on.
TEST(CrashPoints, AWaiterWhoseMarkADeadWriterClearedIsWokenByTheRepair) {
  for (bool fake_clock : {false, true}) {
    SCOPED_TRACE(fake_clock ? "fake clock" : "real clock");
    ScopedSegmentName seg(fake_clock ? "-fake" : "-real");
    auto store = MustOpen(TestOptions(seg.name(), fake_clock, kCapacity));
    ASSERT_TRUE(store);
    ASSERT_FALSE(store->ClaimLease(CrashKey("victim"), {"holder", 1h}));
    ASSERT_FALSE(store->PinLease(CrashKey("victim"), "entity"));
    Worker waiter(kLeaseWorker, {seg.name(), "wait", "victim"});
    ASSERT_TRUE(waiter.WaitForOutput("waiting victim")) << waiter.output();
    ASSERT_TRUE(WaitUntilAsleepInFutex(waiter.pid()));
    Worker revoker(kLeaseWorker, {seg.name(), "revoke", "victim", "holder"},
                   {{"SHMLEASE_CRASH_AT", "bumped"}});
    ASSERT_TRUE(KilledBy(revoker.WaitExit(), SIGKILL)) << revoker.output();
    ASSERT_FALSE(store->ClaimLease(CrashKey("other"), {"holder", 1h}));  // Repairs.
    const auto status = waiter.WaitExit(30s);
    EXPECT_TRUE(testing::ExitedZero(status))
        << "the waiter slept on: " << testing::DescribeStatus(status) << waiter.output();
  }
}

TEST(CrashPoints, EveryPointIsVisited) {
  // Each case below fails unless its worker died at its point, so a point
  // listed here is a point some process really reached and died at.
  std::set<std::string> visited;
  for (const Case& c : AllCases()) {
    visited.insert(c.point);
    if (!c.second.empty()) visited.insert(c.second);
  }
  for (const char* p : internal::kFaultPoints) {
    EXPECT_TRUE(visited.count(p)) << "no crash case dies at point '" << p << "'";
  }
}

ShmStoreOptions Options(const std::string& name) { return TestOptions(name, true, kCapacity); }

// The same leases before each case, on the crashing segment and on its twin.
// Returns the time the promises to "keeper" were made.
std::chrono::steady_clock::time_point Setup(ShmStore& s, const std::string& op,
                                            const std::string& target) {
  auto ok = [](std::error_code ec) { EXPECT_FALSE(ec) << ec.message(); };
  const auto t0 = s.Now();
  ok(s.ClaimLease(CrashKey("keep-1"), {"keeper", kKeep1}));
  ok(s.ClaimLease(CrashKey("keep-2"), {"keeper", kKeep2}));
  ok(s.PinLease(CrashKey("keep-2"), "pinner"));
  if (op == "claim-reuse") {
    ok(s.ClaimLease(CrashKey(target), {"old", 1s}));
    ok(s.AdvanceFakeClock(2s));
  } else if (op == "revoke" || op == "pin" || op == "extend" || op == "hold-extend") {
    ok(s.ClaimLease(CrashKey(target), {"owner", 10s}));
  } else if (op == "unpin") {
    ok(s.ClaimLease(CrashKey(target), {"owner", 10s}));
    ok(s.PinLease(CrashKey(target), "e1"));
    ok(s.PinLease(CrashKey(target), "e2"));
  } else if (op == "sweep") {
    ok(s.ClaimLease(CrashKey("old-a"), {"old", 1s}));
    ok(s.ClaimLease(CrashKey("old-b"), {"old", 1s}));
    ok(s.AdvanceFakeClock(2s));
  }
  return t0;
}

std::vector<std::string> WorkerOps(const std::string& op, const std::string& target) {
  if (op == "revoke") return {"revoke", target, "owner"};
  if (op == "pin") return {"pin", target, "entity-x"};
  if (op == "unpin") return {"unpin", target, "e1"};
  if (op == "extend") return {"claim", target, "owner", "100000"};
  if (op == "hold-extend") return {"hold", target, "owner", "5000", "100000"};
  return {"claim", target, "newbie", "10000"};
}

std::vector<std::string> WorkerArgs(const std::string& segment,
                                    const std::vector<std::string>& ops) {
  std::vector<std::string> args{"--fake-clock", "--capacity=" + std::to_string(kCapacity), segment};
  args.insert(args.end(), ops.begin(), ops.end());
  return args;
}

Env CrashEnv(const Case& c, const std::string& point, int skip, const std::string& log) {
  Env env{{"SHMLEASE_CRASH_AT", point}, {"SHMLEASE_FAULT_LOG", log}};
  if (skip > 0) env.emplace_back("SHMLEASE_CRASH_SKIP", std::to_string(skip));
  if (c.exit) env.emplace_back("SHMLEASE_CRASH_HOW", "exit");
  return env;
}

// Runs a worker that must die at `point` (its skip+1-th visit there).
void RunToDeath(const Case& c, const std::vector<std::string>& args, const std::string& point,
                int skip, const std::string& log) {
  Worker w(kLeaseWorker, args, CrashEnv(c, point, skip, log));
  ASSERT_TRUE(w.ok());
  auto status = w.WaitExit();
  if (c.exit) {
    EXPECT_TRUE(ExitedWith(status, 86)) << testing::DescribeStatus(status) << "\n" << w.output();
  } else {
    EXPECT_TRUE(KilledBy(status, SIGKILL)) << testing::DescribeStatus(status) << "\n" << w.output();
  }
  std::vector<std::string> reached = ReadLines(log);
  ASSERT_FALSE(reached.empty()) << "the worker reached no crash point at all";
  EXPECT_EQ(reached.back(), point) << "the worker died somewhere else:\n" << Join(reached);
  EXPECT_EQ(CountLines(reached, point), skip + 1) << Join(reached);
}

// What every crash must leave behind, seen from a store opened afresh.
class CrashAt : public ::testing::TestWithParam<Case> {};

void RunWriteCase(const Case& c) {
  ScopedSegmentName seg, twin("-twin");
  TempDir dir;
  ASSERT_TRUE(dir.ok());

  // The twin: same leases, the operation run to completion. For the sweep
  // case, pick a lease name whose claim really sweeps (it depends on where
  // its hash lands): the twin's fault log shows two frees.
  std::string target = "target";
  std::string expected_after;
  for (int attempt = 0;; ++attempt) {
    ASSERT_LT(attempt, 32) << "no lease name makes the claim sweep";
    ShmStore::Destroy(twin.name());
    auto t = MustOpen(Options(twin.name()));
    ASSERT_TRUE(t);
    const std::uint64_t twin_base = testing::LastEpoch(*t);
    Setup(*t, c.op, target);
    const std::string log = dir.File("twin-" + std::to_string(attempt) + ".log");
    Worker w(kLeaseWorker, WorkerArgs(twin.name(), WorkerOps(c.op, target)),
             {{"SHMLEASE_FAULT_LOG", log}});
    auto status = w.WaitExit();
    ASSERT_TRUE(testing::ExitedZero(status)) << testing::DescribeStatus(status) << w.output();
    std::vector<std::string> reached = ReadLines(log);
    if (c.op == "sweep" && CountLines(reached, "sweep-freed") != 2) {
      target = "target-" + std::to_string(attempt);
      continue;
    }
    ASSERT_GE(CountLines(reached, c.point), c.skip + 1) << Join(reached);
    std::vector<std::string> problems;
    EXPECT_FALSE(t->Fsck(&problems)) << "without any crash: " << Join(problems);
    expected_after = NormalState(*t, twin_base);
    break;
  }

  // The real one.
  std::string expected_before;
  std::uint64_t recoveries_before = 0;
  std::chrono::steady_clock::time_point promised_at;
  std::uint64_t base = 0;
  {
    auto s = MustOpen(Options(seg.name()));
    ASSERT_TRUE(s);
    base = testing::LastEpoch(*s);
    promised_at = Setup(*s, c.op, target);
    expected_before = NormalState(*s, base);
    ShmStats stats;
    ASSERT_FALSE(s->GetStats(&stats));
    recoveries_before = stats.recoveries;
  }  // Nothing of this process stays mapped: the checks below use a fresh store.
  ASSERT_NE(expected_before, expected_after) << "the operation changes nothing visible";

  RunToDeath(c, WorkerArgs(seg.name(), WorkerOps(c.op, target)), c.point, c.skip,
             dir.File("crash.log"));
  if (::testing::Test::HasFatalFailure()) return;
  if (!c.second.empty()) {
    RunToDeath(c, WorkerArgs(seg.name(), {"claim", "second", "second-holder", "10000"}), c.second,
               0, dir.File("second.log"));
    if (::testing::Test::HasFatalFailure()) return;
  }

  std::error_code ec;
  std::string detail;
  auto s = ShmStore::Open(Options(seg.name()), ec, &detail);
  ASSERT_TRUE(s) << ec.message() << ": " << detail;
  // Readers first, before any writer has repaired anything: a check of a
  // lease in another slot never needs the dead writer's repair.
  Token keep1(s, CrashKey("keep-1"), "keeper");
  Token keep2(s, CrashKey("keep-2"), "keeper");
  EXPECT_FALSE(keep1.Check());
  EXPECT_FALSE(keep2.Check());
  // The owner of the lease the dead writer was changing was promised it for
  // 10s; only its own revocation, once committed, may end that. A reader that
  // cannot read the half-written slot must repair it, not answer "not held".
  if (c.op == "pin" || c.op == "unpin" || c.op == "extend" || c.op == "hold-extend" ||
      (c.op == "revoke" && !c.applied)) {
    EXPECT_FALSE(Token(s, CrashKey(target), "owner").Check())
        << "the owner's promised lease reads as not held after the crash";
  }
  // A lock-free snapshot sees the table before or after the dead writer's
  // change, never half of it: it repairs a slot it cannot read (odd
  // seqlock), but a committed journal record whose slot is still intact is
  // replayed only by the next writer, so it may not show yet.
  const std::string seen = NormalState(*s, base);
  EXPECT_TRUE(seen == expected_before || seen == expected_after) << seen;
  // Fsck repairs through the lock first; then the change is there or not, as committed.
  std::vector<std::string> problems;
  EXPECT_FALSE(s->Fsck(&problems)) << Join(problems);
  EXPECT_EQ(NormalState(*s, base), c.applied ? expected_after : expected_before)
      << "the crash left a change " << (c.applied ? "unapplied" : "half-applied");
  {
    RawSegment raw(ShmStore::PathOf(seg.name()));
    ASSERT_TRUE(raw.ok());
    EXPECT_TRUE(raw.Torn().empty()) << Join(raw.Torn());
  }
  CheckTableUsable(*s);
  ShmStats stats;
  ASSERT_FALSE(s->GetStats(&stats));
  EXPECT_EQ(stats.recoveries, recoveries_before + c.recoveries);

  // The promises to "keeper" hold until their promised time, to the nanosecond.
  LeaseMap leases;
  ASSERT_FALSE(s->Leases(&leases));
  ASSERT_TRUE(leases.count(CrashKey("keep-1")));
  EXPECT_EQ(leases[CrashKey("keep-1")].holder, "keeper");
  EXPECT_GE(leases[CrashKey("keep-1")].expiry, promised_at + kKeep1);
  const auto to_edge = promised_at + kKeep1 - s->Now() - 1ns;
  if (to_edge > 0ns) ASSERT_FALSE(s->AdvanceFakeClock(to_edge));
  EXPECT_FALSE(keep1.Check()) << "keep-1 lost before its promised time";
  EXPECT_FALSE(keep2.Check()) << "keep-2 (pinned) lost";
}

void RunCreateCase(const Case& c) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ScopedSegmentName shm;
  const std::string name = c.op == "create-file" ? dir.File("segment") : shm.name();
  RunToDeath(c, WorkerArgs(name, {}), c.point, 0, dir.File("crash.log"));
  if (::testing::Test::HasFatalFailure()) return;
  const std::string path = ShmStore::PathOf(name);

  // Not initialised: a plain open says so (naming the segment) and changes nothing.
  std::error_code ec;
  std::string detail;
  EXPECT_FALSE(ShmStore::Open(Options(name), ec, &detail));
  EXPECT_TRUE(ec == Errc::segment_not_found || ec == Errc::corrupt_segment) << ec.message();
  EXPECT_NE(detail.find(path), std::string::npos) << detail;

  // Creating takes over from the dead creator.
  auto s = MustOpen(Options(name));
  ASSERT_TRUE(s);
  std::vector<LeaseEntry> entries;
  EXPECT_FALSE(s->Snapshot(&entries));
  EXPECT_TRUE(entries.empty());
  CheckTableUsable(*s);
  {
    RawSegment raw(path);
    ASSERT_TRUE(raw.ok());
    EXPECT_TRUE(raw.Torn().empty()) << Join(raw.Torn());
  }
  ShmStats stats;
  ASSERT_FALSE(s->GetStats(&stats));
  EXPECT_EQ(stats.recoveries, 0u);
  EXPECT_EQ(stats.capacity, kCapacity);
}

void RunStaleBootCase(const Case& c) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string name = dir.File("segment");
  {
    auto s = MustOpen(Options(name));
    ASSERT_TRUE(s);
    Setup(*s, c.op, "target");
  }
  PretendEarlierBoot(name);
  // The worker sees the old boot and dies before it has reset anything.
  RunToDeath(c, WorkerArgs(name, {}), c.point, 0, dir.File("crash.log"));
  if (::testing::Test::HasFatalFailure()) return;

  auto s = MustOpen(Options(name));
  ASSERT_TRUE(s);
  ExpectResetForThisBoot(*s, PinMap{{CrashKey("keep-2"), {"pinner"}}});
  CheckTableUsable(*s);
  RawSegment raw(name);
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE(raw.Torn().empty()) << Join(raw.Torn());
}

TEST_P(CrashAt, EveryInvariantHoldsAfterward) {
  const Case& c = GetParam();
  if (c.op.starts_with("create-")) {
    RunCreateCase(c);
  } else if (c.op == "stale-boot") {
    RunStaleBootCase(c);
  } else {
    RunWriteCase(c);
  }
}

INSTANTIATE_TEST_SUITE_P(AllPoints, CrashAt, ::testing::ValuesIn(AllCases()), CaseName);

}  // namespace
}  // namespace shmlease

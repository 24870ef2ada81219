// The torture test: workers (tests/helpers/torture_worker) claim, extend,
// revoke, pin, unpin, check and wait at random on a few leases of a small
// table, while this process SIGKILLs random workers at random moments and
// starts new ones; some workers also carry a crash point, so that they die
// inside the critical section. Afterwards:
//   - no two holders were ever promised the same lease at overlapping times
//     (from the promise logs the workers wrote, see torture_record.h);
//   - no wait for a lease returned "free" while a promise covered its whole wait;
//   - no worker found its own promised lease not held (it exits 3 if so);
//   - the table passes fsck and has no odd seqlock;
//   - once every lease is let go, every waiter wakes and exits (bounded).
//
// A default run takes a few seconds; SHMLEASE_SOAK_SECONDS=<n> keeps killing for n seconds.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../lib/fault.h"
#include "helpers/crash_util.h"
#include "helpers/torture_record.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::Join;
using testing::kLeaseWorker;
using testing::kTortureLeases;
using testing::kTortureWorker;
using testing::MonotonicNowNs;
using testing::MustOpen;
using testing::ScopedSegmentName;
using testing::TempDir;
using testing::TortureRecord;
using testing::Worker;

constexpr int kWorkers = 4;
constexpr int kWaiters = 2;
constexpr int kDefaultRounds = 400;

// Points where a worker holds the writers' lock: dying there needs a recovery.
const char* const kLockPoints[] = {"lock-acquired",        "journal-partial", "journal-written",
                                   "journal-committed",    "seqlock-opened",  "mid-slot-copy",
                                   "before-seqlock-close", "applied",         "extended",
                                   "sweep-freed"};

Key TortureKey(int i) {
  return Key{std::string(kSingularControllerNamespace), "torture", "lease-" + std::to_string(i)};
}

struct Interval {
  std::int64_t start, end;
  std::uint64_t holder;
};

class Torture {
 public:
  Torture(const std::string& segment, const TempDir& dir, std::uint64_t seed)
      : segment_(segment), dir_(dir), rng_(seed) {}

  // Starts a worker in slot i; one in three carries a crash point.
  void StartWorker(int i) {
    const std::uint64_t id = ++next_id_;
    testing::Env env;
    crash_[i] = rng_() % 3 == 0;
    if (crash_[i]) {
      env.emplace_back("SHMLEASE_CRASH_AT", kLockPoints[rng_() % std::size(kLockPoints)]);
      env.emplace_back("SHMLEASE_CRASH_SKIP", std::to_string(rng_() % 12));
    }
    logs_.push_back(dir_.File("worker-" + std::to_string(id) + ".log"));
    workers_[i] = std::make_unique<Worker>(
        kTortureWorker,
        std::vector<std::string>{segment_, logs_.back(), std::to_string(id),
                                 std::to_string(rng_())},
        env);
  }
  void StartWaiter(int i) {
    waiters_[i] = std::make_unique<Worker>(
        kLeaseWorker,
        std::vector<std::string>{segment_, "wait",
                                 TortureKey(static_cast<int>(rng_() % kTortureLeases)).lease});
  }

  // A worker ends only by SIGKILL (ours or its crash point's); anything else is a failure.
  void ExpectKilled(int i, std::optional<int> status, bool by_us) {
    if (!testing::KilledBy(status, SIGKILL)) {
      ADD_FAILURE() << "worker " << i << " " << testing::DescribeStatus(status)
                    << " (3: a promised lease was not held; 4: an unexpected error)";
      return;
    }
    if (!by_us && crash_[i]) ++crash_point_deaths_;
  }

  void Round() {
    // A random moment: this pause decides when the kill lands, it orders nothing.
    timespec pause{0, static_cast<long>(rng_() % 3'000'000)};
    nanosleep(&pause, nullptr);
    for (int i = 0; i < kWorkers; ++i) {
      if (auto st = workers_[i]->Poll()) {
        ExpectKilled(i, st, false);
        StartWorker(i);
      }
    }
    for (int i = 0; i < kWaiters; ++i) {
      if (auto st = waiters_[i]->Poll()) {
        EXPECT_TRUE(testing::ExitedZero(st))
            << testing::DescribeStatus(st) << waiters_[i]->output();
        StartWaiter(i);
      }
    }
    const int victim = static_cast<int>(rng_() % kWorkers);
    workers_[victim]->Signal(SIGKILL);
    ExpectKilled(victim, workers_[victim]->WaitExit(), true);
    StartWorker(victim);
    // Waiters die too now and then (their registration on the futex word stays behind).
    if (rng_() % 8 == 0) {
      const int w = static_cast<int>(rng_() % kWaiters);
      waiters_[w]->Signal(SIGKILL);
      waiters_[w]->WaitExit();
      StartWaiter(w);
    }
  }

  void Start() {
    for (int i = 0; i < kWorkers; ++i) StartWorker(i);
    for (int i = 0; i < kWaiters; ++i) StartWaiter(i);
  }

  void StopAll() {
    for (int i = 0; i < kWorkers; ++i) {
      workers_[i]->Signal(SIGKILL);
      ExpectKilled(i, workers_[i]->WaitExit(), true);
    }
    for (int i = 0; i < kWaiters; ++i) {
      waiters_[i]->Signal(SIGKILL);
      waiters_[i]->WaitExit();
    }
  }

  // Every record of every worker's log.
  std::vector<TortureRecord> Records() const {
    std::vector<TortureRecord> all;
    for (const std::string& path : logs_) {
      std::string bytes;
      {
        std::ifstream in(path, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
      }
      EXPECT_EQ(bytes.size() % sizeof(TortureRecord), 0u) << path << ": a torn record";
      for (std::size_t at = 0; at + sizeof(TortureRecord) <= bytes.size();
           at += sizeof(TortureRecord)) {
        TortureRecord r;
        std::memcpy(&r, bytes.data() + at, sizeof r);
        all.push_back(r);
      }
    }
    return all;
  }

  int crash_point_deaths() const { return crash_point_deaths_; }
  int started() const { return static_cast<int>(next_id_); }

 private:
  std::string segment_;
  const TempDir& dir_;
  std::mt19937_64 rng_;
  std::uint64_t next_id_ = 0;
  std::unique_ptr<Worker> workers_[kWorkers];
  bool crash_[kWorkers] = {};
  std::unique_ptr<Worker> waiters_[kWaiters];
  std::vector<std::string> logs_;
  int crash_point_deaths_ = 0;
};

// Promise intervals per lease: each worker's promises, cut short by its revocations.
std::map<int, std::vector<Interval>> PromisesByLease(const std::vector<TortureRecord>& records) {
  std::map<int, std::vector<Interval>> by_lease;
  // Records of one worker are in its own order (one file, appended in sequence).
  std::map<std::pair<std::uint64_t, int>, std::vector<std::size_t>> open;
  for (const TortureRecord& r : records) {
    EXPECT_LT(r.lease, static_cast<std::uint32_t>(kTortureLeases));
    auto& mine = open[{r.worker, static_cast<int>(r.lease)}];
    auto& list = by_lease[static_cast<int>(r.lease)];
    if (r.type == testing::kPromise) {
      list.push_back(Interval{r.a, r.b, r.worker});
      mine.push_back(list.size() - 1);
    } else if (r.type == testing::kRevoke) {
      for (std::size_t k : mine) list[k].end = std::min(list[k].end, r.a);
      mine.clear();
    }
  }
  return by_lease;
}

// Two different holders' promises overlap: the one thing a lease must never allow.
std::vector<std::string> Overlaps(std::vector<Interval> v) {
  std::vector<std::string> found;
  v.erase(std::remove_if(v.begin(), v.end(), [](const Interval& i) { return i.start >= i.end; }),
          v.end());
  std::sort(v.begin(), v.end(),
            [](const Interval& a, const Interval& b) { return a.start < b.start; });
  // The latest end so far, and the latest end of any other holder than that one.
  std::int64_t best_end = INT64_MIN, other_end = INT64_MIN;
  std::uint64_t best_holder = 0;
  for (const Interval& i : v) {
    const std::int64_t rival_end = i.holder == best_holder ? other_end : best_end;
    if (rival_end > i.start) {
      found.push_back("holder " + std::to_string(i.holder) + " promised from " +
                      std::to_string(i.start) + " while another's promise ran to " +
                      std::to_string(rival_end));
    }
    if (i.holder == best_holder) {
      best_end = std::max(best_end, i.end);
    } else if (i.end > best_end) {
      other_end = best_end;
      best_end = i.end;
      best_holder = i.holder;
    } else {
      other_end = std::max(other_end, i.end);
    }
  }
  return found;
}

TEST(CrashTorture, OverlapCheckFindsOverlaps) {
  // The checker itself, on intervals with a known answer.
  EXPECT_TRUE(Overlaps({{0, 10, 1}, {10, 20, 2}, {5, 8, 1}, {20, 30, 1}}).empty());
  EXPECT_EQ(Overlaps({{0, 10, 1}, {9, 20, 2}}).size(), 1u);
  EXPECT_EQ(Overlaps({{0, 100, 1}, {10, 20, 1}, {50, 60, 2}}).size(), 1u);
  EXPECT_EQ(Overlaps({{0, 100, 1}, {10, 20, 2}, {30, 40, 1}, {50, 60, 3}}).size(), 2u);
}

TEST(CrashTorture, KillAtRandomAndCheckEveryPromise) {
  ScopedSegmentName seg;
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ShmStoreOptions options;
  options.name = seg.name();
  options.capacity = 4;  // Fewer than the leases: claims also meet a full table and sweep.
  auto store = MustOpen(options);
  ASSERT_TRUE(store);

  const char* soak = std::getenv("SHMLEASE_SOAK_SECONDS");
  const std::int64_t soak_ns = soak ? std::atoll(soak) * 1'000'000'000LL : 0;
  const std::uint64_t seed = static_cast<std::uint64_t>(MonotonicNowNs());
  SCOPED_TRACE("seed " + std::to_string(seed));
  Torture t(seg.name(), dir, seed);
  t.Start();
  const std::int64_t start = MonotonicNowNs();
  for (int round = 0; soak_ns ? MonotonicNowNs() - start < soak_ns : round < kDefaultRounds;
       ++round) {
    t.Round();
    if (::testing::Test::HasFailure()) break;
  }
  t.StopAll();

  // The table, after all those deaths.
  std::vector<std::string> problems;
  EXPECT_FALSE(store->Fsck(&problems)) << Join(problems);
  {
    testing::RawSegment raw(ShmStore::PathOf(seg.name()));
    ASSERT_TRUE(raw.ok());
    EXPECT_TRUE(raw.Torn().empty()) << Join(raw.Torn());
  }

  // The promises.
  const std::vector<TortureRecord> records = t.Records();
  std::size_t promises = 0, waits = 0;
  const auto by_lease = PromisesByLease(records);
  for (const auto& [lease, intervals] : by_lease) {
    promises += intervals.size();
    for (const std::string& o : Overlaps(intervals))
      ADD_FAILURE() << "lease " << lease << ": " << o;
  }
  for (const TortureRecord& r : records) {
    if (r.type != testing::kWaitedFree) continue;
    ++waits;
    auto it = by_lease.find(static_cast<int>(r.lease));
    if (it == by_lease.end()) continue;
    for (const Interval& i : it->second) {
      EXPECT_FALSE(i.start <= r.a && r.b <= i.end)
          << "a wait on lease " << r.lease << " returned free during [" << r.a << ", " << r.b
          << "], all of it promised to " << i.holder;
    }
  }
  EXPECT_GT(promises, 0u) << "the workers never got a lease: the test tested nothing";
  std::printf("%d workers, %d died at a crash point, %zu promises, %zu waits ended free\n",
              t.started(), t.crash_point_deaths(), promises, waits);

  // Waiters: pin every lease (a pinned lease never expires by itself), start
  // one waiter per lease, and once all are waiting, let every lease go.
  for (int i = 0; i < kTortureLeases; ++i) {
    std::error_code ec = store->PinLease(TortureKey(i), "final");
    EXPECT_TRUE(!ec || ec == Errc::table_full) << ec.message();
  }
  std::vector<std::unique_ptr<Worker>> waiters;
  for (int i = 0; i < kTortureLeases; ++i) {
    waiters.push_back(std::make_unique<Worker>(
        kLeaseWorker, std::vector<std::string>{seg.name(), "wait", TortureKey(i).lease}));
    EXPECT_TRUE(waiters.back()->WaitForOutput("waiting ")) << waiters.back()->output();
  }
  std::vector<LeaseEntry> entries;
  ASSERT_FALSE(store->Snapshot(&entries));
  for (const LeaseEntry& e : entries) {
    for (const std::string& p : e.pinned_by) EXPECT_FALSE(store->UnpinLease(e.key, p));
    if (e.held) {
      std::error_code ec = store->RevokeLease(e.key, e.info.holder);
      // It may have expired (and so ended) since the snapshot once unpinned.
      EXPECT_TRUE(!ec || ec == Errc::invalid) << ec.message();
    }
  }
  for (auto& w : waiters) {
    auto st = w->WaitExit(20s);
    EXPECT_TRUE(testing::ExitedZero(st))
        << "a waiter stayed asleep on a free lease: " << testing::DescribeStatus(st) << w->output();
  }
  ASSERT_FALSE(store->Snapshot(&entries));
  EXPECT_TRUE(entries.empty());
  problems.clear();
  EXPECT_FALSE(store->Fsck(&problems)) << Join(problems);
  ShmStats stats;
  ASSERT_FALSE(store->GetStats(&stats));
  if (t.crash_point_deaths() > 0) EXPECT_GE(stats.recoveries, 1u);
}

}  // namespace
}  // namespace shmlease

// The futex word protocol (lib/wake_word.h): writers wake only when a waiter
// marked the word since the last bump, and no wake-up is ever lost.
#include <gtest/gtest.h>

#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <thread>
#include <vector>

#include "../lib/clock.h"
#include "../lib/futex.h"
#include "../lib/wake_word.h"
#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease::internal {
namespace {

void Pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

TEST(WakeWord, ABumpWakesOnlyWhenAWaiterMarkedTheWordSinceTheLastBump) {
  std::atomic<std::uint32_t> word{0};
  EXPECT_FALSE(BumpClearingMark(word)) << "nobody marked it";
  EXPECT_EQ(word.load(), kWakeStep);

  const std::uint32_t seen = MarkSleeper(word);
  EXPECT_EQ(seen, kWakeStep | kSleeperMark);
  EXPECT_EQ(MarkSleeper(word), seen) << "a second waiter shares the mark";

  EXPECT_TRUE(BumpClearingMark(word));
  // The woken waiter has not marked again (it has not run yet, or it was
  // killed): the writes after it make no syscall.
  EXPECT_FALSE(BumpClearingMark(word));
  EXPECT_FALSE(BumpClearingMark(word));
  EXPECT_EQ(word.load(), 4 * kWakeStep);
}

TEST(WakeWord, AWaiterDoesNotSleepOnAValueThatABumpHasChanged) {
  std::atomic<std::uint32_t> word{0};
  const std::uint32_t seen = MarkSleeper(word);
  BumpClearingMark(word);
  EXPECT_EQ(FutexWait(&word, seen, kNever), FutexWaitResult::value_changed);

  // A stop request's bump keeps the mark but changes the value all the same.
  const std::uint32_t again = MarkSleeper(word);
  BumpAndWakeAll(word);
  EXPECT_EQ(word.load() & kSleeperMark, kSleeperMark);
  EXPECT_EQ(FutexWait(&word, again, kNever), FutexWaitResult::value_changed);
}

// A writer publishes values one at a time and waits until every waiter has
// seen each; waiters sleep with no deadline. One lost wake-up leaves a waiter
// asleep and the writer waiting for it: the test then hangs and ctest's
// timeout fails it. No clock decides the outcome.
TEST(WakeWord, NoWakeUpIsLostWhenEveryWriteIsTheLastOneAWaiterGets) {
  constexpr int kWaiters = 3;
  constexpr std::uint32_t kRounds = 20'000;
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> value{0};
  std::atomic<int> acks{0};
  std::atomic<std::uint64_t> sleeps{0};

  std::vector<std::thread> waiters;
  for (int w = 0; w < kWaiters; ++w) {
    waiters.emplace_back([&, w] {
      std::uint32_t last = 0;
      std::uint32_t spin = static_cast<std::uint32_t>(w);
      while (last < kRounds) {
        const std::uint32_t seen = MarkSleeper(word);
        // Between marking and re-reading, WaitUntilFree reads a slot. A
        // varying pause there widens the window in which a write must still
        // be seen, by the mark or by the re-read.
        spin = spin * 1103515245u + 12345u;
        for (std::uint32_t p = (spin >> 16) % 64; p > 0; --p) Pause();
        const std::uint32_t now = value.load(std::memory_order_acquire);
        if (now != last) {
          last = now;
          acks.fetch_add(1, std::memory_order_acq_rel);
          continue;
        }
        if (FutexWait(&word, seen, kNever) == FutexWaitResult::woken) {
          sleeps.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (std::uint32_t i = 1; i <= kRounds; ++i) {
    value.store(i, std::memory_order_release);
    if (BumpClearingMark(word)) FutexWakeAll(&word);  // As Table::Apply does.
    while (acks.load(std::memory_order_acquire) < static_cast<int>(i) * kWaiters) {
      std::this_thread::yield();
    }
  }
  for (auto& t : waiters) t.join();
  EXPECT_EQ(value.load(), kRounds);
  // Waiters did sleep and were woken: the test exercised the futex, not
  // only the checks before it.
  EXPECT_GT(sleeps.load(), 0u);
}

// A wait that ends without sleeping leaves no mark behind: the next write
// would otherwise make a FUTEX_WAKE syscall that wakes nobody. Nor does one
// that slept and was woken: the waking write consumed the mark.
// A timed wait is for a lease's expiry, and timer slack (50 us by default)
// would make every waiter that much late. The thread sleeps with 1 ns of
// slack and gets its own back afterwards.
TEST(WakeWord, ATimedWaitSleepsWithoutTimerSlackAndRestoresIt) {
  std::atomic<std::uint32_t> word{0};
  std::atomic<pid_t> tid{0};
  int slack_after = 0;
  std::thread waiter([&] {
    ASSERT_EQ(prctl(PR_SET_TIMERSLACK, 123456, 0, 0, 0), 0);
    tid.store(gettid());
    FutexWait(&word, 0, MonotonicNs() + std::int64_t{3600} * 1'000'000'000);
    slack_after = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  });
  while (tid.load() == 0) std::this_thread::yield();
  ASSERT_TRUE(testing::WaitUntilThreadSleepsInFutex(tid.load()));
  // Per thread, but only under /proc/TID, not /proc/self/task/TID.
  std::ifstream in("/proc/" + std::to_string(tid.load()) + "/timerslack_ns");
  std::int64_t slack_asleep = -1;
  in >> slack_asleep;
  BumpAndWakeAll(word);
  waiter.join();
  EXPECT_EQ(slack_asleep, 1);
  EXPECT_EQ(slack_after, 123456);
}

TEST(WakeWord, AWaitThatEndsLeavesNoMarkForTheNextWrite) {
  using namespace std::chrono_literals;
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("segment");
  auto store = testing::MustOpen(testing::TestOptions(path, /*fake_clock=*/false, 16));
  ASSERT_TRUE(store);
  Manager manager(store);
  std::error_code ec;
  auto claimer = manager.Claimer("ns", "model", ec);
  auto revoker = manager.Revoker("ns", "model", ec);
  ASSERT_TRUE(claimer && revoker);
  // Claimed, then revoked: the key keeps its slot, free.
  ASSERT_FALSE(claimer->Claim("lease", "holder", 1h));
  ASSERT_FALSE(revoker->Revoke("lease", "holder"));
  ASSERT_FALSE(claimer->WaitUntilExpired("lease"));
  testing::RawSegment raw(path);
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE(raw.MarkedWakeWords().empty()) << "a wait on a free lease marked its word";

  ASSERT_FALSE(claimer->Claim("lease", "holder", 1h));
  testing::BackgroundWait wait(*claimer, "lease");
  ASSERT_TRUE(wait.Started());
  EXPECT_EQ(raw.MarkedWakeWords().size(), 1u) << "a waiter about to sleep marks its word";
  ASSERT_FALSE(revoker->Revoke("lease", "holder"));
  ASSERT_TRUE(wait.Result());
  EXPECT_TRUE(raw.MarkedWakeWords().empty()) << "the woken waiter marked its word again";
}

}  // namespace
}  // namespace shmlease::internal

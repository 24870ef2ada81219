// ShmStore::WaitUntilLost: a holder's wait for the end of its own holding.
// It ends when the holding does (revoked, run out, claimed again), never when
// the holding is only extended. Threads in one process (the TSan run sees
// them); multiprocess_semantics_test has a waiter in another process.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stop_token>
#include <thread>

#include "helpers/crash_util.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::MustOpen;
using testing::ScopedSegmentName;
using testing::TestOptions;

const Key kKey{"ns", "model", "lease"};

std::uint64_t EpochOf(const ShmStore& store, const Key& key) {
  LeaseMap m;
  const Key keys[] = {key};
  EXPECT_FALSE(store.Leases(&m, keys));
  return m.empty() ? 0 : m.begin()->second.epoch;
}

// Whether the holding of `epoch` still holds the lease, asked without
// blocking: a wait whose stop is already requested returns wait_cancelled
// while the holding lasts and success once it has ended.
std::error_code LookWithoutWaiting(ShmStore& store, std::uint64_t epoch) {
  std::stop_source stopped;
  stopped.request_stop();
  return store.WaitUntilLost(kKey, epoch, stopped.get_token());
}

// WaitUntilLost in a thread of its own: Started() once the wait is in place,
// Finished() once it has returned, with what it returned in result().
class LossWaiter {
 public:
  LossWaiter(ShmStore& store, std::uint64_t epoch)
      : thread_([this, &store, epoch](std::stop_token stop) {
          result_ = store.WaitUntilLost(kKey, epoch, stop, [this] { started_.set_value(); });
          finished_.store(true, std::memory_order_release);
        }) {}
  bool Started() { return started_future_.wait_for(30s) == std::future_status::ready; }
  bool Finished() const { return finished_.load(std::memory_order_acquire); }
  // Joins the thread; then result() holds what the wait returned.
  void Join() { thread_.join(); }
  std::error_code result() const { return result_; }

 private:
  std::promise<void> started_;
  std::future<void> started_future_ = started_.get_future();
  std::atomic<bool> finished_{false};
  std::error_code result_;
  std::jthread thread_;  // Last: joined before the members it uses go away.
};

// An extension changes only the expiry and wakes nobody (a waiter sleeps
// until the old expiry, then looks again); a pin or an unpin rewrites the
// slot and wakes its waiters. Neither ends the holding, so neither may end
// the wait.
TEST(WaitUntilLost, OutlivesExtensionsAndOtherWritesAndEndsAtTheRevoke) {
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("segment");
  auto store = MustOpen(TestOptions(path, /*fake_clock=*/false, 16));
  ASSERT_TRUE(store);
  ASSERT_FALSE(store->ClaimLease(kKey, {"holder", 1h}));
  const std::uint64_t epoch = EpochOf(*store, kKey);
  testing::RawSegment raw(path);
  ASSERT_TRUE(raw.ok());

  LossWaiter waiter(*store, epoch);
  ASSERT_TRUE(waiter.Started());
  ASSERT_FALSE(store->ExtendLease(kKey, {"holder", 2h}));
  EXPECT_EQ(EpochOf(*store, kKey), epoch) << "an extension keeps the holding's epoch";
  EXPECT_EQ(LookWithoutWaiting(*store, epoch), ErrWaitCancelled);
  for (int i = 0; i < 3; ++i) {
    // Each write clears the waiter's mark and wakes it; it looks, finds its
    // holding, and marks the word again to sleep, unless it (wrongly) returned.
    ASSERT_FALSE(i % 2 == 0 ? store->PinLease(kKey, "entity") : store->UnpinLease(kKey, "entity"));
    while (raw.MarkedWakeWords().empty() && !waiter.Finished()) std::this_thread::yield();
    EXPECT_FALSE(waiter.Finished()) << "a write that kept the holding ended the wait";
  }

  ASSERT_FALSE(store->RevokeLease(kKey, "holder"));
  waiter.Join();
  EXPECT_FALSE(waiter.result());
}

class WaitUntilLostFakeClock : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MustOpen(TestOptions(seg_.name()));
    ASSERT_TRUE(store_);
  }
  ScopedSegmentName seg_;
  std::shared_ptr<ShmStore> store_;
};

TEST_F(WaitUntilLostFakeClock, EndsWhenTheLeaseRunsOut) {
  ASSERT_FALSE(store_->ClaimLease(kKey, {"holder", 10s}));
  LossWaiter waiter(*store_, EpochOf(*store_, kKey));
  ASSERT_TRUE(waiter.Started());
  ASSERT_FALSE(store_->AdvanceFakeClock(10s));
  waiter.Join();
  EXPECT_FALSE(waiter.result());
}

TEST_F(WaitUntilLostFakeClock, AnEarlierHoldingOfTheSameHolderHasEnded) {
  ASSERT_FALSE(store_->ClaimLease(kKey, {"holder", 10s}));
  const std::uint64_t first = EpochOf(*store_, kKey);
  ASSERT_FALSE(store_->RevokeLease(kKey, "holder"));
  ASSERT_FALSE(store_->ClaimLease(kKey, {"holder", 10s}));
  const std::uint64_t second = EpochOf(*store_, kKey);
  ASSERT_NE(first, second);
  EXPECT_FALSE(LookWithoutWaiting(*store_, first)) << "the first holding is over";
  EXPECT_EQ(LookWithoutWaiting(*store_, second), ErrWaitCancelled) << "the second still holds";
  EXPECT_FALSE(LookWithoutWaiting(*store_, 0)) << "epoch 0 never holds anything";
}

TEST_F(WaitUntilLostFakeClock, APinnedHoldingLastsPastItsExpiryUntilUnpinned) {
  ASSERT_FALSE(store_->ClaimLease(kKey, {"holder", 10s}));
  const std::uint64_t epoch = EpochOf(*store_, kKey);
  ASSERT_FALSE(store_->PinLease(kKey, "entity"));
  ASSERT_FALSE(store_->AdvanceFakeClock(1h));
  EXPECT_EQ(LookWithoutWaiting(*store_, epoch), ErrWaitCancelled);
  LossWaiter waiter(*store_, epoch);
  ASSERT_TRUE(waiter.Started());
  ASSERT_FALSE(store_->UnpinLease(kKey, "entity"));
  waiter.Join();
  EXPECT_FALSE(waiter.result());
}

TEST_F(WaitUntilLostFakeClock, EndsWhenAnotherHolderTakesTheLeaseOver) {
  ASSERT_FALSE(store_->ClaimLease(kKey, {"holder", 10s}));
  const std::uint64_t epoch = EpochOf(*store_, kKey);
  ASSERT_FALSE(store_->AdvanceFakeClock(10s));
  ASSERT_FALSE(store_->ClaimLease(kKey, {"other", 10s}));
  EXPECT_FALSE(LookWithoutWaiting(*store_, epoch));
}

TEST_F(WaitUntilLostFakeClock, AStopEndsTheWaitAndLeavesTheHoldingAlone) {
  ASSERT_FALSE(store_->ClaimLease(kKey, {"holder", 10s}));
  const std::uint64_t epoch = EpochOf(*store_, kKey);
  std::stop_source stop;
  std::promise<void> started;
  std::future<std::error_code> result = std::async(std::launch::async, [&] {
    return store_->WaitUntilLost(kKey, epoch, stop.get_token(), [&] { started.set_value(); });
  });
  ASSERT_EQ(started.get_future().wait_for(30s), std::future_status::ready);
  stop.request_stop();
  EXPECT_EQ(result.get(), ErrWaitCancelled);
  EXPECT_EQ(EpochOf(*store_, kKey), epoch);
}

TEST_F(WaitUntilLostFakeClock, InvalidNamesAreRefused) {
  EXPECT_EQ(store_->WaitUntilLost({"ns", "model", "a b"}, 1, {}), Errc::invalid_name);
  EXPECT_EQ(store_->WaitUntilLost({"ns", std::string(kMaxNameLength + 1, 'm'), "lease"}, 1, {}),
            Errc::name_too_long);
}

}  // namespace
}  // namespace shmlease

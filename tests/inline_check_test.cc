// Token::Check answers inline, in the caller's code, from the slot that a
// ShmStore armed the token's cache with (shmlease/detail/hot_line.h), and
// calls into the store only when that slot has moved on. These tests run on
// the real clock, where the inline path reads the coarse clock and, near the
// expiry, the precise one. The fake-clock semantics tests
// (semantics_manager_test.cc) take the same path with the segment's time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::MonotonicNowNs;
using testing::MustOpen;
using testing::ScopedSegmentName;
using testing::TestOptions;

const Key kKey{"ns", "model", "lease"};

// A Store that passes everything a Token and a Holding use on to a ShmStore,
// cache included, counting the checks that reach it.
class CountingStore final : public Store {
 public:
  explicit CountingStore(std::shared_ptr<ShmStore> s) : s_(std::move(s)) {}
  std::error_code ClaimLease(const Key& k, const Request& r, std::stop_token st) override {
    return s_->ClaimLease(k, r, st);
  }
  std::error_code ExtendLease(const Key& k, const Request& r, std::stop_token st) override {
    return s_->ExtendLease(k, r, st);
  }
  std::error_code RevokeLease(const Key& k, std::string_view h, std::stop_token st) override {
    return s_->RevokeLease(k, h, st);
  }
  std::error_code Leases(LeaseMap* out, std::span<const Key> keys) const override {
    return s_->Leases(out, keys);
  }
  std::error_code LeaseGroup(std::string_view ns, std::string_view model,
                             LeaseMap* out) const override {
    return s_->LeaseGroup(ns, model, out);
  }
  std::error_code PinLease(const Key& k, std::string_view e, std::stop_token st) override {
    return s_->PinLease(k, e, st);
  }
  std::error_code UnpinLease(const Key& k, std::string_view e, std::stop_token st) override {
    return s_->UnpinLease(k, e, st);
  }
  std::error_code Pinned(PinMap* out) const override { return s_->Pinned(out); }
  std::error_code ClaimOrExtendCached(const KeyView& key, std::string_view holder,
                                      std::chrono::nanoseconds duration, TokenCache* cache,
                                      std::stop_token stop) override {
    return s_->ClaimOrExtendCached(key, holder, duration, cache, stop);
  }
  std::error_code CheckLease(const Key& key, std::string_view holder,
                             TokenCache* cache) const override {
    checks.fetch_add(1, std::memory_order_relaxed);
    return s_->CheckLease(key, holder, cache);
  }

  mutable std::atomic<int> checks{0};

 private:
  std::shared_ptr<ShmStore> s_;
};

std::int64_t ExpiryOf(const ShmStore& store, const Key& key) {
  LeaseMap leases;
  EXPECT_FALSE(store.Leases(&leases, {&key, 1}));
  auto it = leases.find(key);
  return it == leases.end() ? 0 : it->second.expiry.time_since_epoch().count();
}

TEST(InlineCheck, OnceArmedATokenAnswersWithoutCallingItsStoreUntilTheHoldingChanges) {
  ScopedSegmentName seg;
  auto shm = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(shm);
  auto counting = std::make_shared<CountingStore>(shm);
  const Token mine(counting, kKey, "me");
  const Token theirs(counting, kKey, "them");
  ASSERT_FALSE(shm->ClaimLease(kKey, Request{"me", 1h}));

  // The first checks find the slot through the store; later ones do not.
  EXPECT_FALSE(mine.Check());
  EXPECT_EQ(theirs.Check(), Errc::not_held);
  EXPECT_EQ(counting->checks.load(), 2);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(mine.Check());
    ASSERT_EQ(theirs.Check(), Errc::not_held);
  }
  EXPECT_EQ(counting->checks.load(), 2) << "a held lease's checks went through the store";

  // An extension keeps the holding: still no call.
  ASSERT_FALSE(shm->ExtendLease(kKey, Request{"me", 2h}));
  EXPECT_FALSE(mine.Check());
  EXPECT_EQ(counting->checks.load(), 2);

  // A revoke ends it: the inline read sees that and asks the store.
  ASSERT_FALSE(shm->RevokeLease(kKey, "me"));
  EXPECT_EQ(mine.Check(), Errc::not_held);
  EXPECT_EQ(theirs.Check(), Errc::not_held);
  EXPECT_EQ(counting->checks.load(), 4);

  // The other holder takes the lease: both tokens learn it and re-arm.
  ASSERT_FALSE(shm->ClaimLease(kKey, Request{"them", 1h}));
  EXPECT_EQ(mine.Check(), Errc::not_held);
  EXPECT_FALSE(theirs.Check());
  const int after_takeover = counting->checks.load();
  EXPECT_EQ(mine.Check(), Errc::not_held);
  EXPECT_FALSE(theirs.Check());
  EXPECT_EQ(counting->checks.load(), after_takeover);

  // A new holding by the same holder is a new epoch: never mistaken for the old one.
  ASSERT_FALSE(shm->RevokeLease(kKey, "them"));
  ASSERT_FALSE(shm->ClaimLease(kKey, Request{"them", 1h}));
  EXPECT_FALSE(theirs.Check());
  EXPECT_EQ(counting->checks.load(), after_takeover + 1);
}

TEST(InlineCheck, AHoldingsClaimArmsItsChecks) {
  ScopedSegmentName seg;
  auto shm = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(shm);
  auto counting = std::make_shared<CountingStore>(shm);
  Manager manager(counting);
  std::error_code ec;
  auto claimer = manager.Claimer("ns", "model", ec);
  ASSERT_FALSE(ec);
  Holding holding = claimer->Holding("lease", "me");
  ASSERT_FALSE(holding.Claim(1h));
  EXPECT_FALSE(holding.Check());
  EXPECT_EQ(counting->checks.load(), 0) << "the claim did not arm the check";
}

TEST(InlineCheck, NearItsExpiryALeaseIsJudgedByThePreciseClock) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  const Token token(store, kKey, "me");
  // 50 ms is inside the coarse clock's margin (at least 100 ms), so only the
  // precise clock can tell. A round counts only when the check ran before the
  // expiry by the test's own clock: a stalled machine proves nothing.
  constexpr auto kShort = 50ms;
  int judged_held = 0;
  for (int round = 0; round < 20 && judged_held < 3; ++round) {
    ASSERT_FALSE(store->ClaimLease(kKey, Request{"me", kShort}));
    const std::int64_t expiry = ExpiryOf(*store, kKey);
    const std::error_code first = token.Check();  // Finds the new holding, arms the cache.
    const std::error_code held = token.Check();   // The inline path's answer.
    if (MonotonicNowNs() < expiry) {
      EXPECT_FALSE(first) << "round " << round << ": " << first.message();
      EXPECT_FALSE(held) << "round " << round << ": " << held.message();
      ++judged_held;
    }
    // Then the lease runs out with nobody writing; the library's wait says when.
    ASSERT_FALSE(store->WaitUntilFree(kKey, {}, {}));
    EXPECT_EQ(token.Check(), Errc::not_held) << "round " << round;
  }
  if (judged_held == 0) GTEST_SKIP() << "every round stalled past a 50 ms lease";
}

TEST(InlineCheck, APinnedLeaseChecksHeldPastItsExpiryOnTheRealClock) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  const Token token(store, kKey, "me");
  ASSERT_FALSE(store->ClaimLease(kKey, Request{"me", 1ms}));
  ASSERT_FALSE(store->PinLease(kKey, "machine-0"));
  const std::int64_t expiry = ExpiryOf(*store, kKey);
  while (MonotonicNowNs() <= expiry) std::this_thread::yield();
  EXPECT_FALSE(token.Check());
  EXPECT_FALSE(token.Check());  // Armed now: the inline path's answer.
  ASSERT_FALSE(store->UnpinLease(kKey, "machine-0"));
  EXPECT_EQ(token.Check(), Errc::not_held);
}

}  // namespace
}  // namespace shmlease

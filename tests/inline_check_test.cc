// Token::Check answers inline, in the caller's code, from the slot that a
// ShmStore armed the token's cache with (shmlease/detail/hot_line.h), and
// calls into the store only when that slot has moved on. These tests run on
// the real clock, where the inline path reads the coarse clock and, near the
// expiry, the precise one. The fake-clock semantics tests
// (semantics_manager_test.cc) take the same path with the segment's time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "../lib/layout.h"
#include "forwarding_store.h"
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

// A Store that passes on, besides the eight, what a Token and a Holding use,
// cache included, and counts the checks that reach it.
class WrappingStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::error_code ClaimOrExtendCached(const KeyView& key, std::string_view holder,
                                      std::chrono::nanoseconds duration, TokenCache* cache,
                                      std::stop_token stop) override {
    return shm().ClaimOrExtendCached(key, holder, duration, cache, stop);
  }
  std::error_code CheckLease(const Key& key, std::string_view holder,
                             TokenCache* cache) const override {
    checks.fetch_add(1, std::memory_order_relaxed);
    return shm().CheckLease(key, holder, cache);
  }

  mutable std::atomic<int> checks{0};
};

// A Token and a Holding whose cache a test may look at.
class SeenToken : public Token {
 public:
  using Token::Token;
  const TokenCache& cache() const { return cache_; }
};
class SeenHolding : public Holding {
 public:
  using Holding::Holding;
  const TokenCache& cache() const { return cache_; }
};

// `store` armed the cache: it was asked, and lent its slot and context.
::testing::AssertionResult ArmedBy(const TokenCache& cache, const Store* store) {
  if (cache.asked_by != store) return ::testing::AssertionFailure() << "another store was asked";
  if (cache.line == nullptr || cache.context == nullptr) {
    return ::testing::AssertionFailure() << "no slot or context";
  }
  return ::testing::AssertionSuccess();
}

std::int64_t ExpiryOf(const ShmStore& store, const Key& key) {
  LeaseMap leases;
  EXPECT_FALSE(store.Leases(&leases, {&key, 1}));
  auto it = leases.find(key);
  return it == leases.end() ? 0 : it->second.expiry.time_since_epoch().count();
}

TEST(InlineCheck, AShmStoreArmsItsOwnTokensChecksAndHoldingsClaims) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  const SeenToken mine(store, kKey, "me");
  const SeenToken theirs(store, kKey, "them");
  EXPECT_EQ(mine.Check(), Errc::not_held);  // Nothing to remember yet.
  EXPECT_EQ(mine.cache().line, nullptr);
  ASSERT_FALSE(store->ClaimLease(kKey, Request{"me", 1h}));
  EXPECT_FALSE(mine.Check());
  EXPECT_TRUE(ArmedBy(mine.cache(), store.get()));
  EXPECT_EQ(theirs.Check(), Errc::not_held);  // Another holder's holding is remembered too.
  EXPECT_TRUE(ArmedBy(theirs.cache(), store.get()));
  EXPECT_EQ(mine.cache().line, theirs.cache().line);

  SeenHolding holding(store, Key{"ns", "model", "other-lease"}, "me");
  ASSERT_FALSE(holding.Claim(1h));
  EXPECT_TRUE(ArmedBy(holding.cache(), store.get())) << "the claim did not arm the check";
  EXPECT_FALSE(holding.Check());
}

TEST(InlineCheck, OnlyACacheAskingThisStoreInItsOwnLayoutIsArmed) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  ASSERT_FALSE(store->ClaimLease(kKey, Request{"me", 1h}));
  TokenCache asked;
  asked.asked_by = store.get();
  ASSERT_FALSE(store->CheckLease(kKey, "me", &asked));
  EXPECT_TRUE(ArmedBy(asked, store.get()));
  TokenCache
      unasked;  // A caller that is not a Token of this store (a Claimer's memory, a wrapper).
  ASSERT_FALSE(store->CheckLease(kKey, "me", &unasked));
  EXPECT_EQ(unasked.line, nullptr);
  TokenCache other_layout;  // Code compiled against another version's headers.
  other_layout.asked_by = store.get();
  other_layout.layout = detail::kHotLineLayout + 1;
  ASSERT_FALSE(store->CheckLease(kKey, "me", &other_layout));
  EXPECT_EQ(other_layout.line, nullptr);
  EXPECT_EQ(other_layout.words[1], asked.words[1]) << "the slow path's memory still works";
}

TEST(InlineCheck, AMovedFromTokenKeepsNoSlot) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  ASSERT_FALSE(store->ClaimLease(kKey, Request{"me", 1h}));
  SeenToken first(store, kKey, "me");
  ASSERT_FALSE(first.Check());
  SeenToken second(std::move(first));
  EXPECT_TRUE(ArmedBy(second.cache(), store.get()));
  EXPECT_FALSE(second.Check());
  EXPECT_EQ(first.cache().line, nullptr);  // NOLINT(bugprone-use-after-move): the point.
  SeenToken third(store, kKey, "me");
  third = std::move(second);
  EXPECT_FALSE(third.Check());
  EXPECT_EQ(second.cache().line, nullptr);  // NOLINT(bugprone-use-after-move)
}

TEST(InlineCheck, AWrappingStoreIsCalledForEveryCheck) {
  ScopedSegmentName seg;
  auto shm = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(shm);
  auto wrapper = std::make_shared<WrappingStore>(shm);
  const Token mine(wrapper, kKey, "me");
  const Token theirs(wrapper, kKey, "them");
  ASSERT_FALSE(shm->ClaimLease(kKey, Request{"me", 1h}));
  // The ShmStore behind it arms the caches, but a token reads its own
  // store's answer: a wrapper's rules (and its choice of store) stay in force.
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(mine.Check());
    ASSERT_EQ(theirs.Check(), Errc::not_held);
  }
  EXPECT_EQ(wrapper->checks.load(), 20);
  ASSERT_FALSE(shm->RevokeLease(kKey, "me"));
  ASSERT_FALSE(shm->ClaimLease(kKey, Request{"them", 1h}));
  EXPECT_EQ(mine.Check(), Errc::not_held);
  EXPECT_FALSE(theirs.Check());
  EXPECT_EQ(wrapper->checks.load(), 22);
}

TEST(InlineCheck, ATokenFollowsItsWrapperToAnotherStoreWhenTheOldOneIsGone) {
  ScopedSegmentName first_name("-first");
  ScopedSegmentName second_name("-second");
  auto first = MustOpen(TestOptions(first_name.name(), /*fake_clock=*/false));
  auto second = MustOpen(TestOptions(second_name.name(), /*fake_clock=*/false));
  ASSERT_TRUE(first && second);
  ASSERT_FALSE(first->ClaimLease(kKey, Request{"me", 1h}));
  auto wrapper = std::make_shared<WrappingStore>(first);
  const Token mine(wrapper, kKey, "me");
  ASSERT_FALSE(mine.Check());  // The cache now names a slot of the first segment.
  wrapper->Swap(second);
  first.reset();  // Unmapped: the token must not read it (ASan would see it).
  EXPECT_EQ(mine.Check(), Errc::not_held);
  ASSERT_FALSE(second->ClaimLease(kKey, Request{"me", 1h}));
  EXPECT_FALSE(mine.Check());
}

// The hot line of the slot holding `epoch`, as a byte offset in the segment
// file, or 0 if there is none.
std::size_t HotLineOf(const std::string& file, std::uint64_t epoch) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t off = internal::kHeaderBytes; off + sizeof(internal::SlotHot) <= bytes.size();
       off += sizeof(internal::SlotHot)) {
    std::uint32_t state;
    std::uint64_t e;
    std::memcpy(&state, bytes.data() + off + offsetof(internal::SlotHot, state), sizeof state);
    std::memcpy(&e, bytes.data() + off + offsetof(internal::SlotHot, epoch), sizeof e);
    if (state == (internal::kOccupied | internal::kHeld) && e == epoch) return off;
  }
  return 0;
}

TEST(InlineCheck, AnArmedTokenLeavesATornSlotToTheLibrary) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  ASSERT_FALSE(store->ClaimLease(kKey, Request{"me", 1h}));
  const SeenToken token(store, kKey, "me");
  ASSERT_FALSE(token.Check());
  ASSERT_TRUE(ArmedBy(token.cache(), store.get()));
  LeaseMap leases;
  ASSERT_FALSE(store->Leases(&leases, {&kKey, 1}));
  const std::string file = "/dev/shm/" + seg.name();
  const std::size_t line = HotLineOf(file, leases.at(kKey).epoch);
  ASSERT_NE(line, 0u);
  // A writer stopped inside the slot leaves its counter odd; here through the
  // file, as a process that is not a writer would see it.
  const int fd = open(file.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::uint32_t seq;
  ASSERT_EQ(pread(fd, &seq, sizeof seq, line + offsetof(internal::SlotHot, seq)), 4);
  seq |= 1;
  ASSERT_EQ(pwrite(fd, &seq, sizeof seq, line + offsetof(internal::SlotHot, seq)), 4);
  // The inline read cannot use the slot; the library, which finds no
  // journal that explains it, takes it for damage: not held, as a fresh
  // token says (a holder must not act on a lease it cannot read).
  EXPECT_EQ(token.Check(), Errc::not_held);
  EXPECT_EQ(Token(store, kKey, "me").Check(), Errc::not_held);
  close(fd);
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
  // The pin must land while the lease is held (a pin does not revive a
  // holding that ran out): on a loaded machine a short lease may be over
  // first, and then the next try gets a longer one.
  bool pinned_in_time = false;
  for (auto d = std::chrono::nanoseconds(1ms); !pinned_in_time && d <= 10s; d *= 4) {
    ASSERT_FALSE(store->ClaimLease(kKey, Request{"me", d}));
    ASSERT_FALSE(store->PinLease(kKey, "machine-0"));
    LeaseMap leases;
    ASSERT_FALSE(store->Leases(&leases, {&kKey, 1}));
    pinned_in_time = !leases.empty() && leases.begin()->second.holder == "me";
    if (!pinned_in_time) ASSERT_FALSE(store->UnpinLease(kKey, "machine-0"));
  }
  ASSERT_TRUE(pinned_in_time);
  const std::int64_t expiry = ExpiryOf(*store, kKey);
  while (MonotonicNowNs() <= expiry) std::this_thread::yield();
  EXPECT_FALSE(token.Check());
  EXPECT_FALSE(token.Check());  // Armed by the first: the inline path's answer.
  ASSERT_FALSE(store->UnpinLease(kKey, "machine-0"));
  EXPECT_EQ(token.Check(), Errc::not_held);
}

}  // namespace
}  // namespace shmlease

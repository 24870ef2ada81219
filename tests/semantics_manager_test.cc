// Conformance tests for docs/semantics.md at the Manager level: Claimer, Checker
// and Token, Revoker, Pinner, Reader bound to one namespace and model. Each
// test names the rule it checks. Time is the segment's fake clock unless a
// rule is about the real one; waits run on a thread and report back through
// futures, so no test sleeps to let time pass.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::BackgroundWait;
using testing::DumpState;
using testing::FindPromiseOverlaps;
using testing::MonotonicNowNs;
using testing::MustOpen;
using testing::PromiseRecord;
using testing::RaceForLease;
using testing::ScopedSegmentName;
using testing::TestOptions;

class ManagerSemantics : public ::testing::Test {
 protected:
  void SetUp() override { Open(TestOptions(seg_.name())); }

  void Open(const ShmStoreOptions& options) {
    store_ = MustOpen(options);
    ASSERT_TRUE(store_);
    manager_ = std::make_unique<Manager>(store_);
    std::error_code ec;
    claimer_ = manager_->Claimer("ns", "model", ec);
    ASSERT_FALSE(ec);
    checker_ = manager_->Checker("ns", "model", ec);
    ASSERT_FALSE(ec);
    revoker_ = manager_->Revoker("ns", "model", ec);
    ASSERT_FALSE(ec);
    pinner_ = manager_->Pinner("ns", "model", ec);
    ASSERT_FALSE(ec);
    reader_ = manager_->Reader("ns", "model", ec);
    ASSERT_FALSE(ec);
  }

  std::optional<Info> InfoOf(const std::string& lease) {
    LeaseMap m;
    const Key keys[] = {{"ns", "model", lease}};
    EXPECT_FALSE(store_->Leases(&m, keys));
    if (m.empty()) return std::nullopt;
    return m.begin()->second;
  }
  std::map<std::string, std::string> Holders() {
    std::map<std::string, std::string> out;
    EXPECT_FALSE(reader_->Leases(&out));
    return out;
  }
  void Advance(std::chrono::nanoseconds d) { ASSERT_FALSE(store_->AdvanceFakeClock(d)); }

  ScopedSegmentName seg_;
  std::shared_ptr<ShmStore> store_;
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<Claimer> claimer_;
  std::unique_ptr<Checker> checker_;
  std::unique_ptr<Revoker> revoker_;
  std::unique_ptr<Pinner> pinner_;
  std::unique_ptr<Reader> reader_;
};

// ---------------------------------------------------------------- S1, S2, S3, S12: input

TEST_F(ManagerSemantics, S1_ManagerRefusesInvalidNamespaceOrModel) {
  for (const std::string& bad :
       {std::string(""), std::string("a b"), std::string("a.b"), std::string("a#b"),
        std::string("a$b"), std::string("a\tb"), std::string("a\r\n")}) {
    for (const auto& [ns, model] : {std::pair<std::string, std::string>{bad, "model"},
                                    std::pair<std::string, std::string>{"ns", bad}}) {
      std::error_code ec;
      EXPECT_EQ(manager_->Checker(ns, model, ec), nullptr);
      EXPECT_EQ(ec, Errc::invalid_name);
      ec.clear();
      EXPECT_EQ(manager_->Claimer(ns, model, ec), nullptr);
      EXPECT_EQ(ec, Errc::invalid_name);
      ec.clear();
      EXPECT_EQ(manager_->Revoker(ns, model, ec), nullptr);
      EXPECT_EQ(ec, Errc::invalid_name);
      ec.clear();
      EXPECT_EQ(manager_->Pinner(ns, model, ec), nullptr);
      EXPECT_EQ(ec, Errc::invalid_name);
      ec.clear();
      EXPECT_EQ(manager_->Reader(ns, model, ec), nullptr);
      EXPECT_EQ(ec, Errc::invalid_name);
    }
  }
  // The seed's namespaces, '/', '-', '_', ':' and digits are all fine.
  std::error_code ec;
  EXPECT_NE(manager_->Claimer(kApplicationLeadershipNamespace, "6f4b9c1e-2d3a:0/x_y", ec), nullptr);
  EXPECT_FALSE(ec);
  EXPECT_NE(manager_->Claimer(kSingularControllerNamespace, "local", ec), nullptr);
  EXPECT_FALSE(ec);
}

TEST_F(ManagerSemantics, S1_ManagerRefusesInvalidLeaseHolderAndEntityNames) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  ASSERT_FALSE(pinner_->Pin("lease", "entity"));
  const std::string before = DumpState(*store_);
  for (const std::string& bad : {std::string(""), std::string("a b"), std::string("a.b"),
                                 std::string("a#b"), std::string("a$b"), std::string("a\nb")}) {
    SCOPED_TRACE("'" + bad + "'");
    EXPECT_EQ(claimer_->Claim(bad, "holder", 10s), Errc::invalid_name);
    EXPECT_EQ(claimer_->Claim("lease", bad, 10s), Errc::invalid_name);
    EXPECT_EQ(claimer_->WaitUntilExpired(bad), Errc::invalid_name);
    EXPECT_EQ(revoker_->Revoke(bad, "holder"), Errc::invalid_name);
    EXPECT_EQ(revoker_->Revoke("lease", bad), Errc::invalid_name);
    EXPECT_EQ(pinner_->Pin(bad, "entity"), Errc::invalid_name);
    EXPECT_EQ(pinner_->Pin("lease", bad), Errc::invalid_name);
    EXPECT_EQ(pinner_->Unpin(bad, "entity"), Errc::invalid_name);
    EXPECT_EQ(pinner_->Unpin("lease", bad), Errc::invalid_name);
    // A Token is always made; its Check says no store could hold such a name.
    EXPECT_EQ(checker_->Token(bad, "holder").Check(), Errc::not_held);
    EXPECT_EQ(checker_->Token("lease", bad).Check(), Errc::not_held);
  }
  EXPECT_EQ(DumpState(*store_), before);
}

TEST_F(ManagerSemantics, S2_ManagerAccepts64ByteNamesAndRefuses65WithNameTooLong) {
  const std::string n64(64, 'a'), n65(65, 'a');
  std::error_code ec;
  auto claimer = manager_->Claimer(n64, n64, ec);
  ASSERT_FALSE(ec);
  auto checker = manager_->Checker(n64, n64, ec);
  ASSERT_FALSE(ec);
  auto pinner = manager_->Pinner(n64, n64, ec);
  ASSERT_FALSE(ec);
  auto reader = manager_->Reader(n64, n64, ec);
  ASSERT_FALSE(ec);
  auto revoker = manager_->Revoker(n64, n64, ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(claimer->Claim(n64, n64, 10s));
  EXPECT_FALSE(checker->Token(n64, n64).Check());
  ASSERT_FALSE(pinner->Pin(n64, n64));
  std::map<std::string, std::vector<std::string>> pins;
  ASSERT_FALSE(pinner->Pinned(&pins));
  EXPECT_EQ(pins, (std::map<std::string, std::vector<std::string>>{{n64, {n64}}}));
  std::map<std::string, std::string> holders;
  ASSERT_FALSE(reader->Leases(&holders));
  EXPECT_EQ(holders, (std::map<std::string, std::string>{{n64, n64}}));

  const std::string before = DumpState(*store_);
  for (auto make : {+[](const Manager&m, std::error_code&e) {
                      return m.Claimer(std::string(65, 'a'), "m", e) != nullptr;
                    },
                    +[](const Manager&m, std::error_code&e) {
                      return m.Checker("n", std::string(65, 'a'), e) != nullptr;
                    },
                    +[](const Manager&m, std::error_code&e) {
                      return m.Reader(std::string(65, 'a'), "m", e) != nullptr;
                    }}) {
    std::error_code e;
    EXPECT_FALSE(make(*manager_, e));
    EXPECT_EQ(e, Errc::name_too_long);
  }
  EXPECT_EQ(claimer->Claim(n65, n64, 10s), Errc::name_too_long);
  EXPECT_EQ(claimer->Claim(n64, n65, 10s), Errc::name_too_long);  // Not truncated onto n64.
  EXPECT_EQ(revoker->Revoke(n64, n65), Errc::name_too_long);
  EXPECT_EQ(pinner->Pin(n64, n65), Errc::name_too_long);
  EXPECT_EQ(pinner->Unpin(n64, n65), Errc::name_too_long);
  EXPECT_EQ(pinner->Unpin(n65, n64), Errc::name_too_long);
  EXPECT_EQ(checker->Token(n64, n65).Check(), Errc::not_held);
  EXPECT_EQ(claimer->WaitUntilExpired(n65), Errc::name_too_long);
  EXPECT_EQ(DumpState(*store_), before);
}

TEST_F(ManagerSemantics, S3_ClaimWithNonPositiveDurationIsRefused) {
  EXPECT_EQ(claimer_->Claim("lease", "holder", 0s), Errc::invalid_duration);
  EXPECT_EQ(claimer_->Claim("lease", "holder", -1ns), Errc::invalid_duration);
  EXPECT_FALSE(InfoOf("lease"));
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  const std::string before = DumpState(*store_);
  EXPECT_EQ(claimer_->Claim("lease", "holder", 0s), Errc::invalid_duration);
  EXPECT_EQ(claimer_->Claim("lease", "other", -5s), Errc::invalid_duration);  // Not claim denied.
  EXPECT_EQ(DumpState(*store_), before);
}

TEST_F(ManagerSemantics, S12_InvalidArgumentsThroughTheManagerChangeNothing) {
  ASSERT_FALSE(claimer_->Claim("held", "holder", 10s));
  ASSERT_FALSE(pinner_->Pin("held", "entity"));
  ASSERT_FALSE(pinner_->Pin("free", "entity"));
  const std::string before = DumpState(*store_);
  const std::string n65(65, 'h');
  for (const std::string& bad : {std::string(""), std::string("h olde r"), n65}) {
    for (std::error_code ec :
         {claimer_->Claim("held", bad, 10s), claimer_->Claim(bad, "holder", 10s),
          revoker_->Revoke("held", bad), revoker_->Revoke(bad, "holder"), pinner_->Pin("held", bad),
          pinner_->Unpin("held", bad), pinner_->Unpin(bad, "entity")}) {
      EXPECT_TRUE(ec == Errc::invalid_name || ec == Errc::name_too_long) << ec.message();
    }
  }
  EXPECT_EQ(claimer_->Claim("held", "holder", 0s), Errc::invalid_duration);
  EXPECT_EQ(DumpState(*store_), before);
}

// ---------------------------------------------------------------- S13-S16: Claim

TEST_F(ManagerSemantics, S13_ClaimOfFreeLeaseHoldsUntilAtLeastT0PlusDuration) {
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  EXPECT_EQ(InfoOf("lease")->expiry, t0 + 10s);
  const Token token = checker_->Token("lease", "holder");
  Advance(10s - 1ns);
  EXPECT_FALSE(token.Check());
  EXPECT_EQ(claimer_->Claim("lease", "other", 10s), ErrClaimDenied);
  Advance(1ns);
  EXPECT_EQ(token.Check(), ErrNotHeld);
  EXPECT_FALSE(claimer_->Claim("lease", "other", 10s));
}

TEST_F(ManagerSemantics, S14_ClaimByTheHolderExtendsAndNeverShortens) {
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  const std::uint64_t epoch = InfoOf("lease")->epoch;
  Advance(3s);
  EXPECT_FALSE(claimer_->Claim("lease", "holder", 20s));
  EXPECT_EQ(InfoOf("lease")->expiry, t0 + 23s);
  EXPECT_FALSE(claimer_->Claim("lease", "holder", 1s));
  EXPECT_EQ(InfoOf("lease")->expiry, t0 + 23s);
  EXPECT_EQ(InfoOf("lease")->epoch, epoch);
  Advance(20s - 1ns);
  EXPECT_FALSE(checker_->Token("lease", "holder").Check());
  Advance(1ns);
  EXPECT_EQ(checker_->Token("lease", "holder").Check(), ErrNotHeld);
}

TEST_F(ManagerSemantics, S15_ClaimByOtherHolderDeniedAndLeaseUnchanged) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  const std::optional<Info> info = InfoOf("lease");
  const std::string before = DumpState(*store_);
  EXPECT_EQ(claimer_->Claim("lease", "other", 10s), ErrClaimDenied);
  EXPECT_TRUE(IsClaimDenied(claimer_->Claim("lease", "other", 1h)));
  EXPECT_EQ(InfoOf("lease"), info);
  EXPECT_EQ(DumpState(*store_), before);
  // The denied caller does not hold the lease.
  EXPECT_EQ(checker_->Token("lease", "other").Check(), ErrNotHeld);
  EXPECT_EQ(Holders(), (std::map<std::string, std::string>{{"lease", "holder"}}));
  // Even when the holder's time has nearly run out.
  Advance(10s - 1ns);
  EXPECT_EQ(claimer_->Claim("lease", "other", 10s), ErrClaimDenied);
  EXPECT_EQ(InfoOf("lease"), info);
}

TEST_F(ManagerSemantics, S16_AfterExpiryAnyoneClaimsAndTheNewHolderGetsALargerEpoch) {
  ASSERT_FALSE(claimer_->Claim("lease", "first", 10s));
  const std::uint64_t e1 = InfoOf("lease")->epoch;
  Advance(10s);
  ASSERT_FALSE(claimer_->Claim("lease", "second", 10s));
  const std::uint64_t e2 = InfoOf("lease")->epoch;
  EXPECT_GT(e2, e1);
  Advance(10s);
  ASSERT_FALSE(claimer_->Claim("lease", "second", 10s));  // Same holder, after expiry: new holding.
  const std::uint64_t e3 = InfoOf("lease")->epoch;
  EXPECT_GT(e3, e2);
  Advance(10s);
  ASSERT_FALSE(claimer_->Claim("lease", "first", 10s));
  EXPECT_GT(InfoOf("lease")->epoch, e3);
}

TEST_F(ManagerSemantics, S16_AnExtensionNeverChangesTheEpoch) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  const std::uint64_t epoch = InfoOf("lease")->epoch;
  for (int i = 0; i < 10; ++i) {
    Advance(9s);
    ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
    EXPECT_EQ(InfoOf("lease")->epoch, epoch);
    ASSERT_FALSE(claimer_->Claim("other-lease", "holder", 10s));  // Epochs move elsewhere.
  }
}

// ---------------------------------------------------------------- S17: Token

TEST_F(ManagerSemantics, S17_TokenCheckSucceedsExactlyWhileTheHolderHolds) {
  const Token mine = checker_->Token("lease", "holder");
  const Token theirs = checker_->Token("lease", "other");
  const Token elsewhere = checker_->Token("lease2", "holder");
  EXPECT_EQ(mine.Check(), ErrNotHeld);  // Made before the claim...
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  EXPECT_FALSE(mine.Check());  // ...answers after it.
  EXPECT_FALSE(mine.Check());
  EXPECT_EQ(theirs.Check(), ErrNotHeld);
  EXPECT_EQ(elsewhere.Check(), ErrNotHeld);
  Advance(10s);
  EXPECT_EQ(mine.Check(), ErrNotHeld);  // Expired.
  ASSERT_FALSE(claimer_->Claim("lease", "other", 10s));
  EXPECT_EQ(mine.Check(), ErrNotHeld);
  EXPECT_FALSE(theirs.Check());
  ASSERT_FALSE(revoker_->Revoke("lease", "other"));
  EXPECT_EQ(theirs.Check(), ErrNotHeld);  // Revoked.
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  EXPECT_FALSE(mine.Check());  // Held again, by a new holding.
  EXPECT_TRUE(IsNotHeld(theirs.Check()));
  // A copy answers the same, independently.
  const Token copy = mine;
  EXPECT_FALSE(copy.Check());
}

TEST_F(ManagerSemantics, S17_TokenOfAPinnedLeaseChecksHeldPastExpiry) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  const Token token = checker_->Token("lease", "holder");
  ASSERT_FALSE(token.Check());
  ASSERT_FALSE(pinner_->Pin("lease", "entity"));
  Advance(1h);
  EXPECT_FALSE(token.Check());
  EXPECT_FALSE(checker_->Token("lease", "holder").Check());  // A fresh token, too.
  ASSERT_FALSE(pinner_->Unpin("lease", "entity"));
  EXPECT_EQ(token.Check(), ErrNotHeld);
}

TEST_F(ManagerSemantics, S17_TokenIsNotFooledWhenItsSlotIsReusedByAnotherLease) {
  // One slot's worth of capacity: an expired lease's slot goes to the next key.
  ScopedSegmentName seg("-tiny");
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/true, /*capacity=*/1));
  ASSERT_TRUE(store);
  Manager manager(store);
  std::error_code ec;
  auto claimer = manager.Claimer("ns", "model", ec);
  auto checker = manager.Checker("ns", "model", ec);
  ASSERT_FALSE(ec);
  const Token token = checker->Token("first", "holder");
  ASSERT_FALSE(claimer->Claim("first", "holder", 10s));
  ASSERT_FALSE(token.Check());  // Caches the slot.
  EXPECT_EQ(claimer->Claim("second", "holder", 10s), Errc::table_full);
  ASSERT_FALSE(store->AdvanceFakeClock(10s));
  ASSERT_FALSE(claimer->Claim("second", "holder", 10s));  // Same holder name, same slot.
  EXPECT_EQ(token.Check(), ErrNotHeld);
  EXPECT_FALSE(checker->Token("second", "holder").Check());
  ASSERT_FALSE(store->AdvanceFakeClock(10s));
  ASSERT_FALSE(claimer->Claim("first", "holder", 10s));
  EXPECT_FALSE(token.Check());
}

TEST_F(ManagerSemantics, S17_ThreadsCheckingWhileTheLeaseChangesHandsSeeOnlyTheTruth) {
  // The main thread alternates claim and revoke. `phase` is odd while a change
  // is in flight and even when settled; a check bracketed by two reads of the
  // same even phase saw that settled state and must report it exactly.
  std::atomic<int> phase{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> done{false};
  std::atomic<long> settled_checks{0};
  constexpr int kRounds = 200;
  const Token prototype = checker_->Token("lease", "holder");
  std::vector<std::jthread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, token = prototype] {
      while (!done.load(std::memory_order_acquire)) {
        const int before = phase.load(std::memory_order_acquire);
        const std::error_code ec = token.Check();
        const int after = phase.load(std::memory_order_acquire);
        if (before != after || before % 2 != 0) continue;
        settled_checks.fetch_add(1, std::memory_order_relaxed);
        const bool should_hold = (before / 2) % 2 == 1;
        if (should_hold ? static_cast<bool>(ec) : ec != Errc::not_held) failed = true;
      }
    });
  }
  for (int round = 0; round < kRounds && !failed; ++round) {
    phase.fetch_add(1, std::memory_order_acq_rel);  // Changing.
    const std::error_code ec = round % 2 == 0 ? claimer_->Claim("lease", "holder", 1h)
                                              : revoker_->Revoke("lease", "holder");
    if (ec) {
      ADD_FAILURE() << "round " << round << ": " << ec.message();
      break;  // Not ASSERT: the checkers must be told to stop below.
    }
    phase.fetch_add(1, std::memory_order_acq_rel);  // Settled.
    // Give the checkers a settled state to look at before the next change.
    const long seen = settled_checks.load();
    while (settled_checks.load() < seen + 2 && !failed) std::this_thread::yield();
  }
  done.store(true, std::memory_order_release);
  threads.clear();
  EXPECT_FALSE(failed) << "a check reported a state the lease was not in";
}

// ---------------------------------------------------------------- S18: Revoke

TEST_F(ManagerSemantics, S18_RevokeByTheHolderVacatesAndWakesWaiters) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 1h));
  std::atomic<bool> revoked{false};
  BackgroundWait wait(*claimer_, "lease", [&] { return revoked.load(); });
  ASSERT_TRUE(wait.Started());
  revoked = true;
  ASSERT_FALSE(revoker_->Revoke("lease", "holder"));
  auto result = wait.Result();
  ASSERT_TRUE(result) << "the waiter was not woken by the revoke";
  EXPECT_FALSE(result->first) << result->first.message();
  EXPECT_TRUE(result->second) << "the wait returned before the revoke";
  EXPECT_FALSE(InfoOf("lease"));
  EXPECT_FALSE(claimer_->Claim("lease", "other", 10s));
}

TEST_F(ManagerSemantics, S18_RevokeByAnotherHolderFailsNotHeldAndChangesNothing) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  const std::string before = DumpState(*store_);
  EXPECT_EQ(revoker_->Revoke("lease", "other"), ErrNotHeld);
  EXPECT_TRUE(IsNotHeld(revoker_->Revoke("lease", "other")));
  EXPECT_EQ(DumpState(*store_), before);
  EXPECT_FALSE(checker_->Token("lease", "holder").Check());
}

TEST_F(ManagerSemantics, S18_RevokeOfALeaseNobodyHoldsSucceedsAndChangesNothing) {
  std::string before = DumpState(*store_);
  EXPECT_FALSE(revoker_->Revoke("never", "holder"));  // Never claimed.
  EXPECT_EQ(DumpState(*store_), before);
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  Advance(10s);
  before = DumpState(*store_);
  EXPECT_FALSE(revoker_->Revoke("lease", "holder"));  // Expired.
  EXPECT_FALSE(revoker_->Revoke("lease", "other"));
  EXPECT_EQ(DumpState(*store_), before);
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  ASSERT_FALSE(revoker_->Revoke("lease", "holder"));
  ASSERT_FALSE(pinner_->Pin("lease", "entity"));
  before = DumpState(*store_);
  EXPECT_FALSE(revoker_->Revoke("lease", "holder"));  // Revoked, pinned: pins stay.
  EXPECT_EQ(DumpState(*store_), before);
}

// ---------------------------------------------------------------- S19: WaitUntilExpired

TEST_F(ManagerSemantics, S19_WaitReturnsAtOnceWhenTheLeaseIsFree) {
  {
    BackgroundWait never_claimed(*claimer_, "never");
    auto r = never_claimed.Result();
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->first);
  }
  ASSERT_FALSE(claimer_->Claim("expired", "holder", 10s));
  Advance(10s);
  ASSERT_FALSE(claimer_->Claim("revoked", "holder", 10s));
  ASSERT_FALSE(revoker_->Revoke("revoked", "holder"));
  ASSERT_FALSE(pinner_->Pin("pinned-free", "entity"));
  for (const char* lease : {"expired", "revoked", "pinned-free"}) {
    BackgroundWait wait(*claimer_, lease);
    auto r = wait.Result();
    ASSERT_TRUE(r) << lease;
    EXPECT_FALSE(r->first) << lease;
  }
}

TEST_F(ManagerSemantics, S19_WaitReturnsWhenTheFakeClockPassesExpiryAndNotBefore) {
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  BackgroundWait wait(*claimer_, "lease", [&] { return store_->Now() >= t0 + 15s; });
  ASSERT_TRUE(wait.Started());
  Advance(5s);
  // An extension while waiting moves the end the waiter waits for.
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));  // Now until t0 + 15s.
  Advance(9s);                                            // Past the first expiry.
  Advance(1s);
  auto result = wait.Result();
  ASSERT_TRUE(result) << "the waiter missed the expiry";
  EXPECT_FALSE(result->first) << result->first.message();
  EXPECT_TRUE(result->second) << "the wait returned while the lease was held";
}

TEST(ManagerRealClock, S19_WaitReturnsAtExpiryWithoutAnyoneWriting) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  Manager manager(store);
  std::error_code ec;
  auto claimer = manager.Claimer("ns", "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(claimer->Claim("lease", "holder", 50ms));
  LeaseMap leases;
  ASSERT_FALSE(store->Leases(&leases));
  const std::int64_t expiry = leases.begin()->second.expiry.time_since_epoch().count();
  // What any write would move: the epoch and the operation counters.
  auto writes = [&] {
    ShmStats s;
    EXPECT_FALSE(store->GetStats(&s));
    return std::vector<std::uint64_t>{s.epoch, s.claims, s.extensions, s.revocations};
  };
  const std::vector<std::uint64_t> before = writes();
  BackgroundWait wait(*claimer, "lease", [&] { return MonotonicNowNs() >= expiry; });
  auto result = wait.Result();
  ASSERT_TRUE(result) << "the waiter slept through the expiry";
  EXPECT_FALSE(result->first) << result->first.message();
  EXPECT_TRUE(result->second) << "the wait returned before the expiry";
  EXPECT_EQ(writes(), before) << "something wrote; the expiry alone must wake";
}

TEST_F(ManagerSemantics, S19_WaitReturnsWhenTheLastPinOfAnExpiredLeaseGoes) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  ASSERT_FALSE(pinner_->Pin("lease", "e1"));
  ASSERT_FALSE(pinner_->Pin("lease", "e2"));
  std::atomic<bool> unpinned{false};
  BackgroundWait wait(*claimer_, "lease", [&] { return unpinned.load(); });
  ASSERT_TRUE(wait.Started());
  Advance(1h);                                  // Expired, but pinned: held.
  ASSERT_FALSE(pinner_->Unpin("lease", "e1"));  // One pin left: still held.
  unpinned = true;
  ASSERT_FALSE(pinner_->Unpin("lease", "e2"));
  auto result = wait.Result();
  ASSERT_TRUE(result) << "the waiter was not woken by the last unpin";
  EXPECT_FALSE(result->first) << result->first.message();
  EXPECT_TRUE(result->second) << "the wait returned while the lease was pinned";
}

TEST_F(ManagerSemantics, S19_WaitCancelledWhenStopWasRequestedFirst) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  std::stop_source source;
  source.request_stop();
  EXPECT_EQ(claimer_->WaitUntilExpired("lease", source.get_token()), ErrWaitCancelled);
  EXPECT_TRUE(IsWaitCancelled(claimer_->WaitUntilExpired("lease", source.get_token())));
  EXPECT_FALSE(checker_->Token("lease", "holder").Check());
}

// A stop requested from another thread while the wait sleeps ends it with
// wait_cancelled, for both kinds of clock (they sleep on different words).
class StopDuringWait : public ::testing::TestWithParam<bool> {};

TEST_P(StopDuringWait, S19_WaitCancelledWhenStopIsRequestedWhileWaiting) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/GetParam()));
  ASSERT_TRUE(store);
  Manager manager(store);
  std::error_code ec;
  auto claimer = manager.Claimer("ns", "model", ec);
  auto pinner = manager.Pinner("ns", "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(claimer->Claim("lease", "holder", 1h));
  ASSERT_FALSE(pinner->Pin("lease", "entity"));  // Pinned: no expiry deadline at all.
  BackgroundWait wait(*claimer, "lease");
  ASSERT_TRUE(wait.Started());
  wait.RequestStop();
  auto result = wait.Result();
  ASSERT_TRUE(result) << "the stop did not end the wait";
  EXPECT_EQ(result->first, ErrWaitCancelled);
  EXPECT_FALSE(manager.Checker("ns", "model", ec)->Token("lease", "holder").Check());
}

INSTANTIATE_TEST_SUITE_P(Clocks, StopDuringWait, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "FakeClock" : "RealClock";
                         });

// ---------------------------------------------------------------- S20, S21, S22: pins and views

TEST_F(ManagerSemantics, S20_APinnedLeaseKeepsItsHolderPastExpiryAndDeniesOthers) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  ASSERT_FALSE(pinner_->Pin("lease", "entity"));
  Advance(1h);
  EXPECT_EQ(claimer_->Claim("lease", "other", 10s), ErrClaimDenied);
  EXPECT_FALSE(checker_->Token("lease", "holder").Check());
  EXPECT_EQ(Holders(), (std::map<std::string, std::string>{{"lease", "holder"}}));
  EXPECT_FALSE(claimer_->Claim("lease", "holder", 10s));  // The holder may still extend.
}

TEST_F(ManagerSemantics, S20_WhenTheLastPinGoesAfterExpiryTheLeaseIsFreeAtOnce) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  ASSERT_FALSE(pinner_->Pin("lease", "entity"));
  Advance(10s);
  ASSERT_FALSE(pinner_->Unpin("lease", "entity"));
  EXPECT_TRUE(Holders().empty());
  EXPECT_EQ(checker_->Token("lease", "holder").Check(), ErrNotHeld);
  EXPECT_FALSE(claimer_->Claim("lease", "other", 10s));
}

TEST_F(ManagerSemantics, S20_WhenTheLastPinGoesBeforeExpiryNormalExpiryResumes) {
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  ASSERT_FALSE(pinner_->Pin("lease", "entity"));
  Advance(6s);
  ASSERT_FALSE(pinner_->Unpin("lease", "entity"));
  EXPECT_EQ(claimer_->Claim("lease", "other", 10s), ErrClaimDenied);
  Advance(4s - 1ns);
  EXPECT_FALSE(checker_->Token("lease", "holder").Check());
  Advance(1ns);
  EXPECT_EQ(checker_->Token("lease", "holder").Check(), ErrNotHeld);
  EXPECT_FALSE(claimer_->Claim("lease", "other", 10s));
}

TEST_F(ManagerSemantics, S21_APinOnALeaseNobodyHoldsBindsTheNextClaimant) {
  ASSERT_FALSE(pinner_->Pin("lease", "entity"));
  EXPECT_TRUE(Holders().empty());
  ASSERT_FALSE(claimer_->Claim("lease", "holder", 10s));
  Advance(1h);
  EXPECT_FALSE(checker_->Token("lease", "holder").Check());
  EXPECT_EQ(claimer_->Claim("lease", "other", 10s), ErrClaimDenied);
  ASSERT_FALSE(pinner_->Unpin("lease", "entity"));
  EXPECT_FALSE(claimer_->Claim("lease", "other", 10s));
}

TEST_F(ManagerSemantics, S22_PinnedAndLeasesCoverOnlyTheBoundNamespaceAndModel) {
  std::error_code ec;
  auto other_model_claimer = manager_->Claimer("ns", "model2", ec);
  auto other_model_pinner = manager_->Pinner("ns", "model2", ec);
  auto other_ns_claimer = manager_->Claimer("ns2", "model", ec);
  auto other_ns_pinner = manager_->Pinner("ns2", "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(claimer_->Claim("a", "ha", 10s));
  ASSERT_FALSE(claimer_->Claim("b", "hb", 10s));
  ASSERT_FALSE(claimer_->Claim("gone", "hg", 1s));
  ASSERT_FALSE(pinner_->Pin("a", "z"));
  ASSERT_FALSE(pinner_->Pin("a", "y"));
  ASSERT_FALSE(pinner_->Pin("c", "x"));  // Pinned, never held.
  ASSERT_FALSE(other_model_claimer->Claim("a", "other", 10s));
  ASSERT_FALSE(other_model_pinner->Pin("a", "other"));
  ASSERT_FALSE(other_ns_claimer->Claim("d", "other", 10s));
  ASSERT_FALSE(other_ns_pinner->Pin("d", "other"));
  Advance(1s);

  std::map<std::string, std::vector<std::string>> pins;
  ASSERT_FALSE(pinner_->Pinned(&pins));
  EXPECT_EQ(pins,
            (std::map<std::string, std::vector<std::string>>{{"a", {"y", "z"}}, {"c", {"x"}}}));
  EXPECT_EQ(Holders(), (std::map<std::string, std::string>{{"a", "ha"}, {"b", "hb"}}));
  std::map<std::string, std::string> holders;
  auto other_reader = manager_->Reader("ns", "model2", ec);
  ASSERT_FALSE(other_reader->Leases(&holders));
  EXPECT_EQ(holders, (std::map<std::string, std::string>{{"a", "other"}}));
  // The output maps are replaced, not merged into.
  pins = {{"stale", {"x"}}};
  ASSERT_FALSE(other_ns_pinner->Pinned(&pins));
  EXPECT_EQ(pins, (std::map<std::string, std::vector<std::string>>{{"d", {"other"}}}));
}

// ---------------------------------------------------------------- S24: stop tokens

TEST_F(ManagerSemantics, S24_AStopRequestedBeforeTheCallAbortsEveryWriteAndChangesNothing) {
  ASSERT_FALSE(claimer_->Claim("held", "holder", 10s));
  ASSERT_FALSE(pinner_->Pin("held", "entity"));
  const std::string before = DumpState(*store_);
  std::stop_source source;
  source.request_stop();
  const std::stop_token stop = source.get_token();
  EXPECT_EQ(claimer_->Claim("free", "holder", 10s, stop), ErrAborted);
  EXPECT_EQ(claimer_->Claim("held", "holder", 1h, stop), ErrAborted);
  EXPECT_EQ(claimer_->Claim("held", "other", 1h, stop), ErrAborted);
  EXPECT_EQ(revoker_->Revoke("held", "holder", stop), ErrAborted);
  EXPECT_EQ(pinner_->Pin("held", "other", stop), ErrAborted);
  EXPECT_EQ(pinner_->Unpin("held", "entity", stop), ErrAborted);
  EXPECT_EQ(DumpState(*store_), before);
}

// ---------------------------------------------------------------- S26: no two holders (threads)

TEST(ManagerThreads, S26_ThreadsRacingForOneLeaseNeverHoldItTogether) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  const Manager manager(store);
  constexpr int kThreads = 4;
  std::vector<std::vector<PromiseRecord>> logs(kThreads);
  std::vector<std::string> errors(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        errors[t] = RaceForLease(manager, "lease", t, 100, 1234 + t,
                                 [&, t](const PromiseRecord& r) { logs[t].push_back(r); });
      });
    }
  }
  std::vector<PromiseRecord> all;
  std::set<std::int32_t> holders;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    for (const PromiseRecord& r : logs[t]) {
      if (r.kind == PromiseRecord::kPromise) holders.insert(r.holder);
    }
    all.insert(all.end(), logs[t].begin(), logs[t].end());
  }
  EXPECT_GE(holders.size(), 2u) << "no real race took place";
  const std::vector<std::string> problems = FindPromiseOverlaps(all);
  EXPECT_TRUE(problems.empty()) << problems.size() << " violations, first: " << problems.front();
}

// A token remembers the holding it last saw, its own or another holder's;
// each change of hands (a new epoch, a revoke) must reach it.
TEST_F(ManagerSemantics, TokenFollowsTheLeaseChangingHands) {
  Token mine = checker_->Token("a", "me");
  Token theirs = checker_->Token("a", "them");
  ASSERT_FALSE(claimer_->Claim("a", "them", 10s));
  for (int i = 0; i < 3; ++i) {  // The first check looks up, the others remember.
    EXPECT_EQ(mine.Check(), Errc::not_held);
    EXPECT_FALSE(theirs.Check());
  }
  Advance(10s);  // Their lease ends; nobody claims: still not mine.
  EXPECT_EQ(mine.Check(), Errc::not_held);
  EXPECT_EQ(theirs.Check(), Errc::not_held);
  ASSERT_FALSE(claimer_->Claim("a", "me", 10s));
  EXPECT_FALSE(mine.Check());
  EXPECT_EQ(theirs.Check(), Errc::not_held);
  ASSERT_FALSE(revoker_->Revoke("a", "me"));
  EXPECT_EQ(mine.Check(), Errc::not_held);
  ASSERT_FALSE(claimer_->Claim("a", "them", 10s));
  EXPECT_EQ(mine.Check(), Errc::not_held);
  EXPECT_FALSE(theirs.Check());
  ASSERT_FALSE(revoker_->Revoke("a", "them"));
  ASSERT_FALSE(claimer_->Claim("a", "me", 10s));
  EXPECT_FALSE(mine.Check());
  EXPECT_EQ(theirs.Check(), Errc::not_held);
}

// ---- Holding: Claimer::Claim and Token::Check for one (lease, holder),
// ---- with the holding's place remembered between calls.

TEST_F(ManagerSemantics, HoldingClaimsExtendsWithoutShorteningAndChecks) {
  Holding h = claimer_->Holding("a", "h1");
  EXPECT_EQ(h.Check(), Errc::not_held);
  ASSERT_FALSE(h.Claim(10s));
  EXPECT_FALSE(h.Check());
  EXPECT_FALSE(checker_->Token("a", "h1").Check());
  const Info first = *InfoOf("a");
  EXPECT_EQ(first.holder, "h1");
  Advance(5s);
  ASSERT_FALSE(h.Claim(10s));  // The remembered way: an extension.
  const Info extended = *InfoOf("a");
  EXPECT_EQ(extended.epoch, first.epoch);
  EXPECT_EQ(extended.expiry, first.expiry + 5s);
  ASSERT_FALSE(h.Claim(1s));  // Never shortens.
  EXPECT_EQ(InfoOf("a")->expiry, extended.expiry);
  Advance(9s);  // 1 s before the extended expiry.
  EXPECT_FALSE(h.Check());
  Advance(1s);
  EXPECT_EQ(h.Check(), Errc::not_held);
}

TEST_F(ManagerSemantics, HoldingClaimsAgainAfterRevokeExpiryAndAnotherPathsClaim) {
  Holding h = claimer_->Holding("a", "h1");
  ASSERT_FALSE(h.Claim(10s));
  const std::uint64_t e1 = InfoOf("a")->epoch;
  ASSERT_FALSE(revoker_->Revoke("a", "h1"));
  EXPECT_EQ(h.Check(), Errc::not_held);
  ASSERT_FALSE(h.Claim(10s));  // Free again: a new holding.
  const std::uint64_t e2 = InfoOf("a")->epoch;
  EXPECT_GT(e2, e1);
  Advance(10s);  // Expired, not revoked: the slot still says held.
  EXPECT_EQ(h.Check(), Errc::not_held);
  ASSERT_FALSE(h.Claim(10s));
  const std::uint64_t e3 = InfoOf("a")->epoch;
  EXPECT_GT(e3, e2);
  // Revoked and claimed again by name for the same holder: the Holding's
  // memory is stale (older epoch), yet the lease is its holder's to extend.
  ASSERT_FALSE(revoker_->Revoke("a", "h1"));
  ASSERT_FALSE(claimer_->Claim("a", "h1", 10s));
  const Info by_name = *InfoOf("a");
  Advance(1s);
  ASSERT_FALSE(h.Claim(10s));
  const Info after = *InfoOf("a");
  EXPECT_EQ(after.epoch, by_name.epoch);
  EXPECT_EQ(after.expiry, by_name.expiry + 1s);
}

TEST_F(ManagerSemantics, HoldingIsDeniedOnceAnotherHolderTookTheLeaseOver) {
  Holding h = claimer_->Holding("a", "h1");
  ASSERT_FALSE(h.Claim(10s));
  Advance(10s);
  ASSERT_FALSE(claimer_->Claim("a", "h2", 10s));  // Same slot, a new holding.
  const Info theirs = *InfoOf("a");
  EXPECT_EQ(h.Claim(10s), Errc::claim_denied);
  EXPECT_EQ(h.Check(), Errc::not_held);
  const Info now = *InfoOf("a");
  EXPECT_EQ(now.holder, "h2");
  EXPECT_EQ(now.epoch, theirs.epoch);
  EXPECT_EQ(now.expiry, theirs.expiry);
}

TEST_F(ManagerSemantics, HoldingRefusesBadInputAndKeepsWhatIsHeld) {
  Holding h = claimer_->Holding("a", "h1");
  ASSERT_FALSE(h.Claim(10s));
  const Info before = *InfoOf("a");
  EXPECT_EQ(h.Claim(0s), Errc::invalid_duration);
  EXPECT_EQ(h.Claim(-1s), Errc::invalid_duration);
  EXPECT_EQ(h.Claim(std::chrono::nanoseconds::max()), Errc::invalid_duration);  // Overflows.
  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_EQ(h.Claim(10s, stopped.get_token()), Errc::aborted);
  const Info after = *InfoOf("a");
  EXPECT_EQ(after.holder, before.holder);
  EXPECT_EQ(after.epoch, before.epoch);
  EXPECT_EQ(after.expiry, before.expiry);
  EXPECT_EQ(claimer_->Holding("bad name", "h1").Claim(10s), Errc::invalid_name);
  EXPECT_EQ(claimer_->Holding("b", "").Claim(10s), Errc::invalid_name);
  EXPECT_EQ(claimer_->Holding(std::string(kMaxNameLength + 1, 'x'), "h1").Claim(10s),
            Errc::name_too_long);
  EXPECT_EQ(claimer_->Holding("b", std::string("h1\0", 3)).Claim(10s), Errc::invalid_name);
  EXPECT_EQ(Holders(), (std::map<std::string, std::string>{{"a", "h1"}}));
}

TEST_F(ManagerSemantics, HoldingCopiesAndNamedClaimsShareOneLease) {
  ASSERT_FALSE(claimer_->Claim("a", "h1", 10s));
  const Info first = *InfoOf("a");
  Holding h = claimer_->Holding("a", "h1");
  ASSERT_FALSE(h.Claim(10s));  // Finds the holding by name, then remembers it.
  Holding copy = h;
  Advance(2s);
  ASSERT_FALSE(copy.Claim(10s));
  Advance(2s);
  ASSERT_FALSE(h.Claim(10s));
  const Info now = *InfoOf("a");
  EXPECT_EQ(now.epoch, first.epoch);
  EXPECT_EQ(now.expiry, first.expiry + 4s);
  EXPECT_EQ(claimer_->Holding("a", "h2").Claim(10s), Errc::claim_denied);
}

// ---- Claimer::Claim remembers where its last claimed lease lives, as a
// ---- Holding does; what it remembers must never outlive the holding.

TEST_F(ManagerSemantics, ClaimerIsDeniedOnceItsLastLeaseChangedHands) {
  ASSERT_FALSE(claimer_->Claim("a", "h1", 10s));
  ASSERT_FALSE(claimer_->Claim("a", "h1", 10s));  // Remembered from here on.
  Advance(10s);
  std::error_code ec;
  const auto other = manager_->Claimer("ns", "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(other->Claim("a", "h2", 10s));  // Same slot, a new holding.
  const Info theirs = *InfoOf("a");
  EXPECT_EQ(claimer_->Claim("a", "h1", 10s), Errc::claim_denied);
  const Info now = *InfoOf("a");
  EXPECT_EQ(now.holder, "h2");
  EXPECT_EQ(now.epoch, theirs.epoch);
  EXPECT_EQ(now.expiry, theirs.expiry);
  // Given up, then claimed again through the remembering Claimer: a new
  // holding, which it then extends.
  ASSERT_FALSE(other->Claim("a", "h2", 10s));
  ASSERT_FALSE(revoker_->Revoke("a", "h2"));
  ASSERT_FALSE(claimer_->Claim("a", "h1", 10s));
  const Info mine = *InfoOf("a");
  EXPECT_EQ(mine.holder, "h1");
  EXPECT_GT(mine.epoch, theirs.epoch);
  Advance(3s);
  ASSERT_FALSE(claimer_->Claim("a", "h1", 10s));
  EXPECT_EQ(InfoOf("a")->epoch, mine.epoch);
  EXPECT_EQ(InfoOf("a")->expiry, mine.expiry + 3s);
}

// It remembers a few holdings at once: renewing leases in turn extends each
// one, never another (a mix-up of remembered entries would extend the wrong
// lease), a remembered lease that changed hands is denied, and a lease
// forgotten to make room is still renewed, by name.
TEST_F(ManagerSemantics, ClaimerRenewingSeveralLeasesInTurnExtendsEachItsOwn) {
  const std::vector<std::string> leases = {"a", "b", "c", "d"};
  for (const std::string& l : leases) ASSERT_FALSE(claimer_->Claim(l, "h1", 10s));
  std::map<std::string, Info> first;
  for (const std::string& l : leases) first[l] = *InfoOf(l);
  for (int round = 1; round <= 3; ++round) {
    Advance(1s);
    for (const std::string& l : leases) {
      SCOPED_TRACE(l + " round " + std::to_string(round));
      ASSERT_FALSE(claimer_->Claim(l, "h1", 10s));
      const Info now = *InfoOf(l);
      EXPECT_EQ(now.epoch, first[l].epoch);
      EXPECT_EQ(now.expiry, first[l].expiry + std::chrono::seconds(round));
    }
  }
  // "b" changes hands behind the Claimer's back.
  ASSERT_FALSE(revoker_->Revoke("b", "h1"));
  std::error_code ec;
  const auto other = manager_->Claimer("ns", "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(other->Claim("b", "h2", 10s));
  const Info theirs = *InfoOf("b");
  EXPECT_EQ(claimer_->Claim("b", "h1", 10s), Errc::claim_denied);
  EXPECT_EQ(InfoOf("b")->holder, "h2");
  EXPECT_EQ(InfoOf("b")->expiry, theirs.expiry);
  // A fifth lease takes the place of the oldest remembered one; that one is
  // still renewed (by name), as its own holding.
  ASSERT_FALSE(claimer_->Claim("e", "h1", 10s));
  for (const std::string& l : {"a", "c", "d", "e"}) {
    SCOPED_TRACE(l);
    const Info before = *InfoOf(l);
    Advance(1s);
    ASSERT_FALSE(claimer_->Claim(l, "h1", 10s));
    EXPECT_EQ(InfoOf(l)->epoch, before.epoch);
    EXPECT_EQ(InfoOf(l)->holder, "h1");
  }
}

TEST_F(ManagerSemantics, ClaimerChecksEveryNameThatIsNotExactlyItsLastHolding) {
  ASSERT_FALSE(claimer_->Claim("a", "h1", 10s));
  ASSERT_FALSE(claimer_->Claim("a", "h1", 10s));
  const Info before = *InfoOf("a");
  // Byte for byte the remembered names up to a NUL: refused, not extended.
  EXPECT_EQ(claimer_->Claim("a", std::string("h1\0", 3), 10s), Errc::invalid_name);
  EXPECT_EQ(claimer_->Claim(std::string("a\0", 2), "h1", 10s), Errc::invalid_name);
  EXPECT_EQ(claimer_->Claim("a", "h1 ", 10s), Errc::invalid_name);
  EXPECT_EQ(claimer_->Claim("a", "h1", 0s), Errc::invalid_duration);
  EXPECT_EQ(claimer_->Claim("a", "h2", 10s), Errc::claim_denied);
  const Info after = *InfoOf("a");
  EXPECT_EQ(after.holder, before.holder);
  EXPECT_EQ(after.epoch, before.epoch);
  EXPECT_EQ(after.expiry, before.expiry);
  ASSERT_FALSE(claimer_->Claim("a", "h1", 20s));  // Still its lease to extend.
  EXPECT_EQ(InfoOf("a")->expiry, before.expiry + 10s);
}

// The Claimer tells its remembered entries apart first by a word of the
// names' sizes and the lease's last bytes. Names alike in all of that, and
// different only in the middle, must still each extend their own holding,
// and a holder alike in size must not be taken for the remembered one.
TEST_F(ManagerSemantics, ClaimerTellsApartNamesThatDifferOnlyInTheMiddle) {
  const std::string first = "pool-a-worker-0001";
  const std::string second = "pool-b-worker-0001";  // Same size, same last 8 bytes.
  ASSERT_FALSE(claimer_->Claim(first, "holder-1-machine", 10s));
  ASSERT_FALSE(claimer_->Claim(second, "holder-1-machine", 10s));
  const Info a = *InfoOf(first);
  const Info b = *InfoOf(second);
  ASSERT_NE(a.epoch, b.epoch);
  Advance(1s);
  ASSERT_FALSE(claimer_->Claim(second, "holder-1-machine", 10s));
  EXPECT_EQ(InfoOf(second)->expiry, b.expiry + 1s);
  EXPECT_EQ(InfoOf(first)->expiry, a.expiry);
  Advance(1s);
  ASSERT_FALSE(claimer_->Claim(first, "holder-1-machine", 10s));
  EXPECT_EQ(InfoOf(first)->expiry, a.expiry + 2s);
  EXPECT_EQ(InfoOf(second)->expiry, b.expiry + 1s);
  // Another holder of the same size: denied, and nothing moves.
  EXPECT_EQ(claimer_->Claim(first, "holder-2-machine", 10s), Errc::claim_denied);
  EXPECT_EQ(InfoOf(first)->holder, "holder-1-machine");
  EXPECT_EQ(InfoOf(first)->expiry, a.expiry + 2s);
  // A lease not claimed yet, alike again: a claim of its own, not an extension.
  const std::string third = "pool-c-worker-0001";
  ASSERT_FALSE(claimer_->Claim(third, "holder-1-machine", 10s));
  EXPECT_GT(InfoOf(third)->epoch, b.epoch);
  EXPECT_EQ(InfoOf(first)->expiry, a.expiry + 2s);
}

// Refused claims between renewals (a lease someone else holds, an invalid
// name) never extend a remembered holding, nor leave the Claimer taking one
// lease for another: each is still extended as its own, and only that.
TEST_F(ManagerSemantics, ClaimerRefusalsBetweenRenewalsTouchNoRememberedHolding) {
  const std::vector<std::string> leases = {"a", "b", "c", "d"};
  for (const std::string& l : leases) ASSERT_FALSE(claimer_->Claim(l, "h1", 10s));
  std::map<std::string, Info> claimed;
  for (const std::string& l : leases) claimed[l] = *InfoOf(l);
  std::error_code ec;
  const auto other = manager_->Claimer("ns", "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(other->Claim("taken", "h2", 10s));
  const Info taken = *InfoOf("taken");
  Advance(1s);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(claimer_->Claim("taken", "h1", 10s), Errc::claim_denied);
    EXPECT_EQ(claimer_->Claim("bad name", "h1", 10s), Errc::invalid_name);
  }
  EXPECT_EQ(InfoOf("taken")->expiry, taken.expiry);
  EXPECT_EQ(InfoOf("taken")->holder, "h2");
  for (const std::string& l : leases) EXPECT_EQ(InfoOf(l)->expiry, claimed[l].expiry) << l;
  Advance(1s);
  for (const std::string& l : leases) {
    SCOPED_TRACE(l);
    ASSERT_FALSE(claimer_->Claim(l, "h1", 10s));
    EXPECT_EQ(InfoOf(l)->epoch, claimed[l].epoch);
    EXPECT_EQ(InfoOf(l)->expiry, claimed[l].expiry + 2s);
  }
}

// Threads share Claimers (Manager hands out one per binding): each thread's
// claims must act on its own lease, whichever thread last used the memory.
// A waiter for an expiry wakes before it and spins on the clock until it
// (ShmStoreOptions::expiry_spin). Given all the spin it can take (a quarter of
// what is left), it still returns only at the expiry, and an extension made
// before or while it spins sends it back to sleep until the new one.
TEST(WaitSpin, AWaiterSpinningBeforeTheExpiryWaitsForTheExtendedOne) {
  ScopedSegmentName seg;
  ShmStoreOptions options = TestOptions(seg.name(), /*fake_clock=*/false);
  options.expiry_spin = 1h;
  auto store = MustOpen(options);
  ASSERT_TRUE(store);
  const Manager manager(store);
  std::error_code ec;
  auto claimer = manager.Claimer("ns", "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(claimer->Claim("lease", "holder", 1s));
  std::atomic<std::int64_t> extended_expiry{0};
  BackgroundWait wait(*claimer, "lease", [&] {
    const std::int64_t until = extended_expiry.load();
    return until != 0 && MonotonicNowNs() >= until;
  });
  ASSERT_TRUE(wait.Started());
  ASSERT_FALSE(claimer->Claim("lease", "holder", 2s));
  LeaseMap leases;
  const Key keys[] = {{"ns", "model", "lease"}};
  ASSERT_FALSE(store->Leases(&leases, keys));
  ASSERT_EQ(leases.size(), 1u);
  extended_expiry = leases.begin()->second.expiry.time_since_epoch().count();
  auto result = wait.Result();
  ASSERT_TRUE(result) << "the waiter did not return";
  EXPECT_FALSE(result->first) << result->first.message();
  EXPECT_TRUE(result->second) << "the wait returned before the extended expiry";
  ShmStore::Destroy(seg.name());
}

TEST(ManagerThreads, ThreadsSharingAClaimerEachExtendTheirOwnLease) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name()));
  ASSERT_TRUE(store);
  const Manager manager(store);
  std::error_code ec;
  const auto claimer = manager.Claimer("ns", "model", ec);
  ASSERT_FALSE(ec);
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::map<std::string, std::string> want;
  for (int t = 0; t < kThreads; ++t) {
    want["lease-" + std::to_string(t)] = "holder-" + std::to_string(t);
    ASSERT_FALSE(claimer->Claim("lease-" + std::to_string(t), "holder-" + std::to_string(t), 1h));
  }
  std::vector<std::string> errors(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const std::string lease = "lease-" + std::to_string(t);
        const std::string holder = "holder-" + std::to_string(t);
        const std::string next = "lease-" + std::to_string((t + 1) % kThreads);
        for (int r = 0; r < kRounds && errors[t].empty(); ++r) {
          if (std::error_code e = claimer->Claim(lease, holder, 1h)) {
            errors[t] = "own claim, round " + std::to_string(r) + ": " + e.message();
          }
          // Another thread's lease: never this holder's.
          std::error_code e = claimer->Claim(next, holder, 1h);
          if (e != Errc::claim_denied) {
            errors[t] = "claim of " + next + ", round " + std::to_string(r) + ": " + e.message();
          }
        }
      });
    }
  }
  std::map<std::string, std::string> holders;
  ASSERT_FALSE(manager.Reader("ns", "model", ec)->Leases(&holders));
  EXPECT_EQ(holders, want);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

TEST(PromiseOverlaps, S26_TheOverlapCheckerFindsOverlapsAndRespectsGiveUps) {
  using R = PromiseRecord;
  // Disjoint, touching, and a give-up cutting a promise short: fine.
  EXPECT_TRUE(FindPromiseOverlaps({{R::kPromise, 1, 0, 10},
                                   {R::kPromise, 2, 10, 20},
                                   {R::kPromise, 1, 30, 50},
                                   {R::kGiveUp, 1, 35, 0},
                                   {R::kPromise, 2, 35, 40},
                                   {R::kHeldCheck, 2, 36, 37}})
                  .empty());
  // Same holder overlapping itself (an extension): fine.
  EXPECT_TRUE(FindPromiseOverlaps({{R::kPromise, 1, 0, 10}, {R::kPromise, 1, 5, 20}}).empty());
  // Two holders at once.
  EXPECT_EQ(FindPromiseOverlaps({{R::kPromise, 1, 0, 10}, {R::kPromise, 2, 9, 20}}).size(), 1u);
  // A long promise overlapping a later one past a short one.
  EXPECT_EQ(FindPromiseOverlaps(
                {{R::kPromise, 1, 0, 100}, {R::kPromise, 1, 120, 130}, {R::kPromise, 2, 50, 60}})
                .size(),
            1u);
  // A successful check inside another holder's promise.
  EXPECT_EQ(FindPromiseOverlaps({{R::kPromise, 1, 0, 100}, {R::kHeldCheck, 2, 10, 20}}).size(), 1u);
}

}  // namespace
}  // namespace shmlease

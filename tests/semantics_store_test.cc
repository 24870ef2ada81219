// Conformance tests for docs/semantics.md at the Store level: ShmStore called
// directly. Each test names the rule it checks (S1..S28). Time is a fake
// clock kept in the segment, so expiry happens exactly when a test moves it.
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::DumpState;
using testing::MonotonicNowNs;
using testing::MustOpen;
using testing::ScopedSegmentName;
using testing::TestOptions;

class StoreSemantics : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MustOpen(TestOptions(seg_.name()));
    ASSERT_TRUE(store_);
  }

  // The held leases among `keys` (all when empty), failing the test on error.
  LeaseMap HeldLeases(std::vector<Key> keys = {}) {
    LeaseMap out;
    EXPECT_FALSE(store_->Leases(&out, keys));
    return out;
  }
  std::optional<Info> InfoOf(const Key& key) {
    LeaseMap m = HeldLeases({key});
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    return it->second;
  }
  PinMap Pins() {
    PinMap out;
    EXPECT_FALSE(store_->Pinned(&out));
    return out;
  }
  void Advance(std::chrono::nanoseconds d) { ASSERT_FALSE(store_->AdvanceFakeClock(d)); }

  ScopedSegmentName seg_;
  std::shared_ptr<ShmStore> store_;
  const Key key_{"ns", "model", "lease"};
};

// ---------------------------------------------------------------- S1: names

TEST(Names, S1_ValidateStringRejectsEmptyWhitespaceDotHashDollar) {
  for (std::string s : {"", " ", "a b", " a", "a ", "a\tb", "a\rb", "a\nb", "a.b", ".", "a#b", "#",
                        "a$b", "$", "unit.0", "x\r\n"}) {
    EXPECT_EQ(ValidateString(s), Errc::invalid_name) << "'" << s << "'";
  }
}

TEST(Names, S1_ValidateStringAcceptsSlashDashUnderscoreColonDigits) {
  for (std::string s : {"a", "/", "-", "_", ":", "0123456789", "unit-mysql/0", "controller:0",
                        "a_b", "a/b-c_d:e9", "6f4b9c1e-2d3a-4f5b-8c7d-0e1f2a3b4c5d"}) {
    EXPECT_FALSE(ValidateString(s)) << "'" << s << "'";
  }
}

TEST_F(StoreSemantics, S1_StoreRejectsInvalidNamesInEveryPosition) {
  const Request req{"holder", 10s};
  for (const std::string& bad : {std::string(""), std::string("a b"), std::string("a.b"),
                                 std::string("a#b"), std::string("a$b"), std::string("a\nb")}) {
    SCOPED_TRACE("bad name '" + bad + "'");
    const Key bad_keys[] = {{bad, "model", "lease"}, {"ns", bad, "lease"}, {"ns", "model", bad}};
    for (const Key& k : bad_keys) {
      EXPECT_EQ(store_->ClaimLease(k, req), Errc::invalid_name);
      EXPECT_EQ(store_->ExtendLease(k, req), Errc::invalid_name);
      EXPECT_EQ(store_->ClaimOrExtendLease(k, req), Errc::invalid_name);
      EXPECT_EQ(store_->RevokeLease(k, "holder"), Errc::invalid_name);
      EXPECT_EQ(store_->Revoke(k, "holder"), Errc::invalid_name);
      EXPECT_EQ(store_->PinLease(k, "entity"), Errc::invalid_name);
      EXPECT_EQ(store_->UnpinLease(k, "entity"), Errc::invalid_name);
      LeaseMap out;
      const Key one[] = {k};
      EXPECT_EQ(store_->Leases(&out, one), Errc::invalid_name);
      EXPECT_EQ(store_->WaitUntilFree(k, {}), Errc::invalid_name);
      TokenCache cache;
      EXPECT_EQ(store_->CheckLease(k, "holder", &cache), Errc::not_held);
    }
    const Request bad_holder{bad, 10s};
    EXPECT_EQ(store_->ClaimLease(key_, bad_holder), Errc::invalid_name);
    EXPECT_EQ(store_->ExtendLease(key_, bad_holder), Errc::invalid_name);
    EXPECT_EQ(store_->ClaimOrExtendLease(key_, bad_holder), Errc::invalid_name);
    EXPECT_EQ(store_->RevokeLease(key_, bad), Errc::invalid_name);
    EXPECT_EQ(store_->Revoke(key_, bad), Errc::invalid_name);
    EXPECT_EQ(store_->PinLease(key_, bad), Errc::invalid_name);
    EXPECT_EQ(store_->UnpinLease(key_, bad), Errc::invalid_name);
    LeaseMap out;
    EXPECT_EQ(store_->LeaseGroup(bad, "model", &out), Errc::invalid_name);
    EXPECT_EQ(store_->LeaseGroup("ns", bad, &out), Errc::invalid_name);
  }
  EXPECT_TRUE(HeldLeases().empty());
  EXPECT_TRUE(Pins().empty());
}

TEST_F(StoreSemantics, S1_StoredNamesPassValidateStringAndComeBackExactly) {
  const Key k{"application-leadership", "6f4b9c1e-2d3a-4f5b", "mysql/0"};
  ASSERT_FALSE(store_->ClaimLease(k, {"unit-mysql/0", 10s}));
  ASSERT_FALSE(store_->PinLease(k, "machine:0"));
  ASSERT_FALSE(store_->PinLease({"a_b", "c:d", "e-f"}, "g/h"));
  for (const auto& [key, info] : HeldLeases()) {
    EXPECT_FALSE(ValidateString(key.ns));
    EXPECT_FALSE(ValidateString(key.model_uuid));
    EXPECT_FALSE(ValidateString(key.lease));
    EXPECT_FALSE(ValidateString(info.holder));
  }
  for (const auto& [key, entities] : Pins()) {
    EXPECT_FALSE(ValidateString(key.ns));
    EXPECT_FALSE(ValidateString(key.model_uuid));
    EXPECT_FALSE(ValidateString(key.lease));
    for (const std::string& e : entities) EXPECT_FALSE(ValidateString(e));
  }
  EXPECT_EQ(InfoOf(k)->holder, "unit-mysql/0");
  PinMap expected{{k, {"machine:0"}}, {Key{"a_b", "c:d", "e-f"}, {"g/h"}}};
  EXPECT_EQ(Pins(), expected);
}

// ---------------------------------------------------------------- S2: length bound

TEST(Names, S2_ValidateNameBoundsLengthButValidateStringDoesNot) {
  EXPECT_EQ(kMaxNameLength, 64u);
  EXPECT_FALSE(ValidateName(std::string(64, 'n')));
  EXPECT_EQ(ValidateName(std::string(65, 'n')), Errc::name_too_long);
  EXPECT_NE(ValidateName(std::string(65, 'n')), Errc::invalid);
  EXPECT_NE(ValidateName(std::string(65, 'n')), Errc::invalid_name);
  EXPECT_FALSE(ValidateString(std::string(65, 'n')));
  EXPECT_FALSE(ValidateString(std::string(1000, 'n')));
}

TEST_F(StoreSemantics, S2_NamesOf64BytesAcceptedInEveryPosition) {
  const std::string ns(64, 'n'), model(64, 'm'), lease(64, 'l'), holder(64, 'h'), entity(64, 'e');
  const Key k{ns, model, lease};
  ASSERT_FALSE(store_->ClaimLease(k, {holder, 10s}));
  ASSERT_FALSE(store_->ExtendLease(k, {holder, 20s}));
  ASSERT_FALSE(store_->PinLease(k, entity));
  LeaseMap all = HeldLeases();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.begin()->first, k);
  EXPECT_EQ(all.begin()->second.holder, holder);
  LeaseMap group;
  ASSERT_FALSE(store_->LeaseGroup(ns, model, &group));
  EXPECT_EQ(group, all);
  EXPECT_EQ(Pins(), (PinMap{{k, {entity}}}));
  TokenCache cache;
  EXPECT_FALSE(store_->CheckLease(k, holder, &cache));
  ASSERT_FALSE(store_->UnpinLease(k, entity));
  ASSERT_FALSE(store_->RevokeLease(k, holder));
  EXPECT_TRUE(HeldLeases().empty());
  EXPECT_TRUE(Pins().empty());
}

TEST_F(StoreSemantics, S2_NamesOf65BytesRejectedWithNameTooLong) {
  const std::string n64(64, 'x'), n65(65, 'x');
  // A 64-byte lease is held; its 65-byte extension must not be taken for it
  // (no truncation) nor reported as any other error.
  const Key k64{"ns", "model", n64};
  ASSERT_FALSE(store_->ClaimLease(k64, {"holder", 10s}));
  const std::string before = DumpState(*store_);
  const Key long_keys[] = {{n65, "model", "lease"}, {"ns", n65, "lease"}, {"ns", "model", n65}};
  for (const Key& k : long_keys) {
    EXPECT_EQ(store_->ClaimLease(k, {"holder", 10s}), Errc::name_too_long);
    EXPECT_EQ(store_->ExtendLease(k, {"holder", 10s}), Errc::name_too_long);
    EXPECT_EQ(store_->ClaimOrExtendLease(k, {"holder", 10s}), Errc::name_too_long);
    EXPECT_EQ(store_->RevokeLease(k, "holder"), Errc::name_too_long);
    EXPECT_EQ(store_->PinLease(k, "entity"), Errc::name_too_long);
    EXPECT_EQ(store_->UnpinLease(k, "entity"), Errc::name_too_long);
    EXPECT_EQ(store_->WaitUntilFree(k, {}), Errc::name_too_long);
    LeaseMap out;
    const Key one[] = {k};
    EXPECT_EQ(store_->Leases(&out, one), Errc::name_too_long);
    TokenCache cache;
    EXPECT_EQ(store_->CheckLease(k, "holder", &cache), Errc::not_held);
  }
  EXPECT_EQ(store_->ClaimLease(key_, {n65, 10s}), Errc::name_too_long);
  EXPECT_EQ(store_->ExtendLease(k64, {"holder" + n65, 10s}), Errc::name_too_long);
  EXPECT_EQ(store_->RevokeLease(k64, n65), Errc::name_too_long);
  EXPECT_EQ(store_->PinLease(k64, n65), Errc::name_too_long);
  EXPECT_EQ(store_->UnpinLease(k64, n65), Errc::name_too_long);
  LeaseMap out;
  EXPECT_EQ(store_->LeaseGroup(n65, "model", &out), Errc::name_too_long);
  EXPECT_EQ(store_->LeaseGroup("ns", n65, &out), Errc::name_too_long);
  EXPECT_EQ(DumpState(*store_), before);
  TokenCache cache;
  EXPECT_EQ(store_->CheckLease({"ns", "model", n64 + "x"}, "holder", &cache), Errc::not_held);
}

// ---------------------------------------------------------------- S3: requests

TEST(Requests, S3_RequestValidWhenHolderValidAndDurationPositive) {
  EXPECT_FALSE((Request{"holder", 1ns}.Validate()));
  EXPECT_FALSE((Request{std::string(64, 'h'), 10s}.Validate()));
  EXPECT_EQ((Request{"holder", 0ns}.Validate()), Errc::invalid_duration);
  EXPECT_EQ((Request{"holder", -1ns}.Validate()), Errc::invalid_duration);
  EXPECT_EQ((Request{"holder", -10s}.Validate()), Errc::invalid_duration);
  EXPECT_EQ((Request{"", 10s}.Validate()), Errc::invalid_name);
  EXPECT_EQ((Request{"a b", 10s}.Validate()), Errc::invalid_name);
  EXPECT_EQ((Request{"a.b", 10s}.Validate()), Errc::invalid_name);
  EXPECT_EQ((Request{std::string(65, 'h'), 10s}.Validate()), Errc::name_too_long);
}

TEST_F(StoreSemantics, S3_StoreRefusesNonPositiveAndOverflowingDurations) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  const std::string before = DumpState(*store_);
  const Key other{"ns", "model", "other"};
  for (std::chrono::nanoseconds d :
       {0ns, -1ns, std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::min()),
        std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max())}) {
    SCOPED_TRACE(d.count());
    EXPECT_EQ(store_->ClaimLease(other, {"holder", d}), Errc::invalid_duration);
    EXPECT_EQ(store_->ExtendLease(key_, {"holder", d}), Errc::invalid_duration);
    EXPECT_EQ(store_->ClaimOrExtendLease(key_, {"holder", d}), Errc::invalid_duration);
    EXPECT_EQ(store_->ClaimOrExtendLease(other, {"holder", d}), Errc::invalid_duration);
  }
  EXPECT_EQ(DumpState(*store_), before);
}

// ---------------------------------------------------------------- S4: errors

struct SeedError {
  Errc code;
  const char* message;
};
constexpr SeedError kSeedErrors[] = {
    {Errc::claim_denied, "lease claim denied"},
    {Errc::not_held, "lease not held"},
    {Errc::wait_cancelled, "waiting for lease cancelled by client"},
    {Errc::invalid, "invalid lease operation"},
    {Errc::held, "lease already held"},
    {Errc::timeout, "lease operation timed out"},
    {Errc::aborted, "lease operation aborted"},
};

// Every value of Errc: the helpers must be false for all but their own.
constexpr Errc kAllErrors[] = {
    Errc::claim_denied,
    Errc::not_held,
    Errc::wait_cancelled,
    Errc::invalid,
    Errc::held,
    Errc::timeout,
    Errc::aborted,
    Errc::invalid_name,
    Errc::name_too_long,
    Errc::invalid_duration,
    Errc::table_full,
    Errc::too_many_pins,
    Errc::invalid_capacity,
    Errc::invalid_segment_name,
    Errc::segment_not_found,
    Errc::corrupt_segment,
    Errc::incompatible_segment,
    Errc::permission_denied,
    Errc::foreign_owner,
    Errc::segment_busy,
    Errc::io_error,
    Errc::no_space,
    Errc::read_only,
    Errc::too_many_writers,
    Errc::not_a_segment,
    Errc::unsafe_segment_path,
    Errc::segment_replaced,
    Errc::epochs_exhausted,
    Errc::clock_offset_unknown,
    Errc::segment_truncated,
};

TEST(Errors, S4_SeedErrorsCarryTheSeedMessages) {
  for (const SeedError& e : kSeedErrors) {
    EXPECT_EQ(make_error_code(e.code).message(), e.message);
    EXPECT_EQ(std::error_code(e.code).message(), e.message);
    EXPECT_EQ(&make_error_code(e.code).category(), &lease_category());
  }
  EXPECT_STREQ(lease_category().name(), "shmlease");
  EXPECT_EQ(ErrClaimDenied, Errc::claim_denied);
  EXPECT_EQ(ErrNotHeld, Errc::not_held);
  EXPECT_EQ(ErrWaitCancelled, Errc::wait_cancelled);
  EXPECT_EQ(ErrInvalid, Errc::invalid);
  EXPECT_EQ(ErrHeld, Errc::held);
  EXPECT_EQ(ErrTimeout, Errc::timeout);
  EXPECT_EQ(ErrAborted, Errc::aborted);
}

TEST(Errors, S4_ProjectErrorsHaveTheirOwnDistinctMessages) {
  std::set<std::string> messages;
  for (Errc e : kAllErrors) {
    std::string m = make_error_code(e).message();
    EXPECT_FALSE(m.empty());
    EXPECT_TRUE(messages.insert(m).second) << "duplicate message: " << m;
    EXPECT_TRUE(make_error_code(e)) << "an error must not read as success";
  }
}

TEST(Errors, S4_IsHelpersTrueForExactlyTheirError) {
  struct Helper {
    bool (*fn)(std::error_code) noexcept;
    Errc own;
    const char* name;
  };
  const Helper helpers[] = {
      {IsAborted, Errc::aborted, "IsAborted"},
      {IsHeld, Errc::held, "IsHeld"},
      {IsInvalid, Errc::invalid, "IsInvalid"},
      {IsNotHeld, Errc::not_held, "IsNotHeld"},
      {IsTimeout, Errc::timeout, "IsTimeout"},
      {IsClaimDenied, Errc::claim_denied, "IsClaimDenied"},
      {IsWaitCancelled, Errc::wait_cancelled, "IsWaitCancelled"},
  };
  for (const Helper& h : helpers) {
    SCOPED_TRACE(h.name);
    for (Errc e : kAllErrors) {
      EXPECT_EQ(h.fn(make_error_code(e)), e == h.own) << make_error_code(e).message();
      // A code built by hand from the same category and value compares equal.
      EXPECT_EQ(h.fn(std::error_code(static_cast<int>(e), lease_category())), e == h.own);
    }
    EXPECT_FALSE(h.fn(std::error_code{}));
    // Same number, other category: not a lease error.
    const int v = static_cast<int>(h.own);
    EXPECT_FALSE(h.fn(std::error_code(v, std::generic_category())));
    EXPECT_FALSE(h.fn(std::error_code(v, std::system_category())));
    EXPECT_FALSE(h.fn(std::make_error_code(std::errc::timed_out)));
    EXPECT_FALSE(h.fn(std::make_error_code(std::errc::operation_canceled)));
  }
}

// ---------------------------------------------------------------- S5: keys and info

TEST_F(StoreSemantics, S5_KeysDifferingInAnyPartAreDifferentLeases) {
  const Key keys[] = {
      {"ns", "model", "lease"},  {"ns2", "model", "lease"}, {"ns", "model2", "lease"},
      {"ns", "model", "lease2"}, {"ab", "c", "x"},          {"a", "bc", "x"},
      {"a", "b", "cx"},          {"a", "bcx", "y"},         {"abc", "x", "y"},
  };
  int n = 0;
  for (const Key& k : keys) {
    ASSERT_FALSE(store_->ClaimLease(k, {"holder" + std::to_string(n++), 10s}))
        << k.ns << "/" << k.model_uuid << "/" << k.lease;
  }
  LeaseMap all = HeldLeases();
  ASSERT_EQ(all.size(), std::size(keys));
  n = 0;
  for (const Key& k : keys) EXPECT_EQ(all.at(k).holder, "holder" + std::to_string(n++));
  // Revoking one leaves every other untouched.
  ASSERT_FALSE(store_->RevokeLease(keys[4], "holder4"));
  all = HeldLeases();
  EXPECT_EQ(all.size(), std::size(keys) - 1);
  EXPECT_EQ(all.count(keys[4]), 0u);
  EXPECT_EQ(all.at(keys[5]).holder, "holder5");
  // Key's value semantics agree with the table's.
  EXPECT_EQ((Key{"a", "b", "c"}), (Key{"a", "b", "c"}));
  EXPECT_NE((Key{"ab", "c", "x"}), (Key{"a", "bc", "x"}));
  EXPECT_EQ(std::hash<Key>{}(Key{"a", "b", "c"}), std::hash<Key>{}(Key{"a", "b", "c"}));
}

TEST_F(StoreSemantics, S5_InfoIsHolderExpiryAndEpochAndExpiryIsTheLastValidTime) {
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  std::optional<Info> info = InfoOf(key_);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->holder, "holder");
  EXPECT_EQ(info->expiry, t0 + 10s);  // The fake clock does not move by itself.
  EXPECT_GT(info->epoch, 0u);
  Advance(10s - 1ns);
  EXPECT_EQ(InfoOf(key_), info);
  Advance(1ns);
  EXPECT_FALSE(InfoOf(key_));
}

// ---------------------------------------------------------------- S6: ClaimLease

TEST_F(StoreSemantics, S6_ClaimLeaseOfNeverClaimedKeyRecordsHolderUntilT0PlusDuration) {
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 7s}));
  ASSERT_TRUE(InfoOf(key_));
  EXPECT_EQ(InfoOf(key_)->holder, "holder");
  EXPECT_EQ(InfoOf(key_)->expiry, t0 + 7s);
  TokenCache cache;
  EXPECT_FALSE(store_->CheckLease(key_, "holder", &cache));
}

TEST_F(StoreSemantics, S6_ClaimLeaseOfHeldLeaseFailsWithHeldForAnyHolder) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  const std::string before = DumpState(*store_);
  EXPECT_EQ(store_->ClaimLease(key_, {"other", 10s}), ErrHeld);
  EXPECT_EQ(store_->ClaimLease(key_, {"holder", 10s}), ErrHeld);
  EXPECT_EQ(store_->ClaimLease(key_, {"holder", 100s}), ErrHeld);
  EXPECT_TRUE(IsHeld(store_->ClaimLease(key_, {"other", 1s})));
  EXPECT_EQ(DumpState(*store_), before);
}

TEST_F(StoreSemantics, S6_ClaimLeaseSucceedsAfterRevokeAndAfterExpiry) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"first", 10s}));
  ASSERT_FALSE(store_->RevokeLease(key_, "first"));
  ASSERT_FALSE(store_->ClaimLease(key_, {"second", 10s}));
  EXPECT_EQ(InfoOf(key_)->holder, "second");
  Advance(10s);
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(store_->ClaimLease(key_, {"third", 3s}));
  EXPECT_EQ(InfoOf(key_)->holder, "third");
  EXPECT_EQ(InfoOf(key_)->expiry, t0 + 3s);
  Advance(3s);
  ASSERT_FALSE(store_->ClaimLease(key_, {"third", 3s}));  // The same holder, anew.
}

// ---------------------------------------------------------------- S7: ExtendLease

TEST_F(StoreSemantics, S7_ExtendLeaseByHolderTakesTheLaterExpiryNeverShortens) {
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  const std::uint64_t epoch = InfoOf(key_)->epoch;
  Advance(2s);
  ASSERT_FALSE(store_->ExtendLease(key_, {"holder", 5s}));  // t0+7s < t0+10s: unchanged.
  EXPECT_EQ(InfoOf(key_)->expiry, t0 + 10s);
  ASSERT_FALSE(store_->ExtendLease(key_, {"holder", 1ns}));
  EXPECT_EQ(InfoOf(key_)->expiry, t0 + 10s);
  ASSERT_FALSE(store_->ExtendLease(key_, {"holder", 20s}));
  EXPECT_EQ(InfoOf(key_)->expiry, t0 + 22s);
  EXPECT_EQ(InfoOf(key_)->epoch, epoch);
  EXPECT_EQ(InfoOf(key_)->holder, "holder");
  Advance(20s - 1ns);
  EXPECT_TRUE(InfoOf(key_));
  Advance(1ns);
  EXPECT_FALSE(InfoOf(key_));
}

TEST_F(StoreSemantics, S7_ExtendLeaseFailsWithInvalidUnlessRequesterHolds) {
  // Nobody: never claimed. Nothing may be created.
  EXPECT_EQ(store_->ExtendLease(key_, {"holder", 10s}), ErrInvalid);
  EXPECT_TRUE(HeldLeases().empty());
  // Another holder: unchanged.
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  const std::string held = DumpState(*store_);
  EXPECT_EQ(store_->ExtendLease(key_, {"other", 100s}), ErrInvalid);
  EXPECT_TRUE(IsInvalid(store_->ExtendLease(key_, {"other", 1s})));
  EXPECT_EQ(DumpState(*store_), held);
  // Expired: the former holder can no longer extend; it stays free.
  Advance(10s);
  EXPECT_EQ(store_->ExtendLease(key_, {"holder", 10s}), ErrInvalid);
  EXPECT_FALSE(InfoOf(key_));
  // Revoked: likewise.
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->RevokeLease(key_, "holder"));
  EXPECT_EQ(store_->ExtendLease(key_, {"holder", 10s}), ErrInvalid);
  EXPECT_FALSE(InfoOf(key_));
}

// ---------------------------------------------------------------- S8: RevokeLease

TEST_F(StoreSemantics, S8_RevokeLeaseByHolderVacatesAtOnce) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  TokenCache cache;
  ASSERT_FALSE(store_->CheckLease(key_, "holder", &cache));
  ASSERT_FALSE(store_->RevokeLease(key_, "holder"));
  EXPECT_FALSE(InfoOf(key_));
  EXPECT_EQ(store_->CheckLease(key_, "holder", &cache), Errc::not_held);
  EXPECT_FALSE(store_->ClaimLease(key_, {"other", 10s}));  // No waiting for the old expiry.
}

// Revoke takes the names as string_views, which may hold a NUL: "holder\0"
// must not pass for the stored "holder" (stored names are zero-padded).
TEST_F(StoreSemantics, S8_RevokeByViewRefusesNamesWithANulAndKeepsTheLease) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  const std::string before = DumpState(*store_);
  EXPECT_EQ(store_->Revoke(key_, std::string("holder\0", 7)), Errc::invalid_name);
  const std::string lease_nul = key_.lease + std::string(1, '\0');
  EXPECT_EQ(store_->Revoke(KeyView(key_.ns, key_.model_uuid, lease_nul), "holder"),
            Errc::invalid_name);
  EXPECT_EQ(DumpState(*store_), before);
  ASSERT_FALSE(store_->Revoke(key_, "holder"));
  EXPECT_FALSE(InfoOf(key_));
}

TEST_F(StoreSemantics, S8_RevokeLeaseKeepsPins) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->PinLease(key_, "entity"));
  ASSERT_FALSE(store_->RevokeLease(key_, "holder"));
  EXPECT_FALSE(InfoOf(key_));
  EXPECT_EQ(Pins(), (PinMap{{key_, {"entity"}}}));
}

TEST_F(StoreSemantics, S8_RevokeLeaseFailsWithInvalidUnlessHolderHolds) {
  EXPECT_EQ(store_->RevokeLease(key_, "holder"), ErrInvalid);  // Never claimed.
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  const std::string before = DumpState(*store_);
  EXPECT_EQ(store_->RevokeLease(key_, "other"), ErrInvalid);
  EXPECT_EQ(DumpState(*store_), before);
  Advance(10s);
  EXPECT_EQ(store_->RevokeLease(key_, "holder"), ErrInvalid);  // Expired.
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->RevokeLease(key_, "holder"));
  EXPECT_EQ(store_->RevokeLease(key_, "holder"), ErrInvalid);  // Already revoked.
}

// ---------------------------------------------------------------- S9: Leases, LeaseGroup

TEST_F(StoreSemantics, S9_LeasesSnapshotsEveryNamespaceAndModel) {
  const Key a{"ns1", "m1", "a"}, b{"ns1", "m2", "a"}, c{"ns2", "m1", "a"}, d{"ns2", "m1", "d"};
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(store_->ClaimLease(a, {"ha", 1s}));
  ASSERT_FALSE(store_->ClaimLease(b, {"hb", 2s}));
  ASSERT_FALSE(store_->ClaimLease(c, {"hc", 3s}));
  ASSERT_FALSE(store_->ClaimLease(d, {"hd", 4s}));
  LeaseMap all = HeldLeases();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all.at(a).holder, "ha");
  EXPECT_EQ(all.at(b).expiry, t0 + 2s);
  EXPECT_EQ(all.at(c).holder, "hc");
  EXPECT_EQ(all.at(d).expiry, t0 + 4s);
  // Only the given keys; keys not held are simply absent.
  LeaseMap some = HeldLeases({a, d, Key{"ns9", "m9", "never"}});
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some.at(a), all.at(a));
  EXPECT_EQ(some.at(d), all.at(d));
}

TEST_F(StoreSemantics, S9_ExpiredUnpinnedLeasesNeverAppear) {
  const Key a{"ns", "m", "a"}, b{"ns", "m", "b"}, c{"ns", "m", "c"};
  ASSERT_FALSE(store_->ClaimLease(a, {"h", 1s}));
  ASSERT_FALSE(store_->ClaimLease(b, {"h", 1s}));
  ASSERT_FALSE(store_->ClaimLease(c, {"h", 5s}));
  ASSERT_FALSE(store_->PinLease(b, "entity"));
  Advance(1s);
  LeaseMap all = HeldLeases();
  EXPECT_EQ(all.count(a), 0u);
  EXPECT_EQ(all.count(b), 1u);  // Expired, but pinned: still held.
  EXPECT_EQ(all.count(c), 1u);
  EXPECT_EQ(HeldLeases({a}).size(), 0u);
  LeaseMap group;
  ASSERT_FALSE(store_->LeaseGroup("ns", "m", &group));
  EXPECT_EQ(group, all);
  std::vector<LeaseEntry> snapshot;
  ASSERT_FALSE(store_->Snapshot(&snapshot));
  for (const LeaseEntry& e : snapshot) EXPECT_NE(e.key, a);
}

TEST_F(StoreSemantics, S9_LeaseGroupIsOneNamespaceAndModel) {
  ASSERT_FALSE(store_->ClaimLease({"ns1", "m1", "a"}, {"h1", 10s}));
  ASSERT_FALSE(store_->ClaimLease({"ns1", "m1", "b"}, {"h2", 10s}));
  ASSERT_FALSE(store_->ClaimLease({"ns1", "m2", "a"}, {"h3", 10s}));
  ASSERT_FALSE(store_->ClaimLease({"ns2", "m1", "a"}, {"h4", 10s}));
  ASSERT_FALSE(store_->ClaimLease({"ns1m", "1", "a"}, {"h5", 10s}));
  LeaseMap group;
  ASSERT_FALSE(store_->LeaseGroup("ns1", "m1", &group));
  ASSERT_EQ(group.size(), 2u);
  EXPECT_EQ(group.at(Key{"ns1", "m1", "a"}).holder, "h1");
  EXPECT_EQ(group.at(Key{"ns1", "m1", "b"}).holder, "h2");
  ASSERT_FALSE(store_->LeaseGroup("ns3", "m1", &group));
  EXPECT_TRUE(group.empty());
}

// ---------------------------------------------------------------- S10, S11: pins

TEST_F(StoreSemantics, S10_PinLeaseRecordsEachEntityOnce) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->PinLease(key_, "e1"));
  ASSERT_FALSE(store_->PinLease(key_, "e1"));
  ASSERT_FALSE(store_->PinLease(key_, "e2"));
  ASSERT_FALSE(store_->PinLease(key_, "e1"));
  EXPECT_EQ(Pins(), (PinMap{{key_, {"e1", "e2"}}}));
}

TEST_F(StoreSemantics, S10_PinLeaseNeedNotBeHeld) {
  ASSERT_FALSE(store_->PinLease(key_, "entity"));
  EXPECT_EQ(Pins(), (PinMap{{key_, {"entity"}}}));
  EXPECT_TRUE(HeldLeases().empty());
  TokenCache cache;
  EXPECT_EQ(store_->CheckLease(key_, "entity", &cache), Errc::not_held);
}

TEST_F(StoreSemantics, S10_AtMostMaxPinsDistinctEntitiesButRepinningIsFine) {
  for (std::size_t i = 0; i < kMaxPinsPerLease; ++i) {
    ASSERT_FALSE(store_->PinLease(key_, "e" + std::to_string(i)));
  }
  const std::string before = DumpState(*store_);
  EXPECT_EQ(store_->PinLease(key_, "one-too-many"), Errc::too_many_pins);
  EXPECT_FALSE(store_->PinLease(key_, "e3"));
  EXPECT_EQ(DumpState(*store_), before);
  EXPECT_EQ(Pins().at(key_).size(), kMaxPinsPerLease);
}

TEST_F(StoreSemantics, S11_UnpinLeaseRemovesOnlyThatEntity) {
  ASSERT_FALSE(store_->PinLease(key_, "e1"));
  ASSERT_FALSE(store_->PinLease(key_, "e2"));
  ASSERT_FALSE(store_->PinLease(key_, "e3"));
  ASSERT_FALSE(store_->UnpinLease(key_, "e2"));
  EXPECT_EQ(Pins(), (PinMap{{key_, {"e1", "e3"}}}));
  ASSERT_FALSE(store_->UnpinLease(key_, "e1"));
  ASSERT_FALSE(store_->UnpinLease(key_, "e3"));
  EXPECT_TRUE(Pins().empty());
}

TEST_F(StoreSemantics, S11_UnpinOfMissingPinIsNotAnError) {
  EXPECT_FALSE(store_->UnpinLease(key_, "entity"));  // Key never seen.
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->PinLease(key_, "e1"));
  const std::string before = DumpState(*store_);
  EXPECT_FALSE(store_->UnpinLease(key_, "e2"));  // Another entity's pin.
  EXPECT_FALSE(store_->UnpinLease(key_, "holder"));
  EXPECT_EQ(DumpState(*store_), before);
  ASSERT_FALSE(store_->UnpinLease(key_, "e1"));
  EXPECT_FALSE(store_->UnpinLease(key_, "e1"));  // Twice.
  EXPECT_TRUE(Pins().empty());
}

TEST_F(StoreSemantics, S11_PinnedListsEveryPinnedKeyWithEachEntityOnce) {
  const Key a{"ns1", "m1", "a"}, b{"ns2", "m2", "b"}, c{"ns1", "m1", "c"};
  ASSERT_FALSE(store_->ClaimLease(a, {"h", 10s}));
  ASSERT_FALSE(store_->PinLease(a, "z"));
  ASSERT_FALSE(store_->PinLease(a, "y"));
  ASSERT_FALSE(store_->PinLease(a, "z"));
  ASSERT_FALSE(store_->PinLease(b, "x"));
  ASSERT_FALSE(store_->ClaimLease(c, {"h", 10s}));  // Held, never pinned: not listed.
  EXPECT_EQ(Pins(), (PinMap{{a, {"y", "z"}}, {b, {"x"}}}));
}

// ---------------------------------------------------------------- S12: bad input changes nothing

TEST_F(StoreSemantics, S12_InvalidArgumentsFailFirstAndChangeNothing) {
  const Key held{"ns", "model", "held"}, pinned{"ns", "model", "pinned"};
  ASSERT_FALSE(store_->ClaimLease(held, {"holder", 10s}));
  ASSERT_FALSE(store_->PinLease(pinned, "entity"));
  ASSERT_FALSE(store_->ClaimLease(pinned, {"holder", 10s}));
  const std::string before = DumpState(*store_);
  const std::string n65(65, 'x');
  const Errc input_errors[] = {Errc::invalid_name, Errc::name_too_long, Errc::invalid_duration};
  auto expect_input_error = [&](std::error_code ec, const char* what) {
    // A distinct error: never success, never one of the seed's state errors.
    EXPECT_TRUE(ec == input_errors[0] || ec == input_errors[1] || ec == input_errors[2])
        << what << ": " << ec.message();
  };
  for (const std::string& bad : {std::string(""), std::string("a b"), n65}) {
    for (const Key& k :
         {Key{bad, "model", "held"}, Key{"ns", bad, "held"}, Key{"ns", "model", bad}}) {
      expect_input_error(store_->ClaimLease(k, {"holder", 10s}), "ClaimLease key");
      expect_input_error(store_->ExtendLease(k, {"holder", 10s}), "ExtendLease key");
      expect_input_error(store_->ClaimOrExtendLease(k, {"holder", 10s}), "ClaimOrExtend key");
      expect_input_error(store_->RevokeLease(k, "holder"), "RevokeLease key");
      expect_input_error(store_->PinLease(k, "entity"), "PinLease key");
      expect_input_error(store_->UnpinLease(k, "entity"), "UnpinLease key");
    }
    // Valid keys of existing leases, with a bad holder or entity.
    expect_input_error(store_->ClaimLease({"ns", "model", "fresh"}, {bad, 10s}), "ClaimLease");
    expect_input_error(store_->ExtendLease(held, {bad, 10s}), "ExtendLease");
    expect_input_error(store_->ClaimOrExtendLease(held, {bad, 10s}), "ClaimOrExtend");
    expect_input_error(store_->RevokeLease(held, bad), "RevokeLease");
    expect_input_error(store_->PinLease(held, bad), "PinLease");
    expect_input_error(store_->UnpinLease(pinned, bad), "UnpinLease");
  }
  expect_input_error(store_->ExtendLease(held, {"holder", 0s}), "ExtendLease 0s");
  expect_input_error(store_->ClaimOrExtendLease(held, {"holder", -1s}), "ClaimOrExtend -1s");
  expect_input_error(store_->ClaimLease({"ns", "model", "fresh"}, {"holder", 0s}), "Claim 0s");
  EXPECT_EQ(DumpState(*store_), before);
}

// ---------------------------------------------------------------- S16: epochs

TEST_F(StoreSemantics, S16_EveryNewHoldingGetsALargerEpoch) {
  std::vector<std::uint64_t> epochs;
  auto record = [&] {
    std::optional<Info> info = InfoOf(key_);
    ASSERT_TRUE(info);
    epochs.push_back(info->epoch);
  };
  ASSERT_FALSE(store_->ClaimLease(key_, {"a", 10s}));
  record();
  ASSERT_FALSE(store_->RevokeLease(key_, "a"));
  ASSERT_FALSE(store_->ClaimLease(key_, {"a", 10s}));  // Same holder, new holding.
  record();
  Advance(10s);
  ASSERT_FALSE(store_->ClaimLease(key_, {"b", 10s}));  // After expiry.
  record();
  ASSERT_FALSE(store_->ClaimLease({"ns", "model", "other"}, {"c", 10s}));  // Another lease...
  ASSERT_FALSE(store_->RevokeLease(key_, "b"));
  ASSERT_FALSE(store_->ClaimOrExtendLease(key_, {"c", 10s}));  // ...does not reset the order.
  record();
  for (std::size_t i = 1; i < epochs.size(); ++i) EXPECT_GT(epochs[i], epochs[i - 1]) << i;
  ShmStats stats;
  ASSERT_FALSE(store_->GetStats(&stats));
  EXPECT_GE(stats.epoch, epochs.back());
}

TEST_F(StoreSemantics, S16_ExtensionNeverChangesTheEpoch) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  const std::uint64_t epoch = InfoOf(key_)->epoch;
  for (int i = 0; i < 5; ++i) {
    Advance(5s);
    ASSERT_FALSE(store_->ExtendLease(key_, {"holder", 10s}));
    ASSERT_FALSE(store_->ClaimOrExtendLease(key_, {"holder", 10s}));
    EXPECT_EQ(InfoOf(key_)->epoch, epoch);
  }
}

// ---------------------------------------------------------------- S20, S21: pins and expiry

TEST_F(StoreSemantics, S20_PinnedLeaseOutlivesItsExpiryAndOthersCannotClaim) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->PinLease(key_, "entity"));
  Advance(1h);
  ASSERT_TRUE(InfoOf(key_));
  EXPECT_EQ(InfoOf(key_)->holder, "holder");
  EXPECT_EQ(store_->ClaimLease(key_, {"other", 10s}), ErrHeld);
  EXPECT_EQ(store_->ClaimOrExtendLease(key_, {"other", 10s}), ErrClaimDenied);
  TokenCache cache;
  EXPECT_FALSE(store_->CheckLease(key_, "holder", &cache));
  // The holder still holds it: it can extend and revoke.
  EXPECT_FALSE(store_->ExtendLease(key_, {"holder", 1s}));
  EXPECT_FALSE(store_->RevokeLease(key_, "holder"));
  EXPECT_FALSE(InfoOf(key_));
}

TEST_F(StoreSemantics, S20_LastUnpinAfterExpiryFreesAtOnce) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->PinLease(key_, "e1"));
  ASSERT_FALSE(store_->PinLease(key_, "e2"));
  Advance(11s);
  ASSERT_FALSE(store_->UnpinLease(key_, "e1"));
  EXPECT_TRUE(InfoOf(key_)) << "one pin left";
  ASSERT_FALSE(store_->UnpinLease(key_, "e2"));
  EXPECT_FALSE(InfoOf(key_));
  TokenCache cache;
  EXPECT_EQ(store_->CheckLease(key_, "holder", &cache), Errc::not_held);
  // A pin after the holding ended does not bring it back.
  ASSERT_FALSE(store_->PinLease(key_, "e1"));
  EXPECT_FALSE(InfoOf(key_));
  EXPECT_FALSE(store_->ClaimLease(key_, {"other", 10s}));
}

TEST_F(StoreSemantics, S20_UnpinBeforeExpiryResumesTheRecordedExpiry) {
  const Clock::time_point t0 = store_->Now();
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->PinLease(key_, "entity"));
  Advance(4s);
  ASSERT_FALSE(store_->ExtendLease(key_, {"holder", 8s}));  // Recorded expiry t0 + 12s.
  ASSERT_FALSE(store_->UnpinLease(key_, "entity"));
  EXPECT_EQ(InfoOf(key_)->expiry, t0 + 12s);
  Advance(8s - 1ns);
  EXPECT_TRUE(InfoOf(key_));
  Advance(1ns);
  EXPECT_FALSE(InfoOf(key_));
}

TEST_F(StoreSemantics, S20_PinAfterExpiryDoesNotReviveTheHolding) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  Advance(10s);
  ASSERT_FALSE(store_->PinLease(key_, "entity"));
  EXPECT_FALSE(InfoOf(key_));
  EXPECT_EQ(store_->ExtendLease(key_, {"holder", 10s}), ErrInvalid);
  // The pin is kept and binds the next claimant (S21).
  ASSERT_FALSE(store_->ClaimLease(key_, {"next", 1s}));
  Advance(1h);
  EXPECT_EQ(InfoOf(key_)->holder, "next");
}

TEST_F(StoreSemantics, S21_PinOnUnheldLeaseIsKeptAndBindsTheNextClaimant) {
  ASSERT_FALSE(store_->PinLease(key_, "entity"));
  Advance(1h);
  EXPECT_EQ(Pins(), (PinMap{{key_, {"entity"}}}));
  EXPECT_TRUE(HeldLeases().empty());
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  Advance(1h);
  EXPECT_EQ(InfoOf(key_)->holder, "holder");
  EXPECT_EQ(store_->ClaimLease(key_, {"other", 10s}), ErrHeld);
  ASSERT_FALSE(store_->UnpinLease(key_, "entity"));
  EXPECT_FALSE(InfoOf(key_));
  EXPECT_FALSE(store_->ClaimLease(key_, {"other", 10s}));
}

TEST_F(StoreSemantics, S21_PinSurvivesRevokeAndBindsTheNextHolderToo) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"first", 10s}));
  ASSERT_FALSE(store_->PinLease(key_, "entity"));
  ASSERT_FALSE(store_->RevokeLease(key_, "first"));
  ASSERT_FALSE(store_->ClaimLease(key_, {"second", 10s}));
  Advance(1h);
  EXPECT_EQ(InfoOf(key_)->holder, "second");
}

// ---------------------------------------------------------------- S24: stop tokens

TEST_F(StoreSemantics, S24_StopRequestedBeforeTheCallAbortsEveryWriteAndChangesNothing) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  ASSERT_FALSE(store_->PinLease(key_, "entity"));
  const std::string before = DumpState(*store_);
  std::stop_source source;
  source.request_stop();
  const std::stop_token stop = source.get_token();
  const Key fresh{"ns", "model", "fresh"};
  EXPECT_EQ(store_->ClaimLease(fresh, {"holder", 10s}, stop), ErrAborted);
  EXPECT_EQ(store_->ExtendLease(key_, {"holder", 100s}, stop), ErrAborted);
  EXPECT_EQ(store_->ClaimOrExtendLease(key_, {"holder", 100s}, nullptr, stop), ErrAborted);
  EXPECT_EQ(store_->ClaimOrExtendLease(fresh, {"holder", 100s}, nullptr, stop), ErrAborted);
  EXPECT_EQ(store_->RevokeLease(key_, "holder", stop), ErrAborted);
  EXPECT_EQ(store_->PinLease(key_, "other", stop), ErrAborted);
  EXPECT_EQ(store_->PinLease(fresh, "other", stop), ErrAborted);
  EXPECT_EQ(store_->UnpinLease(key_, "entity", stop), ErrAborted);
  EXPECT_TRUE(IsAborted(store_->RevokeLease(key_, "holder", stop)));
  EXPECT_EQ(DumpState(*store_), before);
  // An unstopped token still works.
  std::stop_source live;
  EXPECT_FALSE(store_->ClaimLease(fresh, {"holder", 10s}, live.get_token()));
}

TEST_F(StoreSemantics, S19_WaitUntilFreeWithStopRequestedOnHeldLeaseIsCancelled) {
  ASSERT_FALSE(store_->ClaimLease(key_, {"holder", 10s}));
  std::stop_source source;
  source.request_stop();
  EXPECT_EQ(store_->WaitUntilFree(key_, source.get_token()), ErrWaitCancelled);
  EXPECT_TRUE(InfoOf(key_));
}

// ---------------------------------------------------------------- S28: CLOCK_MONOTONIC

TEST(Clock, S28_RealClockStoreTimeAndExpiriesAreClockMonotonic) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name(), /*fake_clock=*/false));
  ASSERT_TRUE(store);
  const Key key{"ns", "model", "lease"};
  for (int i = 0; i < 100; ++i) {
    const std::int64_t before = MonotonicNowNs();
    const std::int64_t now = store->Now().time_since_epoch().count();
    const std::int64_t after = MonotonicNowNs();
    EXPECT_LE(before, now);
    EXPECT_LE(now, after);
  }
  const std::int64_t before = MonotonicNowNs();
  ASSERT_FALSE(store->ClaimLease(key, {"holder", 1h}));
  const std::int64_t after = MonotonicNowNs();
  LeaseMap leases;
  ASSERT_FALSE(store->Leases(&leases));
  const std::int64_t expiry = leases.at(key).expiry.time_since_epoch().count();
  const std::int64_t hour = std::chrono::nanoseconds(1h).count();
  EXPECT_LE(before + hour, expiry) << "t0 must not be read before the call starts";
  EXPECT_LE(expiry, after + hour) << "t0 must be read within the call";
  // steady_clock is the same clock: Info.expiry compares directly with it.
  EXPECT_GT(leases.at(key).expiry, Clock::now());
  EXPECT_EQ(store->AdvanceFakeClock(1s), ErrInvalid) << "a real clock cannot be moved";
}

TEST(Clock, S28_FakeClockMovesOnlyWhenAdvanced) {
  ScopedSegmentName seg;
  auto store = MustOpen(TestOptions(seg.name()));
  ASSERT_TRUE(store);
  const Clock::time_point t = store->Now();
  EXPECT_EQ(store->Now(), t);
  EXPECT_EQ(store->AdvanceFakeClock(0s), ErrInvalid);
  EXPECT_EQ(store->AdvanceFakeClock(-1s), ErrInvalid);
  ASSERT_FALSE(store->AdvanceFakeClock(3s));
  EXPECT_EQ(store->Now(), t + 3s);
  // Another handle on the same segment shares the one fake time line.
  auto other = MustOpen(TestOptions(seg.name()));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->Now(), t + 3s);
}

}  // namespace
}  // namespace shmlease

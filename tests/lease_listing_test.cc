// Listing held leases: Reader::Leases (Store::LeaseHolders), Store::LeaseGroup
// and Store::Leases over a table shared by several namespaces and models.
// ShmStore reads these straight from the table, sorts the names itself and
// merges into the caller's map; every result here is checked against a map
// built independently, fresh and merged into maps holding older or unrelated
// entries (a merge fed out of order would lose or keep the wrong entries).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../lib/name_order.h"
#include "forwarding_store.h"
#include "shmlease/shmlease.h"
#include "test_util.h"

namespace shmlease {
namespace {

using namespace std::chrono_literals;
using testing::MustOpen;
using testing::ScopedSegmentName;
using testing::TestOptions;

using Holders = std::map<std::string, std::string>;

// Juju's eight through a ShmStore, everything else by Store's defaults:
// Reader::Leases then goes through the default LeaseHolders (built on LeaseGroup).
using EightOnlyStore = testing::ForwardingStore;

class LeaseListing : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MustOpen(TestOptions(seg_.name(), /*fake_clock=*/true, /*capacity=*/2048));
    ASSERT_TRUE(store_);
  }

  void Claim(const Key& key, const std::string& holder, std::chrono::nanoseconds d = 10s) {
    ASSERT_FALSE(store_->ClaimLease(key, Request{holder, d})) << key.lease;
    claimed_[key] = holder;
  }

  // What the table should list, from the claims this test made and kept.
  Holders ExpectedGroup(const std::string& ns, const std::string& model) const {
    Holders want;
    for (const auto& [key, holder] : claimed_) {
      if (key.ns == ns && key.model_uuid == model) want[key.lease] = holder;
    }
    return want;
  }

  // Reader::Leases of one group through ShmStore and through Store's default,
  // each into a fresh map, a map holding the previous answer, and a map of
  // stale and unrelated entries; LeaseGroup and Leases agree with it.
  void ExpectGroup(const std::string& ns, const std::string& model, const Holders& want) {
    SCOPED_TRACE(ns + "/" + model);
    std::error_code ec;
    Manager direct(store_);
    Manager generic(std::make_shared<EightOnlyStore>(store_));
    for (Manager* m : {&direct, &generic}) {
      auto reader = m->Reader(ns, model, ec);
      ASSERT_FALSE(ec);
      Holders got;
      ASSERT_FALSE(reader->Leases(&got));
      EXPECT_EQ(got, want);
      ASSERT_FALSE(reader->Leases(&got));  // Merged into its own previous answer.
      EXPECT_EQ(got, want);
      Holders stale = StaleHolders(want);
      ASSERT_FALSE(reader->Leases(&stale));
      EXPECT_EQ(stale, want);
    }
    LeaseMap group;
    ASSERT_FALSE(store_->LeaseGroup(ns, model, &group));
    Holders from_group;
    for (const auto& [key, info] : group) {
      EXPECT_EQ(key.ns, ns);
      EXPECT_EQ(key.model_uuid, model);
      from_group[key.lease] = info.holder;
    }
    EXPECT_EQ(from_group, want);
  }

  // Every held lease through ShmStore::Leases (fresh and merged into stale
  // maps) equals the per-key answers, and lists exactly `want`.
  void ExpectAll(const std::map<Key, std::string>& want) {
    LeaseMap all;
    ASSERT_FALSE(store_->Leases(&all));
    std::map<Key, std::string> holders;
    std::vector<Key> keys;
    for (const auto& [key, info] : all) {
      holders[key] = info.holder;
      keys.push_back(key);
    }
    EXPECT_EQ(holders, want);
    LeaseMap by_key;
    ASSERT_FALSE(store_->Leases(&by_key, keys));
    EXPECT_EQ(by_key, all);  // Same holders, expiries and epochs.
    LeaseMap again = all;
    ASSERT_FALSE(store_->Leases(&again));
    EXPECT_EQ(again, all);
    LeaseMap stale;
    for (const auto& [key, info] : all) {
      stale[key] = Info{"old-" + info.holder, info.expiry - 1s, info.epoch + 1000};
      stale[Key{key.ns, key.model_uuid, key.lease + "-gone"}] = info;
      stale[Key{key.ns + "-gone", key.model_uuid, key.lease}] = info;
    }
    stale[Key{"!", "!", "!"}] = Info{"first", {}, 1};
    stale[Key{"~~", "~~", "~~"}] = Info{"last", {}, 1};
    ASSERT_FALSE(store_->Leases(&stale));
    EXPECT_EQ(stale, all);
  }

  // Entries around, between and equal to `want`'s, with other holders.
  static Holders StaleHolders(const Holders& want) {
    Holders stale{{"!", "x"}, {"~~~", "x"}, {"", "x"}};
    for (const auto& [lease, holder] : want) {
      stale[lease] = "old-" + holder;
      stale[lease + "-gone"] = "x";
      stale[lease.substr(0, lease.size() - 1)] = "x";
    }
    return stale;
  }

  ScopedSegmentName seg_;
  std::shared_ptr<ShmStore> store_;
  std::map<Key, std::string> claimed_;
};

// Names that sort by their late bytes: prefixes of each other, sharing their
// first 8 and 16 bytes (the sort's cheap keys), 64 bytes long, and bytes
// above 0x7F (which sort after ASCII, as unsigned chars).
std::vector<std::string> TrickyNames() {
  const std::string p16 = "0123456789abcdef";
  std::vector<std::string> names = {
      "a",
      "ab",
      "abc",
      "abd",
      "b",
      "lease-0",
      "lease-00",
      "lease-000",
      "lease-1",
      p16.substr(0, 8),
      p16.substr(0, 8) + "z",
      p16.substr(0, 15),
      p16,
      p16 + "0",
      p16 + "-",
      p16 + "A",
      p16 + "a",
      p16 + "\xc3\xa9",
      p16 + std::string(48, 'x'),
      p16 + std::string(47, 'x'),
      p16 + std::string(47, 'x') + "y",
      p16 + std::string(47, 'x') + "w",
      std::string(64, 'z'),
      std::string(63, 'z'),
      std::string(63, 'z') + "y",
      std::string(56, 'z'),
      std::string(56, 'z') + "a",
      "\xc3\xa9t\xc3\xa9",
      "\xff",
      "~",
  };
  return names;
}

// The Manager's fast paths (ClaimOrExtend, ClaimOrExtendCached, Revoke by
// KeyView, LeaseHolders) have defaults built on Juju's eight: a Manager over
// a store that has only those behaves as one over a ShmStore.
TEST_F(LeaseListing, AStoreWithOnlyJujusEightServesClaimsHoldingsAndRevokes) {
  Manager generic(std::make_shared<EightOnlyStore>(store_));
  std::error_code ec;
  auto claimer = generic.Claimer("ns", "model", ec);
  ASSERT_FALSE(ec);
  auto revoker = generic.Revoker("ns", "model", ec);
  ASSERT_FALSE(ec);
  auto reader = generic.Reader("ns", "model", ec);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(claimer->Claim("a", "h1", 10s));
  ASSERT_FALSE(claimer->Claim("a", "h1", 10s));
  Holding b = claimer->Holding("b", "h2");
  ASSERT_FALSE(b.Claim(10s));
  ASSERT_FALSE(b.Claim(10s));
  EXPECT_EQ(claimer->Claim("b", "h1", 10s), Errc::claim_denied);
  Holders got;
  ASSERT_FALSE(reader->Leases(&got));
  EXPECT_EQ(got, (Holders{{"a", "h1"}, {"b", "h2"}}));
  EXPECT_EQ(revoker->Revoke("a", "h2"), Errc::not_held);
  EXPECT_EQ(revoker->Revoke("a", "bad name"), Errc::invalid_name);
  ASSERT_FALSE(revoker->Revoke("a", "h1"));
  ASSERT_FALSE(revoker->Revoke("a", "h1"));  // Nobody holds it: nothing to give up.
  ASSERT_FALSE(reader->Leases(&got));
  EXPECT_EQ(got, (Holders{{"b", "h2"}}));
}

TEST_F(LeaseListing, OnlyTheGroupsLeasesWithTheirHoldersAmongSeveralModelsAndNamespaces) {
  const std::vector<std::pair<std::string, std::string>> groups = {
      {"ns", "model"},
      {"ns", "model2"},
      {"ns2", "model"},
      {"ns", "mode"},  // A prefix of another group's model.
      {"n", "model"},  // A prefix of another group's namespace.
      {std::string(kSingularControllerNamespace), "5f1e0a4c-7d35-4c1b-9a2e-3b8d6c0f9e11"},
  };
  // The same lease names in several groups, with different holders.
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (int i = 0; i < 20; ++i) {
      if ((i + g) % 3 == 0) continue;
      Claim(Key{groups[g].first, groups[g].second, "lease-" + std::to_string(i)},
            "holder-" + std::to_string(g) + "-" + std::to_string(i % 4));
    }
  }
  for (const auto& [ns, model] : groups) ExpectGroup(ns, model, ExpectedGroup(ns, model));
  ExpectGroup("ns", "nobody", {});
  ExpectGroup("nobody", "model", {});
  ExpectAll(claimed_);
}

TEST_F(LeaseListing, ExpiredAndRevokedLeasesAreLeftOutPinnedExpiredOnesAreHeld) {
  Claim(Key{"ns", "model", "expired"}, "h1", 1s);
  Claim(Key{"ns", "model", "held"}, "h2", 10s);
  Claim(Key{"ns", "model", "revoked"}, "h3", 10s);
  Claim(Key{"ns", "model", "pinned-expired"}, "h4", 1s);
  Claim(Key{"ns", "model", "revoked-pinned"}, "h5", 10s);
  ASSERT_FALSE(store_->PinLease(Key{"ns", "model", "pinned-expired"}, "entity"));
  ASSERT_FALSE(store_->PinLease(Key{"ns", "model", "revoked-pinned"}, "entity"));
  ASSERT_FALSE(store_->PinLease(Key{"ns", "model", "pinned-never-held"}, "entity"));
  ASSERT_FALSE(store_->RevokeLease(Key{"ns", "model", "revoked"}, "h3"));
  ASSERT_FALSE(store_->RevokeLease(Key{"ns", "model", "revoked-pinned"}, "h5"));
  // Another group's expired and held leases change nothing here.
  Claim(Key{"ns", "other", "expired"}, "o1", 1s);
  Claim(Key{"ns", "other", "held"}, "o2", 10s);
  ASSERT_FALSE(store_->AdvanceFakeClock(2s));

  const Holders want{{"held", "h2"}, {"pinned-expired", "h4"}};
  ExpectGroup("ns", "model", want);
  ExpectGroup("ns", "other", Holders{{"held", "o2"}});
  ExpectAll({{Key{"ns", "model", "held"}, "h2"},
             {Key{"ns", "model", "pinned-expired"}, "h4"},
             {Key{"ns", "other", "held"}, "o2"}});

  // The same answer as LeaseGroup gave before this change: held means held
  // and unexpired, or held and pinned.
  LeaseMap group;
  ASSERT_FALSE(store_->LeaseGroup("ns", "model", &group));
  ASSERT_EQ(group.size(), 2u);
  EXPECT_LT(group.at(Key{"ns", "model", "pinned-expired"}).expiry, store_->Now());

  // Once the last pin goes, the expired lease is gone from the listing too.
  ASSERT_FALSE(store_->UnpinLease(Key{"ns", "model", "pinned-expired"}, "entity"));
  ExpectGroup("ns", "model", Holders{{"held", "h2"}});
}

TEST_F(LeaseListing, NamesSortedByEveryByteFewAndMany) {
  // Few names (a comparison sort) in one group, many (a radix sort on their
  // first 16 bytes, then the rest) in another.
  const std::vector<std::string> tricky = TrickyNames();
  std::mt19937 rng(7);
  std::vector<std::string> few = tricky;
  std::shuffle(few.begin(), few.end(), rng);
  for (std::size_t i = 0; i < few.size(); ++i) {
    Claim(Key{"ns", "few", few[i]}, "h" + std::to_string(i));
  }
  std::set<std::string> many(tricky.begin(), tricky.end());
  const std::string p16 = "0123456789abcdef";
  for (int i = 0; i < 300; ++i) {
    many.insert("lease-" + std::to_string(i));
    many.insert(p16 + std::to_string(i * 7919 % 1000));
    many.insert(std::to_string(i) + p16);
  }
  std::vector<std::string> shuffled(many.begin(), many.end());
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  ASSERT_LT(shuffled.size(), 2048u);
  for (std::size_t i = 0; i < shuffled.size(); ++i) {
    Claim(Key{"ns", "many", shuffled[i]}, "holder-" + std::to_string(i % 5));
  }
  ExpectGroup("ns", "few", ExpectedGroup("ns", "few"));
  ExpectGroup("ns", "many", ExpectedGroup("ns", "many"));
  ExpectAll(claimed_);
}

TEST_F(LeaseListing, SixtyFourByteNamespacesModelsLeasesAndHolders) {
  const std::string n64(64, 'n'), m64(64, 'm'), h64(64, 'h');
  // Groups whose names are prefixes of each other at and around word ends.
  const std::vector<std::pair<std::string, std::string>> groups = {
      {n64, m64},
      {n64.substr(0, 63), m64},
      {n64.substr(0, 56), m64},
      {n64, m64.substr(0, 63)},
      {n64, m64.substr(0, 8)},
  };
  for (std::size_t g = 0; g < groups.size(); ++g) {
    Claim(Key{groups[g].first, groups[g].second, std::string(64, 'l')}, h64);
    Claim(Key{groups[g].first, groups[g].second, std::string(63, 'l') + std::to_string(g)},
          h64.substr(0, 60) + std::to_string(g));
  }
  for (const auto& [ns, model] : groups) ExpectGroup(ns, model, ExpectedGroup(ns, model));
  ExpectAll(claimed_);
}

TEST_F(LeaseListing, MergingIntoThePreviousAnswerFollowsChanges) {
  std::error_code ec;
  Manager manager(store_);
  auto reader = manager.Reader("ns", "model", ec);
  ASSERT_FALSE(ec);
  for (int i = 0; i < 100; ++i) Claim(Key{"ns", "model", "l" + std::to_string(i)}, "a", 5s);
  Holders got;
  ASSERT_FALSE(reader->Leases(&got));
  EXPECT_EQ(got, ExpectedGroup("ns", "model"));
  LeaseMap all;
  ASSERT_FALSE(store_->Leases(&all));
  // Half expire, some are revoked and claimed by someone else, new ones come.
  ASSERT_FALSE(store_->AdvanceFakeClock(3s));
  for (int i = 0; i < 100; i += 2) {
    ASSERT_FALSE(
        store_->ExtendLease(Key{"ns", "model", "l" + std::to_string(i)}, Request{"a", 10s}));
  }
  ASSERT_FALSE(store_->AdvanceFakeClock(3s));
  for (int i = 1; i < 100; i += 2) claimed_.erase(Key{"ns", "model", "l" + std::to_string(i)});
  for (int i = 0; i < 100; i += 10) {
    const Key key{"ns", "model", "l" + std::to_string(i)};
    ASSERT_FALSE(store_->RevokeLease(key, "a"));
    Claim(key, "b");
  }
  for (int i = 0; i < 30; ++i) Claim(Key{"ns", "model", "new" + std::to_string(i)}, "c");
  ASSERT_FALSE(reader->Leases(&got));
  EXPECT_EQ(got, ExpectedGroup("ns", "model"));
  ASSERT_FALSE(store_->Leases(&all));  // Merged into the earlier answer.
  LeaseMap fresh;
  ASSERT_FALSE(store_->Leases(&fresh));
  EXPECT_EQ(all, fresh);
  ExpectAll(claimed_);
}

// A listing remembers the order it sorted into (SortMemory) and offers it to
// the next listing of as many leases: after a change that keeps the count,
// wherever the new names sort, every listing still gives exactly the held
// leases. (The merge into a std::map would hide an order gone wrong; the
// NameOrder test below checks the order itself.)
TEST_F(LeaseListing, AChangeThatKeepsTheCountStillListsInOrder) {
  char name[16];
  for (int i = 0; i < 200; ++i) {
    std::snprintf(name, sizeof name, "l%03d", i);
    Claim(Key{"ns", "model", name}, "a");
  }
  ExpectGroup("ns", "model", ExpectedGroup("ns", "model"));
  ExpectAll(claimed_);
  // One lease goes, one that sorts last comes; then one that sorts first.
  for (const auto& [gone, added] : {std::pair{"l050", "zz-new"}, std::pair{"l120", "a-new"}}) {
    ASSERT_FALSE(store_->RevokeLease(Key{"ns", "model", gone}, "a"));
    claimed_.erase(Key{"ns", "model", gone});
    Claim(Key{"ns", "model", added}, "b");
    ExpectGroup("ns", "model", ExpectedGroup("ns", "model"));
    ExpectAll(claimed_);
  }
  // A lease moves to another holder: same names, same order, new holder.
  ASSERT_FALSE(store_->RevokeLease(Key{"ns", "model", "l007"}, "a"));
  Claim(Key{"ns", "model", "l007"}, "c");
  ExpectGroup("ns", "model", ExpectedGroup("ns", "model"));
  ExpectAll(claimed_);
}

// Listings share their store's sort memory: several threads listing at once
// (TSan checks the sharing) each get the whole answer every time.
TEST_F(LeaseListing, ListingsFromSeveralThreadsAtOnceAgree) {
  for (int i = 0; i < 150; ++i) Claim(Key{"ns", "model", "l" + std::to_string(i)}, "a");
  const Holders want = ExpectedGroup("ns", "model");
  std::error_code ec;
  Manager manager(store_);
  auto reader = manager.Reader("ns", "model", ec);
  ASSERT_FALSE(ec);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Holders got;
      LeaseMap all;
      for (int round = 0; round < 40; ++round) {
        if (reader->Leases(&got) || got != want) ++wrong;
        if (t % 2 == 0 && (store_->Leases(&all) || all.size() != want.size())) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(LeaseListing, InvalidNamesFailAndLeaveTheMapEmpty) {
  Claim(Key{"ns", "model", "a"}, "h");
  Holders out{{"stale", "x"}};
  EXPECT_EQ(store_->LeaseHolders("bad name", "model", &out), Errc::invalid_name);
  EXPECT_TRUE(out.empty());
  out = {{"stale", "x"}};
  EXPECT_EQ(store_->LeaseHolders("ns", std::string(65, 'm'), &out), Errc::name_too_long);
  EXPECT_TRUE(out.empty());
  LeaseMap group{{Key{"a", "b", "c"}, Info{}}};
  EXPECT_EQ(store_->LeaseGroup("ns", "", &group), Errc::invalid_name);
  EXPECT_TRUE(group.empty());
  ASSERT_FALSE(store_->LeaseHolders("ns", "model", &out));
  EXPECT_EQ(out, (Holders{{"a", "h"}}));
}

using GroupName = std::pair<std::uint32_t, std::string>;

// (group, name) pairs made into SortKeys as a listing makes them (each key's
// index its position in `collected`), ordered by sort(keys, lease_of), and
// read back in the order the keys were left in.
template <typename Sort>
std::vector<GroupName> SortCollected(const std::vector<GroupName>& collected, Sort sort) {
  std::vector<internal::NameWords> stored;
  std::vector<internal::SortKey> keys;
  for (std::size_t i = 0; i < collected.size(); ++i) {
    stored.push_back(internal::NameWords::From(collected[i].second));
    keys.push_back(internal::MakeSortKey(stored.back(), collected[i].first, i));
  }
  sort(keys, [&stored](std::uint32_t i) -> const internal::NameWords& { return stored[i]; });
  std::vector<GroupName> got;
  for (const internal::SortKey& k : keys) {
    got.emplace_back(k.group, internal::NameView(stored[k.index]));
  }
  return got;
}

std::vector<GroupName> SortedByName(const std::vector<GroupName>& collected) {
  return SortCollected(collected,
                       [](auto& keys, auto lease_of) { internal::SortByName(keys, lease_of); });
}

std::vector<GroupName> Sorted(std::vector<GroupName> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The sort itself (a std::map hides the order it is fed in): SortByName
// orders (group, name) as the strings order, by comparisons below 64 keys
// and by radix from there, with names sharing their first 16 bytes and
// prefixes of each other; NameLength is strnlen.
TEST(NameOrder, SortByNameOrdersAsStringsFewAndMany) {
  std::vector<std::string> names = TrickyNames();
  const std::string p16 = "0123456789abcdef";
  std::mt19937 rng(11);
  for (std::size_t count :
       {std::size_t{5}, names.size(), std::size_t{63}, std::size_t{64}, std::size_t{500}}) {
    SCOPED_TRACE(count);
    while (names.size() < count) {
      names.push_back(names.size() % 2 ? p16 + std::to_string(rng() % 100000)
                                       : "lease-" + std::to_string(rng() % 100000));
    }
    std::vector<GroupName> collected;
    for (std::size_t i = 0; i < count; ++i) {
      collected.emplace_back(static_cast<std::uint32_t>(rng() % 3) * 0x01010101u, names[i]);
    }
    std::shuffle(collected.begin(), collected.end(), rng);
    EXPECT_EQ(SortedByName(collected), Sorted(collected));
  }
}

// Names that differ in few bytes (counters), as users name leases: the
// radix sort runs a pass only for those bytes, and ties in the first 16
// bytes still go to the comparison of the rest.
TEST(NameOrder, SortByNameOrdersNamesThatDifferInFewBytes) {
  std::mt19937 rng(12);
  for (std::size_t count : {std::size_t{64}, std::size_t{500}, std::size_t{5000}}) {
    SCOPED_TRACE(count);
    std::vector<GroupName> collected;
    for (std::size_t i = 0; i < count; ++i) {
      char digits[8];
      std::snprintf(digits, sizeof digits, "%03u", static_cast<unsigned>(rng() % 1000));
      // 16 bytes of which 3 vary, then a tail that breaks ties (or not).
      collected.emplace_back(
          static_cast<std::uint32_t>(rng() % 2),
          std::string("lease-000000") + digits + "x" + std::to_string(rng() % 20));
    }
    EXPECT_EQ(SortedByName(collected), Sorted(collected));
  }
}

// SortMemory reuses the last order only when it still sorts the keys: the
// same keys in the same collected order reuse it; changed names, the same
// names collected in another order, and equal keys are sorted afresh; every
// result is the sorted order.
TEST(NameOrder, SortMemoryReusesAnOrderOnlyWhileItStillSorts) {
  std::mt19937 rng(13);
  std::vector<std::string> names;
  for (int i = 0; i < 500; ++i) names.push_back("lease-" + std::to_string(rng() % 100000));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::shuffle(names.begin(), names.end(), rng);
  internal::SortMemory memory;
  // Sorts the names, collected in this order, and checks the result.
  auto sort_and_check = [&memory](const std::vector<std::string>& names_in_order) {
    std::vector<GroupName> collected;
    for (const std::string& n : names_in_order) collected.emplace_back(0, n);
    EXPECT_EQ(SortCollected(collected,
                            [&memory](auto& keys, auto lease_of) { memory.Sort(keys, lease_of); }),
              Sorted(collected));
  };
  sort_and_check(names);
  EXPECT_EQ(memory.reuses(), 0u);
  sort_and_check(names);
  sort_and_check(names);
  EXPECT_EQ(memory.reuses(), 2u);
  std::vector<std::string> changed = names;
  changed[17] = "zz";  // Sorts last, collected in the middle.
  sort_and_check(changed);
  EXPECT_EQ(memory.reuses(), 2u);
  sort_and_check(changed);
  EXPECT_EQ(memory.reuses(), 3u);
  std::vector<std::string> reordered = changed;
  std::swap(reordered[3], reordered[300]);  // The same names, collected in another order.
  sort_and_check(reordered);
  EXPECT_EQ(memory.reuses(), 3u);
  std::vector<std::string> twice = reordered;
  twice[5] = twice[6];  // Equal keys never reuse (the check wants a strict order).
  sort_and_check(twice);
  sort_and_check(twice);
  EXPECT_EQ(memory.reuses(), 3u);
  std::vector<std::string> fewer(names.begin(), names.end() - 1);  // Another size.
  sort_and_check(fewer);
  EXPECT_EQ(memory.reuses(), 3u);
}

TEST(NameOrder, NameLengthIsStrnlen) {
  for (std::size_t len = 0; len <= kMaxNameLength; ++len) {
    for (char c : {'a', '\x01', '\x80', '\xff'}) {
      const internal::NameWords n = internal::NameWords::From(std::string(len, c));
      EXPECT_EQ(internal::NameLength(n), len);
      EXPECT_EQ(internal::NameView(n), std::string(len, c));
    }
  }
}

}  // namespace
}  // namespace shmlease

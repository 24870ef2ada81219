// The key hash decides where every lease lives in a segment (layout version
// 2). Its fast form, which multiplies only the words a name fills, must equal
// the plain definition over every padded word, and it must spread keys.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

#include "../lib/shm_name.h"

namespace shmlease::internal {
namespace {

// The definition: every word of the three zero-padded names, in pairs, each
// pair with its position's constants, then the (shared) finaliser.
std::uint64_t ReferenceHash(const NameWords& ns, const NameWords& model, const NameWords& lease) {
  const NameWords* parts[3] = {&ns, &model, &lease};
  std::uint64_t acc = 0;
  for (std::size_t p = 0; p < 3; ++p) {
    for (std::size_t i = 0; i < kNameWords; i += 2) {
      const std::uint64_t* k = &hash_detail::kPositionKeys[p * kNameWords + i];
      acc ^= hash_detail::Mum(parts[p]->words[i] ^ k[0], parts[p]->words[i + 1] ^ k[1]);
    }
  }
  return hash_detail::Finalise(acc);
}

std::string NameOfLength(std::size_t n, char fill) { return std::string(n, fill); }

TEST(KeyHash, SkippingPaddingGivesTheDefinitionAtEveryLength) {
  for (std::size_t a = 1; a <= kMaxNameLength; a += 7) {
    for (std::size_t b = 1; b <= kMaxNameLength; b += 9) {
      for (std::size_t c = 1; c <= kMaxNameLength; ++c) {
        const NameWords ns = NameWords::From(NameOfLength(a, 'n'));
        const NameWords model = NameWords::From(NameOfLength(b, 'm'));
        const NameWords lease = NameWords::From(NameOfLength(c, 'l'));
        ASSERT_EQ(HashKey(ns, model, lease), ReferenceHash(ns, model, lease))
            << a << " " << b << " " << c;
      }
    }
  }
}

TEST(KeyHash, PartBoundariesMatter) {
  auto h = [](const char* a, const char* b, const char* c) {
    return HashKey(NameWords::From(a), NameWords::From(b), NameWords::From(c));
  };
  EXPECT_NE(h("ns", "ab", "c"), h("ns", "a", "bc"));
  EXPECT_NE(h("ab", "c", "x"), h("a", "bc", "x"));
  EXPECT_NE(h("a", "b", "c"), h("b", "a", "c"));
  EXPECT_NE(h("a", "b", "c"), h("a", "c", "b"));
  EXPECT_NE(h("abcdefgh12345678", "m", "l"), h("12345678abcdefgh", "m", "l"));  // Word order.
}

// Keys that differ only in a counter (how users name leases) fill the home
// slots evenly: what the table's probe lengths depend on. Deterministic
// inputs, so this cannot flake; it fails if a change makes the hash clump.
TEST(KeyHash, SequentialNamesSpreadOverHomeSlots) {
  constexpr std::size_t kBuckets = 64;
  constexpr std::size_t kKeys = 64 * 1024;
  std::array<std::size_t, kBuckets> count{};
  const NameWords ns = NameWords::From("singular-controller");
  const NameWords model = NameWords::From("local");
  for (std::size_t i = 0; i < kKeys; ++i) {
    const std::uint64_t hash = HashKey(ns, model, NameWords::From("lease-" + std::to_string(i)));
    ++count[hash >> 58];  // The top bits pick the home slot (multiply-shift).
  }
  for (std::size_t c : count) {
    EXPECT_GT(c, kKeys / kBuckets * 8 / 10);
    EXPECT_LT(c, kKeys / kBuckets * 12 / 10);
  }
}

}  // namespace
}  // namespace shmlease::internal

// A name's stored form (NameWords::From) is built word by word with
// overlapping loads and shifts instead of a zeroed buffer and a memcpy. It
// must give exactly the zero-padded bytes at every length, and read nothing
// outside the name: each name here lives in a heap block of exactly its
// length, so the ASan run reports any byte read past its end. SameBytes, the
// Claimer's inline comparison of names, is held to the same rules.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string_view>

#include "../lib/same_bytes.h"
#include "../lib/shm_name.h"

namespace shmlease::internal {
namespace {

// The definition: the first min(len, kMaxNameLength) bytes, then zeros.
NameWords ReferenceEncoding(std::string_view s) {
  NameWords n;
  std::memcpy(n.words, s.data(), std::min(s.size(), kMaxNameLength));
  return n;
}

TEST(NameEncoding, EveryLengthGivesTheZeroPaddedBytes) {
  for (std::size_t len = 0; len <= kMaxNameLength + 9; ++len) {
    // Distinct bytes, so that a byte in the wrong place or read twice shows.
    auto block = std::make_unique<char[]>(len == 0 ? 1 : len);
    for (std::size_t i = 0; i < len; ++i) block[i] = static_cast<char>(0x21 + (i * 7) % 90);
    const std::string_view name(block.get(), len);
    const NameWords got = NameWords::From(name);
    const NameWords want = ReferenceEncoding(name);
    for (std::size_t w = 0; w < kNameWords; ++w) {
      ASSERT_EQ(got.words[w], want.words[w]) << "length " << len << ", word " << w;
    }
  }
}

TEST(NameEncoding, HighBytesAreNotSignExtended) {
  // Bytes >= 0x80 (UTF-8 names) must not spill ones into the next bytes.
  for (std::size_t len = 1; len <= 16; ++len) {
    auto block = std::make_unique<char[]>(len);
    std::memset(block.get(), '\xe9', len);
    const std::string_view name(block.get(), len);
    EXPECT_EQ(NameWords::From(name), ReferenceEncoding(name)) << "length " << len;
  }
}

TEST(NameEncoding, RoundTripsThroughToString) {
  for (std::string_view s : {"a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "lease-000001",
                             "application-leadership"}) {
    EXPECT_EQ(NameWords::From(s).ToString(), s);
  }
}

// Two copies of the same bytes in separate exact-size blocks: equal; any one
// byte changed, at any position and length: unequal, and ordered as
// string_view::compare orders them; a prefix: unequal, and first.
TEST(SameBytes, SeesEveryByteAndNothingBeyond) {
  for (std::size_t len = 0; len <= kMaxNameLength + 9; ++len) {
    auto a = std::make_unique<char[]>(len == 0 ? 1 : len);
    auto b = std::make_unique<char[]>(len == 0 ? 1 : len);
    for (std::size_t i = 0; i < len; ++i) a[i] = b[i] = static_cast<char>(0x21 + (i * 7) % 90);
    const std::string_view sa(a.get(), len), sb(b.get(), len);
    ASSERT_TRUE(SameBytes(sa, sb)) << "length " << len;
    ASSERT_EQ(CompareBytes(sa, sb), 0) << "length " << len;
    for (std::size_t i = 0; i < len; ++i) {
      b[i] ^= 0x40;
      ASSERT_FALSE(SameBytes(sa, sb)) << "length " << len << ", byte " << i;
      ASSERT_FALSE(SameBytes(sb, sa)) << "length " << len << ", byte " << i;
      // CompareBytes orders as string_view::compare does.
      ASSERT_EQ(CompareBytes(sa, sb) < 0, sa.compare(sb) < 0) << "length " << len << ", byte " << i;
      ASSERT_EQ(CompareBytes(sb, sa) < 0, sb.compare(sa) < 0) << "length " << len << ", byte " << i;
      ASSERT_NE(CompareBytes(sa, sb), 0) << "length " << len << ", byte " << i;
      b[i] ^= 0x40;
    }
    if (len > 0) {
      EXPECT_FALSE(SameBytes(sa, sb.substr(0, len - 1))) << "length " << len;
      EXPECT_GT(CompareBytes(sa, sb.substr(0, len - 1)), 0) << "length " << len;
    }
  }
}

}  // namespace
}  // namespace shmlease::internal

// ValidateString must refuse exactly the bytes S1 (and the project's
// control-character rule) names, at every position and every length,
// whatever the bytes around them.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "shmlease/shmlease.h"

namespace shmlease {
namespace {

// The definition, one byte at a time.
bool Forbidden(unsigned char c) {
  return c <= 0x20 || c == 0x7F || c == '.' || c == '#' || c == '$';
}

// Lengths up to 50 take the 16-byte blocks (and the overlapping last block)
// as well as the byte loop. Each name lives in a heap block of exactly its
// length, so the ASan run reports any read past its end.
TEST(ValidateStringWords, EveryByteAtEveryPositionAndLength) {
  for (std::size_t len = 1; len <= 50; ++len) {
    auto block = std::make_unique<char[]>(len);
    const std::string_view s(block.get(), len);
    for (std::size_t pos = 0; pos < len; ++pos) {
      for (int b = 0; b < 256; ++b) {
        // Neighbours chosen to stress the word tricks' borrows and the
        // unsigned comparison: the smallest allowed byte and a UTF-8 byte
        // alternate around the one under test.
        for (std::size_t i = 0; i < len; ++i) block[i] = i % 2 ? '!' : static_cast<char>(0xC3);
        block[pos] = static_cast<char>(b);
        const bool refused = static_cast<bool>(ValidateString(s));
        ASSERT_EQ(refused, Forbidden(static_cast<unsigned char>(b)))
            << "byte " << b << " at " << pos << " of " << len;
      }
    }
  }
}

TEST(ValidateStringWords, LongValidNamesOfEveryLengthPass) {
  std::string s;
  for (int i = 0; i < 200; ++i) {
    const char c = static_cast<char>('!' + i % 94);  // Printable ASCII, '!' to '~'.
    s.push_back(Forbidden(static_cast<unsigned char>(c)) ? 'x' : c);
    EXPECT_FALSE(ValidateString(s)) << s;
  }
}

}  // namespace
}  // namespace shmlease

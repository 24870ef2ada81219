// Byte equality of two short strings without a library call.
#ifndef SHMLEASE_LIB_SAME_BYTES_H_
#define SHMLEASE_LIB_SAME_BYTES_H_

#include <cstdint>
#include <cstring>
#include <string_view>

namespace shmlease::internal {

// a == b, compared a word at a time inline. A Claimer compares the lease and
// holder it remembers with the caller's on every renewal; names are a few
// words long, and the two memcmp calls through the PLT that operator== makes
// cost more than the comparison. Reads no byte outside either string.
[[gnu::always_inline]] inline bool SameBytes(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  const auto word = [](const char* s) {
    std::uint64_t w;
    std::memcpy(&w, s, 8);
    return w;
  };
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      if (word(p + i) != word(q + i)) return false;
    }
    return word(p + n - 8) == word(q + n - 8);  // Overlaps the last full word.
  }
  if (n >= 4) {
    std::uint32_t p0, q0, p1, q1;
    std::memcpy(&p0, p, 4);
    std::memcpy(&q0, q, 4);
    std::memcpy(&p1, p + n - 4, 4);
    std::memcpy(&q1, q + n - 4, 4);
    return p0 == q0 && p1 == q1;
  }
  // 0 to 3 bytes: the first, middle and last cover them all.
  return n == 0 || (p[0] == q[0] && p[n / 2] == q[n / 2] && p[n - 1] == q[n - 1]);
}

// a.compare(b), with the equal case (the usual one when a listing is merged
// into the map of the previous listing) settled by SameBytes, without a call.
[[gnu::always_inline]] inline int CompareBytes(std::string_view a, std::string_view b) noexcept {
  return SameBytes(a, b) ? 0 : a.compare(b);
}

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_SAME_BYTES_H_

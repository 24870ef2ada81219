// The character and length rules of names (ValidateString, ValidateName),
// as an inline check that makes no std::error_code: the claim and revoke
// paths check four names each, and a default std::error_code costs a call
// (std::system_category() through the PLT) on every success.
#ifndef SHMLEASE_LIB_NAME_CHECK_H_
#define SHMLEASE_LIB_NAME_CHECK_H_

#include <array>
#include <cstddef>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "shmlease/errors.h"
#include "shmlease/lease.h"

namespace shmlease::internal {

// The bytes a name may not hold. Whitespace and control characters would make
// names ambiguous in dumps and shell scripts; NUL would end a stored name early.
inline constexpr auto kForbiddenByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c <= 0x20; ++c) t[c] = true;
  t[0x7F] = t['.'] = t['#'] = t['$'] = true;
  return t;
}();

// Whether any of the n bytes at p is forbidden. Reads nothing outside them.
inline bool HasForbiddenByte(const char* p, std::size_t n) noexcept {
#if defined(__SSE2__)
  // 16 bytes at a time: a byte is forbidden when it is at most 0x20
  // (unsigned) or one of the four others. Names of 16 bytes or more (a
  // namespace, a model UUID) take one block per 16 bytes, the last one
  // overlapping the one before.
  if (n >= 16) {
    const auto bad16 = [](const char* q) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      __m128i bad = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x20)), x);
      bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7F)));
      bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('.')));
      bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('#')));
      bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('$')));
      return _mm_movemask_epi8(bad) != 0;
    };
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      if (bad16(p + i)) return true;
    }
    return i < n && bad16(p + n - 16);
  }
#endif
  // A table and a branch-free loop: five comparisons per byte were a third
  // of a claim's instructions.
  bool bad = false;
  for (std::size_t i = 0; i < n; ++i) bad |= kForbiddenByte[static_cast<unsigned char>(p[i])];
  return bad;
}

// ValidateString's verdict: Errc{} (zero) for a good name, else invalid_name.
inline Errc StringProblem(std::string_view s) noexcept {
  return s.empty() || HasForbiddenByte(s.data(), s.size()) ? Errc::invalid_name : Errc{};
}

// ValidateName's verdict: StringProblem, then the length bound.
inline Errc NameProblem(std::string_view s) noexcept {
  if (const Errc e = StringProblem(s); e != Errc{}) return e;
  return s.size() > kMaxNameLength ? Errc::name_too_long : Errc{};
}

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_NAME_CHECK_H_

// Moving names between std::string_view and their fixed-size form in shared memory.
#ifndef SHMLEASE_LIB_SHM_NAME_H_
#define SHMLEASE_LIB_SHM_NAME_H_

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "layout.h"

namespace shmlease::internal {

// Names are stored as little-endian bytes in 64-bit words, and PaddedWord
// builds a word from a name's bytes with shifts: the byte order is part of
// the encoding (and of the segment format).
static_assert(std::endian::native == std::endian::little,
              "the stored name encoding assumes a little-endian machine");

// Word `i` of the zero-padded form of the `len` bytes at `p`: the bytes at
// [8i, 8i+8) that exist, zeros for the rest. Reads no byte outside [p, p+len)
// and makes no call: a variable-length memcpy into a zeroed buffer cost a
// library call, a `rep stos` and a store-forwarding stall per name on the
// claim path (about a third of an extension by name).
inline std::uint64_t PaddedWord(const char* p, std::size_t len, std::size_t i) noexcept {
  const std::size_t off = 8 * i;
  std::uint64_t w = 0;
  if (off + 8 <= len) {
    std::memcpy(&w, p + off, 8);
    return w;
  }
  if (off >= len) return 0;
  const std::size_t n = len - off;  // 1..7 bytes left.
  if (len >= 8) {
    // The last 8 bytes of the name end where this word's bytes end.
    std::memcpy(&w, p + len - 8, 8);
    return w >> (8 * (8 - n));
  }
  // The whole name is shorter than a word: two overlapping loads.
  if (n >= 4) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return lo | (static_cast<std::uint64_t>(hi) << (8 * (n - 4)));
  }
  const auto byte = [p](std::size_t k) {
    return static_cast<std::uint64_t>(static_cast<unsigned char>(p[k])) << (8 * k);
  };
  return byte(0) | byte(n / 2) | byte(n - 1);
}

// A name in the form it is stored: zero-padded words, built on the stack.
struct NameWords {
  std::uint64_t words[kNameWords] = {};

  // Bytes past kMaxNameLength are dropped: callers check the bound
  // (ValidateName) before they rely on the result.
  static NameWords From(std::string_view s) noexcept {
    const std::size_t len = s.size() < kMaxNameLength ? s.size() : kMaxNameLength;
    NameWords n;
    for (std::size_t i = 0; i < kNameWords; ++i) n.words[i] = PaddedWord(s.data(), len, i);
    return n;
  }
  // The same, in place. Not `*this = From(s)`: that builds a temporary with
  // 8-byte stores and copies it with 16-byte loads, which cannot be
  // forwarded from the stores still in flight, and stall.
  void Assign(std::string_view s) noexcept {
    const std::size_t len = s.size() < kMaxNameLength ? s.size() : kMaxNameLength;
    for (std::size_t i = 0; i < kNameWords; ++i) words[i] = PaddedWord(s.data(), len, i);
  }
  bool operator==(const NameWords&) const = default;

  std::string ToString() const {
    const char* bytes = reinterpret_cast<const char*>(words);
    return std::string(bytes, strnlen(bytes, kMaxNameLength));
  }
};

// Copies a stored name into *out, word by word, in place. Not `*out =
// Load(n)`: that builds a zeroed temporary with 8-byte stores and copies it
// with 16-byte loads, which cannot be forwarded from the stores still in
// flight and stall; in a listing that was a third of reading a held slot.
inline void LoadInto(const ShmName& n, NameWords* out) noexcept {
  for (std::size_t i = 0; i < kNameWords; ++i)
    out->words[i] = n.words[i].load(std::memory_order_relaxed);
}

inline NameWords Load(const ShmName& n) noexcept {
  NameWords out;
  LoadInto(n, &out);
  return out;
}

inline void Store(ShmName& n, const NameWords& v) noexcept {
  for (std::size_t i = 0; i < kNameWords; ++i)
    n.words[i].store(v.words[i], std::memory_order_relaxed);
}

// Compares up to the first all-zero word of `v`: names are zero-padded, so
// the words after it are zero on both sides (a segment that breaks that rule
// is reported by fsck; here it can only make a name compare equal to itself
// with garbage after it).
inline bool Equals(const ShmName& n, const NameWords& v) noexcept {
  for (std::size_t i = 0; i < kNameWords; ++i) {
    const std::uint64_t w = v.words[i];
    if (n.words[i].load(std::memory_order_relaxed) != w) return false;
    if (w == 0) return true;
  }
  return true;
}

// A key in stored form, with its hash.
struct KeyWords {
  NameWords ns, model_uuid, lease;
  std::uint64_t hash = 0;
};

__extension__ using Uint128 = unsigned __int128;  // 64x64->128 multiplies (GCC, Clang).

namespace hash_detail {

// The high and low halves of a 64x64->128 multiply, folded: the mixing step of
// wyhash-like hashes. Each call is independent of the others, so the CPU runs
// them side by side; a chained hash would wait for every multiply in turn.
inline std::uint64_t Mum(std::uint64_t a, std::uint64_t b) noexcept {
  const Uint128 r = static_cast<Uint128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

// One odd constant per word position (splitmix64 outputs), so that moving a
// word to another position changes the hash.
constexpr std::uint64_t SplitMix(std::uint64_t i) {
  std::uint64_t z = 0x9E3779B97F4A7C15ULL * (i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) | 1;
}
inline constexpr std::size_t kKeyWords = 3 * kNameWords;
inline constexpr auto kPositionKeys = [] {
  std::array<std::uint64_t, kKeyWords> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = SplitMix(i);
  return k;
}();

// Finaliser (splitmix64's): the table uses the high bits (home slot) and
// the high half (fingerprint), so every input bit must reach them.
inline std::uint64_t Finalise(std::uint64_t acc) noexcept {
  acc ^= acc >> 30;
  acc *= 0xBF58476D1CE4E5B9ULL;
  acc ^= acc >> 27;
  acc *= 0x94D049BB133111EBULL;
  return acc ^ (acc >> 31);
}

// What the all-zero pairs from pair `from` to the end of part `part` add to
// the hash. Padding is always zero, so this is a constant per (part, from):
// HashKey mixes only the pairs a name fills and adds the rest from here.
inline constexpr std::size_t kNamePairs = kNameWords / 2;
inline constexpr auto kPaddingTail = [] {
  std::array<std::array<std::uint64_t, kNamePairs + 1>, 3> tail{};
  for (std::size_t p = 0; p < 3; ++p) {
    for (std::size_t from = kNamePairs; from-- > 0;) {
      const std::uint64_t* k = &kPositionKeys[p * kNameWords + 2 * from];
      const Uint128 r = static_cast<Uint128>(k[0]) * k[1];
      tail[p][from] =
          tail[p][from + 1] ^ static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
    }
  }
  return tail;
}();

}  // namespace hash_detail

// Mixes the three names' words; no allocation, no string building. Every
// name counts at its fixed, zero-padded width, so the parts' boundaries are
// part of the input: ("ab","c") and ("a","bc") differ. Names hold no NUL,
// so a name's words are nonzero up to its end and zero after it: only the
// filled pairs are multiplied, the padding's share is a precomputed constant.
inline std::uint64_t HashKey(const NameWords& ns, const NameWords& model,
                             const NameWords& lease) noexcept {
  using hash_detail::kNamePairs;
  using hash_detail::kPaddingTail;
  using hash_detail::kPositionKeys;
  using hash_detail::Mum;
  const NameWords* parts[3] = {&ns, &model, &lease};
  std::uint64_t acc = 0;
  for (std::size_t p = 0; p < 3; ++p) {
    const std::uint64_t* w = parts[p]->words;
    const std::uint64_t* k = &kPositionKeys[p * kNameWords];
    std::size_t pair = 0;
    for (; pair < kNamePairs && (w[2 * pair] | w[2 * pair + 1]) != 0; ++pair) {
      acc ^= Mum(w[2 * pair] ^ k[2 * pair], w[2 * pair + 1] ^ k[2 * pair + 1]);
    }
    acc ^= kPaddingTail[p][pair];
  }
  return hash_detail::Finalise(acc);
}

inline KeyWords EncodeKey(KeyView k) noexcept {
  KeyWords kw{NameWords::From(k.ns), NameWords::From(k.model_uuid), NameWords::From(k.lease), 0};
  kw.hash = HashKey(kw.ns, kw.model_uuid, kw.lease);
  return kw;
}

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_SHM_NAME_H_

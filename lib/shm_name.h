// Moving names between std::string_view and their fixed-size form in shared memory.
#ifndef SHMLEASE_LIB_SHM_NAME_H_
#define SHMLEASE_LIB_SHM_NAME_H_

#include <cstring>
#include <string>
#include <string_view>

#include "layout.h"

namespace shmlease::internal {

// A name in the form it is stored: zero-padded words, built on the stack.
struct NameWords {
  std::uint64_t words[kNameWords] = {};

  // `s` must already be at most kMaxNameLength bytes (ValidateName).
  static NameWords From(std::string_view s) noexcept {
    NameWords n;
    std::memcpy(n.words, s.data(), s.size() < kMaxNameLength ? s.size() : kMaxNameLength);
    return n;
  }
  bool operator==(const NameWords&) const = default;

  std::string ToString() const {
    const char* bytes = reinterpret_cast<const char*>(words);
    return std::string(bytes, strnlen(bytes, kMaxNameLength));
  }
};

inline NameWords Load(const ShmName& n) noexcept {
  NameWords out;
  for (std::size_t i = 0; i < kNameWords; ++i)
    out.words[i] = n.words[i].load(std::memory_order_relaxed);
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

// Mixes the three names' words; no allocation, no string building.
inline std::uint64_t HashKey(const NameWords& ns, const NameWords& model,
                             const NameWords& lease) noexcept {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL;
  auto mix = [&h](std::uint64_t w) {
    h ^= w;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
  };
  for (const NameWords* n : {&ns, &model, &lease}) {
    for (std::uint64_t w : n->words) {
      if (w == 0) break;  // Names hold no NUL: an all-zero word is padding.
      mix(w);
    }
    mix(0xFF51AFD7ED558CCDULL);  // Separates the parts: ("ab","c") != ("a","bc").
  }
  h ^= h >> 29;
  h *= 0x94D049BB133111EBULL;
  h ^= h >> 32;
  return h;
}

inline KeyWords EncodeKey(KeyView k) noexcept {
  KeyWords kw{NameWords::From(k.ns), NameWords::From(k.model_uuid), NameWords::From(k.lease), 0};
  kw.hash = HashKey(kw.ns, kw.model_uuid, kw.lease);
  return kw;
}

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_SHM_NAME_H_

// Ordering stored names as their strings order, cheaply: the sort behind
// ShmStore's lease listings (Leases, LeaseGroup, LeaseHolders).
#ifndef SHMLEASE_LIB_NAME_ORDER_H_
#define SHMLEASE_LIB_NAME_ORDER_H_

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "shm_name.h"

namespace shmlease::internal {

// The length of a stored name: strnlen, a word at a time. Of the bits that
// mark zero bytes in a word, the lowest marks the first zero byte exactly
// (the first byte is the lowest: little-endian).
inline std::size_t NameLength(const NameWords& n) {
  static_assert(std::endian::native == std::endian::little);
  for (std::size_t i = 0; i < kNameWords; ++i) {
    const std::uint64_t w = n.words[i];
    const std::uint64_t zeros = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
    if (zeros != 0) return 8 * i + static_cast<std::size_t>(std::countr_zero(zeros)) / 8;
  }
  return kMaxNameLength;
}

inline std::string_view NameView(const NameWords& n) {
  return std::string_view(reinterpret_cast<const char*>(n.words), NameLength(n));
}

// Where one collected lease goes in the output, as a cheap sort key. Stored
// names are zero-padded and hold no NUL, so their bytes compare (unsigned,
// as memcmp) exactly as the strings do, a name sorting before any longer
// name it is a prefix of (bytes a damaged segment has after a name's end
// only order equal strings among themselves). The first 16 bytes, read as two big-endian
// numbers, decide almost every comparison without touching the names; only
// names that share them are compared further, in place.
struct SortKey {
  std::uint32_t group;  // Rank of the lease's (namespace, model) pair; 0 in a single group.
  std::uint32_t index;  // Into the collected leases.
  std::uint64_t hi;     // Bytes 0-7 of the lease name, big-endian.
  std::uint64_t lo;     // Bytes 8-15.
};

inline SortKey MakeSortKey(const NameWords& lease, std::uint32_t group, std::size_t index) {
  static_assert(std::endian::native == std::endian::little);
  return SortKey{group, static_cast<std::uint32_t>(index), __builtin_bswap64(lease.words[0]),
                 __builtin_bswap64(lease.words[1])};
}

// Below this many keys SortByName compares; from it on, it sorts by radix.
constexpr std::size_t kRadixSortMin = 64;

// The order of (group, lease name); lease_of(index) gives a collected
// lease's name, for keys equal in their first 16 bytes.
template <typename LeaseOf>
bool KeyLess(const SortKey& a, const SortKey& b, const LeaseOf& lease_of) {
  if (a.group != b.group) return a.group < b.group;
  if (a.hi != b.hi) return a.hi < b.hi;
  if (a.lo != b.lo) return a.lo < b.lo;
  return std::memcmp(&lease_of(a.index).words[2], &lease_of(b.index).words[2],
                     kMaxNameLength - 16) < 0;
}

// Sorts `keys` into KeyLess order.
template <typename LeaseOf>
void SortByName(std::vector<SortKey>& keys, LeaseOf lease_of) {
  auto less = [&lease_of](const SortKey& a, const SortKey& b) { return KeyLess(a, b, lease_of); };
  const std::size_t n = keys.size();
  if (n < kRadixSortMin) {
    std::sort(keys.begin(), keys.end(), less);
    return;
  }
  // Keys come in hash order, so a comparison sort mispredicts about every
  // other branch. Instead: a least-significant-digit radix sort (stable
  // counting passes) on (group, hi, lo), one pass per byte that is not the
  // same in every key; names mostly share long prefixes, so few bytes vary.
  std::uint32_t group_varies = 0;
  std::uint64_t hi_varies = 0, lo_varies = 0;
  for (const SortKey& k : keys) {
    group_varies |= k.group ^ keys[0].group;
    hi_varies |= k.hi ^ keys[0].hi;
    lo_varies |= k.lo ^ keys[0].lo;
  }
  // Every pass writes all n keys before reading them: no need to zero it.
  const auto buffer = std::make_unique_for_overwrite<SortKey[]>(n);
  SortKey* from = keys.data();
  SortKey* to = buffer.get();
  auto pass = [&](auto digit) {
    std::size_t start[257] = {};
    for (std::size_t i = 0; i < n; ++i) ++start[digit(from[i]) + 1];
    for (std::size_t d = 1; d < 257; ++d) start[d] += start[d - 1];
    for (std::size_t i = 0; i < n; ++i) to[start[digit(from[i])]++] = from[i];
    std::swap(from, to);
  };
  for (unsigned shift = 0; shift < 64; shift += 8) {
    if ((lo_varies >> shift) & 0xff)
      pass([shift](const SortKey& k) { return (k.lo >> shift) & 0xff; });
  }
  for (unsigned shift = 0; shift < 64; shift += 8) {
    if ((hi_varies >> shift) & 0xff)
      pass([shift](const SortKey& k) { return (k.hi >> shift) & 0xff; });
  }
  for (unsigned shift = 0; shift < 32; shift += 8) {
    if ((group_varies >> shift) & 0xff) {
      pass([shift](const SortKey& k) { return (k.group >> shift) & 0xffu; });
    }
  }
  if (from != keys.data()) std::copy(from, from + n, keys.data());
  // Names that share their first 16 bytes are now side by side: order each
  // such run by the rest of the name.
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i + 1;
    while (j < n && keys[j].group == keys[i].group && keys[j].hi == keys[i].hi &&
           keys[j].lo == keys[i].lo) {
      ++j;
    }
    if (j - i > 1) std::sort(keys.begin() + i, keys.begin() + j, less);
    i = j;
  }
}

// The order a listing's last sort produced, offered to the next listing of
// the same size. A table that did not change yields its leases in the same
// slot order, so the same permutation sorts them again; checking that it
// does is one pass of comparisons, against the radix sort's passes of
// counting and scattering (for 10k leases on the benchmark VM, ~200 µs of a
// ~1 ms listing). The check makes it safe whatever changed: the result is
// used only if it is a permutation of `keys` in strictly increasing order,
// and otherwise the keys are sorted. Listings run in parallel: a listing
// that finds the memory in use by another does not wait, it sorts.
class SortMemory {
 public:
  // Sorts `keys` as SortByName does. Expects keys[i].index == i (each key's
  // index is its position in the collected order), as the listings make them.
  template <typename LeaseOf>
  void Sort(std::vector<SortKey>& keys, LeaseOf lease_of) {
    const std::size_t n = keys.size();
    if (n < kRadixSortMin) {
      SortByName(keys, lease_of);  // A comparison sort of a few keys: cheap as it is.
      return;
    }
    if (std::unique_lock lock(mutex_, std::try_to_lock); lock && order_.size() == n) {
      std::vector<SortKey> sorted;
      sorted.reserve(n);  // Not sorted(n): that would zero it first.
      bool increasing = true;
      for (std::size_t k = 0; k < n && increasing; ++k) {
        sorted.push_back(keys[order_[k]]);  // order_ holds each of [0, n) once.
        increasing = k == 0 || KeyLess(sorted[k - 1], sorted[k], lease_of);
      }
      if (increasing) {
        keys.swap(sorted);
        reuses_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    SortByName(keys, lease_of);
    // Remembered only when the indexes were the positions, so that order_
    // holds each of [0, n) once.
    std::vector<std::uint32_t> order(n);
    std::vector<bool> seen(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint32_t i = keys[k].index;
      if (i >= n || seen[i]) return;
      seen[i] = true;
      order[k] = i;
    }
    if (std::unique_lock lock(mutex_, std::try_to_lock); lock) order_.swap(order);
  }
  // How many sorts the remembered order answered (tests look at it).
  std::uint64_t reuses() const { return reuses_.load(std::memory_order_relaxed); }

 private:
  std::mutex mutex_;
  std::vector<std::uint32_t> order_;  // Guarded by mutex_.
  std::atomic<std::uint64_t> reuses_{0};
};

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_NAME_ORDER_H_

// Not part of the API: what Token::Check needs to answer inline, in the
// caller's own code, without a call into the library. A call costs as much as
// the check itself: on the benchmark VM the check through a virtual call was
// 15-17 ns where the same reads inline take 9 ns, most of them overlapping
// the clock read (docs/design.md, "Token::Check inline").
//
// It holds the layout of the part of a lease slot that a check reads (the
// segment format, lib/layout.h, is built on it, so there is one definition),
// the seqlock read of it, and the check. A ShmStore arms a TokenCache with a
// pointer to the slot and to an InlineCheckContext, both of which live as
// long as that ShmStore, and it does so only for a Token that holds (and so
// keeps alive) that very store.
#ifndef SHMLEASE_DETAIL_HOT_LINE_H_
#define SHMLEASE_DETAIL_HOT_LINE_H_

#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace shmlease::detail {

// The segment layout this header describes: lib/layout.h's kLayoutVersion,
// which the library asserts equal. A TokenCache records the one its maker
// was compiled against, and the library arms only a cache of its own: the
// inline check is compiled into the user's binary, perhaps against other
// headers than the library's. Any change to SlotHot, InlineCheckContext or
// TokenCache is a new layout.
inline constexpr std::uint32_t kHotLineLayout = 5;

// Slot state bits.
inline constexpr std::uint32_t kOccupied = 1u << 0;  // The key fields name a lease.
inline constexpr std::uint32_t kHeld = 1u << 1;      // A holder is recorded.

// The part of a slot a check reads: one cache line. The ownership marks are
// lib/layout.h's: "W" written only under the segment's mutex, "R*" read
// without it under the seqlock, "A" a lone atomic anyone may touch.
struct alignas(64) SlotHot {
  // Seqlock: odd while a writer changes this slot's state, epoch, pin_count,
  // key or holder. W, read by everyone.
  std::atomic<std::uint32_t> seq;
  std::atomic<std::uint32_t> state;  // kOccupied | kHeld. W, R*
  std::atomic<std::uint64_t> epoch;  // Fencing epoch of the holding. W, R*
  // ns of the host's CLOCK_MONOTONIC (the initial time namespace's, whatever
  // namespace the writer was in). An extension stores it alone, outside the seqlock:
  // the value only grows within one holding, so any value a reader sees
  // belongs to the holding it read. W, R*
  std::atomic<std::int64_t> expiry_ns;
  std::atomic<std::uint32_t> pin_count;  // Entities in SlotCold::pins. W, R*
  std::atomic<std::uint32_t> key_hash;   // High half of the key's hash. W, R*
  // For keys whose home slot is this one: the largest distance from here to
  // where such a key was ever placed. Lookups probe no further. Only grows. W, R
  std::atomic<std::uint32_t> max_probe;
  // Futex word (lib/wake_word.h): bumped (after the change is visible) by
  // every write that may end a holding of this slot; bit 0 marks that a
  // waiter may be asleep on it. A
  std::atomic<std::uint32_t> wake_word;
  std::uint32_t reserved;  // Zero. (Layout 2 counted waiters here.)
};
// What the inline check reads, where it reads it; a change is a new layout.
static_assert(offsetof(SlotHot, seq) == 0 && offsetof(SlotHot, state) == 4 &&
              offsetof(SlotHot, epoch) == 8 && offsetof(SlotHot, expiry_ns) == 16 &&
              offsetof(SlotHot, pin_count) == 24 && sizeof(SlotHot) == 64);

// A slot's holding as its hot line shows it, read without the lock.
struct HotHolding {
  std::uint32_t state = 0;
  std::uint64_t epoch = 0;
  std::int64_t expiry_ns = 0;
  std::uint32_t pin_count = 0;

  // Still the holding a cache remembers under `cached_epoch`: epochs are
  // unique across the table, so the same epoch, still held, is the same key,
  // holder and holding (whether its time has run out is a separate question).
  bool Is(std::uint64_t cached_epoch) const {
    return epoch == cached_epoch && (state & (kOccupied | kHeld)) == (kOccupied | kHeld);
  }
};

// A consistent read of `h` into *out, on the hot line only; false when a
// writer was inside the slot. The writer makes the counter odd, issues a
// release fence, writes, and makes the counter even with a release store.
// Reading the fields with acquire loads keeps the re-read of the counter
// after them, as the library's own readers do with an acquire fence; on x86
// both are plain loads, and this form is also one ThreadSanitizer
// understands (it does not model fences, and this header is compiled into
// users' code). The segment is another process's data: every value read may
// be anything, and is only ever compared.
[[gnu::always_inline]] inline bool ReadHotHolding(const SlotHot& h, HotHolding* out) {
  const std::uint32_t s1 = h.seq.load(std::memory_order_acquire);
  out->state = h.state.load(std::memory_order_acquire);
  out->epoch = h.epoch.load(std::memory_order_acquire);
  out->expiry_ns = h.expiry_ns.load(std::memory_order_acquire);
  out->pin_count = h.pin_count.load(std::memory_order_acquire);
  return !(s1 & 1) && h.seq.load(std::memory_order_relaxed) == s1;
}

// Set in a TokenCache's slot word when the holding it names is another
// holder's (slot indexes stay below 2^26).
inline constexpr std::uint64_t kCachedOtherHolder = std::uint64_t{1} << 63;

// What a ShmStore lends the inline check; fixed for as long as the store lives.
struct InlineCheckContext {
  // A table on a fake clock (tests): the segment's time, read instead of any
  // clock. Null on a real clock.
  const std::atomic<std::int64_t>* fake_now_ns = nullptr;
  // The vDSO's clock_gettime when the library found it (glibc's wrapper
  // costs a third of a check, lib/clock.h), else glibc's.
  int (*clock_gettime)(clockid_t, timespec*) = nullptr;
  // Added to every clock read: the host's CLOCK_MONOTONIC minus this
  // process's, which a time namespace shifts (0 in the host's own). Expiries
  // are on the host's clock. Bounded by the kernel, so a read plus it is the
  // host's uptime and cannot overflow.
  std::int64_t host_minus_own_ns = 0;
  // How far the coarse clock may lag the precise one (lib/clock.h): within
  // this of the expiry only the precise clock can tell.
  std::int64_t coarse_margin_ns = 0;
  // std::system_category() and the library's category, looked up once:
  // naming either is a call through the PLT.
  const std::error_category* ok_category = nullptr;
  const std::error_category* lease_category = nullptr;
};

enum class InlineAnswer { kUnknown, kHeld, kNotHeld };

// Within the coarse clock's margin of the expiry (or past it) only the
// precise clock can tell. Out of line: it keeps the inlined common path short.
[[gnu::noinline]] inline InlineAnswer CheckNearExpiry(std::int64_t expiry_ns,
                                                      const InlineCheckContext& context) {
  timespec ts;
  if (context.clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return InlineAnswer::kUnknown;
  const std::int64_t now =
      std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec + context.host_minus_own_ns;
  return now < expiry_ns ? InlineAnswer::kHeld : InlineAnswer::kNotHeld;
}

// The holding that (slot_word, epoch) remember, in `line`: held by the
// cache's holder, or not (run out, or someone else's); kUnknown when the
// inline path cannot tell (the slot moved on, a writer was inside it, the
// clock failed), and then the library answers.
[[gnu::always_inline]] inline InlineAnswer CheckInline(const SlotHot& line, std::uint64_t slot_word,
                                                       std::uint64_t epoch,
                                                       const InlineCheckContext& context) {
  HotHolding seen;
  if (!ReadHotHolding(line, &seen) || !seen.Is(epoch)) return InlineAnswer::kUnknown;
  // Another holder's holding is not ours at any time: no clock needed.
  if (slot_word & kCachedOtherHolder) return InlineAnswer::kNotHeld;
  if (seen.pin_count > 0) return InlineAnswer::kHeld;
  if (context.fake_now_ns != nullptr) {
    return context.fake_now_ns->load(std::memory_order_acquire) < seen.expiry_ns
               ? InlineAnswer::kHeld
               : InlineAnswer::kNotHeld;
  }
  timespec ts;
  if (context.clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0) return InlineAnswer::kUnknown;
  const std::int64_t coarse =
      std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec + context.host_minus_own_ns;
  // Added on the clock's side: expiry_ns is segment data and may be anything.
  if (coarse + context.coarse_margin_ns < seen.expiry_ns) return InlineAnswer::kHeld;
  return CheckNearExpiry(seen.expiry_ns, context);
}

}  // namespace shmlease::detail

#endif  // SHMLEASE_DETAIL_HOT_LINE_H_

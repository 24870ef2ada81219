// The lease table: open addressing over the segment's slots, writes through
// the redo journal under the writers' lock, lock-free seqlock reads.
//
// Placement: a key lives in the first usable slot at or after its home slot
// (hash mapped onto [0, slot_count)). Entries never move, so readers need no
// table-wide lock; instead each home slot records the largest distance at
// which one of its keys was ever placed (max_probe), and lookups stop there.
// A slot is reusable by any key once it is not live (not held-and-unexpired,
// not pinned): an expired lease's slot is simply overwritten, no tombstones.
#ifndef SHMLEASE_LIB_TABLE_H_
#define SHMLEASE_LIB_TABLE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include "clock.h"
#include "layout.h"
#include "segment.h"
#include "shm_name.h"
#include "shmlease/errors.h"
#include "shmlease/shm_store.h"
#include "shmlease/store.h"
#include "writers_lock.h"

namespace shmlease::internal {

// A private, consistent copy of one slot.
struct SlotView {
  std::uint32_t state = 0;
  std::uint32_t pin_count = 0;  // Clamped to kMaxPinsPerLease.
  std::uint32_t key_hash = 0;
  std::uint64_t epoch = 0;
  std::int64_t expiry_ns = 0;
  NameWords ns, model_uuid, lease, holder;
  NameWords pins[kMaxPinsPerLease];

  bool occupied() const { return state & kOccupied; }
  // A holder is recorded and still has the lease at `now`.
  bool HeldAt(std::int64_t now) const {
    return (state & kOccupied) && (state & kHeld) && (pin_count > 0 || now < expiry_ns);
  }
  // The slot must be kept: its lease is held or pinned.
  bool LiveAt(std::int64_t now) const {
    return (state & kOccupied) && (pin_count > 0 || HeldAt(now));
  }
  bool HasKey(const KeyWords& k) const {
    return occupied() && key_hash == static_cast<std::uint32_t>(k.hash >> 32) && ns == k.ns &&
           model_uuid == k.model_uuid && lease == k.lease;
  }
};

// A held lease as Table::ForEachHeld copies it: key, holder and holding,
// never the pins.
struct HeldView {
  std::uint64_t epoch = 0;
  std::int64_t expiry_ns = 0;
  NameWords lease, holder;
  NameWords ns, model_uuid;  // Not copied when ForEachHeld filters on them.
};

enum class ClaimMode { claim_only, extend_only, claim_or_extend };

// Defined beside the inline check (shmlease/detail/hot_line.h).
using detail::HotHolding;
using detail::kCachedOtherHolder;
using detail::ReadHotHolding;

inline constexpr std::uint64_t kNoSlot = ~std::uint64_t{0};
class Table {
 public:
  // expiry_spin_ns: ShmStoreOptions::expiry_spin. host_minus_own_ns: this
  // process's clock offset (ReadHostClockOffset); unused on a fake clock.
  Table(Segment& segment, std::int64_t lock_timeout_ns, std::int64_t expiry_spin_ns,
        std::int64_t host_minus_own_ns);

  // The table's time: the host's CLOCK_MONOTONIC (every expiry is on it,
  // whichever time namespace its writer was in), or the segment's fake clock.
  std::int64_t Now() const;
  // A time of the table as this process's steady_clock shows it (what the
  // public API hands out): the same on a fake clock or in the host's time
  // namespace.
  std::int64_t ToProcessClock(std::int64_t table_ns) const {
    return fake_clock_ ? table_ns : clock_.ToOwn(table_ns);
  }
  std::error_code AdvanceFakeClock(std::int64_t d);

  // --- writers: take the writers' lock (repairing after a dead owner) ---
  // Time is read once the lock is held, never before: whether a lease is
  // held is judged then (a lease that ran out while a writer waited for the
  // lock stays ended), and a claim's expiry is that time plus its duration,
  // which is no earlier than the caller's t0 + duration.
  // A slot found torn under the lock (odd seqlock after recovery) is damage:
  // Errc::corrupt_segment, and nothing changes.
  // Errc::invalid_duration when now + duration_ns would overflow.
  // On success, *held_at (if not null) records the slot and epoch of the
  // holding, as CheckLease's cache does, for ExtendCached.
  std::error_code Claim(const KeyWords& key, const NameWords& holder, std::int64_t duration_ns,
                        ClaimMode mode, SlotView* current, const std::stop_token& stop,
                        TokenCache* held_at = nullptr);
  // Extends the holding that `cache` names, found without the names: the
  // epoch, unique across the table, proves the slot still has the same key,
  // holder and holding. kDone with *result set (success, or a lock error);
  // otherwise nothing changed and the caller claims by name: kEnded when the
  // remembered holding is over (revoked, expired, or the slot moved on; seen
  // without the lock when the hot line says so), kNoCache when the cache
  // names no slot.
  enum class CachedExtend { kDone, kEnded, kNoCache };
  CachedExtend ExtendCached(const TokenCache& cache, std::int64_t duration_ns,
                            const std::stop_token& stop, std::error_code* result);
  std::error_code Revoke(const KeyWords& key, const NameWords& holder, const std::stop_token& stop);
  std::error_code Pin(const KeyWords& key, const NameWords& entity, const std::stop_token& stop);
  std::error_code Unpin(const KeyWords& key, const NameWords& entity, const std::stop_token& stop);
  // After a reboot (Segment::stale_boot), with the segment's flock held
  // exclusively: re-makes the writers' lock, which a writer of the earlier
  // boot may have left locked; replays a write the reboot cut short; clears
  // every holder (their expiries are on the earlier boot's clock; pins stay);
  // records this boot.
  std::error_code ResetAfterReboot();
  // Takes and releases the lock, repairing after a dead owner (fsck's first step).
  std::error_code Repair(std::int64_t timeout_ns, const std::stop_token& stop = {}) const;

  // --- lookups for the lock holder ---
  // The slot holding `key`, or kNoSlot. Fills *view when found. A torn slot
  // on the way sets *ec to Errc::corrupt_segment.
  std::uint64_t Find(const KeyWords& key, SlotView* view, std::error_code* ec) const;
  // Find that compares names in place and copies nothing.
  std::uint64_t FindLocked(const KeyWords& key) const;

  // --- readers: never take the writers' lock ---
  // Find for readers, who do not hold the lock: a candidate slot that stays
  // unreadable (a writer died or is stopped inside it) is repaired through
  // the lock, as ForEachOccupied does, and read again. When one still cannot
  // be read, *unreadable is set: kNoSlot then does not prove the key absent.
  std::uint64_t FindRepairing(const KeyWords& key, SlotView* view, bool* unreadable,
                              const std::stop_token& stop = {}) const;
  // Check by key, the slow way (after CheckCached said kUnknown): finds the
  // slot and records in *cache its slot and the epoch of its holding, with
  // kCachedOtherHolder when that holding is another holder's.
  std::error_code Check(const KeyWords& key, const NameWords& holder, TokenCache* cache) const;
  // Check's fast path, which needs no key: answers from the slot and holding
  // that `cache` names, or kUnknown when it cannot (empty cache, or the slot
  // moved on); then the caller encodes the key and calls Check. The same
  // answer Token::Check makes inline (detail::CheckInline), for a cache that
  // was not armed for it (another caller, a wrapper).
  using CachedAnswer = detail::InlineAnswer;
  CachedAnswer CheckCached(const TokenCache& cache) const;
  // Success (for a check: held) and Errc::not_held, made without a call:
  // std::error_code{} calls std::system_category() through the PLT on every
  // construction, on the check's and the writers' hot paths.
  std::error_code Ok() const { return std::error_code(0, *system_category_); }
  std::error_code NotHeldCode() const {
    return std::error_code(static_cast<int>(Errc::not_held), *lease_category_);
  }
  // Calls fn(index, view) for every occupied slot, each read consistently.
  std::error_code ForEachOccupied(
      const std::function<void(std::uint64_t, const SlotView&)>& fn) const;
  // Calls fn(view) for every lease held at `now` (SlotView::HeldAt), in slot
  // order; when `ns_model` is given (two names: namespace, model), only for
  // that group's leases, and view.ns and view.model_uuid are then left as
  // they were. Cheaper than ForEachOccupied: each slot's hot line is read
  // first and the names are read (compared in place, then copied) only for
  // a held slot; pins are never copied. A slot that stays unreadable is
  // handled as ForEachOccupied handles it: Errc::timeout on a read-only
  // mapping, otherwise repaired through the lock (then Errc::corrupt_segment
  // if still torn). `fn` may have been called when an error is returned.
  // A template, so that the caller's `fn` is inlined into the walk: a listing
  // calls it once per lease.
  template <typename Fn>
  std::error_code ForEachHeld(std::int64_t now, const NameWords* ns_model, Fn&& fn) const;
  // The header's count of occupied slots, bounded by the capacity (it is
  // segment data): a size hint for readers, not a fact.
  std::uint64_t OccupiedHint() const;
  // Blocks until the lease is not held (SlotView::HeldAt: a pinned lease
  // stays held past its expiry) or, given an `epoch`, until it is not held
  // by the holding of that fencing epoch (an extension keeps the epoch; a new
  // claim, even by the same holder, does not; no holding has epoch 0).
  // Errc::wait_cancelled once `stop` is requested. `started` is called once
  // the wait is in place (or before returning at once).
  std::error_code WaitWhileHeld(const KeyWords& key, std::optional<std::uint64_t> epoch,
                                const std::stop_token& stop,
                                const std::function<void()>& started) const;
  // Appends a line per broken invariant.
  void Fsck(std::vector<std::string>* problems) const;
  // Who holds the writers' lock now (for stat), read without taking it.
  WritersLockInfo LockInfo() const;
  // The writers' lock is held by a process the kernel does not call gone.
  bool LiveWriterHoldsLock() const;

  // The Store whose tokens' caches this table arms (TokenCache::asked_by).
  void SetOwner(const shmlease::Store* owner) { owner_ = owner; }

  std::uint64_t slot_count() const { return slots_; }
  const Segment& segment() const { return segment_; }

 private:
  class WriteLock;

  // Records in *cache the holding of `epoch` in slot `index` (ours: the
  // cache's holder's), and arms Token::Check's inline path for it.
  void Remember(TokenCache* cache, std::uint64_t index, std::uint64_t epoch, bool ours) const;

  std::uint64_t Home(std::uint64_t hash) const {
    return static_cast<std::uint64_t>((static_cast<Uint128>(hash) * slots_) >> 64);
  }
  std::uint64_t Next(std::uint64_t i) const { return i + 1 == slots_ ? 0 : i + 1; }
  std::uint32_t MaxProbe(std::uint64_t home) const;
  // Seqlock copy of slot i. `with_cold`: also the names. False if a writer
  // kept the slot busy (odd) for too long, e.g. because it died mid-write.
  bool ReadSlot(std::uint64_t i, SlotView* out, bool with_cold) const;
  // ReadSlot for the lock holder: false at once if the slot is torn.
  bool ReadSlotLocked(std::uint64_t i, SlotView* out, bool with_cold) const;
  // ForEachHeld's read of slot i (ReadSlot's protocol): kBusy if a writer
  // kept the slot odd for too long.
  enum class HeldRead { kHeld, kNotHeld, kBusy };
  HeldRead ReadHeld(std::uint64_t i, std::int64_t now, const NameWords* ns_model,
                    HeldView* out) const;
  // ForEachHeld's rare path, for a slot ReadHeld found busy: repairs it
  // through the lock and reads it again into *r (see ForEachHeld).
  std::error_code ReadHeldAfterRepair(std::uint64_t i, std::int64_t now, const NameWords* ns_model,
                                      HeldView* out, HeldRead* r) const;
  // Asks for the names of slot i, if occupied, ahead of ForEachHeld reading them.
  void PrefetchNames(std::uint64_t i) const;

  // Writer helpers (lock held).
  // Extends a holding judged held: the later of the two expiries, counted.
  void ExtendLocked(SlotHot& h, std::int64_t expiry, std::int64_t current_expiry);
  std::error_code PlaceNew(const KeyWords& key, std::int64_t now, std::uint64_t* index,
                           std::uint32_t* home_max_probe);
  std::uint64_t Sweep(std::int64_t now);
  void Commit(std::uint64_t index, const SlotView& image, std::uint32_t cold_mask,
              std::uint64_t home, std::uint32_t home_max_probe, std::uint64_t used_after,
              std::uint64_t last_epoch_after);
  void Apply(const Journal& j) const;
  static void ClearCommitted(Journal& j);
  void Recover() const;
  // The futex word a waiter for slot `h` sleeps on: a fake-clock table's
  // waiters all sleep on the header's clock word, which its clock moves bump.
  std::atomic<std::uint32_t>& WakeWord(SlotHot& h) const {
    return fake_clock_ ? header_.clock_word : h.wake_word;
  }

  Segment& segment_;
  SegmentHeader& header_;
  SlotHot* hot_;
  SlotCold* cold_;
  std::uint64_t slots_;
  std::uint64_t capacity_;
  bool fake_clock_;
  std::int64_t lock_timeout_ns_;
  std::int64_t expiry_spin_ns_;
  // The writers' lock and this process's seat among the segment's writers.
  // Mutable: readers that find a dead writer's damage repair through it.
  mutable WritersLock lock_;
  ClockReader clock_;
  // Lent to every TokenCache this table arms (Remember): Token::Check's inline path.
  detail::InlineCheckContext inline_check_;
  const shmlease::Store* owner_ = nullptr;
  const std::error_category* system_category_;
  const std::error_category* lease_category_;
};

inline std::int64_t Table::Now() const {
  return fake_clock_ ? header_.fake_now_ns.load(std::memory_order_acquire) : clock_.HostMonotonic();
}

inline void Table::PrefetchNames(std::uint64_t i) const {
  // The hot lines stream in by themselves; the names of occupied slots are a
  // few lines every 768 bytes, which the hardware does not fetch ahead.
  if (i < slots_ && (hot_[i].state.load(std::memory_order_relaxed) & kOccupied)) {
    __builtin_prefetch(&cold_[i].ns);
    __builtin_prefetch(&cold_[i].model_uuid);
    __builtin_prefetch(&cold_[i].lease);
    __builtin_prefetch(&cold_[i].holder);
  }
}

template <typename Fn>
std::error_code Table::ForEachHeld(std::int64_t now, const NameWords* ns_model, Fn&& fn) const {
  // How far ahead of its reading the walk asks for a slot's names: enough to
  // overlap the misses.
  constexpr std::uint64_t kPrefetchSlots = 8;
  HeldView v;
  for (std::uint64_t i = 0; i < slots_; ++i) {
    PrefetchNames(i + kPrefetchSlots);
    if (!(hot_[i].state.load(std::memory_order_relaxed) & kOccupied)) continue;
    HeldRead r = ReadHeld(i, now, ns_model, &v);
    if (r == HeldRead::kBusy) {
      if (std::error_code ec = ReadHeldAfterRepair(i, now, ns_model, &v, &r)) return ec;
    }
    if (r == HeldRead::kHeld) fn(v);
  }
  return Ok();
}

inline Table::CachedAnswer Table::CheckCached(const TokenCache& cache) const {
  // The slot and holding this token saw last time: the index is the
  // caller's memory, checked before use.
  const std::uint64_t cached_index = cache.words[0] & ~kCachedOtherHolder;
  if (cached_index >= slots_) return CachedAnswer::kUnknown;
  return detail::CheckInline(hot_[cached_index], cache.words[0], cache.words[1], inline_check_);
}

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_TABLE_H_

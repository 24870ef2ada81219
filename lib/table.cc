#include "table.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "clock.h"
#include "fault.h"
#include "shmlease/errors.h"
#include "wake_word.h"

namespace shmlease::internal {

namespace {

constexpr std::uint32_t kColdNs = 1u << 0;
constexpr std::uint32_t kColdModel = 1u << 1;
constexpr std::uint32_t kColdLease = 1u << 2;
constexpr std::uint32_t kColdHolder = 1u << 3;
constexpr std::uint32_t kColdKey = kColdNs | kColdModel | kColdLease;
constexpr std::uint32_t ColdPin(std::size_t i) { return 1u << (4 + i); }

ShmName& ColdName(SlotCold& c, std::size_t i) {
  switch (i) {
    case 0:
      return c.ns;
    case 1:
      return c.model_uuid;
    case 2:
      return c.lease;
    case 3:
      return c.holder;
    default:
      return c.pins[i - 4];
  }
}
const NameWords& ViewName(const SlotView& v, std::size_t i) {
  switch (i) {
    case 0:
      return v.ns;
    case 1:
      return v.model_uuid;
    case 2:
      return v.lease;
    case 3:
      return v.holder;
    default:
      return v.pins[i - 4];
  }
}

// How many times a reader retries a slot whose seqlock stays odd before it
// concludes the writer is gone (or stopped) rather than just busy.
constexpr int kSeqlockSpins = 1 << 14;

inline void CpuRelax() { __builtin_ia32_pause(); }

}  // namespace

// Holds the writers' lock; taken over from a dead owner, replays the journal first.
class Table::WriteLock {
 public:
  WriteLock(const Table& t, std::int64_t timeout_ns, const std::stop_token& stop) : t_(t) {
    if (t.segment_.read_only()) {
      failure_ = Errc::read_only;
      return;
    }
    switch (t.lock_.Lock(timeout_ns, stop)) {
      case LockResult::acquired:
        locked_ = true;
        break;
      case LockResult::owner_died:
        locked_ = true;
        // The dead owner's stamp is not this holder's: stat shows none until
        // this writer's own clock read.
        RelaxedStore(t.header_.lock_since_ns, std::int64_t{0});
        t.Recover();
        SHMLEASE_FAULT_POINT("recovered");
        break;
      case LockResult::timed_out:
        t.header_.stats.lock_timeouts.fetch_add(1, std::memory_order_relaxed);
        failure_ = Errc::timeout;
        break;
      case LockResult::aborted:
        failure_ = Errc::aborted;
        break;
      case LockResult::no_seat:
        failure_ = Errc::io_error;
        break;
      case LockResult::seat_denied:
        failure_ = Errc::permission_denied;
        break;
      case LockResult::too_many_writers:
        failure_ = Errc::too_many_writers;
        break;
    }
    // Destroy retired the segment: nobody opening its name will see a
    // write made here. The word shares the lock word's cache line.
    if (locked_ && t.header_.retired.load(std::memory_order_relaxed) != 0) {
      t.lock_.Unlock();
      locked_ = false;
      failure_ = Errc::segment_replaced;
    }
    if (locked_) SHMLEASE_FAULT_POINT("lock-acquired");
  }
  ~WriteLock() {
    if (!locked_) return;
    RelaxedStore(t_.header_.lock_since_ns, std::int64_t{0});  // Only an owner's stamp is shown.
    t_.lock_.Unlock();
  }
  // The code is made only for a failure: a default std::error_code calls
  // std::system_category() through the PLT, on every writer's hot path.
  bool failed() const { return !locked_; }
  std::error_code error() const { return locked_ ? std::error_code() : failure_; }
  // Records when the lock was taken (stat shows how long a lock has been
  // held): `now` is the writer's first clock read under the lock.
  void Stamp(std::int64_t now) const { RelaxedStore(t_.header_.lock_since_ns, now); }

 private:
  const Table& t_;
  bool locked_ = false;
  Errc failure_ = Errc::invalid;  // Set on every path that leaves locked_ false.
};

Table::Table(Segment& segment, std::int64_t lock_timeout_ns, std::int64_t expiry_spin_ns,
             std::int64_t host_minus_own_ns)
    : segment_(segment),
      header_(segment.header()),
      hot_(segment.hot()),
      cold_(segment.cold()),
      slots_(segment.geometry().slot_count),
      capacity_(segment.geometry().capacity),
      fake_clock_(segment.geometry().fake_clock),
      lock_timeout_ns_(lock_timeout_ns),
      expiry_spin_ns_(expiry_spin_ns),
      lock_(&header_.lock_word, header_.seats, segment.fd()),
      clock_(fake_clock_ ? 0 : host_minus_own_ns),
      system_category_(&std::system_category()),
      lease_category_(&lease_category()) {
  inline_check_.fake_now_ns = fake_clock_ ? &header_.fake_now_ns : nullptr;
  inline_check_.clock_gettime = clock_.Function();
  inline_check_.host_minus_own_ns = clock_.host_minus_own_ns();
  inline_check_.coarse_margin_ns = CoarseClockMarginNs();
  inline_check_.ok_category = system_category_;
  inline_check_.lease_category = lease_category_;
}

void Table::Remember(TokenCache* cache, std::uint64_t index, std::uint64_t epoch, bool ours) const {
  cache->words[0] = ours ? index : index | kCachedOtherHolder;
  cache->words[1] = epoch;
  // Armed only for the token whose own store this table's is, and whose
  // code reads the slot as this library lays it out.
  const bool arm =
      cache->asked_by == owner_ && owner_ != nullptr && cache->layout == kLayoutVersion;
  cache->line = arm ? &hot_[index] : nullptr;
  cache->context = arm ? &inline_check_ : nullptr;
}

std::error_code Table::AdvanceFakeClock(std::int64_t d) {
  if (!fake_clock_ || d <= 0) return Errc::invalid;
  if (segment_.read_only()) return Errc::read_only;
  // Saturates: a clock that wrapped around would run backwards.
  std::int64_t now = header_.fake_now_ns.load(std::memory_order_relaxed);
  while (!header_.fake_now_ns.compare_exchange_weak(now, AddSaturating(now, d),
                                                    std::memory_order_acq_rel)) {
  }
  BumpKeepingMark(header_.clock_word);
  return {};
}

// Within `margin` of expiry only the precise clock can tell; further away the
// coarse clock (a memory read in the vDSO) is enough and several times cheaper.
std::uint32_t Table::MaxProbe(std::uint64_t home) const {
  std::uint32_t m = hot_[home].max_probe.load(std::memory_order_acquire);
  return m < slots_ ? m : static_cast<std::uint32_t>(slots_ - 1);  // Bound a hostile value.
}

bool Table::ReadSlot(std::uint64_t i, SlotView* out, bool with_cold) const {
  const SlotHot& h = hot_[i];
  const SlotCold& c = cold_[i];
  for (int spin = 0; spin < kSeqlockSpins; ++spin) {
    // Boehm, "Can seqlocks get along with programming language memory models?":
    // acquire load of the counter, relaxed data loads, acquire fence, relaxed
    // re-load. Pairs with the writer's relaxed odd store + release fence and
    // its final release store in Apply().
    std::uint32_t s1 = h.seq.load(std::memory_order_acquire);
    if (s1 & 1) {
      CpuRelax();
      continue;
    }
    out->state = h.state.load(std::memory_order_relaxed);
    out->epoch = h.epoch.load(std::memory_order_relaxed);
    out->expiry_ns = h.expiry_ns.load(std::memory_order_relaxed);
    out->pin_count =
        std::min<std::uint32_t>(h.pin_count.load(std::memory_order_relaxed), kMaxPinsPerLease);
    out->key_hash = h.key_hash.load(std::memory_order_relaxed);
    if (with_cold) {
      LoadInto(c.ns, &out->ns);
      LoadInto(c.model_uuid, &out->model_uuid);
      LoadInto(c.lease, &out->lease);
      LoadInto(c.holder, &out->holder);
      for (std::uint32_t p = 0; p < out->pin_count; ++p) LoadInto(c.pins[p], &out->pins[p]);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (h.seq.load(std::memory_order_relaxed) == s1) return true;
  }
  return false;
}

bool Table::ReadSlotLocked(std::uint64_t i, SlotView* out, bool with_cold) const {
  // Under the lock no writer is inside a slot, and WriteLock has replayed a
  // dead one's journal: an odd counter now is damage, not a busy writer.
  if (hot_[i].seq.load(std::memory_order_relaxed) & 1) return false;
  return ReadSlot(i, out, with_cold);
}

std::uint64_t Table::Find(const KeyWords& key, SlotView* view, std::error_code* ec) const {
  const std::uint64_t home = Home(key.hash);
  const std::uint32_t fingerprint = static_cast<std::uint32_t>(key.hash >> 32);
  const std::uint32_t max_probe = MaxProbe(home);
  std::uint64_t i = home;
  for (std::uint32_t d = 0; d <= max_probe; ++d, i = Next(i)) {
    // The hot line answers most misses without touching the names.
    std::uint32_t st = hot_[i].state.load(std::memory_order_relaxed);
    if ((st & kOccupied) && hot_[i].key_hash.load(std::memory_order_relaxed) == fingerprint) {
      // Skipping a torn slot could place the key a second time.
      if (!ReadSlotLocked(i, view, true)) {
        *ec = Errc::corrupt_segment;
        return kNoSlot;
      }
      if (view->HasKey(key)) return i;
    }
  }
  return kNoSlot;
}

std::uint64_t Table::FindLocked(const KeyWords& key) const {
  const std::uint64_t home = Home(key.hash);
  const std::uint32_t fingerprint = static_cast<std::uint32_t>(key.hash >> 32);
  const std::uint32_t max_probe = MaxProbe(home);
  std::uint64_t i = home;
  for (std::uint32_t d = 0; d <= max_probe; ++d, i = Next(i)) {
    // No writer can run concurrently, so no seqlock: plain relaxed loads.
    const SlotHot& h = hot_[i];
    if ((h.state.load(std::memory_order_relaxed) & kOccupied) &&
        h.key_hash.load(std::memory_order_relaxed) == fingerprint &&
        Equals(cold_[i].lease, key.lease) && Equals(cold_[i].model_uuid, key.model_uuid) &&
        Equals(cold_[i].ns, key.ns)) {
      return i;
    }
  }
  return kNoSlot;
}

std::uint64_t Table::FindRepairing(const KeyWords& key, SlotView* view, bool* unreadable,
                                   const std::stop_token& stop) const {
  *unreadable = false;
  const std::uint64_t home = Home(key.hash);
  const std::uint32_t fingerprint = static_cast<std::uint32_t>(key.hash >> 32);
  const std::uint32_t max_probe = MaxProbe(home);
  std::uint64_t i = home;
  for (std::uint32_t d = 0; d <= max_probe; ++d, i = Next(i)) {
    std::uint32_t st = hot_[i].state.load(std::memory_order_relaxed);
    if (!(st & kOccupied) || hot_[i].key_hash.load(std::memory_order_relaxed) != fingerprint) {
      continue;
    }
    if (!ReadSlot(i, view, true)) {
      // Skipping the slot would report a held lease as free (a waiter would
      // return early). Taking the lock replays a dead writer's journal and
      // evens the counter; a stopped writer keeps the lock: the slot stays unknown.
      if (segment_.read_only() || Repair(lock_timeout_ns_, stop) || !ReadSlot(i, view, true)) {
        *unreadable = true;
        continue;
      }
    }
    if (view->HasKey(key)) return i;
  }
  return kNoSlot;
}

std::error_code Table::Check(const KeyWords& key, const NameWords& holder,
                             TokenCache* cache) const {
  SlotView v;
  bool unreadable;  // Then not held: a holder must not act on a lease it cannot see.
  std::uint64_t i = FindRepairing(key, &v, &unreadable);
  if (i == kNoSlot || !(v.state & kHeld)) return NotHeldCode();
  // Remember the holding, whoever has it: while its epoch stays, CheckCached
  // answers from the hot line. Another holder's holding is not ours at any
  // time; ours is for as long as it is unexpired or pinned.
  const bool ours = v.holder == holder;
  Remember(cache, i, v.epoch, ours);
  return ours && v.HeldAt(Now()) ? Ok() : NotHeldCode();
}

std::error_code Table::ForEachOccupied(
    const std::function<void(std::uint64_t, const SlotView&)>& fn) const {
  SlotView v;
  for (std::uint64_t i = 0; i < slots_; ++i) {
    if (!(hot_[i].state.load(std::memory_order_relaxed) & kOccupied)) continue;
    if (!ReadSlot(i, &v, true)) {
      // A writer died inside this slot (or is stopped there). A writable
      // mapping repairs through the lock; then the slot reads cleanly.
      if (segment_.read_only()) return Errc::timeout;  // Stopped or dead: only the lock tells.
      if (std::error_code ec = Repair(lock_timeout_ns_)) return ec;
      // The lock was free and recovery ran: a slot still torn is damage.
      if (!ReadSlotLocked(i, &v, true)) return Errc::corrupt_segment;
    }
    if (v.occupied()) fn(i, v);
  }
  return {};
}

Table::HeldRead Table::ReadHeld(std::uint64_t i, std::int64_t now, const NameWords* ns_model,
                                HeldView* out) const {
  const SlotHot& h = hot_[i];
  const SlotCold& c = cold_[i];
  for (int spin = 0; spin < kSeqlockSpins; ++spin) {
    // ReadSlot's protocol (see there for the fences), with the names read
    // only once the hot line says the slot is held.
    const std::uint32_t s1 = h.seq.load(std::memory_order_acquire);
    if (s1 & 1) {
      CpuRelax();
      continue;
    }
    const std::uint32_t st = h.state.load(std::memory_order_relaxed);
    const std::uint64_t epoch = h.epoch.load(std::memory_order_relaxed);
    const std::int64_t expiry = h.expiry_ns.load(std::memory_order_relaxed);
    const std::uint32_t pins = h.pin_count.load(std::memory_order_relaxed);
    // SlotView::HeldAt on the hot line.
    bool held = (st & (kOccupied | kHeld)) == (kOccupied | kHeld) && (pins > 0 || now < expiry);
    if (held && ns_model != nullptr) {
      held = Equals(c.ns, ns_model[0]) && Equals(c.model_uuid, ns_model[1]);
    }
    if (held) {
      if (ns_model == nullptr) {
        LoadInto(c.ns, &out->ns);
        LoadInto(c.model_uuid, &out->model_uuid);
      }
      LoadInto(c.lease, &out->lease);
      LoadInto(c.holder, &out->holder);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (h.seq.load(std::memory_order_relaxed) != s1) continue;
    if (!held) return HeldRead::kNotHeld;
    out->epoch = epoch;
    out->expiry_ns = expiry;
    return HeldRead::kHeld;
  }
  return HeldRead::kBusy;
}

std::error_code Table::ReadHeldAfterRepair(std::uint64_t i, std::int64_t now,
                                           const NameWords* ns_model, HeldView* out,
                                           HeldRead* r) const {
  // As in ForEachOccupied: a dead writer's slot is repaired through the
  // lock; a read-only mapping cannot tell dead from stopped.
  if (segment_.read_only()) return Errc::timeout;
  if (std::error_code ec = Repair(lock_timeout_ns_)) return ec;
  // The lock was free and recovery ran: a slot still torn is damage.
  if (hot_[i].seq.load(std::memory_order_relaxed) & 1) return Errc::corrupt_segment;
  *r = ReadHeld(i, now, ns_model, out);
  if (*r == HeldRead::kBusy) return Errc::corrupt_segment;
  return {};
}

std::uint64_t Table::OccupiedHint() const {
  // Written by lock holders with plain stores; read once, atomically on our side.
  const std::uint64_t used = RelaxedLoad(header_.used);
  return std::min(used, capacity_);  // Writers keep used <= capacity.
}

// ---------------------------------------------------------------- writers

void Table::Commit(std::uint64_t index, const SlotView& image, std::uint32_t cold_mask,
                   std::uint64_t home, std::uint32_t home_max_probe, std::uint64_t used_after,
                   std::uint64_t last_epoch_after) {
  Journal& j = header_.journal;
  j.slot_index = static_cast<std::uint32_t>(index);
  j.state = image.state;
  j.pin_count = image.pin_count;
  j.key_hash = image.key_hash;
  j.home_index = static_cast<std::uint32_t>(home);
  j.home_max_probe = home_max_probe;
  j.cold_mask = cold_mask;
  j.epoch = image.epoch;
  j.expiry_ns = image.expiry_ns;
  j.used_after = used_after;
  j.last_epoch_after = last_epoch_after;
  SHMLEASE_FAULT_POINT("journal-partial");
  for (std::size_t n = 0; n < kColdNames; ++n) {
    if (cold_mask & (1u << n)) Store(j.names[n], ViewName(image, n));
  }
  SHMLEASE_FAULT_POINT("journal-written");
  j.committed.store(1, std::memory_order_release);
  SHMLEASE_FAULT_POINT("journal-committed");
  Apply(j);
  SHMLEASE_FAULT_POINT("applied");
  ClearCommitted(j);
}

void Table::ClearCommitted(Journal& j) {
  j.committed.store(0, std::memory_order_release);
  // The next record's plain stores into the journal (Sweep and
  // ClearAllHolders commit several in a row) must not be made visible
  // before this clear: a crash in between would replay a mixed record.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void Table::Apply(const Journal& j) const {
  if (j.slot_index >= slots_ || j.home_index >= slots_) return;  // Never write out of bounds.
  SlotHot& h = hot_[j.slot_index];
  SlotCold& c = cold_[j.slot_index];
  // Raised before the slot changes, so that a reader who sees the new slot
  // (through its seqlock) also sees the probe distance that finds it; a
  // larger max_probe than needed only costs a lookup one more probe.
  SlotHot& home = hot_[j.home_index];
  if (home.max_probe.load(std::memory_order_relaxed) < j.home_max_probe) {
    home.max_probe.store(j.home_max_probe, std::memory_order_release);
  }
  // A replay may find the counter already odd (the crash was in here): keep it odd.
  std::uint32_t s = h.seq.load(std::memory_order_relaxed);
  if (!(s & 1)) h.seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  SHMLEASE_FAULT_POINT("seqlock-opened");
  for (std::size_t n = 0; n < kColdNames; ++n) {
    if (j.cold_mask & (1u << n)) Store(ColdName(c, n), Load(j.names[n]));
    if (n == 3) SHMLEASE_FAULT_POINT("mid-slot-copy");
  }
  h.state.store(j.state, std::memory_order_relaxed);
  h.epoch.store(j.epoch, std::memory_order_relaxed);
  h.expiry_ns.store(j.expiry_ns, std::memory_order_relaxed);
  h.pin_count.store(j.pin_count, std::memory_order_relaxed);
  h.key_hash.store(j.key_hash, std::memory_order_relaxed);
  SHMLEASE_FAULT_POINT("before-seqlock-close");
  h.seq.store((s | 1) + 1, std::memory_order_release);
  RelaxedStore(header_.used, j.used_after);
  RelaxedStore(header_.last_epoch, j.last_epoch_after);
  // Wake anyone waiting for this slot's lease to end: either the waiter sees
  // this change, or we see its mark (wake_word.h).
  std::atomic<std::uint32_t>& word = WakeWord(h);
  const bool marked = BumpClearingMark(word);
  SHMLEASE_FAULT_POINT("bumped");
  if (marked) FutexWakeAll(&word);
}

void Table::Recover() const {
  Journal& j = header_.journal;
  if (j.committed.load(std::memory_order_acquire) == 1) {
    Apply(j);
    // The dead writer may have cleared a waiter's mark and died before its
    // wake ("bumped"): the replay above found no mark, so wake regardless.
    if (j.slot_index < slots_) FutexWakeAll(&WakeWord(hot_[j.slot_index]));
    ClearCommitted(j);
  } else if (j.slot_index < slots_) {
    // Not committed means the slot was not touched; an odd counter there can
    // only come from a damaged segment. Even it out so readers do not spin.
    SlotHot& h = hot_[j.slot_index];
    std::uint32_t s = h.seq.load(std::memory_order_relaxed);
    if (s & 1) h.seq.store(s + 1, std::memory_order_release);
  }
  header_.stats.recoveries.fetch_add(1, std::memory_order_relaxed);
}

std::error_code Table::Repair(std::int64_t timeout_ns, const std::stop_token& stop) const {
  WriteLock lock(*this, timeout_ns, stop);
  return lock.error();
}

std::uint64_t Table::Sweep(std::int64_t now) {
  std::uint64_t freed = 0;
  SlotView v;
  for (std::uint64_t i = 0; i < slots_; ++i) {
    if (!(hot_[i].state.load(std::memory_order_relaxed) & kOccupied)) continue;
    if (!ReadSlotLocked(i, &v, false) || v.LiveAt(now))
      continue;  // Damaged slots stay as they are.
    v.state = 0;
    v.pin_count = 0;
    Commit(i, v, 0, i, 0, header_.used - 1, header_.last_epoch);
    SHMLEASE_FAULT_POINT("sweep-freed");
    ++freed;
  }
  return freed;
}

std::error_code Table::PlaceNew(const KeyWords& key, std::int64_t now, std::uint64_t* index,
                                std::uint32_t* home_max_probe) {
  const std::uint64_t home = Home(key.hash);
  for (int round = 0; round < 2; ++round) {
    SlotView v;
    std::uint64_t i = home;
    for (std::uint64_t d = 0; d < slots_; ++d, i = Next(i)) {
      // A damaged slot is never reused: it may hold someone's lease.
      if (!ReadSlotLocked(i, &v, false) || v.LiveAt(now)) continue;
      // An empty slot adds to `used`; a dead lease's slot is reused as it is.
      if (!v.occupied() && header_.used >= capacity_) break;
      *index = i;
      *home_max_probe = std::max<std::uint32_t>(MaxProbe(home), static_cast<std::uint32_t>(d));
      return {};
    }
    // At capacity: forget every expired, unpinned lease, then look again.
    if (round == 0 && Sweep(now) == 0) break;
  }
  return Errc::table_full;
}

void Table::ExtendLocked(SlotHot& h, std::int64_t expiry, std::int64_t current_expiry) {
  // One aligned store, no journal (see SlotHot::expiry_ns); never shortens.
  if (expiry > current_expiry) h.expiry_ns.store(expiry, std::memory_order_release);
  SHMLEASE_FAULT_POINT("extended");
  // Only lock holders write this counter: a plain increment, not a locked RMW.
  header_.stats.extensions.store(header_.stats.extensions.load(std::memory_order_relaxed) + 1,
                                 std::memory_order_relaxed);
}

Table::CachedExtend Table::ExtendCached(const TokenCache& cache, std::int64_t duration_ns,
                                        const std::stop_token& stop, std::error_code* result) {
  const std::uint64_t i = cache.words[0];
  if (i >= slots_) return CachedExtend::kNoCache;
  SlotHot& h = hot_[i];
  // Without the lock first: a holding that is over never comes back (a new
  // holding gets a new epoch), so a consistent read that shows another epoch
  // or no holder settles it, and the claim that follows takes the lock once.
  if (HotHolding seen; ReadHotHolding(h, &seen) && !seen.Is(cache.words[1])) {
    return CachedExtend::kEnded;
  }
  WriteLock lock(*this, lock_timeout_ns_, stop);
  if (lock.failed()) {
    *result = lock.error();
    return CachedExtend::kDone;
  }
  // As Claim: one clock read, with the lock held.
  const std::int64_t now = Now();
  lock.Stamp(now);
  if (ExpiryOverflows(now, duration_ns)) {
    *result = Errc::invalid_duration;
    return CachedExtend::kDone;
  }
  // The same read under the lock, where a torn slot (odd counter) is damage:
  // the claim by name that follows reports it.
  HotHolding held;
  if (!ReadHotHolding(h, &held) || !held.Is(cache.words[1]) ||
      !(held.pin_count > 0 || now < held.expiry_ns)) {
    return CachedExtend::kEnded;
  }
  const std::int64_t current_expiry = held.expiry_ns;
  ExtendLocked(h, now + duration_ns, current_expiry);
  *result = Ok();
  return CachedExtend::kDone;
}

std::error_code Table::Claim(const KeyWords& key, const NameWords& holder, std::int64_t duration_ns,
                             ClaimMode mode, SlotView* current, const std::stop_token& stop,
                             TokenCache* held_at) {
  WriteLock lock(*this, lock_timeout_ns_, stop);
  if (lock.failed()) return lock.error();
  // One clock read, with the lock held, decides both whether the lease is
  // held now and the new expiry. It is no earlier than the start of the
  // call, so now + duration keeps the promise "at least t0 + duration"; and
  // a lease that ran out while this call waited for the lock stays ended.
  const std::int64_t now = Now();
  lock.Stamp(now);
  if (ExpiryOverflows(now, duration_ns)) return Errc::invalid_duration;
  const std::int64_t expiry = now + duration_ns;
  if (mode == ClaimMode::extend_only) {
    // The hot path of a holder renewing its lease: no slot copy, names compared in place.
    const std::uint64_t i = FindLocked(key);
    if (i == kNoSlot) return Errc::invalid;
    SlotHot& h = hot_[i];
    // Torn under the lock means damage (see ReadSlotLocked): never extend it.
    if (h.seq.load(std::memory_order_relaxed) & 1) return Errc::corrupt_segment;
    const std::uint32_t st = h.state.load(std::memory_order_relaxed);
    const std::int64_t current_expiry = h.expiry_ns.load(std::memory_order_relaxed);
    const bool held =
        (st & kHeld) && (h.pin_count.load(std::memory_order_relaxed) > 0 || now < current_expiry);
    if (!held || !Equals(cold_[i].holder, holder)) return Errc::invalid;
    ExtendLocked(h, expiry, current_expiry);
    if (held_at != nullptr) Remember(held_at, i, h.epoch.load(std::memory_order_relaxed), true);
    return Ok();
  }
  SlotView v;
  std::error_code damaged;
  std::uint64_t i = Find(key, &v, &damaged);
  if (damaged) return damaged;
  if (i != kNoSlot && v.HeldAt(now)) {
    if (v.holder == holder) {
      if (mode == ClaimMode::claim_only) return Errc::held;
      ExtendLocked(hot_[i], expiry, v.expiry_ns);
      if (held_at != nullptr) Remember(held_at, i, v.epoch, true);
      return Ok();
    }
    if (current != nullptr) *current = v;
    switch (mode) {
      case ClaimMode::claim_only:
        return Errc::held;
      case ClaimMode::extend_only:
        return Errc::invalid;
      case ClaimMode::claim_or_extend:
        return Errc::claim_denied;
    }
  }
  if (mode == ClaimMode::extend_only) return Errc::invalid;
  // A new holding needs a new epoch, below kEpochLimit (a hostile header may
  // be there already): refused before anything changes, a sweep included.
  if (header_.last_epoch >= kEpochLimit - 1) return Errc::epochs_exhausted;
  std::uint64_t home = Home(key.hash);
  std::uint32_t home_max_probe = 0;
  std::uint32_t mask = kColdHolder;
  std::uint64_t used = header_.used;
  if (i == kNoSlot) {
    if (std::error_code ec = PlaceNew(key, now, &i, &home_max_probe)) return ec;
    used = header_.used;           // PlaceNew may have swept expired leases out.
    ReadSlotLocked(i, &v, false);  // PlaceNew only picks readable slots.
    if (!v.occupied()) ++used;
    v.ns = key.ns;
    v.model_uuid = key.model_uuid;
    v.lease = key.lease;
    v.key_hash = static_cast<std::uint32_t>(key.hash >> 32);
    v.pin_count = 0;
    mask |= kColdKey;
  }
  // A new holding: the key and any pins stay (a pin on a free lease binds its next holder).
  std::uint64_t epoch = header_.last_epoch + 1;
  v.state = kOccupied | kHeld;
  v.holder = holder;
  v.epoch = epoch;
  v.expiry_ns = expiry;
  Commit(i, v, mask, home, home_max_probe, used, epoch);
  header_.stats.claims.fetch_add(1, std::memory_order_relaxed);
  if (held_at != nullptr) Remember(held_at, i, epoch, true);
  return Ok();
}

std::error_code Table::Revoke(const KeyWords& key, const NameWords& holder,
                              const std::stop_token& stop) {
  WriteLock lock(*this, lock_timeout_ns_, stop);
  if (lock.failed()) return lock.error();
  // Names compared in place, only the hot line copied: no slot image.
  const std::uint64_t i = FindLocked(key);
  if (i == kNoSlot) return Errc::invalid;
  const std::int64_t now = Now();
  lock.Stamp(now);
  SlotView v;
  if (!ReadSlotLocked(i, &v, false)) return Errc::corrupt_segment;
  if (!v.HeldAt(now) || !Equals(cold_[i].holder, holder)) return Errc::invalid;
  v.state &= ~kHeld;  // Pins stay; the key stays while pinned.
  Commit(i, v, 0, i, 0, header_.used, header_.last_epoch);
  header_.stats.revocations.fetch_add(1, std::memory_order_relaxed);
  return Ok();
}

std::error_code Table::Pin(const KeyWords& key, const NameWords& entity,
                           const std::stop_token& stop) {
  WriteLock lock(*this, lock_timeout_ns_, stop);
  if (lock.failed()) return lock.error();
  const std::int64_t now = Now();
  lock.Stamp(now);
  SlotView v;
  std::error_code damaged;
  std::uint64_t i = Find(key, &v, &damaged);
  if (damaged) return damaged;
  std::uint64_t home = Home(key.hash);
  std::uint32_t home_max_probe = 0;
  std::uint32_t mask = 0;
  std::uint64_t used = header_.used;
  if (i != kNoSlot) {
    for (std::uint32_t p = 0; p < v.pin_count; ++p) {
      if (v.pins[p] == entity) return {};
    }
    if (v.pin_count >= kMaxPinsPerLease) return Errc::too_many_pins;
    // A holding that ran out before this pin stays over: pins keep a lease,
    // they do not bring one back.
    if ((v.state & kHeld) && v.pin_count == 0 && v.expiry_ns <= now) v.state &= ~kHeld;
  } else {
    if (std::error_code ec = PlaceNew(key, now, &i, &home_max_probe)) return ec;
    used = header_.used;           // PlaceNew may have swept expired leases out.
    ReadSlotLocked(i, &v, false);  // PlaceNew only picks readable slots.
    if (!v.occupied()) ++used;
    v = SlotView{};
    v.state = kOccupied;
    v.ns = key.ns;
    v.model_uuid = key.model_uuid;
    v.lease = key.lease;
    v.key_hash = static_cast<std::uint32_t>(key.hash >> 32);
    mask = kColdKey | kColdHolder;
  }
  v.pins[v.pin_count] = entity;
  mask |= ColdPin(v.pin_count);
  ++v.pin_count;
  Commit(i, v, mask, home, home_max_probe, used, header_.last_epoch);
  header_.stats.pins.fetch_add(1, std::memory_order_relaxed);
  return {};
}

std::error_code Table::Unpin(const KeyWords& key, const NameWords& entity,
                             const std::stop_token& stop) {
  WriteLock lock(*this, lock_timeout_ns_, stop);
  if (lock.failed()) return lock.error();
  const std::int64_t now = Now();
  lock.Stamp(now);
  SlotView v;
  std::error_code damaged;
  std::uint64_t i = Find(key, &v, &damaged);
  if (damaged) return damaged;
  if (i == kNoSlot) return {};
  std::uint32_t p = 0;
  while (p < v.pin_count && !(v.pins[p] == entity)) ++p;
  if (p == v.pin_count) return {};
  const std::uint32_t last = v.pin_count - 1;
  v.pins[p] = v.pins[last];  // Keep the pins packed at the front.
  v.pins[last] = NameWords{};
  v.pin_count = last;
  // The last pin of a lease whose time ran out: the holding ends now, so a
  // later pin cannot revive it.
  if (last == 0 && (v.state & kHeld) && v.expiry_ns <= now) v.state &= ~kHeld;
  Commit(i, v, ColdPin(p) | ColdPin(last), i, 0, header_.used, header_.last_epoch);
  header_.stats.unpins.fetch_add(1, std::memory_order_relaxed);
  return {};
}

std::error_code Table::ResetAfterReboot() {
  // Nobody of this boot can hold or wait for the lock: every process that
  // opens this segment passes through the flock this caller holds
  // exclusively, and none has finished opening it since the reboot (it
  // would have reset it). Whoever the lock word names is of the earlier
  // boot, whose OFD locks died with it: the word is cleared, the reset that
  // the reboot should have been, and the journal is looked at below.
  header_.lock_word.store(0, std::memory_order_release);
  WriteLock lock(*this, lock_timeout_ns_, std::stop_token{});
  if (lock.failed()) return lock.error();
  if (segment_.BootIdIsCurrent()) return {};  // Opened under the flock: cannot happen.
  // A writer cut short by the reboot: what its owner's death would have
  // triggered (the cleared word names no dead owner).
  const Journal& j = header_.journal;
  if (j.committed.load(std::memory_order_acquire) == 1 ||
      (j.slot_index < slots_ && (hot_[j.slot_index].seq.load(std::memory_order_relaxed) & 1))) {
    Recover();
  }
  // This boot's epochs go on above the earlier boot's and above the wall
  // clock (EpochFloor): a holder of the earlier boot that kept its epoch
  // finds it never handed out again, even if the file was restored from a
  // copy older than the epochs it saw.
  RelaxedStore(header_.last_epoch, std::max(header_.last_epoch, EpochFloor()));
  SlotView v;
  for (std::uint64_t i = 0; i < slots_; ++i) {
    if (!(hot_[i].state.load(std::memory_order_relaxed) & kHeld)) continue;
    if (!ReadSlotLocked(i, &v, false)) continue;  // Damaged: left for fsck to report.
    v.state &= ~kHeld;
    Commit(i, v, 0, i, 0, header_.used, header_.last_epoch);
  }
  segment_.RecordBootId();
  return {};
}

}  // namespace shmlease::internal

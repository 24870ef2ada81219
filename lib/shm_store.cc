// ShmStore: validates arguments, reads the clock, and hands the work to the Table.
#include "shmlease/shm_store.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "clock.h"
#include "fault.h"
#include "name_check.h"
#include "name_order.h"
#include "same_bytes.h"
#include "segment.h"
#include "segment_path.h"
#include "shm_name.h"
#include "shmlease/errors.h"
#include "table.h"
#include "time_namespace.h"

namespace shmlease {

using internal::ClaimMode;
using internal::KeyWords;
using internal::MakeSortKey;
using internal::NameView;
using internal::NameWords;
using internal::SlotView;
using internal::SortKey;

struct ShmStore::Impl {
  Impl(std::unique_ptr<internal::Segment> seg, std::int64_t lock_timeout_ns,
       std::int64_t expiry_spin_ns, std::int64_t host_minus_own_ns)
      : segment(std::move(seg)),
        table(*segment, lock_timeout_ns, expiry_spin_ns, host_minus_own_ns) {}
  // An operation's answer, unless the segment was found truncated (during it
  // or before, shmlease/truncation_guard.h): then nothing it read or wrote
  // meant anything. One load of a flag nobody writes until then.
  // Inline, with the error built out of line: every operation passes here,
  // extensions included.
  [[gnu::always_inline]] std::error_code Checked(std::error_code ec) const {
    if (__builtin_expect(segment->truncated(), 0)) return Truncated();
    return ec;
  }
  [[gnu::noinline, gnu::cold]] static std::error_code Truncated() {
    return make_error_code(Errc::segment_truncated);
  }
  std::unique_ptr<internal::Segment> segment;
  internal::Table table;
  // The last sorted order of each kind of listing (see SortMemory): a caller
  // polling an unchanged table skips the sort.
  mutable internal::SortMemory holders_order;  // LeaseHolders.
  mutable internal::SortMemory leases_order;   // Leases, LeaseGroup.
};

namespace {

// Expiries leave the table on this process's own clock (steady_clock), so
// that callers may compare them with steady_clock::now() in any time namespace.
Clock::time_point ExpiryOf(const internal::Table& table, std::int64_t expiry_ns) {
  return internal::ToTimePoint(table.ToProcessClock(expiry_ns));
}

Info ToInfo(const internal::Table& table, const SlotView& v) {
  return Info{v.holder.ToString(), ExpiryOf(table, v.expiry_ns), v.epoch};
}

Key ToKey(const SlotView& v) {
  return Key{v.ns.ToString(), v.model_uuid.ToString(), v.lease.ToString()};
}

// Once sorted, the collected leases are read in name order, which is
// random in memory: each is prefetched this many places ahead.
constexpr std::size_t kPrefetchAhead = 8;

template <typename T>
void Prefetch(const T* p) {
  for (std::size_t b = 0; b < sizeof(T); b += 64) {
    __builtin_prefetch(reinterpret_cast<const char*>(p) + b);
  }
}

// Replaces *out with the held leases of the table (or of one namespace and
// model when `ns_model` is given). Inserting slots into a std::map in hash
// order would cost ~log2(n) Key comparisons per lease, each comparing the
// mostly equal namespace and model strings first; instead the leases are
// grouped by (namespace, model) as they are read (a table mostly holds one
// or a few groups), sorted by group rank and lease name (SortKey), and
// merged into *out in one ordered walk (see LeaseHolders). Each group's
// names become strings once. Only the slots' hot lines are read for leases
// that are not held, and pins never. An error from the table walk is
// returned with the leases read before it.
std::error_code CollectHeld(const internal::Table& table, internal::SortMemory& memory,
                            std::int64_t now, const NameWords* ns_model, LeaseMap* out) {
  struct Held {
    NameWords lease, holder;
    std::int64_t expiry_ns;
    std::uint64_t epoch;
    std::uint32_t group;  // Index into `groups` (first-seen order).
  };
  struct Group {
    NameWords ns, model_uuid;  // Contiguous: ordered as one 128-byte string.
  };
  static_assert(sizeof(Group) == 2 * sizeof(NameWords));
  struct GroupLess {
    bool operator()(const Group& a, const Group& b) const {
      return std::memcmp(&a, &b, sizeof(Group)) < 0;
    }
  };
  std::map<Group, std::uint32_t, GroupLess> ids;  // Group -> index into `groups`.
  std::vector<const Group*> groups;
  if (ns_model != nullptr) {
    auto it = ids.emplace(Group{ns_model[0], ns_model[1]}, 0).first;
    groups.push_back(&it->first);
  }
  const std::uint64_t hint = table.OccupiedHint();
  std::vector<Held> found;
  found.reserve(hint);
  std::uint32_t last = 0;  // The group of the previous lease: usually this one's too.
  std::error_code ec = table.ForEachHeld(now, ns_model, [&](const internal::HeldView& v) {
    if (ns_model == nullptr && (groups.empty() || !(groups[last]->ns == v.ns &&
                                                    groups[last]->model_uuid == v.model_uuid))) {
      auto [it, inserted] =
          ids.emplace(Group{v.ns, v.model_uuid}, static_cast<std::uint32_t>(groups.size()));
      if (inserted) groups.push_back(&it->first);
      last = it->second;
    }
    found.push_back(Held{v.lease, v.holder, v.expiry_ns, v.epoch, last});
  });
  // Ranks of the groups in key order, and their names as strings, once each.
  std::vector<std::uint32_t> rank(groups.size());
  std::vector<std::pair<std::string, std::string>> names;
  names.reserve(groups.size());
  for (const auto& [group, id] : ids) {
    rank[id] = static_cast<std::uint32_t>(names.size());
    names.emplace_back(NameView(group.ns), NameView(group.model_uuid));
  }
  std::vector<SortKey> order;
  order.reserve(found.size());
  for (std::size_t i = 0; i < found.size(); ++i) {
    order.push_back(MakeSortKey(found[i].lease, rank[found[i].group], i));
  }
  memory.Sort(order, [&found](std::uint32_t i) -> const NameWords& { return found[i].lease; });
  // Merged into *out (see LeaseHolders): entries whose key it already holds
  // keep their node and strings.
  auto it = out->begin();
  for (std::size_t n = 0; n < order.size(); ++n) {
    if (n + kPrefetchAhead < order.size()) Prefetch(&found[order[n + kPrefetchAhead].index]);
    const SortKey& k = order[n];
    const Held& h = found[k.index];
    // Not a structured binding: clang (the fuzz build) cannot capture one.
    const std::string& ns = names[k.group].first;
    const std::string& model = names[k.group].second;
    const std::string_view lease = NameView(h.lease);
    auto compare = [&](const Key& key) {
      if (int c = internal::CompareBytes(key.ns, ns)) return c;
      if (int c = internal::CompareBytes(key.model_uuid, model)) return c;
      return internal::CompareBytes(key.lease, lease);
    };
    int c = 1;
    while (it != out->end() && (c = compare(it->first)) < 0) it = out->erase(it);
    if (it != out->end() && c == 0) {
      if (const std::string_view holder = NameView(h.holder);
          !internal::SameBytes(it->second.holder, holder)) {
        it->second.holder.assign(holder);
      }
      it->second.expiry = ExpiryOf(table, h.expiry_ns);
      it->second.epoch = h.epoch;
      ++it;
    } else {
      out->emplace_hint(
          it, Key{ns, model, std::string(lease)},
          Info{std::string(NameView(h.holder)), ExpiryOf(table, h.expiry_ns), h.epoch});
    }
  }
  out->erase(it, out->end());
  return ec;
}

std::shared_ptr<ShmStore> OpenStore(
    const ShmStoreOptions& options, bool create, std::error_code& ec, std::string* detail,
    std::shared_ptr<ShmStore> (*make)(std::unique_ptr<ShmStore::Impl>)) {
  ec.clear();
  if (options.lock_timeout.count() <= 0 || options.init_timeout.count() <= 0) {
    ec = Errc::invalid_duration;
    if (detail) *detail = "lock and init timeouts must be positive";
    return nullptr;
  }
  if (options.expiry_spin.count() < 0) {
    ec = Errc::invalid_duration;
    if (detail) *detail = "expiry_spin must not be negative";
    return nullptr;
  }
  // Read before the segment is opened, which may create it; needed only
  // once it is known to be on a real clock.
  std::int64_t host_minus_own_ns = 0;
  std::string offset_problem;
  const std::error_code offset_ec =
      internal::ReadHostClockOffset(&host_minus_own_ns, &offset_problem);
  auto segment = internal::Segment::Open(options, create, ec, detail);
  if (!segment) return nullptr;
  if (offset_ec && !segment->geometry().fake_clock) {
    // Its clock reads could not be placed on the host's clock, on which
    // every other process keeps the expiries.
    ec = offset_ec;
    if (detail) *detail = offset_problem;
    return nullptr;
  }
  auto impl = std::make_unique<ShmStore::Impl>(std::move(segment), options.lock_timeout.count(),
                                               options.expiry_spin.count(), host_minus_own_ns);
  if (impl->segment->stale_boot()) {
    SHMLEASE_FAULT_POINT("stale-boot-before-reset");
    // Expiries from an earlier boot are on another timeline: re-make the
    // writers' lock, finish a write the reboot cut short, clear the holders,
    // keep pins, and record this boot (see ResetAfterReboot). Open returned
    // holding the segment's flock for this, exclusively.
    std::error_code reset = impl->table.ResetAfterReboot();
    impl->segment->EndBootReset();
    if (reset) {
      ec = reset;
      if (detail)
        *detail = impl->segment->path() + " comes from an earlier boot and could not be reset";
      return nullptr;
    }
  }
  return make(std::move(impl));
}

}  // namespace

ShmStore::ShmStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  // The caches this store arms say so: a Token answers inline only from a
  // cache armed by the very store it holds (token.h).
  impl_->table.SetOwner(this);
}
ShmStore::~ShmStore() = default;

std::shared_ptr<ShmStore> ShmStore::OpenOrCreate(const ShmStoreOptions& options,
                                                 std::error_code& ec, std::string* detail) {
  return OpenStore(options, true, ec, detail, [](std::unique_ptr<Impl> impl) {
    return std::shared_ptr<ShmStore>(new ShmStore(std::move(impl)));
  });
}

std::shared_ptr<ShmStore> ShmStore::Open(const ShmStoreOptions& options, std::error_code& ec,
                                         std::string* detail) {
  return OpenStore(options, false, ec, detail, [](std::unique_ptr<Impl> impl) {
    return std::shared_ptr<ShmStore>(new ShmStore(std::move(impl)));
  });
}

std::error_code ShmStore::Destroy(std::string_view name) { return internal::Segment::Remove(name); }

std::string ShmStore::PathOf(std::string_view name) { return internal::Segment::PathOf(name); }

std::error_code ShmStore::CheckStillNamed(std::string* detail) const {
  return impl_->Checked(impl_->segment->StillNamed(detail));
}

Clock::time_point ShmStore::Now() const {
  const internal::Table& table = impl_->table;
  return internal::ToTimePoint(table.ToProcessClock(table.Now()));
}

std::error_code ShmStore::AdvanceFakeClock(std::chrono::nanoseconds d) {
  return impl_->Checked(impl_->table.AdvanceFakeClock(d.count()));
}

// The clock is read by the Table with the lock held (see Table::Claim): the
// expiry it records is no earlier than the start of this call plus the duration.
std::error_code ShmStore::ClaimLease(const Key& key, const Request& req, std::stop_token stop) {
  if (std::error_code ec = key.Validate()) return ec;
  if (std::error_code ec = req.Validate()) return ec;
  return impl_->Checked(impl_->table.Claim(internal::EncodeKey(key), NameWords::From(req.holder),
                                           req.duration.count(), ClaimMode::claim_only, nullptr,
                                           stop));
}

std::error_code ShmStore::ExtendLease(const Key& key, const Request& req, std::stop_token stop) {
  if (std::error_code ec = key.Validate()) return ec;
  if (std::error_code ec = req.Validate()) return ec;
  return impl_->Checked(impl_->table.Claim(internal::EncodeKey(key), NameWords::From(req.holder),
                                           req.duration.count(), ClaimMode::extend_only, nullptr,
                                           stop));
}

std::error_code ShmStore::ClaimOrExtendLease(const Key& key, const Request& req, Info* current,
                                             std::stop_token stop) {
  return ClaimOrExtend(key, req.holder, req.duration, current, std::move(stop));
}

namespace {

// Only the bounds that encoding a name needs; the full check comes later.
bool FitsStoredName(std::string_view s) { return !s.empty() && s.size() <= kMaxNameLength; }

// The first problem among the names of a claim or revoke (key, then holder),
// as ValidateName reports it; Errc{} when every name passes.
Errc ClaimNamesProblem(const KeyView& key, std::string_view holder) {
  for (const std::string_view name : {key.ns, key.model_uuid, key.lease, holder}) {
    if (const Errc e = internal::NameProblem(name); e != Errc{}) return e;
  }
  return Errc{};
}

// Stored names hold no NUL and are zero-padded, so a name with a NUL can only
// encode to a stored name's bytes when everything from its first NUL on is
// NUL: "h\0" would pass for "h". Such a name ends in NUL; a name with a NUL
// before some other byte never matches, and is refused by the full check.
bool EndsInNul(std::string_view s) { return s.back() == '\0'; }

}  // namespace

std::error_code ShmStore::ClaimOrExtend(const KeyView& key, std::string_view holder,
                                        std::chrono::nanoseconds duration, Info* current,
                                        std::stop_token stop) {
  return ClaimOrExtendByName(key, holder, duration, current, stop, nullptr);
}

std::error_code ShmStore::ClaimOrExtendCached(const KeyView& key, std::string_view holder,
                                              std::chrono::nanoseconds duration, TokenCache* cache,
                                              std::stop_token stop) {
  const std::int64_t d = duration.count();
  if (d <= 0) return Errc::invalid_duration;
  // The cache is only ever filled by a success on valid names: trusting it
  // skips validating, encoding, hashing and looking the names up.
  // Not `std::error_code ec;`: that calls std::system_category() through the PLT.
  std::error_code ec = impl_->table.Ok();
  switch (impl_->table.ExtendCached(*cache, d, stop, &ec)) {
    case internal::Table::CachedExtend::kDone:
      return impl_->Checked(ec);
    case internal::Table::CachedExtend::kEnded:
      // The remembered holding is over (revoked, expired, taken over), so
      // this is most likely a new claim: no extension attempt first.
      return ClaimOrExtendByName(key, holder, duration, nullptr, stop, cache, false);
    case internal::Table::CachedExtend::kNoCache:
      break;
  }
  return ClaimOrExtendByName(key, holder, duration, nullptr, stop, cache);
}

std::error_code ShmStore::ClaimOrExtendByName(const KeyView& key, std::string_view holder,
                                              std::chrono::nanoseconds duration, Info* current,
                                              const std::stop_token& stop, TokenCache* held_at,
                                              bool extension_likely) {
  const std::int64_t d = duration.count();
  if (d <= 0) return Errc::invalid_duration;
  if (!FitsStoredName(key.ns) || !FitsStoredName(key.model_uuid) || !FitsStoredName(key.lease) ||
      !FitsStoredName(holder)) {
    // Some name is empty or too long: the check names it.
    const Errc e = ClaimNamesProblem(key, holder);
    return make_error_code(e != Errc{} ? e : Errc::invalid_name);
  }
  // Encoded once, in place (no zeroed copy first): both attempts use them.
  const KeyWords kw = internal::EncodeKey(key);
  const NameWords hw = NameWords::From(holder);
  // The common case is a holder extending its own lease. A key and holder
  // that match a stored holding byte for byte were validated when they were
  // stored, so that path skips the character checks (a third of its cost).
  if (extension_likely && !EndsInNul(key.ns) && !EndsInNul(key.model_uuid) &&
      !EndsInNul(key.lease) && !EndsInNul(holder)) {
    std::error_code ec =
        impl_->table.Claim(kw, hw, d, ClaimMode::extend_only, nullptr, stop, held_at);
    // Extended, or timeout/aborted/invalid_duration.
    if (ec != Errc::invalid) return impl_->Checked(ec);
  }
  // Not an extension: every name must pass before anything changes (S12).
  if (const Errc e = ClaimNamesProblem(key, holder); e != Errc{}) return e;
  // Only a caller that asks for the current holder pays for a whole slot image.
  std::optional<SlotView> holder_view;
  if (current != nullptr) holder_view.emplace();
  std::error_code ec = impl_->table.Claim(kw, hw, d, ClaimMode::claim_or_extend,
                                          holder_view ? &*holder_view : nullptr, stop, held_at);
  if (ec == Errc::claim_denied && holder_view) *current = ToInfo(impl_->table, *holder_view);
  return impl_->Checked(ec);
}

std::error_code ShmStore::RevokeLease(const Key& key, std::string_view holder,
                                      std::stop_token stop) {
  return Revoke(key, holder, std::move(stop));
}

std::error_code ShmStore::Revoke(const KeyView& key, std::string_view holder,
                                 std::stop_token stop) {
  // The same checks, in the same order, as a claim's.
  if (const Errc e = ClaimNamesProblem(key, holder); e != Errc{}) return e;
  return impl_->Checked(
      impl_->table.Revoke(internal::EncodeKey(key), NameWords::From(holder), stop));
}

std::error_code ShmStore::PinLease(const Key& key, std::string_view entity, std::stop_token stop) {
  if (std::error_code ec = key.Validate()) return ec;
  if (std::error_code ec = ValidateName(entity)) return ec;
  return impl_->Checked(impl_->table.Pin(internal::EncodeKey(key), NameWords::From(entity), stop));
}

std::error_code ShmStore::UnpinLease(const Key& key, std::string_view entity,
                                     std::stop_token stop) {
  if (std::error_code ec = key.Validate()) return ec;
  if (std::error_code ec = ValidateName(entity)) return ec;
  return impl_->Checked(
      impl_->table.Unpin(internal::EncodeKey(key), NameWords::From(entity), stop));
}

namespace {

// CheckLease without a usable cache: validates, encodes and hashes the key,
// then looks it up. Kept out of line so that the fast path's frame stays small.
[[gnu::noinline]] std::error_code CheckByKey(const internal::Table& table, const Key& key,
                                             std::string_view holder, TokenCache* cache) {
  // A cache that was never filled may come with names never validated; a
  // filled one was only ever filled from valid names.
  if (cache->words[0] == ~std::uint64_t{0} && (key.Validate() || ValidateName(holder))) {
    return table.NotHeldCode();
  }
  return table.Check(internal::EncodeKey(key), NameWords::From(holder), cache);
}

}  // namespace

std::error_code ShmStore::CheckLease(const Key& key, std::string_view holder,
                                     TokenCache* cache) const {
  // The fast path runs before the key is encoded and hashed, which would cost
  // several times what the check itself does.
  const internal::Table& table = impl_->table;
  switch (table.CheckCached(*cache)) {
    case internal::Table::CachedAnswer::kHeld:
      return table.Ok();
    case internal::Table::CachedAnswer::kNotHeld:
      return table.NotHeldCode();
    case internal::Table::CachedAnswer::kUnknown:
      break;
  }
  // The inline and cached answers need no look at the flag: a truncated
  // segment reads as zero pages, where no remembered epoch is found.
  return impl_->Checked(CheckByKey(table, key, holder, cache));
}

std::error_code ShmStore::WaitUntilFree(const Key& key, std::stop_token stop,
                                        const std::function<void()>& started) {
  if (std::error_code ec = key.Validate()) return ec;
  return impl_->Checked(
      impl_->table.WaitWhileHeld(internal::EncodeKey(key), std::nullopt, stop, started));
}

std::error_code ShmStore::WaitUntilLost(const Key& key, std::uint64_t epoch, std::stop_token stop,
                                        const std::function<void()>& started) {
  if (std::error_code ec = key.Validate()) return ec;
  return impl_->Checked(impl_->table.WaitWhileHeld(internal::EncodeKey(key), epoch, stop, started));
}

std::error_code ShmStore::Leases(LeaseMap* out, std::span<const Key> keys) const {
  const std::int64_t now = impl_->table.Now();
  if (!keys.empty()) {
    out->clear();
    for (const Key& key : keys) {
      if (std::error_code ec = key.Validate()) return ec;
      SlotView v;
      bool unreadable;
      if (impl_->table.FindRepairing(internal::EncodeKey(key), &v, &unreadable) !=
              internal::kNoSlot &&
          v.HeldAt(now)) {
        out->emplace(key, ToInfo(impl_->table, v));
      } else if (unreadable) {
        return impl_->Checked(
            Errc::timeout);  // As ForEachOccupied: a stopped writer holds the slot.
      }
    }
    return impl_->Checked({});
  }
  return impl_->Checked(CollectHeld(impl_->table, impl_->leases_order, now, nullptr, out));
}

std::error_code ShmStore::LeaseGroup(std::string_view ns, std::string_view model_uuid,
                                     LeaseMap* out) const {
  if (std::error_code ec = ValidateName(ns); ec || (ec = ValidateName(model_uuid))) {
    out->clear();
    return ec;
  }
  const NameWords want[2] = {NameWords::From(ns), NameWords::From(model_uuid)};
  return impl_->Checked(
      CollectHeld(impl_->table, impl_->leases_order, impl_->table.Now(), want, out));
}

// Reader::Leases through the table directly: no Key or Info per lease, only
// the lease and holder names copied out of the group's held slots (compared
// in place for the group), sorted, and merged into *out in order.
std::error_code ShmStore::LeaseHolders(std::string_view ns, std::string_view model_uuid,
                                       std::map<std::string, std::string>* out) const {
  if (std::error_code ec = ValidateName(ns); ec || (ec = ValidateName(model_uuid))) {
    out->clear();
    return ec;
  }
  const NameWords want[2] = {NameWords::From(ns), NameWords::From(model_uuid)};
  struct HolderOf {
    NameWords lease, holder;
  };
  std::vector<HolderOf> found;
  std::vector<SortKey> order;
  const std::uint64_t hint = impl_->table.OccupiedHint();
  found.reserve(hint);
  order.reserve(hint);
  const internal::Table& table = impl_->table;
  if (std::error_code ec = table.ForEachHeld(table.Now(), want, [&](const internal::HeldView& v) {
        order.push_back(MakeSortKey(v.lease, 0, found.size()));
        found.push_back(HolderOf{v.lease, v.holder});
      })) {
    out->clear();
    return impl_->Checked(ec);  // As LeaseGroup's callers saw it: an error and no leases.
  }
  if (std::error_code ec = impl_->Checked({})) {
    out->clear();
    return ec;
  }
  impl_->holders_order.Sort(
      order, [&found](std::uint32_t i) -> const NameWords& { return found[i].lease; });
  // *out is replaced by merging, in one ordered walk: an entry it already
  // holds keeps its node and strings (a caller polling with the same map
  // allocates nothing for leases that stayed), the others are erased or
  // inserted where the walk is. From an empty map this is appending.
  auto it = out->begin();
  for (std::size_t n = 0; n < order.size(); ++n) {
    if (n + kPrefetchAhead < order.size()) Prefetch(&found[order[n + kPrefetchAhead].index]);
    const HolderOf& h = found[order[n].index];
    const std::string_view lease = NameView(h.lease);
    int c = 1;
    while (it != out->end() && (c = internal::CompareBytes(it->first, lease)) < 0) {
      it = out->erase(it);
    }
    if (it != out->end() && c == 0) {
      // Usually the same holder as last time: compare, do not rewrite.
      if (const std::string_view holder = NameView(h.holder);
          !internal::SameBytes(it->second, holder)) {
        it->second.assign(holder);
      }
      ++it;
    } else {
      out->emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(lease),
                        std::forward_as_tuple(NameView(h.holder)));
    }
  }
  out->erase(it, out->end());
  return {};
}

std::error_code ShmStore::Pinned(PinMap* out) const {
  out->clear();
  return impl_->Checked(impl_->table.ForEachOccupied([&](std::uint64_t, const SlotView& v) {
    if (v.pin_count == 0) return;
    std::vector<std::string>& entities = (*out)[ToKey(v)];
    for (std::uint32_t p = 0; p < v.pin_count; ++p) entities.push_back(v.pins[p].ToString());
    std::sort(entities.begin(), entities.end());
  }));
}

std::error_code ShmStore::Snapshot(std::vector<LeaseEntry>* out) const {
  out->clear();
  const std::int64_t now = impl_->table.Now();
  std::error_code ec = impl_->table.ForEachOccupied([&](std::uint64_t, const SlotView& v) {
    if (!v.LiveAt(now)) return;
    LeaseEntry e;
    e.key = ToKey(v);
    e.held = v.HeldAt(now);
    if (e.held) e.info = ToInfo(impl_->table, v);
    for (std::uint32_t p = 0; p < v.pin_count; ++p) e.pinned_by.push_back(v.pins[p].ToString());
    std::sort(e.pinned_by.begin(), e.pinned_by.end());
    out->push_back(std::move(e));
  });
  std::sort(out->begin(), out->end(),
            [](const LeaseEntry& a, const LeaseEntry& b) { return a.key < b.key; });
  return impl_->Checked(ec);
}

std::error_code ShmStore::GetStats(ShmStats* out) const {
  const internal::Segment& seg = *impl_->segment;
  const internal::SegmentHeader& h = seg.header();
  *out = ShmStats{};
  out->path = seg.path();
  if (std::error_code ec = seg.Stat(&out->owner_uid, &out->mode)) return ec;
  out->layout_version = internal::kLayoutVersion;
  out->capacity = seg.geometry().capacity;
  out->slot_count = seg.geometry().slot_count;
  out->bytes = seg.geometry().total_bytes;
  out->fake_clock = seg.geometry().fake_clock;
  const std::int64_t now = impl_->table.Now();
  std::error_code ec = impl_->table.ForEachOccupied([&](std::uint64_t, const SlotView& v) {
    if (v.LiveAt(now)) ++out->used;
  });
  out->claims = h.stats.claims.load(std::memory_order_relaxed);
  out->extensions = h.stats.extensions.load(std::memory_order_relaxed);
  out->revocations = h.stats.revocations.load(std::memory_order_relaxed);
  out->recoveries = h.stats.recoveries.load(std::memory_order_relaxed);
  out->lock_timeouts = h.stats.lock_timeouts.load(std::memory_order_relaxed);
  out->epoch = internal::RelaxedLoad(h.last_epoch);
  out->lock = impl_->table.LockInfo();
  // A directory that cannot be looked at now is not reported as open: the
  // segment's own figures are what this call is for.
  internal::DirectoryOpenToOthers(seg.name(), &out->directory_open_to_others, &out->directory);
  return impl_->Checked(ec);
}

std::error_code ShmStore::Fsck(std::vector<std::string>* problems) const {
  const std::size_t before = problems->size();
  // A writable store first lets the lock repair what a dead writer left; a
  // stuck (stopped) writer only costs this a short wait.
  if (!impl_->segment->read_only()) impl_->table.Repair(100'000'000);
  impl_->table.Fsck(problems);
  return impl_->Checked(problems->size() == before ? std::error_code{}
                                                   : make_error_code(Errc::corrupt_segment));
}

}  // namespace shmlease

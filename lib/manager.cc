// The Manager's narrow interfaces, each bound to one namespace and model.
#include "shmlease/manager.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "same_bytes.h"
#include "shm_name.h"
#include "shmlease/errors.h"

namespace shmlease {

namespace {

// What every bound interface shares: the store and the (namespace, model) pair.
class Bound {
 public:
  Bound(std::shared_ptr<Store> store, std::string_view ns, std::string_view model)
      : store_(std::move(store)), ns_(ns), model_(model) {}

 protected:
  Key KeyOf(std::string_view lease) const { return Key{ns_, model_, std::string(lease)}; }

  std::shared_ptr<Store> store_;
  std::string ns_;
  std::string model_;
};

class CheckerImpl final : public Checker, Bound {
 public:
  using Bound::Bound;
  shmlease::Token Token(std::string_view lease, std::string_view holder) const override {
    return shmlease::Token(store_, KeyOf(lease), std::string(holder));
  }
};

class ClaimerImpl final : public Claimer, Bound {
 public:
  using Bound::Bound;
  std::error_code Claim(std::string_view lease, std::string_view holder,
                        std::chrono::nanoseconds duration, std::stop_token stop) override {
    if (stop.stop_requested()) return Errc::aborted;
    const KeyView key(ns_, model_, lease);
    // One thread at a time uses the memory; the others, never waiting for
    // it, claim by name.
    if (memory_in_use_.test_and_set(std::memory_order_acquire)) {
      return store_->ClaimOrExtend(key, holder, duration, nullptr, std::move(stop));
    }
    std::error_code ec;
    const std::uint64_t tag = Tag(lease, holder);
    if (RememberedHolding* r = Find(tag, lease, holder)) {
      ec = store_->ClaimOrExtendCached(key, holder, duration, &caches_[r->cache], std::move(stop));
    } else {
      // Not remembered: by name, into the spare cache, which an entry takes
      // only once the claim succeeded: a refused or invalid claim makes
      // nothing forgotten. (The spare changes hands; no cache is copied.)
      caches_[spare_] = TokenCache{};
      ec = store_->ClaimOrExtendCached(key, holder, duration, &caches_[spare_], std::move(stop));
      if (!ec) Adopt(tag, lease, holder);
    }
    memory_in_use_.clear(std::memory_order_release);
    return ec;
  }
  std::error_code WaitUntilExpired(std::string_view lease, std::stop_token stop,
                                   const std::function<void()>& started) override {
    return store_->WaitUntilFree(KeyOf(lease), stop, started);
  }
  shmlease::Holding Holding(std::string_view lease, std::string_view holder) const override {
    return shmlease::Holding(store_, KeyOf(lease), std::string(holder));
  }

 private:
  // Where the last few leases this Claimer claimed live, as a Holding
  // remembers its own: a holder renewing its leases by name (the usual
  // caller) then skips validating, encoding, hashing and looking up the
  // names. The store trusts a cache only while the holding it names is still
  // the same one (its epoch), and only a successful claim of exactly these
  // names fills it. Up to kRemembered (lease, holder) pairs, the oldest
  // forgotten first: a process renewing a handful of leases in turn stays on
  // the fast path; one cycling through more goes by name every time.
  //
  // The names are kept in place (a successful claim proved them no longer
  // than kMaxNameLength), not in std::strings: a miss then costs no string
  // copies through the PLT, and a look-up no pointer chase into the heap.
  struct RememberedHolding {
    internal::NameWords lease, holder;
    std::uint8_t lease_size = 0, holder_size = 0;  // 0: an empty entry (names never are).
    std::uint8_t cache = 0;                        // Its TokenCache in caches_.

    std::string_view Lease() const { return {Bytes(lease), lease_size}; }
    std::string_view Holder() const { return {Bytes(holder), holder_size}; }
    static const char* Bytes(const internal::NameWords& n) {
      return reinterpret_cast<const char*>(n.words);
    }
  };
  static constexpr std::size_t kRemembered = 4;
  static_assert(kMaxNameLength <= UINT8_MAX);

  // A word that tells most (lease, holder) pairs apart: the sizes and the
  // lease's last bytes, where names of one family differ ("worker-17"). The
  // tags sit side by side in one cache line, so a miss compares four words
  // and touches no names; equal tags are confirmed byte for byte.
  static std::uint64_t Tag(std::string_view lease, std::string_view holder) {
    const std::size_t n = lease.size();
    const std::uint64_t tail = n >= 8 ? internal::PaddedWord(lease.data() + n - 8, 8, 0)
                                      : internal::PaddedWord(lease.data(), n, 0);
    return tail ^ (static_cast<std::uint64_t>(n) << 48) ^
           (static_cast<std::uint64_t>(holder.size()) << 56);
  }

  // The entry remembering exactly (lease, holder), or null. Called with
  // memory_in_use_ held.
  RememberedHolding* Find(std::uint64_t tag, std::string_view lease, std::string_view holder) {
    for (std::size_t k = 0; k < kRemembered; ++k) {
      if (tags_[k] != tag) continue;
      RememberedHolding& r = remembered_[k];
      if (internal::SameBytes(r.Lease(), lease) && internal::SameBytes(r.Holder(), holder)) {
        return &r;
      }
    }
    return nullptr;
  }

  // Remembers the holding just claimed into the spare cache, in the oldest
  // entry's place; that entry's cache becomes the spare.
  void Adopt(std::uint64_t tag, std::string_view lease, std::string_view holder) {
    if (lease.size() > kMaxNameLength || holder.size() > kMaxNameLength) return;  // Never claimed.
    RememberedHolding& r = remembered_[next_];
    tags_[next_] = tag;
    next_ = (next_ + 1) % kRemembered;
    r.lease.Assign(lease);
    r.holder.Assign(holder);
    r.lease_size = static_cast<std::uint8_t>(lease.size());
    r.holder_size = static_cast<std::uint8_t>(holder.size());
    std::swap(r.cache, spare_);
  }

  std::array<std::uint64_t, kRemembered> tags_{};  // remembered_[k]'s Tag; 0 when empty.
  std::array<RememberedHolding, kRemembered> remembered_ = [] {
    std::array<RememberedHolding, kRemembered> r{};
    for (std::size_t k = 0; k < kRemembered; ++k) r[k].cache = static_cast<std::uint8_t>(k);
    return r;
  }();
  std::array<TokenCache, kRemembered + 1> caches_;  // One per entry, and the spare.
  std::uint8_t spare_ = kRemembered;
  std::size_t next_ = 0;            // The entry to take over next.
  std::atomic_flag memory_in_use_;  // Guards all of the above; clear at construction (C++20).
};

class RevokerImpl final : public Revoker, Bound {
 public:
  using Bound::Bound;
  std::error_code Revoke(std::string_view lease, std::string_view holder,
                         std::stop_token stop) override {
    if (stop.stop_requested()) return Errc::aborted;
    std::error_code ec = store_->Revoke(KeyView(ns_, model_, lease), holder, stop);
    if (ec != Errc::invalid) return ec;
    // The store says `holder` does not hold it: that is success when nobody
    // does (nothing to give up) and not_held when somebody else does.
    LeaseMap leases;
    const Key keys[] = {KeyOf(lease)};
    if (std::error_code read = store_->Leases(&leases, keys)) return read;
    return leases.empty() ? std::error_code{} : make_error_code(Errc::not_held);
  }
};

class PinnerImpl final : public Pinner, Bound {
 public:
  using Bound::Bound;
  std::error_code Pin(std::string_view lease, std::string_view entity,
                      std::stop_token stop) override {
    if (stop.stop_requested()) return Errc::aborted;
    return store_->PinLease(KeyOf(lease), entity, stop);
  }
  std::error_code Unpin(std::string_view lease, std::string_view entity,
                        std::stop_token stop) override {
    if (stop.stop_requested()) return Errc::aborted;
    return store_->UnpinLease(KeyOf(lease), entity, stop);
  }
  std::error_code Pinned(std::map<std::string, std::vector<std::string>>* out) const override {
    out->clear();
    PinMap all;
    if (std::error_code ec = store_->Pinned(&all)) return ec;
    for (auto& [key, entities] : all) {
      if (key.ns == ns_ && key.model_uuid == model_) (*out)[key.lease] = std::move(entities);
    }
    return {};
  }
};

class ReaderImpl final : public Reader, Bound {
 public:
  using Bound::Bound;
  std::error_code Leases(std::map<std::string, std::string>* out) const override {
    return store_->LeaseHolders(ns_, model_, out);
  }
};

template <typename Impl, typename Interface>
std::unique_ptr<Interface> Make(const std::shared_ptr<Store>& store, std::string_view ns,
                                std::string_view model, std::error_code& ec) {
  ec = ValidateName(ns);
  if (!ec) ec = ValidateName(model);
  if (ec) return nullptr;
  return std::make_unique<Impl>(store, ns, model);
}

}  // namespace

Manager::Manager(std::shared_ptr<Store> store) : store_(std::move(store)) {}

std::unique_ptr<Checker> Manager::Checker(std::string_view ns, std::string_view model_uuid,
                                          std::error_code& ec) const {
  return Make<CheckerImpl, shmlease::Checker>(store_, ns, model_uuid, ec);
}
std::unique_ptr<Claimer> Manager::Claimer(std::string_view ns, std::string_view model_uuid,
                                          std::error_code& ec) const {
  return Make<ClaimerImpl, shmlease::Claimer>(store_, ns, model_uuid, ec);
}
std::unique_ptr<Revoker> Manager::Revoker(std::string_view ns, std::string_view model_uuid,
                                          std::error_code& ec) const {
  return Make<RevokerImpl, shmlease::Revoker>(store_, ns, model_uuid, ec);
}
std::unique_ptr<Pinner> Manager::Pinner(std::string_view ns, std::string_view model_uuid,
                                        std::error_code& ec) const {
  return Make<PinnerImpl, shmlease::Pinner>(store_, ns, model_uuid, ec);
}
std::unique_ptr<Reader> Manager::Reader(std::string_view ns, std::string_view model_uuid,
                                        std::error_code& ec) const {
  return Make<ReaderImpl, shmlease::Reader>(store_, ns, model_uuid, ec);
}

}  // namespace shmlease

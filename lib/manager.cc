// The Manager's narrow interfaces, each bound to one namespace and model.
#include "shmlease/manager.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "same_bytes.h"
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
    // One thread at a time uses the last holding; the others, never waiting
    // for it, claim by name.
    if (last_in_use_.test_and_set(std::memory_order_acquire)) {
      return store_->ClaimOrExtend(key, holder, duration, nullptr, std::move(stop));
    }
    std::error_code ec = store_->ClaimOrExtendCached(key, holder, duration,
                                                     &Remembered(lease, holder), std::move(stop));
    last_in_use_.clear(std::memory_order_release);
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
  struct RememberedHolding {
    std::string lease, holder;
    TokenCache cache;
  };
  static constexpr std::size_t kRemembered = 4;

  // The cache for (lease, holder): the one remembered, or the oldest entry
  // taken over and emptied. Called with last_in_use_ held.
  TokenCache& Remembered(std::string_view lease, std::string_view holder) {
    for (RememberedHolding& r : remembered_) {
      if (internal::SameBytes(r.lease, lease) && internal::SameBytes(r.holder, holder)) {
        return r.cache;
      }
    }
    RememberedHolding& r = remembered_[next_];
    next_ = (next_ + 1) % kRemembered;
    r.lease.assign(lease);
    r.holder.assign(holder);
    r.cache = TokenCache{};
    return r.cache;
  }

  std::array<RememberedHolding, kRemembered> remembered_;
  std::size_t next_ = 0;          // The entry to take over next.
  std::atomic_flag last_in_use_;  // Guards remembered_ and next_; clear at construction (C++20).
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

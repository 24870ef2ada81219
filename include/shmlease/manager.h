// The Manager hands out Juju's narrow lease interfaces, each bound to one
// namespace and model. It is a thin facade over a Store: no thread, no daemon.
#ifndef SHMLEASE_MANAGER_H_
#define SHMLEASE_MANAGER_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "shmlease/holding.h"
#include "shmlease/lease.h"
#include "shmlease/store.h"
#include "shmlease/token.h"

namespace shmlease {

// Tells whether a holder holds a lease.
class Checker {
 public:
  virtual ~Checker() = default;
  // A Token for (lease, holder); its Check() answers at any later time. The
  // names are validated by Check(), which fails with Errc::not_held for a name
  // no store could hold.
  virtual shmlease::Token Token(std::string_view lease, std::string_view holder) const = 0;
};

// Claims leases and waits for them to be free.
class Claimer {
 public:
  virtual ~Claimer() = default;
  // Claims `lease` for `holder` until at least t0 + duration (t0: the start
  // of the call). Extends (never shortens) when `holder` already holds it.
  // Errc::claim_denied when another holder has it: the lease is unchanged and
  // the caller does not hold it. Errc::timeout when the store could not be
  // written in time (nothing happened); Errc::aborted when `stop` was requested.
  // Safe to call from many threads. The Manager's Claimer remembers where
  // the last few (four) leases it claimed live, so renewing them by name is
  // cheap.
  virtual std::error_code Claim(std::string_view lease, std::string_view holder,
                                std::chrono::nanoseconds duration, std::stop_token stop = {}) = 0;
  // Blocks until `lease` is not held: returns at once when free, on revoke,
  // at expiry, or when the last pin of an expired lease goes. Never returns
  // success early while the lease is held. Errc::wait_cancelled when `stop`
  // is requested first. `started`, if set, is called once the wait is in place.
  virtual std::error_code WaitUntilExpired(std::string_view lease, std::stop_token stop = {},
                                           const std::function<void()>& started = {}) = 0;
  // A Holding for (lease, holder): Claim with this holder's names bound once,
  // for a holder that extends often (see holding.h). Nothing is claimed yet.
  virtual shmlease::Holding Holding(std::string_view lease, std::string_view holder) const = 0;
};

// Gives leases up.
class Revoker {
 public:
  virtual ~Revoker() = default;
  // By the holder: vacates the lease and wakes its waiters. By anyone else
  // while it is held: Errc::not_held, nothing changes. Of a lease nobody
  // holds: success, nothing changes.
  virtual std::error_code Revoke(std::string_view lease, std::string_view holder,
                                 std::stop_token stop = {}) = 0;
};

// Keeps leases from expiring.
class Pinner {
 public:
  virtual ~Pinner() = default;
  // `entity` requires `lease` not to expire. Idempotent. The lease need not be held.
  virtual std::error_code Pin(std::string_view lease, std::string_view entity,
                              std::stop_token stop = {}) = 0;
  // Removes `entity`'s pin; a missing pin is not an error. When the last pin
  // goes, a lease whose expiry has passed is free at once.
  virtual std::error_code Unpin(std::string_view lease, std::string_view entity,
                                std::stop_token stop = {}) = 0;
  // Replaces *out with lease name -> pinning entities, for this namespace and model.
  virtual std::error_code Pinned(std::map<std::string, std::vector<std::string>>* out) const = 0;
};

// Reads the holders of the bound namespace and model.
class Reader {
 public:
  virtual ~Reader() = default;
  // Replaces *out with lease name -> holder of every held lease.
  virtual std::error_code Leases(std::map<std::string, std::string>* out) const = 0;
};

// Hands out Checker, Claimer, Revoker, Pinner and Reader for a namespace and
// model UUID (both must pass ValidateName; otherwise nullptr and `ec` set).
// Safe to share between threads; the objects it returns are too, except Token
// and Holding.
class Manager {
 public:
  explicit Manager(std::shared_ptr<Store> store);

  std::unique_ptr<shmlease::Checker> Checker(std::string_view ns, std::string_view model_uuid,
                                             std::error_code& ec) const;
  std::unique_ptr<shmlease::Claimer> Claimer(std::string_view ns, std::string_view model_uuid,
                                             std::error_code& ec) const;
  std::unique_ptr<shmlease::Revoker> Revoker(std::string_view ns, std::string_view model_uuid,
                                             std::error_code& ec) const;
  std::unique_ptr<shmlease::Pinner> Pinner(std::string_view ns, std::string_view model_uuid,
                                           std::error_code& ec) const;
  std::unique_ptr<shmlease::Reader> Reader(std::string_view ns, std::string_view model_uuid,
                                           std::error_code& ec) const;

  const std::shared_ptr<Store>& store() const { return store_; }

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace shmlease

#endif  // SHMLEASE_MANAGER_H_

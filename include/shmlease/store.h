// A Store is the only thing that touches lease state. The Manager builds
// Juju's lease semantics on top of any Store; ShmStore (shm_store.h) keeps the
// state in a shared-memory segment that every process on the host can map.
#ifndef SHMLEASE_STORE_H_
#define SHMLEASE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "shmlease/detail/hot_line.h"
#include "shmlease/lease.h"

namespace shmlease {

class Store;

using LeaseMap = std::map<Key, Info>;
using PinMap = std::map<Key, std::vector<std::string>>;

// Opaque per-token memory a Store may use to answer CheckLease and
// ClaimOrExtendCached quickly (for ShmStore: which slot holds the lease and
// which holding it saw). A default-constructed cache is always valid and
// means "nothing known". A Store of your own that uses it writes whole
// caches (`*cache = TokenCache{}`, then `words`), never `words` alone.
struct TokenCache {
  std::uint64_t words[2] = {~std::uint64_t{0}, 0};
  // Set by a ShmStore whenever it sets `words`, when it may: the slot they
  // name and the table's context, so that Token::Check can answer inline
  // (detail/hot_line.h). Null otherwise.
  const detail::SlotHot* line = nullptr;
  const detail::InlineCheckContext* context = nullptr;
  // Set by a Token to the store it calls, before each call with this cache.
  // A ShmStore arms the cache (sets `line` and `context`) only when it is
  // that store, which the token keeps alive; a Store that wraps a ShmStore
  // and passes the cache on is therefore called for every check.
  const Store* asked_by = nullptr;
  // The slot layout the code that made this cache was compiled against; a
  // ShmStore arms only a cache of its own layout.
  std::uint32_t layout = detail::kHotLineLayout;
};

// A Store is safe for concurrent use by many threads, and ShmStore by many
// processes. Every operation is atomic with respect to every other. An
// invalid argument (see Key::Validate, Request::Validate, ValidateName) fails
// before any state changes, with Errc::invalid_name, name_too_long or
// invalid_duration. Operations that take a std::stop_token return
// Errc::aborted, having changed nothing, if it is stopped before they take
// effect.
class Store {
 public:
  virtual ~Store() = default;

  // If nobody holds `key` (never claimed, revoked, or expired and unpinned),
  // records req.holder with a new, larger fencing epoch and an expiry of at
  // least t0 + req.duration, where t0 is the start of the call (ShmStore
  // reads its clock once it holds the writers' lock, a little after t0). If
  // anyone holds it, including req.holder, fails with Errc::held.
  virtual std::error_code ClaimLease(const Key& key, const Request& req,
                                     std::stop_token stop = {}) = 0;

  // If req.holder holds `key`, sets its expiry to max(expiry, now + duration)
  // (now: no earlier than the start of the call): never shortens. Otherwise
  // (other holder, nobody, expired) Errc::invalid.
  virtual std::error_code ExtendLease(const Key& key, const Request& req,
                                      std::stop_token stop = {}) = 0;

  // If `holder` holds `key`, vacates it at once (pins stay) and wakes its
  // waiters. Otherwise Errc::invalid.
  virtual std::error_code RevokeLease(const Key& key, std::string_view holder,
                                      std::stop_token stop = {}) = 0;
  // RevokeLease without building a Key: what Revoker::Revoke calls. The
  // default builds one and calls RevokeLease.
  virtual std::error_code Revoke(const KeyView& key, std::string_view holder,
                                 std::stop_token stop = {});

  // Replaces *out with every held lease, or only those among `keys` when
  // `keys` is not empty. Expired, unpinned leases never appear.
  virtual std::error_code Leases(LeaseMap* out, std::span<const Key> keys = {}) const = 0;

  // Replaces *out with the held leases of one namespace and model.
  virtual std::error_code LeaseGroup(std::string_view ns, std::string_view model_uuid,
                                     LeaseMap* out) const = 0;

  // Records that `entity` requires `key` not to expire. Pinning twice by the
  // same entity records it once. The key need not be held.
  virtual std::error_code PinLease(const Key& key, std::string_view entity,
                                   std::stop_token stop = {}) = 0;

  // Removes `entity`'s pin; removing a pin that does not exist succeeds.
  virtual std::error_code UnpinLease(const Key& key, std::string_view entity,
                                     std::stop_token stop = {}) = 0;

  // Replaces *out with every pinned key and its entities (each once, sorted).
  virtual std::error_code Pinned(PinMap* out) const = 0;

  // ---- Beyond Juju's eight: each has a default built on the eight above;
  // ---- ShmStore answers them directly and atomically.

  // Claims `key` for req.holder if free, or extends it if req.holder holds
  // it. Errc::claim_denied if another holder has it; then *current (if not
  // null) receives that holder's Info.
  virtual std::error_code ClaimOrExtendLease(const Key& key, const Request& req,
                                             Info* current = nullptr, std::stop_token stop = {});

  // ClaimOrExtendLease without building a Key or a Request: what
  // Claimer::Claim calls on every extension, so it must not allocate.
  virtual std::error_code ClaimOrExtend(const KeyView& key, std::string_view holder,
                                        std::chrono::nanoseconds duration, Info* current = nullptr,
                                        std::stop_token stop = {});

  // ClaimOrExtend with a cache the caller keeps for this key and holder (a
  // Holding's, which its checks also use; a Claimer's, for the last lease it
  // claimed): a store may remember there where the holding lives, so that the
  // next extension finds it without looking the names up.
  virtual std::error_code ClaimOrExtendCached(const KeyView& key, std::string_view holder,
                                              std::chrono::nanoseconds duration, TokenCache* cache,
                                              std::stop_token stop = {});

  // Success if `holder` holds `key` now (held and unexpired, or pinned);
  // Errc::not_held otherwise. `cache` belongs to one Token.
  virtual std::error_code CheckLease(const Key& key, std::string_view holder,
                                     TokenCache* cache) const;

  // Replaces *out with lease name -> holder for the held leases of one
  // namespace and model (those LeaseGroup returns): what Reader::Leases
  // answers. Fails as LeaseGroup does, leaving *out empty. The default is
  // built on LeaseGroup; ShmStore reads its table directly and keeps the
  // entries of *out that are still current, so that a caller polling with
  // the same map allocates only for what changed.
  virtual std::error_code LeaseHolders(std::string_view ns, std::string_view model_uuid,
                                       std::map<std::string, std::string>* out) const;

  // Blocks until `key` is not held. Calls `started` (if set) once the wait is
  // registered, so that a caller can order another action after it. Returns
  // success when free; Errc::wait_cancelled when `stop` is requested first.
  virtual std::error_code WaitUntilFree(const Key& key, std::stop_token stop,
                                        const std::function<void()>& started = {});
};

}  // namespace shmlease

#endif  // SHMLEASE_STORE_H_

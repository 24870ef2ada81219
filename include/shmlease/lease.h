// The values shmlease talks about: names, keys, requests and lease info.
#ifndef SHMLEASE_LEASE_H_
#define SHMLEASE_LEASE_H_

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace shmlease {

// Leases of the application-leadership namespace name an application's leader.
inline constexpr std::string_view kApplicationLeadershipNamespace = "application-leadership";
// Leases of the singular-controller namespace name the one controller doing a job.
inline constexpr std::string_view kSingularControllerNamespace = "singular-controller";

// Every name stored in a lease table (namespace, model UUID, lease, holder,
// pinning entity) is at most this many bytes. Longer names are refused with
// Errc::name_too_long, never truncated.
inline constexpr std::size_t kMaxNameLength = 64;

// A lease can be pinned by at most this many distinct entities at once.
inline constexpr std::size_t kMaxPinsPerLease = 8;

// All expiries are points on the calling process's CLOCK_MONOTONIC
// (steady_clock). Processes in other time namespaces read that clock shifted;
// a ShmStore keeps expiries on the host's clock and converts, so every
// process sees the same moment as its own clock shows it.
using Clock = std::chrono::steady_clock;

// Checks a name as Juju's lease.ValidateString does, plus shmlease's rules:
// fails with Errc::invalid_name when `s` is empty or contains whitespace
// (space, tab, CR, LF), a control character, '.', '#' or '$'. '/', '-', '_',
// ':' and digits are fine. Does not check the length bound (see ValidateName).
std::error_code ValidateString(std::string_view s) noexcept;

// ValidateString, then the length bound: Errc::name_too_long when longer than kMaxNameLength.
std::error_code ValidateName(std::string_view s) noexcept;

// Identifies a lease: two keys differing in any part are different leases.
struct Key {
  std::string ns;          // The lease's namespace, e.g. kSingularControllerNamespace.
  std::string model_uuid;  // The model (or any grouping) the lease belongs to.
  std::string lease;       // The lease's own name.

  friend auto operator<=>(const Key&, const Key&) = default;
  friend bool operator==(const Key&, const Key&) = default;

  // All three parts pass ValidateName; otherwise the first failure.
  std::error_code Validate() const noexcept;
};

// A Key by reference, for calls that must not copy names (see
// Store::ClaimOrExtend). Valid only while the strings it views are.
struct KeyView {
  std::string_view ns;
  std::string_view model_uuid;
  std::string_view lease;

  KeyView(std::string_view ns_, std::string_view model_uuid_, std::string_view lease_)
      : ns(ns_), model_uuid(model_uuid_), lease(lease_) {}
  KeyView(const Key& k)
      : ns(k.ns), model_uuid(k.model_uuid), lease(k.lease) {}  // NOLINT: implicit by design.
  Key ToKey() const { return Key{std::string(ns), std::string(model_uuid), std::string(lease)}; }
};

// What a lease holder asks for: keep `holder` in the lease for `duration` from now.
struct Request {
  std::string holder;
  std::chrono::nanoseconds duration{};

  // holder passes ValidateName and duration > 0; otherwise Errc::invalid_name,
  // Errc::name_too_long or Errc::invalid_duration.
  std::error_code Validate() const noexcept;
};

// The state of one held lease, as a snapshot returned by Store::Leases.
struct Info {
  std::string holder;
  // The latest time the lease might still be valid. For a pinned lease this may
  // lie in the past: pins keep the lease held regardless.
  Clock::time_point expiry;
  // Fencing epoch: grows every time the lease gets a new holder (never on an
  // extension). Pass it along to whatever the holder writes, so that a stale
  // holder's writes can be told apart.
  std::uint64_t epoch = 0;

  friend bool operator==(const Info&, const Info&) = default;
};

}  // namespace shmlease

template <>
struct std::hash<shmlease::Key> {
  std::size_t operator()(const shmlease::Key& k) const noexcept;
};

#endif  // SHMLEASE_LEASE_H_

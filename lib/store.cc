// The Store operations beyond Juju's eight, built on the eight for stores
// that do not answer them directly (ShmStore overrides all of them).
#include "shmlease/store.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "shmlease/errors.h"

namespace shmlease {

namespace {

// How many times a composed operation retries after losing a race.
constexpr int kRaceRetries = 16;
// How often the default WaitUntilFree looks again: a generic store has no way to wake us.
constexpr std::chrono::milliseconds kPollInterval(5);

}  // namespace

std::error_code Store::ClaimOrExtendLease(const Key& key, const Request& req, Info* current,
                                          std::stop_token stop) {
  for (int attempt = 0; attempt < kRaceRetries; ++attempt) {
    if (stop.stop_requested()) return Errc::aborted;
    LeaseMap leases;
    const Key keys[] = {key};
    if (std::error_code ec = Leases(&leases, keys)) return ec;
    auto it = leases.find(key);
    std::error_code ec;
    if (it == leases.end()) {
      ec = ClaimLease(key, req, stop);
      if (ec != Errc::held) return ec;
    } else if (it->second.holder == req.holder) {
      ec = ExtendLease(key, req, stop);
      if (ec != Errc::invalid) return ec;
    } else {
      if (current != nullptr) *current = it->second;
      return Errc::claim_denied;
    }
  }
  return Errc::timeout;
}

std::error_code Store::ClaimOrExtend(const KeyView& key, std::string_view holder,
                                     std::chrono::nanoseconds duration, Info* current,
                                     std::stop_token stop) {
  return ClaimOrExtendLease(key.ToKey(), Request{std::string(holder), duration}, current,
                            std::move(stop));
}

std::error_code Store::Revoke(const KeyView& key, std::string_view holder, std::stop_token stop) {
  return RevokeLease(key.ToKey(), holder, std::move(stop));
}

std::error_code Store::ClaimOrExtendCached(const KeyView& key, std::string_view holder,
                                           std::chrono::nanoseconds duration, TokenCache*,
                                           std::stop_token stop) {
  return ClaimOrExtend(key, holder, duration, nullptr, std::move(stop));
}

std::error_code Store::CheckLease(const Key& key, std::string_view holder, TokenCache*) const {
  LeaseMap leases;
  const Key keys[] = {key};
  if (Leases(&leases, keys)) return Errc::not_held;
  auto it = leases.find(key);
  return it != leases.end() && it->second.holder == holder ? std::error_code{}
                                                           : make_error_code(Errc::not_held);
}

std::error_code Store::LeaseHolders(std::string_view ns, std::string_view model_uuid,
                                    std::map<std::string, std::string>* out) const {
  out->clear();
  LeaseMap group;
  if (std::error_code ec = LeaseGroup(ns, model_uuid, &group)) return ec;
  // `group` is sorted by key, hence (one namespace and model) by lease name.
  for (auto& [key, info] : group) out->emplace_hint(out->end(), key.lease, std::move(info.holder));
  return {};
}

std::error_code Store::WaitUntilFree(const Key& key, std::stop_token stop,
                                     const std::function<void()>& started) {
  std::mutex m;
  std::condition_variable_any cv;
  bool announced = false;
  for (;;) {
    LeaseMap leases;
    const Key keys[] = {key};
    if (std::error_code ec = Leases(&leases, keys)) return ec;
    if (leases.find(key) == leases.end()) {
      if (!announced && started) started();
      return {};
    }
    if (!announced && started) started();
    announced = true;
    std::unique_lock lock(m);
    if (cv.wait_for(lock, stop, kPollInterval, [] { return false; }), stop.stop_requested()) {
      return Errc::wait_cancelled;
    }
  }
}

}  // namespace shmlease

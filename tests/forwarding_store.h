// A Store that passes Juju's eight operations on to a ShmStore and leaves
// everything else to Store's defaults: what a user's own Store wrapping a
// ShmStore looks like. Tests derive from it to forward more, or to count.
#ifndef SHMLEASE_TESTS_FORWARDING_STORE_H_
#define SHMLEASE_TESTS_FORWARDING_STORE_H_

#include <memory>
#include <span>
#include <stop_token>
#include <string_view>
#include <system_error>
#include <utility>

#include "shmlease/shmlease.h"

namespace shmlease::testing {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::shared_ptr<ShmStore> s) : s_(std::move(s)) {}
  // Passes everything on to another ShmStore from now on (a reopen, a failover).
  void Swap(std::shared_ptr<ShmStore> s) { s_ = std::move(s); }

  std::error_code ClaimLease(const Key& k, const Request& r, std::stop_token st) override {
    return s_->ClaimLease(k, r, st);
  }
  std::error_code ExtendLease(const Key& k, const Request& r, std::stop_token st) override {
    return s_->ExtendLease(k, r, st);
  }
  std::error_code RevokeLease(const Key& k, std::string_view h, std::stop_token st) override {
    return s_->RevokeLease(k, h, st);
  }
  std::error_code Leases(LeaseMap* out, std::span<const Key> keys) const override {
    return s_->Leases(out, keys);
  }
  std::error_code LeaseGroup(std::string_view ns, std::string_view model,
                             LeaseMap* out) const override {
    return s_->LeaseGroup(ns, model, out);
  }
  std::error_code PinLease(const Key& k, std::string_view e, std::stop_token st) override {
    return s_->PinLease(k, e, st);
  }
  std::error_code UnpinLease(const Key& k, std::string_view e, std::stop_token st) override {
    return s_->UnpinLease(k, e, st);
  }
  std::error_code Pinned(PinMap* out) const override { return s_->Pinned(out); }

 protected:
  ShmStore& shm() const { return *s_; }

 private:
  std::shared_ptr<ShmStore> s_;
};

}  // namespace shmlease::testing

#endif  // SHMLEASE_TESTS_FORWARDING_STORE_H_

#include "lease_text.h"

#include "duration.h"
#include "report.h"

namespace shmlease::cli {

std::string LeaseName(const Key& key) {
  return "lease '" + Printable(key.lease) + "' (namespace " + Printable(key.ns) + ", model " +
         Printable(key.model_uuid) + ")";
}

std::string DescribeHolding(const Info& info, Clock::time_point now) {
  const auto left = info.expiry - now;
  std::string text = "held by '" + Printable(info.holder) + "'";
  if (left.count() > 0) {
    text += " for another " + FormatDuration(left);
  } else {
    text += ", kept by its pins " + FormatDuration(-left) + " past its expiry";
  }
  return text + " (epoch " + std::to_string(info.epoch) + ")";
}

std::string DescribeCurrent(const ShmStore& store, const Key& key) {
  LeaseMap leases;
  const Key keys[] = {key};
  if (store.Leases(&leases, keys) || leases.empty()) return "not held by anyone";
  return DescribeHolding(leases.begin()->second, store.Now());
}

std::uint64_t HoldingEpoch(const ShmStore& store, const Key& key, std::string_view holder) {
  LeaseMap leases;
  const Key keys[] = {key};
  if (store.Leases(&leases, keys) || leases.empty()) return 0;
  const Info& held = leases.begin()->second;
  return held.holder == holder ? held.epoch : 0;
}

}  // namespace shmlease::cli

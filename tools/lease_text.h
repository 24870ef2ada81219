// One lease's current state, in words for messages and --verbose output.
#ifndef SHMLEASE_TOOLS_LEASE_TEXT_H_
#define SHMLEASE_TOOLS_LEASE_TEXT_H_

#include <cstdint>
#include <string>

#include "shmlease/shm_store.h"

namespace shmlease::cli {

// "lease 'db' (namespace singular-controller, model local)". Names are
// Printable here and in DescribeHolding: these texts go to terminals.
std::string LeaseName(const Key& key);

// "held by 'pid-42' for another 4.2s (epoch 7)", or, for a pinned lease whose
// time has run out, "held by 'pid-42', kept by its pins 1.2s past its expiry (epoch 7)".
std::string DescribeHolding(const Info& info, Clock::time_point now);

// DescribeHolding of the lease's current holder, or "not held by anyone".
std::string DescribeCurrent(const ShmStore& store, const Key& key);

// The fencing epoch of `holder`'s holding of the lease; 0 when `holder` does
// not hold it (nobody does, someone else does, or it cannot be read).
std::uint64_t HoldingEpoch(const ShmStore& store, const Key& key, std::string_view holder);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_LEASE_TEXT_H_

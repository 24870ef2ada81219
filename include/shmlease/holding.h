// A Holding is a holder's handle on one lease, for a holder that claims,
// extends and checks it often.
#ifndef SHMLEASE_HOLDING_H_
#define SHMLEASE_HOLDING_H_

#include <chrono>
#include <stop_token>
#include <string>
#include <system_error>

#include "shmlease/lease.h"
#include "shmlease/store.h"
#include "shmlease/token.h"

namespace shmlease {

// Made by Claimer::Holding. A Holding is the Token of its (lease, holder)
// that can also claim: Check() is Token::Check, and Claim() keeps
// Claimer::Claim's contract. What it adds is speed. Once a claim has
// succeeded, it remembers where the holding lives (in the same cache its
// checks use), so that an extension on a ShmStore costs the writers' lock
// and one clock read: no names validated, encoded, hashed or looked up. A
// Holding made for a lease held by someone else simply gets
// Errc::claim_denied, as Claimer::Claim would.
//
// Like a Token, a Holding is cheap to copy, and one Holding object must not
// be used by several threads at once (its cache is unsynchronised).
class Holding : public Token {
 public:
  using Token::Token;

  // Claims the lease for holder() until at least t0 + duration (t0: the
  // start of the call), or extends it (never shortening) when holder()
  // holds it. Errc::claim_denied when another holder has it; the errors of
  // Claimer::Claim otherwise.
  std::error_code Claim(std::chrono::nanoseconds duration, std::stop_token stop = {}) {
    cache_.asked_by = store_.get();
    return store_->ClaimOrExtendCached(key_, holder_, duration, &cache_, std::move(stop));
  }
};

}  // namespace shmlease

#endif  // SHMLEASE_HOLDING_H_

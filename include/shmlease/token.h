// A Token answers, at any later time, whether one holder holds one lease.
#ifndef SHMLEASE_TOKEN_H_
#define SHMLEASE_TOKEN_H_

#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "shmlease/detail/hot_line.h"
#include "shmlease/errors.h"
#include "shmlease/lease.h"
#include "shmlease/store.h"

namespace shmlease {

// Made by Checker::Token. Check() is the hot path: on a ShmStore it is one
// seqlock read of one cache line plus a clock read, no syscall and no lock.
// A Token made before its lease was claimed answers correctly once it is,
// and vice versa.
//
// A Token is cheap to copy. One Token object must not be used by several
// threads at once (its cache is unsynchronised); give each thread a copy.
class Token {
 public:
  Token(std::shared_ptr<Store> store, Key key, std::string holder);

  // Success when the holder holds the lease at the time of the call (held and
  // unexpired, or pinned); Errc::not_held otherwise.
  // Always inlined: as an out-of-line function, which GCC's heuristics pick
  // once it grows, the call costs 2-3 ns of a 6-10 ns check.
  [[gnu::always_inline]] std::error_code Check() const {
    // Inline once this token's own store, a ShmStore, armed the cache: a
    // call into the library costs as much as the check (detail/hot_line.h).
    if (cache_.line != nullptr) {
      switch (
          detail::CheckInline(*cache_.line, cache_.words[0], cache_.words[1], *cache_.context)) {
        case detail::InlineAnswer::kHeld:
          return std::error_code(0, *cache_.context->ok_category);
        case detail::InlineAnswer::kNotHeld:
          return std::error_code(static_cast<int>(Errc::not_held), *cache_.context->lease_category);
        case detail::InlineAnswer::kUnknown:
          break;
      }
    }
    cache_.asked_by = store_.get();
    return store_->CheckLease(key_, holder_, &cache_);
  }

  // A moved-from Token holds no store, and so must not keep a slot to read.
  Token(const Token&) = default;
  Token& operator=(const Token&) = default;
  Token(Token&& other) noexcept
      : store_(std::move(other.store_)),
        key_(std::move(other.key_)),
        holder_(std::move(other.holder_)),
        cache_(std::exchange(other.cache_, TokenCache{})) {}
  Token& operator=(Token&& other) noexcept {
    store_ = std::move(other.store_);
    key_ = std::move(other.key_);
    holder_ = std::move(other.holder_);
    cache_ = std::exchange(other.cache_, TokenCache{});
    return *this;
  }

  const Key& key() const { return key_; }
  const std::string& holder() const { return holder_; }

 protected:
  // Holding (holding.h) claims through the same store, names and cache.
  std::shared_ptr<Store> store_;
  Key key_;
  std::string holder_;
  mutable TokenCache cache_;
};

}  // namespace shmlease

#endif  // SHMLEASE_TOKEN_H_

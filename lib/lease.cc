// Names, keys and requests: validation and hashing.
#include "shmlease/lease.h"

#include <array>

#include "shmlease/errors.h"

namespace shmlease {

namespace {

// The bytes a name may not hold. Whitespace and control characters would make
// names ambiguous in dumps and shell scripts; NUL would end a stored name early.
// A table and a branch-free loop: every claim validates four names (~80 bytes),
// and five comparisons per byte were a third of a claim's instructions.
constexpr auto kForbidden = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c <= 0x20; ++c) t[c] = true;
  t[0x7F] = t['.'] = t['#'] = t['$'] = true;
  return t;
}();

}  // namespace

std::error_code ValidateString(std::string_view s) noexcept {
  if (s.empty()) return Errc::invalid_name;
  bool bad = false;
  for (unsigned char c : s) bad |= kForbidden[c];
  if (bad) return Errc::invalid_name;
  return {};
}

std::error_code ValidateName(std::string_view s) noexcept {
  if (std::error_code ec = ValidateString(s)) return ec;
  if (s.size() > kMaxNameLength) return Errc::name_too_long;
  return {};
}

std::error_code Key::Validate() const noexcept {
  if (std::error_code ec = ValidateName(ns)) return ec;
  if (std::error_code ec = ValidateName(model_uuid)) return ec;
  return ValidateName(lease);
}

std::error_code Request::Validate() const noexcept {
  if (std::error_code ec = ValidateName(holder)) return ec;
  if (duration.count() <= 0) return Errc::invalid_duration;
  return {};
}

}  // namespace shmlease

std::size_t std::hash<shmlease::Key>::operator()(const shmlease::Key& k) const noexcept {
  std::size_t h = std::hash<std::string>{}(k.ns);
  h = h * 31 + std::hash<std::string>{}(k.model_uuid);
  return h * 31 + std::hash<std::string>{}(k.lease);
}

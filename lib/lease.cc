// Names, keys and requests: validation and hashing.
#include "shmlease/lease.h"

#include "name_check.h"
#include "shmlease/errors.h"

namespace shmlease {

std::error_code ValidateString(std::string_view s) noexcept {
  if (const Errc e = internal::StringProblem(s); e != Errc{}) return e;
  return {};
}

std::error_code ValidateName(std::string_view s) noexcept {
  if (const Errc e = internal::NameProblem(s); e != Errc{}) return e;
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

#include "shmlease/errors.h"

#include <string>

namespace shmlease {

namespace {

class LeaseCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "shmlease"; }

  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::claim_denied:
        return "lease claim denied";
      case Errc::not_held:
        return "lease not held";
      case Errc::wait_cancelled:
        return "waiting for lease cancelled by client";
      case Errc::invalid:
        return "invalid lease operation";
      case Errc::held:
        return "lease already held";
      case Errc::timeout:
        return "lease operation timed out";
      case Errc::aborted:
        return "lease operation aborted";
      case Errc::invalid_name:
        return "invalid name: empty, or contains whitespace, a control character, '.', '#' or '$'";
      case Errc::name_too_long:
        return "name too long: at most 64 bytes";
      case Errc::invalid_duration:
        return "invalid duration: must be positive and not overflow the clock";
      case Errc::table_full:
        return "lease table full";
      case Errc::too_many_pins:
        return "too many pins on one lease: at most 8 entities";
      case Errc::invalid_capacity:
        return "invalid capacity: must be between 1 and 67108864 leases";
      case Errc::invalid_segment_name:
        return "invalid segment name";
      case Errc::segment_not_found:
        return "lease segment not found";
      case Errc::corrupt_segment:
        return "lease segment corrupt";
      case Errc::incompatible_segment:
        return "lease segment made by an incompatible layout version";
      case Errc::permission_denied:
        return "permission denied on the lease segment";
      case Errc::foreign_owner:
        return "lease segment owned by another, untrusted user";
      case Errc::segment_busy:
        return "lease segment still being initialised by another process";
      case Errc::io_error:
        return "system call on the lease segment failed";
      case Errc::no_space:
        return "no space left for the lease segment";
      case Errc::read_only:
        return "lease store opened read-only";
      case Errc::too_many_writers:
        return "too many processes write the lease segment at once: every writer seat is taken";
      case Errc::not_a_segment:
        return "the lease segment's path names no regular file";
      case Errc::unsafe_segment_path:
        return "the lease segment's path has a symbolic link, or its file other hard links";
      case Errc::segment_replaced:
        return "the lease segment was destroyed or replaced since it was opened";
      case Errc::epochs_exhausted:
        return "fencing epochs exhausted: the next one would reach 2^53";
      case Errc::clock_offset_unknown:
        return "cannot tell this process's clock offset from the host's (time namespace)";
      case Errc::segment_truncated:
        return "lease segment was truncated under this process: its leases are gone";
    }
    return "unknown shmlease error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& lease_category() noexcept {
  static const LeaseCategory category;  // Immutable; one identity for the whole process.
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return std::error_code(static_cast<int>(e), lease_category());
}

bool IsAborted(std::error_code ec) noexcept { return ec == Errc::aborted; }
bool IsHeld(std::error_code ec) noexcept { return ec == Errc::held; }
bool IsInvalid(std::error_code ec) noexcept { return ec == Errc::invalid; }
bool IsNotHeld(std::error_code ec) noexcept { return ec == Errc::not_held; }
bool IsTimeout(std::error_code ec) noexcept { return ec == Errc::timeout; }
bool IsClaimDenied(std::error_code ec) noexcept { return ec == Errc::claim_denied; }
bool IsWaitCancelled(std::error_code ec) noexcept { return ec == Errc::wait_cancelled; }

}  // namespace shmlease

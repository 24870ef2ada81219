// Errors of shmlease: one std::error_category, one enum.
//
// Every operation that can fail at run time returns a std::error_code. An
// empty (false) code means success. Codes of this category compare equal to
// the `Errc` values, so callers write `if (ec == shmlease::Errc::claim_denied)`
// or use the Juju-style helpers `IsHeld(ec)` and friends.
//
// The first seven values are Juju's core/lease errors, with Juju's messages.
// The rest are shmlease's own: they describe bad input and bad segments.
#ifndef SHMLEASE_ERRORS_H_
#define SHMLEASE_ERRORS_H_

#include <system_error>
#include <type_traits>

namespace shmlease {

enum class Errc : int {
  // --- Juju core/lease errors ---
  claim_denied = 1,    // "lease claim denied": someone else holds the lease.
  not_held = 2,        // "lease not held": the named holder does not hold it.
  wait_cancelled = 3,  // "waiting for lease cancelled by client".
  invalid = 4,         // "invalid lease operation": the store's state does not allow it.
  held = 5,            // "lease already held": ClaimLease of a held lease.
  timeout = 6,         // "lease operation timed out": e.g. the writers' lock stayed taken.
  aborted = 7,         // "lease operation aborted": stopped through a std::stop_token.

  // --- bad input (nothing changed) ---
  invalid_name = 20,          // A name fails ValidateString (empty, whitespace, '.', '#', '$').
  name_too_long = 21,         // A name is longer than kMaxNameLength bytes.
  invalid_duration = 22,      // A duration is zero, negative, or so large it overflows.
  table_full = 23,            // No free slot for a new lease or pin; nothing held was disturbed.
  too_many_pins = 24,         // The lease already has kMaxPinsPerLease distinct pinning entities.
  invalid_capacity = 25,      // A capacity of 0 or above the largest table shmlease can build.
  invalid_segment_name = 26,  // A segment name that is empty, too long or has a '/' inside.

  // --- segment problems ---
  segment_not_found = 40,     // No segment of that name or path exists.
  corrupt_segment = 41,       // The segment's bytes break an invariant (bad magic, bad sizes).
  incompatible_segment = 42,  // Made by another layout version of shmlease.
  permission_denied = 43,     // The operating system refused access to the segment.
  foreign_owner = 44,         // Owned by another user who was not declared trusted.
  segment_busy = 45,          // Another process is initialising it and did not finish in time.
  io_error = 46,              // A system call on the segment failed for another reason.
  no_space = 47,              // No room to create the segment (e.g. /dev/shm is full).
  read_only = 48,             // A write through a store opened read-only.
  too_many_writers =
      49,              // Every writer seat of the segment is taken (4096 writing stores at once).
  not_a_segment = 60,  // The path names a directory, FIFO, socket or device, not a file.
  unsafe_segment_path = 61,  // A symbolic link on the path, or the file has other hard links.
  segment_replaced = 62,     // Destroyed, unlinked or replaced by another file since it was opened.
  epochs_exhausted = 63,     // The next fencing epoch would reach 2^53 (see ShmStats::epoch).

  // --- the process's clock ---
  // This process's CLOCK_MONOTONIC offset from the host's (its time
  // namespace's) cannot be told, so its clock cannot be placed on the
  // segment's: /proc is not mounted, or it unshared a time namespace that
  // only its children are in.
  clock_offset_unknown = 70,
  // The segment's file shrank under this process's mapping (truncate, or a
  // hole punched in a full tmpfs); see shmlease/truncation_guard.h.
  segment_truncated = 71,
};

// The category of every error code shmlease produces. Its name() is "shmlease".
const std::error_category& lease_category() noexcept;

std::error_code make_error_code(Errc e) noexcept;

// Juju's error names, usable wherever an Errc is: `ec == ErrClaimDenied`.
inline constexpr Errc ErrClaimDenied = Errc::claim_denied;
inline constexpr Errc ErrNotHeld = Errc::not_held;
inline constexpr Errc ErrWaitCancelled = Errc::wait_cancelled;
inline constexpr Errc ErrInvalid = Errc::invalid;
inline constexpr Errc ErrHeld = Errc::held;
inline constexpr Errc ErrTimeout = Errc::timeout;
inline constexpr Errc ErrAborted = Errc::aborted;

// True exactly for the named error (and any code comparing equal to it).
bool IsAborted(std::error_code ec) noexcept;
bool IsHeld(std::error_code ec) noexcept;
bool IsInvalid(std::error_code ec) noexcept;
bool IsNotHeld(std::error_code ec) noexcept;
bool IsTimeout(std::error_code ec) noexcept;
bool IsClaimDenied(std::error_code ec) noexcept;
bool IsWaitCancelled(std::error_code ec) noexcept;

}  // namespace shmlease

template <>
struct std::is_error_code_enum<shmlease::Errc> : std::true_type {};

#endif  // SHMLEASE_ERRORS_H_

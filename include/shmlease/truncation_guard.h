// Turning a segment shrunk under its users into an error instead of SIGBUS.
//
// Anyone who may write a segment's file can shrink it (`truncate`), and a hole
// punched in a full tmpfs loses pages the same way. Every process that then
// touches a lost page of its mapping gets SIGBUS, which kills it: read-only
// readers and waiters included.
//
// GuardAgainstTruncation() installs a SIGBUS handler for the whole process.
// A fault inside the mapping of a segment this process has open replaces
// that mapping with zero pages, and from then on every operation of that
// segment's ShmStore returns Errc::segment_truncated (the leases it held are
// gone with the file's bytes: open the segment again once it is re-made). A
// SIGBUS anywhere else goes to the handler installed before this one, or
// kills the process as it would have.
//
// Opt-in, because a signal handler is process-wide: call it once, early,
// before threads that might install their own SIGBUS handler start. The
// `shmlease` command calls it. A process that never calls it keeps the
// default: SIGBUS kills it.
//
// Limits: an operation that was under way when the fault came returns
// Errc::segment_truncated, whatever it had done; a shrunk file wakes no
// waiter, so once the handler is installed every waiter (WaitUntilFree,
// WaitUntilLost) looks at its lease at least once a second;
// segments are watched while at most 1024 stores are open in the process at
// once (beyond that, a store is left unwatched and its faults kill as
// before).
#ifndef SHMLEASE_TRUNCATION_GUARD_H_
#define SHMLEASE_TRUNCATION_GUARD_H_

#include <system_error>

namespace shmlease {

// Installs the handler; safe to call more than once and from several threads
// (it is installed once). An error only when sigaction(2) fails.
std::error_code GuardAgainstTruncation() noexcept;

}  // namespace shmlease

#endif  // SHMLEASE_TRUNCATION_GUARD_H_

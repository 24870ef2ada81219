// Where this process's CLOCK_MONOTONIC stands against the host's.
//
// A time namespace (Linux 5.6+) shifts CLOCK_MONOTONIC by an offset of its
// own, so two processes of one host may read clocks a day apart. Expiries in
// a segment are shared by all of them, so they are kept in one time base: the
// initial time namespace's CLOCK_MONOTONIC (the host's). Each process learns
// its offset once, when it opens a segment, and adds it to every clock read
// (docs/design.md, "Time namespaces").
#ifndef SHMLEASE_LIB_TIME_NAMESPACE_H_
#define SHMLEASE_LIB_TIME_NAMESPACE_H_

#include <cstdint>
#include <string>
#include <system_error>

namespace shmlease::internal {

// Sets *host_minus_own_ns to the host's CLOCK_MONOTONIC minus this
// process's (0 in the initial time namespace, and on a kernel without time
// namespaces). Errc::clock_offset_unknown when it cannot be told: /proc is
// not mounted, or the process has unshared a time namespace that only its
// children enter (/proc/self/timens_offsets then describes theirs, not its
// own), or the offsets file cannot be read or parsed; *detail says which.
std::error_code ReadHostClockOffset(std::int64_t* host_minus_own_ns, std::string* detail);

// Parses the text of /proc/PID/timens_offsets into the monotonic clock's
// offset (the namespace's clock minus the host's), in nanoseconds. False
// when there is no well-formed "monotonic" line, or its value is out of the
// range the kernel allows.
bool ParseMonotonicOffset(const std::string& text, std::int64_t* offset_ns);

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_TIME_NAMESPACE_H_

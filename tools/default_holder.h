// The holder name `shmlease run` uses when none is given.
#ifndef SHMLEASE_TOOLS_DEFAULT_HOLDER_H_
#define SHMLEASE_TOOLS_DEFAULT_HOLDER_H_

#include <string>

namespace shmlease::cli {

// "run-<PID>-<16 hex digits>": the pid, for a reader, and a hash that tells
// this process incarnation apart from every other one that shares the
// segment. A pid alone does not: two containers sharing /dev/shm both have a
// PID 1, and a pid is reused after a reboot (a file segment outlives one) or
// once its process is gone. The hash covers the boot id, the PID namespace
// (its inode and device), the pid and the process's start time; when one of
// them cannot be read (no /proc), random bytes stand in for it, which keep
// the name unique but no longer reproducible from outside.
std::string DefaultRunHolder();

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_DEFAULT_HOLDER_H_

// The processes descended from one process, found through /proc: what a
// command left running outside its process group (a daemon that called
// setsid, after a double fork) is still among them, since `run` is a child
// subreaper and the orphans of its command's tree are handed to it.
#ifndef SHMLEASE_TOOLS_DESCENDANTS_H_
#define SHMLEASE_TOOLS_DESCENDANTS_H_

#include <sys/types.h>

namespace shmlease::cli {

// Sends `sig` to every process below `root` in the process tree that has not
// ended (zombies are left alone), except `spared` and what is below it.
// Returns how many were signalled. Each is signalled through a pidfd opened
// before its parent is checked again, so that a pid reused meanwhile by a
// process outside the tree is never hit. Nothing is found (0) when /proc
// belongs to another PID namespace than the caller's: its pids are not ours.
int SignalDescendants(pid_t root, pid_t spared, int sig);

// Reaps those children of the caller that have ended, except `kept_a` and
// `kept_b` (the caller's own command and guardian, which it reaps itself):
// as a subreaper, the caller is handed orphans it never started.
void ReapAdoptedChildren(pid_t kept_a, pid_t kept_b);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_DESCENDANTS_H_

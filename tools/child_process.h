// Starting the command `run` guards, so that it cannot outlive its guard.
#ifndef SHMLEASE_TOOLS_CHILD_PROCESS_H_
#define SHMLEASE_TOOLS_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <system_error>
#include <vector>

namespace shmlease::cli {

// Starts argv[0] (looked up in PATH) with `argv`, and the signal mask `mask`.
// The child is sent SIGKILL when the calling thread ends (PR_SET_PDEATHSIG),
// so call this from the thread that lives as long as the process: the main one.
// Returns the error of execvp (e.g. ENOENT) when the command could not be
// started, after reaping the child; *pid is then -1.
std::error_code StartChild(const std::vector<std::string>& argv, const sigset_t& mask, pid_t* pid);

// The exit code a shell would give for this wait status: the exit status, or
// 128+N for death by signal N.
int ExitCodeOfWaitStatus(int wait_status);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_CHILD_PROCESS_H_

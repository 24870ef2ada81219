// Starting the command `run` guards, so that neither it nor anything it
// starts can outlive its guard.
#ifndef SHMLEASE_TOOLS_CHILD_PROCESS_H_
#define SHMLEASE_TOOLS_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <system_error>
#include <vector>

#include "unique_fd.h"

namespace shmlease::cli {

struct StartedChild {
  pid_t pid = -1;       // The command, leader of its own process group.
  pid_t guardian = -1;  // Kills that group when the caller dies; see StopGuardian.
  // Where RenewGuardian writes the guardian's new deadlines.
  UniqueFd renew;
};

// Starts argv[0] (looked up in PATH) with `argv`, and the signal mask `mask`,
// as the leader of a process group of its own (its pgid is its pid), so that
// a signal to the group reaches whatever it starts too. When `terminal` is a
// descriptor of the caller's controlling terminal (see ForegroundTerminal),
// that group is made the terminal's foreground group before exec, so that the
// command can read the terminal and gets the signals its keys send.
// The child is sent SIGKILL when the calling thread ends (PR_SET_PDEATHSIG),
// so call this from the thread that lives as long as the process: the main
// one. So that what the child starts dies too, a guardian is forked once the
// group exists and before the child may exec: a process that holds no
// descriptor, ignores every signal sent to it, leaves the caller's group (a
// signal to the caller's whole job must not end it too), and, once the
// calling thread has ended (its own PR_SET_PDEATHSIG), SIGKILLs the group.
// It does so too once `deadline` (on CLOCK_MONOTONIC; time_point::max() for
// none) has passed without a later one from RenewGuardian: a caller that is
// stopped (SIGSTOP from elsewhere) or starved cannot extend its lease, and
// its command must not run past the lease's promise. Then, while the caller
// still lives, it also kills every other process below the caller (see
// SignalDescendants), where a subreaper caller finds what the command
// started outside its group; of a caller that died, those were handed on
// to another reaper, and only the group is still known.
// Stop it with StopGuardian before exiting normally. Call this while the
// caller runs one thread: the guardian allocates after fork (to walk /proc),
// which a lock held by another thread at the fork could deadlock.
// Returns the error of execvp (e.g. ENOENT) when the command could not be
// started (or of fork), after reaping the child and the guardian and taking
// the terminal back.
std::error_code StartChild(const std::vector<std::string>& argv, const sigset_t& mask, int terminal,
                           std::chrono::steady_clock::time_point deadline, StartedChild* started);

// Gives the guardian a new deadline (on CLOCK_MONOTONIC), written to
// `renew_fd` (StartedChild::renew). Never blocks: a guardian too far behind
// to have read its earlier deadlines keeps an earlier one, which errs on
// the side of the lease.
void RenewGuardian(int renew_fd, std::chrono::steady_clock::time_point deadline);

// Stdin when it is a terminal whose foreground process group is the caller's
// (the caller may hand the terminal on), else -1.
int ForegroundTerminal();

// Makes `pgid` the foreground process group of `terminal`, with SIGTTOU
// blocked meanwhile: a caller in a background group would be stopped by it.
// Async-signal-safe. False (and errno) when tcsetpgrp failed.
bool SetForegroundGroup(int terminal, pid_t pgid);

// SIGKILLs and reaps the guardian.
void StopGuardian(pid_t guardian);

// The exit code a shell would give for this wait status: the exit status, or
// 128+N for death by signal N.
int ExitCodeOfWaitStatus(int wait_status);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_CHILD_PROCESS_H_

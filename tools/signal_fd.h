// Signals as readable events: `run` must react to SIGCHLD, SIGINT and SIGTERM
// between lease extensions, in one loop, without async-signal handlers.
#ifndef SHMLEASE_TOOLS_SIGNAL_FD_H_
#define SHMLEASE_TOOLS_SIGNAL_FD_H_

#include <signal.h>
#include <sys/signalfd.h>

#include <initializer_list>
#include <system_error>

#include "unique_fd.h"

namespace shmlease::cli {

class SignalFd {
 public:
  // Blocks `signals` in the calling thread and delivers them through fd()
  // instead; not those that are ignored already (nohup): they stay ignored. Create it before
  // starting any thread: threads inherit the mask, and a thread with the signals unblocked would
  // receive them the old way.
  explicit SignalFd(std::initializer_list<int> signals);
  // Leaves the signals blocked: one that arrived after the last Read() would
  // otherwise kill a process that is about to exit with its command's status.
  ~SignalFd() = default;
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  // Set when the constructor failed; then fd() is -1.
  std::error_code error() const { return error_; }
  int fd() const { return fd_.get(); }
  // The mask before the constructor: what a child should run with.
  const sigset_t& original_mask() const { return original_mask_; }

  // Reads one pending signal without blocking; false when none is pending.
  bool Read(signalfd_siginfo* info) const;

 private:
  UniqueFd fd_;
  sigset_t original_mask_;
  std::error_code error_;
};

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_SIGNAL_FD_H_

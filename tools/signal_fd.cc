#include "signal_fd.h"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>

namespace shmlease::cli {

SignalFd::SignalFd(std::initializer_list<int> signals) {
  sigemptyset(&original_mask_);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) {
    // Ignored already (nohup, a script's background job): left ignored, as
    // the one who started this process asked. Blocked and read here, it
    // would be acted on all the same.
    struct sigaction current {};
    if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
    sigaddset(&set, sig);
  }
  if (int err = pthread_sigmask(SIG_BLOCK, &set, &original_mask_); err != 0) {
    error_ = std::error_code(err, std::system_category());
    return;
  }
  fd_ = UniqueFd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd_) error_ = std::error_code(errno, std::system_category());
}

bool SignalFd::Read(signalfd_siginfo* info) const {
  for (;;) {
    ssize_t n = ::read(fd_.get(), info, sizeof *info);
    if (n == static_cast<ssize_t>(sizeof *info)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

}  // namespace shmlease::cli

#include "background_wait.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace shmlease::cli {

BackgroundWait::BackgroundWait(Wait wait) : done_fd_(eventfd(0, EFD_CLOEXEC)) {
  if (!done_fd_) {
    error_ = std::error_code(errno, std::system_category());
    return;
  }
  try {
    thread_ = std::jthread([this, wait = std::move(wait)](std::stop_token stop) {
      result_ = wait(std::move(stop));
      finished_.store(true, std::memory_order_release);
      const std::uint64_t one = 1;
      ssize_t ignored = ::write(done_fd_.get(), &one, sizeof one);
      (void)ignored;  // An eventfd write of 1 fails only on overflow, after 2^64 - 2 writes.
    });
  } catch (const std::system_error& e) {
    // No thread to be had (RLIMIT_NPROC, a pids cgroup): the caller goes on without the wait.
    error_ = e.code();
  }
}

BackgroundWait::~BackgroundWait() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

std::error_code RunUnlessSignalled(const BackgroundWait::Wait& op, const SignalFd& signals,
                                   int* signo, WithoutThread without_thread,
                                   std::chrono::milliseconds grace) {
  *signo = 0;
  BackgroundWait call(op);
  if (call.error()) {
    return without_thread == WithoutThread::kRunHere ? op(std::stop_token()) : call.error();
  }
  while (!call.finished() && *signo == 0) {
    pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {call.fd(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;  // EINTR: nothing to do but look again.
    signalfd_siginfo info;
    while (*signo == 0 && signals.Read(&info)) {
      if (info.ssi_signo != SIGCHLD) *signo = static_cast<int>(info.ssi_signo);
    }
  }
  if (!call.finished() && grace.count() > 0) {
    pollfd done = {call.fd(), POLLIN, 0};
    poll(&done, 1, static_cast<int>(grace.count()));  // An EINTR only shortens the grace.
  }
  if (!call.finished()) {
    call.RequestStop();
    pollfd done = {call.fd(), POLLIN, 0};
    while (!call.finished()) poll(&done, 1, -1);
  }
  return call.result();
}

}  // namespace shmlease::cli

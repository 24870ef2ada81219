// A blocking store wait (WaitUntilFree, WaitUntilLost) run in a thread of its
// own, so that a loop that also watches signals and timers can poll for its
// end: only a std::stop_token can end such a wait, and the loop's thread must
// stay free to read signals.
#ifndef SHMLEASE_TOOLS_BACKGROUND_WAIT_H_
#define SHMLEASE_TOOLS_BACKGROUND_WAIT_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <stop_token>
#include <system_error>
#include <thread>

#include "signal_fd.h"
#include "unique_fd.h"

namespace shmlease::cli {

class BackgroundWait {
 public:
  using Wait = std::function<std::error_code(std::stop_token)>;

  // Starts `wait` in a new thread, which inherits the caller's signal mask:
  // make the SignalFd first. When an eventfd or a thread cannot be made,
  // error() says why and nothing was started.
  explicit BackgroundWait(Wait wait);
  // Requests the stop and joins: a wait still blocked returns wait_cancelled.
  ~BackgroundWait();
  BackgroundWait(const BackgroundWait&) = delete;
  BackgroundWait& operator=(const BackgroundWait&) = delete;

  std::error_code error() const { return error_; }
  // Readable (POLLIN) once the wait has returned, and from then on.
  int fd() const { return done_fd_.get(); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // What the wait returned; meaningful once finished().
  std::error_code result() const { return result_; }
  void RequestStop() { thread_.request_stop(); }

 private:
  UniqueFd done_fd_;
  std::error_code error_;
  std::error_code result_;
  std::atomic<bool> finished_{false};
  std::jthread thread_;  // Last: joined before the members it writes go away.
};

// Runs `op` (a store call that takes a stop token: a claim, a wait, a
// revoke) in a BackgroundWait while reading `signals`, so that a signal is
// acted on at once even while `op` waits for the writers' lock, which a
// stopped process may hold for the whole lock timeout. Returns what `op`
// returned. When a signal other than SIGCHLD arrives first, sets *signo,
// gives `op` up to `grace` to finish, then asks it to stop and waits for it:
// the result says whether `op` took effect (success) or not (Errc::aborted,
// wait_cancelled). A grace lets an `op` that was not waiting at all (the
// lock was free; a stop requested before it reached the lock would abort
// it without trying) finish as if no signal had come.
// Without a thread to be had: kRunHere runs `op` in the caller's thread
// (for an `op` bounded by the lock timeout; signals wait for it), kFail
// returns why no thread could be started (for an `op` that may wait for
// ever, which nothing could then interrupt).
enum class WithoutThread { kRunHere, kFail };
std::error_code RunUnlessSignalled(const BackgroundWait::Wait& op, const SignalFd& signals,
                                   int* signo, WithoutThread without_thread,
                                   std::chrono::milliseconds grace);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_BACKGROUND_WAIT_H_

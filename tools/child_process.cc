#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <limits>

#include "descendants.h"
#include "unique_fd.h"

namespace shmlease::cli {

namespace {

// What the guardian is sent when its parent's thread ends. Any signal that
// can be waited for would do: the guardian acts only once its parent is gone,
// so the same signal from anyone else is ignored.
constexpr int kGuardianSignal = SIGUSR1;

void ReapChild(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

int ForegroundTerminal() {
  if (isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp()) return STDIN_FILENO;
  return -1;
}

bool SetForegroundGroup(int terminal, pid_t pgid) {
  // With SIGTTOU blocked, tcsetpgrp from a background group proceeds (and
  // leaves no SIGTTOU pending) instead of stopping the caller.
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &old);
  const bool done = tcsetpgrp(terminal, pgid) == 0;
  const int err = errno;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return done;
}

// The guardian's deadline as it travels through its pipe: nanoseconds on
// CLOCK_MONOTONIC. One write of it is atomic (it is below PIPE_BUF).
using WireDeadline = std::int64_t;
constexpr WireDeadline kNoDeadline = std::numeric_limits<WireDeadline>::max();

WireDeadline ToWire(std::chrono::steady_clock::time_point deadline) {
  if (deadline == std::chrono::steady_clock::time_point::max()) return kNoDeadline;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
}

WireDeadline MonotonicNow() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<WireDeadline>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Until the guardian must act: its parent died (`parent` is no longer its
// parent, or `renew` reached its end: nobody can write it any more), or
// `deadline` passed without a later one arriving on `renew`. `wake` is
// readable on the guardian's death signal.
void GuardUntilDue(pid_t parent, int renew, int wake, WireDeadline deadline) {
  for (;;) {
    if (getppid() != parent) return;
    const WireDeadline now = MonotonicNow();
    if (deadline != kNoDeadline && now >= deadline) return;
    pollfd fds[2] = {{renew, POLLIN, 0}, {wake, POLLIN, 0}};
    const nfds_t nfds = wake >= 0 ? 2 : 1;
    timespec timeout{};
    if (deadline != kNoDeadline) {
      timeout = {static_cast<time_t>((deadline - now) / 1'000'000'000),
                 static_cast<long>((deadline - now) % 1'000'000'000)};
    }
    if (ppoll(fds, nfds, deadline != kNoDeadline ? &timeout : nullptr, nullptr) <= 0) continue;
    if (fds[0].revents != 0) {
      // Whole deadlines only (every write is one); the last one counts.
      WireDeadline got[64];
      const ssize_t n = ::read(renew, got, sizeof got);
      if (n == 0) return;
      if (n >= static_cast<ssize_t>(sizeof(WireDeadline))) {
        deadline = got[static_cast<std::size_t>(n) / sizeof(WireDeadline) - 1];
      }
    }
    if (nfds == 2 && fds[1].revents != 0) {
      signalfd_siginfo info;
      ssize_t ignored = ::read(wake, &info, sizeof info);
      (void)ignored;
    }
  }
}

// Forks the guardian of group `pgid` (see StartChild), which reads its
// deadlines from what *renew (the write end, non-blocking) is given; -1 and
// errno when fork or the pipe failed.
pid_t StartGuardian(pid_t pgid, std::chrono::steady_clock::time_point deadline, UniqueFd* renew) {
  const pid_t parent = getpid();
  const long max_fd = sysconf(_SC_OPEN_MAX);
  sigset_t all, wake;
  sigfillset(&all);
  sigemptyset(&wake);
  sigaddset(&wake, kGuardianSignal);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  if (fcntl(write_end.get(), F_SETFL, O_NONBLOCK) != 0) return -1;
  const WireDeadline first = ToWire(deadline);
  const pid_t guardian = fork();
  if (guardian != 0) {
    if (guardian > 0) *renew = std::move(write_end);
    return guardian;
  }

  // The guardian. All signals blocked first, so that kGuardianSignal waits
  // for its descriptor instead of ending it, and nothing but SIGKILL stops it.
  sigprocmask(SIG_SETMASK, &all, nullptr);
  // It holds nothing of run's but the read end of its deadlines: not its
  // output (a reader waiting for the end of run's output must not wait for
  // the guardian), not the segment, not the terminal.
  if (dup2(read_end.get(), 0) != 0) _exit(1);
  if (close_range(1, ~0U, 0) != 0) {
    for (long fd = 1; fd < max_fd; ++fd) close(static_cast<int>(fd));
  }
  // Out of run's process group, so that a signal to run's whole job (a
  // shell's `kill -9 %1`) does not end the guardian along with run.
  setpgid(0, 0);
  // prctl cannot fail for a valid signal; a guardian that could not arm
  // itself must not kill the group of a run that is still alive.
  if (prctl(PR_SET_PDEATHSIG, kGuardianSignal) != 0) _exit(1);
  // The signal is sent on the thread's death, after the guardian has been
  // handed to a new parent: a changed getppid() tells it apart from the same
  // signal sent by anyone else, and covers a parent that died before prctl.
  // Without the descriptor, the end of the deadlines' pipe (the parent's
  // death) still wakes the guardian.
  const int wake_fd = signalfd(-1, &wake, SFD_CLOEXEC);
  GuardUntilDue(parent, 0, wake_fd, first);
  kill(-pgid, SIGKILL);
  // A parent still there (stopped, or starved) may have been handed daemons
  // of the command's: each round kills what is there, and what those
  // leave behind is handed to the parent for the next one.
  while (getppid() == parent && SignalDescendants(parent, getpid(), SIGKILL) > 0) {
    const timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
  _exit(0);
}

std::error_code StartChild(const std::vector<std::string>& argv, const sigset_t& mask, int terminal,
                           std::chrono::steady_clock::time_point deadline, StartedChild* started) {
  *started = StartedChild{};
  // Built before fork: the child may only make async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  // The child writes exec's errno here; a successful exec closes it (O_CLOEXEC)
  // and the parent reads end-of-file.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::error_code(errno, std::system_category());
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  // The parent writes a byte here once the guardian runs: only then may the
  // child exec, and so start anything the guardian could miss.
  if (pipe2(fds, O_CLOEXEC) != 0) return std::error_code(errno, std::system_category());
  UniqueFd go_read(fds[0]);
  UniqueFd go_write(fds[1]);
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) return std::error_code(errno, std::system_category());
  if (child == 0) {
    // The command must never run on without its lease: die with the parent.
    // The parent may have died before prctl took effect; then getppid()
    // already names someone else and nobody will send the signal.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    // Both the child and the parent make the child a group leader and hand
    // it the terminal, so that both are done whichever runs first: before
    // exec (the command's first read of the terminal) and before the parent
    // goes on to signal the group.
    setpgid(0, 0);
    if (terminal >= 0) SetForegroundGroup(terminal, getpid());
    go_write.Reset();
    char go = 0;
    ssize_t n;
    do {
      n = ::read(go_read.get(), &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);  // The parent died before the guardian ran.
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    execvp(args[0], args.data());
    int err = errno;
    ssize_t ignored = ::write(write_end.get(), &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  write_end.Reset();
  go_read.Reset();
  // EACCES once the child has exec'd: then it has done this itself.
  setpgid(child, child);
  if (terminal >= 0) SetForegroundGroup(terminal, child);
  UniqueFd renew;
  const pid_t guardian = StartGuardian(child, deadline, &renew);
  if (guardian < 0) {
    const int err = errno;
    kill(child, SIGKILL);
    ReapChild(child);
    if (terminal >= 0) SetForegroundGroup(terminal, getpgrp());
    return std::error_code(err, std::system_category());
  }
  const char go = 1;
  ssize_t ignored = ::write(go_write.get(), &go, 1);  // A pipe's first byte: it fits.
  (void)ignored;
  go_write.Reset();
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(read_end.get(), &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    StopGuardian(guardian);
    ReapChild(child);
    if (terminal >= 0) SetForegroundGroup(terminal, getpgrp());
    return std::error_code(exec_errno, std::system_category());
  }
  started->pid = child;
  started->guardian = guardian;
  started->renew = std::move(renew);
  return {};
}

void RenewGuardian(int renew_fd, std::chrono::steady_clock::time_point deadline) {
  const WireDeadline wire = ToWire(deadline);
  ssize_t ignored = ::write(renew_fd, &wire, sizeof wire);  // EAGAIN: see the header.
  (void)ignored;
}

void StopGuardian(pid_t guardian) {
  if (guardian <= 0) return;
  kill(guardian, SIGKILL);
  ReapChild(guardian);
}

int ExitCodeOfWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace shmlease::cli

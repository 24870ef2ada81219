#include "child_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "unique_fd.h"

namespace shmlease::cli {

std::error_code StartChild(const std::vector<std::string>& argv, const sigset_t& mask, pid_t* pid) {
  *pid = -1;
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
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) return std::error_code(errno, std::system_category());
  if (child == 0) {
    // The command must never run on without its lease: die with the parent.
    // The parent may have died before prctl took effect; then getppid()
    // already names someone else and nobody will send the signal.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    execvp(args[0], args.data());
    int err = errno;
    ssize_t ignored = ::write(write_end.get(), &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  write_end.Reset();
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(read_end.get(), &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
    return std::error_code(exec_errno, std::system_category());
  }
  *pid = child;
  return {};
}

int ExitCodeOfWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace shmlease::cli

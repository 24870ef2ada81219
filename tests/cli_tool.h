// Running the built `shmlease` command from tests: to completion with its
// output captured, or in the background with its output on pipes that the
// test reads line by line. Every read and wait has a bounded deadline, so a
// command that hangs fails its test instead of wedging the suite.
#ifndef SHMLEASE_TESTS_CLI_TOOL_H_
#define SHMLEASE_TESTS_CLI_TOOL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#ifndef SHMLEASE_TOOL_PATH
#error "SHMLEASE_TOOL_PATH must name the built shmlease command (see tests/CMakeLists.txt)"
#endif

extern char** environ;

namespace shmlease::testing {

inline constexpr const char* kToolPath = SHMLEASE_TOOL_PATH;

// What a shell would report for a wait status: the exit status, or 128+N.
inline int ShellCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// A `shmlease` process with stdin from /dev/null and stdout and stderr on
// pipes. A process still running when the object goes away is SIGKILLed and
// reaped, so a failing test leaves nothing behind.
class ToolProcess {
 public:
  // `env` entries ("NAME=value") are added to the test's environment, from
  // which SHMLEASE_SEGMENT, SHMLEASE_NAMESPACE and SHMLEASE_MODEL are removed
  // so that only the test decides where the tool looks. A `wrapper` (such as
  // {"/usr/bin/unshare", "--pid", "--fork"}) runs the program: its first word
  // is a path, and the process is the wrapper's. `program` runs instead of the
  // tool when given (a helper program of the tests).
  explicit ToolProcess(const std::vector<std::string>& args,
                       const std::vector<std::string>& env = {},
                       const std::vector<std::string>& wrapper = {},
                       const std::string& program = kToolPath) {
    std::vector<std::string> argv_text = wrapper;
    argv_text.push_back(program);
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<std::string> env_text;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      if (!entry.starts_with("SHMLEASE_SEGMENT=") && !entry.starts_with("SHMLEASE_NAMESPACE=") &&
          !entry.starts_with("SHMLEASE_MODEL=")) {
        env_text.emplace_back(*e);
      }
    }
    env_text.insert(env_text.end(), env.begin(), env.end());
    // Built before fork: between fork and exec only async-signal-safe calls.
    std::vector<char*> argv, envp;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    if (pipe2(err, O_CLOEXEC) != 0) {
      close(out[0]);
      close(out[1]);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      int null = open("/dev/null", O_RDONLY);
      if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(125);
      execve(argv[0], argv.data(), envp.data());
      _exit(126);
    }
    close(out[1]);
    close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }
  ~ToolProcess() {
    if (pid_ > 0 && !status_) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
  }
  ToolProcess(const ToolProcess&) = delete;
  ToolProcess& operator=(const ToolProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void Signal(int sig) const {
    if (pid_ > 0 && !status_) kill(pid_, sig);
  }

  // The next line of stdout without its '\n'; nothing at end of output or
  // when `timeout` passes first.
  std::optional<std::string> ReadLine(
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = out_.find('\n', out_taken_); nl != std::string::npos) {
        std::string line = out_.substr(out_taken_, nl - out_taken_);
        out_taken_ = nl + 1;
        return line;
      }
      if (out_fd_ < 0 || !ReadSome(&out_fd_, &out_, deadline)) return std::nullopt;
    }
  }

  // Reads stderr until `needle` shows up in it; false at end of output or timeout.
  bool WaitForStderr(const std::string& needle,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (err_.find(needle) == std::string::npos) {
      if (err_fd_ < 0 || !ReadSome(&err_fd_, &err_, deadline)) return false;
    }
    return true;
  }

  // Reads both outputs to their end, then reaps the process. Returns its wait
  // status, or nothing when it did not finish within `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    if (status_) return status_;
    if (pid_ <= 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_fd_ >= 0 || err_fd_ >= 0) {
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      int rc = poll(fds, 2, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return std::nullopt;
      if (fds[0].revents != 0) Drain(&out_fd_, &out_);
      if (fds[1].revents != 0) Drain(&err_fd_, &err_);
    }
    // The outputs close when the process (and any child holding them) ends;
    // a process that closed them early is given the rest of the deadline.
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        status_ = status;
        return status_;
      }
      if (r < 0 && errno != EINTR) return std::nullopt;
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      timespec pause{0, 1'000'000};
      nanosleep(&pause, nullptr);
    }
  }

  // Wait()'s status as a shell reports it; -1 when the process did not end.
  int ExitCode(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::optional<int> status = Wait(timeout);
    return status ? ShellCode(*status) : -1;
  }

  // Everything read so far (all of it once Wait() has returned).
  std::string out() const { return out_.substr(out_taken_); }
  const std::string& err() const { return err_; }

 private:
  // One read of what is available; false on end of output or timeout.
  static bool ReadSome(int* fd, std::string* into, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{*fd, POLLIN, 0};
      int rc = poll(&pfd, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return false;
      return Drain(fd, into);
    }
  }
  // Appends what one read returns; closes *fd and returns false at its end.
  static bool Drain(int* fd, std::string* into) {
    char buf[4096];
    ssize_t n;
    do {
      n = read(*fd, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      close(*fd);
      *fd = -1;
      return false;
    }
    into->append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::size_t out_taken_ = 0;  // Bytes of out_ already returned by ReadLine.
  std::string err_;
  std::optional<int> status_;
};

struct ToolResult {
  int code = -1;  // As a shell reports it; -1 if the command did not finish in time.
  std::string out;
  std::string err;
};

// Runs `shmlease args...` to completion.
inline ToolResult RunTool(const std::vector<std::string>& args,
                          const std::vector<std::string>& env = {}) {
  ToolProcess process(args, env);
  ToolResult result;
  result.code = process.ExitCode();
  result.out = process.out();
  result.err = process.err();
  return result;
}

// Runs `shmlease args...` as a bare child, for a test that must set up
// what ToolProcess fixes (a signal disposition, its own stdout): `in_child`
// runs after fork, before exec, and may only make async-signal-safe calls.
// Returns the child's wait status; waits with no bound (ctest's timeout is
// the guard).
inline int RunToolWith(const std::vector<std::string>& args, const std::function<void()>& in_child,
                       const std::function<void(pid_t)>& in_parent = {}) {
  std::vector<std::string> argv_text = {kToolPath};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    in_child();
    execv(argv[0], argv.data());
    _exit(126);
  }
  if (in_parent) in_parent(pid);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Prints a ToolResult in assertion failures.
inline std::ostream& operator<<(std::ostream& os, const ToolResult& r) {
  return os << "exit " << r.code << "\nstdout:\n" << r.out << "stderr:\n" << r.err;
}

// A fresh directory under the test temp dir, removed (with its files) on scope exit.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = ::testing::TempDir() + "shmlease-cli-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScopedTempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) ADD_FAILURE() << "could not remove " << path_ << ": " << ec.message();
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace shmlease::testing

#endif  // SHMLEASE_TESTS_CLI_TOOL_H_

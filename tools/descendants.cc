#include "descendants.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "unique_fd.h"

namespace shmlease::cli {

namespace {

struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';
};

// Fields 1, 3 and 4 of /proc/PID/stat. The command name (field 2) may hold
// spaces and parentheses: fields are read from the last ')'.
std::optional<ProcStat> ReadStat(pid_t pid) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buf[1024];
  ssize_t n;
  do {
    n = read(fd.get(), buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  const std::string text(buf, static_cast<std::size_t>(n));
  const std::size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  ProcStat stat;
  stat.pid = pid;
  int ppid = 0;
  if (std::sscanf(text.c_str() + paren + 1, " %c %d", &stat.state, &ppid) != 2) {
    return std::nullopt;
  }
  stat.ppid = ppid;
  return stat;
}

// Every process /proc lists now.
std::vector<ProcStat> ReadAll() {
  std::vector<ProcStat> all;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return all;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (std::optional<ProcStat> stat = ReadStat(static_cast<pid_t>(pid))) all.push_back(*stat);
  }
  closedir(dir);
  return all;
}

// Whether /proc numbers processes as the caller's PID namespace does: a
// /proc mounted for another namespace (a container started with
// `unshare --pid --fork` and no /proc of its own) names other processes
// by the caller's pids.
bool ProcIsOurs() {
  char target[32] = {};
  if (readlink("/proc/self", target, sizeof target - 1) <= 0) return false;
  return std::atol(target) == static_cast<long>(getpid());
}

bool Ended(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace

int SignalDescendants(pid_t root, pid_t spared, int sig) {
  if (!ProcIsOurs()) return 0;
  std::multimap<pid_t, pid_t> children;  // Parent to child.
  for (const ProcStat& p : ReadAll()) children.emplace(p.ppid, p.pid);
  std::set<pid_t> tree = {root};
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto [from, to] = children.equal_range(parent);
    for (auto it = from; it != to; ++it) {
      if (it->second == spared || !tree.insert(it->second).second) continue;
      todo.push_back(it->second);
    }
  }
  tree.erase(root);
  int signalled = 0;
  for (const pid_t pid : tree) {
    const UniqueFd pidfd(PidfdOpen(pid));
    const int open_errno = errno;
    // Read again once the pidfd holds the process: its parent still in the
    // tree means the pid still names a descendant.
    const std::optional<ProcStat> now = ReadStat(pid);
    if (!now || Ended(now->state) || (now->ppid != root && tree.count(now->ppid) == 0)) continue;
    if (pidfd) {
      if (PidfdSendSignal(pidfd.get(), sig) == 0) ++signalled;
    } else if (open_errno == ENOSYS && kill(pid, sig) == 0) {
      ++signalled;  // A kernel before pidfds (5.3): the check above is the guard left.
    }
  }
  return signalled;
}

void ReapAdoptedChildren(pid_t kept_a, pid_t kept_b) {
  // Without /proc: the ended children one by one, up to one that is kept.
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (info.si_pid == kept_a || info.si_pid == kept_b) break;
    waitpid(info.si_pid, nullptr, WNOHANG);
  }
  // Past a kept one, only /proc can name the others.
  if (!ProcIsOurs()) return;
  const pid_t self = getpid();
  for (const ProcStat& p : ReadAll()) {
    if (p.ppid != self || p.pid == kept_a || p.pid == kept_b || !Ended(p.state)) continue;
    waitpid(p.pid, nullptr, WNOHANG);
  }
}

}  // namespace shmlease::cli

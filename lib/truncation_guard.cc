// The SIGBUS handler of shmlease/truncation_guard.h and the registry of
// watched mappings it reads (mapping_watch.h).
#include "shmlease/truncation_guard.h"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "mapping_watch.h"

namespace shmlease {

namespace {

// Process-wide mutable state, the one exception to the project's rule
// against it: a signal handler is process-wide, can be given no context but
// what it finds in static storage, and may only use async-signal-safe,
// lock-free memory. So the watched ranges are a fixed array of atomics,
// claimed and released with compare-and-swap, never allocated or locked.
enum : std::uint32_t { kFree = 0, kFilling = 1, kWatched = 2 };

struct WatchedMapping {
  std::atomic<std::uint32_t> state{kFree};
  std::atomic<std::uint32_t> truncated{0};  // Set by the handler, read by the store.
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::uintptr_t> end{0};
  std::atomic<int> prot{PROT_NONE};
};
static_assert(std::atomic<std::uintptr_t>::is_always_lock_free &&
              std::atomic<std::uint32_t>::is_always_lock_free &&
              std::atomic<int>::is_always_lock_free);

constexpr int kMaxWatched = 1024;
WatchedMapping watched[kMaxWatched];

// Set once the handler is in place (waiters then re-check, table_wait.cc).
std::atomic<bool> guard_installed{false};

// The SIGBUS disposition before GuardAgainstTruncation: faults that are not
// a watched segment's go there. Written once, before the handler is installed.
struct sigaction previous_action;

void PassOn(int sig, siginfo_t* info, void* context) {
  if (previous_action.sa_flags & SA_SIGINFO) {
    if (previous_action.sa_sigaction != nullptr) {
      previous_action.sa_sigaction(sig, info, context);
      return;
    }
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(sig);
    return;
  }
  // The default: death. A fault re-executes the instruction on return and
  // faults again, now with the default action; a SIGBUS sent by a process
  // (si_code <= 0) does not come back by itself, so it is raised again (it
  // is blocked in here, and delivered on return).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
  if (info == nullptr || info->si_code <= 0) raise(SIGBUS);
}

void OnSigbus(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  // BUS_ADRERR: the address has no backing page, past the end of the file
  // or lost to a hole in a full tmpfs. Other codes (a hardware error) are
  // not a truncation.
  if (info != nullptr && info->si_code == BUS_ADRERR) {
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    for (WatchedMapping& w : watched) {
      if (w.state.load(std::memory_order_acquire) != kWatched) continue;
      const std::uintptr_t begin = w.begin.load(std::memory_order_relaxed);
      const std::uintptr_t end = w.end.load(std::memory_order_relaxed);
      if (address < begin || address >= end) continue;
      // mmap is a plain system call (not on POSIX's async-signal-safe list,
      // but it takes no user-space lock in glibc). The whole segment goes:
      // its remaining pages no longer make a consistent table.
      void* zeros =
          mmap(reinterpret_cast<void*>(begin), end - begin, w.prot.load(std::memory_order_relaxed),
               MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (zeros == MAP_FAILED) break;
      w.truncated.store(1, std::memory_order_release);
      errno = saved_errno;
      return;  // The faulting access runs again, on a zero page.
    }
  }
  errno = saved_errno;
  PassOn(sig, info, context);
}

std::error_code Install() noexcept {
  if (sigaction(SIGBUS, nullptr, &previous_action) != 0) {
    return std::error_code(errno, std::system_category());
  }
  struct sigaction ours {};
  ours.sa_sigaction = &OnSigbus;
  ours.sa_flags = SA_SIGINFO;
  sigemptyset(&ours.sa_mask);
  if (sigaction(SIGBUS, &ours, nullptr) != 0) return std::error_code(errno, std::system_category());
  guard_installed.store(true, std::memory_order_release);
  return std::error_code(0, std::system_category());
}

}  // namespace

std::error_code GuardAgainstTruncation() noexcept {
  static const std::error_code installed = Install();  // Once per process.
  return installed;
}

namespace internal {

void MappingWatch::Watch(void* base, std::size_t length, bool writable) noexcept {
  Stop();
  for (int i = 0; i < kMaxWatched; ++i) {
    WatchedMapping& w = watched[i];
    std::uint32_t expected = kFree;
    if (!w.state.compare_exchange_strong(expected, kFilling, std::memory_order_acquire)) continue;
    w.truncated.store(0, std::memory_order_relaxed);
    w.begin.store(reinterpret_cast<std::uintptr_t>(base), std::memory_order_relaxed);
    w.end.store(reinterpret_cast<std::uintptr_t>(base) + length, std::memory_order_relaxed);
    w.prot.store(writable ? PROT_READ | PROT_WRITE : PROT_READ, std::memory_order_relaxed);
    w.state.store(kWatched, std::memory_order_release);  // The handler reads the range after this.
    slot_ = i;
    truncated_ = &w.truncated;
    return;
  }
}

bool TruncationGuardInstalled() noexcept { return guard_installed.load(std::memory_order_acquire); }

void MappingWatch::Stop() noexcept {
  if (slot_ < 0) return;
  WatchedMapping& w = watched[slot_];
  w.state.store(kFilling, std::memory_order_release);  // The handler skips it from now on.
  w.begin.store(0, std::memory_order_relaxed);
  w.end.store(0, std::memory_order_relaxed);
  w.state.store(kFree, std::memory_order_release);
  slot_ = -1;
  truncated_ = nullptr;
}

}  // namespace internal

}  // namespace shmlease

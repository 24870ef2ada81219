#include "writer_seat.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "shmlease/errors.h"

namespace shmlease::internal {

// Every ProcessSeat of this process, so that a fork's child can close its
// copies of their OFD descriptors. The one piece of process-wide mutable
// state in the library, forced by fork(): the child inherits every
// descriptor, and a child that kept a seat's description open would keep a
// dead parent looking alive (and the writers' lock it held, wedged). Linux
// has no close-on-fork flag, so pthread_atfork closes them.
struct SeatRegistry {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  ProcessSeat* head = nullptr;  // Under mu.

  static SeatRegistry& Get() noexcept {
    // Never destroyed: a seat may outlive static destruction (a store held
    // by another static), and the fork handlers must find the registry.
    static SeatRegistry* const registry = [] {
      auto* r = new SeatRegistry;
      // The lock is held across fork so that no seat is half-taken in the
      // child, whose copy of the mutex would stay locked for good.
      pthread_atfork([] { pthread_mutex_lock(&Get().mu); }, [] { pthread_mutex_unlock(&Get().mu); },
                     [] {
                       SeatRegistry& g = Get();
                       for (ProcessSeat* s = g.head; s != nullptr; s = s->next_) s->ForgetInChild();
                       pthread_mutex_unlock(&g.mu);
                     });
      return r;
    }();
    return *registry;
  }
};

namespace {

class RegistryLock {
 public:
  RegistryLock() noexcept : r_(SeatRegistry::Get()) { pthread_mutex_lock(&r_.mu); }
  ~RegistryLock() { pthread_mutex_unlock(&r_.mu); }
  SeatRegistry& registry() { return r_; }

 private:
  SeatRegistry& r_;
};

std::uint64_t PidNamespaceInode() noexcept {
  struct stat st;
  return stat("/proc/self/ns/pid", &st) == 0 ? st.st_ino : 0;
}

struct flock OneByte(short type, off_t at) noexcept {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = at;
  fl.l_len = 1;
  fl.l_pid = 0;  // Required of OFD lock requests.
  return fl;
}

off_t WordByte(std::uint32_t word) noexcept {
  return kWordLockBase + static_cast<off_t>(word & ~kLockWaiters);
}

// Generations a taker tries in its seat before it moves on: another
// process (a reader, even) may hold a lock over a word's byte, which only
// makes that word unusable.
constexpr int kGenerationTries = 64;

}  // namespace

ProcessSeat::ProcessSeat(int segment_fd, WriterSeat* seats) noexcept
    : segment_fd_(segment_fd), seats_(seats) {
  RegistryLock lock;
  next_ = lock.registry().head;
  if (next_ != nullptr) next_->prev_ = this;
  lock.registry().head = this;
}

ProcessSeat::~ProcessSeat() {
  RegistryLock lock;
  if (prev_ != nullptr) prev_->next_ = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
  if (lock.registry().head == this) lock.registry().head = next_;
  if (fd_ >= 0) close(fd_);  // Releases the seat: the kernel drops the OFD lock.
}

void ProcessSeat::ForgetInChild() noexcept {
  if (fd_ >= 0) close(fd_);  // The parent's description stays open in the parent.
  fd_ = -1;
  word_.store(0, std::memory_order_relaxed);
}

std::error_code ProcessSeat::Take() noexcept {
  RegistryLock lock;
  if (word_.load(std::memory_order_relaxed) != 0) return {};  // Another thread took it.
  if (fd_ < 0) {
    // A new open file description of the very file the Segment checked and
    // mapped: /proc's link follows the descriptor, not the name.
    char path[40];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", segment_fd_);
    fd_ = open(path, O_RDWR | O_CLOEXEC);
    if (fd_ < 0) return errno == EACCES ? Errc::permission_denied : Errc::io_error;
  }
  // Start where other processes are unlikely to: seats are taken in any order.
  const std::uint32_t start = static_cast<std::uint32_t>(getpid()) * 2654435761u % kMaxWriterSeats;
  for (std::uint32_t k = 0; k < kMaxWriterSeats; ++k) {
    const std::uint32_t i = (start + k) % kMaxWriterSeats;
    struct flock seat_byte = OneByte(F_WRLCK, kSeatLockBase + static_cast<off_t>(i));
    if (fcntl(fd_, F_OFD_SETLK, &seat_byte) != 0) {
      if (errno == EAGAIN || errno == EACCES) continue;  // Another process's seat.
      return Errc::io_error;
    }
    WriterSeat& seat = seats_[i];
    for (int t = 0; t < kGenerationTries; ++t) {
      const std::uint32_t generation = seat.generation.fetch_add(1, std::memory_order_acq_rel) + 1;
      const std::uint32_t word = SeatWord(i, generation);
      struct flock word_byte = OneByte(F_WRLCK, WordByte(word));
      if (fcntl(fd_, F_OFD_SETLK, &word_byte) != 0) {
        if (errno == EAGAIN || errno == EACCES) continue;
        return Errc::io_error;
      }
      seat.pid.store(static_cast<std::uint32_t>(getpid()), std::memory_order_relaxed);
      seat.pid_ns.store(PidNamespaceInode(), std::memory_order_relaxed);
      word_.store(word, std::memory_order_release);
      return {};
    }
    seat_byte.l_type = F_UNLCK;
    (void)fcntl(fd_, F_OFD_SETLK, &seat_byte);
  }
  return Errc::too_many_writers;
}

SeatOwner OwnerOfWord(std::uint32_t word, int probe_fd, std::uint32_t mine) noexcept {
  word &= ~kLockWaiters;
  if (mine != 0 && word == mine) return SeatOwner::alive;
  if (SeatIndexOf(word) == kMaxWriterSeats)
    return SeatOwner::gone;  // No process writes such a word.
  // A read lock conflicts only with a write lock, which only the word's
  // owner (a process that may write the file) can place: neither a reader
  // nor any byte in the segment can fake life or death.
  struct flock fl = OneByte(F_RDLCK, WordByte(word));
  if (fcntl(probe_fd, F_OFD_GETLK, &fl) != 0) return SeatOwner::unknown;
  return fl.l_type == F_UNLCK ? SeatOwner::gone : SeatOwner::alive;
}

}  // namespace shmlease::internal

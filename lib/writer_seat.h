// Writer seats: how a process that writes a segment makes its liveness
// visible to the others, through state the kernel keeps rather than bytes a
// co-writer could change.
//
// A process takes seat i by placing an fcntl OFD write lock on byte
// kSeatLockBase + i of the segment file, through an open file description of
// its own (not shared with the Segment's descriptor, nor, after a fork, with
// the child: see ProcessSeat). It then picks a generation for the seat and
// places a second write lock, on byte kWordLockBase + its lock word
// (SeatWord: seat index and generation). The kernel releases both when the
// last descriptor of the description closes: at the process's death, however
// it dies, in whatever PID namespace.
//
// A lock word's owner is alive exactly while that word's byte is locked: the
// kernel's answer, which no byte in the segment can change. The seat's
// generation in the segment is only where the next taker starts counting
// (a co-writer who changes it can make a taker skip generations, never make
// a word look alive or gone).
#ifndef SHMLEASE_LIB_WRITER_SEAT_H_
#define SHMLEASE_LIB_WRITER_SEAT_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <system_error>

#include "layout.h"

namespace shmlease::internal {

// Where the seats' OFD locks live: far past the end of any segment, so that
// no other lock on the file (flock is a separate mechanism anyway) overlaps.
inline constexpr off_t kSeatLockBase = off_t{1} << 40;
// Where each lock word's own byte is: kWordLockBase + word, for every 31-bit
// word, past the seats' bytes.
inline constexpr off_t kWordLockBase = off_t{1} << 41;

// A lock word: bit 31 says a writer sleeps on it; bits 13..30 are the owner
// seat's generation (its low 18 bits); bits 0..12 are the seat index + 1, so
// that no owner is 0.
inline constexpr std::uint32_t kLockWaiters = 1u << 31;
inline constexpr int kSeatIndexBits = 13;
inline constexpr std::uint32_t kSeatIndexMask = (1u << kSeatIndexBits) - 1;
inline constexpr std::uint32_t kSeatGenerationMask = (1u << (31 - kSeatIndexBits)) - 1;
static_assert(kMaxWriterSeats <= kSeatIndexMask, "a seat index + 1 must fit its bits");

constexpr std::uint32_t SeatWord(std::uint32_t index, std::uint32_t generation) {
  return ((generation & kSeatGenerationMask) << kSeatIndexBits) | (index + 1);
}
// The seat a lock word names, or kMaxWriterSeats when it names none.
constexpr std::uint32_t SeatIndexOf(std::uint32_t word) {
  const std::uint32_t i = word & kSeatIndexMask;
  return i == 0 || i > kMaxWriterSeats ? kMaxWriterSeats : i - 1;
}

// A writing store's seat in one segment (each store of a process has its
// own; the threads of one store share it). Taken on first use (Take), given
// up by the destructor. After a fork the child has no seat (its copy of the OFD
// descriptor is closed before fork returns, so that a child cannot keep a
// dead parent looking alive) and takes one of its own on first use.
class ProcessSeat {
 public:
  // `segment_fd` is the Segment's descriptor: a seat reopens the same file
  // through /proc/self/fd (never by its name) to get a description of its own.
  ProcessSeat(int segment_fd, WriterSeat* seats) noexcept;
  ~ProcessSeat();
  ProcessSeat(const ProcessSeat&) = delete;
  ProcessSeat& operator=(const ProcessSeat&) = delete;

  // The word this process writes into the writers' lock; 0 while it has no seat.
  std::uint32_t word() const noexcept { return word_.load(std::memory_order_acquire); }
  // Takes a seat if this store has none. Errc::too_many_writers when every
  // seat is taken; Errc::permission_denied when the file can no longer be
  // opened for writing (privileges dropped, mode changed since the open);
  // Errc::io_error when it cannot be locked.
  std::error_code Take() noexcept;

 private:
  friend struct SeatRegistry;
  // In a fork's child, with no other thread running: forget the parent's seat.
  void ForgetInChild() noexcept;

  const int segment_fd_;
  WriterSeat* const seats_;
  // Written by Take and ForgetInChild, both under the registry's mutex (or in
  // a fork's child, where no other thread exists); read without it by word().
  std::atomic<std::uint32_t> word_{0};
  int fd_ = -1;                  // The seat's own open file description, or -1.
  ProcessSeat* prev_ = nullptr;  // The registry's list, under its mutex.
  ProcessSeat* next_ = nullptr;
};

// What the kernel says of the owner of lock word `word`. Asked through
// `probe_fd` (any descriptor of the segment file other than a seat's own
// description). `mine`: the caller's own seat word, whose owner is alive.
enum class SeatOwner { alive, gone, unknown };
SeatOwner OwnerOfWord(std::uint32_t word, int probe_fd, std::uint32_t mine) noexcept;

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_WRITER_SEAT_H_

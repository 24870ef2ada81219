// The bytes of a lease segment. Everything here is a plain, fixed-layout type:
// no pointers, no heap, no virtual functions, so that every process maps the
// same meaning onto the same bytes. Sizes and offsets are checked at compile
// time and recorded in the header, so a segment built by another layout is
// refused instead of misread.
//
// Segment = [SegmentHeader: 4 KiB of fields, then the writer seats]
//           [SlotHot x slot_count] [SlotCold x slot_count]
//
// Ownership rules, used in the comments below:
//   "W"  written only by the holder of the writers' lock (writers_lock.h);
//   "R*" may be read without the mutex, under the slot's seqlock;
//   "A"  a lone atomic any process may touch (statistics, futex words).
// Everything read from here is data from another process: indexes and counts
// are bound-checked before use.
#ifndef SHMLEASE_LIB_LAYOUT_H_
#define SHMLEASE_LIB_LAYOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shmlease/detail/hot_line.h"
#include "shmlease/lease.h"

namespace shmlease::internal {

inline constexpr std::uint64_t kMagic = 0x455341454C4D4853ULL;  // "SHMLEASE", little-endian.
// The magic word while a creator initialises the segment in place: the
// first bytes it writes, before sizing the file. A file that carries it is
// a segment whose creation was cut short, and the next creator starts over;
// any other file that is not empty and not a segment is refused, never
// overwritten (its bytes are someone's).
inline constexpr std::uint64_t kCreatingMagic = 0x2E2E2E454C4D4853ULL;  // "SHMLE...".
// Fencing epochs stay below 2^53, so that JSON readers (jq, JavaScript) hold
// them exactly: a claim that would reach it is refused.
inline constexpr std::uint64_t kEpochLimit = std::uint64_t{1} << 53;
// 5: creation marks the file with kCreatingMagic first; Destroy sets
//    `retired`; epochs start from the wall clock (in microseconds);
//    expiries are on the host's CLOCK_MONOTONIC whatever the writer's time
//    namespace, and the inline check's context carries the process's clock
//    offset (shmlease/detail/hot_line.h); 4 stored each writer's own clock.
// 4: the writers' lock is a futex word naming a writer seat, whose owner's
//    liveness the kernel keeps (an OFD lock); 3 held a glibc robust mutex,
//    whose list pointers a co-writer could aim.
// 3: a waiter marks the futex word it sleeps on (wake_word.h); 2 counted
//    waiters beside it, and a writer of either layout would miss the other's
//    waiters.
// 2: keys placed by the pairwise multiply hash (HashKey); 1 used a serial chain.
inline constexpr std::uint32_t kLayoutVersion = 5;
static_assert(kLayoutVersion == detail::kHotLineLayout,
              "the inline check's header must describe this layout");
// Writing processes (each open writable store is one) that can use a segment
// at once: one seat each (writer_seat.h).
inline constexpr std::uint32_t kMaxWriterSeats = 4096;
inline constexpr std::size_t kHeaderFieldBytes = 4096;
inline constexpr std::size_t kNameWords = kMaxNameLength / 8;
inline constexpr std::size_t kMaxCapacity = std::size_t{1} << 26;  // 64M leases.

// A name, zero-padded. Names never contain NUL (ValidateString), so the
// length is the index of the first zero byte, or kMaxNameLength.
struct ShmName {
  std::atomic<std::uint64_t> words[kNameWords];  // W, R*
};

// Slot state bits and the hot line: defined beside the inline check that
// reads them (shmlease/detail/hot_line.h), so that there is one layout.
using detail::kHeld;
using detail::kOccupied;
using detail::SlotHot;

// The parts only a lookup, a snapshot or a writer reads.
struct SlotCold {
  ShmName ns;
  ShmName model_uuid;
  ShmName lease;
  ShmName holder;
  ShmName pins[kMaxPinsPerLease];  // The first pin_count are in use. W, R*
};
inline constexpr std::size_t kColdNames = 4 + kMaxPinsPerLease;

// The redo journal: a writer records the complete new state of the one slot
// it changes, marks it committed, applies it, and clears the mark. The next
// locker after a crash replays a committed record (applying is idempotent).
// Only ever touched under the mutex. W
struct Journal {
  std::atomic<std::uint32_t> committed;
  std::uint32_t slot_index;
  std::uint32_t state;
  std::uint32_t pin_count;
  std::uint32_t key_hash;
  std::uint32_t home_index;      // Raise this slot's max_probe ...
  std::uint32_t home_max_probe;  // ... to at least this.
  std::uint32_t cold_mask;       // Bit i: copy names[i] (in SlotCold order).
  std::uint64_t epoch;
  std::int64_t expiry_ns;
  std::uint64_t used_after;        // SegmentHeader::used after the change.
  std::uint64_t last_epoch_after;  // SegmentHeader::last_epoch after the change.
  ShmName names[kColdNames];
};

struct Statistics {  // A: relaxed counters, not journaled (may miss one op around a crash).
  std::atomic<std::uint64_t> claims;
  std::atomic<std::uint64_t> extensions;
  std::atomic<std::uint64_t> revocations;
  std::atomic<std::uint64_t> pins;
  std::atomic<std::uint64_t> unpins;
  std::atomic<std::uint64_t> recoveries;  // Written under the mutex.
  std::atomic<std::uint64_t> lock_timeouts;
};

// One writer's seat. Its owner holds an fcntl OFD write lock on byte
// kSeatLockBase + index of the segment file (writer_seat.h): the kernel drops
// it when the owner's process is gone, which is how others learn of a death.
// The fields say who took the seat last; they are only ever written by that
// process, under its OFD lock, and read by others as hints (stat, fsck).
struct WriterSeat {
  // Bumped by each process that takes the seat, before it uses it: a lock
  // word naming an older generation names a process that has left the seat.
  std::atomic<std::uint32_t> generation;
  std::atomic<std::uint32_t> pid;     // In the owner's own PID namespace.
  std::atomic<std::uint64_t> pid_ns;  // Inode of the owner's /proc/self/ns/pid.
};

struct SegmentHeader {
  // Written last by the initialiser (release); kMagic means "ready".
  std::atomic<std::uint64_t> magic;
  // Geometry: written once at initialisation, copied into each process's
  // private memory on open and never re-read (so a hostile change later
  // cannot move anything out of bounds).
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint32_t hot_bytes;
  std::uint32_t cold_bytes;
  std::uint32_t name_max;
  std::uint32_t pins_max;
  std::uint64_t capacity;
  std::uint64_t slot_count;
  std::uint64_t total_bytes;
  std::uint32_t fake_clock;  // 1: time is fake_now_ns, not CLOCK_MONOTONIC.
  std::uint32_t reserved0;
  std::atomic<std::int64_t> fake_now_ns;  // A
  // A: futex word (wake_word.h) bumped when the fake clock moves, and by
  // every write to a fake-clock table: all its waiters sleep here.
  std::atomic<std::uint32_t> clock_word;
  std::uint32_t reserved1;
  char boot_id[40];  // W: /proc/sys/kernel/random/boot_id at last use.
  // A: the writers' lock (writers_lock.h): 0 when free, else the owner's
  // seat word (seat index and generation), with kLockWaiters set by a writer
  // that sleeps on it. Changed only by compare-and-swap, except by its owner.
  alignas(64) std::atomic<std::uint32_t> lock_word;
  // A: set to 1 by Destroy before it unlinks the name, never cleared. Every
  // writer looks at it once it holds the lock (it shares the lock word's
  // line): a write through a mapping of a destroyed segment would be lost
  // to everyone who opens the name now, so it fails (Errc::segment_replaced).
  std::atomic<std::uint32_t> retired;
  // W: when the lock's owner took it, on the table's clock (its first clock
  // read under the lock; 0 before any). Read by stat, as a hint.
  std::int64_t lock_since_ns;
  // Written under the lock, read without it by statistics, fsck and the
  // listing's size hint: always through RelaxedLoad/RelaxedStore.
  alignas(64) std::uint64_t last_epoch;  // W: the last fencing epoch handed out.
  std::uint64_t used;                    // W: slots with kOccupied set.
  Statistics stats;
  alignas(64) Journal journal;
  alignas(kHeaderFieldBytes) WriterSeat seats[kMaxWriterSeats];
};
inline constexpr std::size_t kHeaderBytes = sizeof(SegmentHeader);

// Plain words of the header that a lock holder writes while others read
// them: accessed atomically on both sides (a word-sized relaxed access is a
// plain move on x86), so that there is no data race in C++ terms.
template <typename Word>
inline Word RelaxedLoad(const Word& word) noexcept {
  return std::atomic_ref<Word>(const_cast<Word&>(word)).load(std::memory_order_relaxed);
}
template <typename Word>
inline void RelaxedStore(Word& word, Word value) noexcept {
  std::atomic_ref<Word>(word).store(value, std::memory_order_relaxed);
}

static_assert(sizeof(SlotHot) == 64, "a check must touch one cache line");
static_assert(sizeof(ShmName) == kMaxNameLength);
static_assert(sizeof(SlotCold) == kColdNames * kMaxNameLength);
static_assert(offsetof(SegmentHeader, seats) == kHeaderFieldBytes,
              "the header's fields fit in their 4 KiB");
static_assert(sizeof(WriterSeat) == 16 && kHeaderBytes == kHeaderFieldBytes + 16 * kMaxWriterSeats);
static_assert(offsetof(SegmentHeader, lock_word) % 64 == 0 &&
              offsetof(SegmentHeader, lock_since_ns) == offsetof(SegmentHeader, lock_word) + 8);
static_assert(std::is_standard_layout_v<SegmentHeader> && std::is_standard_layout_v<SlotHot> &&
              std::is_standard_layout_v<SlotCold>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free &&
                  std::atomic<std::int64_t>::is_always_lock_free &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "atomics in shared memory must be lock-free to be address-free");
static_assert(kMaxNameLength % 8 == 0);

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_LAYOUT_H_

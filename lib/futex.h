// The one wrapper around futex(2). Words live in shared memory, so the calls
// never use FUTEX_PRIVATE_FLAG.
#ifndef SHMLEASE_LIB_FUTEX_H_
#define SHMLEASE_LIB_FUTEX_H_

#include <atomic>
#include <cstdint>

namespace shmlease::internal {

enum class FutexWaitResult { woken, value_changed, timed_out, interrupted };

// Sleeps while *word == expected, until woken or until this process's own
// CLOCK_MONOTONIC reaches deadline_ns (kNever: no deadline; a negative one
// has passed). The kernel reads an absolute deadline on the caller's clock,
// which a time namespace shifts: a deadline on the host's clock (an expiry)
// is converted first (ClockReader::ToOwn). `precise`: return as close to
// the deadline as the kernel can (a lease's expiry), at the price of two
// prctl calls; otherwise the thread's timer slack applies (a lock's slices).
FutexWaitResult FutexWait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                          std::int64_t deadline_ns, bool precise = true) noexcept;

// Wakes every process sleeping on *word.
void FutexWakeAll(std::atomic<std::uint32_t>* word) noexcept;
// Wakes one of them.
void FutexWakeOne(std::atomic<std::uint32_t>* word) noexcept;

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_FUTEX_H_

// The futex word that writers bump and waiters sleep on, with its "someone
// may be asleep" mark in the same word.
//
// Bit 0 is the mark; the rest counts changes (a bump adds 2). A waiter sets
// the mark, re-reads what it waits for, and sleeps on the marked value. A
// writer, once its change is visible, bumps the count and clears the mark in
// one compare-and-swap, and makes the FUTEX_WAKE syscall only when the mark
// was set.
//
// Why the mark lives in the word rather than in a count of waiters beside it:
// - A waiter that has been woken but has not run yet no longer costs a
//   syscall: the first bump consumed its mark, so the writes after it (a
//   holder revoking and claiming again in a loop) skip the wake until the
//   waiter marks the word again. With a count, every one of those writes woke
//   nobody through a syscall.
// - A waiter killed while asleep leaves a mark that the next write clears: it
//   costs one wasted wake. A count stayed raised forever.
// - No wake-up is lost, and that needs the mark in the word: whatever a
//   writer does to the word after a waiter read it makes the waiter's
//   FUTEX_WAIT refuse to sleep. A mark in another word could be consumed by a
//   writer that the waiter had already seen, and the waiter would then sleep
//   through the next write unwoken.
#ifndef SHMLEASE_LIB_WAKE_WORD_H_
#define SHMLEASE_LIB_WAKE_WORD_H_

#include <atomic>
#include <cstdint>

#include "futex.h"

namespace shmlease::internal {

inline constexpr std::uint32_t kSleeperMark = 1;
inline constexpr std::uint32_t kWakeStep = 2;

// Writer side, after the change is visible: bumps the word and clears the
// mark; returns whether the mark was set, in which case the caller must wake
// every sleeper (FutexWakeAll). Two steps, so that a crash point can sit
// between them: a writer that dies there has consumed the mark without
// waking anyone, and whoever repairs after it must wake unconditionally.
// seq_cst (as MarkSleeper's accesses): the waiter either sees the change, or
// its mark is seen here.
inline bool BumpClearingMark(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t old = word.load(std::memory_order_relaxed);
  while (!word.compare_exchange_weak(old, (old + kWakeStep) & ~kSleeperMark,
                                     std::memory_order_seq_cst, std::memory_order_relaxed)) {
  }
  return (old & kSleeperMark) != 0;
}

// Waiter side, before it re-reads what it waits for: marks the word and
// returns the value to sleep on. Any write after this either sees the mark
// or changes the value.
inline std::uint32_t MarkSleeper(std::atomic<std::uint32_t>& word) noexcept {
  std::uint32_t v = word.load(std::memory_order_seq_cst);
  while (!(v & kSleeperMark) &&
         !word.compare_exchange_weak(v, v | kSleeperMark, std::memory_order_seq_cst)) {
  }
  return v | kSleeperMark;
}

// Wakes every sleeper at once, whatever the mark says (a stop request, a
// repair after a writer died between its bump and its wake). The bump keeps
// the mark, and makes a waiter about to sleep on the old value not sleep.
inline void BumpAndWakeAll(std::atomic<std::uint32_t>& word) noexcept {
  word.fetch_add(kWakeStep, std::memory_order_seq_cst);
  FutexWakeAll(&word);
}

// Bumps the word, keeping the mark, and wakes every sleeper if it was set.
// For a writer outside the lock (the fake clock): nobody repairs after it,
// so it must not consume a mark it might die before acting on.
inline void BumpKeepingMark(std::atomic<std::uint32_t>& word) noexcept {
  if (word.fetch_add(kWakeStep, std::memory_order_seq_cst) & kSleeperMark) FutexWakeAll(&word);
}

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_WAKE_WORD_H_

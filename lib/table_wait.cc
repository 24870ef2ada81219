// Table::WaitWhileHeld: sleeping on a slot's futex word until its lease, or
// one holding of it, ends.
#include <time.h>

#include <stop_token>

#include "clock.h"
#include "futex.h"
#include "mapping_watch.h"
#include "shmlease/errors.h"
#include "table.h"
#include "wake_word.h"

namespace shmlease::internal {

namespace {

// A read-only mapping cannot register as a waiter, so writers may skip the
// wake-up: such a waiter re-checks at least this often.
constexpr std::int64_t kReadOnlyPollNs = 1'000'000;

// A waiter in a process guarded against truncation (truncation_guard.h)
// looks at its slot at least this often: a file shrunk under it wakes nobody
// (the word it sleeps on was on a lost page), and only a read finds out.
constexpr std::int64_t kTruncationRecheckNs = 1'000'000'000;

// Spins until `deadline` (the host's CLOCK_MONOTONIC, as expiries are), or
// until `word` moves off `seen` (a write to the slot, or a stop's bump), or
// `stop` is requested.
void SpinUntil(const std::atomic<std::uint32_t>& word, std::uint32_t seen, std::int64_t deadline,
               const ClockReader& clock, const std::stop_token& stop) {
  while (word.load(std::memory_order_acquire) == seen && !stop.stop_requested() &&
         clock.HostMonotonic() < deadline) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace

std::error_code Table::WaitWhileHeld(const KeyWords& key, std::optional<std::uint64_t> epoch,
                                     const std::stop_token& stop,
                                     const std::function<void()>& started) const {
  bool announced = false;
  auto announce = [&] {
    if (!announced && started) started();
    announced = true;
  };
  const bool can_register = !segment_.read_only();
  // The wait is over once nobody (or, given an epoch, not that holding)
  // holds it at `now`, a time read before the slot was: an extension only
  // ever moves an expiry later, and is refused once the holding ran out, so
  // an expiry read after `now` and not beyond it proves the holding over at
  // `now`. Read the other way round, an extension landing between the two
  // reads would look like the end of a holding that goes on.
  auto over = [&](const SlotView& v, std::int64_t now) {
    return !v.HeldAt(now) || (epoch && v.epoch != *epoch);
  };
  for (;;) {
    SlotView v;
    bool unreadable = false;
    std::int64_t now = Now();
    const std::uint64_t i = FindRepairing(key, &v, &unreadable, stop);
    if (i == kNoSlot && unreadable) {
      // A writer is stopped inside a slot that may hold the lease: it may be
      // held, so look again. A writable mapping's look waits for the lock (or
      // for `stop`); a read-only one cannot repair, and would spin: it pauses.
      if (stop.stop_requested()) return Errc::wait_cancelled;
      if (!can_register) {
        const timespec pause{0, kReadOnlyPollNs};
        nanosleep(&pause, nullptr);
      }
      continue;
    }
    // Free already (the usual last look after a wake-up): return without
    // marking the word, or the next write would wake nobody with a syscall.
    if (i == kNoSlot || over(v, now)) {
      announce();
      return {};
    }
    SlotHot& h = hot_[i];
    // With a fake clock, every write and every clock move bumps the header's
    // clock word, so that is the one word to sleep on.
    std::atomic<std::uint32_t>& word = WakeWord(h);
    // Mark the word, then re-read the slot (wake_word.h): a change after
    // this point either sees the mark and wakes us, or changes the word so
    // that we do not sleep. A read-only mapping cannot mark; it polls.
    const std::uint32_t seen =
        can_register ? MarkSleeper(word) : word.load(std::memory_order_seq_cst);
    now = Now();
    if (!ReadSlot(i, &v, true) || !v.HasKey(key)) {  // Moved on, or a writer is stuck there.
      if (stop.stop_requested()) return Errc::wait_cancelled;
      continue;
    }
    if (over(v, now)) {
      announce();
      return {};
    }
    if (stop.stop_requested()) return Errc::wait_cancelled;
    announce();
    std::int64_t deadline = v.pin_count > 0 || fake_clock_ ? kNever : v.expiry_ns;
    // On the host's clock, as the expiry is (a fake clock's table reads no offset).
    if (!can_register) deadline = std::min(deadline, clock_.HostMonotonic() + kReadOnlyPollNs);
    // Woken by the timer, a sleeping thread runs only when the scheduler gets
    // round to it (on a VM, when the host runs the virtual CPU again): tens
    // of microseconds late typically, milliseconds at times. So a waiter for
    // an expiry wakes up to expiry_spin before it and spins until it. Not
    // more than a quarter of what is left: a waiter sleeps again after every
    // extension it wakes to, and must not spend most of its wait spinning.
    std::int64_t wake_at = deadline;
    if (can_register && deadline != kNever) {  // Then the deadline is the expiry.
      wake_at = deadline - std::min(expiry_spin_ns_, std::max<std::int64_t>(deadline - now, 0) / 4);
    }
    {
      // Runs in the thread that requests the stop: bump and wake, so that a
      // waiter between its check and its sleep does not miss it.
      std::stop_callback wake_on_stop(stop, [&word, can_register] {
        if (can_register) {
          BumpAndWakeAll(word);
        } else {
          FutexWakeAll(&word);
        }
      });
      const std::int64_t spin_from = wake_at;
      if (TruncationGuardInstalled()) {
        wake_at = std::min(wake_at, AddSaturating(clock_.HostMonotonic(), kTruncationRecheckNs));
      }
      // The kernel reads an absolute deadline on this process's own clock,
      // which its time namespace shifts from the host's. Only a sleep that
      // ended where the spin begins is followed by the spin.
      if (FutexWait(&word, seen, clock_.ToOwn(wake_at)) == FutexWaitResult::timed_out &&
          wake_at == spin_from && wake_at < deadline) {
        SpinUntil(word, seen, deadline, clock_, stop);
      }
    }
    if (stop.stop_requested()) return Errc::wait_cancelled;
  }
}

}  // namespace shmlease::internal

// Table::Fsck and Table::LockInfo: the table's invariants and its writers'
// lock, inspected without taking the lock.
//
// A busy table is no damage: a live writer may be inside a slot (odd
// seqlock), between its journal's commit and apply, or between a slot and
// the header words that count it. Each finding that a live writer can
// produce is reported only when no live writer holds the lock, and the
// findings that compare slots with each other or with the header only when
// no write happened during the scan.
#include <map>
#include <string>

#include "shmlease/lease.h"
#include "table.h"

namespace shmlease::internal {

namespace {

bool ValidStored(const NameWords& n) {
  std::string s = n.ToString();
  // Bytes after the first NUL must be zero too: names are zero-padded.
  NameWords again = NameWords::From(s);
  return again == n && !ValidateName(s);
}

std::string Describe(std::uint64_t i, const SlotView& v) {
  return "slot " + std::to_string(i) + " (" + v.ns.ToString() + "/" + v.model_uuid.ToString() +
         "/" + v.lease.ToString() + ")";
}

}  // namespace

namespace {

// What changes whenever a write changes the table's occupancy or epochs.
struct WriteMarks {
  std::uint64_t claims, revocations, pins, unpins, recoveries, used, last_epoch;
  std::uint32_t lock_word;
  bool operator==(const WriteMarks&) const = default;
};

WriteMarks MarksOf(const SegmentHeader& h) {
  return WriteMarks{h.stats.claims.load(std::memory_order_acquire),
                    h.stats.revocations.load(std::memory_order_acquire),
                    h.stats.pins.load(std::memory_order_acquire),
                    h.stats.unpins.load(std::memory_order_acquire),
                    h.stats.recoveries.load(std::memory_order_acquire),
                    RelaxedLoad(h.used),
                    RelaxedLoad(h.last_epoch),
                    h.lock_word.load(std::memory_order_acquire)};
}

}  // namespace

WritersLockInfo Table::LockInfo() const {
  WritersLockInfo info;
  const std::uint32_t word = header_.lock_word.load(std::memory_order_acquire) & ~kLockWaiters;
  if (word == 0) return info;
  info.locked = true;
  switch (lock_.OwnerOf(word)) {
    case SeatOwner::alive:
      info.owner = WritersLockInfo::Owner::alive;
      break;
    case SeatOwner::gone:
      info.owner = WritersLockInfo::Owner::gone;
      break;
    case SeatOwner::unknown:
      info.owner = WritersLockInfo::Owner::unknown;
      break;
  }
  info.owner_is_this_store = word == lock_.own_word();
  // The seat's pid is the word's owner's only while the seat is still in
  // the generation the word names; a later taker's pid would name someone else.
  if (const std::uint32_t i = SeatIndexOf(word);
      i < kMaxWriterSeats &&
      SeatWord(i, header_.seats[i].generation.load(std::memory_order_acquire)) == word) {
    info.pid = header_.seats[i].pid.load(std::memory_order_relaxed);
    info.pid_namespace = header_.seats[i].pid_ns.load(std::memory_order_relaxed);
  }
  // Cleared at every unlock: a stamp belongs to the lock's present owner.
  const std::int64_t since = RelaxedLoad(header_.lock_since_ns);
  const std::int64_t now = Now();
  if (since > 0 && since <= now) info.held_for = std::chrono::nanoseconds(now - since);
  return info;
}

bool Table::LiveWriterHoldsLock() const {
  const std::uint32_t word = header_.lock_word.load(std::memory_order_acquire);
  return word != 0 && lock_.OwnerOf(word) != SeatOwner::gone;
}

void Table::Fsck(std::vector<std::string>* problems) const {
  auto problem = [problems](std::string s) { problems->push_back(std::move(s)); };
  const WriteMarks before = MarksOf(header_);
  // A gone owner cannot change the word: if it still names the owner found
  // gone, that owner was gone while it held the lock (not just exited after
  // unlocking, which would have changed the word).
  if (const std::uint32_t word = before.lock_word & ~kLockWaiters;
      word != 0 && lock_.OwnerOf(word) == SeatOwner::gone &&
      (header_.lock_word.load(std::memory_order_acquire) & ~kLockWaiters) == word) {
    const WritersLockInfo lock = LockInfo();
    problem("writers' lock: held by pid " + std::to_string(lock.pid) + " (PID namespace " +
            std::to_string(lock.pid_namespace) +
            "), which is gone; the next writer takes the lock over and repairs what it left");
  }
  // A committed record is a dead writer's only if it stays committed while
  // no live writer holds the lock (a live one clears it before it unlocks)
  // and no write happened around the look: a live writer that unlocked and
  // locked again with the same word between the two reads of `committed`
  // has moved a count (every journaled change counts itself) or `used`.
  const WriteMarks at_journal = MarksOf(header_);
  if (header_.journal.committed.load(std::memory_order_acquire) == 1 && !LiveWriterHoldsLock() &&
      header_.journal.committed.load(std::memory_order_acquire) == 1 &&
      MarksOf(header_) == at_journal) {
    problem(
        "journal: a committed change waits to be replayed (a writer died; the next write repairs "
        "it)");
  }
  std::uint64_t occupied = 0;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> seen;
  std::vector<std::string> duplicates;
  SlotView v;
  for (std::uint64_t i = 0; i < slots_; ++i) {
    const SlotHot& h = hot_[i];
    if (h.max_probe.load(std::memory_order_relaxed) >= slots_) {
      problem("slot " + std::to_string(i) + ": probe distance " +
              std::to_string(h.max_probe.load(std::memory_order_relaxed)) + " exceeds the table");
    }
    if (const std::uint32_t odd = h.seq.load(std::memory_order_acquire); !ReadSlot(i, &v, false)) {
      // A live owner of the lock may be inside this slot (stopped, or just
      // not scheduled): that is a busy slot, not a damaged one. It may also
      // finish and unlock between the read giving up and the look at the
      // lock: the slot is torn only if its counter, which only grows, still
      // holds the odd value seen before the read, after the look.
      if ((odd & 1) != 0 && !LiveWriterHoldsLock() &&
          h.seq.load(std::memory_order_acquire) == odd) {
        problem("slot " + std::to_string(i) +
                ": seqlock stays odd (a writer died or stopped mid-write)");
      }
      continue;
    }
    if (v.state & ~(kOccupied | kHeld)) {
      problem("slot " + std::to_string(i) + ": unknown state bits " + std::to_string(v.state));
    }
    if (h.pin_count.load(std::memory_order_relaxed) > kMaxPinsPerLease) {
      problem("slot " + std::to_string(i) + ": pin count " +
              std::to_string(h.pin_count.load(std::memory_order_relaxed)) + " exceeds " +
              std::to_string(kMaxPinsPerLease));
    }
    if (!v.occupied()) {
      if (v.state & kHeld) problem("slot " + std::to_string(i) + ": held but not occupied");
      continue;
    }
    ++occupied;
    if (!ReadSlot(i, &v, true)) continue;  // Changed under us: a live writer, not damage.
    std::string where = Describe(i, v);
    if (!ValidStored(v.ns) || !ValidStored(v.model_uuid) || !ValidStored(v.lease)) {
      problem(where + ": the key holds an invalid name");
      continue;
    }
    std::uint64_t hash = HashKey(v.ns, v.model_uuid, v.lease);
    if (static_cast<std::uint32_t>(hash >> 32) != v.key_hash) {
      problem(where + ": stored hash does not match the key");
    }
    std::uint64_t home = Home(hash);
    std::uint64_t distance = i >= home ? i - home : i + slots_ - home;
    if (distance > hot_[home].max_probe.load(std::memory_order_relaxed)) {
      problem(where + ": unreachable (placed " + std::to_string(distance) +
              " slots from home, probes stop at " +
              std::to_string(hot_[home].max_probe.load(std::memory_order_relaxed)) + ")");
    }
    if ((v.state & kHeld) && !ValidStored(v.holder)) problem(where + ": invalid holder name");
    for (std::uint32_t p = 0; p < v.pin_count; ++p) {
      if (!ValidStored(v.pins[p])) problem(where + ": invalid pinning entity");
      for (std::uint32_t q = 0; q < p; ++q) {
        if (v.pins[q] == v.pins[p])
          problem(where + ": entity " + v.pins[p].ToString() + " pins twice");
      }
    }
    // A writer closes the slot before it records the epoch in the header.
    if ((v.state & kHeld) && v.epoch > RelaxedLoad(header_.last_epoch) && !LiveWriterHoldsLock() &&
        v.epoch > RelaxedLoad(header_.last_epoch)) {
      problem(where + ": epoch " + std::to_string(v.epoch) + " is beyond the last one handed out");
    }
    auto [it, inserted] = seen.emplace(
        std::make_tuple(v.ns.ToString(), v.model_uuid.ToString(), v.lease.ToString()), i);
    if (!inserted)
      duplicates.push_back(where + ": the same key is also in slot " + std::to_string(it->second));
  }
  // Findings that compare slots read at different times: only from a scan
  // that no write overlapped.
  const bool quiet = MarksOf(header_) == before &&
                     header_.journal.committed.load(std::memory_order_acquire) == 0 &&
                     !(before.lock_word != 0 && LiveWriterHoldsLock());
  if (!quiet) return;
  for (std::string& d : duplicates) problem(std::move(d));
  if (occupied > capacity_) {
    problem(std::to_string(occupied) + " slots occupied, more than the capacity " +
            std::to_string(capacity_));
  }
  if (before.used != occupied) {
    problem("header counts " + std::to_string(before.used) + " occupied slots; there are " +
            std::to_string(occupied));
  }
}

}  // namespace shmlease::internal

// Table::Fsck: every invariant of the table, checked without the writers' lock.
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

void Table::Fsck(std::vector<std::string>* problems) const {
  auto problem = [problems](std::string s) { problems->push_back(std::move(s)); };
  if (header_.journal.committed.load(std::memory_order_acquire) == 1) {
    problem(
        "journal: a committed change waits to be replayed (a writer died; the next write repairs "
        "it)");
  }
  std::uint64_t used_before = RelaxedLoad(header_.used);
  std::uint64_t occupied = 0;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> seen;
  SlotView v;
  for (std::uint64_t i = 0; i < slots_; ++i) {
    const SlotHot& h = hot_[i];
    if (h.max_probe.load(std::memory_order_relaxed) >= slots_) {
      problem("slot " + std::to_string(i) + ": probe distance " +
              std::to_string(h.max_probe.load(std::memory_order_relaxed)) + " exceeds the table");
    }
    if (!ReadSlot(i, &v, false)) {
      problem("slot " + std::to_string(i) +
              ": seqlock stays odd (a writer died or stopped mid-write)");
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
    if ((v.state & kHeld) && v.epoch > RelaxedLoad(header_.last_epoch)) {
      problem(where + ": epoch " + std::to_string(v.epoch) + " is beyond the last one handed out");
    }
    auto [it, inserted] = seen.emplace(
        std::make_tuple(v.ns.ToString(), v.model_uuid.ToString(), v.lease.ToString()), i);
    if (!inserted) problem(where + ": the same key is also in slot " + std::to_string(it->second));
  }
  if (occupied > capacity_) {
    problem(std::to_string(occupied) + " slots occupied, more than the capacity " +
            std::to_string(capacity_));
  }
  if (used_before == RelaxedLoad(header_.used) && used_before != occupied &&
      header_.journal.committed.load(std::memory_order_acquire) == 0) {
    problem("header counts " + std::to_string(used_before) + " occupied slots; there are " +
            std::to_string(occupied));
  }
}

}  // namespace shmlease::internal

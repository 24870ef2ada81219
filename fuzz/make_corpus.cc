// Writes the seed corpus for segment_fuzz into the directory given: small
// valid segments and copies damaged the ways a dead writer or a hostile
// process could leave them. A seed already there in the current layout is
// left alone (its clock readings and pids would differ from run to run), so
// the committed seeds change only when the layout does.
//
//   segment_fuzz_corpus DIR
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "layout.h"
#include "shmlease/shmlease.h"

namespace {

using namespace std::chrono_literals;
namespace in = shmlease::internal;

// A segment's bytes in page-aligned memory, as a mapping holds them: the
// header's type asks for that alignment, so casting a string's buffer to it
// would be undefined.
class Image {
 public:
  explicit Image(std::string_view bytes) : size_(bytes.size()), data_(Allocate(bytes.size())) {
    std::memcpy(data_.get(), bytes.data(), size_);
  }
  Image(const Image& other) : Image(other.view()) {}
  Image& operator=(const Image&) = delete;

  char* data() { return data_.get(); }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  static char* Allocate(std::size_t size) {
    const std::size_t page = 4096;
    auto* p = static_cast<char*>(std::aligned_alloc(page, (size + page - 1) / page * page + page));
    if (p == nullptr) std::abort();
    return p;
  }
  std::size_t size_;
  std::unique_ptr<char, Free> data_;
};

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Builds a segment through the library and returns its bytes.
Image Build(const std::string& dir, std::size_t capacity, bool fake_clock,
            const std::function<void(shmlease::ShmStore&)>& fill) {
  const std::string path = dir + "/.building";
  unlink(path.c_str());
  shmlease::ShmStoreOptions o;
  o.name = path;
  o.capacity = capacity;
  o.fake_clock = fake_clock;
  std::error_code ec;
  auto store = shmlease::ShmStore::OpenOrCreate(o, ec);
  if (!store) {
    std::fprintf(stderr, "cannot build a seed: %s\n", ec.message().c_str());
    std::exit(1);
  }
  fill(*store);
  store.reset();
  Image bytes(Slurp(path));
  unlink(path.c_str());
  // Fixed bytes where the library writes the machine's: seeds stay comparable.
  auto* h = reinterpret_cast<in::SegmentHeader*>(bytes.data());
  std::memset(h->boot_id, 0, sizeof h->boot_id);
  std::memcpy(h->boot_id, "00000000-0000-0000-0000-000000000000", 36);
  return bytes;
}

in::SlotHot* Hot(Image& b, std::size_t i) {
  return reinterpret_cast<in::SlotHot*>(b.data() + in::kHeaderBytes) + i;
}

std::size_t FirstOccupied(Image& b) {
  const auto* h = reinterpret_cast<const in::SegmentHeader*>(b.data());
  for (std::size_t i = 0; i < h->slot_count; ++i) {
    if (Hot(b, i)->state.load() & in::kOccupied) return i;
  }
  return 0;
}

void Emit(const std::string& dir, const std::string& name, std::string_view bytes) {
  const std::string path = dir + "/" + name;
  const std::string existing = Slurp(path);
  const std::size_t at = offsetof(in::SegmentHeader, layout_version);
  std::uint32_t version = 0;
  if (existing.size() >= at + sizeof version)
    std::memcpy(&version, existing.data() + at, sizeof version);
  if (version == in::kLayoutVersion) return;
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const shmlease::Key a{"singular-controller", "fuzz", "lease"};
  const shmlease::Key b{"application-leadership", "model-uuid", "app"};

  const Image empty = Build(dir, 1, false, [](shmlease::ShmStore&) {});
  Image full = Build(dir, 6, true, [&](shmlease::ShmStore& s) {
    (void)s.ClaimLease(a, {"holder", 10s});
    (void)s.ClaimLease(b, {"unit-0", 1s});
    (void)s.PinLease(b, "machine-0");
    (void)s.PinLease(b, "machine-1");
    (void)s.PinLease({"singular-controller", "fuzz", "pinned-only"}, "entity");
  });
  Emit(dir, "empty-capacity-1", empty.view());
  Emit(dir, "leases-and-pins", full.view());

  Image odd(full);  // A writer died inside a slot.
  Hot(odd, FirstOccupied(odd))->seq.fetch_add(1);
  Emit(dir, "odd-seqlock", odd.view());

  Image pins(full);  // Counts and distances that point past everything.
  Hot(pins, FirstOccupied(pins))->pin_count.store(0xFFFFFFFF);
  Hot(pins, FirstOccupied(pins))->max_probe.store(0xFFFFFFFF);
  Hot(pins, 0)->max_probe.store(1000);
  Emit(dir, "huge-counts", pins.view());

  Image journal(full);  // A committed record to replay, slot in range.
  {
    auto* h = reinterpret_cast<in::SegmentHeader*>(journal.data());
    h->journal.committed.store(1);
    h->journal.slot_index = 3;
    h->journal.home_index = 2;
    h->journal.home_max_probe = 5;
    h->journal.cold_mask = 0xFFFFFFFF;
    h->journal.state = in::kOccupied | in::kHeld;
    h->journal.pin_count = 9;
  }
  Emit(dir, "journal-committed", journal.view());

  Image bad_journal(journal);  // ... and one pointing outside the table.
  reinterpret_cast<in::SegmentHeader*>(bad_journal.data())->journal.slot_index = 0xFFFFFFF0;
  Emit(dir, "journal-out-of-range", bad_journal.view());

  Image clock(full);  // A hostile fake clock far below every expiry (once a crash).
  reinterpret_cast<in::SegmentHeader*>(clock.data())
      ->fake_now_ns.store(static_cast<std::int64_t>(0xFF0002E1364A39FCULL));
  Emit(dir, "negative-fake-clock", clock.view());

  Image names(full);  // Names with bytes no valid name has.
  {
    auto* h = reinterpret_cast<in::SegmentHeader*>(names.data());
    auto* cold = reinterpret_cast<in::SlotCold*>(names.data() + in::kHeaderBytes +
                                                 h->slot_count * sizeof(in::SlotHot));
    std::size_t i = FirstOccupied(names);
    cold[i].holder.words[0].store(0x2320242E00414141ULL);
    cold[i].lease.words[7].store(~0ULL);
  }
  Emit(dir, "bad-names", names.view());

  Emit(dir, "truncated", full.view().substr(0, full.view().size() / 2));
  Emit(dir, "header-only", full.view().substr(0, in::kHeaderBytes));
  return 0;
}

// Mapping a lease segment: creating it (exactly one initialiser among racing
// processes), checking its owner and layout, and handing out typed views.
#ifndef SHMLEASE_LIB_SEGMENT_H_
#define SHMLEASE_LIB_SEGMENT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "layout.h"
#include "mapping_watch.h"
#include "segment_path.h"
#include "shmlease/shm_store.h"

namespace shmlease::internal {

// The shape of a table, fixed at creation and copied to private memory on open.
struct Geometry {
  std::uint64_t capacity = 0;
  std::uint64_t slot_count = 0;
  std::uint64_t total_bytes = 0;
  bool fake_clock = false;

  static Geometry For(std::uint64_t capacity, bool fake_clock);
};

// The least last_epoch a segment may have now: CLOCK_REALTIME in
// microseconds (below kEpochLimit). Epochs start there at creation and are
// raised to it after a reboot, so that they only grow across destroy,
// re-creation and reboots while a table hands out fewer than one epoch per
// microsecond on average.
std::uint64_t EpochFloor();

class Segment {
 public:
  // Opens (and with `create`, creates and initialises) the segment named in
  // `options`. On failure returns nullptr, sets `ec`, and puts a sentence
  // naming the segment and the cause into *detail.
  static std::unique_ptr<Segment> Open(const ShmStoreOptions& options, bool create,
                                       std::error_code& ec, std::string* detail);
  // Removes the name. A segment of this layout is first marked retired, so
  // that writes through mappings still open fail (SegmentHeader::retired).
  static std::error_code Remove(std::string_view name);
  static std::string PathOf(std::string_view name);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  SegmentHeader& header() const { return *header_; }
  SlotHot* hot() const { return hot_; }
  SlotCold* cold() const { return cold_; }
  const Geometry& geometry() const { return geometry_; }
  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }
  bool read_only() const { return read_only_; }
  // The segment was last used on an earlier boot: its expiries mean nothing
  // now. Open then returns holding the segment's flock exclusively, so that
  // nobody else on this boot uses it before it is reset: the caller resets it
  // (Table::ResetAfterReboot), then calls EndBootReset.
  bool stale_boot() const { return stale_boot_; }
  // Releases the flock Open kept for the reset. Safe to call more than once.
  void EndBootReset();
  // Reads the header's boot id again: false once any process has reset the
  // segment for this boot. Call with the writers' lock held to act on it.
  bool BootIdIsCurrent() const;
  // Records this boot's id (after the holders have been cleared, lock held).
  void RecordBootId();
  // Owner and mode bits of the segment right now.
  std::error_code Stat(std::uint32_t* uid, std::uint32_t* mode) const;
  // The descriptor the segment was checked and mapped through.
  int fd() const { return fd_; }
  // Errc::segment_replaced (with a sentence in *detail) once this segment
  // was retired by Remove, unlinked, or its name leads to another file now.
  std::error_code StillNamed(std::string* detail) const;
  // The file shrank under the mapping, which a SIGBUS handler replaced with
  // zero pages (shmlease/truncation_guard.h): nothing read from it means anything.
  bool truncated() const { return watch_.truncated(); }

 private:
  // What one attempt at opening made of the name: done (or failed), or the
  // file it found was unlinked before it could be locked, and the caller
  // tries again from the name.
  enum class Attempt { done, again };

  Segment() = default;
  Attempt OpenOnce(const ShmStoreOptions& options, bool create, std::error_code& ec,
                   std::string* detail);
  std::error_code MapAndCheck(const ShmStoreOptions& options, bool create, bool created,
                              const SegmentLocation& where, Attempt* attempt, std::string* detail);
  std::error_code Initialise(const ShmStoreOptions& options, std::string* detail);
  std::error_code Validate(std::uint64_t file_size, std::string* detail);
  std::error_code Map(std::uint64_t bytes, std::string* detail);
  void Unmap();

  bool is_file_ = false;
  bool read_only_ = false;
  bool stale_boot_ = false;
  bool holds_reset_flock_ = false;
  std::string path_;
  std::string name_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  void* base_ = nullptr;  // mmap(2) of the whole file (see docs/design.md, "Opening a segment").
  std::uint64_t mapped_bytes_ = 0;
  SegmentHeader* header_ = nullptr;
  SlotHot* hot_ = nullptr;
  SlotCold* cold_ = nullptr;
  Geometry geometry_;
  // Unregistered by Unmap, before the mapping goes.
  MappingWatch watch_;
};

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_SEGMENT_H_

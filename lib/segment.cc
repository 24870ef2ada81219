#include "segment.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>

#include "clock.h"
#include "fault.h"
#include "shmlease/errors.h"

namespace shmlease::internal {

namespace {

// How often a name whose file is removed between being opened and being
// locked (a creator that failed, a destroy) is looked up again.
constexpr int kOpenAttempts = 8;

std::error_code Fail(std::error_code ec, std::string* detail, std::string text) {
  if (detail != nullptr) *detail = std::move(text);
  return ec;
}

std::string Errno(int err) { return std::strerror(err); }

// A segment lives in a regular file (a POSIX shm object is one too). A
// directory cannot be mapped, and opening a FIFO would block until someone
// opened it to write: both are refused with the kind of file named.
std::error_code NotRegularFile(const std::string& path, mode_t mode, std::string* detail) {
  const char* kind = S_ISDIR(mode)    ? "a directory"
                     : S_ISFIFO(mode) ? "a FIFO"
                     : S_ISSOCK(mode) ? "a socket"
                     : S_ISCHR(mode)  ? "a character device"
                     : S_ISBLK(mode)  ? "a block device"
                                      : "not a regular file";
  return Fail(Errc::not_a_segment, detail,
              path + " is " + kind + ", not a segment (segments are regular files)");
}

std::error_code SymlinkRefused(const std::string& path, std::string* detail) {
  return Fail(Errc::unsafe_segment_path, detail,
              path +
                  " is a symbolic link; a segment is never reached through a link, which "
                  "whoever can write its directory could aim at any file");
}

// What a failed open(2) of an existing name means.
std::error_code OpenFailed(const std::string& path, int err, std::string* detail) {
  if (err == ELOOP) return SymlinkRefused(path, detail);
  if (err == EISDIR) return NotRegularFile(path, S_IFDIR, detail);
  if (err == ENXIO) return NotRegularFile(path, S_IFSOCK, detail);
  return Fail(SegmentErrorFromErrno(err), detail, "cannot open " + path + ": " + Errno(err));
}

// This boot's id, or "" when it cannot be read (no /proc in a chroot, a
// sandbox hiding it, no descriptor left). An unknown id never makes a
// segment look stale: clearing every holder on a guess would break promises.
std::string ReadBootId() {
  std::ifstream in(BootIdPath());
  std::string id;
  std::getline(in, id);
  // A UUID: 36 characters of hex digits and dashes; anything else is unknown.
  if (id.size() != 36 || id.find_first_not_of("0123456789abcdefABCDEF-") != std::string::npos) {
    return "";
  }
  return id;
}

// flock with a deadline: the initialiser holds it for milliseconds; a holder
// that is stopped (not dead) must not wedge us, a dead one is released by the kernel.
bool FlockUntil(int fd, int how, std::int64_t deadline_ns) {
  std::int64_t pause_ns = 50'000;
  while (flock(fd, how | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return false;
    if (MonotonicNs() >= deadline_ns) return false;
    timespec pause{0, static_cast<long>(pause_ns)};
    nanosleep(&pause, nullptr);
    pause_ns = std::min<std::int64_t>(pause_ns * 2, 2'000'000);
  }
  return true;
}

struct FlockGuard {
  int fd;  // -1 once the lock is handed on (see Segment::EndBootReset).
  ~FlockGuard() {
    if (fd >= 0) flock(fd, LOCK_UN);
  }
};

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Marks the segment file `seen` (looked up as `base` in `dir`) retired, when
// it is a segment of this layout with no other name: writers that still
// have it mapped then fail instead of writing where nobody will look. Not
// done through another hard link, which may be someone else's segment. A
// user who may remove the name but not write the file leaves it unmarked:
// its writers learn of it from the name (Segment::StillNamed).
void Retire(int dir, const char* base, const struct stat& seen) {
  static_assert(offsetof(SegmentHeader, retired) + sizeof(std::uint32_t) <= kHeaderFieldBytes);
  if (!S_ISREG(seen.st_mode) || seen.st_nlink != 1) return;
  const int fd = openat(dir, base, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  std::uint64_t magic = 0;
  std::uint32_t version = 0;
  if (fstat(fd, &st) == 0 && SameFile(st, seen) && st.st_nlink == 1 &&
      static_cast<std::uint64_t>(st.st_size) >= kHeaderBytes &&
      pread(fd, &magic, sizeof magic, 0) == sizeof magic &&
      pread(fd, &version, sizeof version, offsetof(SegmentHeader, layout_version)) ==
          sizeof version &&
      magic == kMagic && version == kLayoutVersion) {
    void* p = mmap(nullptr, kHeaderFieldBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      static_cast<SegmentHeader*>(p)->retired.store(1, std::memory_order_seq_cst);
      munmap(p, kHeaderFieldBytes);
    }
  }
  close(fd);
}

}  // namespace

std::uint64_t EpochFloor() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec < 0) return 0;
  const std::uint64_t micros = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
                               static_cast<std::uint64_t>(ts.tv_nsec) / 1'000;
  return std::min(micros, kEpochLimit - 1);
}

Geometry Geometry::For(std::uint64_t capacity, bool fake_clock) {
  Geometry g;
  g.capacity = capacity;
  // At most 3/4 of the slots are ever occupied, which keeps probe sequences short.
  g.slot_count = std::max<std::uint64_t>(8, capacity + (capacity + 2) / 3);
  g.total_bytes = kHeaderBytes + g.slot_count * (sizeof(SlotHot) + sizeof(SlotCold));
  g.fake_clock = fake_clock;
  return g;
}

std::string Segment::PathOf(std::string_view name) { return SegmentPathOf(name); }

Segment::~Segment() {
  Unmap();
  if (fd_ >= 0) close(fd_);
}

void Segment::Unmap() {
  watch_.Stop();  // Before the range can be mapped to anything else.
  if (base_ != nullptr) munmap(base_, mapped_bytes_);
  base_ = nullptr;
  mapped_bytes_ = 0;
  header_ = nullptr;
}

std::error_code Segment::Map(std::uint64_t bytes, std::string* detail) {
  Unmap();
  void* p = mmap(nullptr, bytes, PROT_READ | (read_only_ ? 0 : PROT_WRITE), MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    return Fail(SegmentErrorFromErrno(err), detail, "cannot map " + path_ + ": " + Errno(err));
  }
  base_ = p;
  mapped_bytes_ = bytes;
  header_ = static_cast<SegmentHeader*>(p);
  return {};
}

std::error_code Segment::Remove(std::string_view name) {
  SegmentLocation where;
  std::string detail;
  if (std::error_code ec = LocateSegment(name, &where, &detail)) return ec;
  const int dir = where.dir.get();
  const char* base = where.base.c_str();
  struct stat st;
  if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) != 0) return SegmentErrorFromErrno(errno);
  Retire(dir, base, st);
  if (unlinkat(dir, base, 0) != 0) return SegmentErrorFromErrno(errno);
  return {};
}

std::error_code Segment::Stat(std::uint32_t* uid, std::uint32_t* mode) const {
  struct stat st;
  if (fstat(fd_, &st) != 0) return SegmentErrorFromErrno(errno);
  *uid = st.st_uid;
  *mode = st.st_mode & 07777;
  return {};
}

std::error_code Segment::StillNamed(std::string* detail) const {
  if (header_->retired.load(std::memory_order_acquire) != 0) {
    return Fail(Errc::segment_replaced, detail, path_ + " was destroyed");
  }
  struct stat mine;
  if (fstat(fd_, &mine) != 0) {
    const int err = errno;
    return Fail(SegmentErrorFromErrno(err), detail, "cannot stat " + path_ + ": " + Errno(err));
  }
  if (mine.st_nlink == 0) return Fail(Errc::segment_replaced, detail, path_ + " was removed");
  SegmentLocation where;
  std::string why;
  if (LocateSegment(name_, &where, &why)) {
    return Fail(Errc::segment_replaced, detail, path_ + " can no longer be reached: " + why);
  }
  struct stat now;
  if (fstatat(where.dir.get(), where.base.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    return Fail(Errc::segment_replaced, detail, path_ + " can no longer be reached: " + Errno(err));
  }
  if (!SameFile(now, mine)) {
    return Fail(Errc::segment_replaced, detail,
                path_ + " now names another file than the segment opened there");
  }
  return {};
}

std::unique_ptr<Segment> Segment::Open(const ShmStoreOptions& options, bool create,
                                       std::error_code& ec, std::string* detail) {
  if (create && options.read_only) create = false;
  if (create && (options.capacity == 0 || options.capacity > kMaxCapacity)) {
    ec = Fail(Errc::invalid_capacity, detail,
              "capacity " + std::to_string(options.capacity) + " is outside 1.." +
                  std::to_string(kMaxCapacity));
    return nullptr;
  }
  for (int attempt = 0; attempt < kOpenAttempts; ++attempt) {
    std::unique_ptr<Segment> seg(new Segment());
    if (seg->OpenOnce(options, create, ec, detail) == Attempt::done) {
      if (ec) return nullptr;
      seg->watch_.Watch(seg->base_, seg->mapped_bytes_, !seg->read_only_);
      return seg;
    }
  }
  ec = Fail(Errc::segment_busy, detail,
            PathOf(options.name) + " was removed each time it was opened (" +
                std::to_string(kOpenAttempts) + " times)");
  return nullptr;
}

Segment::Attempt Segment::OpenOnce(const ShmStoreOptions& options, bool create, std::error_code& ec,
                                   std::string* detail) {
  ec.clear();
  name_ = options.name;
  path_ = PathOf(options.name);
  is_file_ = IsFilePath(options.name);
  read_only_ = options.read_only;
  SegmentLocation where;
  if ((ec = LocateSegment(options.name, &where, detail))) return Attempt::done;
  const int dir = where.dir.get();
  const char* base = where.base.c_str();
  bool created = false;
  struct stat st;
  // Looked at before opening: a link is refused by name, and a FIFO or a
  // device is not opened at all. The descriptor is looked at again below,
  // in case the name was replaced in between.
  if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) {
      ec = SymlinkRefused(path_, detail);
      return Attempt::done;
    }
    if (!S_ISREG(st.st_mode)) {
      ec = NotRegularFile(path_, st.st_mode, detail);
      return Attempt::done;
    }
    // O_NONBLOCK: a FIFO put in its place meanwhile must not block the open.
    fd_ = openat(dir, base,
                 (read_only_ ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      if (err == ENOENT) return Attempt::again;  // Removed since the look.
      ec = OpenFailed(path_, err, detail);
      return Attempt::done;
    }
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  } else if (const int err = errno; err == ENOENT && create) {
    fd_ = openat(dir, base, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
                 options.mode);
    if (fd_ < 0) {
      const int create_err = errno;
      if (create_err == EEXIST) return Attempt::again;  // Another creator was first.
      ec = Fail(SegmentErrorFromErrno(create_err), detail,
                "cannot create " + path_ + ": " + Errno(create_err));
      return Attempt::done;
    }
    created = true;
    fchmod(fd_, options.mode);  // The umask must not weaken or widen the mode asked for.
  } else {
    ec = Fail(SegmentErrorFromErrno(err), detail, "cannot open " + path_ + ": " + Errno(err));
    return Attempt::done;
  }
  if (fstat(fd_, &st) != 0) {
    const int err = errno;
    ec = Fail(SegmentErrorFromErrno(err), detail, "cannot stat " + path_ + ": " + Errno(err));
    return Attempt::done;
  }
  if (!S_ISREG(st.st_mode)) {
    ec = NotRegularFile(path_, st.st_mode, detail);
    return Attempt::done;
  }
  if (st.st_nlink == 0) return Attempt::again;  // Removed since it was opened.
  if (st.st_nlink > 1) {
    ec = Fail(Errc::unsafe_segment_path, detail,
              path_ + " has " + std::to_string(st.st_nlink) +
                  " hard links; a segment has one name, or another name could be someone "
                  "else's way into it");
    return Attempt::done;
  }
  if (st.st_uid != geteuid() && !options.trust_any_owner &&
      std::find(options.trusted_uids.begin(), options.trusted_uids.end(), st.st_uid) ==
          options.trusted_uids.end()) {
    ec = Fail(Errc::foreign_owner, detail,
              path_ + " is owned by uid " + std::to_string(st.st_uid) +
                  ", not by this user; refusing it unless that owner is trusted");
    return Attempt::done;
  }
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  Attempt attempt = Attempt::done;
  ec = MapAndCheck(options, create, created, where, &attempt, detail);
  return attempt;
}

std::error_code Segment::MapAndCheck(const ShmStoreOptions& options, bool create, bool created,
                                     const SegmentLocation& where, Attempt* attempt,
                                     std::string* detail) {
  const int fd = fd_;
  // Initialisation and first validation happen under an flock: exactly one
  // process initialises, and a creator that dies half-way releases it.
  const std::int64_t deadline = AddSaturating(MonotonicNs(), options.init_timeout.count());
  if (!FlockUntil(fd, create ? LOCK_EX : LOCK_SH, deadline)) {
    return Fail(Errc::segment_busy, detail,
                path_ +
                    " is being initialised (or reset after a reboot) by another process that did "
                    "not finish in time");
  }
  FlockGuard unlock{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    return Fail(SegmentErrorFromErrno(err), detail, "cannot stat " + path_ + ": " + Errno(err));
  }
  if (st.st_nlink == 0) {
    // A creator that failed removed it while we waited, or it was destroyed.
    *attempt = Attempt::again;
    return {};
  }
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  std::uint64_t magic = 0;
  if (size >= sizeof magic && pread(fd, &magic, sizeof magic, 0) != sizeof magic) {
    const int err = errno;
    return Fail(Errc::io_error, detail, "cannot read " + path_ + ": " + Errno(err));
  }
  if (size == 0 || magic == kCreatingMagic) {
    if (!create) {
      return Fail(size == 0 ? Errc::segment_not_found : Errc::corrupt_segment, detail,
                  path_ + " was never initialised (its creator may have died)");
    }
    std::error_code ec = Initialise(options, detail);
    if (ec) {
      // Nothing half-made stays behind: the table is emptied, and a file
      // made for it (by this call, or by a creator that died) removed.
      Unmap();
      if (ftruncate(fd, 0) == 0 && (created || magic == kCreatingMagic)) {
        struct stat now;
        if (fstatat(where.dir.get(), where.base.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
            now.st_dev == dev_ && now.st_ino == ino_) {
          unlinkat(where.dir.get(), where.base.c_str(), 0);
        }
      }
    }
    return ec;
  }
  if (magic != kMagic && size >= sizeof magic) {
    return Fail(Errc::corrupt_segment, detail,
                path_ + " is not a shmlease segment (bad magic" +
                    (magic == 0 ? std::string(": its first bytes are zero") : std::string()) +
                    "); it is left as it is");
  }
  // Another layout's header may be smaller than this one's: its version,
  // not its size, is what to report.
  if (std::uint32_t version = 0; size >= offsetof(SegmentHeader, layout_version) + sizeof version &&
                                 pread(fd, &version, sizeof version,
                                       offsetof(SegmentHeader, layout_version)) == sizeof version &&
                                 version != kLayoutVersion) {
    return Fail(Errc::incompatible_segment, detail,
                path_ + " has layout version " + std::to_string(version) +
                    "; this library reads version " + std::to_string(kLayoutVersion));
  }
  if (size < kHeaderBytes) {
    return Fail(Errc::corrupt_segment, detail,
                path_ + " is truncated: " + std::to_string(size) + " bytes, less than a header");
  }
  if (std::error_code ec = Map(size, detail)) return ec;
  if (std::error_code ec = Validate(size, detail)) return ec;
  // Only a file can outlive a boot; a POSIX shm object is gone at reboot.
  if (is_file_ && !BootIdIsCurrent()) {
    if (read_only_) {
      // A reader cannot reset it, and its expiries would be read on the wrong clock.
      return Fail(Errc::incompatible_segment, detail,
                  path_ +
                      " was last used before this machine rebooted: its expiries are on "
                      "another clock; open it writable once to reset it");
    }
    // The reset re-makes the writers' lock, which a writer of the earlier
    // boot may have left locked (its owner's thread id means nothing now,
    // and no process of this boot will ever release it). That is only safe
    // while nobody of this boot can use the lock: under the flock, taken
    // exclusively. Several openers may have seen the old id under a shared
    // flock; each lets go, then takes it exclusively and looks again: only
    // the first finds the segment still stale.
    flock(fd, LOCK_UN);
    unlock.fd = -1;
    SHMLEASE_FAULT_POINT("stale-boot-seen");
    if (!FlockUntil(fd, LOCK_EX, deadline)) {
      return Fail(Errc::segment_busy, detail,
                  path_ +
                      " is being reset after a reboot by another process that did not "
                      "finish in time");
    }
    FlockGuard exclusive{fd};
    // Between the two locks anyone could have changed the file: check it again.
    if (fstat(fd, &st) != 0) {
      const int err = errno;
      return Fail(SegmentErrorFromErrno(err), detail, "cannot stat " + path_ + ": " + Errno(err));
    }
    if (st.st_nlink == 0) {
      *attempt = Attempt::again;
      return {};
    }
    if (static_cast<std::uint64_t>(st.st_size) != mapped_bytes_) {
      return Fail(Errc::corrupt_segment, detail, path_ + " changed size while it was opened");
    }
    if (std::error_code ec = Validate(static_cast<std::uint64_t>(st.st_size), detail)) return ec;
    if (!BootIdIsCurrent()) {
      stale_boot_ = true;
      holds_reset_flock_ = true;  // Kept until EndBootReset.
      exclusive.fd = -1;
    }
  }
  return {};
}

void Segment::EndBootReset() {
  if (!holds_reset_flock_) return;
  flock(fd_, LOCK_UN);
  holds_reset_flock_ = false;
}

std::error_code Segment::Initialise(const ShmStoreOptions& options, std::string* detail) {
  const int fd = fd_;
  Geometry g = Geometry::For(options.capacity, options.fake_clock);
  SHMLEASE_FAULT_POINT("init-begin");
  // Start from zero bytes: a creator that died half-way may have left anything.
  if (ftruncate(fd, 0) != 0) {
    const int err = errno;
    return Fail(SegmentErrorFromErrno(err), detail, "cannot empty " + path_ + ": " + Errno(err));
  }
  // From here until the magic is stored, the file says that a creation is
  // under way: whoever finds it so once the creator is gone (its flock
  // released) starts over. Written before the file grows, so that no
  // moment shows a file that is neither empty nor marked.
  if (pwrite(fd, &kCreatingMagic, sizeof kCreatingMagic, 0) != sizeof kCreatingMagic) {
    const int err = errno;
    return Fail(SegmentErrorFromErrno(err), detail, "cannot write " + path_ + ": " + Errno(err));
  }
  SHMLEASE_FAULT_POINT("init-marked");
  if (ftruncate(fd, static_cast<off_t>(g.total_bytes)) != 0) {
    const int err = errno;
    return Fail(SegmentErrorFromErrno(err), detail, "cannot size " + path_ + ": " + Errno(err));
  }
  // Reserve the memory now: a tmpfs that fills up later would kill a process
  // with SIGBUS in the middle of a write instead of failing this call.
  if (int err = posix_fallocate(fd, 0, static_cast<off_t>(g.total_bytes)); err != 0) {
    return Fail(SegmentErrorFromErrno(err), detail,
                "cannot reserve " + std::to_string(g.total_bytes) + " bytes for " + path_ + ": " +
                    Errno(err));
  }
  SHMLEASE_FAULT_POINT("init-sized");
  if (std::error_code ec = Map(g.total_bytes, detail)) return ec;
  // The bytes are zero but for the marker: an empty table, once the header says its shape.
  SegmentHeader& h = *header_;
  h.layout_version = kLayoutVersion;
  h.header_bytes = kHeaderBytes;
  h.hot_bytes = sizeof(SlotHot);
  h.cold_bytes = sizeof(SlotCold);
  h.name_max = kMaxNameLength;
  h.pins_max = kMaxPinsPerLease;
  h.capacity = g.capacity;
  h.slot_count = g.slot_count;
  h.total_bytes = g.total_bytes;
  h.fake_clock = g.fake_clock ? 1 : 0;
  // A fake clock starts where the real one is, so expiries look familiar.
  h.fake_now_ns.store(g.fake_clock ? MonotonicNs() : 0, std::memory_order_relaxed);
  // Epochs go on from the wall clock, above those of any segment this name
  // had before (EpochFloor).
  RelaxedStore(h.last_epoch, EpochFloor());
  std::string boot = ReadBootId();
  std::memcpy(h.boot_id, boot.data(), boot.size());
  SHMLEASE_FAULT_POINT("init-header");
  geometry_ = g;
  hot_ = reinterpret_cast<SlotHot*>(static_cast<char*>(base_) + kHeaderBytes);
  cold_ =
      reinterpret_cast<SlotCold*>(reinterpret_cast<char*>(hot_) + g.slot_count * sizeof(SlotHot));
  SHMLEASE_FAULT_POINT("init-before-magic");
  h.magic.store(kMagic, std::memory_order_release);  // Last: now the segment is ready.
  return {};
}

std::error_code Segment::Validate(std::uint64_t file_size, std::string* detail) {
  const SegmentHeader& h = *header_;
  std::uint64_t magic = h.magic.load(std::memory_order_acquire);
  if (magic != kMagic) {
    return Fail(Errc::corrupt_segment, detail, path_ + " is not a shmlease segment (bad magic)");
  }
  if (h.layout_version != kLayoutVersion) {
    return Fail(Errc::incompatible_segment, detail,
                path_ + " has layout version " + std::to_string(h.layout_version) +
                    "; this library reads version " + std::to_string(kLayoutVersion));
  }
  if (h.header_bytes != kHeaderBytes || h.hot_bytes != sizeof(SlotHot) ||
      h.cold_bytes != sizeof(SlotCold) || h.name_max != kMaxNameLength ||
      h.pins_max != kMaxPinsPerLease) {
    return Fail(Errc::incompatible_segment, detail,
                path_ + " was built with other structure sizes (names of " +
                    std::to_string(h.name_max) + " bytes, " + std::to_string(h.pins_max) +
                    " pins); this library uses " + std::to_string(kMaxNameLength) + " and " +
                    std::to_string(kMaxPinsPerLease));
  }
  if (h.capacity == 0 || h.capacity > kMaxCapacity || h.fake_clock > 1) {
    return Fail(Errc::corrupt_segment, detail,
                path_ + " has an impossible header (capacity " + std::to_string(h.capacity) + ")");
  }
  Geometry g = Geometry::For(h.capacity, h.fake_clock == 1);
  if (h.slot_count != g.slot_count || h.total_bytes != g.total_bytes) {
    return Fail(Errc::corrupt_segment, detail, path_ + " has inconsistent table sizes");
  }
  if (file_size != g.total_bytes || mapped_bytes_ < g.total_bytes) {
    return Fail(Errc::corrupt_segment, detail,
                path_ + " is " + std::to_string(file_size) + " bytes; its header says " +
                    std::to_string(g.total_bytes) + " (truncated or extended)");
  }
  geometry_ = g;
  char* base = static_cast<char*>(base_);
  hot_ = reinterpret_cast<SlotHot*>(base + kHeaderBytes);
  cold_ = reinterpret_cast<SlotCold*>(base + kHeaderBytes + g.slot_count * sizeof(SlotHot));
  return {};
}

bool Segment::BootIdIsCurrent() const {
  const std::string now = ReadBootId();
  const std::string recorded(header_->boot_id, strnlen(header_->boot_id, sizeof header_->boot_id));
  // Stale only when both ids are known and differ.
  return now.empty() || recorded.empty() || now == recorded;
}

void Segment::RecordBootId() {
  if (read_only_) return;
  std::string boot = ReadBootId();
  if (boot.empty()) return;  // Unknown: keep what is recorded.
  std::memset(header_->boot_id, 0, sizeof header_->boot_id);
  std::memcpy(header_->boot_id, boot.data(), boot.size());
  stale_boot_ = false;
}

}  // namespace shmlease::internal

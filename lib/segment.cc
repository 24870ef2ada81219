#include "segment.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <boost/interprocess/exceptions.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>

#include "clock.h"
#include "fault.h"
#include "shmlease/errors.h"

namespace shmlease::internal {

namespace bip = boost::interprocess;

namespace {

bool IsFilePath(std::string_view name) { return name.find('/', 1) != std::string_view::npos; }

std::string PosixShmName(std::string_view name) {
  return std::string(name.starts_with('/') ? name.substr(1) : name);
}

std::error_code FromErrno(int err) {
  switch (err) {
    case ENOENT:
      return Errc::segment_not_found;
    case EACCES:
    case EPERM:
    case EROFS:
      return Errc::permission_denied;
    case ENOSPC:
    case ENOMEM:
    case EFBIG:
      return Errc::no_space;
    case ENAMETOOLONG:
    case EINVAL:
      return Errc::invalid_segment_name;
    default:
      return Errc::io_error;
  }
}

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
  return Fail(Errc::incompatible_segment, detail,
              path + " is " + kind + ", not a segment (segments are regular files)");
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

}  // namespace

Geometry Geometry::For(std::uint64_t capacity, bool fake_clock) {
  Geometry g;
  g.capacity = capacity;
  // At most 3/4 of the slots are ever occupied, which keeps probe sequences short.
  g.slot_count = std::max<std::uint64_t>(8, capacity + (capacity + 2) / 3);
  g.total_bytes = kHeaderBytes + g.slot_count * (sizeof(SlotHot) + sizeof(SlotCold));
  g.fake_clock = fake_clock;
  return g;
}

std::string Segment::PathOf(std::string_view name) {
  if (IsFilePath(name)) return std::string(name);
  return "/dev/shm/" + PosixShmName(name);
}

std::error_code Segment::Remove(std::string_view name) {
  if (IsFilePath(name)) {
    if (unlink(std::string(name).c_str()) != 0) return FromErrno(errno);
    return {};
  }
  std::string shm = PosixShmName(name);
  if (shm.empty() || shm.find('/') != std::string::npos) return Errc::invalid_segment_name;
  if (shm_unlink(("/" + shm).c_str()) != 0) return FromErrno(errno);
  return {};
}

int Segment::fd() const {
  return is_file_ ? file_.get_mapping_handle().handle : shm_.get_mapping_handle().handle;
}

std::error_code Segment::Stat(std::uint32_t* uid, std::uint32_t* mode) const {
  struct stat st;
  if (fstat(fd(), &st) != 0) return FromErrno(errno);
  *uid = st.st_uid;
  *mode = st.st_mode & 07777;
  return {};
}

std::unique_ptr<Segment> Segment::Open(const ShmStoreOptions& options, bool create,
                                       std::error_code& ec, std::string* detail) {
  std::unique_ptr<Segment> seg(new Segment());
  seg->path_ = PathOf(options.name);
  seg->is_file_ = IsFilePath(options.name);
  seg->read_only_ = options.read_only;
  const std::string& path = seg->path_;
  if (create && options.read_only) create = false;
  if (create && (options.capacity == 0 || options.capacity > kMaxCapacity)) {
    ec = Fail(Errc::invalid_capacity, detail,
              "capacity " + std::to_string(options.capacity) + " is outside 1.." +
                  std::to_string(kMaxCapacity));
    return nullptr;
  }
  if (!seg->is_file_) {
    std::string shm = PosixShmName(options.name);
    if (shm.empty() || shm.size() > 250 || shm.find('/') != std::string::npos) {
      ec = Fail(Errc::invalid_segment_name, detail,
                "segment name '" + options.name + "' must be 1 to 250 bytes without '/'");
      return nullptr;
    }
  }
  // Looked at before opening, which would block on a FIFO; the descriptor
  // is looked at again below, in case the name was replaced in between.
  if (struct stat pre; stat(path.c_str(), &pre) == 0 && !S_ISREG(pre.st_mode)) {
    ec = NotRegularFile(path, pre.st_mode, detail);
    return nullptr;
  }
  const bip::mode_t mode = options.read_only ? bip::read_only : bip::read_write;
  // Open first; create (exclusively, with exact permissions) only if missing.
  // The loop covers a name removed or created between the two attempts.
  for (int attempt = 0;; ++attempt) {
    try {
      if (seg->is_file_) {
        if (create) {
          int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
          if (fd >= 0) {
            fchmod(fd, options.mode);  // The umask must not weaken or widen the mode asked for.
            ::close(fd);
          } else if (errno != EEXIST) {
            ec = Fail(FromErrno(errno), detail, "cannot create " + path + ": " + Errno(errno));
            return nullptr;
          }
        }
        seg->file_ = bip::file_mapping(path.c_str(), mode);
      } else if (create) {
        bip::permissions perms(options.mode);
        seg->shm_ = bip::shared_memory_object(bip::open_or_create,
                                              PosixShmName(options.name).c_str(), mode, perms);
      } else {
        seg->shm_ =
            bip::shared_memory_object(bip::open_only, PosixShmName(options.name).c_str(), mode);
      }
      break;
    } catch (const bip::interprocess_exception& e) {
      int err = e.get_native_error();
      if (err == ENOENT && create && attempt < 3) continue;
      ec = Fail(FromErrno(err), detail, "cannot open " + path + ": " + Errno(err));
      return nullptr;
    }
  }
  int fd = seg->fd();
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ec = Fail(FromErrno(errno), detail, "cannot stat " + path + ": " + Errno(errno));
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    ec = NotRegularFile(path, st.st_mode, detail);
    return nullptr;
  }
  if (st.st_uid != geteuid() && !options.trust_any_owner &&
      std::find(options.trusted_uids.begin(), options.trusted_uids.end(), st.st_uid) ==
          options.trusted_uids.end()) {
    ec = Fail(Errc::foreign_owner, detail,
              path + " is owned by uid " + std::to_string(st.st_uid) +
                  ", not by this user; refusing it unless that owner is trusted");
    return nullptr;
  }
  ec = seg->MapAndCheck(options, create, detail);
  if (ec) return nullptr;
  seg->watch_.Watch(seg->header_, seg->geometry_.total_bytes, !seg->read_only_);
  return seg;
}

std::error_code Segment::MapAndCheck(const ShmStoreOptions& options, bool create,
                                     std::string* detail) {
  const int fd = this->fd();
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
  if (fstat(fd, &st) != 0) return Fail(FromErrno(errno), detail, path_ + ": " + Errno(errno));
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  bool initialised = false;
  if (size >= kHeaderBytes) {
    // Peek at the magic through a header-sized mapping before trusting any size.
    try {
      bip::mapped_region head(is_file_ ? bip::mapped_region(file_, bip::read_only, 0, kHeaderBytes)
                                       : bip::mapped_region(shm_, bip::read_only, 0, kHeaderBytes));
      std::uint64_t magic;
      std::memcpy(&magic, head.get_address(), sizeof magic);
      initialised = magic != 0;
    } catch (const bip::interprocess_exception& e) {
      return Fail(FromErrno(e.get_native_error()), detail,
                  "cannot map " + path_ + ": " + Errno(e.get_native_error()));
    }
  } else if (size != 0) {
    return Fail(Errc::corrupt_segment, detail,
                path_ + " is truncated: " + std::to_string(size) + " bytes, less than a header");
  }
  if (!initialised) {
    if (!create) {
      return Fail(size == 0 ? Errc::segment_not_found : Errc::corrupt_segment, detail,
                  path_ + " was never initialised (its creator may have died)");
    }
    return Initialise(options, detail);
  }
  try {
    region_ = bip::mapped_region(
        is_file_ ? bip::mapped_region(file_, read_only_ ? bip::read_only : bip::read_write)
                 : bip::mapped_region(shm_, read_only_ ? bip::read_only : bip::read_write));
  } catch (const bip::interprocess_exception& e) {
    return Fail(FromErrno(e.get_native_error()), detail,
                "cannot map " + path_ + ": " + Errno(e.get_native_error()));
  }
  header_ = static_cast<SegmentHeader*>(region_.get_address());
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
    if (fstat(fd, &st) != 0) return Fail(FromErrno(errno), detail, path_ + ": " + Errno(errno));
    if (static_cast<std::uint64_t>(st.st_size) != region_.get_size()) {
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
  flock(fd(), LOCK_UN);
  holds_reset_flock_ = false;
}

std::error_code Segment::Initialise(const ShmStoreOptions& options, std::string* detail) {
  const int fd = this->fd();
  Geometry g = Geometry::For(options.capacity, options.fake_clock);
  SHMLEASE_FAULT_POINT("init-begin");
  // Start from zero bytes: a creator that died half-way may have left anything.
  if (ftruncate(fd, 0) != 0 || ftruncate(fd, static_cast<off_t>(g.total_bytes)) != 0) {
    return Fail(FromErrno(errno), detail, "cannot size " + path_ + ": " + Errno(errno));
  }
  // Reserve the memory now: a tmpfs that fills up later would kill a process
  // with SIGBUS in the middle of a write instead of failing this call.
  if (int err = posix_fallocate(fd, 0, static_cast<off_t>(g.total_bytes)); err != 0) {
    ftruncate(fd, 0);
    return Fail(FromErrno(err), detail,
                "cannot reserve " + std::to_string(g.total_bytes) + " bytes for " + path_ + ": " +
                    Errno(err));
  }
  SHMLEASE_FAULT_POINT("init-sized");
  try {
    region_ = is_file_ ? bip::mapped_region(file_, bip::read_write)
                       : bip::mapped_region(shm_, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    return Fail(FromErrno(e.get_native_error()), detail,
                "cannot map " + path_ + ": " + Errno(e.get_native_error()));
  }
  void* base = region_.get_address();
  header_ = new (base) SegmentHeader();  // Zero bytes are a valid empty table otherwise.
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
  std::string boot = ReadBootId();
  std::memcpy(h.boot_id, boot.data(), boot.size());
  SHMLEASE_FAULT_POINT("init-header");
  geometry_ = g;
  hot_ = reinterpret_cast<SlotHot*>(static_cast<char*>(base) + kHeaderBytes);
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
  if (file_size != g.total_bytes || region_.get_size() < g.total_bytes) {
    return Fail(Errc::corrupt_segment, detail,
                path_ + " is " + std::to_string(file_size) + " bytes; its header says " +
                    std::to_string(g.total_bytes) + " (truncated or extended)");
  }
  geometry_ = g;
  char* base = static_cast<char*>(region_.get_address());
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

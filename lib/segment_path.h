// Where a segment's file is, reached without following a symbolic link.
//
// A segment file is opened by the directory that holds it and its last name
// component: the directory is opened with no symbolic link in any component
// of its path (openat2 with RESOLVE_NO_SYMLINKS, else one component at a
// time with O_NOFOLLOW), and the file is then opened, created, stat'ed and
// removed only relative to that directory, with O_NOFOLLOW. Otherwise a
// user who can write some directory on the path could plant a link, and the
// segment's owner would write its table into whatever file it points at.
#ifndef SHMLEASE_LIB_SEGMENT_PATH_H_
#define SHMLEASE_LIB_SEGMENT_PATH_H_

#include <string>
#include <string_view>
#include <system_error>

namespace shmlease::internal {

// Whether `name` names a file (a '/' past its first byte) rather than a
// POSIX shared-memory object under /dev/shm.
bool IsFilePath(std::string_view name);

// The path of the segment `name` names: the name itself, or /dev/shm/<name>.
std::string SegmentPathOf(std::string_view name);

// Errc::invalid_segment_name, with a sentence saying why, unless `name` can
// name a segment: not empty, no control character (a newline in a name
// would forge lines in every report that quotes it), and a last component
// that is a name (not ".", "..", or empty); a shared-memory name also has
// no '/' after its optional leading one, and at most 250 bytes.
std::error_code CheckSegmentName(std::string_view name, std::string* detail);

// The error a failed system call on a segment's file reports.
std::error_code SegmentErrorFromErrno(int err);

// An open directory descriptor, closed on destruction.
class DirFd {
 public:
  DirFd() = default;
  explicit DirFd(int fd) : fd_(fd) {}
  ~DirFd();
  DirFd(DirFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirFd& operator=(DirFd&& other) noexcept;
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// The directory holding a segment, and the segment's name in it.
struct SegmentLocation {
  DirFd dir;         // An O_PATH descriptor of the directory.
  std::string base;  // The last component of the path.
};

// Opens the directory that holds segment `name` (checked with
// CheckSegmentName first) with no symbolic link in its path: a link is
// refused with Errc::unsafe_segment_path, naming it. /dev/shm itself is
// opened as the system has it: only root can change what it leads to.
std::error_code LocateSegment(std::string_view name, SegmentLocation* out, std::string* detail);

// Whether users other than this one (and root) can replace the segment's
// file under its users: the directory holding segment `name` belongs to
// another user, or its group or others may write it and it lacks the sticky
// bit. `*dir` gets the directory's path.
std::error_code DirectoryOpenToOthers(std::string_view name, bool* open, std::string* dir);

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_SEGMENT_PATH_H_

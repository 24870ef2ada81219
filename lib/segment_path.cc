#include "segment_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "shmlease/errors.h"

namespace shmlease::internal {

namespace {

constexpr std::string_view kShmDirectory = "/dev/shm";
constexpr std::size_t kMaxShmNameBytes = 250;

std::string_view ShmName(std::string_view name) {
  return name.starts_with('/') ? name.substr(1) : name;
}

std::error_code Fail(std::error_code ec, std::string* detail, std::string text) {
  if (detail != nullptr) *detail = std::move(text);
  return ec;
}

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

// The directory part of a file path ("" for the current directory) and its last component.
std::pair<std::string, std::string> Split(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {"", std::string(path)};
  return {std::string(path.substr(0, slash == 0 ? 1 : slash)), std::string(path.substr(slash + 1))};
}

// openat2(2) with RESOLVE_NO_SYMLINKS: -1 with errno, ENOSYS where the
// kernel (or a seccomp filter) does not offer it.
int OpenDirNoSymlinks(const std::string& dir) {
#ifdef SYS_openat2
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS;
  return static_cast<int>(syscall(SYS_openat2, AT_FDCWD, dir.c_str(), &how, sizeof how));
#else
  (void)dir;
  errno = ENOSYS;
  return -1;
#endif
}

// The same, one component at a time: each opened with O_NOFOLLOW relative
// to the one before and looked at. Also names the component that is a link.
std::error_code WalkNoSymlinks(const std::string& dir, DirFd* out, std::string* detail) {
  DirFd at(open(dir.starts_with('/') ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (at.get() < 0) {
    const int err = errno;
    return Fail(SegmentErrorFromErrno(err), detail, "cannot open " + dir + ": " + strerror(err));
  }
  std::string so_far = dir.starts_with('/') ? "" : ".";
  std::size_t begin = 0;
  while (begin <= dir.size()) {
    std::size_t end = dir.find('/', begin);
    if (end == std::string::npos) end = dir.size();
    const std::string part = dir.substr(begin, end - begin);
    begin = end + 1;
    if (part.empty() || part == ".") continue;
    so_far += "/" + part;
    DirFd next(openat(at.get(), part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (next.get() < 0 || fstat(next.get(), &st) != 0) {
      const int err = errno;
      return Fail(SegmentErrorFromErrno(err), detail,
                  "cannot open directory " + so_far + ": " + strerror(err));
    }
    if (S_ISLNK(st.st_mode)) {
      return Fail(Errc::unsafe_segment_path, detail,
                  so_far +
                      " is a symbolic link; segments are reached through no link, which "
                      "whoever can write its directory could aim at any file");
    }
    if (!S_ISDIR(st.st_mode)) {
      return Fail(Errc::segment_not_found, detail, so_far + " is not a directory");
    }
    at = std::move(next);
  }
  *out = std::move(at);
  return {};
}

}  // namespace

DirFd::~DirFd() {
  if (fd_ >= 0) close(fd_);
}

DirFd& DirFd::operator=(DirFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

std::error_code SegmentErrorFromErrno(int err) {
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
    case EDQUOT:
      return Errc::no_space;
    case ENAMETOOLONG:
    case EINVAL:
      return Errc::invalid_segment_name;
    case ELOOP:
      return Errc::unsafe_segment_path;
    case EISDIR:
      return Errc::not_a_segment;
    default:
      return Errc::io_error;
  }
}

bool IsFilePath(std::string_view name) { return name.find('/', 1) != std::string_view::npos; }

std::string SegmentPathOf(std::string_view name) {
  if (IsFilePath(name)) return std::string(name);
  return std::string(kShmDirectory) + "/" + std::string(ShmName(name));
}

std::error_code CheckSegmentName(std::string_view name, std::string* detail) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02x", c);
      return Fail(Errc::invalid_segment_name, detail,
                  "segment name " + Quoted(name) + " has a control character (byte " + byte +
                      " at offset " + std::to_string(i) + ")");
    }
  }
  if (!IsFilePath(name)) {
    const std::string_view shm = ShmName(name);
    if (shm.empty() || shm.size() > kMaxShmNameBytes || shm.find('/') != std::string_view::npos ||
        shm == "." || shm == "..") {
      return Fail(Errc::invalid_segment_name, detail,
                  "segment name " + Quoted(name) + " must be 1 to " +
                      std::to_string(kMaxShmNameBytes) +
                      " bytes without '/' (other than '.' "
                      "and '..')");
    }
    return {};
  }
  const std::string base = Split(name).second;
  if (base.empty() || base == "." || base == "..") {
    return Fail(Errc::invalid_segment_name, detail,
                "segment path " + Quoted(name) + " does not end in a file name");
  }
  if (name.size() >= PATH_MAX) {
    return Fail(Errc::invalid_segment_name, detail,
                "segment path " + Quoted(name) + " is longer than the system allows");
  }
  return {};
}

std::error_code LocateSegment(std::string_view name, SegmentLocation* out, std::string* detail) {
  if (std::error_code ec = CheckSegmentName(name, detail)) return ec;
  if (!IsFilePath(name)) {
    // As glibc's shm_open: the system's directory, and O_NOFOLLOW on the name.
    out->dir = DirFd(open(std::string(kShmDirectory).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (out->dir.get() < 0) {
      const int err = errno;
      return Fail(err == ENOENT ? make_error_code(Errc::io_error) : SegmentErrorFromErrno(err),
                  detail, "cannot open " + std::string(kShmDirectory) + ": " + strerror(err));
    }
    out->base = std::string(ShmName(name));
    return {};
  }
  auto [dir, base] = Split(name);
  out->base = std::move(base);
  if (dir.empty()) dir = ".";
  const int fd = OpenDirNoSymlinks(dir);
  if (fd >= 0) {
    out->dir = DirFd(fd);
    return {};
  }
  const int err = errno;
  // Without openat2, and to name the link that made it fail, component by component.
  if (err == ENOSYS || err == EPERM || err == E2BIG || err == EINVAL || err == ELOOP) {
    return WalkNoSymlinks(dir, &out->dir, detail);
  }
  return Fail(SegmentErrorFromErrno(err), detail,
              "cannot open directory " + dir + " of " + std::string(name) + ": " + strerror(err));
}

std::error_code DirectoryOpenToOthers(std::string_view name, bool* open, std::string* dir) {
  *open = false;
  const std::string path = SegmentPathOf(name);
  *dir = Split(path).first;
  if (dir->empty()) *dir = ".";
  SegmentLocation where;
  std::string detail;
  if (std::error_code ec = LocateSegment(name, &where, &detail)) return ec;
  struct stat st;
  if (fstat(where.dir.get(), &st) != 0) return SegmentErrorFromErrno(errno);
  // Its owner can always replace the file; so can its group and others
  // when they may write it, unless the sticky bit keeps them to their own.
  const bool foreign_owner = st.st_uid != 0 && st.st_uid != geteuid();
  *open = foreign_owner || ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0);
  return {};
}

}  // namespace shmlease::internal

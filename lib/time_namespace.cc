#include "time_namespace.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <string_view>

#include "shmlease/errors.h"

namespace shmlease::internal {

namespace {

// The target of a /proc/self/ns link ("time:[4026531834]"); empty with
// *err set when it cannot be read.
std::string NamespaceOf(const char* link, int* err) {
  char buf[64];
  const ssize_t n = readlink(link, buf, sizeof buf);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) {
    *err = n < 0 ? errno : EINVAL;
    return {};
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

// The whole of a small /proc file: 0, or the errno that stopped the read.
int ReadSmallFile(const char* path, std::string* out) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out->clear();
  char buf[256];
  int err = 0;
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    out->append(buf, static_cast<std::size_t>(n));
    if (out->size() > 4096) {  // The kernel writes two short lines.
      err = EFBIG;
      break;
    }
  }
  close(fd);
  return err;
}

std::error_code Unknown(std::string* detail, std::string why) {
  if (detail) *detail = std::move(why);
  return Errc::clock_offset_unknown;
}

// Skips blanks; false at the end of the line.
bool SkipBlanks(std::string_view line, std::size_t* at) {
  while (*at < line.size() && (line[*at] == ' ' || line[*at] == '\t')) ++*at;
  return *at < line.size();
}

bool ParseField(std::string_view line, std::size_t* at, std::int64_t* value) {
  if (!SkipBlanks(line, at)) return false;
  const char* begin = line.data() + *at;
  const auto [end, ec] = std::from_chars(begin, line.data() + line.size(), *value);
  if (ec != std::errc() || end == begin) return false;
  *at += static_cast<std::size_t>(end - begin);
  return true;
}

}  // namespace

bool ParseMonotonicOffset(const std::string& text, std::int64_t* offset_ns) {
  // Lines "<clock> <seconds> <nanoseconds>": the clock by name since 5.6
  // ("monotonic", "boottime"), the seconds signed, the nanoseconds in
  // [0, 1e9) (the kernel normalises a negative offset so).
  std::string_view rest(text);
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    std::size_t at = 0;
    if (!SkipBlanks(line, &at)) continue;
    const std::size_t name_end = line.find_first_of(" \t", at);
    if (name_end == std::string_view::npos) return false;
    const std::string_view name = line.substr(at, name_end - at);
    // Kernels that print the clock's number: CLOCK_MONOTONIC is 1.
    if (name != "monotonic" && name != "1") continue;
    at = name_end;
    std::int64_t sec = 0, nsec = 0;
    if (!ParseField(line, &at, &sec) || !ParseField(line, &at, &nsec)) return false;
    if (SkipBlanks(line, &at)) return false;  // Trailing text: not the format we know.
    if (nsec < 0 || nsec >= 1'000'000'000) return false;
    std::int64_t ns;
    if (__builtin_mul_overflow(sec, std::int64_t{1'000'000'000}, &ns) ||
        __builtin_add_overflow(ns, nsec, &ns)) {
      return false;
    }
    *offset_ns = ns;
    return true;
  }
  return false;
}

std::error_code ReadHostClockOffset(std::int64_t* host_minus_own_ns, std::string* detail) {
  int err = 0;
  const std::string own = NamespaceOf("/proc/self/ns/time", &err);
  if (own.empty()) {
    // No link while /proc/self/ns is there: a kernel built without time
    // namespaces, where every clock is the host's.
    if (err == ENOENT && access("/proc/self/ns", F_OK) == 0) {
      *host_minus_own_ns = 0;
      return {};
    }
    return Unknown(detail, std::string("cannot read /proc/self/ns/time (") + std::strerror(err) +
                               "): is /proc mounted?");
  }
  // /proc/PID/timens_offsets shows the namespace the process's children
  // will be in. That is its own, except between unshare(CLONE_NEWTIME) and
  // an exec: then its own offset is nowhere to be read.
  const std::string children = NamespaceOf("/proc/self/ns/time_for_children", &err);
  if (children != own) {
    return Unknown(detail, children.empty()
                               ? std::string("cannot read /proc/self/ns/time_for_children (") +
                                     std::strerror(err) + ")"
                               : "this process has unshared a time namespace (" + children +
                                     ") it is not in itself (it is in " + own +
                                     "), so its own clock offset cannot be read");
  }
  std::string text;
  if (const int read_err = ReadSmallFile("/proc/self/timens_offsets", &text); read_err != 0) {
    return Unknown(detail, std::string("cannot read /proc/self/timens_offsets (") +
                               std::strerror(read_err) + ")");
  }
  std::int64_t offset = 0;
  if (!ParseMonotonicOffset(text, &offset) || offset == std::numeric_limits<std::int64_t>::min()) {
    return Unknown(detail, "no monotonic clock offset in /proc/self/timens_offsets");
  }
  // Read again: a thread unsharing meanwhile would have made the file
  // describe another namespace than the one the links named.
  if (NamespaceOf("/proc/self/ns/time", &err) != own ||
      NamespaceOf("/proc/self/ns/time_for_children", &err) != own) {
    return Unknown(detail, "this process's time namespace changed while its offset was read");
  }
  *host_minus_own_ns = -offset;
  return {};
}

}  // namespace shmlease::internal

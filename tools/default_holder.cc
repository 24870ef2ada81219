#include "default_holder.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>

namespace shmlease::cli {

namespace {

// FNV-1a: not for secrecy (the inputs are no secret), only to spread them.
class Fnv1a {
 public:
  void Add(std::string_view bytes) {
    for (const char c : bytes) {
      hash_ ^= static_cast<unsigned char>(c);
      hash_ *= 0x100000001b3ULL;
    }
    // A separator, so that ("ab", "c") and ("a", "bc") differ.
    hash_ ^= 0xff;
    hash_ *= 0x100000001b3ULL;
  }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return std::nullopt;
  return text;
}

// Field 22 of /proc/self/stat: when this process started, in clock ticks
// since boot. The command name (field 2) may hold spaces and parentheses, so
// fields are counted from the last ')'.
std::optional<std::string> StartTime() {
  const std::optional<std::string> stat = ReadFile("/proc/self/stat");
  if (!stat) return std::nullopt;
  const std::size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::size_t at = paren + 1;
  // Past ')' comes field 3; field 22 is the 20th from there.
  for (int field = 3; field <= 22; ++field) {
    while (at < stat->size() && (*stat)[at] == ' ') ++at;
    const std::size_t end = stat->find(' ', at);
    if (field == 22) {
      std::string value = stat->substr(at, end == std::string::npos ? end : end - at);
      if (value.empty()) return std::nullopt;
      return value;
    }
    if (end == std::string::npos) return std::nullopt;
    at = end;
  }
  return std::nullopt;
}

std::optional<std::string> PidNamespace() {
  struct stat st {};
  if (stat("/proc/self/ns/pid", &st) != 0) return std::nullopt;
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

// Stands in for an identity that could not be read.
std::string RandomBytes() {
  char bytes[16] = {};
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  // Without getrandom, the address of this frame and the clock still differ
  // between incarnations more often than not.
  const auto fallback =
      reinterpret_cast<std::uintptr_t>(&bytes) ^
      static_cast<std::uintptr_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return std::string(bytes, got) + std::to_string(fallback);
}

}  // namespace

std::string DefaultRunHolder() {
  const std::string pid = std::to_string(getpid());
  Fnv1a hash;
  for (std::optional<std::string> part :
       {ReadFile("/proc/sys/kernel/random/boot_id"), PidNamespace(), StartTime()}) {
    hash.Add(part ? *part : RandomBytes());
  }
  hash.Add(pid);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash.value()));
  return "run-" + pid + "-" + hex;
}

}  // namespace shmlease::cli

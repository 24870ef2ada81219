// A hostile co-writer for the sweep test: maps a segment file read-write, as
// any member of its group may, and while other processes use the table
// writes over every word of the header (journal and lock word included),
// over the writer seats, and random bytes over the slots. It never changes
// the file's size (that is the truncation tests' business).
//
//   segment_scribbler PATH SEED PASSES TICK_FD
//
// TICK_FD is a pipe on which the victims write a byte after each operation:
// the scribbler reads one before each few blows, so that the blows are
// spread over the victims' work instead of landing between two of its steps
// (-1: no pacing).
// Prints "mapped" once it has the segment, "swept N" (words written) at the
// end; exit 1 when it cannot open or map the file.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "../../lib/layout.h"

namespace {

namespace in = shmlease::internal;

// Racing writes, as another process would make them: atomic, so the
// scribbler itself has no data race in C++ terms; the victims see the same
// bytes either way.
void Put32(unsigned char* base, std::size_t at, std::uint32_t value) {
  __atomic_store_n(reinterpret_cast<std::uint32_t*>(base + at), value, __ATOMIC_RELAXED);
}
std::uint32_t Get32(const unsigned char* base, std::size_t at) {
  return __atomic_load_n(reinterpret_cast<const std::uint32_t*>(base + at), __ATOMIC_RELAXED);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  const int fd = open(argv[1], O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < in::kHeaderBytes) {
    std::perror("segment_scribbler: open");
    return 1;
  }
  const std::size_t size = static_cast<std::size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    std::perror("segment_scribbler: mmap");
    return 1;
  }
  auto* base = static_cast<unsigned char*>(map);
  std::printf("mapped\n");
  std::fflush(stdout);

  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
  const long passes = std::strtol(argv[3], nullptr, 10);
  int tick_fd = static_cast<int>(std::strtol(argv[4], nullptr, 10));
  // Waits for a victim to finish an operation after this call: the ticks
  // already waiting are read first, then one more. Once the victims are all
  // gone (end of file) the sweep goes on unpaced.
  auto pace = [&tick_fd] {
    if (tick_fd < 0) return;
    char buf[4096];
    pollfd pfd{tick_fd, POLLIN, 0};
    while (poll(&pfd, 1, 0) == 1) {
      if (read(tick_fd, buf, sizeof buf) <= 0) {
        tick_fd = -1;
        return;
      }
    }
    if (read(tick_fd, buf, 1) <= 0) tick_fd = -1;
  };
  std::uint64_t written = 0;
  for (long pass = 0; pass < passes; ++pass) {
    // Every word of the header's fields, with a different kind of value on
    // each pass. A blow stays while the next kWindow words are hit, then is
    // put back half of the time, so that the table keeps working between
    // blows and the victims go through many damaged states, not one.
    constexpr std::size_t kWindow = 32;
    std::uint32_t saved[kWindow] = {};
    for (std::size_t at = 0, n = 0; at < in::kHeaderFieldBytes; at += 4, ++n) {
      const std::uint32_t old = Get32(base, at);
      std::uint32_t value = 0;
      switch (pass % 6) {
        case 0:
          value = 0;
          break;
        case 1:
          value = ~0u;
          break;
        case 2:
          value = static_cast<std::uint32_t>(rng());
          break;
        case 3:
          value = old + 1;
          break;
        case 4:
          value = old ^ (1u << (rng() % 32));
          break;
        case 5:
          value = old | 0x80000000u;
          break;
      }
      if (n >= kWindow && rng() % 2 == 0) Put32(base, at - 4 * kWindow, saved[n % kWindow]);
      saved[n % kWindow] = old;
      Put32(base, at, value);
      ++written;
      if (n % 4 == 0) pace();
    }
    // The seats: generations, pids and namespaces that name nobody or the wrong one.
    for (int i = 0; i < 512; ++i) {
      const std::size_t at =
          in::kHeaderFieldBytes + 4 * (rng() % ((in::kHeaderBytes - in::kHeaderFieldBytes) / 4));
      Put32(base, at, static_cast<std::uint32_t>(rng()));
      ++written;
    }
    // Random bytes over the slots, hot and cold.
    if (size > in::kHeaderBytes) {
      for (int i = 0; i < 4096; ++i) {
        const std::size_t at = in::kHeaderBytes + 4 * (rng() % ((size - in::kHeaderBytes) / 4));
        Put32(base, at, static_cast<std::uint32_t>(rng()));
        ++written;
        if (i % 64 == 0) pace();
      }
    }
  }
  std::printf("swept %llu\n", static_cast<unsigned long long>(written));
  return 0;
}

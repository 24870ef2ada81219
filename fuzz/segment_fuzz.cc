// libFuzzer target: arbitrary bytes as a file-backed lease segment. Opening
// it (read-only and read-write) and every read the library offers, plus a
// write, must never crash, hang or touch memory out of bounds: a segment is
// data from another process, possibly hostile. Errors are fine; they are the
// expected answer to most inputs.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "shmlease/shmlease.h"

namespace {

using namespace std::chrono_literals;

// One private directory per fuzzing process, removed when it exits.
const std::string& SegmentPath() {
  static const std::string path = [] {
    const char* base = getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/shmlease-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) abort();
    static std::string dir = templ;
    atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return templ + "/segment";
  }();
  return path;
}

bool WriteAll(const std::string& path, const std::uint8_t* data, std::size_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  while (size > 0) {
    ssize_t w = write(fd, data, size);
    if (w <= 0) break;
    data += w;
    size -= static_cast<std::size_t>(w);
  }
  close(fd);
  return size == 0;
}

void Exercise(const std::shared_ptr<shmlease::ShmStore>& store_ptr, bool writable) {
  shmlease::ShmStore& store = *store_ptr;
  std::vector<shmlease::LeaseEntry> entries;
  (void)store.Snapshot(&entries);
  shmlease::LeaseMap leases;
  (void)store.Leases(&leases);
  const shmlease::Key key{"singular-controller", "fuzz", "lease"};
  const shmlease::Key keys[] = {key};
  (void)store.Leases(&leases, keys);
  (void)store.LeaseGroup("singular-controller", "fuzz", &leases);
  shmlease::PinMap pins;
  (void)store.Pinned(&pins);
  shmlease::ShmStats stats;
  (void)store.GetStats(&stats);
  shmlease::TokenCache cache;
  (void)store.CheckLease(key, "holder", &cache);
  (void)store.CheckLease(key, "holder", &cache);
  // A Token takes the inline path (shmlease/detail/hot_line.h) once armed.
  const shmlease::Token token(store_ptr, key, "holder");
  (void)token.Check();
  (void)token.Check();
  // Every key the snapshot named, looked up again by key.
  for (const auto& e : entries) {
    const shmlease::Key k[] = {e.key};
    (void)store.Leases(&leases, k);
    if (e.held) (void)store.CheckLease(e.key, e.info.holder, &cache);
  }
  if (writable) {
    (void)store.ClaimOrExtendLease(key, {"holder", 1s});
    (void)store.PinLease(key, "entity");
    (void)store.UnpinLease(key, "entity");
    (void)store.RevokeLease(key, "holder");
  }
  std::vector<std::string> problems;
  (void)store.Fsck(&problems);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = SegmentPath();
  if (!WriteAll(path, data, size)) return 0;
  for (bool read_only : {true, false}) {
    shmlease::ShmStoreOptions options;
    options.name = path;
    options.read_only = read_only;
    options.capacity = 2;  // If it gets created (an empty input, or one marked unfinished).
    options.trust_any_owner = true;
    // A planted lock word may name a live-looking owner: give up quickly rather than slow the
    // fuzzer.
    options.lock_timeout = 5ms;
    options.init_timeout = 50ms;
    std::error_code ec;
    std::string detail;
    auto store = read_only ? shmlease::ShmStore::Open(options, ec, &detail)
                           : shmlease::ShmStore::OpenOrCreate(options, ec, &detail);
    if (store) Exercise(store, !read_only);
  }
  unlink(path.c_str());
  return 0;
}

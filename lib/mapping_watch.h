// The SIGBUS guard's side in the library: each mapped segment registers its
// address range, so that a fault inside it (the file was shrunk) is turned
// into Errc::segment_truncated (shmlease/truncation_guard.h).
#ifndef SHMLEASE_LIB_MAPPING_WATCH_H_
#define SHMLEASE_LIB_MAPPING_WATCH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmlease::internal {

// One watched mapping. Registration is lock-free and async-signal-safe
// against the handler, which only reads the registry; watching whether or
// not the guard is installed costs nothing until a SIGBUS comes.
class MappingWatch {
 public:
  MappingWatch() = default;
  ~MappingWatch() { Stop(); }
  MappingWatch(const MappingWatch&) = delete;
  MappingWatch& operator=(const MappingWatch&) = delete;

  // Watches [base, base + length), mapped writable or not (the zero pages
  // that replace it get the same protection). Replaces an earlier range.
  // When the registry is full the mapping stays unwatched.
  void Watch(void* base, std::size_t length, bool writable) noexcept;
  // A fault inside the range replaced it with zero pages. Inline: every
  // store operation asks.
  bool truncated() const noexcept {
    return truncated_ != nullptr && truncated_->load(std::memory_order_acquire) != 0;
  }
  // Unregisters; called before the mapping goes, so that a later mapping at
  // the same address is not taken for this one.
  void Stop() noexcept;

 private:
  int slot_ = -1;
  // The registry entry's flag, set by the handler; null while unwatched.
  const std::atomic<std::uint32_t>* truncated_ = nullptr;
};

// GuardAgainstTruncation() has installed its handler in this process.
bool TruncationGuardInstalled() noexcept;

}  // namespace shmlease::internal

#endif  // SHMLEASE_LIB_MAPPING_WATCH_H_

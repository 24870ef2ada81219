// ShmStore keeps a lease table in a shared-memory segment. Any process that
// maps the same segment sees and changes the same leases, with no daemon.
//
// The segment is a POSIX shared-memory object (`/dev/shm/<name>`) or, when
// the name contains a '/', a file. It holds a header and a fixed number of
// slots; a lease that is expired and unpinned is free and its slot reusable.
// Writers serialise on one lock in the segment, whose holder's liveness the
// kernel keeps: a process that dies holding it is recovered from by the next
// writer, and one that is stopped makes the others time out. Readers
// (Token::Check, Leases, snapshots) never take that lock. Nothing another
// process writes into the segment can make this one crash or hang
// (docs/design.md, "Trust model").
//
// A ShmStore is safe for concurrent use by any number of threads and processes.
#ifndef SHMLEASE_SHM_STORE_H_
#define SHMLEASE_SHM_STORE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "shmlease/lease.h"
#include "shmlease/store.h"

namespace shmlease {

struct ShmStoreOptions {
  // A POSIX shared-memory name ("shmlease" means /dev/shm/shmlease; a leading
  // '/' is optional), or a file path when it contains a '/' past its first byte.
  std::string name = "shmlease";
  // Used only when this call creates the segment.
  std::size_t capacity = 4096;  // Leases (held or pinned) the table can hold at once.
  std::uint32_t mode = 0600;    // Permission bits, applied exactly (the umask is ignored).
  bool fake_clock = false;      // Time is a counter in the segment, moved by AdvanceFakeClock.
  // Writers that cannot take the table's lock within this time fail with
  // Errc::timeout (a stopped process may hold it).
  std::chrono::nanoseconds lock_timeout = std::chrono::seconds(2);
  // How long to wait for another process that is initialising the segment.
  std::chrono::nanoseconds init_timeout = std::chrono::seconds(2);
  // A waiter for a lease's expiry (WaitUntilFree, Claimer::WaitUntilExpired)
  // wakes up to this long before it and spins on the clock until it, so that
  // it returns at the expiry rather than whenever the scheduler gets round to
  // a sleeping thread: on a VM that took 60 µs typically and 1-2 ms at times.
  // At most a quarter of the time left when the waiter goes to sleep (a
  // waiter sleeps again after each extension it wakes to), so the CPU spent
  // stays a small share of the wait. Zero: sleep until the expiry itself.
  std::chrono::nanoseconds expiry_spin = std::chrono::milliseconds(1);
  // A segment owned by another user is refused (Errc::foreign_owner) unless
  // its owner's uid is listed here or trust_any_owner is set: /dev/shm is
  // world-writable, so anyone could otherwise pre-create the name.
  std::vector<std::uint32_t> trusted_uids;
  bool trust_any_owner = false;
  // Map the segment read-only: every writing operation fails with
  // Errc::permission_denied. Enough for checks, snapshots and fsck.
  bool read_only = false;
};

// Who holds the writers' lock of a segment, as ShmStore::GetStats saw it. A
// lock held for long by a process that is alive is a stuck (stopped or hung)
// writer: every other writer times out. One whose owner is gone is taken
// over by the next writer (or `fsck --repair`), which repairs what it left.
struct WritersLockInfo {
  enum class Owner {
    alive,    // The kernel still keeps the owner's liveness lock on the segment file.
    gone,     // The owner's process is gone: the next writer takes over.
    unknown,  // The kernel could not be asked.
  };
  bool locked = false;
  Owner owner = Owner::unknown;      // Meaningful when locked.
  bool owner_is_this_store = false;  // This ShmStore holds it (one of its threads is writing).
  // The owner's pid as it recorded it, in its own PID namespace; 0 when the
  // record is not the owner's (its seat has been taken again since).
  std::uint32_t pid = 0;
  // The inode of that PID namespace (as `stat -L /proc/PID/ns/pid` shows
  // it): a pid is only meaningful in the namespace it was recorded in.
  std::uint64_t pid_namespace = 0;
  // How long the lock has been held, from its owner's first clock read
  // under it; negative when that is not known.
  std::chrono::nanoseconds held_for{-1};
};

// Counters and facts about a segment (ShmStore::GetStats).
struct ShmStats {
  std::string path;             // e.g. "/dev/shm/shmlease" or the file path.
  std::uint32_t owner_uid = 0;  // The segment's owner.
  std::uint32_t mode = 0;       // Its permission bits.
  std::uint32_t layout_version = 0;
  std::uint64_t capacity = 0;    // Leases it can hold.
  std::uint64_t slot_count = 0;  // Hash slots (> capacity, a power of two).
  std::uint64_t bytes = 0;       // Size of the mapping.
  std::uint64_t used = 0;        // Leases held or pinned now.
  std::uint64_t claims = 0;      // Successful claims of a free lease.
  std::uint64_t extensions = 0;  // Successful extensions.
  std::uint64_t revocations = 0;
  std::uint64_t recoveries = 0;  // Times a writer repaired after a process died holding the lock.
  std::uint64_t lock_timeouts = 0;  // Writes that gave up waiting for the writers' lock.
  std::uint64_t epoch = 0;          // The last fencing epoch handed out.
  WritersLockInfo lock;
  bool fake_clock = false;
  // The directory holding the segment (`directory`) belongs to another user
  // (not root), or its group or others can write it and it lacks the sticky
  // bit: they can rename the segment away or put another file in its place.
  bool directory_open_to_others = false;
  std::string directory;
};

// One lease in the table as a dump shows it: held, pinned, or both.
struct LeaseEntry {
  Key key;
  bool held = false;                   // A holder is recorded (unexpired, or expired but pinned).
  Info info;                           // Holder, expiry and epoch; meaningful when held.
  std::vector<std::string> pinned_by;  // Sorted.
};

class ShmStore final : public Store {
 public:
  // Opens the segment, creating and initialising it when missing. Exactly one
  // of several racing processes initialises; a creator that dies half-way is
  // taken over from. On failure returns nullptr and sets `ec` (segment_not_found
  // cannot happen here; foreign_owner, corrupt_segment, incompatible_segment,
  // permission_denied, segment_busy, io_error can).
  // When `detail` is given it receives a sentence naming the segment and the cause.
  static std::shared_ptr<ShmStore> OpenOrCreate(const ShmStoreOptions& options, std::error_code& ec,
                                                std::string* detail = nullptr);
  // Opens an existing segment; Errc::segment_not_found when there is none.
  static std::shared_ptr<ShmStore> Open(const ShmStoreOptions& options, std::error_code& ec,
                                        std::string* detail = nullptr);
  // Removes the segment's name. Processes that have it mapped keep reading
  // it, but their writes fail with Errc::segment_replaced from then on: the
  // segment is first marked retired (unless this user cannot write it, or
  // the file has other names). A symbolic link at the name is removed
  // itself, never followed.
  static std::error_code Destroy(std::string_view name);
  // Where a segment of this name lives, e.g. "/dev/shm/shmlease".
  static std::string PathOf(std::string_view name);

  ~ShmStore() override;
  ShmStore(const ShmStore&) = delete;
  ShmStore& operator=(const ShmStore&) = delete;

  // Store.
  std::error_code ClaimLease(const Key& key, const Request& req,
                             std::stop_token stop = {}) override;
  std::error_code ExtendLease(const Key& key, const Request& req,
                              std::stop_token stop = {}) override;
  std::error_code RevokeLease(const Key& key, std::string_view holder,
                              std::stop_token stop = {}) override;
  std::error_code Revoke(const KeyView& key, std::string_view holder,
                         std::stop_token stop = {}) override;
  std::error_code Leases(LeaseMap* out, std::span<const Key> keys = {}) const override;
  std::error_code LeaseGroup(std::string_view ns, std::string_view model_uuid,
                             LeaseMap* out) const override;
  std::error_code PinLease(const Key& key, std::string_view entity,
                           std::stop_token stop = {}) override;
  std::error_code UnpinLease(const Key& key, std::string_view entity,
                             std::stop_token stop = {}) override;
  std::error_code LeaseHolders(std::string_view ns, std::string_view model_uuid,
                               std::map<std::string, std::string>* out) const override;
  std::error_code Pinned(PinMap* out) const override;
  std::error_code ClaimOrExtendLease(const Key& key, const Request& req, Info* current = nullptr,
                                     std::stop_token stop = {}) override;
  std::error_code ClaimOrExtend(const KeyView& key, std::string_view holder,
                                std::chrono::nanoseconds duration, Info* current = nullptr,
                                std::stop_token stop = {}) override;
  std::error_code ClaimOrExtendCached(const KeyView& key, std::string_view holder,
                                      std::chrono::nanoseconds duration, TokenCache* cache,
                                      std::stop_token stop = {}) override;
  std::error_code CheckLease(const Key& key, std::string_view holder,
                             TokenCache* cache) const override;
  std::error_code WaitUntilFree(const Key& key, std::stop_token stop,
                                const std::function<void()>& started = {}) override;

  // Blocks while the holding of fencing epoch `epoch` (Info::epoch, as a
  // claim made it) holds the lease, and returns success as soon as it does
  // not: it was revoked, it ran out, or the lease was claimed again since
  // (even by the same holder, which makes a new epoch). Extending the
  // holding does not end the wait. A holder that must stop work the moment
  // it is deposed waits here in a thread of its own, instead of learning of
  // it at its next extension. Errc::wait_cancelled once `stop` is requested;
  // `started` is called once the wait is in place, as for WaitUntilFree. An
  // epoch that never held the lease (0, say) returns at once. While a writer
  // stopped in the middle of changing this lease's slot keeps it unreadable,
  // the wait cannot see the holding end and goes on, even past the expiry: a
  // holder that must stop by then keeps its own deadline too, as `shmlease
  // run` does.
  std::error_code WaitUntilLost(const Key& key, std::uint64_t epoch, std::stop_token stop,
                                const std::function<void()>& started = {});

  // Every lease that is held or pinned, sorted by key. Lock-free.
  std::error_code Snapshot(std::vector<LeaseEntry>* out) const;
  std::error_code GetStats(ShmStats* out) const;
  // Checks every invariant of the table without taking the writers' lock.
  // Appends one line per problem to *problems; returns Errc::corrupt_segment
  // when there is any.
  std::error_code Fsck(std::vector<std::string>* problems) const;

  // Errc::segment_replaced, with a sentence in *detail, once the segment this
  // store mapped is no longer the one its name leads to: it was destroyed,
  // its name removed, or another file put in its place. Others opening the
  // name then see other leases, so a holder should stop relying on its
  // holding. A relative file name is looked up from the current directory
  // of the moment, as when the store was opened. Costs a few system calls
  // (the hot paths make none): call it at each extension, say, not at each
  // check.
  std::error_code CheckStillNamed(std::string* detail = nullptr) const;

  // The store's notion of now: this process's CLOCK_MONOTONIC, or the
  // segment's fake clock. Opening a segment on a real clock fails with
  // Errc::clock_offset_unknown when the process's offset from the host's
  // clock cannot be told (see errors.h).
  Clock::time_point Now() const;
  // Moves a fake clock forward (Errc::invalid for a real clock or d <= 0).
  std::error_code AdvanceFakeClock(std::chrono::nanoseconds d);

  struct Impl;

 private:
  explicit ShmStore(std::unique_ptr<Impl> impl);
  // ClaimOrExtend; on success *held_at (if not null) records the holding.
  // `extension_likely`: first try extending in place, which skips the name
  // checks but costs a lock round of its own when it is not an extension.
  std::error_code ClaimOrExtendByName(const KeyView& key, std::string_view holder,
                                      std::chrono::nanoseconds duration, Info* current,
                                      const std::stop_token& stop, TokenCache* held_at,
                                      bool extension_likely = true);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmlease

#endif  // SHMLEASE_SHM_STORE_H_

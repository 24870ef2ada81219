// Test-only crash points. In a library built with SHMLEASE_FAULT_HOOKS, a
// process whose environment says SHMLEASE_CRASH_AT=<point> dies (SIGKILL, or
// _exit when SHMLEASE_CRASH_HOW=exit) the SHMLEASE_CRASH_SKIP+1-th time it
// reaches that point; with SHMLEASE_CRASH_HOW=stop it SIGSTOPs itself there
// instead and resumes on SIGCONT. Release builds compile the points away entirely.
//
// With SHMLEASE_FAULT_LOG=<file>, every point a process reaches (whether or
// not it is the target) is appended to that file as one line, in one write():
// tests use it to prove that the point they crash at was really reached, and
// to count how many processes passed a point (e.g. initialised a segment).
#ifndef SHMLEASE_LIB_FAULT_H_
#define SHMLEASE_LIB_FAULT_H_

namespace shmlease::internal {

// Every crash point, in one place: tests iterate this list, and a fault-hook
// build aborts at a point whose name is missing here, so the two cannot drift.
inline constexpr const char* kFaultPoints[] = {
    // Segment::Initialise (the creator holds the segment's flock; nobody can lock yet).
    "init-begin",         // Entered: counts initialisations.
    "init-marked",        // The creating magic is written; the file is still 8 bytes.
    "init-sized",         // After ftruncate and posix_fallocate.
    "init-header",        // After the header fields, before the rest of the header.
    "init-before-magic",  // Everything but the magic is written.
    // Opening a segment left by an earlier boot: it saw the old boot id and let
    // go of the flock, to take it exclusively (nothing held) ...
    "stale-boot-seen",
    // ... then, holding it exclusively, before it re-made the lock and cleared the holders.
    "stale-boot-before-reset",
    // Writers, with the writers' lock held.
    "lock-acquired",         // Locked (and recovered, if needed); nothing written yet.
    "recovered",             // Taken over from a dead owner, its journal replayed.
    "journal-partial",       // Inside the journal write: fields written, names not.
    "journal-written",       // The whole record written, not committed.
    "journal-committed",     // Between commit and apply.
    "seqlock-opened",        // The slot's seqlock is odd, nothing copied yet.
    "mid-slot-copy",         // Half of the slot's names copied.
    "before-seqlock-close",  // The slot is written, its seqlock still odd.
    "bumped",                // Seqlock closed, futex word bumped and its mark cleared, no wake yet.
    "applied",               // Applied, the journal still marked committed.
    "extended",              // An extension's single store is done.
    "sweep-freed",           // A sweep has freed one expired slot (of possibly several).
};

}  // namespace shmlease::internal

#if defined(SHMLEASE_FAULT_HOOKS)
namespace shmlease::internal {
void FaultPoint(const char* name) noexcept;
// Where this boot's id is read from: SHMLEASE_BOOT_ID_PATH when set (tests
// make the id unreadable or malformed with it), else /proc.
const char* BootIdPath() noexcept;
}  // namespace shmlease::internal
#define SHMLEASE_FAULT_POINT(name) ::shmlease::internal::FaultPoint(name)
#else
namespace shmlease::internal {
inline const char* BootIdPath() noexcept { return "/proc/sys/kernel/random/boot_id"; }
}  // namespace shmlease::internal
#define SHMLEASE_FAULT_POINT(name) \
  do {                             \
  } while (false)
#endif

#endif  // SHMLEASE_LIB_FAULT_H_

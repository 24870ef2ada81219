// create, destroy, stat, fsck: the segment as a whole.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli_options.h"
#include "command.h"
#include "duration.h"
#include "json_text.h"
#include "lease_text.h"
#include "report.h"
#include "shmlease/shmlease.h"

namespace shmlease::cli {

namespace {

std::string Octal(std::uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::string UserName(std::uint32_t uid) {
  const passwd* pw = getpwuid(uid);
  return pw != nullptr ? pw->pw_name : "";
}

// The inode of this process's PID namespace: a recorded pid means something
// here only when it was recorded in the same one.
std::uint64_t OwnPidNamespace() {
  struct stat st;
  return stat("/proc/self/ns/pid", &st) == 0 ? st.st_ino : 0;
}

const char* OwnerState(WritersLockInfo::Owner owner) {
  switch (owner) {
    case WritersLockInfo::Owner::alive:
      return "alive";
    case WritersLockInfo::Owner::gone:
      return "gone";
    case WritersLockInfo::Owner::unknown:
      break;
  }
  return "unknown";
}

// One line on who holds the writers' lock, for stat and fsck.
std::string DescribeLock(const WritersLockInfo& lock) {
  if (!lock.locked) return "free";
  std::string text = "held by pid " + std::to_string(lock.pid);
  if (lock.pid == 0 || lock.pid_namespace == 0) {
    text = "held by a process that did not record itself";
  } else if (lock.pid_namespace == OwnPidNamespace()) {
    text += " (this PID namespace)";
  } else {
    text += " (PID namespace " + std::to_string(lock.pid_namespace) + ", not this one)";
  }
  switch (lock.owner) {
    case WritersLockInfo::Owner::alive:
      text += ", alive";
      break;
    case WritersLockInfo::Owner::gone:
      text += ", gone: the next writer takes the lock over (or fsck --repair)";
      break;
    case WritersLockInfo::Owner::unknown:
      text += ", liveness unknown";
      break;
  }
  if (lock.held_for.count() >= 0) text += ", for " + FormatDuration(lock.held_for);
  return text;
}

nlohmann::json LockJson(const WritersLockInfo& lock) {
  nlohmann::json out = {{"locked", lock.locked}};
  if (!lock.locked) return out;
  out["owner"] = OwnerState(lock.owner);
  out["pid"] = lock.pid;
  out["pid_namespace"] = lock.pid_namespace;
  out["pid_namespace_is_this_one"] =
      lock.pid_namespace != 0 && lock.pid_namespace == OwnPidNamespace();
  out["held_for_seconds"] =
      lock.held_for.count() >= 0
          ? nlohmann::json(std::chrono::duration<double>(lock.held_for).count())
          : nlohmann::json(nullptr);
  return out;
}

struct CreateArgs {
  ShmStoreOptions creation;
  CLI::Option* capacity = nullptr;
  CLI::Option* mode = nullptr;
};

int RunCreate(const GlobalOptions& options, const CreateArgs& args) {
  // Look first, read-only, so that an existing segment is reported as such
  // (and never needs write access just to be confirmed).
  OpenedSegment existing = OpenSegment(options, Access::kRead);
  if (existing.store) {
    ShmStats stats;
    if (std::error_code ec = existing.store->GetStats(&stats)) {
      return Report("segment '" + options.segment + "'", ec);
    }
    // An existing segment keeps its shape; say so when it differs from what was asked.
    if (args.capacity->count() > 0 && stats.capacity != args.creation.capacity) {
      Report(stats.path + " exists with capacity " + std::to_string(stats.capacity) + ", not " +
             std::to_string(args.creation.capacity) + "; left as it is");
    }
    if (args.mode->count() > 0 && stats.mode != args.creation.mode) {
      Report(stats.path + " exists with mode " + Octal(stats.mode) + ", not " +
             Octal(args.creation.mode) + "; left as it is");
    }
    if (options.verbose) std::printf("%s exists\n", Printable(stats.path).c_str());
    return kExitOk;
  }
  if (existing.ec != Errc::segment_not_found) return ReportOpenFailure(options, existing);
  OpenedSegment created = OpenSegment(options, Access::kCreate, &args.creation);
  if (!created.store) return ReportOpenFailure(options, created);
  ShmStats stats;
  if (std::error_code ec = created.store->GetStats(&stats)) {
    return Report("segment '" + options.segment + "'", ec);
  }
  // An empty file made into a segment keeps the mode it was prepared with.
  if (args.mode->count() > 0 && stats.mode != args.creation.mode) {
    Report(stats.path + " existed as an empty file with mode " + Octal(stats.mode) + ", not " +
           Octal(args.creation.mode) + "; made into a segment with its mode left as it is");
  }
  if (options.verbose) {
    std::printf("created %s: capacity %llu, mode %s\n", Printable(stats.path).c_str(),
                static_cast<unsigned long long>(stats.capacity), Octal(stats.mode).c_str());
  }
  return kExitOk;
}

// The owner of the segment's file when it exists and is not this user, nor
// one the options trust: the library refuses such a segment (Errc::foreign_owner)
// to every other command, and destroy follows the same rule.
std::optional<uid_t> UntrustedOwner(const GlobalOptions& options, const std::string& path) {
  // lstat: what destroy removes is the name itself, a link that another
  // user planted included (the library never follows one).
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || st.st_uid == geteuid()) return std::nullopt;
  const ShmStoreOptions trust = StoreOptions(options);
  if (trust.trust_any_owner || std::find(trust.trusted_uids.begin(), trust.trusted_uids.end(),
                                         st.st_uid) != trust.trusted_uids.end()) {
    return std::nullopt;
  }
  return st.st_uid;
}

// How many of the leases in use destroy names before it counts the rest.
constexpr std::size_t kLeasesNamed = 10;

// Removing a segment whose leases are held or pinned takes them from their
// holders without a word: each goes on believing it holds its lease (it
// keeps its mapping), while a process that opens the name anew gets a fresh
// table and can claim the same lease. So destroy says what it would break,
// and refuses unless forced: kExitOk when nothing is held or pinned.
int RefuseIfInUse(const GlobalOptions& options, const std::string& path, const ShmStore& store) {
  std::vector<LeaseEntry> in_use;
  if (std::error_code ec = store.Snapshot(&in_use)) {
    return Report("cannot read the leases of segment '" + options.segment + "' (" + path + ")", ec);
  }
  if (in_use.empty()) return kExitOk;
  const int code = Report("refusing to remove segment '" + options.segment + "' (" + path +
                          "): " + std::to_string(in_use.size()) +
                          (in_use.size() == 1 ? " lease is" : " leases are") +
                          " held or pinned, and their holders would lose them unannounced; "
                          "pass --force to remove it anyway");
  const Clock::time_point now = store.Now();
  for (std::size_t i = 0; i < in_use.size() && i < kLeasesNamed; ++i) {
    const LeaseEntry& e = in_use[i];
    std::string line = "  " + LeaseName(e.key);
    if (e.held) line += " " + DescribeHolding(e.info, now);
    if (!e.pinned_by.empty()) {
      line += e.held ? ", pinned by" : " pinned by";
      for (std::size_t p = 0; p < e.pinned_by.size(); ++p) {
        line += (p == 0 ? " '" : ", '") + Printable(e.pinned_by[p]) + "'";
      }
    }
    std::fprintf(stderr, "%s\n", Sanitized(line).c_str());
  }
  if (in_use.size() > kLeasesNamed) {
    std::fprintf(stderr, "  and %zu more\n", in_use.size() - kLeasesNamed);
  }
  return code;
}

int RunDestroy(const GlobalOptions& options, bool force) {
  const std::string path = ShmStore::PathOf(options.segment);
  if (!force) {
    if (std::optional<uid_t> owner = UntrustedOwner(options, path)) {
      return ReportSegment(
          "segment '" + options.segment + "'", Errc::foreign_owner,
          path + " is owned by uid " + std::to_string(*owner) +
              ", not by this user; refusing to remove it unless that owner is trusted "
              "(--trust-owner) or --force is given");
    }
  }
  // A file path may name any file: refuse to unlink one that is not a lease
  // segment unless told to. /dev/shm names are always segments of someone's.
  OpenedSegment opened;
  if (!force) {
    opened = OpenSegment(options, Access::kRead);
    if (opened.store) {
      if (int refused = RefuseIfInUse(options, path, *opened.store); refused != kExitOk) {
        return refused;
      }
    }
  }
  if (path == options.segment && !force) {
    if (opened.ec == Errc::corrupt_segment || opened.ec == Errc::incompatible_segment ||
        opened.ec == Errc::not_a_segment || opened.ec == Errc::unsafe_segment_path) {
      ReportOpenFailure(options, opened);
      return Report(path + " is not a usable lease segment; pass --force to remove it anyway",
                    opened.ec);
    }
    // The library reads an empty file as a segment whose creator never got
    // going; to destroy it is a file like any other that holds no segment.
    struct stat st;
    if (opened.ec == Errc::segment_not_found && lstat(path.c_str(), &st) == 0) {
      return Report(path + " is empty, not a lease segment; pass --force to remove it anyway",
                    Errc::corrupt_segment);
    }
  }
  std::error_code ec = ShmStore::Destroy(options.segment);
  if (ec == Errc::segment_not_found && force) return kExitOk;
  if (ec == Errc::invalid_segment_name) return ReportBadName("--segment", options.segment, ec);
  if (ec) return Report("cannot remove segment '" + options.segment + "' (" + path + ")", ec);
  if (options.verbose) std::printf("removed %s\n", Printable(path).c_str());
  return kExitOk;
}

// The warning stat and fsck give when others can replace the segment's file.
void WarnIfDirectoryOpen(const ShmStats& stats) {
  if (!stats.directory_open_to_others) return;
  Report("warning: other users can replace files in " + stats.directory +
         " (it belongs to another user, or others may write it and it has no sticky bit): any of "
         "them can remove or replace " +
         stats.path);
}

int RunStat(const GlobalOptions& options, bool json) {
  OpenedSegment opened = OpenSegment(options, Access::kRead);
  if (!opened.store) return ReportOpenFailure(options, opened);
  ShmStats s;
  if (std::error_code ec = opened.store->GetStats(&s)) {
    return Report("segment '" + options.segment + "'", ec);
  }
  const std::string owner = UserName(s.owner_uid);
  WarnIfDirectoryOpen(s);
  if (json) {
    nlohmann::json out = {
        {"segment", options.segment},
        {"path", s.path},
        {"owner_uid", s.owner_uid},
        {"owner", owner},
        {"mode", Octal(s.mode)},
        {"layout_version", s.layout_version},
        {"capacity", s.capacity},
        {"used", s.used},
        {"slot_count", s.slot_count},
        {"bytes", s.bytes},
        {"fake_clock", s.fake_clock},
        {"claims", s.claims},
        {"extensions", s.extensions},
        {"revocations", s.revocations},
        {"recoveries", s.recoveries},
        {"lock_timeouts", s.lock_timeouts},
        {"epoch", s.epoch},
        {"writers_lock", LockJson(s.lock)},
        {"directory_open_to_others", s.directory_open_to_others},
    };
    std::cout << JsonText(out, 2) << '\n';
    return kExitOk;
  }
  const std::pair<const char*, std::string> rows[] = {
      {"segment", Printable(options.segment)},
      {"path", Printable(s.path)},
      {"owner", std::to_string(s.owner_uid) + (owner.empty() ? "" : " (" + owner + ")")},
      {"mode", Octal(s.mode)},
      {"layout version", std::to_string(s.layout_version)},
      {"capacity", std::to_string(s.capacity)},
      {"used", std::to_string(s.used)},
      {"slots", std::to_string(s.slot_count)},
      {"bytes", std::to_string(s.bytes)},
      {"clock", s.fake_clock ? "fake (tests)" : "monotonic"},
      {"claims", std::to_string(s.claims)},
      {"extensions", std::to_string(s.extensions)},
      {"revocations", std::to_string(s.revocations)},
      {"recoveries", std::to_string(s.recoveries)},
      {"lock timeouts", std::to_string(s.lock_timeouts)},
      {"last epoch", std::to_string(s.epoch)},
      {"writers' lock", DescribeLock(s.lock)},
  };
  for (const auto& [label, value] : rows) {
    std::printf("%-16s%s\n", (std::string(label) + ":").c_str(), value.c_str());
  }
  return kExitOk;
}

int RunFsck(const GlobalOptions& options, bool repair) {
  // Read-only by default: fsck must be safe to point at a segment in use.
  // --repair maps it writable so the library first repairs what a writer
  // that died holding the lock left behind.
  OpenedSegment opened = OpenSegment(options, repair ? Access::kWrite : Access::kRead);
  if (!opened.store) return ReportOpenFailure(options, opened);
  if (ShmStats stats; !opened.store->GetStats(&stats)) WarnIfDirectoryOpen(stats);
  std::vector<std::string> problems;
  std::error_code ec = opened.store->Fsck(&problems);
  const std::string path = ShmStore::PathOf(options.segment);
  // A live holder of the lock is no damage, but a long hold explains timeouts.
  ShmStats stats;
  if (!opened.store->GetStats(&stats) && stats.lock.locked &&
      stats.lock.owner != WritersLockInfo::Owner::gone) {
    std::printf("%s: writers' lock %s\n", Printable(path).c_str(),
                DescribeLock(stats.lock).c_str());
  }
  if (!ec && problems.empty()) {
    std::printf("%s: clean\n", Printable(path).c_str());
    return kExitOk;
  }
  // A problem may quote whatever bytes a damaged table holds: one line each,
  // and nothing that a terminal would obey.
  for (const std::string& problem : problems) {
    std::printf("%s: %s\n", Printable(path).c_str(), Sanitized(problem).c_str());
  }
  return Report(path + ": " + std::to_string(problems.size()) + " problem(s) found",
                ec ? ec : make_error_code(Errc::corrupt_segment));
}

}  // namespace

void AddSegmentCommands(CLI::App& app, const GlobalOptions& options, Commands& commands) {
  {
    auto args = std::make_shared<CreateArgs>();
    CLI::App* sub = app.add_subcommand(
        "create", "Create the segment; an existing compatible segment is left as it is");
    args->capacity = AddCapacityOption(sub, "--capacity", &args->creation.capacity,
                                       "Leases (held or pinned) the table can hold at once, 1 to " +
                                           std::to_string(kMaxCapacity) + " (default " +
                                           std::to_string(args->creation.capacity) + ")");
    args->mode = AddModeOption(sub, "--mode", &args->creation.mode,
                               "Permission bits 0600 to 0777, e.g. 0660 to share with the group "
                               "(default 0600); the owner keeps read and write");
    commands.Add(sub, [&options, args] { return RunCreate(options, *args); });
  }
  {
    auto force = std::make_shared<bool>(false);
    CLI::App* sub = app.add_subcommand("destroy", "Remove the segment");
    sub->add_flag("-f,--force", *force,
                  "Remove the segment even while leases are held or pinned in it (destroy "
                  "refuses then, naming them); succeed when there is no segment; remove a file "
                  "that is not a valid segment");
    commands.Add(sub, [&options, force] { return RunDestroy(options, *force); });
  }
  {
    auto json = std::make_shared<bool>(false);
    CLI::App* sub = app.add_subcommand(
        "stat", "Show the segment's path, owner, mode, capacity, use, layout version and counters");
    sub->add_flag("--json", *json, "Print one JSON object");
    commands.Add(sub, [&options, json] { return RunStat(options, *json); });
  }
  {
    auto repair = std::make_shared<bool>(false);
    CLI::App* sub = app.add_subcommand(
        "fsck", "Check every invariant of the lease table: exit 0 when clean, 3 when damaged");
    sub->add_flag("--repair", *repair,
                  "Open read-write so a writer that died holding the lock is recovered first");
    commands.Add(sub, [&options, repair] { return RunFsck(options, *repair); });
  }
}

}  // namespace shmlease::cli

// create, destroy, stat, fsck: the segment as a whole.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli_options.h"
#include "command.h"
#include "json_text.h"
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
  if (path == options.segment && !force) {
    OpenedSegment opened = OpenSegment(options, Access::kRead);
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
         "them can remove or replace " + stats.path);
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
        {"segment", options.segment}, {"path", s.path},
        {"owner_uid", s.owner_uid},   {"owner", owner},
        {"mode", Octal(s.mode)},      {"layout_version", s.layout_version},
        {"capacity", s.capacity},     {"used", s.used},
        {"slot_count", s.slot_count}, {"bytes", s.bytes},
        {"fake_clock", s.fake_clock}, {"claims", s.claims},
        {"extensions", s.extensions}, {"revocations", s.revocations},
        {"recoveries", s.recoveries}, {"epoch", s.epoch},
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
      {"last epoch", std::to_string(s.epoch)},
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
                  "Succeed when there is no segment; remove a file that is not a valid segment");
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

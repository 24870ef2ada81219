#include "segment_args.h"

#include <pwd.h>

#include <charconv>
#include <cstdlib>
#include <string>
#include <utility>

#include "cli_options.h"
#include "duration.h"
#include "report.h"
#include "shmlease/errors.h"
#include "shmlease/lease.h"

namespace shmlease::cli {

namespace {

// A uid written as a number, or the uid of a user name; false when neither.
bool ResolveOwner(const std::string& text, std::uint32_t* uid) {
  const char* end = text.data() + text.size();
  if (auto [ptr, ec] = std::from_chars(text.data(), end, *uid); ec == std::errc() && ptr == end) {
    return true;
  }
  if (const passwd* pw = getpwnam(text.c_str())) {
    *uid = pw->pw_uid;
    return true;
  }
  return false;
}

// The environment variable `name` when it is set and not empty, else `fallback`.
std::string EnvOr(const char* name, std::string fallback) {
  const char* env = std::getenv(name);
  return env != nullptr && *env != '\0' ? std::string(env) : std::move(fallback);
}

}  // namespace

void AddGlobalOptions(CLI::App& app, GlobalOptions* options) {
  app.fallthrough();
  options->segment = EnvOr("SHMLEASE_SEGMENT", options->segment);
  // Defaults from the environment (run sets them for its command, so that a
  // nested `shmlease check "$SHMLEASE_LEASE"` looks where run claimed). Not
  // counted as given: dump and pinned still list every namespace and model.
  options->ns = EnvOr("SHMLEASE_NAMESPACE", std::string(kSingularControllerNamespace));
  options->model = EnvOr("SHMLEASE_MODEL", "local");
  app.add_option("--segment", options->segment,
                 "POSIX shared-memory name of the lease segment, or a file path when it "
                 "contains '/' (env SHMLEASE_SEGMENT)")
      ->capture_default_str();
  options->ns_option =
      app.add_option("--namespace", options->ns, "Namespace of the leases (env SHMLEASE_NAMESPACE)")
          ->capture_default_str()
          ->check(NameValidator());
  options->model_option =
      app.add_option("--model", options->model, "Model UUID of the leases (env SHMLEASE_MODEL)")
          ->capture_default_str()
          ->check(NameValidator());
  app.add_option("--trust-owner", options->trusted_owners,
                 "Accept a segment owned by this user (uid or name); repeatable")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            std::uint32_t uid;
            return ResolveOwner(text, &uid) ? std::string() : "'" + text + "' is no known user";
          },
          "UID"));
  app.add_flag("--trust-any-owner", options->trust_any_owner,
               "Accept a segment whatever user owns it");
  AddDurationOption(&app, "--lock-timeout", &options->lock_timeout,
                    "How long a write (claim, extend, revoke, pin) waits for the lease table's "
                    "lock, which a process stopped in the middle of a write keeps, before it "
                    "fails (exit 3)")
      ->default_str(FormatDuration(options->lock_timeout));
  app.add_flag("-v,--verbose", options->verbose, "Say what was done");
}

ShmStoreOptions StoreOptions(const GlobalOptions& options) {
  ShmStoreOptions store_options;
  store_options.name = options.segment;
  store_options.trust_any_owner = options.trust_any_owner;
  store_options.lock_timeout = options.lock_timeout;
  for (const std::string& owner : options.trusted_owners) {
    std::uint32_t uid;
    if (ResolveOwner(owner, &uid)) store_options.trusted_uids.push_back(uid);
  }
  return store_options;
}

OpenedSegment OpenSegment(const GlobalOptions& options, Access access,
                          const ShmStoreOptions* creation) {
  ShmStoreOptions store_options = StoreOptions(options);
  if (creation != nullptr) {
    store_options.capacity = creation->capacity;
    store_options.mode = creation->mode;
  }
  store_options.read_only = access == Access::kRead;
  OpenedSegment opened;
  opened.store = access == Access::kCreate
                     ? ShmStore::OpenOrCreate(store_options, opened.ec, &opened.detail)
                     : ShmStore::Open(store_options, opened.ec, &opened.detail);
  return opened;
}

int ReportOpenFailure(const GlobalOptions& options, const OpenedSegment& opened) {
  if (opened.ec == Errc::invalid_segment_name) {
    // The detail says what is wrong with it (a control character, a '/').
    return ReportSegment("--segment '" + Printable(options.segment) + "'", opened.ec,
                         opened.detail);
  }
  if (opened.ec == Errc::invalid_capacity)
    return ReportSegment("--capacity", opened.ec, opened.detail);
  return ReportSegment("segment '" + options.segment + "'", opened.ec, opened.detail);
}

}  // namespace shmlease::cli

// The options every subcommand shares (which segment, namespace, model and
// owners to trust) and opening the segment they name.
#ifndef SHMLEASE_TOOLS_SEGMENT_ARGS_H_
#define SHMLEASE_TOOLS_SEGMENT_ARGS_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "shmlease/shm_store.h"

namespace shmlease::cli {

struct GlobalOptions {
  std::string segment = "shmlease";  // Or $SHMLEASE_SEGMENT; a '/' inside makes it a file path.
  std::string ns;
  std::string model;
  std::vector<std::string> trusted_owners;  // uids or user names.
  bool trust_any_owner = false;
  bool verbose = false;
  // How long a write waits for the table's lock (a process stopped in the
  // middle of a write holds it) before it fails with a timeout.
  std::chrono::nanoseconds lock_timeout = ShmStoreOptions{}.lock_timeout;

  // Whether --namespace / --model were given: dump and pinned show every
  // namespace and model unless they were.
  bool NamespaceGiven() const { return ns_option != nullptr && ns_option->count() > 0; }
  bool ModelGiven() const { return model_option != nullptr && model_option->count() > 0; }

  CLI::Option* ns_option = nullptr;
  CLI::Option* model_option = nullptr;
};

// Adds --segment, --namespace, --model, --trust-owner, --trust-any-owner,
// --lock-timeout and --verbose to `app`. Subcommands inherit CLI11's fallthrough from `app`, so
// the options are accepted before or after the subcommand.
void AddGlobalOptions(CLI::App& app, GlobalOptions* options);

enum class Access {
  kRead,    // Map read-only; a missing segment is an error.
  kWrite,   // Map read-write; a missing segment is an error.
  kCreate,  // Map read-write; create the segment when it is missing.
};

struct OpenedSegment {
  std::shared_ptr<ShmStore> store;  // Null on failure.
  std::error_code ec;
  std::string detail;  // The library's sentence about the failure.
};

// ShmStoreOptions for the segment named by `options`, with its trusted owners.
ShmStoreOptions StoreOptions(const GlobalOptions& options);

// Opens the segment. `creation` supplies capacity and mode for kCreate
// (its name and trust settings are ignored: they come from `options`).
OpenedSegment OpenSegment(const GlobalOptions& options, Access access,
                          const ShmStoreOptions* creation = nullptr);

// Prints why the segment could not be opened and returns the exit code.
int ReportOpenFailure(const GlobalOptions& options, const OpenedSegment& opened);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_SEGMENT_ARGS_H_

// dump: the whole lease table, once or every INTERVAL, as text or JSON.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli_options.h"
#include "command.h"
#include "duration.h"
#include "json_text.h"
#include "report.h"
#include "shmlease/shmlease.h"
#include "text_table.h"

namespace shmlease::cli {

namespace {

struct DumpArgs {
  bool json = false;
  std::chrono::nanoseconds watch{};  // Zero: dump once.
};

struct Table {
  std::uint64_t capacity = 0;
  std::uint64_t used = 0;
  std::vector<LeaseEntry> leases;  // Sorted by key, filtered.
  Clock::time_point now;
};

// Snapshot never takes the writers' lock, so a dump cannot stall the leases it reads.
std::error_code ReadTable(const GlobalOptions& options, const ShmStore& store, Table* out) {
  ShmStats stats;
  if (std::error_code ec = store.GetStats(&stats)) return ec;
  out->capacity = stats.capacity;
  if (std::error_code ec = store.Snapshot(&out->leases)) return ec;
  out->now = store.Now();
  // Counted before filtering: `used` describes the table, not the selection.
  out->used = out->leases.size();
  std::erase_if(out->leases, [&](const LeaseEntry& e) {
    return (options.NamespaceGiven() && e.key.ns != options.ns) ||
           (options.ModelGiven() && e.key.model_uuid != options.model);
  });
  return {};
}

nlohmann::json ToJson(const Table& table) {
  nlohmann::json leases = nlohmann::json::array();
  for (const LeaseEntry& e : table.leases) {
    nlohmann::json entry = {{"namespace", e.key.ns},    {"model", e.key.model_uuid},
                            {"lease", e.key.lease},     {"holder", nullptr},
                            {"pinned_by", e.pinned_by}, {"epoch", 0}};
    if (e.held) {
      entry["holder"] = e.info.holder;
      entry["epoch"] = e.info.epoch;
      // Negative only while pins keep a lease past its expiry.
      entry["expires_in_ms"] =
          std::chrono::duration_cast<std::chrono::milliseconds>(e.info.expiry - table.now).count();
    }
    leases.push_back(std::move(entry));
  }
  return {{"capacity", table.capacity}, {"used", table.used}, {"leases", std::move(leases)}};
}

std::string ToText(const Table& table) {
  TextTable text({"NAMESPACE", "MODEL", "LEASE", "HOLDER", "EXPIRES-IN", "PINNED-BY", "EPOCH"});
  for (const LeaseEntry& e : table.leases) {
    // Every name Printable: one lease stays on one line, and no bytes of a
    // name (or of a damaged segment) reach the terminal as escape sequences.
    std::string pinned_by;
    for (const std::string& entity : e.pinned_by) {
      if (!pinned_by.empty()) pinned_by += ',';
      pinned_by += Printable(entity);
    }
    text.AddRow({Printable(e.key.ns), Printable(e.key.model_uuid), Printable(e.key.lease),
                 e.held ? Printable(e.info.holder) : "-",
                 e.held ? FormatDuration(e.info.expiry - table.now) : "-",
                 pinned_by.empty() ? "-" : pinned_by, e.held ? std::to_string(e.info.epoch) : "-"});
  }
  return text.Render();
}

int RunDump(const GlobalOptions& options, const DumpArgs& args) {
  OpenedSegment opened = OpenSegment(options, Access::kRead);
  if (!opened.store) return ReportOpenFailure(options, opened);
  const bool clear_screen = args.watch.count() > 0 && !args.json && isatty(STDOUT_FILENO);
  // `dump --watch | head`: when the reader goes, a write fails with EPIPE and
  // the loop ends with status 0, rather than SIGPIPE killing the process.
  if (args.watch.count() > 0) signal(SIGPIPE, SIG_IGN);
  for (bool first = true;; first = false) {
    Table table;
    if (std::error_code ec = ReadTable(options, *opened.store, &table)) {
      return Report("cannot read segment '" + options.segment + "'", ec);
    }
    if (args.json) {
      // One object per line when watching, so that a reader can split the stream.
      std::cout << JsonText(ToJson(table), args.watch.count() > 0 ? -1 : 2) << '\n';
    } else {
      if (clear_screen) {
        std::cout << "\033[H\033[2J"
                  << "every " << FormatDuration(args.watch) << ": "
                  << Printable(ShmStore::PathOf(options.segment)) << ", " << table.used << " of "
                  << table.capacity << " leases in use\n\n";
      } else if (!first) {
        std::cout << '\n';
      }
      std::cout << ToText(table);
    }
    std::cout.flush();
    if (!std::cout) return kExitOk;  // The reader went away.
    if (args.watch.count() == 0) return kExitOk;
    std::this_thread::sleep_for(args.watch);
  }
}

}  // namespace

void AddDumpCommand(CLI::App& app, const GlobalOptions& options, Commands& commands) {
  auto args = std::make_shared<DumpArgs>();
  CLI::App* sub = app.add_subcommand(
      "dump",
      "Print the lease table: every namespace and model unless --namespace or --model is given");
  sub->add_flag("--json", args->json,
                "Print JSON: {\"capacity\", \"used\", \"leases\": [{\"namespace\", \"model\", "
                "\"lease\", \"holder\", \"expires_in_ms\", \"pinned_by\", \"epoch\"}]}");
  AddDurationOption(sub, "--watch", &args->watch,
                    "Print the table again every INTERVAL (a duration, e.g. 1s) until "
                    "interrupted (JSON: one object per line)")
      ->type_name("INTERVAL");
  commands.Add(sub, [&options, args] { return RunDump(options, *args); });
}

}  // namespace shmlease::cli

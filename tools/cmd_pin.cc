// pin, unpin, pinned: entities that keep leases from expiring.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_options.h"
#include "command.h"
#include "json_text.h"
#include "lease_text.h"
#include "report.h"
#include "shmlease/shmlease.h"
#include "text_table.h"

namespace shmlease::cli {

namespace {

struct PinArgs {
  std::string lease;
  std::string entity;
};

int RunPin(const GlobalOptions& options, const PinArgs& args) {
  OpenedSegment opened = OpenSegment(options, Access::kCreate);
  if (!opened.store) return ReportOpenFailure(options, opened);
  const Key key{options.ns, options.model, args.lease};
  if (std::error_code ec = opened.store->PinLease(key, args.entity)) {
    return Report("cannot pin " + LeaseName(key) + " for '" + Printable(args.entity) + "'", ec);
  }
  if (options.verbose) {
    std::printf("pinned %s for '%s'\n", LeaseName(key).c_str(), Printable(args.entity).c_str());
  }
  return kExitOk;
}

int RunUnpin(const GlobalOptions& options, const PinArgs& args) {
  const Key key{options.ns, options.model, args.lease};
  // Like the store's UnpinLease, removing a pin that does not exist succeeds,
  // and without a segment no pin exists.
  OpenedSegment opened = OpenSegment(options, Access::kWrite);
  if (opened.ec == Errc::segment_not_found) return kExitOk;
  if (!opened.store) return ReportOpenFailure(options, opened);
  if (std::error_code ec = opened.store->UnpinLease(key, args.entity)) {
    return Report("cannot unpin " + LeaseName(key) + " for '" + Printable(args.entity) + "'", ec);
  }
  if (options.verbose) {
    std::printf("unpinned %s for '%s'\n", LeaseName(key).c_str(), Printable(args.entity).c_str());
  }
  return kExitOk;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += ',';
    out += Printable(part);
  }
  return out;
}

int RunPinned(const GlobalOptions& options, bool json) {
  OpenedSegment opened = OpenSegment(options, Access::kRead);
  if (!opened.store) return ReportOpenFailure(options, opened);
  PinMap pins;
  if (std::error_code ec = opened.store->Pinned(&pins)) {
    return Report("cannot read the pins of segment '" + options.segment + "'", ec);
  }
  std::erase_if(pins, [&](const auto& entry) {
    return (options.NamespaceGiven() && entry.first.ns != options.ns) ||
           (options.ModelGiven() && entry.first.model_uuid != options.model);
  });
  if (json) {
    nlohmann::json leases = nlohmann::json::array();
    for (const auto& [key, entities] : pins) {
      leases.push_back({{"namespace", key.ns},
                        {"model", key.model_uuid},
                        {"lease", key.lease},
                        {"pinned_by", entities}});
    }
    std::cout << JsonText(nlohmann::json{{"leases", std::move(leases)}}, 2) << '\n';
    return kExitOk;
  }
  TextTable table({"NAMESPACE", "MODEL", "LEASE", "PINNED-BY"});
  for (const auto& [key, entities] : pins) {
    table.AddRow(
        {Printable(key.ns), Printable(key.model_uuid), Printable(key.lease), Join(entities)});
  }
  std::cout << table.Render();
  return kExitOk;
}

CLI::App* AddPinSubcommand(CLI::App& app, const char* name, const char* help, PinArgs* args) {
  CLI::App* sub = app.add_subcommand(name, help);
  sub->add_option("LEASE", args->lease, "The lease's name")->required()->check(NameValidator());
  sub->add_option("--entity", args->entity, "Who requires the lease not to expire")
      ->required()
      ->check(NameValidator());
  return sub;
}

}  // namespace

void AddPinCommands(CLI::App& app, const GlobalOptions& options, Commands& commands) {
  {
    auto args = std::make_shared<PinArgs>();
    CLI::App* sub = AddPinSubcommand(
        app, "pin", "Keep LEASE from expiring for as long as ENTITY pins it", args.get());
    commands.Add(sub, [&options, args] { return RunPin(options, *args); });
  }
  {
    auto args = std::make_shared<PinArgs>();
    CLI::App* sub = AddPinSubcommand(
        app, "unpin", "Remove ENTITY's pin on LEASE (a missing pin is not an error)", args.get());
    commands.Add(sub, [&options, args] { return RunUnpin(options, *args); });
  }
  {
    auto json = std::make_shared<bool>(false);
    CLI::App* sub = app.add_subcommand(
        "pinned",
        "List pinned leases and their entities (every namespace and model unless --namespace or "
        "--model is given)");
    sub->add_flag("--json", *json, "Print one JSON object: {\"leases\": [...]}");
    commands.Add(sub, [&options, json] { return RunPinned(options, *json); });
  }
}

}  // namespace shmlease::cli

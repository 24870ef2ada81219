// Subcommands register here while the parser is built; after parsing, the
// one the user chose runs. Each cmd_*.cc file adds one family of them.
#ifndef SHMLEASE_TOOLS_COMMAND_H_
#define SHMLEASE_TOOLS_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <utility>
#include <vector>

#include "report.h"
#include "segment_args.h"

namespace shmlease::cli {

class Commands {
 public:
  using Action = std::function<int()>;

  void Add(CLI::App* app, Action action) { commands_.emplace_back(app, std::move(action)); }

  // Runs the action of the parsed subcommand and returns its exit code.
  int RunParsed() const {
    for (const auto& [app, action] : commands_) {
      if (app->parsed()) return action();
    }
    return kExitUsage;  // Unreachable: the parser requires exactly one subcommand.
  }

 private:
  std::vector<std::pair<CLI::App*, Action>> commands_;
};

// Each adds its subcommands to `app`. Options are bound to state the actions
// own, so `options` must outlive the parse and the run.
void AddSegmentCommands(CLI::App& app, const GlobalOptions& options, Commands& commands);
void AddLeaseCommands(CLI::App& app, const GlobalOptions& options, Commands& commands);
void AddWaitCommand(CLI::App& app, const GlobalOptions& options, Commands& commands);
void AddPinCommands(CLI::App& app, const GlobalOptions& options, Commands& commands);
void AddDumpCommand(CLI::App& app, const GlobalOptions& options, Commands& commands);
void AddRunCommand(CLI::App& app, const GlobalOptions& options, Commands& commands);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_COMMAND_H_

// shmlease: the lease table from the shell. See the shmlease(1) section of README.md.
#include <CLI/CLI.hpp>

#include "command.h"
#include "report.h"
#include "segment_args.h"

int main(int argc, char** argv) {
  using namespace shmlease::cli;
  CLI::App app("Inspect and script the shmlease lease table; run commands under a lease.",
               "shmlease");
  app.footer(
      "Exit status: 0 success or yes; 1 the lease said no (denied, not held, timed out, lost); "
      "2 usage error or invalid input; 3 segment missing, corrupt, incompatible or refused. "
      "`run` exits with its command's status.\nThe options above (--segment, --namespace, --model, "
      "--trust-owner, --trust-any-owner, -v) may also follow the subcommand.");
  GlobalOptions options;
  AddGlobalOptions(app, &options);
  Commands commands;
  AddSegmentCommands(app, options, commands);
  AddLeaseCommands(app, options, commands);
  AddWaitCommand(app, options, commands);
  AddPinCommands(app, options, commands);
  AddDumpCommand(app, options, commands);
  AddRunCommand(app, options, commands);
  app.require_subcommand(1, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a "parse error" with exit code 0; every real one is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return commands.RunParsed();
}

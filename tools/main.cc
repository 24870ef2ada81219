// shmlease: the lease table from the shell. See the shmlease(1) section of README.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "command.h"
#include "report.h"
#include "segment_args.h"
#include "shmlease/truncation_guard.h"

#ifndef SHMLEASE_VERSION
#error "SHMLEASE_VERSION must be the project's version (see tools/CMakeLists.txt)"
#endif

namespace {

using namespace shmlease::cli;

// "shmlease" or "shmlease claim": where to look for help.
std::string HelpCommand(const CLI::App& app) {
  const auto chosen = app.get_subcommands();
  return chosen.empty() ? "shmlease --help" : "shmlease " + chosen.front()->get_name() + " --help";
}

// Every line of a parse error starts with "shmlease: ", like every other error.
std::string ParseFailure(const CLI::App& app, const std::string& what) {
  return "shmlease: " + Sanitized(what) + "\nshmlease: see '" + HelpCommand(app) + "'\n";
}

// A clearer sentence than CLI11's for three common mistakes, or empty:
// an unknown subcommand (CLI11 only says that one is required), a
// subcommand's option given before the subcommand (CLI11 says it is missing,
// or not expected), and `run` given a command with options of its own but no
// `--` before it (CLI11 says the command's first option was not expected).
std::string Clarify(const CLI::App& app, const CLI::ParseError& e, bool has_separator) {
  const std::vector<std::string> stray = app.remaining();  // Unmatched before any subcommand.
  const auto chosen = app.get_subcommands();
  if (chosen.empty()) {
    if (dynamic_cast<const CLI::RequiredError*>(&e) == nullptr) return {};
    for (const std::string& arg : stray) {
      if (!arg.empty() && arg.front() != '-') {
        return "unknown subcommand '" + Printable(arg) + "'; the subcommands are listed by " +
               "'shmlease --help'";
      }
    }
    if (!stray.empty()) {
      return "unknown option '" + Printable(stray.front()) + "', and a subcommand is required";
    }
    return {};
  }
  const CLI::App& sub = *chosen.front();
  for (const std::string& arg : stray) {
    if (arg.size() < 2 || arg.front() != '-') continue;
    const std::string flag = arg.substr(0, arg.find('='));
    if (sub.get_option_no_throw(flag) != nullptr) {
      return flag + " is an option of '" + sub.get_name() + "' and goes after it: shmlease " +
             sub.get_name() + " ... " + flag + " VALUE";
    }
  }
  if (sub.get_name() == "run" && !has_separator &&
      dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    return std::string(e.what()) + "; write the command after '--', so that its options are " +
           "its own: shmlease run LEASE --for DURATION -- CMD [ARGS...]";
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  // A segment shrunk under this process is then an error to report, not a
  // SIGBUS that kills it (and `run` would leave its command running). Should
  // sigaction fail, the command goes on with the default.
  shmlease::GuardAgainstTruncation();
  CLI::App app("Inspect and script the shmlease lease table; run commands under a lease.",
               "shmlease");
  app.footer(
      "Exit status: 0 success or yes; 1 the lease said no (denied, not held, timed out, lost); "
      "2 usage error or invalid input; 3 segment missing, corrupt, incompatible or refused. "
      "`run` exits with its command's status.\nGlobal options (--segment, --namespace, --model, "
      "--trust-owner, --trust-any-owner, --lock-timeout, -v) may be given before or after the "
      "subcommand; see "
      "shmlease --help.");
  app.set_version_flag("-V,--version", std::string("shmlease ") + SHMLEASE_VERSION,
                       "Print the version and exit");
  app.failure_message(
      [](const CLI::App* failed, const CLI::Error& e) { return ParseFailure(*failed, e.what()); });
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
  bool has_separator = false;
  for (int i = 1; i < argc; ++i) has_separator = has_separator || std::string_view(argv[i]) == "--";
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (std::string clearer = Clarify(app, e, has_separator); !clearer.empty()) {
      std::fputs(ParseFailure(app, clearer).c_str(), stderr);
      return kExitUsage;
    }
    // --help and --version are "parse errors" with exit code 0; every real one is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return commands.RunParsed();
}

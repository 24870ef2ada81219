// CLI11 options whose values shmlease checks while parsing, so that a bad
// value ends the command with exit code 2 and a message naming the flag.
#ifndef SHMLEASE_TOOLS_CLI_OPTIONS_H_
#define SHMLEASE_TOOLS_CLI_OPTIONS_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace shmlease::cli {

// A lease, holder, entity, namespace or model name (shmlease::ValidateName).
CLI::Validator NameValidator();

// A duration flag (see ParseDuration); *out keeps its value when the flag is absent.
CLI::Option* AddDurationOption(CLI::App* app, const std::string& flags,
                               std::chrono::nanoseconds* out, const std::string& help);

// Permission bits written in octal ("0660" or "660"), at most 07777.
CLI::Option* AddModeOption(CLI::App* app, const std::string& flags, std::uint32_t* out,
                           const std::string& help);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_CLI_OPTIONS_H_

// CLI11 options whose values shmlease checks while parsing, so that a bad
// value ends the command with exit code 2 and a message naming the flag.
#ifndef SHMLEASE_TOOLS_CLI_OPTIONS_H_
#define SHMLEASE_TOOLS_CLI_OPTIONS_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace shmlease::cli {

// The largest table the library builds (its kMaxCapacity, 64M leases); the
// library checks again when it creates a segment.
inline constexpr std::size_t kMaxCapacity = std::size_t{1} << 26;

// A lease, holder, entity, namespace or model name (shmlease::ValidateName).
CLI::Validator NameValidator();

// A duration flag (see ParseDuration); *out keeps its value when the flag is absent.
CLI::Option* AddDurationOption(CLI::App* app, const std::string& flags,
                               std::chrono::nanoseconds* out, const std::string& help);

// Permission bits in octal ("0660" or "660"): only 0000-0777 (no setuid,
// setgid or sticky bit), and the owner must keep read and write (0600), or
// the segment would lock its own owner out. On failure, `why` says why.
std::error_code ParseMode(std::string_view text, std::uint32_t* out, std::string* why);
CLI::Option* AddModeOption(CLI::App* app, const std::string& flags, std::uint32_t* out,
                           const std::string& help);

// A capacity: a plain decimal integer from 1 to kMaxCapacity (no sign, no
// hex, no blanks). On failure, `why` says what is accepted.
std::error_code ParseCapacity(std::string_view text, std::size_t* out, std::string* why);
CLI::Option* AddCapacityOption(CLI::App* app, const std::string& flags, std::size_t* out,
                               const std::string& help);

}  // namespace shmlease::cli

#endif  // SHMLEASE_TOOLS_CLI_OPTIONS_H_

#include "cli_options.h"

#include <string_view>

#include "duration.h"
#include "report.h"
#include "shmlease/lease.h"

namespace shmlease::cli {

namespace {

// Validators carry no description of their own: CLI11 would append it to the
// option's type name in --help ("TEXT:DURATION"); the type name says it all.
CLI::Validator Check(std::function<std::string(std::string&)> check) {
  return CLI::Validator(std::move(check), "");
}

// An option whose text `parse` turns into *out. The validator refuses bad
// text with parse's reason and the value, before anything runs; the callback
// then only sees good text.
template <typename T>
using Parser = std::error_code (*)(std::string_view, T*, std::string*);

template <typename T>
CLI::Option* AddParsedOption(CLI::App* app, const std::string& flags, T* out,
                             const std::string& help, Parser<T> parse, const char* refusal,
                             const char* type_name) {
  return app
      ->add_option_function<std::string>(
          flags,
          [out, parse](const std::string& text) {
            std::string ignored;
            parse(text, out, &ignored);
          },
          help)
      ->check(Check([parse, refusal](std::string& text) -> std::string {
        T ignored{};
        std::string why;
        if (parse(text, &ignored, &why)) return "'" + Printable(text) + "' " + refusal + ": " + why;
        return {};
      }))
      ->type_name(type_name);
}

}  // namespace

CLI::Validator NameValidator() {
  return Check([](std::string& value) -> std::string {
    if (std::error_code ec = ValidateName(value)) {
      return "'" + Printable(value) + "' is refused: " + ec.message();
    }
    return {};
  });
}

CLI::Option* AddDurationOption(CLI::App* app, const std::string& flags,
                               std::chrono::nanoseconds* out, const std::string& help) {
  return AddParsedOption<std::chrono::nanoseconds>(
      app, flags, out, help,
      [](std::string_view text, std::chrono::nanoseconds* d, std::string* why) {
        return ParseDuration(text, d, why);
      },
      "is not a valid duration", "DURATION");
}

std::error_code ParseMode(std::string_view text, std::uint32_t* out, std::string* why) {
  const std::size_t digits = text.size() - (text.size() == 4 && text.front() == '0' ? 1 : 0);
  if (text.empty() || text.size() > 4 || digits > 3 ||
      text.find_first_not_of("01234567") != std::string_view::npos) {
    *why =
        "expected octal permission bits 0000 to 0777, such as 0600 or 0660 (no setuid, setgid "
        "or sticky bits)";
    return std::make_error_code(std::errc::invalid_argument);
  }
  std::uint32_t mode = 0;
  for (char c : text) mode = mode * 8 + static_cast<std::uint32_t>(c - '0');
  if ((mode & 0600) != 0600) {
    *why =
        "the owner must be able to read and write the segment (0600 at least), or every "
        "command, even one run by its owner, would be refused";
    return std::make_error_code(std::errc::invalid_argument);
  }
  *out = mode;
  return {};
}

CLI::Option* AddModeOption(CLI::App* app, const std::string& flags, std::uint32_t* out,
                           const std::string& help) {
  return AddParsedOption<std::uint32_t>(app, flags, out, help, ParseMode, "is refused", "OCTAL");
}

std::error_code ParseCapacity(std::string_view text, std::size_t* out, std::string* why) {
  std::size_t value = 0;
  bool ok = !text.empty() && text.size() <= 9 &&
            text.find_first_not_of("0123456789") == std::string_view::npos;
  if (ok) {
    for (char c : text) value = value * 10 + static_cast<std::size_t>(c - '0');
    ok = value >= 1 && value <= kMaxCapacity;
  }
  if (!ok) {
    *why = "expected a decimal number of leases from 1 to " + std::to_string(kMaxCapacity);
    return std::make_error_code(std::errc::invalid_argument);
  }
  *out = value;
  return {};
}

CLI::Option* AddCapacityOption(CLI::App* app, const std::string& flags, std::size_t* out,
                               const std::string& help) {
  return AddParsedOption<std::size_t>(app, flags, out, help, ParseCapacity, "is refused", "N");
}

}  // namespace shmlease::cli
